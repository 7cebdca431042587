"""Arcaro 2020 IT recordings' registry entries: the archive and the bundled sample.

Examples
--------
>>> [spec.name for spec in SPECS]
['arcaro2020', 'arcaro2020-sample']
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..spec import DatasetSpec, Feature, RemoteFile, apply_pins, folder_url

BASE_URL = "https://storage.googleapis.com/serrelab-public/neural_recordings"
ARCHIVE = "Arcaro2020.zip"
SAMPLE_NAME = "arcaro2020-sample"
HERE = Path(__file__).parent
SAMPLE_FOLDER = HERE / "sample"

CITATION = (
    "Arcaro, M. J., Ponce, C., & Livingstone, M. (2020). The neurons that mistook a hat for a "
    "face. eLife, 9, e53798. Used in: Linsley, D., Fel, T., et al. (2023). Performance-optimized "
    "deep neural networks are evolving into worse models of inferotemporal visual cortex. "
    "NeurIPS 2023."
)
HOMEPAGE = "https://github.com/serre-lab/neural_harmonizer"
BIBTEX = """\
@article{arcaro2020neurons,
  title   = {The neurons that mistook a hat for a face},
  author  = {Arcaro, Michael J. and Ponce, Carlos and Livingstone, Margaret},
  journal = {eLife},
  volume  = {9},
  pages   = {e53798},
  year    = {2020}
}

@inproceedings{linsley2023performance,
  title     = {Performance-optimized deep neural networks are evolving into worse models of
               inferotemporal visual cortex},
  author    = {Linsley, Drew and Rodriguez, Ivan F. and Fel, Thomas and Arcaro, Michael and
               Sharma, Saloni and Livingstone, Margaret and Serre, Thomas},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year      = {2023}
}
"""
FAMILY = "spatial-it"
"""The format family :class:`~.dataset.ITRecordings` serves."""
FEATURES = (
    Feature("stimulus", "uint8", (None, None, 3), "stimulus image, RGB", axes="HWC"),
    Feature(
        "response",
        "float32",
        (None, None, None),
        "IT response per grid position (x, y) and channel, averaged over a time window; "
        "(x, y, time, channel) when no window is given",
    ),
)
"""What one IT (stimulus, response) pair holds (:class:`~.pairs.ITPairSource`)."""
# neural_harmonizer keeps the archive where tf.keras.utils.get_file leaves it.
KERAS_NAMES = ((re.escape(ARCHIVE), f"datasets/{ARCHIVE}"),)
LICENSE = (
    "Released by the Serre lab with the neural-harmonizer paper for research use; cite "
    "Arcaro et al. (2020)."
)
SAMPLE_LICENSE = (
    "Bundled with neural-datasets: photographs are public domain / CC0 (see the sample's "
    "README.md); responses are SYNTHETIC."
)


def stored_samples(attributes: dict[str, Any]) -> int:
    """Stimuli of both monkeys in a converted IT store, from its root attributes."""
    return sum(int(m["n_images"]) for m in attributes["it"]["monkeys"].values())


def convert(
    spec: DatasetSpec, raw_files: dict[str, Path], building: Path, *, progress: bool
) -> dict[str, Any]:
    """Convert the archive (see :func:`.convert.convert`)."""
    from .convert import convert as convert_archive

    return convert_archive(spec, raw_files, building, progress=progress)


def open_recordings(name: str, **kwargs: Any) -> Any:
    """The :class:`~.dataset.ITRecordings` registered as ``name``."""
    from .dataset import ITRecordings

    return ITRecordings(name, **kwargs)


def preview(store: Path, out: Path, n: int) -> Path:
    """Stimuli beside their response maps (see :func:`.preview.render`)."""
    from .preview import render

    return render(store, out, n)


SPECS = apply_pins(
    (
        DatasetSpec(
            name="arcaro2020",
            description=(
                "Spatially resolved macaque inferotemporal (IT) responses to natural images "
                "(monkeys George: posterior and central IT, 17x17 grid; Red: central IT, 9x9 "
                "grid), with the stimuli."
            ),
            citation=CITATION,
            license=LICENSE,
            base_url=BASE_URL,
            files=(RemoteFile(ARCHIVE),),
            convert=convert,
            open=open_recordings,
            preview=preview,
            stored_samples=stored_samples,
            homepage=HOMEPAGE,
            bibtex=BIBTEX,
            family=FAMILY,
            features=FEATURES,
            keras_names=KERAS_NAMES,
            file_format="zip",
        ),
        DatasetSpec(
            name=SAMPLE_NAME,
            description=(
                "Bundled sample of the Arcaro 2020 archive layout: both monkeys, a few "
                "public-domain stimuli, a short time axis and SYNTHETIC responses."
            ),
            citation=CITATION,
            license=SAMPLE_LICENSE,
            base_url=folder_url(SAMPLE_FOLDER),
            files=(RemoteFile(ARCHIVE),),
            convert=convert,
            open=open_recordings,
            preview=preview,
            stored_samples=stored_samples,
            homepage=HOMEPAGE,
            bibtex=BIBTEX,
            family=FAMILY,
            features=FEATURES,
            keras_names=KERAS_NAMES,
            file_format="zip",
            samples=8,  # 4 stimuli per monkey
            # As measured on this sample (responses compress with blosc-lz4, so this holds for
            # this sample only); used for the "~" estimate before it is fetched.
            store_bytes_per_sample=182_000,
        ),
    ),
    HERE / "checksums.tsv",
)
