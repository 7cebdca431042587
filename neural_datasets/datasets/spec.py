"""What a dataset folder declares: its raw files, pinned checksums and the callables that build it.

Every dataset folder (``datasets/<name>/``) has a ``spec.py`` exposing
``SPECS``, a tuple of :class:`DatasetSpec`, and a ``checksums.tsv`` of pinned
sha256 digests beside it. :mod:`neural_datasets.registry` collects them; no
other module lists datasets. The callables on a spec (``convert``, ``open``,
``preview``) import their dataset's heavy modules only when called, so the
registry stays cheap to import.

Examples
--------
>>> spec = DatasetSpec(name="demo", description="A demo.", citation="-", license="-",
...     base_url="https://example.org/demo", files=(RemoteFile("a.bin"),),
...     convert=lambda *a, **k: {}, open=lambda *a, **k: None, preview=lambda *a: None)
>>> spec.url(spec.files[0])
'https://example.org/demo/a.bin'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class RemoteFile:
    """One raw file of a dataset.

    Parameters
    ----------
    path
        Path relative to the dataset's base URL (``/``-separated).
    sha256
        Pinned hex digest, or ``None`` when the publisher gives none; unpinned
        files are trusted on first use and verified against that record later.
    size
        Size in bytes when known.
    """

    path: str
    sha256: str | None = None
    size: int | None = None


class Converter(Protocol):
    """Writes a dataset's zarr arrays from its verified raw files; returns root attributes."""

    def __call__(
        self, spec: DatasetSpec, raw_files: dict[str, Path], building: Path, *, progress: bool
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry, declared by its dataset folder.

    Parameters
    ----------
    name
        Registry name, e.g. ``"clickme-val"``.
    description, citation, license
        Human-readable facts shown by ``neural-datasets info``.
    base_url
        Default location of the raw files; ``file://`` for bundled samples.
    files
        The raw files, relative to ``base_url``.
    convert
        Writes the zarr store from the verified raw files (a :class:`Converter`).
    open
        ``open(name, **kwargs)``: the dataset object users get for this name
        (``ClickMe``, ``ITRecordings``); keyword arguments as :func:`~neural_datasets.fetch`.
    preview
        ``preview(store, out, n) -> out``: writes a PNG of ``n`` samples.
    split
        For ClickMe, ``"train"``, ``"val"`` or ``"sample"``.
    samples
        Samples the store will hold, when known before fetching.
    store_bytes_per_sample
        Bytes one sample takes in the converted store, for size estimates.
    raw_bytes_per_sample
        Typical download bytes per sample, to estimate the sample count from
        the download size when ``samples`` is not known.
    stored_samples
        ``stored_samples(root attributes) -> int``: the sample count of a
        converted store, read from its attributes.
    layouts
        Converters of store layouts other than ``"raw"`` (which ``convert``
        writes), by layout name, e.g. ``{"compact": ...}``.
    default_layout
        The layout :func:`~neural_datasets.fetch` builds when none is asked for.
    count_records
        ``count_records(raw file) -> int``: the records one verified raw file
        holds, when each raw file converts to that many samples in order (as
        ClickMe's TFRecord shards do). With it, ``fetch(name, records=n)``
        fetches and converts only the leading files that hold the first ``n``
        records; without it, every request fetches every file.
    """

    name: str
    description: str
    citation: str
    license: str
    base_url: str
    files: tuple[RemoteFile, ...]
    convert: Converter | Callable[..., dict[str, Any]]
    open: Callable[..., Any]
    preview: Callable[[Path, Path, int], Path]
    split: str | None = None
    samples: int | None = None
    store_bytes_per_sample: int | None = None
    raw_bytes_per_sample: int | None = None
    stored_samples: Callable[[dict[str, Any]], int] | None = None
    layouts: dict[str, Converter | Callable[..., dict[str, Any]]] = field(
        default_factory=dict, hash=False
    )
    default_layout: str = "raw"
    count_records: Callable[[Path], int] | None = None

    def converter(self, layout: str | None = None) -> Converter | Callable[..., dict[str, Any]]:
        """The converter writing ``layout`` (default: :attr:`default_layout`)."""
        layout = layout or self.default_layout
        if layout == "raw":
            return self.convert
        if layout not in self.layouts:
            from ..errors import InvalidArgumentError

            known = ", ".join(["raw", *self.layouts])
            raise InvalidArgumentError(
                f"{self.name} has no layout {layout!r}; choose one of {known}."
            )
        return self.layouts[layout]

    def url(self, remote: RemoteFile, base_url: str | None = None) -> str:
        """Full URL of ``remote`` under ``base_url`` (default: the entry's own)."""
        return (base_url or self.base_url).rstrip("/") + "/" + remote.path


def apply_pins(specs: tuple[DatasetSpec, ...], checksums: Path) -> tuple[DatasetSpec, ...]:
    """Return ``specs`` with the digests of ``checksums`` (a ``checksums.tsv``) applied.

    Each non-comment line is ``<dataset> <relative path> <sha256> <size in bytes>``,
    whitespace-separated; ``neural-datasets pin NAME`` prints such lines.
    """
    pins: dict[tuple[str, str], RemoteFile] = {}
    for line in checksums.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, path, sha256, size = line.split()
            pins[name, path] = RemoteFile(path, sha256, int(size))
    return tuple(
        replace(spec, files=tuple(pins.get((spec.name, f.path), f) for f in spec.files))
        for spec in specs
    )


def folder_url(folder: Path) -> str:
    """``file://`` URL of a folder shipped inside the package (a bundled sample)."""
    return folder.resolve().as_uri()
