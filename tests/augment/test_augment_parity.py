"""Torch and TensorFlow agree on shared parameters and match the Harmonization reference."""

from __future__ import annotations

import numpy as np
import pytest

from neural_datasets.augment import ColorJitter, sample_params

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
augment_torch = pytest.importorskip("neural_datasets.augment.torch")
augment_tf = pytest.importorskip("neural_datasets.augment.tf")


def _scene(b: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """NHWC uint8 images with edges and texture, and click-like heatmaps."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    freq = rng.uniform(2, 12, (b, 3, 2))
    phase = rng.uniform(0, 2 * np.pi, (b, 3))
    waves = np.sin(freq[..., 0, None, None] * 2 * np.pi * xx + phase[..., None, None])
    waves = waves * np.cos(freq[..., 1, None, None] * 2 * np.pi * yy)
    edges = (xx + yy > rng.uniform(0.5, 1.5, (b, 1, 1, 1))).astype(float)
    noise = rng.normal(0, 0.05, (b, 3, size, size))
    images = np.clip(0.3 + 0.25 * waves + 0.3 * edges + noise, 0, 1)
    clicks = rng.uniform(0, size, (b, 6, 2))
    d2 = (xx[None, None] * size - clicks[..., 0, None, None]) ** 2
    d2 = d2 + (yy[None, None] * size - clicks[..., 1, None, None]) ** 2
    heatmaps = np.exp(-d2 / (2 * (size / 16) ** 2)).sum(1)
    heatmaps = heatmaps / heatmaps.max((1, 2), keepdims=True)
    to_u8 = lambda a: np.rint(255 * a).astype(np.uint8)  # noqa: E731
    return to_u8(images.transpose(0, 2, 3, 1)), to_u8(heatmaps[..., None])


def _assert_same_per_pixel(torch_out: torch.Tensor, tf_out: tf.Tensor, nchw: bool) -> None:
    """Every output value agrees to within float32 rounding: 0.02/255 of the value range.

    The two frameworks compute sampling coordinates and the colour math in
    different orders; measured differences stay below 0.003/255 per pixel, while
    a half-pixel shift or a misplaced frame edge moves pixels by tens of levels.
    """
    a = torch_out.numpy()
    if nchw:
        a = np.moveaxis(a, 1, -1)
    b = tf_out.numpy()
    assert a.shape == b.shape
    value_range = float(a.max() - a.min()) or 1.0
    worst = np.unravel_index(np.argmax(np.abs(a - b)), a.shape)
    assert np.abs(a - b).max() <= 0.02 * value_range / 255, (worst, a[worst], b[worst])


CONFIGS = {
    "geometry": {"blur_heatmaps": False},
    "blur+max": {"heatmap_norm": "max"},
    "jitter+normalize+sum": {
        "color_jitter": ColorJitter(0.4, 0.4, 0.4, 0.1),
        "normalize": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        "heatmap_norm": "sum",
        "blur_heatmaps": False,
    },
}


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("heatmap_rank", [3, 4])
def test_shared_params_give_the_same_output(name: str, heatmap_rank: int) -> None:
    images, heatmaps = _scene(6, 96, seed=len(name) + heatmap_rank)
    options = CONFIGS[name]
    params = sample_params(
        6,
        96,
        96,
        size=(64, 80),
        scale=(0.2, 1.0),
        degrees=60,
        color_jitter=options.get("color_jitter"),
        rng=heatmap_rank,
    )
    heat_nhwc = heatmaps if heatmap_rank == 4 else heatmaps[..., 0]
    heat_nchw = np.moveaxis(heatmaps, -1, 1) if heatmap_rank == 4 else heatmaps[..., 0]
    tx, th = augment_torch.HeatmapAugment(**options).apply(
        torch.from_numpy(np.moveaxis(images, -1, 1).copy()), torch.from_numpy(heat_nchw), params
    )
    fx, fh = augment_tf.HeatmapAugment(**options).apply(images, heat_nhwc, params)
    _assert_same_per_pixel(tx, fx, nchw=True)
    _assert_same_per_pixel(th, fh, nchw=heatmap_rank == 4)


def test_heatmap_at_another_resolution_is_sampled_over_the_same_region() -> None:
    images, heatmaps = _scene(4, 128, seed=1)
    small = np.rint(tf.image.resize(heatmaps, (64, 64), antialias=True)).astype(np.uint8)
    params = sample_params(4, 128, 128, size=64, degrees=30, rng=2)
    aug_torch, aug_tf = (m.HeatmapAugment(blur_heatmaps=False) for m in (augment_torch, augment_tf))
    images_t = torch.from_numpy(np.moveaxis(images, -1, 1).copy())
    _, th = aug_torch.apply(images_t, torch.from_numpy(small[..., 0]), params)
    _, fh = aug_tf.apply(images, small[..., 0], params)
    _assert_same_per_pixel(th, fh, nchw=False)
    _, full = aug_tf.apply(images, heatmaps[..., 0], params)
    assert np.abs(fh.numpy() - full.numpy()).mean() < 0.005  # a 2 px shift gives 0.03


def test_same_seed_gives_the_same_batches_in_both_frameworks() -> None:
    images, heatmaps = _scene(4, 64, seed=3)
    options = {"size": 48, "degrees": 20, "color_jitter": ColorJitter(0.2, 0.2, 0.2, 0.05)}
    aug_torch = augment_torch.HeatmapAugment(**options, seed=21)
    aug_tf = augment_tf.HeatmapAugment(**options, seed=21)
    images_t = torch.from_numpy(np.moveaxis(images, -1, 1).copy())
    heatmaps_t = torch.from_numpy(np.moveaxis(heatmaps, -1, 1).copy())
    for _ in range(2):
        tx, th = aug_torch(images_t, heatmaps_t)
        fx, fh = aug_tf(images, heatmaps)
        _assert_same_per_pixel(tx, fx, nchw=True)
        _assert_same_per_pixel(th, fh, nchw=True)


def _reference_clickme(image: tf.Tensor, heatmap: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The Harmonization loader's per-sample ops, written out with TensorFlow."""
    size, sigma = 10, 10
    xs, ys = tf.meshgrid(
        tf.range(-(size - 1) // 2, (size - 1) // 2 + 1, 1),
        tf.range((size - 1) // 2, -(size - 1) // 2 - 1, -1),
    )
    kernel = tf.exp(-(xs**2 + ys**2) / (2 * sigma**2)) / (2 * np.pi * sigma**2)
    kernel = tf.cast(kernel / tf.reduce_sum(kernel), tf.float32)[:, :, None, None]
    image = tf.image.resize(tf.cast(image, tf.float32), (224, 224), method="bilinear")
    heatmap = tf.image.resize(tf.cast(heatmap, tf.float32), (64, 64), method="bilinear")
    heatmap = tf.nn.conv2d(heatmap[None], kernel, [1, 1, 1, 1], "SAME")[0]
    return image, tf.image.resize(heatmap, (224, 224), method="bilinear")


def test_harmonization_preprocess_matches_tensorflow_reference() -> None:
    images, heatmaps = _scene(3, 256, seed=4)
    reference = [_reference_clickme(i, h) for i, h in zip(images, heatmaps, strict=True)]
    ref_x = np.stack([r[0] for r in reference])
    ref_h = np.stack([r[1] for r in reference])
    tolerance = 1e-3 * 255  # 1e-3 of the 0-255 value range
    fx, fh = augment_tf.harmonization_preprocess(images, heatmaps)
    tx, th = augment_torch.harmonization_preprocess(
        torch.from_numpy(np.moveaxis(images, -1, 1).copy()), torch.from_numpy(heatmaps[..., 0])
    )
    for x, h in ((fx.numpy(), fh.numpy()), (np.moveaxis(tx.numpy(), 1, -1), th.numpy()[..., None])):
        assert np.abs(x - ref_x).max() <= tolerance
        assert np.abs(h - ref_h).max() <= tolerance
    # The blur is not a no-op: its off-centre kernel and zero padding are reproduced.
    assert np.abs(ref_h - tf.image.resize(tf.cast(heatmaps, tf.float32), (224, 224))).max() > 1
