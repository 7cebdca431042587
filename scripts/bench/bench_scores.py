"""ClickMe scores: ``metrics.clickme_scores`` against Harmonization's per-image loops, one run.

Run by hand (not by CI)::

    python scripts/bench/bench_scores.py --json bench-data/scores.json

The same maps, 256 of 224x224 (``evaluate_clickme``'s size), scored by:

(a) Harmonization's metrics as published, restated: three loops over the images, one per
    metric (``scipy.stats.spearmanr`` ranking both maps; Dice and IoU each computing both
    maps' ``numpy.percentile`` threshold);
(b) ``neural_datasets.metrics.clickme_scores`` on one thread;
(c) ``clickme_scores`` with a thread per CPU (the default);
(g) ``clickme_scores`` given torch tensors on CUDA, when a GPU is present (the maps are
    brought to the CPU, as the scores are computed there).

Saliency maps are continuous (absolute Gaussian noise, smoothed); heatmaps are quantised to
256 levels as ClickMe's JPEG heatmaps are, so they hold many ties. Rounds are interleaved and
the median time kept (the machine is shared); the results are checked equal to (a) first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import benchdata  # noqa: E402

EPSILON = 1e-9  # Harmonization's guard in Dice and IoU


def harmonization_loops(saliency: np.ndarray, heatmaps: np.ndarray, percentile: float = 10):
    """(a) The published metrics' per-image loops: Spearman, then Dice, then IoU."""
    from scipy.stats import spearmanr

    a, b = saliency.astype(np.float32), heatmaps.astype(np.float32)
    spearman = [spearmanr(x.flatten(), y.flatten())[0] for x, y in zip(a, b)]
    dice, iou = [], []
    for x, y in zip(a, b):
        mx = (x > np.percentile(x, 100 - percentile, (0, 1))).astype(np.float32)
        my = (y > np.percentile(y, 100 - percentile, (0, 1))).astype(np.float32)
        dice.append(2.0 * np.sum(mx * my) / (np.sum(mx + my) + EPSILON))
    for x, y in zip(a, b):
        mx = (x > np.percentile(x, 100 - percentile, (0, 1))).astype(np.float32)
        my = (y > np.percentile(y, 100 - percentile, (0, 1))).astype(np.float32)
        iou.append(np.sum(np.logical_and(mx, my)) / (np.sum(np.logical_or(mx, my)) + EPSILON))
    return np.array(spearman), np.array(dice), np.array(iou)


def maps(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth continuous saliency maps and 256-level heatmaps correlated with them."""
    rng = np.random.default_rng(seed)
    noise = np.abs(rng.normal(size=(n, size, size))).astype(np.float32)
    kernel = np.ones(9, np.float32) / 9
    smooth = np.apply_along_axis(np.convolve, 1, noise, kernel, "same")
    smooth = np.apply_along_axis(np.convolve, 2, smooth, kernel, "same")
    heat = smooth + 0.5 * rng.random(smooth.shape, dtype=np.float32)
    heat = np.round(255 * heat / heat.max(axis=(1, 2), keepdims=True)).astype(np.float32)
    return smooth, heat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from neural_datasets.metrics import clickme_scores

    saliency, heatmaps = maps(args.maps, args.size)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cases: dict[str, tuple[str, Callable[[], object]]] = {
        "a": (
            "Harmonization metrics, per-image loops",
            lambda: harmonization_loops(saliency, heatmaps),
        ),
        "b": ("clickme_scores, 1 thread", lambda: clickme_scores(saliency, heatmaps, threads=1)),
        "c": (f"clickme_scores, {cpus} threads", lambda: clickme_scores(saliency, heatmaps)),
    }
    try:
        import torch

        if torch.cuda.is_available():
            on_gpu = torch.from_numpy(saliency).cuda(), torch.from_numpy(heatmaps).cuda()
            cases["g"] = ("clickme_scores, torch tensors on CUDA", lambda: clickme_scores(*on_gpu))
    except ImportError:
        pass

    expected = harmonization_loops(saliency, heatmaps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = clickme_scores(saliency, heatmaps)
    worst = max(
        float(np.max(np.abs(getattr(ours, name) - ref)))
        for name, ref in zip(("spearman", "dice", "iou"), expected)
    )
    if worst > 1e-6:
        raise SystemExit(f"clickme_scores differs from the loops by {worst:.2e}")

    seconds: dict[str, list[float]] = {key: [] for key in cases}
    for _ in range(args.rounds):
        for key, (_, run) in cases.items():
            start = time.perf_counter()
            run()
            seconds[key].append(time.perf_counter() - start)
    median = {key: statistics.median(values) for key, values in seconds.items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"{args.maps} maps of {args.size}x{args.size}, Spearman + Dice + IoU, "
        f"{cpus} CPUs (load average {load:.1f}); largest difference from (a): {worst:.1e}.",
        "",
        "| scorer | seconds | maps/s | x (a) |",
        "|---|---:|---:|---:|",
    ]
    for key, (name, _) in cases.items():
        lines.append(
            f"| ({key}) {name} | {median[key]:.2f} | {args.maps / median[key]:,.0f} | "
            f"{median['a'] / median[key]:.1f}x |"
        )
    print("\n".join(lines))
    benchdata.write_results(
        args.json, median_s=median, all_s=seconds, maps=args.maps, size=args.size, max_diff=worst
    )


if __name__ == "__main__":
    main()
