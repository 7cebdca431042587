"""IT predictivity: how well a model's features predict IT sites' response maps.

The protocol of the neural-harmonizer paper (serre-lab/neural_harmonizer,
``evaluation/neural_benchmark.py``): features and responses on one spatial grid,
``(image, x, y, units)`` and ``(image, x, y, sites)``. Every grid location of every
image is one regression sample. Leave one image out: a PLS regression (no scaling) from
the features at each location to all sites is fit on the other images' locations, then
predicts the held-out image's map of every site; each site scores the correlation of its
predicted and recorded map over the grid locations; the sites' scores are reduced
(median) to one number per held-out image, and those are averaged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .frameworks import to_numpy
from .pls import DEFAULT_MAX_ITER, _check_components, pls_from_moments

Correlation = Literal["pearson", "spearman"]
Reducer = Literal["median", "mean"]


@dataclass(frozen=True)
class ITPredictivity:
    """The result of :func:`it_predictivity`, raw values kept.

    Attributes
    ----------
    mean, std
        Mean and (population) standard deviation of :attr:`per_fold`, as upstream reports them.
    per_fold
        ``(images,)``: the reduced site correlation when that image was held out.
    per_site
        ``(images, sites)``: each site's correlation on each held-out image (NaN where a
        map is constant over the grid: see :attr:`silent_sites`; a constant *prediction*
        makes its fold's value NaN, as upstream's median does).
    settings
        ``n_components``, ``correlation``, ``reducer``, ``tol``, ``max_iter``.
    unconverged
        With a ``tol``: power iterations that stopped at ``max_iter`` (0 when exact).
    silent_sites
        ``(images,)``: sites whose recorded map is constant on that image (NaN in
        :attr:`per_site`, left out of the fold's reduction; upstream's median would be NaN).
    predicted
        ``(images, locations, sites)``: each image's maps as predicted when it was held out
        (locations flattened row by row; not in :meth:`to_dict`).
    """

    mean: float
    std: float
    per_fold: np.ndarray
    per_site: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)
    unconverged: int = 0
    silent_sites: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    predicted: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-ready): scores, per-fold and per-site lists, settings."""
        return {
            "mean": _plain(self.mean),
            "std": _plain(self.std),
            "per_fold": [_plain(v) for v in self.per_fold],
            "per_site": [[_plain(v) for v in row] for row in self.per_site],
            "settings": dict(self.settings),
            "unconverged": self.unconverged,
            "silent_sites": [int(v) for v in self.silent_sites],
        }

    def __repr__(self) -> str:
        return (
            f"ITPredictivity(mean={self.mean:.4f}, std={self.std:.4f}, "
            f"folds={len(self.per_fold)}, sites={self.per_site.shape[1]})"
        )


def _plain(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def it_predictivity(
    features: Any,
    responses: Any,
    n_components: int = 25,
    correlation: Correlation = "pearson",
    reducer: Reducer = "median",
    tol: float | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
) -> ITPredictivity:
    """Leave-one-image-out PLS predictivity of IT response maps from features on the same grid.

    Parameters
    ----------
    features
        ``(image, x, y, units)`` (or ``(image, location, units)``): a model's features
        pooled to the recordings' grid. NumPy, torch or TensorFlow.
    responses
        ``(image, x, y, sites)`` (or ``(image, location, sites)``) on the same grid, e.g.
        :meth:`ITRecordings.responses <neural_datasets.ITRecordings.responses>`.
    n_components
        PLS components (upstream: 25).
    correlation
        ``"pearson"`` (upstream's published setting) or ``"spearman"`` (Pearson of average
        ranks), per site over the held-out image's grid locations.
    reducer
        ``"median"`` (upstream) or ``"mean"`` over sites, per held-out image.
    tol, max_iter
        ``None`` (default): converged PLS, computed exactly. ``tol=1e-4``: upstream's
        scikit-learn setting (``PLSRegression(25, scale=False, tol=1e-4)``), whose power
        iteration stops early; its numbers differ from the converged ones (see
        ``docs/scoring.md``).

    Returns
    -------
    ITPredictivity
        ``.mean``, ``.std``, ``.per_fold``, ``.per_site``, ``.settings``.

    Raises
    ------
    ValueError
        Wrong ranks, mismatched images or grids, fewer than 3 images, or an unknown
        ``correlation`` / ``reducer``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> features = rng.normal(size=(5, 4, 4, 12))
    >>> responses = features[..., :3] + 0.1 * rng.normal(size=(5, 4, 4, 3))
    >>> score = it_predictivity(features, responses, n_components=5)
    >>> score.per_fold.shape, score.per_site.shape, round(score.mean, 2)
    ((5,), (5, 3), 0.98)
    """
    X = np.asarray(to_numpy(features, "features"), dtype=np.float64)
    Y = np.asarray(to_numpy(responses, "responses"), dtype=np.float64)
    for name, value in (("features", X), ("responses", Y)):
        if value.ndim not in (3, 4):
            raise ValueError(
                f"{name} must be (image, x, y, channels) or (image, location, channels); "
                f"got shape {value.shape}"
            )
    if X.shape[:-1] != Y.shape[:-1]:
        raise ValueError(
            f"features and responses must share images and grid; got features {X.shape} and "
            f"responses {Y.shape}"
        )
    if correlation not in ("pearson", "spearman"):
        raise ValueError(f"correlation must be 'pearson' or 'spearman'; got {correlation!r}")
    if reducer not in ("median", "mean"):
        raise ValueError(f"reducer must be 'median' or 'mean'; got {reducer!r}")
    images = X.shape[0]
    if images < 3:
        raise ValueError(f"leave-one-image-out needs at least 3 images; got {images}")
    X = X.reshape(images, -1, X.shape[-1])
    Y = Y.reshape(images, -1, Y.shape[-1])
    locations = X.shape[1]
    _check_components(n_components, (images - 1) * locations, X.shape[2])
    X = _in_row_space(X)

    # Centre on the grand mean first: each fold's moments then subtract small means only.
    y_grand_mean = Y.mean(axis=(0, 1))
    X = X - X.mean(axis=(0, 1))
    Y = Y - y_grand_mean
    Xt = X.transpose(0, 2, 1)
    gram_i, cross_i, ygram_i = Xt @ X, Xt @ Y, Y.transpose(0, 2, 1) @ Y
    sum_x, sum_y = X.sum(axis=1), Y.sum(axis=1)
    rows = (images - 1) * locations
    x_mean = (sum_x.sum(axis=0) - sum_x) / rows
    y_mean = (sum_y.sum(axis=0) - sum_y) / rows
    gram = gram_i.sum(axis=0) - gram_i - rows * x_mean[:, :, None] * x_mean[:, None, :]
    cross = cross_i.sum(axis=0) - cross_i - rows * x_mean[:, :, None] * y_mean[:, None, :]
    ygram = ygram_i.sum(axis=0) - ygram_i - rows * y_mean[:, :, None] * y_mean[:, None, :]
    fits = pls_from_moments(
        gram, cross, ygram, x_mean, y_mean, n_components, tol=tol, max_iter=max_iter
    )
    predicted = fits.predict(X)
    per_site = _correlate_columns(predicted, Y, correlation)
    # A site whose recorded map is flat on the held-out image has no correlation to predict
    # (whatever the model): it leaves that fold's reduction. A flat prediction stays NaN.
    silent = np.ptp(Y, axis=1) == 0
    reduce = np.median if reducer == "median" else np.mean
    with np.errstate(invalid="ignore"):
        per_fold = np.array(
            [reduce(row[~flat]) if (~flat).any() else np.nan for row, flat in zip(per_site, silent)]
        )
    settings = {
        "n_components": int(n_components),
        "correlation": correlation,
        "reducer": reducer,
        "tol": tol,
        "max_iter": max_iter if tol is not None else None,
        "scale": False,
        "validation": "leave-one-image-out",
    }
    return ITPredictivity(
        mean=float(per_fold.mean()),
        std=float(per_fold.std()),
        per_fold=per_fold,
        per_site=per_site,
        settings=settings,
        unconverged=fits.unconverged,
        silent_sites=silent.sum(axis=1),
        predicted=predicted + y_grand_mean,
    )


def _in_row_space(X: np.ndarray) -> np.ndarray:
    """``X`` in an orthonormal basis of its rows' span when it has more units than rows.

    PLS without scaling depends on the features only through inner products, so rotating
    them (and dropping directions no row reaches) leaves every fit's predictions unchanged,
    while the Gram matrices shrink to ``rows x rows``.
    """
    images, locations, units = X.shape
    rows = images * locations
    if units <= rows:
        return X
    flat = X.reshape(rows, units)
    basis = np.linalg.svd(flat, full_matrices=False)[2]  # (rows, units), orthonormal rows
    return (flat @ basis.T).reshape(images, locations, rows)


def _correlate_columns(a: np.ndarray, b: np.ndarray, correlation: Correlation) -> np.ndarray:
    """Per (image, column): correlation of ``a`` and ``b`` over axis 1; NaN for a constant."""
    if correlation == "spearman":
        from scipy.stats import rankdata

        a, b = rankdata(a, axis=1), rankdata(b, axis=1)
    flat = (np.ptp(a, axis=1) == 0) | (np.ptp(b, axis=1) == 0)  # exact test, before round-off
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norms = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = (a * b).sum(axis=1) / norms
    return np.where(flat, np.nan, out)


PAPER_WINDOWS: dict[str, tuple[int, int]] = {
    "george_central_it": (130, 170),
    "george_posterior_it": (90, 130),
    "red_central_it": (90, 130),
}
"""Per population, the time window (ms after onset, ``[a, b)``) of the published numbers.

These are the windows of neural_harmonizer's notebook (``Tutorial_test_your_own_model``),
which printed the published ceilings (0.6966, 0.7893, 0.6135) and scores. Its other
windows disagree: the loader's default is 50-90 ms, its docstring says 100-150 ms, and
``neural_benchmark_score`` uses 130-170 ms for every population.
"""


@dataclass(frozen=True)
class ITCeiling:
    """A ceiling for IT predictivity, with the per-image values it averages.

    Attributes
    ----------
    value
        The ceiling: the mean of :attr:`per_image`.
    per_image
        ``(images,)``: the highest correlation between the maps of two different sites.
    population, window
        What it was computed on (``population`` is None for arrays).
    legacy
        True: upstream's arithmetic (see :func:`site_ceiling`).
    """

    value: float
    per_image: np.ndarray
    population: str | None = None
    window: tuple[int, int] | None = None
    legacy: bool = False

    def ceiled(self, r: float) -> float:
        """``r / ceiling``: upstream's ceiled score."""
        return float(r) / self.value

    def ceiled_squared(self, r: float) -> float:
        """``r**2 / ceiling``: Brain-Score's convention for a squared (explained-variance) score."""
        return float(r) ** 2 / self.value

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-ready)."""
        return {
            "value": _plain(self.value),
            "per_image": [_plain(v) for v in self.per_image],
            "population": self.population,
            "window": list(self.window) if self.window else None,
            "legacy": self.legacy,
            "method": "highest correlation between two sites' maps, mean over images",
        }


def site_ceiling(responses: Any, *, legacy: bool = False) -> ITCeiling:
    """Upstream's IT ceiling from response maps: per image, the best pair of different sites.

    For every image, the correlation between the maps of every two different sites; the
    image's value is the highest of them; the ceiling is the mean over images. It asks how
    well one site's map can be predicted at best by another's, an upper bound of sorts for
    a model's per-site correlation (not a reliability ceiling: the recordings hold
    trial-averaged responses only, so no split-half ceiling can be computed).

    Parameters
    ----------
    responses
        ``(image, x, y, sites)`` response maps (time-averaged).
    legacy
        False (default): as intended. Pearson over the whole map (all grid locations, as
        :func:`it_predictivity` correlates), every pair of sites; a pair with a constant
        map is skipped. True: upstream's ``ceiling_score`` arithmetic: its loops leave out
        the last site; each pair's correlation is the mean over grid rows of the Pearson
        correlation within the row (``tf_pearson_loss`` on a 2-D map correlates along its
        last axis); the matrix it maximises starts at zeros, so an image's value is never
        below 0; NaN pairs are skipped. (Its min-max "normalisation" subtracts a constant,
        ``x - min / (max - min)``, which changes no correlation.)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> maps = rng.normal(size=(3, 5, 5, 4))
    >>> maps[..., 1] = 2 * maps[..., 0] + 1  # sites 0 and 1 agree perfectly
    >>> round(site_ceiling(maps).value, 6)
    1.0
    """
    maps = np.asarray(to_numpy(responses, "responses"), dtype=np.float64)
    if maps.ndim != 4:
        raise ValueError(f"responses must be (image, x, y, sites); got shape {maps.shape}")
    if maps.shape[-1] < 2:
        raise ValueError(f"a ceiling needs at least 2 sites; got {maps.shape[-1]}")
    if legacy:
        per_image = np.array([_legacy_image_ceiling(image) for image in maps])
    else:
        flat = maps.reshape(maps.shape[0], -1, maps.shape[-1])
        flat = flat - flat.mean(axis=1, keepdims=True)
        norms = np.sqrt((flat * flat).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            unit = flat / norms[:, None, :]
        corr = np.matmul(unit.transpose(0, 2, 1), unit)
        sites = maps.shape[-1]
        corr[:, np.arange(sites), np.arange(sites)] = np.nan
        corr[~np.isfinite(corr)] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an image with no valid pair
            per_image = np.nanmax(corr.reshape(len(maps), -1), axis=1)
    return ITCeiling(value=float(per_image.mean()), per_image=per_image, legacy=legacy)


def _legacy_image_ceiling(image: np.ndarray) -> float:
    """One image of upstream's ``ceiling_score`` (Pearson branch), restated."""
    sites = image.shape[-1]
    rows = image - image.mean(axis=1, keepdims=True)  # centre each grid row
    norms = np.sqrt((rows * rows).sum(axis=1))  # (x, sites)
    best = 0.0  # upstream's correlation matrix starts at zeros and keeps them off the pairs
    for i in range(sites - 1):
        for j in range(i + 1, sites - 1):
            with np.errstate(invalid="ignore", divide="ignore"):
                per_row = (rows[:, :, i] * rows[:, :, j]).sum(axis=1) / (norms[:, i] * norms[:, j])
            value = per_row.mean()
            if value > best:  # NaN compares False: skipped, as upstream
                best = float(value)
    return best


def it_ceiling(
    population: str = "george_central_it",
    window: tuple[int, int] | None = None,
    *,
    dataset: Any = "arcaro2020",
    legacy: bool = False,
    cache_dir: Any = None,
    progress: bool = True,
) -> ITCeiling:
    """The IT ceiling of one recorded population (see :func:`site_ceiling`).

    Parameters
    ----------
    population
        ``"george_central_it"``, ``"george_posterior_it"`` or ``"red_central_it"``.
    window
        ``(a, b)`` ms after onset; default :data:`PAPER_WINDOWS` ``[population]``, the
        window of the published ceilings.
    dataset
        A registry name (``"arcaro2020"``, the published recordings, or
        ``"arcaro2020-sample"``, offline, synthetic) or an open
        :class:`~neural_datasets.ITRecordings`.
    legacy
        True: upstream's arithmetic, which printed the notebook's 0.6966 (George central IT,
        130-170 ms), 0.7893 (George posterior IT, 90-130 ms) and 0.6135 (Red central IT,
        90-130 ms) on the published recordings.
    cache_dir, progress
        As for :func:`neural_datasets.fetch`, when ``dataset`` is a name.

    Examples
    --------
    The bundled sample's recordings end at 120 ms, before the published windows:

    >>> ceiling = it_ceiling("george_central_it", (50, 90), dataset="arcaro2020-sample",
    ...                      progress=False)
    >>> ceiling.window, ceiling.per_image.shape
    ((50, 90), (4,))
    """
    it = _recordings(dataset, cache_dir, progress)
    window = _window_for(population, window)
    maps = _float64_responses(it, population, window)
    result = site_ceiling(maps, legacy=legacy)
    return ITCeiling(result.value, result.per_image, population, window, legacy)


def _recordings(dataset: Any, cache_dir: Any, progress: bool) -> Any:
    from ..datasets.arcaro2020.dataset import ITRecordings

    if isinstance(dataset, ITRecordings):
        return dataset
    if not isinstance(dataset, str):
        raise TypeError(
            f"dataset must be a dataset name or an ITRecordings; got {type(dataset).__name__}"
        )
    return ITRecordings(dataset, cache_dir=cache_dir, progress=progress)


def _window_for(population: str, window: tuple[int, int] | None) -> tuple[int, int]:
    if window is not None:
        return (int(window[0]), int(window[1]))
    try:
        return PAPER_WINDOWS[population]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown population {population!r}; choose one of: {', '.join(PAPER_WINDOWS)}."
        ) from None


def _float64_responses(it: Any, population: str, window: tuple[int, int]) -> np.ndarray:
    """Time-averaged maps in float64 (as upstream averages), paper orientation."""
    pop = it.population(population)  # a clear error for an unknown population
    maps: np.ndarray = it._mean_responses(pop, window)
    return maps
