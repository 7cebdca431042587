"""Constants and kernel of the Harmonization package's ClickMe preprocessing.

The Harmonization package (serre-lab) loads ClickMe with ``tf.data`` and, per
sample, resizes the image to 224x224 (``tf.image.resize``, bilinear, float
0-255) and builds the training heatmap in three steps: bilinear resize to
64x64, a ``tf.nn.conv2d`` with a 10x10 Gaussian kernel of sigma 10 and
``'SAME'`` padding, and a bilinear resize to 224x224. This module holds that
recipe as framework-free numbers so that the torch and TensorFlow
implementations of :func:`harmonization_preprocess` use the same kernel.

Two details of the reference matter for an exact match:

* its kernel is built on the offsets ``-5..4`` along x but ``4..-5`` along y,
  so the peak of the 10x10 kernel sits at row 4, column 5 (not centred);
* TensorFlow's ``'SAME'`` padding for an even kernel is asymmetric: 4 zeros
  before and 5 after along each axis.

Together they shift the blurred heatmap by about half a 64x64 pixel (about two
pixels at 256x256); :func:`gaussian_kernel` and :func:`same_padding` keep that
behaviour on purpose, so models see the heatmaps the reference produced.
"""

from __future__ import annotations

import numpy as np

IMAGE_SIZE = 224
"""Side of the images and heatmaps the reference feeds to the model."""

BLUR_GRID = 64
"""Side of the grid on which the reference blurs heatmaps."""

BLUR_KERNEL_SIZE = 10
"""Side of the reference's Gaussian kernel."""

BLUR_SIGMA = 10.0
"""Standard deviation, in pixels of the blur grid, of the reference's kernel."""


def gaussian_kernel(size: int = BLUR_KERNEL_SIZE, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """Return the reference's normalised 2-D Gaussian kernel.

    Parameters
    ----------
    size : int
        Side of the square kernel.
    sigma : float
        Standard deviation in pixels.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of shape ``(size, size)`` summing to 1, laid out for a
        cross-correlation (``tf.nn.conv2d`` / ``torch.nn.functional.conv2d``):
        entry ``[i, j]`` weighs the input pixel ``i - before`` rows and
        ``j - before`` columns away, with ``before`` from :func:`same_padding`.

    Examples
    --------
    >>> k = gaussian_kernel()
    >>> k.shape, round(float(k.sum()), 6)
    ((10, 10), 1.0)
    >>> np.unravel_index(k.argmax(), k.shape)
    (np.int64(4), np.int64(5))
    """
    if size < 1 or sigma <= 0:
        raise ValueError(f"need size >= 1 and sigma > 0, got size={size}, sigma={sigma}")
    # The reference's axes run x = -(size-1)//2 ... and y = (size-1)//2 ... with
    # Python floor division, which puts the peak off-centre for even sizes.
    rows = np.arange(size) - (size - 1) // 2
    cols = np.arange(size) + (-(size - 1)) // 2
    sq = rows[:, None] ** 2 + cols[None, :] ** 2
    kernel = np.exp(-sq / (2.0 * sigma**2))
    return (kernel / kernel.sum()).astype(np.float32)


def same_padding(size: int = BLUR_KERNEL_SIZE) -> tuple[int, int]:
    """Return the ``(before, after)`` zero padding of TensorFlow's ``'SAME'`` mode.

    Parameters
    ----------
    size : int
        Kernel side (stride 1, no dilation).

    Returns
    -------
    tuple of int
        Zeros added before and after each spatial axis; ``after`` gets the odd
        one out for even sizes.

    Examples
    --------
    >>> same_padding(10)
    (4, 5)
    """
    total = size - 1
    return total // 2, total - total // 2
