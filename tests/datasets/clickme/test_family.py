"""ClickMe serves any ClickMe-format spec: other image sizes, heatmap resolutions, class lists."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import neural_datasets as nd
from neural_datasets import registry
from neural_datasets.datasets.clickme.records import decode_clickme_example
from neural_datasets.datasets.clickme.spec import SAMPLE_FOLDER, shard_spec
from neural_datasets.datasets.spec import Feature
from neural_datasets.errors import ConversionError
from neural_datasets.formats.tfrecord import encode_example, iter_records, write_records

SIZE = 96  # images and heatmaps of this family member: 96x96, ten classes


def _shrunk(jpeg: bytes) -> tuple[bytes, np.ndarray]:
    with Image.open(io.BytesIO(jpeg)) as image:
        small = image.resize((SIZE, SIZE))
        out = io.BytesIO()
        small.save(out, format="JPEG", quality=95)
    return out.getvalue(), np.asarray(small)


@pytest.fixture
def small_clickme(tmp_path: Path) -> Iterator[str]:
    source = sorted(SAMPLE_FOLDER.glob("*.tfrecords"))[0]
    records = []
    for number, record in enumerate(list(iter_records(source))[:6]):
        image, heatmap, _ = decode_clickme_example(record)
        features = {"image": _shrunk(image)[0], "heatmap": _shrunk(heatmap)[0], "label": number}
        records.append(encode_example(features))
    write_records(tmp_path / "small-0.tfrecords", records)
    spec = shard_spec("small-clickme", tmp_path.as_uri(), ["small-0.tfrecords"], split="small")
    spec = replace(
        spec,
        samples=6,
        features=(
            Feature("image", "uint8", (SIZE, SIZE, 3), "photograph, RGB", axes="HWC"),
            Feature("heatmap", "uint8", (SIZE, SIZE), "importance map", axes="HW"),
            Feature("label", "int64", (), "class of ten", value_range=(0, 4)),
        ),
    )
    registry.REGISTRY[spec.name] = spec
    yield spec.name
    del registry.REGISTRY[spec.name]


@pytest.mark.filterwarnings("ignore::UserWarning")  # unpinned files, trusted on first use
def test_other_sizes_and_a_class_list_in_both_layouts(small_clickme: str, tmp_path: Path) -> None:
    for layout in ("raw", "compact"):
        with pytest.raises(ConversionError, match="label 5 is outside 0..4"):
            nd.ClickMe(small_clickme, cache_dir=tmp_path / "c", layout=layout, progress=False)
    five = replace(
        registry.REGISTRY[small_clickme],
        features=(
            *registry.REGISTRY[small_clickme].features[:2],
            Feature("label", "int64", (), "class of ten", value_range=(0, 9)),
        ),
    )
    registry.REGISTRY[small_clickme] = five
    raw = nd.ClickMe(small_clickme, cache_dir=tmp_path / "c", progress=False)
    compact = nd.ClickMe(small_clickme, cache_dir=tmp_path / "c", layout="compact", progress=False)
    a, b = raw.read_batch([0, 5]), compact.read_batch([0, 5])
    assert a["image"].shape == (2, SIZE, SIZE, 3) and a["heatmap"].shape == (2, SIZE, SIZE)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert a["label"].tolist() == [0, 5]
