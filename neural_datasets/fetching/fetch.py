"""``fetch``: download, verify, convert and publish a dataset, once, safely.

Any number of processes may call :func:`fetch` for the same dataset at once
(DDP ranks, DataLoader workers, jobs on a shared file system). A file lock
makes exactly one of them download and convert; the others wait, then find the
published store. Every step writes under a temporary name and renames when
complete, so a crash at any point leaves a cache the next call repairs:
partial downloads are resumed, conversions resume or restart, and nothing is
ever read as complete when it is not.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..datasets.spec import DatasetSpec, RemoteFile
from ..errors import CacheNotWritableError, ChecksumMismatchError, OfflineError
from ..registry import get_spec
from ..storage.layout import publish, standard_attributes
from .cache import DatasetCache, dataset_cache, offline
from .download import ResumableDownloader
from .hashes import HashRecords, check_file, move_aside

LOCK_NOTICE_AFTER_S = 2.0


def fetch(
    name: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    progress: bool = True,
    layout: str | None = None,
) -> Path:
    """Make dataset ``name`` ready in the cache and return its zarr v3 store.

    Idempotent and cheap once the store exists: a published store is returned
    without locking, hashing or touching the network.

    Parameters
    ----------
    name
        A registered dataset name (``neural-datasets list``).
    cache_dir
        Cache root. Default: ``$NEURAL_DATASETS_HOME``, else the platform's
        user cache directory.
    base_url
        A mirror with the same relative layout as the dataset's default base
        URL (``http(s)://`` or ``file://``).
    progress
        Show byte and sample progress bars.
    layout
        The store layout: ``"raw"`` (decoded pixels, fastest to read) or, for
        ClickMe, ``"compact"`` (the published JPEG bytes, about the download's
        size, decoded on read); default: the dataset's own choice
        (BENCHMARKS.md). Each layout is a store of its own in the cache.

    Returns
    -------
    pathlib.Path
        The published store, e.g. ``<cache>/clickme-val/store.zarr``.

    Raises
    ------
    UnknownDatasetError, DownloadError, ChecksumMismatchError, OfflineError,
    CacheNotWritableError, ConversionError, CorruptRecordError

    Examples
    --------
    >>> import neural_datasets as nd
    >>> path = nd.fetch("clickme-sample", progress=False)
    >>> path.name
    'store.zarr'
    """
    spec = get_spec(name)
    layout = layout or spec.default_layout
    converter = spec.converter(layout)
    cache = dataset_cache(name, cache_dir, layout)
    if cache.is_published():
        return cache.store
    _require_raw_files_or_network(spec, cache, base_url)
    lock = _acquire(cache)
    try:
        if cache.is_published():  # another process finished while we waited
            return cache.store
        sources, hashes = _ensure_raw_files(spec, cache, base_url, progress)
        return _convert_and_publish(spec, converter, cache, sources, hashes, progress)
    finally:
        lock.release()


def _require_raw_files_or_network(
    spec: DatasetSpec, cache: DatasetCache, base_url: str | None
) -> None:
    if not offline() or (base_url or spec.base_url).startswith("file://"):
        return
    missing = [r.path for r in spec.files if not cache.raw_file(r.path).is_file()]
    if missing:
        raise OfflineError(
            f"{spec.name} is not in the cache at {cache.folder} ({len(missing)} of "
            f"{len(spec.files)} raw files missing, e.g. {missing[0]}) and NEURAL_DATASETS_OFFLINE "
            f"forbids downloading. Unset NEURAL_DATASETS_OFFLINE, point --cache-dir at a cache "
            f"that holds it, or use a file:// --base-url."
        )


def _acquire(cache: DatasetCache) -> Any:
    from filelock import FileLock, Timeout

    try:
        cache.folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(cache.lock)
        try:
            lock.acquire(timeout=LOCK_NOTICE_AFTER_S)
        except Timeout:
            print(
                f"neural-datasets: another process is fetching {cache.name} "
                f"(lock {cache.lock}); waiting for it to finish...",
                file=sys.stderr,
            )
            lock.acquire()
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise CacheNotWritableError(
            f"Cannot write to the cache at {cache.folder} ({exc.strerror}) and it holds no "
            f"complete copy of {cache.name}. Choose a writable cache with --cache-dir or "
            f"NEURAL_DATASETS_HOME, or fetch it once where the cache is writable."
        ) from exc
    return lock


def _ensure_raw_files(
    spec: DatasetSpec, cache: DatasetCache, base_url: str | None, progress: bool
) -> tuple[dict[str, Path], dict[str, str]]:
    records = HashRecords(cache.hashes)
    downloader = ResumableDownloader(progress=progress)
    sources: dict[str, Path] = {}
    hashes: dict[str, str] = {}
    for remote in _progress(spec.files, progress, f"{spec.name}: files"):
        path = cache.raw_file(remote.path)
        url = spec.url(remote, base_url)
        if path.is_file():
            try:
                hashes[remote.path] = _check(path, remote, records, spec, url, cache)
                sources[remote.path] = path
                continue
            except ChecksumMismatchError as exc:  # damaged on disk since: fetch it again
                print(f"neural-datasets: {exc}\nDownloading it again.", file=sys.stderr)
        if offline() and not url.startswith("file://"):
            raise OfflineError(
                f"{remote.path} of {spec.name} is missing and NEURAL_DATASETS_OFFLINE is set."
            )
        downloader(url, path)
        hashes[remote.path] = _check(path, remote, records, spec, url, cache)
        sources[remote.path] = path
    return sources, hashes


def _check(
    path: Path,
    remote: RemoteFile,
    records: HashRecords,
    spec: DatasetSpec,
    url: str,
    cache: DatasetCache,
) -> str:
    return check_file(path, remote, records, spec=spec, url=url, quarantine=cache.quarantine)


def _convert_and_publish(
    spec: DatasetSpec,
    converter: Any,
    cache: DatasetCache,
    sources: dict[str, Path],
    hashes: dict[str, str],
    progress: bool,
) -> Path:
    cache.building.mkdir(exist_ok=True)
    extra = converter(spec, sources, cache.building, progress=progress)
    attributes = standard_attributes(spec.name, hashes)
    attributes.update(extra or {})
    if cache.store.exists():  # a store without zarr.json: never published, a leftover
        move_aside(cache.store, cache.quarantine)
    return publish(cache.building, cache.store, attributes)


def _progress(items: Any, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="file", disable=not enabled or len(items) < 2, leave=False)


def remove(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Delete dataset ``name`` from the cache (store, raw files, records); return its folder.

    Examples
    --------
    >>> remove("clickme-sample")  # doctest: +SKIP
    """
    cache = dataset_cache(get_spec(name).name, cache_dir)
    lock = _acquire(cache)
    try:
        for path in (*cache.layout_stores(), cache.raw, cache.quarantine, cache.hashes):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    finally:
        lock.release()
    return cache.folder
