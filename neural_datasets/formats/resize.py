"""Bilinear image resizing that matches OpenCV's ``cv2.resize`` bit for bit.

The neural-harmonizer loader resizes stimuli with ``cv2.resize(img, (224, 224))``
(``INTER_LINEAR``). Reproducing its output matters because models are scored
on those exact pixels, and OpenCV's uint8 path is not textbook bilinear
interpolation: sample positions are computed in float32, weights are rounded
to 11-bit fixed point, the horizontal pass keeps integers, and the vertical
pass rounds in two 16-bit steps. This module follows that arithmetic in numpy,
so neural-datasets needs no OpenCV dependency.
"""

from __future__ import annotations

import numpy as np

_COEF_BITS = 11  # OpenCV's INTER_RESIZE_COEF_BITS
_ONE = np.float32(1 << _COEF_BITS)


def _taps(n_out: int, n_in: int, *, clamp_weights: bool) -> tuple[np.ndarray, ...]:
    """Source indices and fixed-point weights of the two taps of each output position."""
    scale = 1.0 / (n_out / n_in)  # OpenCV inverts the inverse scale, in double
    pos = ((np.arange(n_out) + 0.5) * scale - 0.5).astype(np.float32)
    first = np.floor(pos).astype(np.int64)
    frac = pos - first.astype(np.float32)
    if clamp_weights:
        # Horizontally OpenCV moves out-of-range taps onto the edge pixel with full weight;
        # vertically it only clamps the row indices and keeps the weights, which rounds
        # differently, so the two axes must not share this step.
        outside = (first < 0) | (first >= n_in - 1)
        frac[outside] = 0
        first = np.clip(first, 0, n_in - 1)
    w0 = np.rint((np.float32(1) - frac) * _ONE).astype(np.int32)
    w1 = np.rint(frac * _ONE).astype(np.int32)
    return np.clip(first, 0, n_in - 1), np.clip(first + 1, 0, n_in - 1), w0, w1


def resize_bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 image exactly like ``cv2.resize(image, (width, height))``.

    Parameters
    ----------
    image
        ``(height, width)`` or ``(height, width, channels)`` uint8 array.
    size
        Output ``(height, width)``. Note the order: OpenCV takes ``(width, height)``.

    Returns
    -------
    numpy.ndarray
        uint8 array of shape ``(*size, channels)`` (or ``size`` for 2-D input),
        equal to OpenCV's ``INTER_LINEAR`` result (half-pixel centres, edge
        clamping, no antialiasing when shrinking).

    Examples
    --------
    >>> img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    >>> resize_bilinear(img, (2, 2))
    array([[1, 3],
           [7, 9]], dtype=uint8)
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise TypeError(
            f"resize_bilinear takes a 2-D or 3-D uint8 image, got {image.ndim}-D {image.dtype}"
        )
    height, width = (int(s) for s in size)
    if height < 1 or width < 1:
        raise ValueError(f"output size must be positive, got {size}")
    if image.shape[:2] == (height, width):
        return image.copy()
    pixels = image if image.ndim == 3 else image[:, :, None]
    x0, x1, a0, a1 = _taps(width, pixels.shape[1], clamp_weights=True)
    y0, y1, b0, b1 = _taps(height, pixels.shape[0], clamp_weights=False)
    src = pixels.astype(np.int32)
    # Horizontal pass: integers scaled by 2**11, as OpenCV's row buffer holds them.
    rows = src[:, x0] * a0[None, :, None] + src[:, x1] * a1[None, :, None]
    # Vertical pass as OpenCV's SIMD kernel does it: drop 4 bits, multiply-high by the
    # 16-bit weights, add with rounding, drop 2 more bits.
    top = (rows[y0] >> 4) * b0[:, None, None] >> 16
    bottom = (rows[y1] >> 4) * b1[:, None, None] >> 16
    out = np.clip((top + bottom + 2) >> 2, 0, 255).astype(np.uint8)
    return out if image.ndim == 3 else out[:, :, 0]
