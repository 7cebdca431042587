"""``neural_datasets.compat.harmonization`` against an independent statement of the original.

``upstream_load_clickme`` restates Harmonization's ``load_clickme`` pipeline
(serre-lab/Harmonization, ``harmonization/common/clickme_dataset.py`` and
``blur.py``) with TensorFlow ops on the TFRecord files themselves: parse,
``decode_jpeg``, bilinear resizes, the Gaussian blur as a 'SAME' ``conv2d``,
``one_hot``, ``TFRecordDataset(num_parallel_reads=AUTOTUNE)``, ``batch(...,
drop_remainder=True)``. It shares no code with the package. ``upstream_evaluate``
restates ``evaluate_clickme`` and its metrics (spearman, dice, IoU, alignment).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.shardgen import sample_examples

from neural_datasets.compat import harmonization as hz
from neural_datasets.datasets.clickme.reading_order import _interleave
from neural_datasets.errors import InvalidArgumentError
from neural_datasets.formats.tfrecord import encode_example, write_records

tf = pytest.importorskip("tensorflow")
scipy_stats = pytest.importorskip("scipy.stats")

TOLERANCE = 0.255  # 0.1% of the 0..255 range
HUMAN_SPEARMAN_CEILING = 0.65753  # the original's constant


# ---------------------------------------------------------------- the original, restated


def upstream_kernel() -> np.ndarray:
    """10x10, sigma 10: x offsets -5..4 along columns, y offsets 4..-5 along rows."""
    x = np.arange(-5, 5)
    y = np.arange(4, -6, -1)
    xs, ys = np.meshgrid(x, y)
    k = np.exp(-(xs**2 + ys**2) / (2 * 10.0**2)) / (2 * np.pi * 10.0**2)
    return (k / k.sum()).astype(np.float32)[:, :, None, None]


KERNEL = upstream_kernel()
FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "heatmap": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "label": tf.io.FixedLenFeature([], tf.int64, default_value=0),
}


def upstream_parse(proto):
    data = tf.io.parse_single_example(proto, FEATURES)
    image = tf.cast(tf.reshape(tf.io.decode_jpeg(data["image"]), (256, 256, 3)), tf.float32)
    image = tf.image.resize(image, (224, 224), method="bilinear")
    heat = tf.cast(tf.reshape(tf.io.decode_jpeg(data["heatmap"]), (256, 256, 1)), tf.float32)
    heat = tf.image.resize(heat, (64, 64), method="bilinear")
    heat = tf.nn.conv2d(heat[None], KERNEL, strides=[1, 1, 1, 1], padding="SAME")[0]
    heat = tf.image.resize(heat, (224, 224), method="bilinear")
    label = tf.one_hot(tf.cast(data["label"], tf.int32), 1000)
    return image, heat, label


def upstream_load_clickme(paths, batch_size, num_parallel_reads=tf.data.AUTOTUNE):
    options = tf.data.Options()
    options.deterministic = True
    ds = tf.data.TFRecordDataset(paths, num_parallel_reads=num_parallel_reads)
    ds = ds.with_options(options).map(upstream_parse, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def saliency_model():
    """The original test's model (10x10 max-pool, flatten, dense 1000) with fixed weights."""
    rng = np.random.default_rng(0)
    weights = tf.constant(rng.normal(0, 0.01, (22 * 22 * 3, 1000)).astype(np.float32))

    def model(images):
        pooled = tf.nn.max_pool2d(images, 10, 10, "VALID")
        return tf.reshape(pooled, (-1, 22 * 22 * 3)) @ weights

    def explainer(images, labels):
        """Saliency: |d(score of the label)/d(pixel)|, max over colour channels."""
        images = tf.convert_to_tensor(images)
        with tf.GradientTape() as tape:
            tape.watch(images)
            score = tf.reduce_sum(model(images) * labels, axis=-1)
        return tf.reduce_max(tf.abs(tape.gradient(score, images)), axis=-1)

    return explainer


def binarize(h):
    return (h > np.percentile(h, 90, (0, 1))).astype(np.float32)


def upstream_evaluate(explainer, dataset):
    metrics = {"spearman": [], "dice": [], "iou": []}
    for images, heatmaps, labels in dataset:
        sal = explainer(images, labels).numpy()
        heat = tf.reduce_mean(heatmaps, -1).numpy()
        for a, b in zip(sal, heat):
            metrics["spearman"].append(scipy_stats.spearmanr(a.ravel(), b.ravel())[0])
            ba, bb = binarize(a), binarize(b)
            metrics["dice"].append(2 * np.sum(ba * bb) / (np.sum(ba + bb) + 1e-9))
            inter, union = np.logical_and(ba, bb).sum(), np.logical_or(ba, bb).sum()
            metrics["iou"].append(inter / (union + 1e-9))
    metrics["alignment_score"] = np.mean(metrics["spearman"]) / HUMAN_SPEARMAN_CEILING
    return metrics


# ---------------------------------------------------------------- fixtures


def write_uneven_shards(
    folder: Path, counts: list[int], *, prefix: str = "part", step: int = 10
) -> list[str]:
    """Shards with ``counts[i]`` records each; record r of shard i has label step*i + r."""
    folder.mkdir(parents=True, exist_ok=True)
    examples = sample_examples()
    paths = []
    for shard, count in enumerate(counts):
        path = folder / f"{prefix}-{shard}.tfrecords"
        records = (
            encode_example(
                {
                    "image": examples[(shard * 7 + r) % 48][0],
                    "heatmap": examples[(shard * 7 + r) % 48][1],
                    "label": step * shard + r,
                }
            )
            for r in range(count)
        )
        write_records(path, records)
        paths.append(str(path))
    return paths


def batches(dataset) -> list[tuple[np.ndarray, ...]]:
    return [tuple(np.asarray(t) for t in element) for element in dataset]


def labels_of(dataset) -> list[int]:
    return [int(i) for *_, onehot in batches(dataset) for i in onehot.argmax(-1)]


def assert_same_elements(ours, reference) -> None:
    assert len(ours) == len(reference) > 0
    for (x, h, y), (rx, rh, ry) in zip(ours, reference):
        assert x.shape == rx.shape and h.shape == rh.shape and y.shape == ry.shape
        assert x.dtype == h.dtype == y.dtype == np.float32
        assert np.abs(x - rx).max() <= TOLERANCE
        assert np.abs(h - rh).max() <= TOLERANCE
        np.testing.assert_array_equal(y, ry)


@pytest.fixture(scope="module")
def sample_reference():
    return batches(upstream_load_clickme(hz.sample_shards(), 10))


# ---------------------------------------------------------------- values


def test_load_clickme_equals_the_original_on_the_sample(cache_dir: Path, sample_reference):
    ours = batches(hz.load_clickme(hz.sample_shards(), 10, cache_dir=cache_dir, progress=False))
    assert len(ours) == 4  # 48 records, the last 8 dropped
    assert_same_elements(ours, sample_reference)
    images, heatmaps, _ = ours[0]
    assert images.min() >= 0 and images.max() <= 255 and heatmaps.min() >= 0
    assert heatmaps.max() > 10  # real maps, not zeros


def test_element_spec_is_the_originals(cache_dir: Path) -> None:
    ours = hz.load_clickme(hz.sample_shards(), 12, cache_dir=cache_dir, progress=False)
    reference = upstream_load_clickme(hz.sample_shards(), 12)
    assert ours.element_spec == reference.element_spec


@pytest.mark.parametrize("counts", [[5, 1, 9, 2, 7], [3, 11, 1]])
@pytest.mark.parametrize("cycle_length", [1, 2, 3, 4])
def test_reading_order_is_tensorflows_interleave(tmp_path, cache_dir, counts, cycle_length):
    paths = write_uneven_shards(tmp_path / "shards", counts)
    reference = upstream_load_clickme(paths, 1, num_parallel_reads=cycle_length)
    ours = hz.load_clickme(paths, 1, cache_dir=cache_dir, progress=False, cycle_length=cycle_length)
    assert labels_of(ours) == labels_of(reference)


def test_default_order_is_the_originals_on_this_machine(tmp_path, cache_dir) -> None:
    paths = write_uneven_shards(tmp_path / "shards", [4, 6, 3, 5, 2, 4, 1])
    reference = batches(upstream_load_clickme(paths, 4))
    ours = batches(hz.load_clickme(paths, 4, cache_dir=cache_dir, progress=False))
    assert_same_elements(ours, reference)


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 6), min_size=1, max_size=7),
    cycle_length=st.integers(1, 8),
)
def test_interleave_matches_tf_data(counts: list[int], cycle_length: int) -> None:
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    files = [np.arange(starts[i], starts[i + 1]) for i in range(len(counts))]
    ranges = tf.data.Dataset.from_tensor_slices((starts[:-1], starts[1:]))
    reference = ranges.interleave(
        lambda a, b: tf.data.Dataset.range(a, b), cycle_length=cycle_length, block_length=1
    )
    expected = [int(v) for v in reference]
    assert _interleave(files, cycle_length).tolist() == expected


def test_evaluate_clickme_scores_match(cache_dir: Path, sample_reference) -> None:
    explainer = saliency_model()
    ours = upstream_evaluate(
        explainer, hz.load_clickme(hz.sample_shards(), 10, cache_dir=cache_dir, progress=False)
    )
    reference = upstream_evaluate(explainer, upstream_load_clickme(hz.sample_shards(), 10))
    for key in ("spearman", "dice", "iou"):
        assert len(ours[key]) == len(reference[key]) == 40
        assert not np.isnan(ours[key]).any()
        assert abs(np.mean(ours[key]) - np.mean(reference[key])) <= 1e-3
    assert abs(ours["alignment_score"] - reference["alignment_score"]) <= 1e-3
    assert min(ours["spearman"]) >= -1 and max(ours["spearman"]) <= 1
    assert min(ours["iou"]) >= 0 and max(ours["dice"]) <= 1


# ---------------------------------------------------- the original's tests, on the sample


@pytest.mark.parametrize("shards, bs", [([0], 16), ([0, 1], 32)], ids=["one-shard", "two-shards"])
def test_the_originals_test_clickme_dataset(cache_dir: Path, shards: list[int], bs: int) -> None:
    """tests/common/test_clickme_dataset.py, with sample shards in place of val-17/train-318."""
    single_shard = [hz.sample_shards()[i] for i in shards]
    dataset = hz.load_clickme(shards_paths=single_shard, batch_size=bs, cache_dir=cache_dir)
    for images, heatmaps, labels in dataset.take(1):
        assert images.shape == (bs, 224, 224, 3)
        assert heatmaps.shape == (bs, 224, 224, 1)
        assert labels.shape == (bs, 1000)
        assert tf.reduce_min(images) >= 0.0
        assert tf.reduce_max(images) <= 255.0
        assert tf.reduce_min(heatmaps) >= 0.0


def test_constants_are_the_originals() -> None:
    assert hz.CLICKME_BASE_URL.endswith("serrelab/prj_harmonization/dataset/click-me")
    assert (hz.NB_TRAIN_SHARDS, hz.NB_VAL_SHARDS) == (318, 17)


# ---------------------------------------------------------------- splits: the original's shards


@pytest.fixture
def split_mirror(tmp_path: Path) -> Path:
    """A mirror of the bucket's layout: val-0..17 (2 records each), train-0..318 (1 each)."""
    root = tmp_path / "bucket"
    write_uneven_shards(root / "val", [2] * 18, prefix="val")
    write_uneven_shards(root / "train", [1] * 319, prefix="train", step=1)
    return root


@pytest.mark.filterwarnings("ignore::neural_datasets.fetching.hashes.UnpinnedFileWarning")
def test_val_reads_shards_0_to_16(split_mirror: Path, cache_dir: Path) -> None:
    ds = hz.load_clickme_val(
        5, base_url=split_mirror.as_uri(), cache_dir=cache_dir, progress=False, cycle_length=1
    )
    expected = [10 * s + r for s in range(17) for r in range(2)][:30]  # 34 records, 4 dropped
    assert labels_of(ds) == expected
    paths = [str(split_mirror / "val" / f"val-{i}.tfrecords") for i in range(17)]
    reference = upstream_load_clickme(paths, 5, num_parallel_reads=1)
    assert labels_of(reference) == expected


@pytest.mark.filterwarnings("ignore::neural_datasets.fetching.hashes.UnpinnedFileWarning")
def test_train_reads_shards_0_to_317(split_mirror: Path, cache_dir: Path) -> None:
    ds = hz.load_clickme_train(
        100, base_url=split_mirror.as_uri(), cache_dir=cache_dir, progress=False, cycle_length=1
    )
    assert labels_of(ds) == list(range(300))  # train-0..317 in batches of 100: 18 dropped
    every = hz.load_clickme_train(
        1, base_url=split_mirror.as_uri(), cache_dir=cache_dir, progress=False, cycle_length=3
    )
    assert sorted(labels_of(every)) == list(range(318))  # train-318 is never read


# ---------------------------------------------------------------- the torch twin


def test_torch_twin_equals_the_tf_loader(cache_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    tf_batches = batches(hz.load_clickme(hz.sample_shards(), 16, cache_dir=cache_dir))
    torch_batches = list(hz.torch_loader("sample", 16, cache_dir=cache_dir, progress=False))
    nchw = list(hz.torch_loader("sample", 16, layout="NCHW", cache_dir=cache_dir))
    assert len(torch_batches) == len(tf_batches) == len(nchw) == 3
    for (x, h, y), (tx, th, ty), (cx, ch, cy) in zip(tf_batches, torch_batches, nchw):
        assert tx.dtype == th.dtype == ty.dtype == torch.float32
        # The frameworks sum the blur's 100 products in different orders: a few float32
        # ulps apart, i.e. relative differences below 1e-6 (1e-4 at 0..255 values).
        np.testing.assert_allclose(tx.numpy(), x, rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(th.numpy(), h, rtol=1e-6, atol=1e-4)
        np.testing.assert_array_equal(ty.numpy(), y)
        assert tuple(cx.shape) == (16, 3, 224, 224) and tuple(ch.shape) == (16, 1, 224, 224)
        np.testing.assert_array_equal(cx.permute(0, 2, 3, 1).numpy(), tx.numpy())
        np.testing.assert_array_equal(cy.numpy(), ty.numpy())


def test_torch_twin_takes_shard_paths(cache_dir: Path, sample_reference) -> None:
    pytest.importorskip("torch")
    loader = hz.torch_loader(hz.sample_shards(), 10, cache_dir=cache_dir, progress=False)
    ours = [tuple(t.numpy() for t in element) for element in loader]
    assert_same_elements(ours, sample_reference)


# ---------------------------------------------------------------- local shards: the keyed path


def test_local_shards_convert_once_per_content(tmp_path: Path, cache_dir: Path) -> None:
    paths = write_uneven_shards(tmp_path / "shards", [3, 4])
    first = hz._path_batches(paths, cache_dir=cache_dir, progress=False, cycle_length=1)
    again = hz._path_batches(paths, cache_dir=cache_dir, progress=False, cycle_length=1)
    assert first.clickme.location == again.clickme.location
    write_uneven_shards(tmp_path / "shards", [3, 5])  # same names, new content
    changed = hz._path_batches(paths, cache_dir=cache_dir, progress=False, cycle_length=1)
    assert changed.clickme.location != first.clickme.location
    assert len(changed) == 8 and len(first) == 7


def test_a_shard_given_twice_is_read_twice(tmp_path: Path, cache_dir: Path) -> None:
    [path] = write_uneven_shards(tmp_path / "shards", [3])
    ds = hz.load_clickme([path, path], 1, cache_dir=cache_dir, progress=False, cycle_length=1)
    assert labels_of(ds) == [0, 1, 2, 0, 1, 2]


def test_clear_errors(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.tfrecords"):
        hz.load_clickme([tmp_path / "missing.tfrecords"], 4, cache_dir=cache_dir)
    with pytest.raises(InvalidArgumentError, match="batch_size must be >= 1, got 0"):
        hz.load_clickme(hz.sample_shards(), 0, cache_dir=cache_dir, progress=False)
    with pytest.raises(InvalidArgumentError, match="batch_size must be an integer, got float"):
        hz.load_clickme(hz.sample_shards(), 8.0, cache_dir=cache_dir, progress=False)
    with pytest.raises(InvalidArgumentError, match="shards_paths must hold file names.*int"):
        hz.load_clickme([3], 8, cache_dir=cache_dir, progress=False)
    with pytest.raises(InvalidArgumentError, match="choose 'train', 'val' or 'sample'"):
        hz.torch_loader("test", 4, cache_dir=cache_dir)
    with pytest.raises(InvalidArgumentError, match="layout"):
        hz.torch_loader("sample", 4, layout="CHW", cache_dir=cache_dir)


def test_a_batch_larger_than_the_data_gives_zero_batches_as_the_original(cache_dir) -> None:
    with pytest.warns(RuntimeWarning, match="No batches: batch_size=64 is larger than the 48"):
        ours = hz.load_clickme(hz.sample_shards(), 64, cache_dir=cache_dir, progress=False)
    reference = upstream_load_clickme(hz.sample_shards(), 64)
    assert batches(ours) == batches(reference) == []
    assert ours.element_spec == reference.element_spec
    with pytest.warns(RuntimeWarning, match="No batches: batch_size=49"):
        torch_batches = hz.torch_loader("sample", 49, cache_dir=cache_dir, progress=False)
    assert len(torch_batches) == 0 and list(torch_batches) == []


def test_no_shards_give_zero_batches_as_the_original(cache_dir: Path) -> None:
    reference = upstream_load_clickme([], 4)
    for no_paths in ([], (), np.array([], dtype=str)):
        with pytest.warns(RuntimeWarning, match="No batches: no shard paths were given"):
            ours = hz.load_clickme(no_paths, 4, cache_dir=cache_dir, progress=False)
        assert batches(ours) == batches(reference) == []
        assert ours.element_spec == reference.element_spec
    with pytest.warns(RuntimeWarning, match="no shard paths"):
        assert list(hz.torch_loader([], 4, cache_dir=cache_dir)) == []


def test_shard_paths_and_batch_size_of_every_type_the_original_takes(
    cache_dir: Path, sample_reference
) -> None:
    names = hz.sample_shards()
    for paths in (
        names,
        tuple(names),
        [Path(n) for n in names],
        (n for n in names),  # read once, as TFRecordDataset reads it
        np.array(names),
        tf.constant(names),
        [n.encode() for n in names],
    ):
        ds = hz.load_clickme(paths, np.int64(10), cache_dir=cache_dir, progress=False)
        assert_same_elements(batches(ds), sample_reference)
    one = hz.load_clickme(Path(names[0]), np.int32(24), cache_dir=cache_dir, progress=False)
    assert len(batches(one)) == 1


def test_import_is_light() -> None:
    code = (
        "import sys, neural_datasets.compat.harmonization; "
        "print([m for m in ('torch', 'tensorflow') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_a_users_script_runs_and_exits(tmp_path: Path) -> None:
    """Both loaders from a plain script file (no __main__ guard), iterated partly, then exit."""
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            from neural_datasets.compat.harmonization import load_clickme, sample_shards
            from neural_datasets.compat.harmonization import torch_loader

            for images, heatmaps, labels in load_clickme(sample_shards(), 8).take(2):
                print("tf", images.shape, heatmaps.shape, labels.shape)
            batches = torch_loader("sample", 8, num_workers=2)
            images, heatmaps, labels = next(iter(batches))
            print("torch", tuple(images.shape), len(batches))
            """
        )
    )
    env = {**os.environ, "NEURAL_DATASETS_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=240, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("tf (8, 224, 224, 3) (8, 224, 224, 1) (8, 1000)") == 2
    assert "torch (8, 224, 224, 3) 6" in out.stdout
