"""Harmonization's ClickMe metrics restated one image at a time, as the published code defines them.

Maps cast to float32 (4-D maps averaged over the last axis), ``scipy.stats.spearmanr`` per
image, and ``numpy.percentile`` thresholds with a strict ``>`` for Dice and IoU, each divided
by its sum plus 1e-9. Independent of ``neural_datasets.metrics``: the tests compare the two.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import spearmanr


def reference(a: np.ndarray, b: np.ndarray, percentile: float = 10) -> dict[str, np.ndarray]:
    """Per image: scipy's Spearman, and Dice/IoU of the masks above each map's percentile."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.ndim == 4:
        a, b = a.mean(-1), b.mean(-1)
    rho, dice, iou = [], [], []
    for x, y in zip(a, b, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns for a constant input
            rho.append(spearmanr(x.ravel(), y.ravel())[0])
        above_x = x > np.percentile(x, 100 - percentile)
        above_y = y > np.percentile(y, 100 - percentile)
        together = np.sum(above_x & above_y)
        dice.append(2.0 * together / (above_x.sum() + above_y.sum() + 1e-9))
        iou.append(together / (np.sum(above_x | above_y) + 1e-9))
    return {"spearman": np.array(rho), "dice": np.array(dice), "iou": np.array(iou)}
