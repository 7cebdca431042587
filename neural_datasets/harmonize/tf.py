"""The harmonizer loss in TensorFlow (needs ``[tf]``): a tensor for your tape, or ``model.fit``.

Images are NHWC, human maps ``(B, H, W)`` or ``(B, H, W, 1)``, labels one-hot
``(B, classes)`` or integer classes ``(B,)``. The model returns logits.
:func:`harmonizer_loss` returns the loss to differentiate in the caller's
``tf.GradientTape`` (Harmonization's function runs its own tape and returns
gradients; :mod:`neural_datasets.compat.harmonization` keeps that form);
:class:`HarmonizedModel` wraps a Keras model so that ``fit`` trains it
harmonized. Works with the Keras that TensorFlow ships (Keras 3) and with
Keras 2 (``tf-keras``); see ``docs/training.md``.

Examples
--------
>>> import tensorflow as tf
>>> from neural_datasets.harmonize.tf import harmonizer_loss
>>> tf.keras.utils.set_random_seed(0)
>>> layers = tf.keras.layers
>>> model = tf.keras.Sequential([tf.keras.Input((16, 16, 3)), layers.Conv2D(4, 3),
...                              layers.GlobalAveragePooling2D(), layers.Dense(10)])
>>> images, heatmaps = tf.random.uniform((2, 16, 16, 3)), tf.random.uniform((2, 16, 16))
>>> with tf.GradientTape() as tape:
...     loss = harmonizer_loss(model, images, tf.constant([3, 7]), heatmaps)
>>> [tuple(g.shape) for g in tape.gradient(loss, model.trainable_variables)]
[(3, 3, 3, 4), (4,), (4, 10), (10,)]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from neural_datasets._checks import framework_import
from neural_datasets.harmonize.definitions import (
    BINOMIAL_KERNEL,
    LABEL_SMOOTHING,
    LAMBDA_HARMONIZATION,
    LAMBDA_WEIGHTS,
    MAX_EPSILON,
    PYRAMID_LEVELS,
    PYRAMID_STRIDE,
    STANDARDIZE_EPSILON,
    is_decayed,
)

with framework_import("neural_datasets.harmonize.tf"):
    import tensorflow as tf

__all__ = [
    "HarmonizedModel",
    "LossTerms",
    "harmonizer_loss",
    "loss_terms",
    "pyramidal_mse",
    "pyramidal_representation",
    "standardize_cut",
    "weight_decay",
]

CrossEntropy = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def standardize_cut(maps: tf.Tensor, epsilon: float = STANDARDIZE_EPSILON) -> tf.Tensor:
    """Standardize each map over axes 1 and 2 (spatial), then keep the positive part.

    ``relu((m - mean(m)) / (std(m) + epsilon))`` with the population standard
    deviation, as Harmonization's ``standardize_cut``; maps ``(B, H, W)`` or
    ``(B, H, W, C)``.

    Examples
    --------
    >>> standardize_cut(tf.constant([[[0.0, 2.0], [0.0, 2.0]]])).numpy().round(4).tolist()
    [[[0.0, 1.0], [0.0, 1.0]]]
    """
    maps = tf.convert_to_tensor(maps)
    if maps.shape.rank is not None and maps.shape.rank not in (3, 4):
        raise ValueError(f"maps must be (B, H, W) or (B, H, W, C); got shape {maps.shape}")
    mean = tf.reduce_mean(maps, (1, 2), keepdims=True)
    std = tf.math.reduce_std(maps, (1, 2), keepdims=True)
    return tf.nn.relu((maps - mean) / (std + epsilon))


def pyramidal_representation(maps: tf.Tensor, levels: int = PYRAMID_LEVELS) -> list[tf.Tensor]:
    """``maps`` ``(B, H, W, C)`` and ``levels`` reductions: 5x5 binomial blur, stride 2, ``SAME``.

    Examples
    --------
    >>> [level.shape.as_list() for level in pyramidal_representation(tf.ones((1, 30, 30, 1)), 3)]
    [[1, 30, 30, 1], [1, 15, 15, 1], [1, 8, 8, 1], [1, 4, 4, 1]]
    """
    maps = tf.convert_to_tensor(maps)
    if maps.shape.rank != 4 or maps.shape[-1] is None:
        raise ValueError(f"maps must be (B, H, W, C) with known C; got shape {maps.shape}")
    kernel = np.repeat(BINOMIAL_KERNEL[:, :, None, None], maps.shape[-1], axis=2)
    kernel = tf.constant(kernel, dtype=maps.dtype)
    strides = (1, PYRAMID_STRIDE, PYRAMID_STRIDE, 1)
    pyramid = [maps]
    for _ in range(levels):
        maps = tf.nn.depthwise_conv2d(maps, kernel, strides, "SAME")
        pyramid.append(maps)
    return pyramid


def pyramidal_mse(
    true: tf.Tensor,
    pred: tf.Tensor,
    tokens: tf.Tensor | None = None,
    levels: int = PYRAMID_LEVELS,
) -> tf.Tensor:
    """Mean over ``levels`` pyramid levels of the token-weighted mean squared error.

    Level 0 is the maps themselves, level ``i`` their ``i``-th reduction; each
    level's squared error times the sample's token is averaged over every
    element of the batch (Harmonization's ``pyramidal_mse_with_tokens``).

    Parameters
    ----------
    true, pred
        Maps ``(B, H, W)`` or ``(B, H, W, 1)``.
    tokens
        ``(B,)`` weights; 0 marks a sample without a human map. Default: ones.
    levels
        Levels compared (Harmonization: 5).

    Examples
    --------
    >>> true, pred = tf.zeros((2, 8, 8)), tf.ones((2, 8, 8))  # zero padding darkens the borders
    >>> [round(float(pyramidal_mse(true, pred, tokens)), 4) for tokens in (None, [1.0, 0.0])]
    [0.4129, 0.2065]
    """
    true, pred = _as_bhwc(true, "true"), _as_bhwc(pred, "pred")
    if true.shape.is_fully_defined() and true.shape != pred.shape:
        raise ValueError(
            f"true and pred must have the same shape; got {true.shape} and {pred.shape}"
        )
    weights = _tokens(tokens, true)[:, None, None, None]
    pairs = zip(
        pyramidal_representation(true, levels - 1), pyramidal_representation(pred, levels - 1)
    )
    return tf.reduce_mean(tf.stack([tf.reduce_mean(tf.square(t - p) * weights) for t, p in pairs]))


def weight_decay(variables: list[tf.Variable]) -> tf.Tensor:
    """``sum(v**2) / 2`` over the ``variables`` Harmonization decays (skipped by name).

    The name is the variable's path in Keras 3 (``"conv1_bn/gamma"``; its
    ``name`` there is only ``"gamma"``) and its name in Keras 2
    (``"conv1_bn/gamma:0"``); see :func:`~neural_datasets.harmonize.definitions.is_decayed`.

    Examples
    --------
    >>> layer = tf.keras.layers.Dense(2, bias_initializer="ones")
    >>> layer.build((None, 3))
    >>> float(weight_decay(layer.trainable_variables)) - float(tf.reduce_sum(layer.kernel**2)) / 2
    1.0
    """
    decayed = [v for v in variables if is_decayed(_variable_name(v))]
    if not decayed:
        return tf.constant(0.0)
    return tf.add_n([tf.nn.l2_loss(tf.cast(v, tf.float32)) for v in decayed])


class LossTerms(NamedTuple):
    """The harmonizer loss and its three terms (each before its lambda)."""

    loss: tf.Tensor
    cross_entropy: tf.Tensor
    weight_decay: tf.Tensor
    harmonization: tf.Tensor


def loss_terms(
    model: Callable[..., tf.Tensor],
    images: tf.Tensor,
    labels: tf.Tensor,
    heatmaps: tf.Tensor,
    tokens: tf.Tensor | None = None,
    *,
    lambda_weights: float = LAMBDA_WEIGHTS,
    lambda_harmonization: float = LAMBDA_HARMONIZATION,
    label_smoothing: float = LABEL_SMOOTHING,
    training: bool = True,
    cross_entropy: CrossEntropy | None = None,
) -> LossTerms:
    """:func:`harmonizer_loss` with its terms apart (what :class:`HarmonizedModel` reports).

    ``cross_entropy``, when given, replaces the label-smoothed cross-entropy:
    called as ``cross_entropy(one_hot_labels, logits)``, its mean is taken.

    Examples
    --------
    >>> model = tf.keras.Sequential([tf.keras.Input((8, 8, 1)), tf.keras.layers.Flatten(),
    ...                              tf.keras.layers.Dense(3, kernel_initializer="zeros")])
    >>> terms = loss_terms(model, tf.ones((1, 8, 8, 1)), tf.constant([0]), tf.ones((1, 8, 8)))
    >>> round(float(terms.cross_entropy), 4), float(terms.weight_decay)  # log(3): uniform logits
    (1.0986, 0.0)
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"images must be (B, H, W, C); got shape {images.shape}")
    if not images.dtype.is_floating:
        raise TypeError(f"images must be floating point; got {images.dtype.name}")
    heatmaps = _as_bhwc(heatmaps, "heatmaps")[..., 0]
    known = images.shape.is_fully_defined() and heatmaps.shape.is_fully_defined()
    if known and heatmaps.shape != images.shape[:3]:
        raise ValueError(
            f"heatmaps must be (B, H, W) or (B, H, W, 1) matching images {images.shape}; "
            f"got {heatmaps.shape}"
        )
    with tf.GradientTape() as saliency_tape:
        saliency_tape.watch(images)
        logits = model(images, training=training)
        if logits.shape.rank != 2:
            raise ValueError(f"model must return logits (B, classes); got shape {logits.shape}")
        targets = _one_hot(labels, logits)
        labelled_logit = tf.reduce_sum(logits * tf.cast(targets, logits.dtype), -1)
    gradient = saliency_tape.gradient(labelled_logit, images)
    saliency = standardize_cut(tf.reduce_mean(tf.cast(gradient, tf.float32), -1))
    human = standardize_cut(tf.cast(heatmaps, tf.float32))
    saliency_max = tf.stop_gradient(tf.reduce_max(saliency, (1, 2), keepdims=True)) + MAX_EPSILON
    human = human / (tf.reduce_max(human, (1, 2), keepdims=True) + MAX_EPSILON) * saliency_max
    harmonization = pyramidal_mse(saliency, human, tokens)

    logits = tf.cast(logits, tf.float32)
    if cross_entropy is None:
        classes = tf.cast(tf.shape(logits)[-1], tf.float32)
        smoothed = targets * (1.0 - label_smoothing) + label_smoothing / classes
        per_sample = tf.nn.softmax_cross_entropy_with_logits(smoothed, logits)
    else:
        per_sample = tf.cast(cross_entropy(targets, logits), tf.float32)
    classification = tf.reduce_mean(per_sample)
    variables = getattr(model, "trainable_variables", [])
    decay = weight_decay(variables)
    loss = classification + lambda_weights * decay + lambda_harmonization * harmonization
    return LossTerms(loss, classification, decay, harmonization)


def harmonizer_loss(
    model: Callable[..., tf.Tensor],
    images: tf.Tensor,
    labels: tf.Tensor,
    heatmaps: tf.Tensor,
    tokens: tf.Tensor | None = None,
    *,
    lambda_weights: float = LAMBDA_WEIGHTS,
    lambda_harmonization: float = LAMBDA_HARMONIZATION,
    label_smoothing: float = LABEL_SMOOTHING,
    training: bool = True,
) -> tf.Tensor:
    """Harmonization's loss as a float32 scalar; differentiate it in your ``tf.GradientTape``.

    ``cross_entropy + lambda_weights * l2 + lambda_harmonization * pyramidal_mse``
    where the saliency (channel mean of the gradient of the labelled logit
    with respect to the images, from a nested tape so the loss can pull on
    it) and the human maps are standardize-cut, and the human maps are
    rescaled to the saliency's maximum (a constant).

    Parameters
    ----------
    model
        A Keras model (or callable ``model(images, training=...)``) returning
        logits ``(B, classes)``; its ``trainable_variables`` give the L2 term.
    images
        ``(B, H, W, C)`` floating point.
    labels
        One-hot ``(B, classes)`` or integer classes ``(B,)``.
    heatmaps
        Human maps ``(B, H, W)`` or ``(B, H, W, 1)``.
    tokens
        ``(B,)`` per-sample weights of the harmonization term (0: no human
        map). Default: ones.
    lambda_weights, lambda_harmonization, label_smoothing
        Harmonization's defaults.
    training
        Passed to the model (Harmonization: ``True``).
    """
    return loss_terms(
        model,
        images,
        labels,
        heatmaps,
        tokens,
        lambda_weights=lambda_weights,
        lambda_harmonization=lambda_harmonization,
        label_smoothing=label_smoothing,
        training=training,
    ).loss


class HarmonizedModel(tf.keras.Model):
    """A Keras model whose ``fit`` (and ``evaluate``) use the harmonizer loss.

    Wrap a model that returns logits, compile with an optimizer only, and fit
    on batches of ``{"image", "heatmap", "label"}`` (what
    :func:`neural_datasets.tf.dataset` yields; an optional ``"token"``) or
    tuples ``(images, heatmaps, labels[, tokens])`` (the order of
    Harmonization's ``load_clickme``). Integer images are cast to float32
    unscaled; put any scaling in the model or a ``map``. ``fit`` reports the
    loss and its terms (``cross_entropy``, ``weight_decay``,
    ``harmonization``). Calling it calls the wrapped model; save the wrapped
    model (``harmonized.model``).

    Under a ``tf.distribute`` strategy the loss of each replica is divided by
    the number of replicas before its gradient (the gradients are summed);
    under a mixed-precision policy the optimizer's loss scaling is applied.

    Parameters
    ----------
    model
        The Keras model to train, returning logits ``(B, classes)``.
    lambda_weights, lambda_harmonization, label_smoothing
        As :func:`harmonizer_loss`.

    Examples
    --------
    >>> tf.keras.utils.set_random_seed(0)
    >>> inner = tf.keras.Sequential([tf.keras.Input((8, 8, 3)), tf.keras.layers.Conv2D(2, 3),
    ...                              tf.keras.layers.Flatten(), tf.keras.layers.Dense(4)])
    >>> harmonized = HarmonizedModel(inner)
    >>> harmonized.compile(optimizer="sgd")
    >>> batches = tf.data.Dataset.from_tensors({"image": tf.random.uniform((2, 8, 8, 3)),
    ...     "heatmap": tf.random.uniform((2, 8, 8, 1)), "label": tf.constant([1, 2])})
    >>> sorted(harmonized.fit(batches, epochs=1, verbose=0).history)
    ['cross_entropy', 'harmonization', 'loss', 'weight_decay']
    """

    def __init__(
        self,
        model: tf.keras.Model,
        *,
        lambda_weights: float = LAMBDA_WEIGHTS,
        lambda_harmonization: float = LAMBDA_HARMONIZATION,
        label_smoothing: float = LABEL_SMOOTHING,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        # Keras builds an unbuilt model by calling it on a batch, which is a dict here.
        if not model.built:
            raise ValueError(
                "model must be built (give it a keras.Input or call build) before wrapping it"
            )
        self.built = True
        self.lambda_weights = lambda_weights
        self.lambda_harmonization = lambda_harmonization
        self.label_smoothing = label_smoothing
        self.trackers = {name: tf.keras.metrics.Mean(name=name) for name in LossTerms._fields}

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        return self.model(inputs, training=training)

    @property
    def metrics(self) -> list[Any]:
        return list(self.trackers.values())

    def _terms(self, data: Any, training: bool) -> LossTerms:
        images, heatmaps, labels, tokens = _unpack(data)
        return loss_terms(
            self.model,
            images,
            labels,
            heatmaps,
            tokens,
            lambda_weights=self.lambda_weights,
            lambda_harmonization=self.lambda_harmonization,
            label_smoothing=self.label_smoothing,
            training=training,
        )

    def _report(self, terms: LossTerms) -> dict[str, tf.Tensor]:
        for name, value in terms._asdict().items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        optimizer = self.optimizer
        with tf.GradientTape() as tape:
            terms = self._terms(data, training=True)
            loss = terms.loss / replicas
            if hasattr(optimizer, "scale_loss"):  # Keras 3 (identity unless loss scaling)
                loss = optimizer.scale_loss(loss)
            elif hasattr(optimizer, "get_scaled_loss"):  # Keras 2 LossScaleOptimizer
                loss = optimizer.get_scaled_loss(loss)
        variables = self.model.trainable_variables
        gradients = tape.gradient(loss, variables)
        if not hasattr(optimizer, "scale_loss") and hasattr(optimizer, "get_unscaled_gradients"):
            gradients = optimizer.get_unscaled_gradients(gradients)
        optimizer.apply_gradients(zip(gradients, variables))
        return self._report(terms)

    def test_step(self, data: Any) -> dict[str, tf.Tensor]:
        return self._report(self._terms(data, training=False))


def _unpack(data: Any) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | None]:
    """``(images, heatmaps, labels, tokens)`` of a batch dict or tuple; images as float."""
    if isinstance(data, Mapping):
        missing = {"image", "heatmap", "label"} - set(data)
        if missing:
            raise ValueError(
                f"a batch must hold 'image', 'heatmap' and 'label' (and optionally 'token'); "
                f"missing {sorted(missing)} from {sorted(data)}"
            )
        images, heatmaps, labels = data["image"], data["heatmap"], data["label"]
        tokens = data.get("token")
    elif isinstance(data, (tuple, list)) and len(data) in (3, 4):
        images, heatmaps, labels = data[:3]
        tokens = data[3] if len(data) == 4 else None
    else:
        raise ValueError(
            "a batch must be a dict with 'image', 'heatmap', 'label' (and 'token') or a tuple "
            f"(images, heatmaps, labels[, tokens]); got {type(data).__name__}"
        )
    images = tf.convert_to_tensor(images)
    if not images.dtype.is_floating:
        images = tf.cast(images, tf.float32)
    return images, heatmaps, labels, tokens


def _variable_name(variable: Any) -> str:
    """Keras 3 variables name their layer in ``path``; Keras 2 / tf.Variable in ``name``."""
    return str(getattr(variable, "path", None) or variable.name)


def _as_bhwc(maps: tf.Tensor, argument: str) -> tf.Tensor:
    """``(B, H, W)`` or ``(B, H, W, 1)`` maps as ``(B, H, W, 1)``."""
    maps = tf.convert_to_tensor(maps)
    if maps.shape.rank == 3:
        return maps[..., None]
    if maps.shape.rank == 4 and maps.shape[-1] == 1:
        return maps
    raise ValueError(f"{argument} must be (B, H, W) or (B, H, W, 1); got shape {maps.shape}")


def _tokens(tokens: tf.Tensor | None, like: tf.Tensor) -> tf.Tensor:
    if tokens is None:
        return tf.ones(tf.shape(like)[:1], like.dtype)
    tokens = tf.cast(tokens, like.dtype)
    if tokens.shape.rank != 1:
        raise ValueError(f"tokens must be (B,); got shape {tokens.shape}")
    return tokens


def _one_hot(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """float32 one-hot targets from one-hot or integer ``labels``."""
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 1 and labels.dtype.is_integer:
        return tf.one_hot(labels, tf.shape(logits)[-1], dtype=tf.float32)
    if labels.shape.rank == 2:
        return tf.cast(labels, tf.float32)
    raise ValueError(
        f"labels must be integer classes (B,) or one-hot (B, classes); "
        f"got {labels.dtype.name} of shape {labels.shape}"
    )
