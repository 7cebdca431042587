"""it_predictivity and the batched PLS against scikit-learn's PLSRegression, fold by fold."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_datasets.metrics import it_predictivity
from neural_datasets.metrics.pls import fit_pls

sklearn_pls = pytest.importorskip("sklearn.cross_decomposition")


def maps(seed: int, images: int = 6, grid: int = 5, units: int = 30, sites: int = 7):
    rng = np.random.default_rng(seed)
    features = rng.random((images, grid, grid, units))
    responses = features[..., :8] @ rng.normal(size=(8, sites))
    responses += 0.5 * rng.normal(size=responses.shape)
    return features, responses


def reference(features, responses, n_components, tol, correlation="pearson", max_iter=500):
    """The published protocol restated: a scikit-learn fit per held-out image."""
    from scipy.stats import pearsonr, spearmanr

    images, units, sites = features.shape[0], features.shape[-1], responses.shape[-1]
    per_site = np.zeros((images, sites))
    reference.predicted = np.zeros((images, features[0, ..., 0].size, sites))
    for held_out in range(images):
        rest = [i for i in range(images) if i != held_out]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pls = sklearn_pls.PLSRegression(
                n_components, scale=False, tol=tol, max_iter=max_iter
            ).fit(features[rest].reshape(-1, units), responses[rest].reshape(-1, sites))
        predicted = pls.predict(features[held_out].reshape(-1, units))
        reference.predicted[held_out] = predicted
        recorded = responses[held_out].reshape(-1, sites)
        corr = pearsonr if correlation == "pearson" else spearmanr
        per_site[held_out] = [corr(predicted[:, s], recorded[:, s])[0] for s in range(sites)]
    return per_site


def test_converged_default_equals_scikit_learn_at_tol_1e_10() -> None:
    features, responses = maps(0)
    expected = reference(features, responses, 10, tol=1e-10)
    score = it_predictivity(features, responses, n_components=10)
    np.testing.assert_allclose(score.per_site, expected, atol=1e-5)
    np.testing.assert_allclose(score.per_fold, np.median(expected, axis=1), atol=1e-5)
    assert score.mean == pytest.approx(np.median(expected, axis=1).mean(), abs=1e-5)
    assert score.std == pytest.approx(np.median(expected, axis=1).std(), abs=1e-5)
    assert score.unconverged == 0
    np.testing.assert_allclose(score.predicted, reference.predicted, atol=1e-4)
    assert score.settings["tol"] is None and score.settings["n_components"] == 10


def test_tol_reproduces_scikit_learn_unconverged_numbers() -> None:
    features, responses = maps(1)
    expected = reference(features, responses, 10, tol=1e-4)
    score = it_predictivity(features, responses, n_components=10, tol=1e-4)
    np.testing.assert_allclose(score.per_site, expected, atol=1e-10)
    assert score.settings["max_iter"] == 500


def test_spearman_and_mean_reducer() -> None:
    features, responses = maps(2)
    expected = reference(features, responses, 6, tol=1e-10, correlation="spearman")
    score = it_predictivity(features, responses, 6, correlation="spearman", reducer="mean")
    np.testing.assert_allclose(score.per_site, expected, atol=1e-5)
    np.testing.assert_allclose(score.per_fold, expected.mean(axis=1), atol=1e-5)


def test_more_units_than_rows_equals_scikit_learn() -> None:
    features, responses = maps(3, images=4, grid=3, units=60, sites=3)
    expected = reference(features, responses, 5, tol=1e-14, max_iter=10_000)
    score = it_predictivity(features, responses, n_components=5)
    np.testing.assert_allclose(score.per_site, expected, atol=1e-5)


def test_fit_pls_coefficients_equal_scikit_learn() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(80, 12)) + 3.0
    Y = X @ rng.normal(size=(12, 4)) + rng.normal(size=(80, 4))
    sk = sklearn_pls.PLSRegression(6, scale=False, tol=1e-4).fit(X, Y)
    ours = fit_pls(X, Y, 6, tol=1e-4)
    np.testing.assert_allclose(ours.coef[0], sk.coef_.T, atol=1e-12)
    np.testing.assert_allclose(ours.x_weights[0], sk.x_weights_, atol=1e-12)
    np.testing.assert_allclose(ours.predict(X[None])[0], sk.predict(X), atol=1e-10)


def test_linear_responses_are_predicted_perfectly() -> None:
    rng = np.random.default_rng(5)
    features = rng.normal(size=(5, 4, 4, 6))
    responses = features @ rng.normal(size=(6, 3)) + 7.0
    score = it_predictivity(features, responses, n_components=6)
    np.testing.assert_allclose(score.per_site, 1.0, atol=1e-9)
    assert score.mean == pytest.approx(1.0) and score.std == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), shift=st.floats(-100, 100))
def test_invariant_to_rotating_and_shifting_features(seed: int, shift: float) -> None:
    """PLS without scaling sees features only through centred inner products."""
    features, responses = maps(seed, images=4, grid=3, units=8, sites=3)
    rotation = np.linalg.qr(np.random.default_rng(seed).normal(size=(8, 8)))[0]
    base = it_predictivity(features, responses, n_components=4)
    moved = it_predictivity(features @ rotation + shift, responses - shift, n_components=4)
    np.testing.assert_allclose(moved.per_site, base.per_site, atol=1e-7)


def test_a_silent_site_leaves_its_fold_and_a_flat_prediction_gives_nan() -> None:
    features, responses = maps(6, images=4, grid=3, units=8, sites=3)
    responses[1, ..., 0] = 2.0  # site 0 flat on image 1: no correlation to predict
    score = it_predictivity(features, responses, n_components=3)
    assert np.isnan(score.per_site[1, 0])
    assert score.per_fold[1] == pytest.approx(np.median(score.per_site[1, 1:]))
    assert score.silent_sites.tolist() == [0, 1, 0, 0]
    assert not np.isnan(score.per_site[0]).any()
    features[2] = 0.5  # image 2's features are flat: so is its prediction
    score = it_predictivity(features, responses, n_components=3)
    assert np.isnan(score.per_site[2]).all() and np.isnan(score.per_fold[2])
    assert score.to_dict()["per_fold"][2] is None


def test_accepts_torch_tensors_and_flat_grids() -> None:
    torch = pytest.importorskip("torch")
    features, responses = maps(7, images=4, grid=3, units=8, sites=3)
    base = it_predictivity(features, responses, n_components=3)
    flat = it_predictivity(
        torch.from_numpy(features.reshape(4, 9, 8)), responses.reshape(4, 9, 3), n_components=3
    )
    np.testing.assert_allclose(flat.per_site, base.per_site, atol=1e-12)


@pytest.mark.parametrize(
    ("features", "responses", "kwargs", "message"),
    [
        (np.zeros((4, 3)), np.zeros((4, 3)), {}, "features must be"),
        (np.zeros((4, 3, 3, 5)), np.zeros((4, 3, 2, 5)), {}, "share images and grid"),
        (np.zeros((2, 3, 3, 5)), np.zeros((2, 3, 3, 5)), {}, "at least 3 images"),
        (np.zeros((4, 3, 3, 5)), np.zeros((4, 3, 3, 2)), {"n_components": 6}, "between 1 and"),
        (np.zeros((4, 3, 3, 5)), np.zeros((4, 3, 3, 2)), {"correlation": "kendall"}, "'pearson'"),
        (np.zeros((4, 3, 3, 5)), np.zeros((4, 3, 3, 2)), {"reducer": "max"}, "'median'"),
    ],
)
def test_bad_input_names_the_argument(features, responses, kwargs, message) -> None:
    kwargs.setdefault("n_components", 2)
    with pytest.raises(ValueError, match=message):
        it_predictivity(features, responses, **kwargs)
