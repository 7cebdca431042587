"""Where datasets live on disk, and the environment variables that steer it.

Layout of one dataset's cache folder::

    <root>/<name>/
        raw/<relative path>          verified raw files (kept for re-conversion)
        raw/<relative path>.part     a download in progress (resumed, never read)
        quarantine/                  files that failed their checksum, moved aside
        hashes.json                  sha256 and size recorded on first download
        store.zarr/                  the published store (complete when its manifest is sealed)
        store.zarr.building/         a conversion in progress (resumed or redone)
        extracted/                   the raw archive extracted, for code that reads its files
        store-<layout>.zarr/         the store in another layout, e.g. store-compact.zarr
                                     (and its .building)
        store-first<K>.zarr/         a prefix store: the first K raw files only, for a subset
                                     that needs only the split's first records; sealed and
                                     published like the others (and its .building)
        store-<layout>-first<K>.zarr/  a prefix store in another layout
        .lock                        taken by the one process that downloads/converts

A prefix store is what ``fetch(name, records=n)`` builds when the whole store
is not in the cache: the leading raw files, in registry order, that hold the
first ``n`` records. Its root attribute ``neural_datasets.prefix`` says which
(``{"shards": K, "of_shards": N, "records": M}``). It is never changed once
published; a longer request builds a longer one beside it.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..datasets.spec import DatasetSpec

from ..errors import CacheNotWritableError, option

ENV_HOME = "NEURAL_DATASETS_HOME"
ENV_OFFLINE = "NEURAL_DATASETS_OFFLINE"
NEAR_MISSES = ("NEURAL_DATASETS_CACHE", "NEURAL_DATASET_HOME", "NEURAL_DATASETS_DIR")
"""Names users try for :data:`ENV_HOME`: ignored, but a warning says which one is read."""


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache root: ``cache_dir``, else ``$NEURAL_DATASETS_HOME``, else the platform cache.

    Examples
    --------
    >>> cache_root("/tmp/nd").as_posix()
    '/tmp/nd'

    Raises
    ------
    CacheNotWritableError
        When the root, or a folder above it, is a file; the message names
        the setting that chose it.
    """
    _warn_near_misses()
    if cache_dir is not None:
        return _folder(Path(cache_dir).expanduser(), option("cache_dir"))
    env = os.environ.get(ENV_HOME)
    if env:
        return _folder(Path(env).expanduser(), ENV_HOME)
    import pooch

    return _folder(Path(pooch.os_cache("neural-datasets")), f"the default ({ENV_HOME} unset)")


def _folder(root: Path, chosen_by: str) -> Path:
    """``root``, unless it or a folder above it is a file: then say so, and who chose it."""
    where = root
    while not where.exists() and where != where.parent:
        where = where.parent
    if where.exists() and not where.is_dir():
        what = "is a file" if where == root else f"is under {where}, which is a file"
        raise CacheNotWritableError(
            f"The cache root {root} ({chosen_by}) {what}, not a folder. Set {ENV_HOME} (or "
            f"{option('cache_dir')}) to a folder, e.g. {ENV_HOME}=$HOME/neural-datasets."
        )
    return root


_warned: set[str] = set()


def _warn_near_misses() -> None:
    """Warn once when a variable that looks like :data:`ENV_HOME` is set: it is not read."""
    for name in NEAR_MISSES:
        if os.environ.get(name) and name not in _warned:
            _warned.add(name)
            read = f"{ENV_HOME}={os.environ[ENV_HOME]}" if os.environ.get(ENV_HOME) else "unset"
            warnings.warn(
                f"{name} is set but neural-datasets does not read it: the cache root comes "
                f"from {ENV_HOME} ({read}). Rename the variable to {ENV_HOME}.",
                UserWarning,
                stacklevel=3,
            )


def offline() -> bool:
    """True when ``NEURAL_DATASETS_OFFLINE`` is set to a true value (1, true, yes)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class DatasetCache:
    """Paths of one dataset's cache folder (see the module docstring).

    With ``shards`` set, :attr:`store` and :attr:`building` are those of the
    prefix store of the first ``shards`` raw files, in ``layout``. ``layouts``
    are every layout the dataset has (``DatasetSpec.layout_names``), which
    :meth:`every_layout` and :meth:`layout_stores` cover.

    Examples
    --------
    >>> cache = DatasetCache(Path("/c"), "demo", "compact", layouts=("raw", "compact"))
    >>> cache.store.name, replace(cache, shards=3).store.name
    ('store-compact.zarr', 'store-compact-first3.zarr')
    >>> [other.store.name for other in cache.every_layout()]
    ['store.zarr', 'store-compact.zarr']
    """

    root: Path
    name: str
    layout: str = "raw"
    shards: int | None = None
    layouts: tuple[str, ...] = ("raw",)

    @property
    def folder(self) -> Path:
        return self.root / self.name

    @property
    def raw(self) -> Path:
        return self.folder / "raw"

    @property
    def quarantine(self) -> Path:
        return self.folder / "quarantine"

    @property
    def hashes(self) -> Path:
        return self.folder / "hashes.json"

    @property
    def _stem(self) -> str:
        return "store" if self.layout == "raw" else f"store-{self.layout}"

    @property
    def store(self) -> Path:
        prefix = "" if self.shards is None else f"-first{self.shards}"
        return self.folder / f"{self._stem}{prefix}.zarr"

    @property
    def building(self) -> Path:
        return self.store.with_name(self.store.name + ".building")

    @property
    def whole(self) -> DatasetCache:
        """The cache of the whole store in this layout (itself, unless a prefix store's)."""
        return replace(self, shards=None)

    def prefixes(self) -> list[DatasetCache]:
        """The prefix stores of this layout on disk (published or building), fewest shards first."""
        pattern = re.compile(rf"{re.escape(self._stem)}-first([1-9][0-9]*)\.zarr(\.building)?")
        try:
            names = [child.name for child in self.folder.iterdir()]
        except OSError:  # never fetched
            return []
        found = {int(match[1]) for name in names if (match := pattern.fullmatch(name))}
        return [replace(self, shards=shards) for shards in sorted(found)]

    def every_layout(self) -> list[DatasetCache]:
        """This dataset's whole-store caches, one per layout, in :attr:`layouts` order."""
        return [replace(self, layout=layout, shards=None) for layout in self.layouts]

    def layout_stores(self) -> list[Path]:
        """The published and building stores of every layout, prefix stores included."""
        caches = self.every_layout()
        caches += [prefix for cache in caches for prefix in cache.prefixes()]
        return [path for cache in caches for path in (cache.store, cache.building)]

    @property
    def extracted(self) -> Path:
        return self.folder / "extracted"

    @property
    def lock(self) -> Path:
        return self.folder / ".lock"

    def raw_file(self, relative: str) -> Path:
        return self.raw.joinpath(*relative.split("/"))

    def is_published(self) -> bool:
        """True when the final store is complete: its completion marker seals its manifest.

        A store without the marker (a root ``zarr.json`` alone, a deleted or
        altered manifest) is not complete, and ``fetch`` rebuilds it.
        """
        from ..storage.manifest import is_sealed

        return is_sealed(self.store)

    def prefix_facts(self) -> dict[str, Any] | None:
        """``{"shards", "of_shards", "records"}`` of a published, sealed prefix store, else None.

        None also for a prefix store that is incomplete, unreadable, or whose
        attributes disagree with its name: such a store is never reused.
        """
        from ..errors import CorruptStoreError
        from ..storage.layout import read_attributes

        if self.shards is None or not self.is_published():
            return None
        try:
            facts = read_attributes(self.store).get("neural_datasets", {}).get("prefix")
        except CorruptStoreError:
            return None
        if not isinstance(facts, dict) or facts.get("shards") != self.shards:
            return None
        if not all(isinstance(facts.get(key), int) for key in ("of_shards", "records")):
            return None
        return facts


def dataset_cache(
    name: str,
    cache_dir: str | os.PathLike[str] | None = None,
    layout: str = "raw",
    layouts: tuple[str, ...] = ("raw",),
) -> DatasetCache:
    """The :class:`DatasetCache` of dataset ``name`` (in ``layout``) under the chosen root."""
    return DatasetCache(cache_root(cache_dir), name, layout, layouts=layouts)


def spec_cache(
    spec: DatasetSpec, cache_dir: str | os.PathLike[str] | None = None, layout: str | None = None
) -> DatasetCache:
    """The cache of ``spec``'s store in ``layout`` (default: its own), knowing all its layouts.

    Raises
    ------
    InvalidArgumentError
        When the dataset has no such layout (``DatasetSpec.check_layout``).

    Examples
    --------
    >>> from neural_datasets.registry import get_spec
    >>> spec_cache(get_spec("arcaro2020-sample"), "/c").layouts
    ('raw',)
    """
    return dataset_cache(spec.name, cache_dir, spec.check_layout(layout), spec.layout_names)
