"""score_model end to end on the bundled IT sample, in PyTorch and Keras; pooling; errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import neural_datasets as nd
from neural_datasets.metrics import features_on_grid, it_predictivity, score_model

SAMPLE = {"window": (50, 90), "dataset": "arcaro2020-sample", "progress": False}
FAST = {"image_size": 64, "n_components": 4}


def upstream_pooling(activity: np.ndarray, grid: int) -> np.ndarray:
    """neural_harmonizer's ``resizing_activity`` for maps larger than the grid, restated."""
    size = activity.shape[1]
    edges = [int(i * size / float(grid)) for i in range(grid + 1)]
    out = np.zeros((activity.shape[0], grid, grid, activity.shape[-1]))
    for a in range(grid):
        for b in range(grid):
            block = activity[:, edges[a] : edges[a + 1], edges[b] : edges[b + 1], :]
            out[:, a, b, :] = block.mean(axis=1).mean(axis=1)
    for image in out:
        image -= image.min()
        image /= image.max()
    return out


def test_pooling_down_equals_upstream() -> None:
    activity = np.random.default_rng(0).random((3, 56, 56, 5))
    np.testing.assert_allclose(features_on_grid(activity, 17), upstream_pooling(activity, 17))


def test_pooling_up_is_tf_image_resize_then_min_max() -> None:
    tf = pytest.importorskip("tensorflow")
    activity = np.random.default_rng(1).random((2, 7, 7, 4))
    resized = tf.image.resize(activity, (17, 17)).numpy().astype(np.float64)
    low = resized.min(axis=(1, 2, 3), keepdims=True)
    expected = (resized - low) / (resized.max(axis=(1, 2, 3), keepdims=True) - low)
    np.testing.assert_allclose(features_on_grid(activity, 17), expected, atol=1e-6)
    legacy = features_on_grid(activity, 17, legacy=True)
    assert (legacy[..., -1] == 0).all()  # upstream's loop never writes the last channel


def test_pooling_groups_channels_above_max_units() -> None:
    activity = np.random.default_rng(2).random((2, 17, 17, 12))
    grouped = features_on_grid(activity, 17, max_units=6)
    expected = features_on_grid(activity.reshape(2, 17, 17, 4, 3).mean(-1), 17)
    np.testing.assert_allclose(grouped, expected)
    with pytest.raises(ValueError, match="max_units=None"):
        features_on_grid(np.zeros((2, 17, 17, 7)), 17, max_units=6)


def tiny_torch_net():
    torch = pytest.importorskip("torch")
    from collections import OrderedDict

    torch.manual_seed(0)
    layers = OrderedDict(
        conv1=torch.nn.Conv2d(3, 8, 5, stride=4),
        relu1=torch.nn.ReLU(),
        conv2=torch.nn.Conv2d(8, 6, 3, stride=2),
        flatten=torch.nn.Flatten(),
    )
    return torch.nn.Sequential(layers)


def test_torch_model_end_to_end_equals_the_steps() -> None:
    torch = pytest.importorskip("torch")
    net = tiny_torch_net()
    result = score_model(net, "george_central_it", **SAMPLE, **FAST)
    assert [s.layer for s in result.layers] == ["conv1", "relu1", "conv2"]
    assert result.skipped == {"flatten": "output shape (4, 294) is not a 4-D feature map"}
    again = score_model(net, "george_central_it", **SAMPLE, **FAST)
    assert again.to_dict() == result.to_dict()  # deterministic

    # The same numbers by hand: stimuli -> ImageNet standardisation -> conv -> pool -> PLS.
    it = nd.ITRecordings("arcaro2020-sample", progress=False)
    images = it.stimuli("george_central_it", size=64).astype(np.float32) / 255
    images = (images - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    with torch.no_grad():
        conv = net.conv1(torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32)))
    features = features_on_grid(conv.numpy().transpose(0, 2, 3, 1), 17)
    responses = it.responses("george_central_it", (50, 90)).astype(np.float64)
    expected = it_predictivity(features, responses, n_components=4)
    np.testing.assert_allclose(result.layers[0].raw.per_site, expected.per_site, atol=1e-4)

    assert result.selection == "held_out" and result.score == result.held_out_score
    means = [s.score for s in result.layers]
    assert result.same_images_score == max(means)
    assert result.best_layer == result.layers[int(np.argmax(means))].layer
    assert result.ceiled_score == pytest.approx(result.score / result.ceiling.value)
    json.dumps(result.to_dict())
    provenance = result.provenance
    assert provenance["window_ms"] == [50, 90] and provenance["grid"] == 17
    assert (
        provenance["sources_sha256"]["Arcaro2020.zip"]
        == nd.get_spec("arcaro2020-sample").files[0].sha256
    )
    assert "torch" in provenance["versions"] and provenance["pls"]["tol"] is None
    assert "<- best" in str(result) and "held-out layer selection" in str(result)


def test_held_out_selection_picks_per_image_from_the_other_images() -> None:
    result = score_model(tiny_torch_net(), "george_central_it", **SAMPLE, **FAST)
    table = np.array([s.raw.per_fold for s in result.layers])
    picked = []
    for image in range(table.shape[1]):
        others = [np.mean(np.delete(row, image)) for row in table]
        picked.append(table[int(np.argmax(others)), image])
    assert result.held_out_score == pytest.approx(np.mean(picked))


def test_legacy_uses_upstreams_settings() -> None:
    result = score_model(
        tiny_torch_net(), "red_central_it", layers=["relu1"], legacy=True, selection="same_images",
        **SAMPLE, **FAST,
    )  # fmt: skip
    assert result.provenance["pls"]["tol"] == 1e-4 and result.ceiling.legacy
    assert result.score == result.same_images_score == result.layers[0].score


def test_keras_model_end_to_end() -> None:
    tf = pytest.importorskip("tensorflow")
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((64, 64, 3))
    x = tf.keras.layers.Conv2D(8, 5, strides=4, name="conv1")(inputs)
    x = tf.keras.layers.ReLU(name="relu1")(x)
    model = tf.keras.Model(inputs, tf.keras.layers.GlobalAveragePooling2D(name="gap")(x))
    result = score_model(model, "red_central_it", **SAMPLE, **FAST)
    assert [s.layer for s in result.layers] == ["conv1", "relu1"]
    assert "gap" in result.skipped and result.provenance["framework"] == "keras"
    assert np.isfinite(result.score)
    again = score_model(model, "red_central_it", layers=["relu1"], **SAMPLE, **FAST)
    np.testing.assert_allclose(again.layers[0].raw.per_site, result.layers[1].raw.per_site)


def test_the_same_weights_score_the_same_in_both_frameworks() -> None:
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(3, 8, 5, stride=4)
    inputs = tf.keras.Input((64, 64, 3))
    keras_conv = tf.keras.layers.Conv2D(8, 5, strides=4, name="conv")
    model = tf.keras.Model(inputs, keras_conv(inputs))
    kernel = (
        conv.weight.detach().numpy().transpose(2, 3, 1, 0)
    )  # (out, in, h, w) -> (h, w, in, out)
    keras_conv.set_weights([kernel, conv.bias.detach().numpy()])
    net = torch.nn.Sequential()
    net.add_module("conv", conv)
    ours = score_model(net, "george_central_it", layers=["conv"], **SAMPLE, **FAST)
    theirs = score_model(model, "george_central_it", layers=["conv"], **SAMPLE, **FAST)
    np.testing.assert_allclose(
        ours.layers[0].raw.per_site, theirs.layers[0].raw.per_site, atol=1e-4
    )


def test_a_layer_without_a_tensor_output_is_skipped_by_default() -> None:
    torch = pytest.importorskip("torch")

    class Pair(torch.nn.Module):
        def forward(self, x):
            return x, x

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 5, stride=4)
            self.pair = Pair()

        def forward(self, x):
            return self.pair(self.conv(x))[0]

    torch.manual_seed(0)
    result = score_model(Net(), "george_central_it", **SAMPLE, **FAST)
    assert [s.layer for s in result.layers] == ["conv"]
    assert result.skipped == {"pair": "output is a tuple, not a tensor"}


def test_errors() -> None:
    net = tiny_torch_net()
    with pytest.raises(ValueError, match="no layer 'conv'; closest: conv2, conv1"):
        score_model(net, layers=["conv"], **SAMPLE)
    with pytest.raises(ValueError, match="Unknown population 'v4_it'"):
        score_model(net, "v4_it", **SAMPLE)
    with pytest.raises(ValueError, match="layer 'flatten'.*not a 4-D feature map"):
        score_model(net, layers=["flatten"], **SAMPLE, **FAST)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module or a Keras model"):
        score_model(object(), **SAMPLE)
    with pytest.raises(ValueError, match="selection must be"):
        score_model(net, selection="best", **SAMPLE)
