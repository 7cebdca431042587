"""compat.harmonization's evaluation names: harmonization.evaluation.{metrics,clickme} by import."""

from __future__ import annotations

import numpy as np
import pytest
from support.clickme_reference import reference
from support.twin_cnns import twin_cnns

from neural_datasets.compat import harmonization as hz

tf = pytest.importorskip("tensorflow")


def test_upstream_names_and_constants() -> None:
    for name in (
        "AUTO",
        "EPSILON",
        "HUMAN_SPEARMAN_CEILING",
        "dice",
        "evaluate_clickme",
        "intersection_over_union",
        "spearman_correlation",
    ):
        assert name in hz.__all__ and hasattr(hz, name)
    assert hz.HUMAN_SPEARMAN_CEILING == 0.65753
    assert hz.AUTO == tf.data.AUTOTUNE and hz.EPSILON == 1e-9


def test_metric_functions_match_the_published_definitions() -> None:
    rng = np.random.default_rng(5)
    a = rng.random((4, 15, 15)).astype(np.float32)
    b = rng.integers(0, 6, size=(4, 15, 15)).astype(np.float32)
    expected = reference(a, b, 20)
    np.testing.assert_allclose(hz.spearman_correlation(a, tf.constant(b)), expected["spearman"])
    np.testing.assert_allclose(hz.dice(a, b, percentile=20), expected["dice"], atol=1e-6)
    np.testing.assert_allclose(hz.intersection_over_union(a, b, 20), expected["iou"], atol=1e-6)
    with pytest.raises(ValueError, match=r"heatmaps_b must have shape \(N, W, H\); got"):
        hz.spearman_correlation(a, b[..., None])


def test_evaluate_clickme_on_a_taken_dataset_with_default_and_custom_explainers() -> None:
    torch_model, keras_model = twin_cnns()
    ds = hz.load_clickme(hz.sample_shards(), batch_size=16, progress=False).take(2)

    def scale(images: tf.Tensor) -> tf.Tensor:
        return images / 255

    def gradient_saliency(images: tf.Tensor, labels: tf.Tensor) -> np.ndarray:
        # xplique's Saliency restated: max over channels of |d (output . labels) / d images|
        with tf.GradientTape() as tape:
            tape.watch(images)
            score = tf.reduce_sum(keras_model(images) * labels)
        return np.abs(tape.gradient(score, images).numpy()).max(axis=-1)

    by_keras = hz.evaluate_clickme(keras_model, clickme_val_dataset=ds, preprocess_inputs=scale)
    assert sorted(by_keras) == ["alignment_score", "dice", "iou", "spearman"]
    assert len(by_keras["spearman"]) == 32

    maps, heatmaps = [], []
    for images, heat, labels in ds:
        maps.append(gradient_saliency(images / 255, labels))
        heatmaps.append(heat.numpy()[..., 0])
    expected = reference(np.concatenate(maps), np.concatenate(heatmaps))
    for name, values in expected.items():
        np.testing.assert_allclose(by_keras[name], values, atol=1e-4, err_msg=name)
    assert by_keras["alignment_score"] == pytest.approx(
        np.mean(expected["spearman"]) / 0.65753, abs=1e-4
    )

    custom = hz.evaluate_clickme(
        keras_model, gradient_saliency, ds.map(lambda x, y, z: (x / 255, y, z))
    )
    np.testing.assert_allclose(custom["spearman"], by_keras["spearman"], atol=1e-6)

    # New: a PyTorch model, explained by the same definition, from the same TF batches.
    by_torch = hz.evaluate_clickme(torch_model, clickme_val_dataset=ds, preprocess_inputs=scale)
    np.testing.assert_allclose(by_torch["spearman"], by_keras["spearman"], atol=1e-4)
