"""Our torch and TF harmonizer losses equal Harmonization's published ``harmonizer_loss``.

Harmonization (serre-lab, ``harmonization/training``) is Keras-2 code that
cannot be installed beside our TensorFlow, so its definitions are restated
in ``tests/support/upstream_harmonizer.py``, independently of our
implementation. The same
weights (copied between a Keras and a torch CNN) and the same batch must give
the same weight gradients (relative error <= 2e-3) in both frameworks.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
torch = pytest.importorskip("torch")

from support import upstream_harmonizer  # noqa: E402
from support.upstream_harmonizer import (  # noqa: E402
    reference_pyramidal_mse,
    reference_standardize_cut,
)

from neural_datasets.harmonize import tf as harmonize_tf  # noqa: E402
from neural_datasets.harmonize import torch as harmonize_torch  # noqa: E402


def reference_gradients(model, images, tokens, one_hot, heatmaps, lambda_weights=1e-5):
    loss_gradients = upstream_harmonizer.harmonizer_gradients
    return [
        g.numpy() for g in loss_gradients(model, images, tokens, one_hot, heatmaps, lambda_weights)
    ]


# --- one tiny CNN in both frameworks, same weights ------------------------------------


class FusedBatchNorm(tf.keras.layers.Layer):
    """Keras 2's BatchNormalization in training on NHWC batches: TF's fused kernel.

    Harmonization ran on Keras 2, whose BatchNormalization calls
    ``fused_batch_norm``; its second derivative is exact (as torch's). Keras 3's
    layer computes ``tf.nn.moments``, whose variance stops the gradient of the
    mean: right to first order, not to second (see ``docs/training.md``).
    """

    epsilon = 1e-3

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, inputs):
        normalized, _, _ = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True
        )
        return normalized


def keras_cnn(classes: int = 10, batch_norm: str = "keras2"):
    tf.keras.utils.set_random_seed(3)
    layers = tf.keras.layers
    norm = FusedBatchNorm if batch_norm == "keras2" else layers.BatchNormalization
    return tf.keras.Sequential(
        [
            tf.keras.Input((None, None, 3)),
            layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv1"),
            norm(name="bn"),
            layers.ReLU(),
            layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(classes, name="logits"),
        ]
    )


def torch_copy(keras_model) -> torch.nn.Module:
    """The same network in torch (NCHW), with the Keras weights copied in."""
    conv1, bn, _, conv2, _, dense = keras_model.layers
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4, eps=bn.epsilon),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, dense.units),
    )
    with torch.no_grad():
        for ours, theirs in ((model[0], conv1), (model[3], conv2)):
            ours.weight.copy_(torch.from_numpy(theirs.kernel.numpy().transpose(3, 2, 0, 1)))
        model[3].bias.copy_(torch.from_numpy(conv2.bias.numpy()))
        model[1].weight.copy_(torch.from_numpy(bn.gamma.numpy()))
        model[1].bias.copy_(torch.from_numpy(bn.beta.numpy()))
        model[7].weight.copy_(torch.from_numpy(dense.kernel.numpy().T))
        model[7].bias.copy_(torch.from_numpy(dense.bias.numpy()))
    return model.train()


def torch_gradients_as_keras(model: torch.nn.Module) -> list[np.ndarray]:
    """Gradients of the torch copy in the order and layout of the Keras variables."""
    conv1, bn, conv2, dense = model[0], model[1], model[3], model[7]
    as_kernel = lambda w: w.grad.numpy().transpose(2, 3, 1, 0)  # noqa: E731
    return [
        as_kernel(conv1.weight),
        bn.weight.grad.numpy(),
        bn.bias.grad.numpy(),
        as_kernel(conv2.weight),
        conv2.bias.grad.numpy(),
        dense.weight.grad.numpy().T,
        dense.bias.grad.numpy(),
    ]


def batch(size: tuple[int, int] = (30, 30), seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (4, *size, 3)).astype(np.float32)
    heatmaps = (rng.uniform(0, 1, (4, *size)) ** 4).astype(np.float32)
    labels = np.array([1, 4, 7, 9])
    tokens = np.array([1.0, 1.0, 0.0, 1.0], np.float32)
    return images, heatmaps, labels, tokens


def relative_errors(ours: list, reference: list) -> list[float]:
    return [
        float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))
        for a, b in zip(ours, reference, strict=True)
    ]


# --- the tests -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(30, 30), (17, 23)])
def test_standardize_cut_and_pyramidal_mse_equal_the_restatement(size) -> None:
    images, heatmaps, _, tokens = batch(size)
    other = images.mean(-1)
    want_cut = reference_standardize_cut(tf.constant(heatmaps)).numpy()
    np.testing.assert_allclose(
        harmonize_tf.standardize_cut(heatmaps).numpy(), want_cut, atol=1e-5, rtol=1e-5
    )
    np.testing.assert_allclose(
        harmonize_torch.standardize_cut(torch.from_numpy(heatmaps)).numpy(),
        want_cut,
        atol=1e-5,
        rtol=1e-5,
    )
    want = float(reference_pyramidal_mse(tf.constant(heatmaps), tf.constant(other), tokens))
    got_tf = float(harmonize_tf.pyramidal_mse(heatmaps, other[..., None], tokens))
    got_torch = harmonize_torch.pyramidal_mse(
        torch.from_numpy(heatmaps)[:, None], torch.from_numpy(other), torch.from_numpy(tokens)
    ).item()
    assert got_tf == pytest.approx(want, rel=1e-5, abs=1e-7)
    assert got_torch == pytest.approx(want, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("lambda_weights", [1e-5, 1.0])  # 1.0 makes the L2 term visible
def test_weight_gradients_equal_harmonizations_in_both_frameworks(lambda_weights) -> None:
    images, heatmaps, labels, tokens = batch()
    one_hot = np.eye(10, dtype=np.float32)[labels]
    keras_model = keras_cnn()
    torch_model = torch_copy(keras_model)  # before any BN moving-statistics update
    reference = reference_gradients(
        keras_model, tf.constant(images), tokens, one_hot, heatmaps, lambda_weights
    )

    with tf.GradientTape() as tape:
        loss_tf = harmonize_tf.harmonizer_loss(
            keras_model, images, labels, heatmaps[..., None], tokens, lambda_weights=lambda_weights
        )
    ours_tf = [g.numpy() for g in tape.gradient(loss_tf, keras_model.trainable_variables)]

    loss_torch = harmonize_torch.harmonizer_loss(
        torch_model,
        torch.from_numpy(images).permute(0, 3, 1, 2),
        torch.from_numpy(one_hot),
        torch.from_numpy(heatmaps),
        torch.from_numpy(tokens),
        lambda_weights=lambda_weights,
    )
    loss_torch.backward()
    ours_torch = torch_gradients_as_keras(torch_model)

    assert max(relative_errors(ours_tf, reference)) <= 2e-3
    assert max(relative_errors(ours_torch, reference)) <= 2e-3
    assert max(relative_errors(ours_torch, ours_tf)) <= 2e-3  # and across the frameworks
    assert loss_torch.item() == pytest.approx(float(loss_tf), rel=1e-5)
    # the harmonization term moves the weights: without it the gradients differ
    with tf.GradientTape() as tape:
        plain = harmonize_tf.harmonizer_loss(
            keras_model,
            images,
            labels,
            heatmaps,
            lambda_weights=lambda_weights,
            lambda_harmonization=0.0,
        )
    plain_gradients = tape.gradient(plain, keras_model.trainable_variables)
    assert max(relative_errors(plain_gradients, reference)) > 1e-2


def test_integer_and_one_hot_labels_give_the_same_loss() -> None:
    images, heatmaps, labels, _ = batch()
    keras_model = keras_cnn()
    torch_model = torch_copy(keras_model)
    one_hot = np.eye(10, dtype=np.float32)[labels]
    tf_losses = [
        float(harmonize_tf.harmonizer_loss(keras_model, images, y, heatmaps))
        for y in (labels, one_hot)
    ]
    nchw = torch.from_numpy(images).permute(0, 3, 1, 2)
    torch_losses = [
        harmonize_torch.harmonizer_loss(torch_model, nchw, y, torch.from_numpy(heatmaps)).item()
        for y in (torch.from_numpy(labels), torch.from_numpy(one_hot))
    ]
    assert tf_losses[0] == pytest.approx(tf_losses[1], rel=1e-6)
    assert torch_losses[0] == pytest.approx(torch_losses[1], rel=1e-6)
    assert torch_losses[0] == pytest.approx(tf_losses[0], rel=1e-5)


def test_compat_harmonizer_loss_returns_harmonizations_gradients() -> None:
    from neural_datasets.compat import harmonization

    images, heatmaps, labels, tokens = batch()
    one_hot = np.eye(10, dtype=np.float32)[labels]
    keras_model = keras_cnn()
    reference = reference_gradients(keras_model, tf.constant(images), tokens, one_hot, heatmaps)
    gradients = harmonization.harmonizer_loss(
        keras_model, tf.constant(images), tokens, one_hot, heatmaps
    )
    assert max(relative_errors(gradients, reference)) <= 2e-3
    pyramid = harmonization.pyramidal_representation(tf.constant(heatmaps[..., None]), 5)
    assert [level.shape[1] for level in pyramid] == [30, 15, 8, 4, 2, 1]
    want = float(
        reference_pyramidal_mse(tf.constant(heatmaps), tf.constant(images[..., 0]), tokens)
    )
    got = harmonization.pyramidal_mse_with_tokens(heatmaps, images[..., 0], tokens)
    assert float(got) == pytest.approx(want, rel=1e-5)
    np.testing.assert_allclose(
        harmonization.standardize_cut(heatmaps).numpy(),
        reference_standardize_cut(tf.constant(heatmaps)).numpy(),
        atol=1e-5,
    )


def test_keras3_batch_norm_differs_below_it_only_to_second_order() -> None:
    """A documented limit: Keras 3's BatchNormalization is not Keras 2's to second order."""
    images, heatmaps, labels, tokens = batch()
    one_hot = np.eye(10, dtype=np.float32)[labels]
    keras3_model = keras_cnn(batch_norm="keras3")
    torch_model = torch_copy(keras3_model)
    reference = reference_gradients(keras3_model, tf.constant(images), tokens, one_hot, heatmaps)
    harmonize_torch.harmonizer_loss(
        torch_model,
        torch.from_numpy(images).permute(0, 3, 1, 2),
        torch.from_numpy(labels),
        torch.from_numpy(heatmaps),
        torch.from_numpy(tokens),
    ).backward()
    errors = relative_errors(torch_gradients_as_keras(torch_model), reference)
    assert max(errors[1:]) <= 2e-3  # the BN layer and everything above it agree
    assert 2e-3 < errors[0] < 5e-2  # conv1's kernel, below BN: about 1% here
