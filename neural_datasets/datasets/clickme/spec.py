"""ClickMe's registry entries: the train and val splits and the bundled sample.

Examples
--------
>>> [spec.name for spec in SPECS]
['clickme-train', 'clickme-val', 'clickme-sample']
>>> len(SPECS[1].files), SPECS[1].files[0].path
(18, 'val/val-0.tfrecords')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..spec import DatasetSpec, Feature, RemoteFile, apply_pins, folder_url

BASE_URL = "https://storage.googleapis.com/serrelab/prj_harmonization/dataset/click-me"
HERE = Path(__file__).parent
SAMPLE_FOLDER = HERE / "sample"

CITATION = (
    "Fel, T., Felipe, I., Linsley, D., & Serre, T. (2022). Harmonizing the object recognition "
    "strategies of deep neural networks with humans. NeurIPS 2022. "
    "Linsley, D., Shiebler, D., Eberhardt, S., & Serre, T. (2019). Learning what and where to "
    "attend. ICLR 2019."
)
HOMEPAGE = "https://serre-lab.github.io/Harmonization/"
BIBTEX = """\
@inproceedings{fel2022harmonizing,
  title     = {Harmonizing the object recognition strategies of deep neural networks with humans},
  author    = {Fel, Thomas and Felipe, Ivan and Linsley, Drew and Serre, Thomas},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year      = {2022}
}

@inproceedings{linsley2019learning,
  title     = {Learning what and where to attend},
  author    = {Linsley, Drew and Shiebler, Dan and Eberhardt, Sven and Serre, Thomas},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2019}
}
"""
LICENSE = (
    "Images are from ImageNet (ILSVRC 2012) and subject to the ImageNet terms of access "
    "(non-commercial research and educational use); ClickMe heatmaps are released by the Serre "
    "lab for research use."
)
SAMPLE_LICENSE = (
    "Bundled with neural-datasets: photographs are public domain / CC0 (see the sample's "
    "README.md); heatmaps and labels are SYNTHETIC."
)

# Bytes one sample takes in the store: image 256x256x3 and heatmap 256x256 uint8, label int64,
# source_shard and source_record int32, a crc32c per image and heatmap chunk, and the 16-byte
# shard-index entries of both. Metadata adds a few KB per store.
STORE_BYTES_PER_SAMPLE = 256 * 256 * 3 + 256 * 256 + 8 + 4 + 4 + 2 * 4 + 2 * 16
# The compact layout keeps the published JPEG bytes (~RAW_BYTES_PER_SAMPLE) plus per-item offsets
# and crc32c and the small columns: 1.14x the download on the benchmark data (BENCHMARKS.md).
COMPACT_BYTES_PER_SAMPLE = 32_000
# Typical TFRecord bytes per ClickMe sample (JPEG image + PNG heatmap + label); only used to
# estimate, marked "~", a split's sample count from its download size before it is fetched.
RAW_BYTES_PER_SAMPLE = 28_000


NUM_CLASSES = 1000
FEATURES = (
    Feature("image", "uint8", (256, 256, 3), "ImageNet photograph, RGB", axes="HWC"),
    Feature(
        "heatmap",
        "uint8",
        (256, 256),
        "human feature-importance map from ClickMe clicks (higher: more important)",
        axes="HW",
    ),
    Feature("label", "int64", (), "ImageNet-1k class number", value_range=(0, NUM_CLASSES - 1)),
)
"""What one ClickMe sample holds (``read_batch`` keys, in order)."""

# Harmonization's loaders call tf.keras.utils.get_file(f"clickme_{split}_{i}",
# cache_subdir="datasets/click-me"): the same shards, without an extension.
KERAS_NAMES = (
    (
        r"(?P<split>train|val)/(?P=split)-(?P<i>\d+)\.tfrecords",
        "datasets/click-me/clickme_{split}_{i}",
    ),
)


def stored_samples(attributes: dict[str, Any]) -> int:
    """Samples in a converted ClickMe store, from its root attributes."""
    return int(attributes["clickme"]["num_samples"])


def count_records(path: Path) -> int:
    """Records in one TFRecord shard, from its framing (each record is one sample, in order)."""
    from ...formats.tfrecord import index_records

    return len(index_records(path))


def convert(
    spec: DatasetSpec, raw_files: dict[str, Path], building: Path, *, progress: bool
) -> dict[str, Any]:
    """Convert the split's TFRecord shards (see :func:`.convert.convert`)."""
    from .convert import convert as convert_shards

    return convert_shards(spec, raw_files, building, progress=progress)


def convert_compact(
    spec: DatasetSpec, raw_files: dict[str, Path], building: Path, *, progress: bool
) -> dict[str, Any]:
    """Copy the JPEG bytes into the compact layout (see :func:`.compact.convert_compact`)."""
    from .compact import convert_compact as copy_shards

    return copy_shards(spec, raw_files, building, progress=progress)


LAYOUTS = {"compact": convert_compact}


def open_split(name: str, **kwargs: Any) -> Any:
    """The :class:`~.dataset.ClickMe` of the ClickMe-format dataset registered as ``name``."""
    from .dataset import ClickMe

    return ClickMe(name, **kwargs)


def preview(store: Path, out: Path, n: int) -> Path:
    """Images beside their heatmap overlays (see :func:`.preview.render`)."""
    from .preview import render

    return render(store, out, n)


def _clickme_spec(name: str, split: str, default_layout: str = "raw", **facts: Any) -> DatasetSpec:
    """An entry with what every ClickMe entry shares (converters, opener, preview, sizes)."""
    compact = default_layout == "compact"
    store_bytes = COMPACT_BYTES_PER_SAMPLE if compact else STORE_BYTES_PER_SAMPLE
    return DatasetSpec(
        name=name,
        citation=CITATION,
        convert=convert,
        open=open_split,
        preview=preview,
        split=split,
        store_bytes_per_sample=store_bytes,
        raw_bytes_per_sample=RAW_BYTES_PER_SAMPLE,
        stored_samples=stored_samples,
        layouts=LAYOUTS,
        default_layout=default_layout,
        count_records=count_records,
        homepage=HOMEPAGE,
        bibtex=BIBTEX,
        family="clickme",
        features=FEATURES,
        keras_names=KERAS_NAMES,
        file_format="TFRecord",
        **facts,
    )


def shard_spec(
    name: str, base_url: str, files: list[str], *, split: str = "custom", description: str = ""
) -> DatasetSpec:
    """An unpinned ClickMe entry over any ClickMe-format TFRecord ``files`` under ``base_url``.

    For shards that are not in the registry: a lab's own collection, a
    benchmark's, a test's. Publish it in a plug-in package's ``SPECS`` (see
    docs/adding-a-dataset.md) to fetch and open it by name; ``ClickMe`` serves
    it like ours (its ``family`` is ``"clickme"``).

    Examples
    --------
    >>> spec = shard_spec("my-clickme", "file:///data/shards", ["a.tfrecords"])
    >>> spec.url(spec.files[0])
    'file:///data/shards/a.tfrecords'
    """
    return _clickme_spec(
        name,
        split,
        description=description or f"ClickMe-format shards at {base_url}",
        license="As the shards' own licence.",
        base_url=base_url,
        files=tuple(RemoteFile(f) for f in files),
    )


def _split(split: str, count: int, default_layout: str) -> DatasetSpec:
    return _clickme_spec(
        f"clickme-{split}",
        split,
        default_layout,
        description=(
            f"ClickMe {split} split: ImageNet images (256x256x3) with human feature-importance "
            f"heatmaps (256x256) and ImageNet labels, from {count} TFRecord shards "
            f"({split}-0 .. {split}-{count - 1})."
        ),
        license=LICENSE,
        base_url=BASE_URL,
        files=tuple(RemoteFile(f"{split}/{split}-{i}.tfrecords") for i in range(count)),
    )


SPECS = apply_pins(
    (
        # Harmonization's loaders read train 0-317 and val 0-16; its tests read train-318 and
        # val-17 from the same bucket, so the published splits hold 319 and 18 shards.
        # Default layouts (BENCHMARKS.md, "Store layouts"): the raw train split would be
        # ~12x its download (tens of GB); compact keeps it at ~1.1x and decodes at
        # ~4,000 samples/s per core. val is small and read often: raw reads fastest.
        _split("train", 319, default_layout="compact"),
        _split("val", 18, default_layout="raw"),
        _clickme_spec(
            "clickme-sample",
            "sample",
            description=(
                "Bundled ClickMe-format sample: 48 records in 2 TFRecord shards built from "
                "public-domain photographs with SYNTHETIC heatmaps and labels. For tests, "
                "demos and offline use."
            ),
            license=SAMPLE_LICENSE,
            base_url=folder_url(SAMPLE_FOLDER),
            files=(
                RemoteFile("clickme-sample-0.tfrecords"),
                RemoteFile("clickme-sample-1.tfrecords"),
            ),
            samples=48,
        ),
    ),
    HERE / "checksums.tsv",
)
