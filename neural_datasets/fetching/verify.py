"""``verify``: check a cached dataset end to end."""

from __future__ import annotations

import os

from ..errors import OfflineError
from ..registry import get_spec
from ..storage.verify import verify_store
from .cache import LAYOUTS, dataset_cache
from .hashes import HashRecords, expected_checksum, file_sha256


def verify(
    name: str, *, cache_dir: str | os.PathLike[str] | None = None, progress: bool = True
) -> list[str]:
    """Check dataset ``name`` in the cache; return the problems found (empty when sound).

    Proves the store complete (its completion marker seals its checksum
    manifest, every array has every chunk file and the expected sample
    counts), checks every file of it against the manifest and flags files the
    manifest does not cover, every chunk of every sample array against the
    crc32c recorded when the store was written, and every raw file still in
    the cache against its pinned or recorded sha256 (docs/integrity.md).

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

    spec = get_spec(name)
    stores = [dataset_cache(spec.name, cache_dir, layout) for layout in LAYOUTS]
    stores = [store for store in stores if store.store.exists()]  # every layout fetched
    if not stores:
        cache = dataset_cache(spec.name, cache_dir)
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
            problems += verify_store(store.store, progress=advance)
    return problems
