"""clickme_scores against Harmonization's definitions, restated one image at a time in
``tests/support/clickme_reference.py``."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from support.clickme_reference import reference

from neural_datasets.metrics import HUMAN_SPEARMAN_CEILING, ClickMeScores, clickme_scores
from neural_datasets.metrics import clickme as clickme_module

TOLERANCE = 1e-6


def assert_matches(scores: ClickMeScores, expected: dict[str, np.ndarray]) -> None:
    for name, values in expected.items():
        np.testing.assert_allclose(getattr(scores, name), values, atol=TOLERANCE, err_msg=name)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(23)


def test_continuous_maps_match_the_reference(rng: np.random.Generator) -> None:
    saliency = rng.normal(size=(6, 20, 18)).astype(np.float32)
    heatmaps = saliency + rng.normal(size=saliency.shape)  # correlated: scores well above 0
    scores = clickme_scores(saliency, heatmaps)
    assert_matches(scores, reference(saliency, heatmaps))
    assert scores.spearman.min() > 0.5 and scores.nan_count == 0


def test_ties_get_average_ranks_and_thresholds_skip_tied_values(rng: np.random.Generator) -> None:
    saliency = rng.integers(0, 4, size=(8, 17, 13)).astype(np.float64)
    heatmaps = rng.integers(0, 3, size=(8, 17, 13)).astype(np.uint8)
    heatmaps[0] = 0
    heatmaps[0, :2] = 7  # 26 of 221 pixels above every other: a threshold on a tie
    for percentile in (0, 5, 10, 33.3, 50, 100):
        assert_matches(
            clickme_scores(saliency, heatmaps, percentile),
            reference(saliency, heatmaps, percentile),
        )


def test_four_dimensional_maps_are_averaged_over_channels(rng: np.random.Generator) -> None:
    saliency = rng.random((3, 12, 12, 3))
    heatmaps = rng.random((3, 12, 12, 1))
    assert_matches(clickme_scores(saliency, heatmaps), reference(saliency, heatmaps))


def test_precision_is_float32_as_upstream() -> None:
    # Distinct in float64, equal once cast to float32 as Harmonization casts: a tie.
    saliency = np.array([[[1.0, 1.0 + 1e-12], [2.0, 3.0]]])
    heatmaps = np.array([[[0.0, 1.0], [2.0, 3.0]]])
    assert_matches(clickme_scores(saliency, heatmaps), reference(saliency, heatmaps))
    assert clickme_scores(saliency, heatmaps).spearman[0] < 1


def test_negative_zero_ties_with_zero() -> None:
    saliency = np.array([[[-0.0, 0.0], [-1.0, 2.0]]], np.float32)
    heatmaps = np.array([[[1.0, 0.0], [-1.0, 2.0]]], np.float32)
    assert_matches(clickme_scores(saliency, heatmaps, 50), reference(saliency, heatmaps, 50))


def test_constant_map_gives_nan_spearman_and_zero_overlap(rng: np.random.Generator) -> None:
    saliency = rng.random((3, 8, 8))
    heatmaps = rng.random((3, 8, 8))
    heatmaps[1] = 0.5
    with pytest.warns(RuntimeWarning, match="1 of 3 images"):
        scores = clickme_scores(saliency, heatmaps)
    assert_matches(scores, reference(saliency, heatmaps))
    assert np.isnan(scores.spearman[1]) and scores.nan_count == 1
    assert scores.dice[1] == scores.iou[1] == 0
    finite = scores.spearman[[0, 2]]
    assert scores.alignment == pytest.approx(finite.mean() / HUMAN_SPEARMAN_CEILING)
    assert scores.as_dict()["alignment_score"] == scores.alignment
    assert np.isnan(scores.as_dict(nan="propagate")["alignment_score"])  # upstream's arithmetic
    with pytest.raises(ValueError, match="nan must be 'omit' or 'propagate', got 'raise'"):
        scores.as_dict(nan="raise")


def test_chunks_and_threads_give_the_same_scores(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    saliency = rng.random((9, 10, 10))
    heatmaps = rng.integers(0, 5, size=(9, 10, 10))
    whole = clickme_scores(saliency, heatmaps, threads=1)
    monkeypatch.setattr(clickme_module, "_CHUNK_PIXELS", 200)  # two images per chunk
    chunked = clickme_scores(saliency, heatmaps, threads=2)
    for name in ("spearman", "dice", "iou"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(chunked, name))
    assert_matches(chunked, reference(saliency, heatmaps))


def test_thresholds_are_numpys_to_the_bit(rng: np.random.Generator) -> None:
    for n in (1, 2, 3, 7, 10, 99, 224 * 224):
        values = np.sort(rng.normal(size=(4, n)).astype(np.float32), axis=1)
        for q in (0, 0.1, 10, 12.5, 33.3, 50, 90, 99.9, 100):
            position = clickme_module._QuantilePosition(n, q)
            low_high = values[:, [position.below, position.above]]
            np.testing.assert_array_equal(
                position.threshold(low_high)[:, 0], np.percentile(values, q, axis=1)
            )


def test_as_dict_has_harmonizations_keys(rng: np.random.Generator) -> None:
    maps = rng.random((2, 6, 6))
    result = clickme_scores(maps, maps[::-1]).as_dict()
    assert list(result) == ["spearman", "dice", "iou", "alignment_score"]
    assert len(result["spearman"]) == 2 and isinstance(result["alignment_score"], float)
    summary = json.loads(json.dumps(clickme_scores(maps, maps).to_dict()))
    assert summary["spearman"] == pytest.approx(1.0) and summary["images"] == 2


def test_torch_and_tensorflow_tensors_are_accepted(rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")
    saliency = rng.random((2, 9, 9)).astype(np.float32)
    heatmaps = rng.random((2, 9, 9, 1)).astype(np.float32)
    expected = reference(saliency, heatmaps[..., 0])
    assert_matches(clickme_scores(torch.from_numpy(saliency), tf.constant(heatmaps)), expected)
    assert_matches(clickme_scores(tf.constant(saliency), torch.from_numpy(heatmaps)), expected)


def test_errors_name_the_argument() -> None:
    maps = np.zeros((2, 4, 4))
    with pytest.raises(ValueError, match=r"same shape.*saliency \(2, 4, 4\).*heatmaps \(2, 3, 3\)"):
        clickme_scores(maps, np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"heatmaps must have shape \(N, H, W\).*rank 2"):
        clickme_scores(maps, np.zeros((2, 16)))
    with pytest.raises(ValueError, match=r"saliency .*rank 5"):
        clickme_scores(np.zeros((1, 2, 4, 4, 1)), maps)
    with pytest.raises(ValueError, match="percentile must be in"):
        clickme_scores(maps, maps, percentile=110)
    with pytest.raises(ValueError, match="saliency holds NaN"):
        clickme_scores(np.full((2, 4, 4), np.nan), maps)
    with pytest.raises(TypeError, match="heatmaps must hold numbers"):
        clickme_scores(maps, np.full((2, 4, 4), "a"))


small_maps = arrays(np.int8, st.tuples(st.integers(1, 3), st.integers(2, 6), st.integers(2, 6)))


@settings(max_examples=40, deadline=None)
@given(small_maps, st.data())
def test_spearman_is_unchanged_by_increasing_transforms(
    maps: np.ndarray, data: st.DataObject
) -> None:
    other = data.draw(arrays(np.int8, maps.shape))
    x = maps.astype(np.float32)
    transformed = x**3 + 5 * x + 1  # strictly increasing, exact in float32 for int8 values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        plain = clickme_scores(x, other).spearman
        moved = clickme_scores(transformed, other).spearman
    np.testing.assert_allclose(moved, plain, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(small_maps)
def test_a_map_against_itself_scores_one(maps: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scores = clickme_scores(maps, maps)
    constant = np.ptp(maps.reshape(len(maps), -1), axis=1) == 0
    np.testing.assert_allclose(scores.spearman[~constant], 1.0, atol=1e-12)
    assert np.isnan(scores.spearman[constant]).all()


@settings(max_examples=40, deadline=None)
@given(small_maps, st.data(), st.floats(0, 100))
def test_dice_and_iou_lie_in_zero_one(
    maps: np.ndarray, data: st.DataObject, percentile: float
) -> None:
    other = data.draw(arrays(np.int8, maps.shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scores = clickme_scores(maps, other, percentile)
    for values in (scores.dice, scores.iou):
        assert ((values >= 0) & (values <= 1)).all()
    assert (scores.iou <= scores.dice + 1e-12).all()


@settings(max_examples=60, deadline=None)
@given(small_maps, st.data(), st.sampled_from([0, 1, 10, 25, 50, 90, 100]))
def test_any_small_maps_match_the_reference(
    maps: np.ndarray, data: st.DataObject, percentile: float
) -> None:
    other = data.draw(arrays(np.float32, maps.shape, elements=st.floats(-2, 2, width=32)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scores = clickme_scores(maps, other, percentile)
    expected = reference(maps, other, percentile)
    np.testing.assert_allclose(scores.spearman, expected["spearman"], atol=TOLERANCE)
    np.testing.assert_allclose(scores.dice, expected["dice"], atol=TOLERANCE)
    np.testing.assert_allclose(scores.iou, expected["iou"], atol=TOLERANCE)
