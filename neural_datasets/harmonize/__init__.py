"""Harmonized training: the harmonizer loss of Fel et al. (2022) for PyTorch and Keras.

A harmonized model learns to classify while its gradient saliency is pulled
toward human feature-importance maps (ClickMe heatmaps). The loss is the one
of the Harmonization package (``harmonization.training.harmonizer_loss``),
restated so that it sits inside any training loop:

* :mod:`neural_datasets.harmonize.torch`: ``harmonizer_loss`` (a differentiable
  tensor to ``.backward()``), the ``HarmonizerLoss`` module, ``standardize_cut``
  and ``pyramidal_mse`` (images NCHW);
* :mod:`neural_datasets.harmonize.tf`: the same functions for a
  ``tf.GradientTape`` and ``HarmonizedModel``, a Keras model whose ``fit``
  trains harmonized (images NHWC).

Importing this package imports neither framework; each submodule imports its
own, and says which extra to install when it is missing. The framework-free
definitions both share (the binomial kernel, the ``SAME`` padding, the
weight-decay rule, the defaults) are in
:mod:`neural_datasets.harmonize.definitions`. ``docs/training.md`` explains
the loss term by term.

Examples
--------
>>> import neural_datasets.harmonize as harmonize
>>> harmonize.LAMBDA_WEIGHTS, harmonize.LABEL_SMOOTHING, harmonize.PYRAMID_LEVELS
(1e-05, 0.1, 5)
"""

from neural_datasets.harmonize.definitions import (
    BINOMIAL_KERNEL,
    LABEL_SMOOTHING,
    LAMBDA_HARMONIZATION,
    LAMBDA_WEIGHTS,
    PYRAMID_LEVELS,
    is_decayed,
    same_padding,
)

__all__ = [
    "BINOMIAL_KERNEL",
    "LABEL_SMOOTHING",
    "LAMBDA_HARMONIZATION",
    "LAMBDA_WEIGHTS",
    "PYRAMID_LEVELS",
    "is_decayed",
    "same_padding",
]
