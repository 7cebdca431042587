"""Score a PyTorch or Keras model's layers against an IT population, end to end.

:func:`score_model` runs the population's stimuli through the model, takes each chosen
layer's feature maps (forward hooks in PyTorch, a sub-model in Keras), pools them to the
population's grid as neural_harmonizer does (:func:`features_on_grid`), scores them with
:func:`~neural_datasets.metrics.it_predictivity`, divides by the population's
:func:`~neural_datasets.metrics.it_ceiling`, and picks the best layer.
"""

from __future__ import annotations

import difflib
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .frameworks import framework_of, to_numpy
from .it import (
    PAPER_WINDOWS,
    ITCeiling,
    ITPredictivity,
    _float64_responses,
    _recordings,
    _window_for,
    it_ceiling,
    it_predictivity,
)
from .pls import DEFAULT_MAX_ITER

Selection = Literal["held_out", "same_images"]
MAX_UNITS = 600
"""Upstream averages groups of 3 (else 4) adjacent channels of a layer with more units."""


@dataclass(frozen=True)
class LayerScore:
    """One layer's raw predictivity and its ceiled value (``raw.mean / ceiling``)."""

    layer: str
    raw: ITPredictivity
    ceiled: float
    units: int

    @property
    def score(self) -> float:
        """The raw score, ``raw.mean``."""
        return self.raw.mean


@dataclass(frozen=True)
class ModelScore:
    """Per-layer IT predictivity of a model, the chosen layer and its provenance.

    Attributes
    ----------
    layers
        One :class:`LayerScore` per scored layer, in the order asked.
    ceiling
        The population's :class:`~neural_datasets.metrics.ITCeiling`.
    best_layer
        The layer with the highest mean score over all images (upstream's choice).
    score, ceiled_score
        The model's score under :attr:`selection`, raw and divided by the ceiling.
    selection
        ``"held_out"``: each image's score comes from the layer that scored best on the
        *other* images (their leave-one-out scores; this image was among their training
        images but never scored), then the scores are averaged (no selection bias).
        ``"same_images"``: upstream's ``max`` over layers of the score on all images (biased
        upward).
    same_images_score, held_out_score
        Both selections' raw scores, whichever was chosen.
    skipped
        Layers left out of a default layer list, with the reason (e.g. not a feature map).
    provenance
        Dataset, checksums, window, grid, layers, PLS and pooling settings, versions.
    """

    layers: list[LayerScore]
    ceiling: ITCeiling
    best_layer: str
    score: float
    ceiled_score: float
    selection: Selection
    same_images_score: float
    held_out_score: float
    skipped: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-ready), per-fold and per-site values included."""
        return {
            "score": self.score,
            "ceiled_score": self.ceiled_score,
            "selection": self.selection,
            "best_layer": self.best_layer,
            "same_images_score": self.same_images_score,
            "held_out_score": self.held_out_score,
            "ceiling": self.ceiling.to_dict(),
            "layers": [
                {"layer": s.layer, "units": s.units, "ceiled": s.ceiled, **s.raw.to_dict()}
                for s in self.layers
            ],
            "skipped": dict(self.skipped),
            "provenance": dict(self.provenance),
        }

    def table(self) -> str:
        """The per-layer scores as a plain-text table, the chosen score under it."""
        width = max([len("layer")] + [len(s.layer) for s in self.layers])
        lines = [
            f"IT predictivity: {self.provenance.get('population')} "
            f"{self.provenance.get('window_ms')} ms, ceiling {self.ceiling.value:.4f}",
            f"{'layer':<{width}}  units   score    std   ceiled",
        ]
        for s in self.layers:
            mark = "  <- best" if s.layer == self.best_layer else ""
            lines.append(
                f"{s.layer:<{width}}  {s.units:>5}  {s.score:6.4f}  {s.raw.std:5.3f}  "
                f"{s.ceiled:6.4f}{mark}"
            )
        lines.append(
            f"score ({self.selection.replace('_', '-')} layer selection): {self.score:.4f} raw, "
            f"{self.ceiled_score:.4f} ceiled"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def features_on_grid(
    activations: Any, grid: int, *, max_units: int | None = MAX_UNITS, legacy: bool = False
) -> np.ndarray:
    """A layer's feature maps pooled to the recordings' ``grid x grid`` locations, as upstream.

    neural_harmonizer's ``score_model``/``resizing_activity``, restated: a layer with more
    than ``max_units`` channels first averages groups of 3 adjacent channels (4 when 3 does
    not divide the count); maps larger than the grid are averaged over blocks (edges at
    ``int(i * size / grid)``); smaller ones are resized bilinearly (``tf.image.resize``'s
    half-pixel centres); then each image is min-max scaled to [0, 1] over all locations and
    channels (an image whose features are constant becomes zeros, where upstream divides
    0 by 0).

    Parameters
    ----------
    activations
        ``(image, height, width, channels)``.
    grid
        17 for George's populations, 9 for Red's.
    max_units
        ``None`` keeps every channel.
    legacy
        True: as upstream's loop, which leaves the last channel zero when it resizes up.

    Examples
    --------
    >>> maps = np.arange(2 * 4 * 4 * 2, dtype=float).reshape(2, 4, 4, 2)
    >>> features_on_grid(maps, 2).shape
    (2, 2, 2, 2)
    """
    A = np.asarray(to_numpy(activations, "activations"), dtype=np.float64)
    if A.ndim != 4:
        raise ValueError(
            f"activations must be (image, height, width, channels) feature maps; got shape "
            f"{A.shape}"
        )
    if max_units is not None and A.shape[-1] > max_units:
        group = 3 if A.shape[-1] % 3 == 0 else 4 if A.shape[-1] % 4 == 0 else 0
        if not group:
            raise ValueError(
                f"{A.shape[-1]} channels > max_units={max_units} divide by neither 3 nor 4 "
                f"(upstream's groups); pass max_units=None to keep them all"
            )
        A = A.reshape(*A.shape[:-1], -1, group).mean(axis=-1)
    images, height, width, channels = A.shape
    if height == width and height > grid:
        edges = [int(i * height / float(grid)) for i in range(grid + 1)]
        out = np.stack(
            [
                np.stack(
                    [
                        A[:, edges[a] : edges[a + 1], edges[b] : edges[b + 1]].mean(axis=(1, 2))
                        for b in range(grid)
                    ],
                    axis=1,
                )
                for a in range(grid)
            ],
            axis=1,
        )
    else:
        rows, cols = _bilinear_weights(height, grid), _bilinear_weights(width, grid)
        out = np.einsum("ah,bw,nhwc->nabc", rows, cols, A)
        if legacy and channels > 1:
            out[..., -1] = 0.0
    low = out.min(axis=(1, 2, 3), keepdims=True)
    span = out.max(axis=(1, 2, 3), keepdims=True) - low
    return np.asarray((out - low) / np.where(span > 0, span, 1.0))


def _bilinear_weights(size: int, grid: int) -> np.ndarray:
    """``(grid, size)`` weights of bilinear resizing with half-pixel centres (no antialias)."""
    weights = np.zeros((grid, size))
    centre = (np.arange(grid) + 0.5) * size / grid - 0.5
    low = np.floor(centre)
    frac = centre - low
    lower = np.clip(low, 0, size - 1).astype(int)
    upper = np.clip(low + 1, 0, size - 1).astype(int)
    np.add.at(weights, (np.arange(grid), lower), 1 - frac)
    np.add.at(weights, (np.arange(grid), upper), frac)
    return weights


def score_model(
    model: Any,
    population: str = "george_central_it",
    layers: Sequence[str] | None = None,
    window: tuple[int, int] | None = None,
    *,
    dataset: Any = "arcaro2020",
    selection: Selection = "held_out",
    legacy: bool = False,
    n_components: int = 25,
    correlation: Literal["pearson", "spearman"] = "pearson",
    reducer: Literal["median", "mean"] = "median",
    tol: float | None = None,
    preprocess: Callable[[np.ndarray], Any] | None = None,
    image_size: int = 224,
    max_units: int | None = MAX_UNITS,
    batch_size: int = 16,
    device: Any = None,
    cache_dir: Any = None,
    progress: bool = True,
) -> ModelScore:
    """Score a PyTorch or Keras model's layers as predictors of an IT population's maps.

    Parameters
    ----------
    model
        A ``torch.nn.Module`` or a Keras model taking ImageNet-normalised images (NCHW for
        PyTorch, NHWC for Keras).
    population
        ``"george_central_it"``, ``"george_posterior_it"`` or ``"red_central_it"``.
    layers
        Layer names (``named_modules()`` names in PyTorch, ``layer.name`` in Keras). None:
        every layer (PyTorch: every leaf module) whose output is a 4-D feature map.
    window
        ``(a, b)`` ms; default :data:`~neural_datasets.metrics.PAPER_WINDOWS`
        ``[population]``, the published numbers' window.
    dataset
        ``"arcaro2020"`` (published), ``"arcaro2020-sample"`` (offline, synthetic) or an
        open :class:`~neural_datasets.ITRecordings`.
    selection
        ``"held_out"`` (default) or ``"same_images"`` (upstream): see :class:`ModelScore`.
    legacy
        True reproduces upstream's numbers: ``tol=1e-4`` PLS, its ceiling arithmetic, its
        pooling, the loader's preprocessing (``(x / 255 - mean) / mean``) and
        ``selection="same_images"`` (unless ``selection``/``tol`` are given explicitly).
    n_components, correlation, reducer, tol
        As for :func:`~neural_datasets.metrics.it_predictivity`; ``n_components`` is capped
        at a layer's (pooled) units.
    preprocess
        ``uint8 (image, H, W, 3)`` -> the model's input (array or tensor). Default: ImageNet
        mean/std standardisation, transposed to NCHW for PyTorch.
    image_size
        The stimuli's side in pixels (upstream: 224).
    max_units
        See :func:`features_on_grid`.
    batch_size, device
        Forward passes; ``device`` (PyTorch) defaults to the model's.
    cache_dir, progress
        As for :func:`neural_datasets.fetch`, when ``dataset`` is a name; ``progress`` also
        shows a bar over the layers scored.

    Raises
    ------
    TypeError
        ``model`` is neither a torch nor a Keras model.
    ValueError
        Unknown population or layer (with the closest names), or a named layer that gives
        no 4-D feature map.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5, stride=4), torch.nn.ReLU())
    >>> _ = torch.manual_seed(0)
    >>> result = score_model(net, "george_central_it", window=(50, 90), image_size=64,
    ...                      n_components=4, dataset="arcaro2020-sample", progress=False)
    >>> [s.layer for s in result.layers], result.selection
    (['0', '1'], 'held_out')
    >>> print(result)  # doctest: +ELLIPSIS
    IT predictivity: george_central_it [50, 90] ms, ceiling 1.0000
    layer  units   score    std   ceiled
    0          8  ...
    score (held-out layer selection): ...
    """
    framework = framework_of(model)
    if selection not in ("held_out", "same_images"):
        raise ValueError(f"selection must be 'held_out' or 'same_images'; got {selection!r}")
    if legacy and tol is None:
        tol = 1e-4
    window = _window_for(population, window)
    it = _recordings(dataset, cache_dir, progress)
    pop = it.population(population)  # an unknown population fails here, before any work
    grid = len(pop.x)
    responses = _float64_responses(it, population, window)
    stimuli = it.stimuli(population, size=image_size)
    if preprocess is None:
        preprocess = _default_preprocess(framework, legacy)
    names, explicit = _layer_names(model, framework, layers)
    pooled = _GridPooler(names, grid, max_units, legacy)
    (_torch_activations if framework == "torch" else _keras_activations)(
        model, names, preprocess(stimuli), batch_size, device, pooled.add
    )
    ceiling = it_ceiling(population, window, dataset=it, legacy=legacy)
    scores, skipped = [], {}
    from tqdm.auto import tqdm

    for name in tqdm(names, desc=f"scoring {population}", unit="layer", disable=not progress):
        features = pooled.features(name)
        if isinstance(features, str):
            if explicit:
                raise ValueError(f"layer {name!r}: {features}; choose a convolutional layer")
            skipped[name] = features
            continue
        raw = it_predictivity(
            features, responses, min(n_components, features.shape[-1]), correlation, reducer, tol
        )
        scores.append(LayerScore(name, raw, ceiling.ceiled(raw.mean), int(features.shape[-1])))
    if not scores:
        raise ValueError(f"no layer of the model gives a 4-D feature map: {skipped}")
    table = np.array([s.raw.per_fold for s in scores])  # (layers, images)
    with np.errstate(invalid="ignore"):
        means = table.mean(axis=1)
    best = int(np.nanargmax(means)) if not np.isnan(means).all() else 0
    same_images = float(means[best])
    held_out = _held_out_score(table)
    chosen = held_out if selection == "held_out" else same_images
    provenance = _provenance(
        it, population, window, grid, framework, names, image_size, max_units, legacy,
        {"n_components": n_components, "correlation": correlation, "reducer": reducer,
         "tol": tol, "max_iter": DEFAULT_MAX_ITER if tol is not None else None, "scale": False},
    )  # fmt: skip
    return ModelScore(
        layers=scores,
        ceiling=ceiling,
        best_layer=scores[best].layer,
        score=chosen,
        ceiled_score=ceiling.ceiled(chosen),
        selection=selection,
        same_images_score=same_images,
        held_out_score=held_out,
        skipped=skipped,
        provenance=provenance,
    )


class _GridPooler:
    """Pools each batch of each layer's output to the grid as it arrives (so a whole
    network's raw activations are never held at once); remembers why a layer cannot be."""

    def __init__(self, names: list[str], grid: int, max_units: int | None, legacy: bool):
        self.grid, self.max_units, self.legacy = grid, max_units, legacy
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
        self.problems: dict[str, str] = {}

    def add(self, name: str, batch: np.ndarray | str) -> None:
        """One batch of layer ``name``'s output, NHWC when it is a feature map (or a reason
        it has none)."""
        if name in self.problems:
            return
        if isinstance(batch, str):
            self.problems[name] = batch
            return
        if batch.ndim != 4:
            self.problems[name] = f"output shape {tuple(batch.shape)} is not a 4-D feature map"
            return
        try:
            pooled = features_on_grid(
                batch, self.grid, max_units=self.max_units, legacy=self.legacy
            )
        except ValueError as exc:
            self.problems[name] = str(exc)
            return
        self.parts[name].append(pooled)

    def features(self, name: str) -> np.ndarray | str:
        """``(image, grid, grid, units)``, or the reason the layer cannot be scored."""
        return self.problems.get(name) or np.concatenate(self.parts[name])


def _held_out_score(table: np.ndarray) -> float:
    """Mean over images of the score of the layer that was best on the other images."""
    layers, images = table.shape
    picked = []
    for image in range(images):
        others = np.delete(table, image, axis=1)
        with np.errstate(invalid="ignore"):
            means = others.mean(axis=1)
        layer = int(np.nanargmax(means)) if not np.isnan(means).all() else 0
        picked.append(table[layer, image])
    return float(np.mean(picked))


def _default_preprocess(framework: str, legacy: bool) -> Callable[[np.ndarray], Any]:
    from ..datasets.arcaro2020.dataset import preprocess

    if framework == "torch":
        return lambda images: np.ascontiguousarray(
            preprocess(images, legacy=legacy).transpose(0, 3, 1, 2)
        )
    return lambda images: preprocess(images, legacy=legacy)


def _layer_names(
    model: Any, framework: str, layers: Sequence[str] | None
) -> tuple[list[str], bool]:
    if framework == "torch":
        modules = dict(model.named_modules())
        available = [name for name in modules if name]
        default = [name for name in available if not any(True for _ in modules[name].children())]
    else:
        available = [layer.name for layer in model.layers]
        default = [layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if layers is None:
        return default, False
    if isinstance(layers, str) or not all(isinstance(name, str) for name in layers):
        raise TypeError(f"layers must be a list of layer names; got {layers!r}")
    for name in layers:
        if name not in available:
            close = difflib.get_close_matches(name, available, n=3, cutoff=0.4)
            hint = f"; closest: {', '.join(close)}" if close else ""
            raise ValueError(f"layers: the model has no layer {name!r}{hint}")
    return list(layers), True


Sink = Callable[[str, "np.ndarray | str"], None]
"""Receives each batch of a layer's output, or why the layer gives none."""


def _torch_activations(
    model: Any, names: list[str], inputs: Any, batch_size: int, device: Any, sink: Sink
) -> None:
    """Run ``inputs`` through ``model``, handing each named module's output to ``sink``."""
    import torch

    modules = dict(model.named_modules())
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))

    def hook_for(name: str) -> Callable[..., None]:
        def hook(module: Any, args: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor):
                sink(name, f"output is a {type(output).__name__}, not a tensor")
                return
            value = output.detach().float().cpu().numpy()
            sink(name, value.transpose(0, 2, 3, 1) if value.ndim == 4 else value)

        return hook

    handles = [modules[name].register_forward_hook(hook_for(name)) for name in names]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(inputs), batch_size):
                batch = inputs[start : start + batch_size]
                tensor = batch if isinstance(batch, torch.Tensor) else torch.from_numpy(batch)
                model(tensor.to(device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)


def _keras_activations(
    model: Any, names: list[str], inputs: Any, batch_size: int, device: Any, sink: Sink
) -> None:
    """Run ``inputs`` through a sub-model of ``model`` giving the named layers' outputs."""
    import tensorflow as tf

    outputs = [model.get_layer(name).output for name in names]
    sub_model = tf.keras.Model(model.input, outputs)
    for start in range(0, len(inputs), batch_size):
        values = sub_model(inputs[start : start + batch_size], training=False)
        if len(names) == 1:
            values = [values]
        for name, value in zip(names, values):
            sink(name, np.asarray(value))


def _provenance(
    it: Any,
    population: str,
    window: tuple[int, int],
    grid: int,
    framework: str,
    names: list[str],
    image_size: int,
    max_units: int | None,
    legacy: bool,
    pls: dict[str, Any],
) -> dict[str, Any]:
    from .._version import __version__

    meta = it.attrs.get("neural_datasets", {})
    versions = {"neural_datasets": __version__, "numpy": np.__version__}
    versions["python"] = platform.python_version()
    if framework == "torch":
        import torch

        versions["torch"] = torch.__version__
    else:
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    return {
        "dataset": meta.get("dataset", it.name),
        "sources_sha256": dict(meta.get("sources", {})),
        "population": population,
        "window_ms": list(window),
        "grid": grid,
        "images": len(it.population(population).stimulus_names),
        "framework": framework,
        "layers": list(names),
        "image_size": image_size,
        "pooling": {"max_units": max_units, "per_image_min_max": True, "legacy": legacy},
        "pls": pls,
        "validation": "leave-one-image-out",
        "legacy": legacy,
        "versions": versions,
        "paper_window": PAPER_WINDOWS.get(population),
    }
