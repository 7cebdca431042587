"""Framework-free augmentation parameters: sampling semantics and geometry."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_datasets.augment import AugmentParams, ColorJitter, sample_params
from neural_datasets.augment.harmonization import gaussian_kernel, same_padding


def test_same_seed_same_params_and_stream_advances() -> None:
    a = sample_params(16, 256, 256, degrees=30, color_jitter=ColorJitter(0.4, 0.4, 0.4, 0.1), rng=7)
    b = sample_params(16, 256, 256, degrees=30, color_jitter=ColorJitter(0.4, 0.4, 0.4, 0.1), rng=7)
    for field in dataclasses.fields(AugmentParams):
        np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name))
    rng = np.random.default_rng(7)
    first, second = (sample_params(16, 256, 256, rng=rng) for _ in range(2))
    assert not np.array_equal(first.crop, second.crop)


def test_options_do_not_shift_other_draws() -> None:
    plain = sample_params(8, 256, 256, rng=3)
    jittered = sample_params(8, 256, 256, degrees=45, color_jitter=ColorJitter(0.5), rng=3)
    np.testing.assert_array_equal(plain.crop, jittered.crop)
    np.testing.assert_array_equal(plain.flip, jittered.flip)


@settings(max_examples=30, deadline=None)
@given(
    height=st.integers(16, 300),
    width=st.integers(16, 300),
    low=st.floats(0.05, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_crops_follow_random_resized_crop(height: int, width: int, low: float, seed: int) -> None:
    ratio = (3 / 4, 4 / 3)
    p = sample_params(64, height, width, scale=(low, 1.0), ratio=ratio, rng=seed)
    top, left, h, w = p.crop.T
    assert np.all(p.crop == np.round(p.crop))
    assert np.all((top >= 0) & (left >= 0) & (h >= 1) & (w >= 1))
    assert np.all((top + h <= height) & (left + w <= width))
    # torchvision's fallback box after 10 failed tries, centred.
    if width / height < ratio[0]:
        box = (width / ratio[0], width)
    elif width / height > ratio[1]:
        box = (height, height * ratio[1])
    else:
        box = (height, width)
    fallback = (h == np.round(box[0])) & (w == np.round(box[1]))
    h, w = h[~fallback], w[~fallback]
    # Sides are rounded to whole pixels: the sampled area and ratio lie within half a
    # pixel per side of the result.
    assert np.all((h - 0.5) * (w - 0.5) <= height * width)
    assert np.all((h + 0.5) * (w + 0.5) >= low * height * width)
    assert np.all((w - 0.5) / (h + 0.5) <= ratio[1])
    assert np.all((w + 0.5) / (h - 0.5) >= ratio[0])


def test_impossible_crops_fall_back_to_centre() -> None:
    p = sample_params(5, 100, 100, scale=(2.0, 3.0), rng=0)  # never fits
    np.testing.assert_array_equal(p.crop, np.tile([0, 0, 100, 100], (5, 1)))
    p = sample_params(5, 100, 100, scale=(2.0, 3.0), ratio=(2.0, 3.0), rng=0)
    np.testing.assert_array_equal(p.crop, np.tile([25, 0, 50, 100], (5, 1)))


def test_flip_probability_and_degrees_range() -> None:
    p = sample_params(4000, 64, 64, hflip=0.5, degrees=(-10, 30), rng=1)
    assert 0.45 < p.flip.mean() < 0.55
    assert p.angle.min() >= -10 and p.angle.max() <= 30
    assert not sample_params(100, 64, 64, hflip=0.0, rng=1).flip.any()
    assert sample_params(100, 64, 64, hflip=1.0, rng=1).flip.all()


def test_color_jitter_ranges_like_torchvision() -> None:
    ranges = ColorJitter(brightness=0.4, contrast=1.5, saturation=(0.2, 0.3), hue=0.1).ranges()
    assert ranges["brightness"] == pytest.approx((0.6, 1.4))
    assert ranges["contrast"] == (0.0, 2.5)
    assert ranges["saturation"] == (0.2, 0.3)
    assert ranges["hue"] == (-0.1, 0.1)
    assert ColorJitter(hue=0.2).active() == ("hue",)
    with pytest.raises(ValueError):
        ColorJitter(hue=0.6).ranges()
    with pytest.raises(ValueError):
        ColorJitter(brightness=-1).ranges()
    p = sample_params(500, 64, 64, color_jitter=ColorJitter(0.4, hue=0.1), rng=0)
    assert p.brightness.min() >= 0.6 and p.brightness.max() <= 1.4
    assert np.all(p.contrast == 1.0) and np.all(p.saturation == 1.0)
    assert set(p.color_factors()) == {"brightness", "hue"}


@pytest.mark.parametrize(
    "kwargs",
    [{"scale": (0.5, 0.1)}, {"ratio": (0, 1)}, {"hflip": 1.5}, {"size": 0}, {"degrees": -3}],
)
def test_invalid_options_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        sample_params(2, 32, 32, **kwargs)


def test_params_validate_shapes() -> None:
    with pytest.raises(ValueError):
        AugmentParams((8, 8), (8, 8), np.zeros((2, 3)), np.zeros(2, bool), np.zeros(2))
    with pytest.raises(ValueError):
        AugmentParams((8, 8), (8, 8), np.zeros((2, 4)), np.zeros(3, bool), np.zeros(2))


def _apply(matrix: np.ndarray, x: float, y: float) -> np.ndarray:
    return (matrix @ np.array([x, y, 1.0]))[:2]


def test_identity_and_resize_use_half_pixel_centres() -> None:
    np.testing.assert_allclose(
        AugmentParams.identity(3, 20, 30).affine(), np.tile(np.eye(3), (3, 1, 1))
    )
    m = AugmentParams.identity(1, 256, 256, size=224).affine()[0]
    # tf.image.resize / interpolate(align_corners=False): src = (dst + 0.5) * in / out - 0.5
    np.testing.assert_allclose(_apply(m, 0, 223), [0.5 * 256 / 224 - 0.5, 223.5 * 256 / 224 - 0.5])
    np.testing.assert_allclose(
        AugmentParams.identity(2, 20, 30, size=(7, 9)).normalized_affine(),
        np.tile(np.eye(3)[:2], (2, 1, 1)),
        atol=1e-12,
    )


def test_within_frame_flags_only_rotations_that_bring_in_outside_area() -> None:
    p = sample_params(200, 64, 48, size=32, rng=0)
    assert p.within_frame().all()
    square = AugmentParams.identity(3, 64, 64)
    turned = dataclasses.replace(square, angle=np.array([0.0, 90.0, 10.0])).within_frame()
    np.testing.assert_array_equal(turned, [True, True, False])
    small = np.tile([24.0, 24.0, 16.0, 16.0], (1, 1))
    centre = AugmentParams((64, 64), (16, 16), small, [False], [45.0])
    assert centre.within_frame().all()


def test_flip_and_rotation_geometry() -> None:
    base = AugmentParams.identity(1, 10, 16)
    flipped = dataclasses.replace(base, flip=np.array([True])).affine()[0]
    np.testing.assert_allclose(_apply(flipped, 0, 3), [15, 3])
    np.testing.assert_allclose(flipped @ flipped, np.eye(3), atol=1e-12)
    square = AugmentParams.identity(1, 11, 11)
    rotated = dataclasses.replace(square, angle=np.array([90.0])).affine()[0]
    # Counter-clockwise on screen: what is right of centre in the source is above it in the output.
    np.testing.assert_allclose(_apply(rotated, 5, 2), [8, 5], atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_affine_matches_forward_composition(seed: int) -> None:
    """Invert the matrices against an explicit crop -> flip -> rotate of a source point."""
    p = sample_params(8, 120, 90, size=(50, 70), degrees=180, rng=seed)
    rng = np.random.default_rng(seed)
    for i in range(8):
        top, left, h, w = p.crop[i]
        sx, sy = left + rng.random() * w, top + rng.random() * h  # continuous coordinates
        x, y = (sx - left) * 70 / w, (sy - top) * 50 / h
        if p.flip[i]:
            x = 70 - x
        t = np.deg2rad(p.angle[i])
        dx, dy = x - 35, y - 25
        x, y = 35 + dx * np.cos(t) + dy * np.sin(t), 25 - dx * np.sin(t) + dy * np.cos(t)
        np.testing.assert_allclose(_apply(p.affine()[i], x - 0.5, y - 0.5), [sx - 0.5, sy - 0.5])
        # The same physical point at another resolution of the source.
        np.testing.assert_allclose(
            _apply(p.affine((60, 30))[i], x - 0.5, y - 0.5), [sx / 3 - 0.5, sy / 2 - 0.5]
        )
        unit = p.normalized_affine()[i] @ np.array([2 * x / 70 - 1, 2 * y / 50 - 1, 1.0])
        np.testing.assert_allclose(unit, [2 * sx / 90 - 1, 2 * sy / 120 - 1], atol=1e-12)


def test_gaussian_kernel_matches_reference_construction() -> None:
    # The reference builds x from -(size-1)//2 up and y from (size-1)//2 down.
    size, sigma = 10, 10.0
    xs, ys = np.meshgrid(
        np.arange(-(size - 1) // 2, (size - 1) // 2 + 1),
        np.arange((size - 1) // 2, -(size - 1) // 2 - 1, -1),
    )
    ref = np.exp(-(xs**2 + ys**2) / (2 * sigma**2)) / (2 * np.pi * sigma**2)
    np.testing.assert_allclose(gaussian_kernel(size, sigma), ref / ref.sum(), rtol=1e-6)
    assert same_padding(10) == (4, 5) and same_padding(5) == (2, 2)
