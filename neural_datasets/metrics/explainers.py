"""Gradient saliency maps for ClickMe scoring, one definition per name, in PyTorch and Keras.

The lab's code computes "saliency" in at least three ways under one score name; here each has
its own name, and a score records which one it used:

* ``"saliency"`` (the default, xplique's ``Saliency`` as Harmonization's ``evaluate_clickme``
  uses it): the maximum over colour channels of ``|d logit[label] / d input|``;
* ``"mean_gradient"``: the signed channel mean of the gradient (the map Harmonization's
  training loss aligns, before its standardisation);
* ``"abs_mean_gradient"``: the absolute value of that channel mean.

``logit[label]`` is the model's output dotted with the one-hot labels, as xplique does with
one-hot targets. PyTorch models take ``(B, C, H, W)`` inputs, Keras models ``(B, H, W, C)``;
the maps are ``(B, H, W)`` tensors of the model's framework.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .frameworks import framework_of

__all__ = ["SALIENCY_DEFINITIONS", "saliency_explainer"]

SALIENCY_DEFINITIONS = {
    "saliency": "max over channels of |d logit[label] / d input| (xplique Saliency)",
    "mean_gradient": "channel mean of d logit[label] / d input (signed)",
    "abs_mean_gradient": "|channel mean of d logit[label] / d input|",
}
"""The named saliency definitions and what each computes."""

Explainer = Callable[[Any, Any], Any]


def saliency_explainer(model: Any, definition: str = "saliency") -> Explainer:
    """An explainer ``(images, one_hot_labels) -> maps (B, H, W)`` for a PyTorch or Keras model.

    Parameters
    ----------
    model
        A ``torch.nn.Module`` (inputs ``(B, C, H, W)``) or a Keras model (``(B, H, W, C)``).
    definition
        One of :data:`SALIENCY_DEFINITIONS`.

    Returns
    -------
    callable
        Takes images and one-hot labels as tensors of the model's framework and returns the
        maps as a tensor of that framework. Models are run in inference mode (Keras:
        ``training=False``; PyTorch: ``eval()``, each module's mode restored afterwards), and
        no gradient is accumulated into the model's parameters.

    Raises
    ------
    ValueError
        An unknown ``definition``.
    TypeError
        ``model`` is neither a PyTorch nor a Keras model.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2))
    >>> explain = saliency_explainer(model, "saliency")
    >>> explain(torch.ones(5, 3, 4, 4), torch.eye(2)[[0, 1, 0, 1, 0]]).shape
    torch.Size([5, 4, 4])
    """
    if definition not in SALIENCY_DEFINITIONS:
        raise ValueError(
            f"definition must be one of {sorted(SALIENCY_DEFINITIONS)}; got {definition!r}"
        )
    if framework_of(model) == "torch":
        return _torch_explainer(model, definition)
    return _keras_explainer(model, definition)


def _torch_explainer(model: Any, definition: str) -> Explainer:
    import torch

    def explain(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        inputs = images.detach().clone().requires_grad_(True)
        modes = [(module, module.training) for module in model.modules()]
        model.eval()  # as Keras models are called with training=False: no dropout, BN stats
        try:
            with torch.enable_grad():
                score = (model(inputs) * labels.to(inputs.dtype)).sum()
                (gradient,) = torch.autograd.grad(score, inputs)
        finally:
            for module, training in modes:
                module.training = training
        if definition == "saliency":
            return gradient.abs().amax(dim=1)
        mean = gradient.mean(dim=1)
        return mean.abs() if definition == "abs_mean_gradient" else mean

    return explain


def _keras_explainer(model: Any, definition: str) -> Explainer:
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def explain(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        images = tf.convert_to_tensor(images)
        with tf.GradientTape() as tape:
            tape.watch(images)
            score = tf.reduce_sum(model(images, training=False) * tf.cast(labels, images.dtype))
        gradient = tape.gradient(score, images)
        if definition == "saliency":
            return tf.reduce_max(tf.abs(gradient), axis=-1)
        mean = tf.reduce_mean(gradient, axis=-1)
        return tf.abs(mean) if definition == "abs_mean_gradient" else mean

    return explain
