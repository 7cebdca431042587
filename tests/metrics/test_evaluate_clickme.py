"""evaluate_clickme and the explainers, on tiny CNNs with the same weights in torch and Keras."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from support.twin_cnns import twin_cnns

from neural_datasets.metrics import SALIENCY_DEFINITIONS, evaluate_clickme, saliency_explainer

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

CLASSES = 1000


@pytest.mark.parametrize("definition", sorted(SALIENCY_DEFINITIONS))
def test_explainers_agree_across_frameworks(definition: str) -> None:
    torch_model, keras_model = twin_cnns(classes=10)
    images = np.random.default_rng(1).random((3, 21, 21, 3)).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[[2, 7, 7]]
    from_torch = saliency_explainer(torch_model, definition)(
        torch.from_numpy(images.transpose(0, 3, 1, 2)), torch.from_numpy(labels)
    )
    from_keras = saliency_explainer(keras_model, definition)(
        tf.constant(images), tf.constant(labels)
    )
    assert tuple(from_torch.shape) == tuple(from_keras.shape) == (3, 21, 21)
    np.testing.assert_allclose(from_torch.numpy(), from_keras.numpy(), rtol=1e-4, atol=1e-7)


def test_saliency_of_a_linear_model_is_its_weights() -> None:
    # logits = W x: d logit[c] / dx = W[c], whatever x; restated per definition.
    torch.manual_seed(3)
    linear = torch.nn.Linear(3 * 4 * 5, 6, bias=False)
    model = torch.nn.Sequential(torch.nn.Flatten(), linear)
    labels = torch.eye(6)[[1, 4]]
    weights = linear.weight.detach().numpy().reshape(6, 3, 4, 5)[[1, 4]]
    expected = {
        "saliency": np.abs(weights).max(axis=1),
        "mean_gradient": weights.mean(axis=1),
        "abs_mean_gradient": np.abs(weights.mean(axis=1)),
    }
    for definition, maps in expected.items():
        got = saliency_explainer(model, definition)(torch.randn(2, 3, 4, 5), labels)
        np.testing.assert_allclose(got.numpy(), maps, rtol=1e-6, err_msg=definition)


def test_torch_and_keras_score_the_same_on_the_sample() -> None:
    torch_model, keras_model = twin_cnns()

    def scale(images: Any) -> Any:  # in range for tanh: saturated units have no gradient
        return images / 255

    by_torch = evaluate_clickme(
        torch_model, "clickme-sample", preprocess=scale, batch_size=20, device="cpu", progress=False
    )
    by_keras = evaluate_clickme(keras_model, "clickme-sample", None, scale, 20, "/CPU:0", False)
    assert len(by_torch) == len(by_keras) == 48  # the last, incomplete batch is scored too
    for name in ("spearman", "dice", "iou"):
        np.testing.assert_allclose(
            getattr(by_torch, name), getattr(by_keras, name), atol=1e-4, err_msg=name
        )
    assert by_torch.alignment == pytest.approx(by_keras.alignment, abs=1e-6)
    assert by_torch.provenance["preprocess"].endswith("scale")
    again = evaluate_clickme(
        twin_cnns()[0], "clickme-sample", preprocess=scale, batch_size=16, progress=False
    )
    np.testing.assert_array_equal(again.spearman, by_torch.spearman)  # seeded: deterministic
    provenance = by_keras.provenance
    assert provenance["dataset"] == "clickme-sample" and provenance["framework"] == "keras"
    assert provenance["explainer"] == "saliency" and len(provenance["store"]["sources"]) == 2
    assert provenance["versions"]["tensorflow"] == tf.__version__


def test_a_custom_explainer_gets_the_models_tensors_and_random_maps_score_near_zero() -> None:
    torch_model, _ = twin_cnns()
    seen: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    generator = torch.Generator().manual_seed(0)

    def random_maps(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        seen.append((tuple(images.shape), tuple(labels.shape)))
        return torch.rand(images.shape[0], 224, 224, generator=generator)

    scores = evaluate_clickme(
        torch_model,
        "clickme-sample",
        explainer=random_maps,
        preprocess=lambda images: images / 255,
        batch_size=32,
        progress=False,
    )
    assert seen == [((32, 3, 224, 224), (32, CLASSES)), ((16, 3, 224, 224), (16, CLASSES))]
    assert abs(scores.alignment) < 0.05 and abs(scores.mean_spearman) < 0.02
    assert scores.provenance["explainer"].startswith("custom: ")


def test_errors_name_the_argument() -> None:
    torch_model, _ = twin_cnns(classes=10)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module or a Keras model; got"):
        evaluate_clickme(lambda x: x, "clickme-sample")
    with pytest.raises(ValueError, match="dataset must be one of .*got 'imagenet'"):
        evaluate_clickme(torch_model, "imagenet")
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        evaluate_clickme(torch_model, "clickme-sample", batch_size=0)
    with pytest.raises(ValueError, match="definition must be one of .*got 'gradcam'"):
        evaluate_clickme(torch_model, "clickme-sample", explainer="gradcam")
    with pytest.raises(TypeError, match="explainer must be None, one of .*got int"):
        evaluate_clickme(torch_model, "clickme-sample", explainer=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"explainer must return maps of shape \(16, 224, 224\)"):
        evaluate_clickme(
            torch_model,
            "clickme-sample",
            explainer=lambda images, labels: images,  # (B, 3, 224, 224): channels first
            batch_size=16,
            progress=False,
        )


def test_torch_models_are_explained_in_eval_mode_and_left_in_their_mode() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 2, 3),
        torch.nn.BatchNorm2d(2),
        torch.nn.Dropout(0.5),
        torch.nn.Flatten(),
        torch.nn.LazyLinear(4),
    )
    images, labels = torch.rand(3, 3, 8, 8), torch.eye(4)[[0, 1, 2]]
    model.eval()
    model(images)  # materialise the lazy layer
    expected = saliency_explainer(model)(images, labels)
    model.train()
    model[1].eval()  # a frozen batch norm inside a training model stays frozen
    got = saliency_explainer(model)(images, labels)
    torch.testing.assert_close(got, expected)
    assert [m.training for m in model] == [True, False, True, True, True]
