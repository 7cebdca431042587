"""Score a PyTorch or Keras model on ClickMe: its saliency maps against the human heatmaps.

The inputs are those of Harmonization's ``load_clickme_val`` (see
:mod:`neural_datasets.compat.harmonization`): images resized to 224x224 in 0..255, heatmaps
resized to 64x64, blurred with a 10x10 sigma-10 Gaussian and resized to 224x224, one-hot
labels; the validation split is its shards ``val-0`` .. ``val-16``. Unlike Harmonization's
loader, the last incomplete batch is scored too: every image counts once, whatever the batch
size.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .clickme import ClickMeScores, _score_arrays, warn_if_nan
from .explainers import SALIENCY_DEFINITIONS, saliency_explainer
from .frameworks import Framework, framework_of, to_numpy

__all__ = ["CLICKME_DATASETS", "evaluate_clickme"]

CLICKME_DATASETS = ("clickme-val", "clickme-sample", "clickme-train")
"""The datasets :func:`evaluate_clickme` reads."""

PREPROCESSING = (
    "Harmonization load_clickme_val: images bilinear 256->224 in 0..255; heatmaps bilinear "
    "->64x64, 10x10 sigma-10 Gaussian blur (SAME), bilinear ->224x224; one-hot labels"
)

Batch = tuple[Any, Any, Any]


def evaluate_clickme(
    model: Any,
    dataset: str = "clickme-val",
    explainer: str | Callable[[Any, Any], Any] | None = None,
    preprocess: Callable[[Any], Any] | None = None,
    batch_size: int = 64,
    device: Any = None,
    progress: bool = True,
    *,
    cache_dir: str | None = None,
    base_url: str | None = None,
) -> ClickMeScores:
    """ClickMe Spearman, Dice, IoU and alignment of a PyTorch or Keras model's saliency maps.

    Parameters
    ----------
    model
        A ``torch.nn.Module`` (given ``(B, 3, 224, 224)`` images) or a Keras model (given
        ``(B, 224, 224, 3)``); the named explainers run it in inference mode.
    dataset
        ``"clickme-val"`` (the published tables' split, shards 0-16), ``"clickme-sample"``
        (the bundled 48 records, offline) or ``"clickme-train"``.
    explainer
        ``None`` for ``"saliency"`` (xplique's ``Saliency``), another name of
        :data:`~neural_datasets.metrics.SALIENCY_DEFINITIONS`, or a callable
        ``(images, one_hot_labels) -> maps`` taking and returning tensors of the model's
        framework, maps ``(B, 224, 224)`` (or ``(B, 224, 224, C)``, averaged over ``C``).
    preprocess
        Applied to each batch of images (float32, 0..255) before the explainer sees them,
        e.g. the model's normalisation; default: none, as Harmonization.
    batch_size
        Images per batch.
    device
        Where the images go and the explainer runs: a torch device for PyTorch (default: the
        model's), a TensorFlow device name for Keras (default: TensorFlow's choice).
    progress
        Show a progress bar (and the download's, if the dataset is fetched).
    cache_dir, base_url
        As for :func:`neural_datasets.fetch`.

    Returns
    -------
    ClickMeScores
        Per-image scores, ``alignment`` and ``as_dict()``; ``provenance`` records the dataset
        and its checksums, the explainer, the preprocessing and the library versions.

    Raises
    ------
    TypeError
        ``model`` is neither a PyTorch nor a Keras model; ``explainer`` is neither a name nor
        a callable.
    ValueError
        An unknown ``dataset`` or explainer name, ``batch_size < 1``, or maps of the wrong shape.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Conv2d(3, 4, 5, stride=4), torch.nn.ReLU(), torch.nn.Flatten(),
    ...     torch.nn.LazyLinear(1000)).eval()
    >>> scores = evaluate_clickme(model, "clickme-sample", batch_size=16, progress=False)
    >>> len(scores), scores.provenance["explainer"]
    (48, 'saliency')
    """
    framework = framework_of(model)
    if dataset not in CLICKME_DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(CLICKME_DATASETS)}; got {dataset!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    explain, explainer_name = _explainer(model, explainer)
    source, shards = _source(dataset, cache_dir=cache_dir, base_url=base_url, progress=progress)
    batches = (
        _torch_batches(model, source, batch_size, device)
        if framework == "torch"
        else _keras_batches(source, batch_size)
    )
    from tqdm.auto import tqdm

    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    bar = tqdm(total=len(source), unit="image", desc=dataset, disable=not progress)
    with bar, _keras_placement(framework, device):
        for images, heatmaps, labels in batches:
            if preprocess is not None:
                images = preprocess(images)
            maps = to_numpy(explain(images, labels), "explainer output")
            _check_maps(maps, len(labels))
            parts.append(_score_arrays(maps, heatmaps, 10, None))
            bar.update(len(labels))
    scores = ClickMeScores.from_batches(
        parts,
        provenance=_provenance(
            dataset, source, shards, framework, explainer_name, preprocess, batch_size
        ),
    )
    warn_if_nan(scores, stacklevel=2)
    return scores


def _explainer(
    model: Any, explainer: str | Callable[[Any, Any], Any] | None
) -> tuple[Callable[[Any, Any], Any], str]:
    if explainer is None or isinstance(explainer, str):
        name = explainer or "saliency"
        return saliency_explainer(model, name), name
    if not callable(explainer):
        raise TypeError(
            f"explainer must be None, one of {sorted(SALIENCY_DEFINITIONS)} or a callable "
            f"(images, labels) -> maps; got {type(explainer).__name__}"
        )
    return explainer, f"custom: {getattr(explainer, '__qualname__', type(explainer).__name__)}"


def _check_maps(maps: np.ndarray, batch: int) -> None:
    if maps.ndim not in (3, 4) or maps.shape[:3] != (batch, 224, 224):
        raise ValueError(
            f"the explainer must return maps of shape ({batch}, 224, 224) (or with a trailing "
            f"channel axis) for a batch of {batch} images; got {maps.shape}"
        )


def _source(dataset: str, *, cache_dir: Any, base_url: Any, progress: bool) -> tuple[Any, int]:
    """The split's samples in Harmonization's shards (val: 0-16; sample, train: all), and
    how many shards that is."""
    from ..datasets.clickme.dataset import ClickMe
    from ..datasets.clickme.reading_order import HARMONIZATION_SHARDS, HarmonizationBatches

    split = dataset.removeprefix("clickme-")
    clickme = ClickMe(split, cache_dir=cache_dir, base_url=base_url, progress=progress)
    shards = HARMONIZATION_SHARDS.get(split, len(clickme.attrs["clickme"]["source_files"]))
    # Every image is scored once: the reading order does not change the scores.
    return HarmonizationBatches(clickme, list(range(shards)), cycle_length=1), shards


def _torch_batches(model: Any, source: Any, batch_size: int, device: Any) -> Iterator[Batch]:
    import torch

    from ..adapters.torch import loader
    from ..augment.torch import harmonization_preprocess

    if device is None:
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
    for batch in loader(source, batch_size, shuffle=False, drop_last=False):
        images, heatmaps = harmonization_preprocess(
            batch["image"].to(device), batch["heatmap"].to(device)
        )
        yield images, heatmaps[:, 0], batch["label"].to(device)


def _keras_batches(source: Any, batch_size: int) -> Iterator[Batch]:
    from ..adapters.tf import dataset
    from ..augment.tf import harmonization_preprocess

    for batch in dataset(source, batch_size, shuffle=False, drop_remainder=False):
        images, heatmaps = harmonization_preprocess(batch["image"], batch["heatmap"])
        yield images, heatmaps[..., 0], batch["label"]


def _keras_placement(framework: Framework, device: Any) -> contextlib.AbstractContextManager[Any]:
    """``tf.device(device)`` around a Keras evaluation given a device; nothing otherwise."""
    if framework != "keras" or device is None:
        return contextlib.nullcontext()
    import tensorflow as tf

    return tf.device(device)


def _provenance(
    dataset: str,
    source: Any,
    shards: int,
    framework: Framework,
    explainer: str,
    preprocess: Callable[[Any], Any] | None,
    batch_size: int,
) -> dict[str, Any]:
    store = source.clickme.attrs.get("neural_datasets", {})
    from .._version import __version__

    modules = ("numpy", "torch") if framework == "torch" else ("numpy", "tensorflow", "keras")
    versions = {"neural_datasets": __version__}
    versions.update({name: importlib.import_module(name).__version__ for name in modules})
    return {
        "dataset": dataset,
        "images": len(source),
        "store": {
            key: store.get(key)
            for key in ("dataset", "format_version", "software_version", "created", "sources")
        },
        "shards": source.clickme.attrs["clickme"]["source_files"][:shards],
        "framework": framework,
        "explainer": explainer,
        "saliency_definition": SALIENCY_DEFINITIONS.get(explainer, "custom explainer"),
        "preprocessing": PREPROCESSING,
        "preprocess": None if preprocess is None else getattr(preprocess, "__qualname__", None),
        "batch_size": batch_size,
        "percentile": 10,
        "versions": versions,
    }
