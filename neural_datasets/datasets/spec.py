"""What a dataset declares: everything the core knows about it, in one place.

Every dataset folder (``datasets/<name>/``, or a plug-in package's module)
exposes ``SPECS``, a tuple of :class:`DatasetSpec`, with a ``checksums.tsv``
of pinned sha256 digests beside it. A spec holds the raw files and pins, the
**features** (name, dtype, shape, meaning and value range of each array: the
schema adapters, converters, ``info`` and the conformance kit read), the
store layouts, the Keras-cache names to adopt, the raw files' format, the
converters, preview and opener, and the facts users cite (description,
homepage, licence, BibTeX). :mod:`neural_datasets.registry` collects them;
no module outside a dataset's folder names a dataset. The callables on a spec
(``convert``, ``open``, ``preview``) import their dataset's heavy modules
only when called, so the registry stays cheap to import.

Examples
--------
>>> spec = DatasetSpec(name="demo", description="A demo.", citation="-", license="-",
...     base_url="https://example.org/demo", files=(RemoteFile("a.bin"),),
...     convert=lambda *a, **k: {}, open=lambda *a, **k: None, preview=lambda *a: None)
>>> spec.url(spec.files[0])
'https://example.org/demo/a.bin'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Feature:
    """One array a dataset's samples hold: the schema every layer reads.

    Parameters
    ----------
    name
        The key in a batch (``read_batch``) and the array's name in the store.
    dtype
        NumPy dtype name of the decoded values, e.g. ``"uint8"``.
    shape
        Shape of one sample (``()`` for a scalar); ``None`` for an axis whose
        length varies between datasets of a family.
    meaning
        What the values are, for people (shown by ``info``).
    axes
        ``"HWC"`` or ``"HW"`` for pictures (images, maps), which the adapters
        give a channel axis and lay out per framework; ``""`` otherwise.
    value_range
        Inclusive ``(low, high)`` every value must lie in; converters refuse
        anything outside it (:meth:`check_range`).

    Examples
    --------
    >>> label = Feature("label", "int64", (), "ImageNet class", value_range=(0, 999))
    >>> label.check_range(np.array([3, 999]), "clickme-val")
    >>> label.check_range(np.array([1500]), "clickme-val")
    Traceback (most recent call last):
    ...
    neural_datasets.errors.ConversionError: clickme-val: label 1500 is outside 0..999
    """

    name: str
    dtype: str
    shape: tuple[int | None, ...]
    meaning: str
    axes: str = ""
    value_range: tuple[float, float] | None = None

    @property
    def is_picture(self) -> bool:
        """Whether the feature is an image or map (``axes`` ``"HWC"`` or ``"HW"``)."""
        return self.axes.startswith("HW")

    def check_range(self, values: Any, where: str = "") -> None:
        """Raise :class:`~neural_datasets.errors.ConversionError` if a value is out of range.

        ``where`` (a dataset, a file) starts the message when given.
        """
        if self.value_range is None:
            return
        values = np.asarray(values)
        low, high = self.value_range
        bad = values[(values < low) | (values > high)] if values.size else values
        if bad.size:
            from ..errors import ConversionError

            shown = f"{_number(low)}..{_number(high)}"
            raise ConversionError(
                (f"{where}: " if where else "")
                + f"{self.name} {_number(bad.flat[0])} is outside {shown}"
                + (f" ({bad.size} values)" if bad.size > 1 else "")
            )

    def as_dict(self) -> dict[str, Any]:
        """The feature as plain JSON-able values."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "meaning": self.meaning,
            "axes": self.axes,
            "value_range": None if self.value_range is None else list(self.value_range),
        }


def _number(value: Any) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else str(value)


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
    homepage
        Where the dataset is described (a paper or project page).
    bibtex
        The BibTeX entries to cite (``neural-datasets cite NAME``).
    family
        The format family, whose class serves every spec of it (``"clickme"``:
        :class:`~neural_datasets.ClickMe`; ``"spatial-it"``:
        :class:`~neural_datasets.ITRecordings`); ``None`` for a dataset of its own.
    features
        The arrays of one sample (:class:`Feature`), in batch order.
    keras_names
        ``(pattern, template)`` pairs: a raw file whose relative path matches
        ``pattern`` (a regular expression, in full) may already sit in the Keras
        cache at ``template.format(**groups)``, where the lab's loaders keep it.
    family_options
        Parameters of the family's converter and class for this dataset
        (for ``"spatial-it"``: its archive, top folder and animals); each
        family documents its keys.
    file_format
        The raw files' format, checked before a first download is trusted
        (``"TFRecord"``, ``"zip"``; see :mod:`neural_datasets.formats.validate`);
        ``None``: taken from each file's name or first bytes.
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
    homepage: str = ""
    bibtex: str = ""
    family: str | None = None
    features: tuple[Feature, ...] = ()
    keras_names: tuple[tuple[str, str], ...] = ()
    file_format: str | None = None
    family_options: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def layout_names(self) -> tuple[str, ...]:
        """Every store layout the dataset has: ``"raw"``, then :attr:`layouts`' names."""
        return ("raw", *self.layouts)

    def check_layout(self, layout: str | None = None) -> str:
        """``layout`` (default: :attr:`default_layout`) if the dataset has it; else a clear error.

        Examples
        --------
        >>> from neural_datasets.registry import get_spec
        >>> get_spec("arcaro2020-sample").check_layout("compact")
        Traceback (most recent call last):
        ...
        neural_datasets.errors.InvalidArgumentError: arcaro2020-sample has no layout 'compact'; ...
        """
        layout = layout or self.default_layout
        if layout not in self.layout_names:
            from ..errors import InvalidArgumentError

            known = ", ".join(self.layout_names)
            raise InvalidArgumentError(
                f"{self.name} has no layout {layout!r}; choose one of {known}."
            )
        return layout

    def converter(self, layout: str | None = None) -> Converter | Callable[..., dict[str, Any]]:
        """The converter writing ``layout`` (default: :attr:`default_layout`)."""
        layout = self.check_layout(layout)
        return self.convert if layout == "raw" else self.layouts[layout]

    def feature(self, name: str) -> Feature:
        """The declared :class:`Feature` called ``name``."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(f"{self.name} declares no feature {name!r}")

    def keras_name(self, remote: RemoteFile) -> str | None:
        """Where the Keras cache keeps ``remote`` (relative to the Keras home), if anywhere."""
        for pattern, template in self.keras_names:
            match = re.fullmatch(pattern, remote.path)
            if match:
                return template.format(**match.groupdict())
        return None

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
