"""compat.neural_harmonizer's scoring names against upstream's definitions, restated."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr

from neural_datasets.compat import neural_harmonizer as nh
from neural_datasets.metrics import it_ceiling, it_predictivity

sklearn_pls = pytest.importorskip("sklearn.cross_decomposition")


def test_brain_score_is_upstreams_with_the_kernel_in_its_old_orientation() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((240, 30))
    Y = X[:, :6] @ rng.normal(size=(6, 5)) + 0.3 * rng.normal(size=(240, 5))
    train, test = slice(0, 200), slice(200, 240)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pls = sklearn_pls.PLSRegression(25, scale=False, tol=1e-4).fit(X[train], Y[train])
    kernel = pls.coef_.T.astype(np.float32)  # (features, sites), as scikit-learn < 1.1 gave it
    predicted = X[test].astype(np.float32) @ kernel
    expected = np.median([np.corrcoef(predicted[:, s], Y[test, s])[0, 1] for s in range(5)])
    score, ours_kernel, ours_predicted = nh.brain_score(X[train], Y[train], X[test], Y[test])
    assert score == pytest.approx(expected, abs=1e-5)
    np.testing.assert_allclose(ours_kernel, kernel, atol=1e-5)
    assert ours_predicted.shape == (40, 5)
    with pytest.raises(ValueError, match="Unknown correlation metric"):
        nh.brain_score(X[train], Y[train], X[test], Y[test], correlation_fn="kendall")


def test_ceiling_score_is_the_legacy_ceiling() -> None:
    data = nh.Neural_dataset("arcaro2020-sample", progress=False)
    raw = data.red_central_it
    legacy = it_ceiling("red_central_it", (50, 90), dataset=data, legacy=True)
    assert nh.ceiling_score(raw, 50, 90) == pytest.approx(legacy.value, abs=1e-12)
    with pytest.raises(ValueError, match="only ever ran with 'pearson'"):
        nh.ceiling_score(raw, 50, 90, correlation_fn="spearman")
    assert nh.highest_off_diagonal(np.array([[9.0, -1.0], [np.nan, 9.0]])) == -1.0


def test_spearmanr_sim_resizes_like_tf_image_resize() -> None:
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(1)
    a, b = rng.random((3, 17, 17)), rng.random((3, 17, 17))
    sims = nh.spearmanr_sim(a, b, reducers=[1, 4])
    for reducer, side in ((1, 17), (4, 4)):
        small_a = tf.image.resize(a[..., None].astype(np.float32), (side, side)).numpy()
        small_b = tf.image.resize(b[..., None].astype(np.float32), (side, side)).numpy()
        expected = [spearmanr(x.ravel(), y.ravel())[0] for x, y in zip(small_a, small_b)]
        np.testing.assert_allclose(sims[reducer], expected, atol=1e-6)


def test_score_features_and_score_model() -> None:
    rng = np.random.default_rng(2)
    features = rng.random((5, 9, 9, 40))
    Y = features[..., :4] @ rng.normal(size=(4, 6)) + 0.2 * rng.normal(size=(5, 9, 9, 6))
    score, dice_4, dice_1 = nh.score_features(features, Y, grid_size=9)
    reference = it_predictivity(features, Y, 25, tol=1e-4)
    assert score == pytest.approx([reference.mean, reference.std])
    predicted = reference.predicted.reshape(5, 9, 9, 6).mean(axis=3)
    expected_1 = [spearmanr(p.ravel(), y.ravel())[0] for p, y in zip(predicted, Y.mean(axis=3))]
    assert dice_1 == pytest.approx([np.mean(expected_1), np.std(expected_1)], abs=1e-6)
    assert -1 <= dice_4[0] <= 1
    activity = rng.random((5, 18, 18, 40))
    layer_score, _ = nh.score_model(activity, Y, grid_size=9)
    pooled = nh.resizing_activity(activity, 9)
    assert layer_score == pytest.approx(nh.score_features(pooled, Y, 9)[0])
    with pytest.raises(ValueError, match="Cannot resize incompatible shapes"):
        nh.score_model(rng.random((5, 9, 9, 601)), Y, grid_size=9)


def test_neural_benchmark_score_runs_on_a_keras_model(capsys) -> None:
    tf = pytest.importorskip("tensorflow")
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((224, 224, 3))
    x = tf.keras.layers.Conv2D(30, 9, strides=8, name="conv1")(inputs)
    x = tf.keras.layers.ReLU(name="relu1")(x)
    model = tf.keras.Model(inputs, tf.keras.layers.GlobalAveragePooling2D(name="gap")(x))
    ceiled, raw = nh.neural_benchmark_score(
        model, time_a=50, time_b=90, stimuli="red_central_it", name="arcaro2020-sample"
    )
    out = capsys.readouterr().out
    assert "Layer gap: not a feature map, skipped" in out and "Layer relu1 score:" in out
    ceiling = nh.ceiling_score(nh.Neural_dataset("arcaro2020-sample").red_central_it, 50, 90)
    assert ceiled == pytest.approx(raw / ceiling)
