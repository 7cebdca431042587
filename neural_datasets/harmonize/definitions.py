"""What the PyTorch and Keras harmonizer losses share, without either framework.

Each definition restates the Harmonization package's training code
(``harmonization/training/loss.py`` and ``pyramid.py``, Fel et al. 2022) once,
so that :mod:`neural_datasets.harmonize.torch` and
:mod:`neural_datasets.harmonize.tf` cannot drift apart.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BINOMIAL_KERNEL",
    "LABEL_SMOOTHING",
    "LAMBDA_HARMONIZATION",
    "LAMBDA_WEIGHTS",
    "MAX_EPSILON",
    "PYRAMID_LEVELS",
    "PYRAMID_STRIDE",
    "STANDARDIZE_EPSILON",
    "is_decayed",
    "same_padding",
]

LAMBDA_WEIGHTS = 1e-5
"""Weight of the L2 term, ``sum(w**2) / 2`` over the decayed weights."""

LAMBDA_HARMONIZATION = 1.0
"""Weight of the pyramidal MSE between saliency and human maps."""

LABEL_SMOOTHING = 0.1
"""Label smoothing of the cross-entropy: targets ``y * (1 - s) + s / classes``."""

PYRAMID_LEVELS = 5
"""Levels compared: the full-resolution map and four stride-2 reductions."""

PYRAMID_STRIDE = 2
"""Each pyramid level halves the previous one (rounding up, as ``SAME`` does)."""

STANDARDIZE_EPSILON = 1e-5
"""Added to the standard deviation before dividing (standardize-cut)."""

MAX_EPSILON = 1e-6
"""Added to each map's maximum before rescaling the human maps to the saliency's."""

_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0])
BINOMIAL_KERNEL = (np.outer(_BINOMIAL, _BINOMIAL) / np.outer(_BINOMIAL, _BINOMIAL).sum()).astype(
    np.float32
)
"""The 5x5 binomial low-pass filter (outer product of 1-4-6-4-1, unit sum) of each reduction."""

# Substrings of a weight's name that exclude it from the L2 term (Harmonization's list):
# normalisation scales and offsets, embeddings, a vision transformer's class token.
_NOT_DECAYED = ("bn/", "normalization", "embed", "Norm", "norm", "class_token")


def is_decayed(name: str) -> bool:
    """Whether the weight called ``name`` enters the L2 term (Harmonization's name rule).

    Harmonization skips every trainable variable whose name contains ``bn/``,
    ``normalization``, ``embed``, ``Norm``, ``norm`` or ``class_token``.

    Examples
    --------
    >>> is_decayed("conv1/kernel"), is_decayed("conv1_bn/gamma"), is_decayed("pos_embed")
    (True, False, False)
    """
    return not any(part in name for part in _NOT_DECAYED)


def same_padding(size: int, kernel: int = 5, stride: int = PYRAMID_STRIDE) -> tuple[int, int]:
    """Zeros TensorFlow's ``SAME`` adds before and after a dimension of ``size``.

    The output has ``ceil(size / stride)`` positions; the padding that needs is
    split with the odd one *after* (TensorFlow's rule, which PyTorch's
    symmetric ``padding=`` cannot express).

    Examples
    --------
    >>> same_padding(224), same_padding(15), same_padding(1)
    ((1, 2), (2, 2), (2, 2))
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2
