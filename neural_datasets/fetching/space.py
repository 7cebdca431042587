"""How big a dataset is before it is downloaded, and whether it fits.

A dataset's sizes come from the best source at hand, and each says which it is:

* **known**: the download size of every raw file from the registry (pinned
  sizes), from the cache's own records of earlier downloads, or from a lookup
  (``stat`` for ``file://``, an HTTP ``HEAD`` otherwise; cached in the
  dataset's ``sizes.json``); the sample count when the registry states it;
* **measured**: the store's size on disk and its sample count, once fetched;
* **estimated** (shown with ``~``): the store before it exists, from the
  registry's bytes per sample, and sample counts from the download size.

:func:`check_free_space` runs at the start of every fetch and refuses, with
one message saying what is needed, what is free and where, when the download
plus the store cannot fit. It never touches the network: lookups happen only
when asked for (``neural-datasets info``, ``list --lookup``).

Examples
--------
>>> from neural_datasets.registry import get_spec
>>> from neural_datasets.fetching.cache import dataset_cache
>>> sizes = dataset_sizes(get_spec("clickme-sample"), dataset_cache("clickme-sample", "/nowhere"))
>>> sizes.files, str(sizes.download), str(sizes.samples)
(2, '1.05 MB', '48')
>>> str(sizes.store), sizes.store.how
('~12.6 MB', 'estimated')
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..datasets.spec import DatasetSpec
from ..errors import ChecksumMismatchError, CorruptStoreError, NotEnoughSpaceError, option
from ..storage.remote import network_timeout
from .cache import DatasetCache
from .download import PART_SUFFIX, no_network
from .hashes import HashRecords

LOOKUP_TIMEOUT_S = (5.0, 10.0)
LOOKUP_THREADS = 16
SIZES_FILE = "sizes.json"


@dataclass(frozen=True)
class Amount:
    """A size in bytes (or a count) and how it was obtained.

    ``how`` is ``"known"``, ``"measured"``, ``"estimated"`` (printed with a
    leading ``~``) or ``"unknown"`` (``value`` is None, printed ``?``).

    Examples
    --------
    >>> str(Amount(12_700_000, "measured")), str(Amount(3.2e9, "estimated")), str(UNKNOWN)
    ('12.7 MB', '~3.2 GB', '?')
    >>> str(Amount(48, "known", unit=""))
    '48'
    """

    value: float | None
    how: str
    unit: str = "B"

    def __str__(self) -> str:
        if self.value is None:
            return "?"
        mark = "~" if self.how == "estimated" else ""
        if self.unit == "B":
            return mark + human_bytes(self.value)
        return f"{mark}{round(self.value):,}"


UNKNOWN = Amount(None, "unknown")
UNKNOWN_COUNT = Amount(None, "unknown", unit="")


@dataclass(frozen=True)
class DatasetSizes:
    """What ``neural-datasets list`` and ``info`` print about one dataset."""

    files: int
    download: Amount
    samples: Amount
    store: Amount
    lookup_failure: str | None = None
    """Why a size lookup that was asked for got no answer (e.g. the host does not resolve)."""

    @property
    def store_bytes_per_sample(self) -> Amount:
        """Store bytes per sample; estimated unless both numbers are measured."""
        if self.store.value is None or not self.samples.value:
            return UNKNOWN
        both_measured = self.store.how == self.samples.how == "measured"
        return Amount(
            self.store.value / self.samples.value, ("measured" if both_measured else "estimated")
        )


def human_bytes(n: float) -> str:
    """``n`` bytes in decimal units with three significant digits.

    Examples
    --------
    >>> human_bytes(999), human_bytes(1_053_132), human_bytes(2.5e12)
    ('999 B', '1.05 MB', '2.5 TB')
    """
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 999.5 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def file_sizes(
    spec: DatasetSpec, cache: DatasetCache, base_url: str | None = None, *, lookup: bool = False
) -> list[int | None]:
    """Download size of each of ``spec.files`` in bytes, ``None`` where unknown.

    Sources, in order: the registry's pinned size, the cache's record of an
    earlier download, the file in the cache, a cached lookup, ``stat`` of a
    ``file://`` URL; then, with ``lookup=True``, HTTP ``HEAD`` requests (in
    parallel, with timeouts; results cached in the dataset's ``sizes.json``).
    A failed lookup leaves the size unknown; it never raises.
    """
    return _sizes_and_failure(spec, cache, base_url, lookup)[0]


def _sizes_and_failure(
    spec: DatasetSpec, cache: DatasetCache, base_url: str | None, lookup: bool
) -> tuple[list[int | None], str | None]:
    """:func:`file_sizes`, and why the lookup failed if it did."""
    records = _records(cache)
    looked_up = _read_lookups(cache)
    sizes: list[int | None] = []
    for remote in spec.files:
        url = spec.url(remote, base_url)
        recorded = records.get(remote.path) or {}
        raw = cache.raw_file(remote.path)
        size = remote.size or recorded.get("size") or looked_up.get(url)
        if size is None and raw.is_file():
            size = raw.stat().st_size
        if size is None and url.startswith("file://"):
            local = Path(unquote(urlparse(url).path))
            size = local.stat().st_size if local.is_file() else None
        sizes.append(size)
    missing = [spec.url(r, base_url) for r, s in zip(spec.files, sizes) if s is None]
    failure = None
    if lookup and missing:
        found, failure = _head_sizes(missing)
        if found:
            _save_lookups(cache, {**looked_up, **found})
        urls = [spec.url(r, base_url) for r in spec.files]
        sizes = [s if s is not None else found.get(u) for s, u in zip(sizes, urls)]
    return sizes, failure


def dataset_sizes(
    spec: DatasetSpec, cache: DatasetCache, base_url: str | None = None, *, lookup: bool = False
) -> DatasetSizes:
    """Files, download size, samples and store size of ``spec``, each known, measured or ~."""
    sizes, failure = _sizes_and_failure(spec, cache, base_url, lookup)
    known = [s for s in sizes if s is not None]
    if len(known) == len(sizes):
        download = Amount(sum(known), "known")
    elif known:  # scale the files we know to all of them
        download = Amount(sum(known) / len(known) * len(sizes), "estimated")
    else:
        download = UNKNOWN
    if cache.is_published():
        return DatasetSizes(
            len(sizes), download, _stored_samples(spec, cache), measured_size(cache.store), failure
        )
    samples = UNKNOWN_COUNT
    if spec.samples is not None:
        samples = Amount(spec.samples, "known", unit="")
    elif spec.raw_bytes_per_sample and download.value is not None:
        samples = Amount(download.value / spec.raw_bytes_per_sample, "estimated", unit="")
    store = UNKNOWN
    if spec.store_bytes_per_sample and samples.value is not None:
        store = Amount(samples.value * spec.store_bytes_per_sample, "estimated")
    return DatasetSizes(len(sizes), download, samples, store, failure)


def check_free_space(spec: DatasetSpec, cache: DatasetCache, base_url: str | None = None) -> None:
    """Refuse to fetch when the rest of the download plus the store cannot fit.

    Counts the raw files not yet in the cache (less what partial downloads
    already hold) and the store's estimate, against the free space of the
    file system holding the cache. Sizes that are not known are not counted,
    so the check never blocks a fetch it cannot judge.

    Raises
    ------
    NotEnoughSpaceError
        Naming the space needed (download and store), the space free, and where.
    """
    sizes = file_sizes(spec, cache, base_url)
    download = 0
    for remote, size in zip(spec.files, sizes):
        raw = cache.raw_file(remote.path)
        if size is None or raw.is_file():
            continue
        part = raw.with_name(raw.name + PART_SUFFIX)
        download += max(size - (part.stat().st_size if part.is_file() else 0), 0)
    store = 0
    if not cache.is_published():
        estimate = dataset_sizes(spec, cache, base_url).store.value
        store = int(estimate or 0)
    needed = download + store
    where = _existing_ancestor(cache.folder)
    free = shutil.disk_usage(where).free
    if needed > free:
        raise NotEnoughSpaceError(
            f"Not enough free space to fetch {spec.name}: it needs about "
            f"{human_bytes(needed)} ({human_bytes(download)} to download + "
            f"{human_bytes(store)} for the converted store) and {human_bytes(free)} is free at "
            f"{where}. Free some space there, or choose another cache with "
            f"{option('cache_dir')} or NEURAL_DATASETS_HOME (docs: 'Where the cache lives' in "
            "README.md)."
        )


def free_space(path: Path) -> tuple[Path, int]:
    """The nearest existing folder at or above ``path``, and the bytes free on its file system."""
    where = _existing_ancestor(path)
    return where, shutil.disk_usage(where).free


def _existing_ancestor(path: Path) -> Path:
    path = Path(path).absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _records(cache: DatasetCache) -> dict[str, dict]:
    try:
        return dict(HashRecords(cache.hashes).items())
    except ChecksumMismatchError:  # unreadable records are fetch's to report; here: no sizes
        return {}


def _lookups_file(cache: DatasetCache) -> Path:
    return cache.folder / SIZES_FILE


def _read_lookups(cache: DatasetCache) -> dict[str, int]:
    try:
        data = json.loads(_lookups_file(cache).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save_lookups(cache: DatasetCache, sizes: dict[str, int]) -> None:
    target = _lookups_file(cache)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{SIZES_FILE}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(sizes, indent=1, sort_keys=True))
        os.replace(tmp, target)
    except OSError:  # a read-only cache still gets its answer, just not remembered
        pass


def _head_sizes(urls: list[str]) -> tuple[dict[str, int], str | None]:
    """``Content-Length`` of each URL by HEAD; stops at the first unreachable host, saying why."""
    import requests

    def head(url: str) -> int | None:
        limit = network_timeout()  # NEURAL_DATASETS_TIMEOUT may only shorten a lookup
        connect, read = (min(limit, bound) for bound in LOOKUP_TIMEOUT_S)
        response = requests.head(url, timeout=(connect, read), allow_redirects=True)
        length = response.headers.get("Content-Length")
        return int(length) if response.ok and length and length.isdigit() else None

    found: dict[str, int] = {}
    try:
        first = head(urls[0])  # one probe first: an offline machine waits one timeout, not 300
    except requests.RequestException as exc:
        unreachable = no_network(exc)
        host = urlparse(urls[0]).netloc
        why = unreachable.cause if unreachable else f"{type(exc).__name__}: {exc}"
        return found, f"{host} could not be asked: {why}"
    if first is not None:
        found[urls[0]] = first
    with ThreadPoolExecutor(LOOKUP_THREADS) as pool:
        futures = {url: pool.submit(head, url) for url in urls[1:]}
        for url, future in futures.items():
            try:
                size = future.result()
            except requests.RequestException:
                continue
            if size is not None:
                found[url] = size
    return found, None


def measured_size(store: Path) -> Amount:
    """The bytes of every file under ``store``, measured."""
    total = 0
    for folder, _, names in os.walk(store):
        total += sum(os.stat(os.path.join(folder, name)).st_size for name in names)
    return Amount(total, "measured")


def _stored_samples(spec: DatasetSpec, cache: DatasetCache) -> Amount:
    from ..storage.layout import read_attributes

    if spec.stored_samples is None:
        return UNKNOWN_COUNT
    try:
        return Amount(spec.stored_samples(read_attributes(cache.store)), "measured", unit="")
    except (CorruptStoreError, KeyError, TypeError):  # verify reports a damaged store
        return UNKNOWN_COUNT
