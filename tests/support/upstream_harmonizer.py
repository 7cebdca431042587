"""Harmonization's training loss (``harmonization/training``), restated for tests and benchmarks.

Upstream is Keras-2 code that cannot be installed beside our TensorFlow. This
restates what it computes from its definitions, independently of
``neural_datasets.harmonize``: moments instead of ``reduce_std``, an explicit
asymmetric ``tf.pad`` and a ``VALID`` convolution instead of ``SAME``, the
cross-entropy written from ``log_softmax``, upstream's name rule for the L2
term, and upstream's form: a function that runs its own tapes and returns the
gradients of the trainable variables.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

SKIPPED_NAMES = ("bn/", "normalization", "embed", "Norm", "norm", "class_token")


def reference_standardize_cut(maps):
    mean, variance = tf.nn.moments(maps, axes=[1, 2], keepdims=True)
    return tf.maximum((maps - mean) / (tf.sqrt(variance) + 1e-5), 0.0)


def reference_reduce(maps):
    """One pyramid step: binomial 1-4-6-4-1 blur, stride 2, TF 'SAME' zeros (odd one after)."""
    taps = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    kernel = tf.constant(np.outer(taps, taps)[:, :, None, None], tf.float32)
    pads = []
    for size in maps.shape[1:3]:
        needed = max((math.ceil(size / 2) - 1) * 2 + 5 - size, 0)
        pads.append([needed // 2, needed - needed // 2])
    padded = tf.pad(maps, [[0, 0], pads[0], pads[1], [0, 0]])
    return tf.nn.conv2d(padded, kernel, strides=2, padding="VALID")


def reference_pyramidal_mse(a, b, tokens):
    a, b = a[..., None], b[..., None]
    errors = []
    for _ in range(5):  # full resolution and four reductions
        errors.append(tf.reduce_mean(tf.square(a - b) * tokens[:, None, None, None]))
        a, b = reference_reduce(a), reference_reduce(b)
    return tf.add_n(errors) / 5.0


def harmonizer_gradients(model, images, tokens, one_hot, heatmaps, lambda_weights=1e-5):
    """What Harmonization's harmonizer_loss returns: d(loss)/d(trainable variables)."""
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(images)
            logits = model(images, training=True)
            picked = tf.reduce_sum(logits * one_hot, axis=-1)
        saliency = tf.reduce_mean(inner.gradient(picked, images), axis=-1)
        saliency = reference_standardize_cut(saliency)
        human = reference_standardize_cut(heatmaps)
        scale = tf.stop_gradient(tf.reduce_max(saliency, axis=[1, 2], keepdims=True)) + 1e-6
        human = human / (tf.reduce_max(human, axis=[1, 2], keepdims=True) + 1e-6) * scale
        alignment = reference_pyramidal_mse(saliency, human, tokens)
        classes = one_hot.shape[-1]
        smoothed = one_hot * 0.9 + 0.1 / classes
        entropy = tf.reduce_mean(-tf.reduce_sum(smoothed * tf.nn.log_softmax(logits), -1))
        decay = sum(
            tf.reduce_sum(tf.square(v)) / 2.0
            for v in model.trainable_variables
            if not any(s in v.path for s in SKIPPED_NAMES)
        )
        loss = entropy + lambda_weights * decay + alignment
    return outer.gradient(loss, model.trainable_variables)
