"""``verify``: check a cached dataset end to end."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..datasets.spec import DatasetSpec
from ..errors import CorruptStoreError, OfflineError
from ..registry import get_spec
from ..storage.layout import read_attributes, sample_arrays
from ..storage.remote import is_url
from ..storage.verify import sample_count, verify_store
from .cache import DatasetCache, spec_cache
from .hashes import HashRecords, expected_checksum, file_sha256


def verify(
    name: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    storage_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Check dataset ``name`` in the cache; return the problems found (empty when sound).

    ``name`` may also be the URL of a published store (``s3://...``, as
    ``push`` writes one): then every object is read and compared with the
    manifest (sizes and crc32c), objects the manifest does not list are
    flagged, and a store without its completion marker is reported incomplete.
    ``storage_options`` reach an ``s3://`` URL as in
    :meth:`ClickMe.open <neural_datasets.ClickMe.open>`.

    Proves the store complete (its completion marker seals its checksum
    manifest, every array has every chunk file and the expected sample
    counts), checks every file of it against the manifest and flags files the
    manifest does not cover, every chunk of every sample array against the
    crc32c recorded when the store was written, and every raw file still in
    the cache against its pinned or recorded sha256 (docs/integrity.md).
    Prefix stores (the first files only, for a subset) are checked the same
    way, and also that their ``neural_datasets.prefix`` attribute tells the
    truth: their sources are the dataset's first ``shards`` files and they
    hold ``records`` samples.

    Raises
    ------
    OfflineError
        When the dataset has not been fetched into this cache.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> _ = nd.fetch("clickme-sample", progress=False)
    >>> nd.verify("clickme-sample", progress=False)
    []
    """
    from tqdm.auto import tqdm

    if is_url(name):
        from ..storage.push import verify_remote_store

        with tqdm(desc=f"{name}: verifying", unit="object", disable=not progress) as bar:
            return verify_remote_store(name, storage_options=storage_options, progress=bar.update)
    spec = get_spec(name)
    stores = spec_cache(spec, cache_dir).every_layout()
    stores += [prefix for store in stores for prefix in store.prefixes()]
    stores = [store for store in stores if store.store.exists()]  # every layout and prefix
    if not stores:
        cache = spec_cache(spec, cache_dir)
        raise OfflineError(f"{name} is not in the cache at {cache.folder}: fetch it first.")
    cache = stores[0]  # raw files and their records are shared by every layout
    problems: list[str] = []
    records = HashRecords(cache.hashes)
    for remote in spec.files:
        path = cache.raw_file(remote.path)
        sha, _, where = expected_checksum(remote, records)
        if path.is_file() and sha and file_sha256(path) != sha:
            problems.append(f"raw file {path} does not match its sha256 {where}")
    with tqdm(desc=f"{name}: verifying", unit="sample", disable=not progress, leave=False) as bar:

        def advance(samples: int) -> None:
            bar.update(samples)

        for store in stores:
            found = verify_store(store.store, progress=advance)
            if store.shards is not None and not any("incomplete" in p for p in found):
                found += _prefix_problems(spec, store)
            where = f"{store.store.name}: " if store.shards is not None else ""
            problems += [where + problem for problem in found]
    return problems


def _prefix_problems(spec: DatasetSpec, prefix: DatasetCache) -> list[str]:
    """Where a prefix store's attributes disagree with its name, its sources or its samples."""
    try:
        attributes = read_attributes(prefix.store).get("neural_datasets", {})
    except CorruptStoreError as exc:
        return [str(exc)]
    facts = attributes.get("prefix")
    if not isinstance(facts, dict):
        return ["has no neural_datasets.prefix attribute: it is not a prefix store"]
    problems = []
    if facts.get("shards") != prefix.shards:
        problems.append(
            f"neural_datasets.prefix says {facts.get('shards')} shards, its name {prefix.shards}"
        )
    leading = [remote.path for remote in spec.files[: prefix.shards]]
    if list(attributes.get("sources", {})) != leading:
        problems.append(
            f"its sources are not the first {prefix.shards} files of {spec.name} "
            f"({', '.join(list(attributes.get('sources', {}))[:3])} ...)"
        )
    if facts.get("of_shards") != len(spec.files):
        problems.append(
            f"neural_datasets.prefix says the dataset has {facts.get('of_shards')} files, "
            f"the registry {len(spec.files)}"
        )
    for name in sample_arrays(prefix.store):
        try:
            count = sample_count(prefix.store / name)
        except CorruptStoreError:  # reported by verify_store already
            continue
        if count != facts.get("records"):
            problems.append(
                f"{name}: {count} samples, but neural_datasets.prefix says {facts.get('records')} "
                f"records"
            )
    return problems
