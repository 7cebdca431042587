"""The registry: every dataset neural-datasets knows, by name.

An entry says where the raw files live (a base URL and relative paths, so a
mirror with the same layout can stand in via ``base_url``), what is known of
their checksums, and which converter turns them into a zarr v3 store.

Examples
--------
>>> from neural_datasets.registry import get_spec, available
>>> "clickme-val" in available()
True
>>> len(get_spec("clickme-val").files)
18
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from .errors import UnknownDatasetError

CLICKME_URL = "https://storage.googleapis.com/serrelab/prj_harmonization/dataset/click-me"
ARCARO_URL = "https://storage.googleapis.com/serrelab-public/neural_recordings"

CLICKME_CITATION = (
    "Fel, T., Felipe, I., Linsley, D., & Serre, T. (2022). Harmonizing the object recognition "
    "strategies of deep neural networks with humans. NeurIPS 2022. "
    "Linsley, D., Shiebler, D., Eberhardt, S., & Serre, T. (2019). Learning what and where to "
    "attend. ICLR 2019."
)
ARCARO_CITATION = (
    "Arcaro, M. J., Ponce, C., & Livingstone, M. (2020). The neurons that mistook a hat for a "
    "face. eLife, 9, e53798. Used in: Linsley, D., Fel, T., et al. (2023). Performance-optimized "
    "deep neural networks are evolving into worse models of inferotemporal visual cortex. "
    "NeurIPS 2023."
)
CLICKME_LICENSE = (
    "Images are from ImageNet (ILSVRC 2012) and subject to the ImageNet terms of access "
    "(non-commercial research and educational use); ClickMe heatmaps are released by the Serre "
    "lab for research use."
)
ARCARO_LICENSE = (
    "Released by the Serre lab with the neural-harmonizer paper for research use; cite "
    "Arcaro et al. (2020)."
)
SAMPLE_LICENSE = (
    "Bundled with neural-datasets: photographs are public domain / CC0 (see the sample's "
    "README.md); heatmaps, labels and responses are SYNTHETIC."
)


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


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry.

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
    converter
        ``"module:function"`` that writes the zarr store from the raw files,
        imported only when a conversion runs.
    kind
        ``"clickme"`` or ``"it"``: which reader class opens the store.
    split
        For ClickMe, ``"train"``, ``"val"`` or ``"sample"``.
    """

    name: str
    description: str
    citation: str
    license: str
    base_url: str
    files: tuple[RemoteFile, ...]
    converter: str
    kind: str
    split: str | None = None

    @property
    def bundled(self) -> bool:
        """True when the raw files ship inside the package."""
        return self.base_url.startswith("file://") and self.base_url.startswith(_samples_url(""))

    def url(self, remote: RemoteFile, base_url: str | None = None) -> str:
        """Full URL of ``remote`` under ``base_url`` (default: the entry's own)."""
        return (base_url or self.base_url).rstrip("/") + "/" + remote.path


def _samples_dir() -> Path:
    return Path(str(resources.files("neural_datasets") / "samples"))


def _samples_url(name: str) -> str:
    return _samples_dir().as_uri() + "/" + name


def _clickme(split: str, count: int) -> DatasetSpec:
    return DatasetSpec(
        name=f"clickme-{split}",
        description=(
            f"ClickMe {split} split: ImageNet images (256x256x3) with human feature-importance "
            f"heatmaps (256x256) and ImageNet labels, from {count} TFRecord shards "
            f"({split}-0 .. {split}-{count - 1})."
        ),
        citation=CLICKME_CITATION,
        license=CLICKME_LICENSE,
        base_url=CLICKME_URL,
        files=tuple(RemoteFile(f"{split}/{split}-{i}.tfrecords") for i in range(count)),
        converter="neural_datasets.processors.clickme:convert",
        kind="clickme",
        split=split,
    )


_CLICKME_SAMPLE_FILES = (
    RemoteFile("clickme-sample-0.tfrecords"),
    RemoteFile("clickme-sample-1.tfrecords"),
)
_ARCARO_SAMPLE_FILES = (RemoteFile("Arcaro2020.zip"),)

_UNPINNED: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        # Harmonization's loaders read train 0-317 and val 0-16; its tests read train-318 and
        # val-17 from the same bucket, so the published splits hold 319 and 18 shards.
        _clickme("train", 319),
        _clickme("val", 18),
        DatasetSpec(
            name="clickme-sample",
            description=(
                "Bundled ClickMe-format sample: 48 records in 2 TFRecord shards built from "
                "public-domain photographs with SYNTHETIC heatmaps and labels. For tests, "
                "demos and offline use."
            ),
            citation=CLICKME_CITATION,
            license=SAMPLE_LICENSE,
            base_url=_samples_url("clickme-sample"),
            files=_CLICKME_SAMPLE_FILES,
            converter="neural_datasets.processors.clickme:convert",
            kind="clickme",
            split="sample",
        ),
        DatasetSpec(
            name="arcaro2020",
            description=(
                "Spatially resolved macaque inferotemporal (IT) responses to natural images "
                "(monkeys George: posterior and central IT, 17x17 grid; Red: central IT, 9x9 "
                "grid), with the stimuli."
            ),
            citation=ARCARO_CITATION,
            license=ARCARO_LICENSE,
            base_url=ARCARO_URL,
            files=(RemoteFile("Arcaro2020.zip"),),
            converter="neural_datasets.processors.arcaro:convert",
            kind="it",
        ),
        DatasetSpec(
            name="arcaro2020-sample",
            description=(
                "Bundled sample of the Arcaro 2020 archive layout: both monkeys, a few "
                "public-domain stimuli, a short time axis and SYNTHETIC responses."
            ),
            citation=ARCARO_CITATION,
            license=SAMPLE_LICENSE,
            base_url=_samples_url("arcaro2020-sample"),
            files=_ARCARO_SAMPLE_FILES,
            converter="neural_datasets.processors.arcaro:convert",
            kind="it",
        ),
    )
}


def _load_pins() -> dict[str, DatasetSpec]:
    """Apply ``data/checksums.txt`` (``<dataset> <path> <sha256> <size>`` lines) to the entries."""
    text = (resources.files("neural_datasets") / "data" / "checksums.txt").read_text()
    pins: dict[tuple[str, str], RemoteFile] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            name, path, sha256, size = line.split()
            pins[name, path] = RemoteFile(path, sha256, int(size))
    return {
        name: replace(spec, files=tuple(pins.get((name, f.path), f) for f in spec.files))
        for name, spec in _UNPINNED.items()
    }


REGISTRY: dict[str, DatasetSpec] = _load_pins()


def available() -> list[str]:
    """Names of every registered dataset, sorted.

    Examples
    --------
    >>> available()[:2]
    ['arcaro2020', 'arcaro2020-sample']
    """
    return sorted(REGISTRY)


def get_spec(name: str) -> DatasetSpec:
    """The registry entry called ``name``.

    Raises
    ------
    UnknownDatasetError
        When ``name`` is not registered; the message suggests close matches.

    Examples
    --------
    >>> get_spec("clickme-sample").kind
    'clickme'
    """
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}.{hint} Known datasets: {', '.join(available())}."
        ) from None
