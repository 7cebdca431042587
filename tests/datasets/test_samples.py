"""Tests of the bundled ClickMe sample and of the script that makes it."""

from __future__ import annotations

import importlib
import io
import os
from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np
import pytest

from neural_datasets.datasets.clickme.records import decode_clickme_example
from neural_datasets.formats.tfrecord import index_records, iter_records

SAMPLE_DIR = files("neural_datasets.datasets.clickme") / "sample"
SHARDS = ["clickme-sample-0.tfrecords", "clickme-sample-1.tfrecords"]
SCRIPTS_DIR = Path(__file__).resolve().parents[2] / "scripts"
# Largest |Pillow - tf.io.decode_jpeg| seen on the bundled sample with TensorFlow's
# default (fast integer) DCT; with dct_method="INTEGER_ACCURATE" they are identical.
TF_FAST_DCT_MAX_DIFF = {"image": 8, "heatmap": 1}


@pytest.fixture(scope="module")
def shard_paths():
    with ExitStack() as stack:  # as_file also works when the package is zipped
        yield [stack.enter_context(as_file(SAMPLE_DIR / name)) for name in SHARDS]


@pytest.fixture(scope="module")
def records(shard_paths) -> list[tuple[bytes, bytes, int]]:
    return [decode_clickme_example(r) for path in shard_paths for r in iter_records(path)]


@pytest.fixture
def scripts(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(SCRIPTS_DIR))
    return importlib.import_module("samples_clickme"), importlib.import_module("make_samples")


def test_sample_layout(shard_paths, records) -> None:
    assert sum(path.stat().st_size for path in shard_paths) < 2_000_000
    assert [len(index_records(path)) for path in shard_paths] == [24, 24]
    assert len(records) == 48
    assert "SYNTHETIC" in (SAMPLE_DIR / "README.md").read_text("utf-8")


def test_sample_contents(records) -> None:
    image_module = pytest.importorskip("PIL.Image")
    labels = []
    for image, heatmap, label in records:
        with image_module.open(io.BytesIO(image)) as img:
            assert (img.format, img.mode) == ("JPEG", "RGB")
            pixels = np.asarray(img)
        assert pixels.shape == (256, 256, 3) and pixels.dtype == np.uint8
        with image_module.open(io.BytesIO(heatmap)) as img:
            assert (img.format, img.mode) == ("JPEG", "L")
            heat = np.asarray(img)
        assert heat.shape == (256, 256) and heat.dtype == np.uint8
        assert 0 <= label < 1000
        labels.append(label)
    assert len(set(labels)) > 10  # arbitrary labels, not one constant


def test_tensorflow_decodes_like_pillow(records) -> None:
    image_module = pytest.importorskip("PIL.Image")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = pytest.importorskip("tensorflow")
    worst = {"image": 0, "heatmap": 0}
    for image, heatmap, _ in records:
        for key, data, channels in (("image", image, 3), ("heatmap", heatmap, 1)):
            with image_module.open(io.BytesIO(data)) as img:
                pillow = np.asarray(img).reshape(256, 256, channels)
            accurate = tf.io.decode_jpeg(data, channels, dct_method="INTEGER_ACCURATE").numpy()
            np.testing.assert_array_equal(accurate, pillow)
            fast = tf.io.decode_jpeg(data, channels).numpy().astype(int)
            worst[key] = max(worst[key], int(np.abs(fast - pillow).max()))
    for key, bound in TF_FAST_DCT_MAX_DIFF.items():
        assert worst[key] <= bound


def test_generation_is_deterministic(scripts, tmp_path: Path) -> None:
    samples_clickme, _ = scripts
    first = samples_clickme.write_clickme_shards(tmp_path / "a", 2, 3, seed=5, prefix="s")
    second = samples_clickme.write_clickme_shards(tmp_path / "b", 2, 3, seed=5, prefix="s")
    assert [p.name for p in first] == ["s-0.tfrecords", "s-1.tfrecords"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    other = samples_clickme.write_clickme_shards(tmp_path / "c", 1, 3, seed=6, prefix="s")
    assert other[0].read_bytes() != first[0].read_bytes()
    assert len(list(iter_records(first[1]))) == 3


def test_natural_crops_vary(scripts) -> None:
    samples_clickme, _ = scripts
    crops = list(samples_clickme.natural_crops(12, seed=3))
    assert all(c.shape == (256, 256, 3) and c.dtype == np.uint8 for c in crops)
    assert len({c.tobytes() for c in crops}) == 12
    again = next(samples_clickme.natural_crops(1, seed=3))
    np.testing.assert_array_equal(again, crops[0])
    small = next(samples_clickme.natural_crops(1, seed=3, size=64))
    assert small.shape == (64, 64, 3)


def test_synthetic_heatmap(scripts) -> None:
    samples_clickme, _ = scripts
    image = next(samples_clickme.natural_crops(1, seed=0))
    heat = samples_clickme.synthetic_heatmap(image, np.random.default_rng(1))
    same = samples_clickme.synthetic_heatmap(image, np.random.default_rng(1))
    np.testing.assert_array_equal(heat, same)
    assert heat.shape == (256, 256) and heat.dtype == np.uint8 and heat.max() == 255
    assert np.abs(np.diff(heat.astype(int), axis=1)).max() < 20  # smooth


@pytest.mark.parametrize(
    ("image", "heatmap", "label", "message"),
    [
        ((256, 256), (256, 256), 0, "image must be"),
        ((256, 256, 3), (256, 256, 3), 0, "heatmap must be"),
        ((256, 256, 3), (256, 256), 1000, "label must be"),
        ((256, 256, 3), (256, 256), -1, "label must be"),
    ],
)
def test_clickme_example_validates(scripts, image, heatmap, label, message) -> None:
    samples_clickme, _ = scripts
    with pytest.raises(ValueError, match=message):
        samples_clickme.clickme_example(
            np.zeros(image, np.uint8), np.zeros(heatmap, np.uint8), label
        )


def test_clickme_example_round_trip(scripts) -> None:
    samples_clickme, _ = scripts
    image = next(samples_clickme.natural_crops(1, seed=2))
    heatmap = np.zeros((256, 256, 1), np.uint8)
    jpeg, heat_jpeg, label = decode_clickme_example(
        samples_clickme.clickme_example(image, heatmap, 417)
    )
    assert label == 417 and jpeg[:2] == heat_jpeg[:2] == b"\xff\xd8"


def test_make_samples_cli(scripts, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _, make_samples = scripts
    assert make_samples.main(["clickme", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    written = sorted((tmp_path / "clickme").iterdir())
    assert [p.name for p in written] == SHARDS
    assert len(out) == 2
    for line, path in zip(out, written, strict=True):
        assert make_samples.sha256_of(path) in line and str(path.stat().st_size) in line
