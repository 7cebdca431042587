"""Heatmap-aligned data augmentation for harmonization training.

Image and heatmap go through the same per-sample geometry (random resized
crop, horizontal flip, rotation) with one bilinear resampling for the whole
batch, where the batch already is (GPU or CPU); photometric jitter and
normalisation apply to images only.

The framework code lives in two submodules with the same names and meanings,
imported explicitly so that this package never imports a framework:

* :mod:`neural_datasets.augment.torch` — NCHW ``torch.Tensor`` batches;
* :mod:`neural_datasets.augment.tf` — NHWC ``tf.Tensor`` batches, usable in
  ``tf.function`` and ``tf.data``.

Each provides ``HeatmapAugment`` and ``harmonization_preprocess``. This
package exports the framework-free parts: parameters sampled once with
:func:`sample_params` give the same output in both frameworks.

Examples
--------
>>> from neural_datasets.augment import sample_params
>>> params = sample_params(8, 256, 256, size=224, degrees=10, rng=0)
>>> params.affine().shape
(8, 3, 3)
"""

from neural_datasets.augment.params import COLOR_OPS, AugmentParams, ColorJitter, sample_params

__all__ = ["COLOR_OPS", "AugmentParams", "ColorJitter", "sample_params"]
