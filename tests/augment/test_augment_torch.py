"""neural_datasets.augment.torch: geometry, alignment and photometric semantics."""

from __future__ import annotations

import colorsys
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_datasets.augment import AugmentParams, ColorJitter, sample_params

torch = pytest.importorskip("torch")
augment_torch = pytest.importorskip("neural_datasets.augment.torch")
HeatmapAugment = augment_torch.HeatmapAugment
harmonization_preprocess = augment_torch.harmonization_preprocess
F = torch.nn.functional

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _batch(b: int = 4, size: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (b, 3, size, size), generator=g, dtype=torch.uint8)
    heatmaps = torch.randint(0, 256, (b, 1, size, size), generator=g, dtype=torch.uint8)
    return images, heatmaps


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("with_channel", [True, False])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_shapes_dtypes_rank_and_device(device: str, with_channel: bool, dtype: torch.dtype) -> None:
    images, heatmaps = _batch()
    images, heatmaps = images.to(device, dtype), heatmaps.to(device, dtype)
    heatmaps = heatmaps if with_channel else heatmaps[:, 0]
    aug = HeatmapAugment((40, 48), degrees=20, color_jitter=ColorJitter(0.4, 0.4, 0.4, 0.1), seed=0)
    x, h = aug(images, heatmaps)
    assert x.shape == (4, 3, 40, 48) and x.dtype == torch.float32
    assert h.shape == ((4, 1, 40, 48) if with_channel else (4, 40, 48)) and h.dtype == torch.float32
    assert x.device == images.device and h.device == images.device
    assert float(x.min()) >= 0.0 and float(x.max()) <= (1.0 if dtype == torch.uint8 else 255.0)


def test_identity_params_give_the_input_back() -> None:
    images, heatmaps = _batch()
    aug = HeatmapAugment(blur_heatmaps=False)
    x, h = aug.apply(images, heatmaps[:, 0], AugmentParams.identity(4, 64, 64))
    torch.testing.assert_close(x, images.float() / 255, atol=1e-5, rtol=0)
    torch.testing.assert_close(h, heatmaps[:, 0].float() / 255, atol=1e-5, rtol=0)


def test_flipping_twice_is_the_identity() -> None:
    images, heatmaps = _batch()
    flip = dataclasses.replace(AugmentParams.identity(4, 64, 64), flip=np.ones(4, bool))
    aug = HeatmapAugment(blur_heatmaps=False)
    once = aug.apply(images, heatmaps, flip)
    torch.testing.assert_close(once[0], images.flip(-1).float() / 255, atol=1e-5, rtol=0)
    twice = aug.apply(*once, flip)
    torch.testing.assert_close(twice[0], images.float() / 255, atol=1e-5, rtol=0)
    torch.testing.assert_close(twice[1], heatmaps.float() / 255, atol=1e-5, rtol=0)


def test_full_frame_resize_matches_half_pixel_interpolate() -> None:
    images, heatmaps = _batch(size=96)
    aug = HeatmapAugment(blur_heatmaps=False)
    x, _ = aug.apply(images, heatmaps, AugmentParams.identity(4, 96, 96, size=(72, 80)))
    ref = F.interpolate(images.float() / 255, (72, 80), mode="bilinear", align_corners=False)
    torch.testing.assert_close(x, ref, atol=3e-5, rtol=0)


def _blob(size: int, centres: np.ndarray, sigma: float = 1.5) -> torch.Tensor:
    """``[B, size, size]`` uint8 Gaussian blobs at integer ``(x, y)`` centres."""
    grid = np.arange(size)
    dx = grid[None, None, :] - centres[:, 0, None, None]
    dy = grid[None, :, None] - centres[:, 1, None, None]
    return torch.from_numpy(np.rint(255 * np.exp(-(dx**2 + dy**2) / (2 * sigma**2)))).to(
        torch.uint8
    )


def _argmax_xy(x: torch.Tensor) -> np.ndarray:
    flat = x.flatten(1).argmax(1).numpy()
    return np.stack([flat % x.shape[-1], flat // x.shape[-1]], 1)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.sampled_from([48, 64, 100]),
    degrees=st.floats(0, 180),
    low=st.floats(0.1, 1.0),
)
def test_bright_point_and_heatmap_peak_stay_aligned(
    seed: int, size: int, degrees: float, low: float
) -> None:
    """A point in the image and the heatmap's peak at the same pixel land within 1 px."""
    batch, source = 6, 128
    params = sample_params(
        batch, source, source, size=size, scale=(low, 1), degrees=degrees, rng=seed
    )
    rng = np.random.default_rng(seed)
    # Output points near the centre map into the crop, well inside the frame.
    out_pts = size / 2 + rng.uniform(-size / 6, size / 6, (batch, 2))
    affine = params.affine()
    src = np.rint(np.einsum("bij,bj->bi", affine, np.c_[out_pts, np.ones(batch)])[:, :2])
    blob = _blob(source, src)
    images = blob[:, None].expand(-1, 3, -1, -1)
    x, h = HeatmapAugment(blur_heatmaps=False).apply(images, blob, params)
    expected = np.einsum("bij,bj->bi", np.linalg.inv(affine), np.c_[src, np.ones(batch)])[:, :2]
    image_peak, heat_peak = _argmax_xy(x[:, 0]), _argmax_xy(h)
    assert np.abs(image_peak - heat_peak).max() <= 1
    assert np.abs(image_peak - expected).max() <= 1.0


def test_pixels_from_outside_the_source_are_zero() -> None:
    images = torch.full((2, 3, 64, 64), 200, dtype=torch.uint8)
    heatmaps = torch.full((2, 1, 64, 64), 255, dtype=torch.uint8)
    params = dataclasses.replace(AugmentParams.identity(2, 64, 64), angle=np.array([45.0, -30.0]))
    x, h = HeatmapAugment(blur_heatmaps=False).apply(images, heatmaps, params)
    assert float(h[:, :, :3, :3].abs().max()) == 0.0 and float(x[:, :, -3:, -3:].max()) == 0.0
    assert float(h[:, :, 28:36, 28:36].min()) == pytest.approx(1.0)
    # Inside the frame, sampling clamps to the edge: no darkened border on an upscaled crop.
    zoom = AugmentParams(
        (64, 64), (64, 64), np.tile([0.0, 0.0, 16.0, 16.0], (2, 1)), [0, 0], [0, 0]
    )
    x, h = HeatmapAugment(blur_heatmaps=False).apply(images, heatmaps, zoom)
    assert float(h.min()) == pytest.approx(1.0) and float(x.min()) == pytest.approx(200 / 255)


def test_seed_makes_the_sequence_reproducible() -> None:
    images, heatmaps = _batch()
    runs = []
    for _ in range(2):
        aug = HeatmapAugment(48, degrees=30, color_jitter=ColorJitter(0.3, 0.3, 0.3, 0.05), seed=11)
        runs.append([aug(images, heatmaps) for _ in range(2)])
    for a, b in zip(runs[0], runs[1], strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert not torch.equal(runs[0][0][0], runs[0][1][0])


def test_heatmap_renormalisation() -> None:
    images, heatmaps = _batch()
    heatmaps[0] = 0
    _, h = HeatmapAugment(48, heatmap_norm="max", seed=0)(images, heatmaps)
    assert float(h[0].abs().max()) == 0.0
    torch.testing.assert_close(h[1:].amax((1, 2, 3)), torch.ones(3))
    _, h = HeatmapAugment(48, heatmap_norm="sum", seed=0)(images, heatmaps)
    torch.testing.assert_close(h[1:].sum((1, 2, 3)), torch.ones(3))
    with pytest.raises(ValueError):
        HeatmapAugment(heatmap_norm="l2")


def test_normalize_applies_after_photometric_to_images_only() -> None:
    images, heatmaps = _batch()
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    plain = HeatmapAugment(48, seed=1)(images, heatmaps)
    normed = HeatmapAugment(48, normalize=(mean, std), seed=1)(images, heatmaps)
    ref = (plain[0] - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    torch.testing.assert_close(normed[0], ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(normed[1], plain[1])


def test_photometric_factors_follow_torchvision_definitions() -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 8, 8, generator=g)
    identity = AugmentParams.identity(4, 8, 8)
    aug = HeatmapAugment(blur_heatmaps=False)

    def run(**factors: np.ndarray) -> torch.Tensor:
        return aug.apply(images, images[:, :1], dataclasses.replace(identity, **factors))[0]

    f = np.array([0.5, 1.0, 1.5, 2.0])
    ft = torch.tensor(f, dtype=torch.float32)[:, None, None, None]
    torch.testing.assert_close(run(brightness=f), (images * ft).clamp(0, 1), atol=1e-5, rtol=0)
    gray = (images * torch.tensor([0.2989, 0.587, 0.114])[:, None, None]).sum(1, keepdim=True)
    ref = (ft * images + (1 - ft) * gray.mean((2, 3), keepdim=True)).clamp(0, 1)
    torch.testing.assert_close(run(contrast=f), ref, atol=1e-5, rtol=0)
    ref = (ft * images + (1 - ft) * gray).clamp(0, 1)
    torch.testing.assert_close(run(saturation=f), ref, atol=1e-5, rtol=0)
    shift = np.array([-0.3, 0.1, 0.25, 0.5])
    out = run(hue=shift).permute(0, 2, 3, 1).numpy()
    pixels = images.permute(0, 2, 3, 1).numpy()
    for i, delta in enumerate(shift):
        for rgb, got in zip(pixels[i].reshape(-1, 3), out[i].reshape(-1, 3), strict=True):
            hh, s, v = colorsys.rgb_to_hsv(*rgb)
            np.testing.assert_allclose(got, colorsys.hsv_to_rgb((hh + delta) % 1, s, v), atol=1e-5)


def test_blurred_heatmap_on_full_frame_equals_harmonization_preprocess() -> None:
    images, heatmaps = _batch(size=256)
    ref_x, ref_h = harmonization_preprocess(images, heatmaps)
    params = AugmentParams.identity(4, 256, 256, size=224)
    x, h = HeatmapAugment(blur_heatmaps=True).apply(images, heatmaps, params)
    torch.testing.assert_close(h, ref_h / 255, atol=1e-5, rtol=0)
    torch.testing.assert_close(x, ref_x / 255, atol=1e-4, rtol=0)


def test_bad_inputs_raise() -> None:
    images, heatmaps = _batch()
    aug = HeatmapAugment(32)
    with pytest.raises(ValueError, match="images"):
        aug(images.permute(0, 2, 3, 1), heatmaps)
    with pytest.raises(ValueError, match="heatmaps"):
        aug(images, heatmaps.expand(-1, 2, -1, -1))
    with pytest.raises(ValueError, match="batch"):
        aug(images, heatmaps[:2])
    with pytest.raises(ValueError, match="params"):
        aug.apply(images, heatmaps, AugmentParams.identity(4, 32, 32))


def test_cpu_blocks_give_the_whole_batch_result(monkeypatch: pytest.MonkeyPatch) -> None:
    images = torch.randint(0, 256, (7, 3, 40, 40), dtype=torch.uint8)
    heatmaps = torch.randint(0, 256, (7, 40, 40), dtype=torch.uint8)
    aug = HeatmapAugment(
        32,
        degrees=30,
        color_jitter=ColorJitter(0.4, 0.4, 0.4, 0.1),
        normalize=((0.5, 0.4, 0.3), (0.2, 0.3, 0.25)),
        heatmap_norm="sum",
    )
    params = aug.sample(7, 40, 40)
    whole = aug.apply(images, heatmaps, params)
    monkeypatch.setattr(augment_torch, "CPU_BLOCK_BYTES", 2 * 3 * 32 * 32 * 4)  # blocks of 2
    assert augment_torch._cpu_block((32, 32)) == 2
    blocked = aug.apply(images, heatmaps, params)
    for a, b in zip(whole, blocked, strict=True):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-5, rtol=0)  # per value; reductions may reorder


PRESETS = {  # as scripts/bench/bench_augment.py
    "geometry": {"degrees": 15.0, "blur_heatmaps": False},
    "default": {"degrees": 15.0},
    "full": {
        "degrees": 15.0,
        "color_jitter": ColorJitter(0.4, 0.4, 0.4, 0.1),
        "normalize": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        "heatmap_norm": "max",
    },
}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("preset", PRESETS)
def test_cuda_gives_the_cpu_result(preset: str) -> None:
    """The same seed on either device: the same crops, flips, angles and colours."""
    images, heatmaps = _batch(b=8, size=128, seed=4)
    on_cpu = HeatmapAugment(112, seed=9, **PRESETS[preset])(images, heatmaps)
    on_gpu = HeatmapAugment(112, seed=9, **PRESETS[preset])(images.cuda(), heatmaps.cuda())
    # Float kernels differ between devices in the last bits; cuDNN's TF32 convolutions perturb
    # the heatmap blur by up to ~5e-4 relative (docs/augmentation.md). A wrong crop, flip or
    # angle moves values by tenths.
    for cpu, gpu in zip(on_cpu, on_gpu, strict=True):
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), cpu, atol=2e-3, rtol=2e-3)
