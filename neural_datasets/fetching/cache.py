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
        .lock                        taken by the one process that downloads/converts
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "NEURAL_DATASETS_HOME"
ENV_OFFLINE = "NEURAL_DATASETS_OFFLINE"
LAYOUTS = ("raw", "compact")
"""Store layouts: ``raw`` (decoded pixels) and ``compact`` (the published JPEG bytes)."""


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache root: ``cache_dir``, else ``$NEURAL_DATASETS_HOME``, else the platform cache.

    Examples
    --------
    >>> cache_root("/tmp/nd").as_posix()
    '/tmp/nd'
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("neural-datasets"))


def offline() -> bool:
    """True when ``NEURAL_DATASETS_OFFLINE`` is set to a true value (1, true, yes)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class DatasetCache:
    """Paths of one dataset's cache folder (see the module docstring)."""

    root: Path
    name: str
    layout: str = "raw"

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
    def store(self) -> Path:
        return self.folder / ("store.zarr" if self.layout == "raw" else f"store-{self.layout}.zarr")

    @property
    def building(self) -> Path:
        return self.store.with_name(self.store.name + ".building")

    def layout_stores(self) -> list[Path]:
        """The published and building stores of every layout."""
        caches = [DatasetCache(self.root, self.name, layout) for layout in LAYOUTS]
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


def dataset_cache(
    name: str, cache_dir: str | os.PathLike[str] | None = None, layout: str = "raw"
) -> DatasetCache:
    """The :class:`DatasetCache` of dataset ``name`` (in ``layout``) under the chosen root."""
    return DatasetCache(cache_root(cache_dir), name, layout)
