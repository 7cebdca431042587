"""``fetch``: download, verify, convert and publish a dataset, once, safely.

Any number of processes may call :func:`fetch` for the same dataset at once
(DDP ranks, DataLoader workers, jobs on a shared file system). A file lock
makes exactly one of them download and convert; the others wait, then find the
published store. Every step writes under a temporary name and renames when
complete, so a crash at any point leaves a cache the next call repairs:
partial downloads are resumed, conversions resume or restart, and nothing is
ever read as complete when it is not.

Raw files already on this machine (the Keras cache of the lab's own loaders,
or a folder named with ``from_dir``) are reused instead of downloaded, and
checked like downloads (:mod:`.adopt`).

A request for only the first records of a dataset whose raw files count their
records (``DatasetSpec.count_records``, e.g. TFRecord shards) fetches and converts
only the leading files that hold them, into a prefix store of their own
(:func:`fetch_leading`), under the same lock, checks and publication.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..datasets.spec import DatasetSpec, RemoteFile
from ..errors import (
    CacheNotWritableError,
    ChecksumMismatchError,
    InvalidArgumentError,
    OfflineError,
    option,
)
from ..registry import get_spec
from ..storage.layout import publish, standard_attributes
from ..storage.manifest import missing_files
from .adopt import Reuse, find_copy, link_or_copy, missing_without_copy, require_folder
from .cache import DatasetCache, dataset_cache, offline, spec_cache
from .download import ResumableDownloader
from .hashes import HashRecords, UnpinnedFileWarning, check_file, expected_checksum, move_aside
from .space import check_free_space, dataset_sizes, file_sizes, human_bytes

LOCK_NOTICE_AFTER_S = 2.0
REMOVING = ".removing-"
"""Infix of a folder that ``remove`` renamed before deleting it."""


def fetch(
    name: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    progress: bool = True,
    from_dir: str | os.PathLike[str] | None = None,
    layout: str | None = None,
    records: int | None = None,
    download: bool = True,
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
    from_dir
        A folder holding some or all of the raw files already (a lab's shared
        disk), under our names or the Keras cache's (``DatasetSpec.keras_names``). They
        are hard-linked or copied into the cache and checked like downloads,
        never modified. The Keras cache (``$KERAS_HOME`` or ``~/.keras``) is
        always searched.
    layout
        The store layout: ``"raw"`` (decoded arrays, fastest to read) or
        another the dataset declares (``DatasetSpec.layouts``; for ClickMe
        ``"compact"``, the published JPEG bytes decoded on read); default: the
        dataset's own choice (BENCHMARKS.md). Each layout is a store of its own
        in the cache; a layout the dataset lacks is an ``InvalidArgumentError``.
    records
        Only the first ``records`` records are needed (in the store's order:
        raw files in registry order, each file's records in file order). For
        datasets that count records per file (``DatasetSpec.count_records``),
        unless the whole store is in the cache, this fetches and converts only
        the leading files that hold them, into a prefix store
        (``store-first<K>.zarr``) holding *at least* ``records`` records; see
        :func:`fetch_leading`. Default (and for datasets that cannot count
        their records per file): the whole dataset.
    download
        Download what the cache lacks (default; the size is printed first
        when ``progress``). ``False``: use only what is on this machine (the
        cache, ``from_dir``, the Keras cache, ``file://`` URLs), and raise
        :class:`~neural_datasets.errors.OfflineError` saying what is missing
        otherwise, as ``NEURAL_DATASETS_OFFLINE=1`` does.

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

    Only the first records, in a fresh cache: the sample's first shard holds 24.

    >>> import tempfile
    >>> cache = tempfile.mkdtemp()
    >>> nd.fetch("clickme-sample", records=10, cache_dir=cache, progress=False).name
    'store-first1.zarr'
    >>> nd.fetch("clickme-sample", cache_dir=cache, progress=False).name
    'store.zarr'
    """
    if not download:
        with _downloads_off():
            return fetch(
                name,
                cache_dir=cache_dir,
                base_url=base_url,
                progress=progress,
                from_dir=from_dir,
                layout=layout,
                records=records,
            )
    if records is not None:
        _check_records(records)
    plan = _Plan.resolve(name, cache_dir, base_url, progress, from_dir, layout)
    if records is None or plan.spec.count_records is None:
        return _fetch_whole(plan)
    return _fetch_leading(plan, records, f"the first {records:,} records")


def fetch_leading(
    name: str,
    records: int,
    *,
    request: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    progress: bool = True,
    from_dir: str | os.PathLike[str] | None = None,
    layout: str | None = None,
    download: bool = True,
) -> Path:
    """A published store holding at least the first ``records`` records of ``name``; its path.

    In order of preference, without network when one exists: the whole
    store; the longest published prefix store that holds enough records.
    Otherwise, under the dataset's lock, the raw files are fetched and checked
    one at a time in registry order, counting their records, until they hold
    ``records``; those files alone are converted and published as the prefix
    store ``store-first<K>.zarr`` (sealed like every store, its root attribute
    ``neural_datasets.prefix`` saying ``{"shards": K, "of_shards": N,
    "records": M}``). When every file is needed after all, the whole store is
    built. Datasets that cannot count records per file
    (``DatasetSpec.count_records`` is None) are fetched whole. This is
    ``fetch(name, records=records)`` with ``request`` naming what needs them.

    Parameters
    ----------
    records
        How many leading records are needed (at least 1).
    request
        What needs them, for the messages (e.g. ``"train[:1000]"``).
    cache_dir, base_url, progress, from_dir, layout, download
        As for :func:`fetch`.

    Raises
    ------
    InvalidArgumentError
        When ``records`` is not a positive integer; else as :func:`fetch`.
    """
    _check_records(records)
    if not download:
        with _downloads_off():
            return fetch_leading(
                name,
                records,
                request=request,
                cache_dir=cache_dir,
                base_url=base_url,
                progress=progress,
                from_dir=from_dir,
                layout=layout,
            )
    plan = _Plan.resolve(name, cache_dir, base_url, progress, from_dir, layout)
    if plan.spec.count_records is None:
        return _fetch_whole(plan)
    return _fetch_leading(plan, records, request or f"the first {records:,} records")


def _check_records(records: Any) -> None:
    if isinstance(records, bool) or not isinstance(records, int) or records < 1:
        raise InvalidArgumentError(f"records={records!r}: give a positive number of records.")


@dataclass(frozen=True)
class _Plan:
    """One fetch request, resolved once: the spec, its cache and converter, and the options."""

    spec: DatasetSpec
    cache: DatasetCache
    converter: Any
    base_url: str | None
    progress: bool
    from_dir: str | os.PathLike[str] | None

    @classmethod
    def resolve(
        cls,
        name: str,
        cache_dir: str | os.PathLike[str] | None,
        base_url: str | None,
        progress: bool,
        from_dir: str | os.PathLike[str] | None,
        layout: str | None,
    ) -> _Plan:
        spec = get_spec(name)
        cache = spec_cache(spec, cache_dir, layout)
        require_folder(from_dir)
        return cls(spec, cache, spec.converter(cache.layout), base_url, progress, from_dir)


def _fetch_whole(plan: _Plan) -> Path:
    """The whole store of ``plan``: published already, or built once under the lock."""
    spec, cache = plan.spec, plan.cache
    if _intact(cache):
        return cache.store
    _require_raw_files_or_network(spec, cache, plan.base_url, plan.from_dir)

    def build() -> Path:
        check_free_space(spec, cache, plan.base_url)
        if plan.progress:
            _announce_download(spec, cache, plan.base_url, plan.from_dir)
        raw_files, hashes = _ensure_raw_files(
            spec, cache, plan.base_url, plan.progress, plan.from_dir
        )
        return _convert_and_publish(spec, plan.converter, cache, raw_files, hashes, plan.progress)

    return _build_once(cache, build)


def _fetch_leading(plan: _Plan, records: int, request: str) -> Path:
    """A store of the first ``records`` records, at least (see :func:`fetch_leading`)."""
    spec, whole = plan.spec, plan.cache
    found = _published_covering(whole, records)
    if found is not None:
        return found

    def build() -> Path:
        found = _published_covering(whole, records)  # another process built it while we waited
        if found is not None:
            return found
        raw_files, hashes, counts = _ensure_leading_raw_files(
            spec, whole, plan.base_url, plan.progress, plan.from_dir, records, request
        )
        if len(counts) == len(spec.files):  # the whole dataset is needed after all
            return _convert_and_publish(
                spec, plan.converter, whole, raw_files, hashes, plan.progress
            )
        facts = {"shards": len(counts), "of_shards": len(spec.files), "records": sum(counts)}
        leading = replace(spec, files=spec.files[: len(counts)], samples=None)
        prefix = replace(whole, shards=len(counts))
        return _convert_and_publish(
            leading, plan.converter, prefix, raw_files, hashes, plan.progress, prefix_facts=facts
        )

    return _build_once(whole, build)


def _published_covering(whole: DatasetCache, records: int) -> Path | None:
    """The whole store if published, else the longest prefix store holding ``records``."""
    if whole.is_published():
        return whole.store
    for prefix in reversed(whole.prefixes()):
        facts = prefix.prefix_facts()
        if facts is not None and facts["records"] >= records:
            return prefix.store
    return None


def convert_local(
    spec: DatasetSpec,
    raw_files: dict[str, Path],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Path:
    """Convert local files into the store of ``spec`` in the cache, once; return the store.

    For files the user hands over (``ClickMe.from_tfrecords``): they are read
    where they are, not copied, and ``spec.files`` must pin their sha256 (the
    converter checks them again as it reads). Concurrent callers are safe as
    with :func:`fetch`.
    """
    cache = dataset_cache(spec.name, cache_dir)
    if cache.is_published():
        return cache.store
    hashes = {remote.path: str(remote.sha256) for remote in spec.files}
    return _build_once(
        cache, lambda: _convert_and_publish(spec, spec.convert, cache, raw_files, hashes, progress)
    )


def _build_once(cache: DatasetCache, build: Callable[[], Path]) -> Path:
    """Run ``build`` under the cache's lock unless another process published the store."""
    lock = _acquire(cache)
    try:
        if _intact(cache, say=True):  # another process finished while we waited
            return cache.store
        return build()
    except BaseException:
        _tidy(cache)
        raise
    finally:
        lock.release()


def _intact(cache: DatasetCache, say: bool = False) -> bool:
    """True when the store is published and holds every file its manifest lists.

    A store sealed once but missing files since (a deleted checksum group) is
    rebuilt from the raw files by the caller; ``say`` announces it.
    """
    if not cache.is_published():
        return False
    lost = missing_files(cache.store)
    if lost and say:
        print(
            f"neural-datasets: {cache.store} lacks {len(lost)} of the files its manifest lists "
            f"(e.g. {lost[0]}), deleted since it was published; rebuilding it from the raw files "
            f"(the damaged store is moved to {cache.quarantine}).",
            file=sys.stderr,
        )
    return not lost


def _tidy(cache: DatasetCache) -> None:
    """Leave no empty folders (a failed build, ``rm``), nor a lone lock in an empty dataset folder.

    Whatever holds data (a partial download, a conversion to resume) stays.
    Called with the lock held.
    """
    try:
        for where, _folders, _files in os.walk(cache.folder, topdown=False):
            if where != str(cache.folder) and not os.listdir(where):
                os.rmdir(where)
        if [child.name for child in cache.folder.iterdir()] == [cache.lock.name]:
            cache.lock.unlink()
            cache.folder.rmdir()
    except OSError:  # a concurrent process is writing there: leave it as it is
        pass


def _require_raw_files_or_network(
    spec: DatasetSpec,
    cache: DatasetCache,
    base_url: str | None,
    from_dir: str | os.PathLike[str] | None,
) -> None:
    refusal = _download_refusal()
    if refusal is None or (base_url or spec.base_url).startswith("file://"):
        return
    have = [r.path for r in spec.files if cache.raw_file(r.path).is_file()]
    missing = missing_without_copy(spec, have, from_dir)
    if missing:
        why, allow = refusal
        size = dataset_sizes(spec, cache, base_url).download
        how_big = (
            f"{size} in all"
            if size.value is not None
            else f"`neural-datasets info {spec.name}` tells its size"
        )
        raise OfflineError(
            f"{spec.name} is not in the cache at {cache.folder} ({len(missing)} of "
            f"{len(spec.files)} raw files missing, e.g. {missing[0]}) and {why} forbids "
            f"downloading. {allow[0].upper()}{allow[1:]} to download it ({how_big}), point "
            f"{option('cache_dir')} at a cache that holds it, name a folder holding the files "
            f"with {option('from_dir')}, or use a file:// {option('base_url')}."
        )


_DOWNLOADS_ALLOWED: ContextVar[bool] = ContextVar("neural_datasets_downloads", default=True)


@contextlib.contextmanager
def _downloads_off() -> Iterator[None]:
    """``download=False``: within this block, fetch uses only what is on this machine."""
    token = _DOWNLOADS_ALLOWED.set(False)
    try:
        yield
    finally:
        _DOWNLOADS_ALLOWED.reset(token)


def _download_refusal() -> tuple[str, str] | None:
    """``(what forbids downloading, how to allow it)``, or None when downloads are allowed."""
    if not _DOWNLOADS_ALLOWED.get():
        return "download=False", "pass download=True"
    if offline():
        return "NEURAL_DATASETS_OFFLINE", "unset NEURAL_DATASETS_OFFLINE"
    return None


def _announce_download(
    spec: DatasetSpec,
    cache: DatasetCache,
    base_url: str | None,
    from_dir: str | os.PathLike[str] | None,
) -> None:
    """Say how much will be downloaded, and where to, before the first byte is."""
    if (base_url or spec.base_url).startswith("file://"):
        return  # a copy from this machine, not a download
    have = [r.path for r in spec.files if cache.raw_file(r.path).is_file()]
    missing = set(missing_without_copy(spec, have, from_dir))
    if not missing:
        return
    sizes = file_sizes(spec, cache, base_url, lookup=True)
    needed = [size for r, size in zip(spec.files, sizes) if r.path in missing]
    known = [size for size in needed if size is not None]
    amount = human_bytes(sum(known)) if known else "size unknown"
    if known and len(known) < len(needed):
        amount = f"at least {amount}"
    print(
        f"neural-datasets: downloading {spec.name}: {len(needed)} of {len(spec.files)} files, "
        f"{amount}, into {cache.folder}.",
        file=sys.stderr,
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
            f"complete copy of {cache.name}. Choose a writable cache with {option('cache_dir')} or "
            f"NEURAL_DATASETS_HOME, or fetch it once where the cache is writable."
        ) from exc
    return lock


def _ensure_raw_files(
    spec: DatasetSpec,
    cache: DatasetCache,
    base_url: str | None,
    progress: bool,
    from_dir: str | os.PathLike[str] | None,
) -> tuple[dict[str, Path], dict[str, str]]:
    get = _RawFiles(spec, cache, base_url, progress, from_dir)
    with _progress(spec.files, progress, f"{spec.name}: files") as files:  # closed on errors
        raw_files = {remote.path: get(remote) for remote in files}
    get.say_reused()
    get.checker.warn_first_use()
    return raw_files, get.checker.hashes


def _ensure_leading_raw_files(
    spec: DatasetSpec,
    cache: DatasetCache,
    base_url: str | None,
    progress: bool,
    from_dir: str | os.PathLike[str] | None,
    records: int,
    request: str,
) -> tuple[dict[str, Path], dict[str, str], list[int]]:
    """Fetch and check raw files in registry order until they hold ``records`` records.

    Returns the files, their sha256 and each one's record count. Free space
    is checked before each file for the files so far and their store.
    """
    from tqdm.auto import tqdm

    assert spec.count_records is not None
    get = _RawFiles(spec, cache, base_url, progress, from_dir)
    raw_files: dict[str, Path] = {}
    counts: list[int] = []
    total = len(spec.files)
    if progress:
        print(
            f"neural-datasets: {spec.name}: {request} needs only the first {records:,} records: "
            f"fetching the leading shards of {total} that hold them, in order.",
            file=sys.stderr,
        )
    bar = tqdm(
        total=total, desc=f"{spec.name}: shards for {request}", unit="shard", disable=not progress
    )
    with bar:
        for k, remote in enumerate(spec.files):
            if sum(counts) >= records:
                break
            leading = replace(spec, files=spec.files[: k + 1], samples=None)
            check_free_space(leading, replace(cache, shards=k + 1), base_url)
            raw_files[remote.path] = get(remote)
            counts.append(spec.count_records(raw_files[remote.path]))
            bar.update(1)
            bar.set_postfix(records=f"{sum(counts):,}")
    get.say_reused()
    get.checker.warn_first_use()
    if progress:
        print(
            f"neural-datasets: {spec.name}: fetched {len(counts)} of {total} shards "
            f"({sum(counts):,} records) for {request}"
            + ("; converting them into a store of their own." if len(counts) < total else "."),
            file=sys.stderr,
        )
    return raw_files, get.checker.hashes, counts


class _RawFiles:
    """Makes raw files present and checked, one by one: kept, adopted or downloaded."""

    def __init__(
        self,
        spec: DatasetSpec,
        cache: DatasetCache,
        base_url: str | None,
        progress: bool,
        from_dir: str | os.PathLike[str] | None,
    ) -> None:
        self.spec, self.cache, self.base_url, self.from_dir = spec, cache, base_url, from_dir
        self.downloader = ResumableDownloader(progress=progress)
        self.checker = _Checker(spec, cache, HashRecords(cache.hashes))
        self.reuse = Reuse()

    def __call__(self, remote: RemoteFile) -> Path:
        spec, checker = self.spec, self.checker
        path = self.cache.raw_file(remote.path)
        url = spec.url(remote, self.base_url)
        if path.is_file():
            try:
                checker(path, remote, url)
                return path
            except ChecksumMismatchError as exc:  # damaged on disk since: fetch it again
                print(f"neural-datasets: {exc}\nDownloading it again.", file=sys.stderr)
        copy = find_copy(spec, remote, self.from_dir)
        if copy is not None and _adopt(copy, path, remote, checker):
            self.reuse.add(copy, path.stat().st_size)
            return path
        refusal = _download_refusal()
        if refusal is not None and not url.startswith("file://"):
            raise OfflineError(
                f"{remote.path} of {spec.name} is missing and {refusal[0]} forbids downloading "
                f"it; {refusal[1]} to download it."
            )
        self.downloader(url, path)
        checker(path, remote, url)
        return path

    def say_reused(self) -> None:
        """Say which files were taken from copies already on this machine."""
        if summary := self.reuse.summary(self.spec.name):
            print(f"neural-datasets: {summary}", file=sys.stderr)


def _adopt(copy: Path, path: Path, remote: RemoteFile, checker: _Checker) -> bool:
    """Take ``copy`` into the cache as ``path`` if it passes the checks of a download."""
    link_or_copy(copy, path)
    try:
        checker(path, remote, copy.as_uri())
    except ChecksumMismatchError:
        print(
            f"neural-datasets: the existing copy {copy} is not {remote.path} of "
            f"{checker.spec.name} (its checksum does not match); leaving it untouched and "
            f"downloading the file instead.",
            file=sys.stderr,
        )
        return False
    return True


class _Checker:
    """Checks raw files, collecting the files trusted on first use into one warning."""

    def __init__(self, spec: DatasetSpec, cache: DatasetCache, records: HashRecords) -> None:
        self.spec, self.cache, self.records = spec, cache, records
        self.hashes: dict[str, str] = {}
        self.first_use: list[str] = []

    def __call__(self, path: Path, remote: RemoteFile, url: str) -> None:
        first_use = expected_checksum(remote, self.records)[0] is None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnpinnedFileWarning)  # one warning per fetch instead
            self.hashes[remote.path] = check_file(
                path,
                remote,
                self.records,
                spec=self.spec,
                url=url,
                quarantine=self.cache.quarantine,
            )
        if first_use:
            self.first_use.append(remote.path)

    def warn_first_use(self) -> None:
        if not self.first_use:
            return
        count = len(self.first_use)
        files = f"{count} files have" if count > 1 else f"{self.first_use[0]} has"
        kinds = sorted({str((self.records.get(f) or {}).get("validated")) for f in self.first_use})
        warnings.warn(
            f"{self.spec.name}: {files} no published checksum; trusted on first use (each "
            f"checked to be a valid {' or '.join(kinds)} file first), with their sha256 "
            f"recorded in {self.records.path} and checked from now on. To pin "
            f"them for everyone, run `neural-datasets pin {self.spec.name}` and add its lines "
            f"to the dataset's checksums.tsv.",
            UnpinnedFileWarning,
            stacklevel=7,  # the caller of fetch() or fetch_leading()
        )


def _convert_and_publish(
    spec: DatasetSpec,
    converter: Any,
    cache: DatasetCache,
    raw_files: dict[str, Path],
    hashes: dict[str, str],
    progress: bool,
    prefix_facts: dict[str, int] | None = None,
) -> Path:
    cache.building.mkdir(exist_ok=True)
    extra = converter(spec, raw_files, cache.building, progress=progress)
    sources = {remote.path: hashes[remote.path] for remote in spec.files}
    attributes = standard_attributes(spec.name, sources)
    if prefix_facts is not None:
        attributes["neural_datasets"]["prefix"] = prefix_facts
    attributes.update(extra or {})
    if cache.store.exists():  # a store without zarr.json: never published, a leftover
        move_aside(cache.store, cache.quarantine)
    return publish(cache.building, cache.store, attributes)


def _progress(items: Any, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="file", disable=not enabled or len(items) < 2, leave=False)


def remove(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Delete dataset ``name`` from the cache (store, raw files, records); return its folder.

    The dataset's folder goes too (its lock included) unless it holds files of
    someone else's. Each store is first renamed out of the way, so a process
    opening the dataset meanwhile finds it absent (and fetches it again once
    this returns), never half deleted; a process already reading it is told
    that the store was removed while in use.

    Examples
    --------
    >>> remove("clickme-sample")  # doctest: +SKIP
    """
    cache = spec_cache(get_spec(name), cache_dir)
    if not cache.folder.exists():
        return cache.folder  # never fetched: create nothing, not even the lock
    try:
        lock = _acquire(cache)
        try:
            owned = (*cache.layout_stores(), cache.raw, cache.quarantine, cache.hashes)
            leftovers = cache.folder.glob(f"*{REMOVING}*")  # an interrupted rm's
            for path in (*owned, cache.extracted, *leftovers):
                if path.is_dir():
                    doomed = path.with_name(f"{path.name}{REMOVING}{os.getpid()}")
                    os.replace(path, doomed)  # gone at once for readers that open it
                    shutil.rmtree(doomed)
                elif path.exists():
                    path.unlink()
            _tidy(cache)
        finally:
            lock.release()
    except (CacheNotWritableError, OSError) as exc:
        cause = exc.__cause__ if isinstance(exc, CacheNotWritableError) else exc
        if getattr(cause, "errno", None) not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        what = getattr(cause, "strerror", None) or str(cause)
        raise CacheNotWritableError(
            f"Cannot remove {cache.name} from the cache at {cache.folder}: the cache is read-only "
            f"to you ({what}: {getattr(cause, 'filename', None) or cache.folder}). Ask the "
            f"cache's owner to remove it, or use a cache of your own with {option('cache_dir')} or "
            f"NEURAL_DATASETS_HOME."
        ) from exc
    return cache.folder
