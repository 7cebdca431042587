"""Batched, heatmap-aligned augmentation in PyTorch (NCHW).

Everything runs on the device the batch is on, as batched tensor ops: one
sampling grid and one bilinear ``grid_sample`` per array, so image and heatmap
go through the same geometry with a single resampling. On a GPU the batch goes
whole; on the CPU in blocks of a few samples whose intermediates stay in cache
(whole-batch float intermediates would stream through memory once per
elementwise pass). Only the per-sample parameters (a few numbers per sample)
are drawn on the host with NumPy and copied to the device; image data never
leaves it.
"""

from __future__ import annotations

from typing import Literal

from neural_datasets._checks import framework_import

with framework_import("neural_datasets.augment.torch"):
    import torch
    import torch.nn.functional as F

from neural_datasets.augment._base import HeatmapAugmentBase, check_params, check_shapes
from neural_datasets.augment._pixelmath import LUMA, adjust_color, renormalize
from neural_datasets.augment.harmonization import (
    BLUR_GRID,
    IMAGE_SIZE,
    gaussian_kernel,
    same_padding,
)
from neural_datasets.augment.params import AugmentParams

__all__ = ["HeatmapAugment", "harmonization_preprocess"]


class _TorchOps:
    """:class:`~neural_datasets.augment._pixelmath.ArrayOps` for NCHW torch tensors."""

    clip01 = staticmethod(lambda x: x.clamp(0.0, 1.0))
    # lerp is one fused pass and its result is fresh, so clamping in place is safe.
    blend01 = staticmethod(lambda a, b, weight: torch.lerp(b, a, weight).clamp_(0.0, 1.0))
    maximum = staticmethod(torch.maximum)
    minimum = staticmethod(torch.minimum)
    floor = staticmethod(torch.floor)
    split_rgb = staticmethod(lambda x: x.split(1, dim=1))
    merge_rgb = staticmethod(lambda r, g, b: torch.cat([r, g, b], dim=1))

    @staticmethod
    def where(cond: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(cond, a, b)

    @staticmethod
    def clamp_min(x: torch.Tensor, low: float) -> torch.Tensor:
        return x.clamp_min(low)

    @staticmethod
    def reduce(x: torch.Tensor, how: Literal["mean", "max", "sum"]) -> torch.Tensor:
        if how == "mean":
            return x.mean(dim=(1, 2, 3), keepdim=True)
        if how == "max":
            return x.amax(dim=(1, 2, 3), keepdim=True)
        return x.sum(dim=(1, 2, 3), keepdim=True)

    @staticmethod
    def gray(x: torch.Tensor) -> torch.Tensor:
        luma = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * luma).sum(dim=1, keepdim=True)


_OPS = _TorchOps()


def _as_float(x: torch.Tensor) -> tuple[torch.Tensor, float]:
    """float32 values and the factor to the ``[0, 1]`` scale (1/255 for uint8).

    The factor is applied after resampling, on the smaller output.
    """
    return x.float(), (1.0 / 255.0 if x.dtype == torch.uint8 else 1.0)


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    # tf.image.resize's bilinear: half-pixel centres, no antialiasing.
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)


def _harmonization_blur(heatmaps: torch.Tensor) -> torch.Tensor:
    """Resize ``[B, 1, H, W]`` to the 64x64 grid and convolve like the reference ('SAME')."""
    kernel = torch.as_tensor(gaussian_kernel(), device=heatmaps.device)[None, None]
    before, after = same_padding(kernel.shape[-1])
    grid = _resize(heatmaps, (BLUR_GRID, BLUR_GRID))
    return F.conv2d(F.pad(grid, (before, after, before, after)), kernel)


def harmonization_preprocess(
    images: torch.Tensor, heatmaps: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic preprocessing of the Harmonization package's ClickMe loader.

    Images are resized to 224x224 (bilinear, half-pixel centres, no
    antialiasing, as ``tf.image.resize``); heatmaps are resized to 64x64,
    blurred with the reference's 10x10, sigma-10 Gaussian as a TensorFlow
    ``'SAME'`` convolution (zero padding 4 before, 5 after) and resized to
    224x224. Values keep their units (no division by 255), as in the reference.

    Parameters
    ----------
    images : torch.Tensor
        ``[B, 3, H, W]``, uint8 or float.
    heatmaps : torch.Tensor
        ``[B, 1, H', W']`` or ``[B, H', W']``, uint8 or float.

    Returns
    -------
    images, heatmaps : torch.Tensor
        ``float32 [B, 3, 224, 224]`` and ``float32`` heatmaps of the input rank,
        on the input device.

    Examples
    --------
    >>> images = torch.zeros(2, 3, 256, 256, dtype=torch.uint8)
    >>> heatmaps = torch.zeros(2, 1, 256, 256, dtype=torch.uint8)
    >>> x, h = harmonization_preprocess(images, heatmaps)
    >>> tuple(x.shape), tuple(h.shape), x.dtype
    ((2, 3, 224, 224), (2, 1, 224, 224), torch.float32)
    """
    has_channel = check_shapes(images.shape, heatmaps.shape, channels_last=False)
    out = (IMAGE_SIZE, IMAGE_SIZE)
    hm = heatmaps.float() if has_channel else heatmaps.float()[:, None]
    hm = _resize(_harmonization_blur(hm), out)
    return _resize(images.float(), out), hm if has_channel else hm[:, 0]


class HeatmapAugment(HeatmapAugmentBase):
    """Random resized crop, flip, rotation and colour jitter that keep heatmaps aligned.

    Per sample, crop, resize, flip and rotation are composed into one affine
    map and applied with a single bilinear resampling to image and heatmap
    alike; photometric changes and normalisation touch the images only.

    Parameters
    ----------
    size : int or (int, int)
        Output ``(height, width)``; an int gives a square.
    scale, ratio : (float, float)
        Crop area fraction and aspect-ratio ranges, as torchvision's
        ``RandomResizedCrop`` (10 tries, then a centred crop).
    hflip : float
        Probability of a horizontal flip.
    degrees : float or (float, float)
        Rotation range in degrees, counter-clockwise; ``d`` means ``(-d, d)``.
    color_jitter : ColorJitter or (brightness, contrast, saturation, hue), optional
        Per-sample photometric factor ranges, as torchvision's ``ColorJitter``
        but applied in that fixed order. ``None`` leaves colours unchanged.
    blur_heatmaps : bool
        Blur heatmaps as the Harmonization loader does before warping them:
        resize to 64x64, 10x10 sigma-10 Gaussian ('SAME'); the warp then
        samples the 64x64 blurred map directly, so with a full-frame crop to
        224 the heatmap equals :func:`harmonization_preprocess`'s (divided by
        255 for uint8 input).
    heatmap_norm : {None, "max", "sum"}
        Rescale each output heatmap to unit maximum or unit sum (all-zero
        heatmaps stay zero).
    normalize : (mean, std), optional
        Per-channel (or scalar) mean and std applied to images after the
        photometric changes, on the ``[0, 1]`` scale.
    seed : int, optional
        Seed of the NumPy generator that draws the parameters; the TensorFlow
        class with the same seed draws the same parameters.

    Notes
    -----
    Input: images ``[B, 3, H, W]``, heatmaps ``[B, 1, H', W']`` or
    ``[B, H', W']``, each uint8 (divided by 255) or float (taken as is;
    images are expected in ``[0, 1]``). Output: ``float32`` images
    ``[B, 3, h, w]`` in ``[0, 1]`` (or normalised) and ``float32`` heatmaps of
    the input rank, on the input device. Output pixels whose source point lies
    outside the source frame are 0 in image and heatmap (before
    normalisation); inside it, sampling clamps to the edge pixels.

    Examples
    --------
    >>> aug = HeatmapAugment(224, degrees=10, seed=0)
    >>> images = torch.randint(0, 256, (8, 3, 256, 256), dtype=torch.uint8)
    >>> heatmaps = torch.randint(0, 256, (8, 1, 256, 256), dtype=torch.uint8)
    >>> x, h = aug(images, heatmaps)
    >>> tuple(x.shape), tuple(h.shape), h.dtype
    ((8, 3, 224, 224), (8, 1, 224, 224), torch.float32)
    """

    def __call__(
        self, images: torch.Tensor, heatmaps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment a batch with freshly drawn parameters; see the class docstring."""
        check_shapes(images.shape, heatmaps.shape, channels_last=False)
        batch, _, height, width = images.shape
        return self.apply(images, heatmaps, self.sample(batch, height, width))

    def apply(
        self, images: torch.Tensor, heatmaps: torch.Tensor, params: AugmentParams
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment a batch with the given parameters.

        Examples
        --------
        >>> aug = HeatmapAugment(blur_heatmaps=False)
        >>> images = torch.rand(2, 3, 32, 32)
        >>> p = AugmentParams.identity(2, 32, 32)
        >>> torch.allclose(aug.apply(images, images[:, :1], p)[0], images, atol=1e-5)
        True
        """
        has_channel = check_shapes(images.shape, heatmaps.shape, channels_last=False)
        batch, _, height, width = images.shape
        check_params(params, batch, height, width)
        device = images.device
        heatmaps = heatmaps if has_channel else heatmaps[:, None]
        theta = torch.as_tensor(params.normalized_affine(), dtype=torch.float32, device=device)
        factors = {
            name: torch.as_tensor(value, dtype=torch.float32, device=device).view(-1, 1, 1, 1)
            for name, value in params.color_factors().items()
        }
        masked = not params.within_frame().all()
        block = _cpu_block(params.size) if device.type == "cpu" else batch
        if block >= batch:
            image, heat = self._transform(images, heatmaps, theta, factors, masked, params.size)
        else:
            # On the CPU, whole-batch intermediates (~150 MB each) stream through memory
            # once per elementwise pass; blocks of a few samples stay in cache (4.5x faster
            # for the colour jitter, BENCHMARKS.md). Every op is still batched over a block.
            parts = [
                self._transform(
                    images[start : start + block],
                    heatmaps[start : start + block],
                    theta[start : start + block],
                    {name: v[start : start + block] for name, v in factors.items()},
                    masked,
                    params.size,
                )
                for start in range(0, batch, block)
            ]
            image, heat = (torch.cat([part[i] for part in parts]) for i in (0, 1))
        return image, heat if has_channel else heat[:, 0]

    def _transform(
        self,
        images: torch.Tensor,
        heatmaps: torch.Tensor,
        theta: torch.Tensor,
        factors: dict[str, torch.Tensor],
        masked: bool,
        size: tuple[int, int],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The augmentation of ``[b, 3, H, W]`` images and ``[b, 1, H', W']`` heatmaps."""
        image, image_scale = _as_float(images)
        heat, heat_scale = _as_float(heatmaps)
        if self.blur_heatmaps:
            heat = _harmonization_blur(heat)
        # Normalised coordinates do not depend on resolution: one grid samples
        # the image, the heatmap at its own size and the 64x64 blur grid.
        coords = _unit_coords(theta, size)
        grid = coords.permute(0, 2, 3, 1)
        # 'border' plus the frame mask: edge pixels are clamped up to the frame's
        # edge (zeros padding would darken the outer half pixel), 0 beyond it.
        keep: torch.Tensor | float = 1.0
        if masked:
            keep = (coords.abs().amax(dim=1, keepdim=True) <= 1.0).float()
        image = _scale(_sample(image, grid), keep * image_scale)
        heat = _scale(_sample(heat, grid), keep * heat_scale)
        image = adjust_color(image, factors, _OPS)
        if self.normalize is not None:
            mean, std = (
                torch.as_tensor(v, dtype=torch.float32, device=image.device).view(1, 3, 1, 1)
                for v in self.normalize
            )
            image = (image - mean) / std
        return image, renormalize(heat, self.heatmap_norm, _OPS)


CPU_BLOCK_BYTES = 2**21
"""Bytes of one float output channel block on the CPU: a few samples, sized to stay in cache."""


def _cpu_block(size: tuple[int, int]) -> int:
    """Samples per block on the CPU for outputs of ``size``."""
    return max(1, CPU_BLOCK_BYTES // (3 * size[0] * size[1] * 4))


def _unit_coords(theta: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[B, 2, h, w]`` source (x, y) in ``[-1, 1]`` units for each output pixel centre.

    What ``F.affine_grid(theta, ..., align_corners=False)`` computes, but by
    broadcasting instead of a batched matmul: several times faster on CPU,
    and TF32 matmul settings cannot perturb the coordinates.
    """
    height, width = size
    xs = (torch.arange(width, dtype=theta.dtype, device=theta.device) * 2 + 1) / width - 1
    ys = (torch.arange(height, dtype=theta.dtype, device=theta.device) * 2 + 1) / height - 1
    t = theta[..., None, None]
    return t[:, :, 0] * xs + (t[:, :, 1] * ys[:, None] + t[:, :, 2])


def _scale(x: torch.Tensor, factor: torch.Tensor | float) -> torch.Tensor:
    # x is a fresh resampling output, so scaling in place is safe.
    return x if isinstance(factor, float) and factor == 1.0 else x.mul_(factor)


def _sample(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
