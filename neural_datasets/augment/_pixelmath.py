"""Pointwise image math written once for both frameworks.

The functions here use only arithmetic operators, which torch and TensorFlow
tensors both overload, plus the primitives of :class:`ArrayOps` that each
framework module supplies. They never name an axis: per-sample factors are
``[B, 1, 1, 1]`` tensors, which broadcast the same way against NCHW and NHWC
batches, and the layout-specific steps (grey level, channel split) are
primitives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

Tensor = Any  # a torch.Tensor or a tf.Tensor; this module never imports either
HeatmapNorm = Literal["max", "sum"] | None

LUMA = (0.2989, 0.587, 0.114)
"""Grey-level weights of R, G, B, as in torchvision's ``rgb_to_grayscale``."""

_TINY = 1e-12  # a divisor floor: 0 / _TINY keeps zeros at zero


class ArrayOps(Protocol):
    """Framework primitives the shared math needs, for one batch layout."""

    def clip01(self, x: Tensor) -> Tensor:
        """Clamp to ``[0, 1]``."""

    def blend01(self, a: Tensor, b: Tensor, weight: Tensor) -> Tensor:
        """Return ``clip01(weight * a + (1 - weight) * b)``."""

    def where(self, cond: Tensor, a: Tensor, b: Tensor) -> Tensor:
        """Elementwise select."""

    def maximum(self, a: Tensor, b: Tensor) -> Tensor:
        """Elementwise maximum."""

    def minimum(self, a: Tensor, b: Tensor) -> Tensor:
        """Elementwise minimum."""

    def floor(self, x: Tensor) -> Tensor:
        """Elementwise floor."""

    def clamp_min(self, x: Tensor, low: float) -> Tensor:
        """Elementwise ``max(x, low)`` with a Python number."""

    def reduce(self, x: Tensor, how: Literal["mean", "max", "sum"]) -> Tensor:
        """Reduce every axis but the batch, keeping them as size 1: ``[B, 1, 1, 1]``."""

    def gray(self, rgb: Tensor) -> Tensor:
        """Grey level (:data:`LUMA` weights) with a channel axis of size 1."""

    def split_rgb(self, rgb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The three channels, each keeping a channel axis of size 1."""

    def merge_rgb(self, r: Tensor, g: Tensor, b: Tensor) -> Tensor:
        """Inverse of :meth:`split_rgb`."""


def _shift_hue(rgb: Tensor, delta: Tensor, ops: ArrayOps) -> Tensor:
    """Rotate the HSV hue by ``delta`` turns, keeping value and saturation.

    Equivalent to torchvision's RGB -> HSV -> RGB round trip, but uses the
    closed form ``c_n = v - chroma * clip(min(k, 4 - k), 0, 1)`` with
    ``k = (n + 6 h) mod 6`` (n = 5, 3, 1 for R, G, B) to avoid building HSV.
    """
    r, g, b = ops.split_rgb(rgb)
    v = ops.maximum(ops.maximum(r, g), b)
    chroma = v - ops.minimum(ops.minimum(r, g), b)
    # Hue in sixths of a turn, one division for all branches; red wins ties, as
    # in torchvision's _rgb2hsv. Grey pixels (zero chroma) get hue 0.
    numerator = ops.where(
        v == r, g - b, ops.where(v == g, b - r + 2.0 * chroma, r - g + 4.0 * chroma)
    )
    sixths = numerator / ops.clamp_min(chroma, _TINY) + 6.0 * delta
    sixths = sixths - 6.0 * ops.floor(sixths / 6.0)
    out = []
    for n in (5.0, 3.0, 1.0):
        k = n + sixths
        k = ops.where(k >= 6.0, k - 6.0, k)
        out.append(v - chroma * ops.clip01(ops.minimum(k, 4.0 - k)))
    return ops.merge_rgb(*out)


def adjust_color(rgb: Tensor, factors: Mapping[str, Tensor], ops: ArrayOps) -> Tensor:
    """Apply the photometric factors present in ``factors``, in a fixed order.

    The order is brightness, contrast, saturation, hue; each follows
    torchvision's definition for float images in ``[0, 1]`` (blend with black,
    with the mean grey level, with the grey image; hue rotation).
    """
    if "brightness" in factors:
        rgb = ops.clip01(factors["brightness"] * rgb)
    if "contrast" in factors:
        rgb = ops.blend01(rgb, ops.reduce(ops.gray(rgb), "mean"), factors["contrast"])
    if "saturation" in factors:
        rgb = ops.blend01(rgb, ops.gray(rgb), factors["saturation"])
    if "hue" in factors:
        rgb = _shift_hue(rgb, factors["hue"], ops)
    return rgb


def renormalize(heatmap: Tensor, how: HeatmapNorm, ops: ArrayOps) -> Tensor:
    """Scale each heatmap of a batch to unit max or unit sum; all-zero ones stay zero."""
    if how is None:
        return heatmap
    if how not in ("max", "sum"):
        raise ValueError(f"heatmap_norm must be None, 'max' or 'sum', got {how!r}")
    return heatmap / ops.clamp_min(ops.reduce(heatmap, how), _TINY)
