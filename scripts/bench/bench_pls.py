"""IT predictivity per layer: our batched exact PLS against scikit-learn's loop, in one run.

Realistic sizes of the neural-harmonizer protocol (George, 17x17 grid): 14 images, leave
one out (13 training images x 289 grid positions), ~700 features, 30 sites, 25 components.
Synthetic features (ReLU of a low-rank mix plus noise, min-max scaled per image as upstream
pools them) and responses (a linear read-out of some features plus noise).

(a) upstream's loop: ``PLSRegression(25, scale=False, tol=1e-4)`` fit per held-out image,
    Pearson per site, median; timed on ``--sklearn-folds`` folds and scaled to all 14
    (each fold is the same work), since one layer takes minutes;
(b) ``it_predictivity(..., tol=1e-4)``: the same unconverged numbers, batched;
(c) ``it_predictivity(...)``: converged (exact SVD), the default.

Also reports how far upstream's ``tol=1e-4`` is from convergence. Run by hand::

    python scripts/bench/bench_pls.py --json bench-data/pls.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import benchdata  # noqa: E402

IMAGES, GRID, UNITS, SITES, COMPONENTS = 14, 17, 700, 30, 25


def synthetic(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(IMAGES, GRID, GRID, 40))
    features = np.maximum(latent @ rng.normal(size=(40, UNITS)), 0)
    features += 0.5 * rng.random((IMAGES, GRID, GRID, UNITS))
    features -= features.min(axis=(1, 2, 3), keepdims=True)
    features /= features.max(axis=(1, 2, 3), keepdims=True)
    responses = features[..., :60] @ rng.normal(size=(60, SITES))
    responses += 2.0 * rng.normal(size=responses.shape)
    return features, responses


def sklearn_fold(features: np.ndarray, responses: np.ndarray, held_out: int, tol: float):
    """One fold of upstream's loop (its ``brain_score`` with ``coef_`` as fitted today)."""
    from sklearn.cross_decomposition import PLSRegression

    rest = [i for i in range(IMAGES) if i != held_out]
    X_train = features[rest].reshape(-1, UNITS)
    Y_train = responses[rest].reshape(-1, SITES)
    X_test = features[held_out].reshape(-1, UNITS)
    Y_test = responses[held_out].reshape(-1, SITES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pls = PLSRegression(COMPONENTS, scale=False, tol=tol).fit(X_train, Y_train)
    predicted = pls.predict(X_test)
    return np.array([np.corrcoef(predicted[:, s], Y_test[:, s])[0, 1] for s in range(SITES)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sklearn-folds", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from neural_datasets.metrics import it_predictivity

    features, responses = synthetic()
    start = time.perf_counter()
    upstream = [sklearn_fold(features, responses, i, 1e-4) for i in range(args.sklearn_folds)]
    sklearn_fold_s = (time.perf_counter() - start) / args.sklearn_folds
    sklearn_layer_s = sklearn_fold_s * IMAGES

    timings: dict[str, list[float]] = {"legacy": [], "exact": []}
    results = {}
    for _ in range(args.rounds):
        for key, tol in (("legacy", 1e-4), ("exact", None)):
            start = time.perf_counter()
            results[key] = it_predictivity(features, responses, COMPONENTS, tol=tol)
            timings[key].append(time.perf_counter() - start)
    best = {key: min(values) for key, values in timings.items()}

    upstream_sites = np.array(upstream)
    legacy_gap = np.abs(results["legacy"].per_site[: args.sklearn_folds] - upstream_sites).max()
    site_gap = np.abs(results["legacy"].per_site - results["exact"].per_site)
    fold_gap = np.abs(results["legacy"].per_fold - results["exact"].per_fold)
    legacy_mean, exact_mean = results["legacy"].mean, results["exact"].mean
    lines = [
        f"{IMAGES} images (leave one out: 13 x {GRID * GRID} training rows), {UNITS} features, "
        f"{SITES} sites, {COMPONENTS} components, {benchdata.machine()['cpus']} CPUs; "
        f"scikit-learn timed on {args.sklearn_folds} folds and scaled to {IMAGES}.",
        "",
        "| per layer (14 folds) | seconds | x (a) |",
        "|---|---:|---:|",
        f"| (a) upstream loop, scikit-learn `tol=1e-4` | {sklearn_layer_s:.1f} | 1.0x |",
        f"| (b) `it_predictivity(tol=1e-4)` (same numbers) | {best['legacy']:.2f} | "
        f"{sklearn_layer_s / best['legacy']:.0f}x |",
        f"| (c) `it_predictivity()` converged (default) | {best['exact']:.2f} | "
        f"{sklearn_layer_s / best['exact']:.0f}x |",
        "",
        f"(b) against (a) on the timed folds: max |difference| per site {legacy_gap:.1e}. "
        f"Upstream's `tol=1e-4` against converged: up to {site_gap.max():.4f} per site, "
        f"{fold_gap.max():.4f} in a fold's median, {abs(legacy_mean - exact_mean):.4f} "
        f"in the layer's score ({legacy_mean:.4f} vs {exact_mean:.4f}).",
    ]
    print("\n".join(lines))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "sklearn_fold_s": sklearn_fold_s,
            "sklearn_layer_s": sklearn_layer_s,
            "ours_s": timings,
            "legacy_vs_sklearn_max": float(legacy_gap),
            "unconverged_site_max": float(site_gap.max()),
            "unconverged_fold_max": float(fold_gap.max()),
            "machine": benchdata.machine(),
        }
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
