"""neural_datasets.augment.tf: NHWC layout, geometry, tf.function and tf.data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_datasets.augment import AugmentParams, ColorJitter, sample_params

tf = pytest.importorskip("tensorflow")
augment_tf = pytest.importorskip("neural_datasets.augment.tf")
HeatmapAugment = augment_tf.HeatmapAugment
harmonization_preprocess = augment_tf.harmonization_preprocess


def _batch(b: int = 4, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (b, size, size, 3), dtype=np.uint8)
    return images, rng.integers(0, 256, (b, size, size, 1), dtype=np.uint8)


@pytest.mark.parametrize("with_channel", [True, False])
@pytest.mark.parametrize("dtype", [tf.uint8, tf.float32])
def test_shapes_dtypes_and_rank(with_channel: bool, dtype: tf.DType) -> None:
    images, heatmaps = _batch()
    heatmaps = heatmaps if with_channel else heatmaps[..., 0]
    aug = HeatmapAugment((40, 48), degrees=20, color_jitter=ColorJitter(0.4, 0.4, 0.4, 0.1), seed=0)
    x, h = aug(tf.cast(images, dtype), tf.cast(heatmaps, dtype))
    assert x.shape == (4, 40, 48, 3) and x.dtype == tf.float32
    assert h.shape == ((4, 40, 48, 1) if with_channel else (4, 40, 48)) and h.dtype == tf.float32


def test_identity_and_double_flip_give_the_input_back() -> None:
    images, heatmaps = _batch()
    aug = HeatmapAugment(blur_heatmaps=False)
    identity = AugmentParams.identity(4, 64, 64)
    x, h = aug.apply(images, heatmaps, identity)
    np.testing.assert_allclose(x, images / 255, atol=1e-5)
    np.testing.assert_allclose(h, heatmaps / 255, atol=1e-5)
    flip = dataclasses.replace(identity, flip=np.ones(4, bool))
    once = aug.apply(images, heatmaps, flip)
    np.testing.assert_allclose(once[0], images[:, :, ::-1] / 255, atol=1e-5)
    twice = aug.apply(*once, flip)
    np.testing.assert_allclose(twice[0], images / 255, atol=1e-5)
    np.testing.assert_allclose(twice[1], heatmaps / 255, atol=1e-5)


def test_full_frame_resize_matches_tf_image_resize() -> None:
    images, heatmaps = _batch(size=96)
    params = AugmentParams.identity(4, 96, 96, size=(72, 80))
    x, _ = HeatmapAugment(blur_heatmaps=False).apply(images, heatmaps, params)
    ref = tf.image.resize(images / 255, (72, 80), method="bilinear")
    np.testing.assert_allclose(x, ref, atol=3e-5)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), degrees=st.floats(0, 180))
def test_bright_point_and_heatmap_peak_stay_aligned(seed: int, degrees: float) -> None:
    batch, source, size = 6, 128, 64
    params = sample_params(
        batch, source, source, size=size, scale=(0.2, 1), degrees=degrees, rng=seed
    )
    rng = np.random.default_rng(seed)
    out_pts = size / 2 + rng.uniform(-size / 6, size / 6, (batch, 2))
    affine = params.affine()
    src = np.rint(np.einsum("bij,bj->bi", affine, np.c_[out_pts, np.ones(batch)])[:, :2])
    grid = np.arange(source)
    dist2 = (grid[None, None, :] - src[:, 0, None, None]) ** 2 + (
        grid[None, :, None] - src[:, 1, None, None]
    ) ** 2
    blob = np.rint(255 * np.exp(-dist2 / 4.5)).astype(np.uint8)
    x, h = HeatmapAugment(blur_heatmaps=False).apply(
        np.repeat(blob[..., None], 3, -1), blob, params
    )
    expected = np.einsum("bij,bj->bi", np.linalg.inv(affine), np.c_[src, np.ones(batch)])[:, :2]
    peaks = []
    for maps in (x.numpy()[..., 0], h.numpy()):
        flat = maps.reshape(batch, -1).argmax(1)
        peaks.append(np.stack([flat % size, flat // size], 1))
    assert np.abs(peaks[0] - peaks[1]).max() <= 1
    assert np.abs(peaks[0] - expected).max() <= 1.0


def test_pixels_from_outside_the_source_are_zero() -> None:
    images = np.full((2, 64, 64, 3), 200, np.uint8)
    heatmaps = np.full((2, 64, 64, 1), 255, np.uint8)
    params = dataclasses.replace(AugmentParams.identity(2, 64, 64), angle=np.array([45.0, -30.0]))
    x, h = HeatmapAugment(blur_heatmaps=False).apply(images, heatmaps, params)
    assert np.abs(h[:, :3, :3]).max() == 0.0 and np.abs(x[:, -3:, -3:]).max() == 0.0
    assert np.asarray(h[:, 28:36, 28:36]).min() == pytest.approx(1.0)


def test_works_in_tf_function_and_tf_data_reproducibly() -> None:
    images, heatmaps = _batch(b=8)
    ds = tf.data.Dataset.from_tensor_slices({"image": images, "heatmap": heatmaps}).batch(4)

    def run() -> list[np.ndarray]:
        aug = HeatmapAugment(48, degrees=30, color_jitter=ColorJitter(0.3, hue=0.1), seed=5)

        def augment(batch: dict) -> dict:
            image, heatmap = aug(batch["image"], batch["heatmap"])
            return {"image": image, "heatmap": heatmap}

        return [b["image"].numpy() for b in ds.map(augment).repeat(2)]

    first, second = run(), run()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[2])  # fresh parameters every batch
    # tf.function draws the same sequence as eager calls with the same seed.
    eager = HeatmapAugment(48, degrees=30, seed=9)
    graph = tf.function(HeatmapAugment(48, degrees=30, seed=9).__call__)
    for _ in range(2):
        np.testing.assert_allclose(
            graph(images, heatmaps)[0], eager(images, heatmaps)[0], atol=1e-6
        )


def test_heatmap_renormalisation_and_normalize() -> None:
    images, heatmaps = _batch()
    heatmaps[0] = 0
    _, h = HeatmapAugment(48, heatmap_norm="max", seed=0)(images, heatmaps)
    np.testing.assert_allclose(tf.reduce_max(h, [1, 2, 3]), [0, 1, 1, 1], atol=1e-6)
    _, h = HeatmapAugment(48, heatmap_norm="sum", seed=0)(images, heatmaps)
    np.testing.assert_allclose(tf.reduce_sum(h, [1, 2, 3]), [0, 1, 1, 1], atol=1e-5)
    plain, _ = HeatmapAugment(48, seed=1)(images, heatmaps)
    normed, _ = HeatmapAugment(48, normalize=(0.5, 0.25), seed=1)(images, heatmaps)
    np.testing.assert_allclose(normed, (plain - 0.5) / 0.25, atol=1e-5)


def test_harmonization_preprocess_shapes_and_units() -> None:
    images, heatmaps = _batch(b=2, size=256)
    x, h = harmonization_preprocess(images, heatmaps[..., 0])
    assert x.shape == (2, 224, 224, 3) and h.shape == (2, 224, 224)
    assert x.dtype == tf.float32
    # Images: a plain bilinear resize on the 0-255 scale, as the reference loader does.
    expected = tf.image.resize(tf.cast(images, tf.float32), (224, 224), method="bilinear")
    np.testing.assert_allclose(x.numpy(), expected.numpy(), atol=1e-4)
    # Heatmaps: the blur preserves the mean of a constant map away from the zero padding.
    _, flat = harmonization_preprocess(images, np.full((2, 256, 256), 100, np.uint8))
    np.testing.assert_allclose(flat.numpy()[:, 40:180, 40:180], 100.0, rtol=1e-4)


def test_bad_inputs_raise() -> None:
    images, heatmaps = _batch()
    aug = HeatmapAugment(32)
    with pytest.raises(ValueError, match="images"):
        aug(np.moveaxis(images, -1, 1), heatmaps)
    with pytest.raises(ValueError, match="heatmaps"):
        aug(images, np.repeat(heatmaps, 2, -1))
    with pytest.raises(ValueError, match="params"):
        aug.apply(images, heatmaps, AugmentParams.identity(4, 32, 32))
