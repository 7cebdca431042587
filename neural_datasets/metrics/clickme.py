"""ClickMe alignment: how well a model's saliency maps match the human ClickMe heatmaps.

The three per-image scores of Harmonization (``harmonization.evaluation.metrics``),
with the same values:

* **Spearman**: the rank correlation of the two maps' pixels, ties given their average rank
  (``scipy.stats.spearmanr``); a constant map has no ranking, so its score is NaN.
* **Dice** and **IoU**: each map is binarised at its own ``100 - percentile`` percentile
  (``numpy.percentile``, linear interpolation), keeping the pixels *strictly* above it; then
  ``2 |A & B| / (|A| + |B|)`` and ``|A & B| / |A | B|``, 0 when both masks are empty.

Maps are compared in float32, as Harmonization casts them. The scores are sort-bound: each
map is sorted once, as packed ``(value, pixel)`` integer keys, and the sorted values give
both the ranks and the percentile threshold shared by Dice and IoU; image chunks are sorted
on all cores (NumPy's sort releases the GIL).
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .frameworks import to_numpy

__all__ = ["HUMAN_SPEARMAN_CEILING", "ClickMeScores", "clickme_scores"]

HUMAN_SPEARMAN_CEILING = 0.65753
"""The published human ceiling of the ClickMe Spearman (Fel et al. 2022, Harmonization's
``HUMAN_SPEARMAN_CEILING``): how well human maps agree with each other, by which the
alignment score is normalised."""

_CHUNK_PIXELS = 1 << 20  # images per sorting task: about 8 MiB of packed keys each
_SIGN = np.uint32(0x80000000)


@dataclass(frozen=True)
class ClickMeScores:
    """Per-image ClickMe scores of a model's saliency maps against the human heatmaps.

    Attributes
    ----------
    spearman, dice, iou
        float64 arrays, one value per image (``spearman`` is NaN for a constant map).
    percentile
        The share of pixels (in percent) kept by the Dice/IoU thresholds.
    provenance
        Where the maps came from (dataset, checksums, explainer, versions) when
        :func:`~neural_datasets.metrics.evaluate_clickme` made them; empty otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> maps = np.random.default_rng(0).random((4, 16, 16))
    >>> scores = clickme_scores(maps, maps)
    >>> scores.spearman.round(6).tolist(), round(scores.alignment, 4)
    ([1.0, 1.0, 1.0, 1.0], 1.5208)
    """

    spearman: np.ndarray
    dice: np.ndarray
    iou: np.ndarray
    percentile: float = 10
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def nan_count(self) -> int:
        """Images whose Spearman is NaN (a constant saliency map or heatmap)."""
        return int(np.isnan(self.spearman).sum())

    @property
    def mean_spearman(self) -> float:
        """Mean Spearman over the images that have one (NaN images are counted in ``nan_count``)."""
        finite = self.spearman[~np.isnan(self.spearman)]
        return float(finite.mean()) if finite.size else math.nan

    @property
    def alignment(self) -> float:
        """The paper's alignment score: mean Spearman / :data:`HUMAN_SPEARMAN_CEILING`."""
        return self.mean_spearman / HUMAN_SPEARMAN_CEILING

    def as_dict(self, nan: str = "omit") -> dict[str, Any]:
        """Harmonization's ``evaluate_clickme`` dictionary: per-image lists and ``alignment_score``.

        Parameters
        ----------
        nan
            ``"omit"``: images with a NaN Spearman are left out of ``alignment_score`` (see
            ``nan_count``); ``"propagate"``: upstream's arithmetic, NaN as soon as one image is.

        Examples
        --------
        >>> maps = np.arange(32.0).reshape(2, 4, 4)
        >>> flat = maps.copy()
        >>> flat[1] = 0  # a constant map
        >>> scores = ClickMeScores(*_score_arrays(maps, flat, 10, 1))
        >>> omitted, propagated = scores.as_dict(), scores.as_dict("propagate")
        >>> round(omitted["alignment_score"], 4), propagated["alignment_score"]
        (1.5208, nan)
        """
        if nan not in ("omit", "propagate"):
            raise ValueError(f"nan must be 'omit' or 'propagate', got {nan!r}")
        alignment = self.alignment
        if nan == "propagate":
            alignment = float(np.mean(self.spearman)) / HUMAN_SPEARMAN_CEILING
        return {
            "spearman": self.spearman.tolist(),
            "dice": self.dice.tolist(),
            "iou": self.iou.tolist(),
            "alignment_score": alignment,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: means, counts, settings and provenance (no per-image lists).

        Examples
        --------
        >>> maps = np.arange(32.0).reshape(2, 4, 4)
        >>> clickme_scores(maps, maps).to_dict()["spearman"]
        1.0
        """
        return {
            "alignment": self.alignment,
            "spearman": self.mean_spearman,
            "dice": float(np.mean(self.dice)),
            "iou": float(np.mean(self.iou)),
            "images": len(self),
            "nan_count": self.nan_count,
            "human_spearman_ceiling": HUMAN_SPEARMAN_CEILING,
            "percentile": self.percentile,
            "provenance": self.provenance,
        }

    @classmethod
    def from_batches(
        cls,
        batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
        provenance: dict[str, Any] | None = None,
    ) -> ClickMeScores:
        """The scores of consecutive batches' ``(spearman, dice, iou)`` arrays, in order."""
        if not batches:
            raise ValueError("no batch was scored: the dataset is empty")
        spearman, dice, iou = (np.concatenate(column) for column in zip(*batches, strict=True))
        return cls(spearman, dice, iou, provenance=provenance or {})

    def __len__(self) -> int:
        return len(self.spearman)

    def __repr__(self) -> str:
        return (
            f"ClickMeScores(images={len(self)}, alignment={self.alignment:.4f}, "
            f"spearman={self.mean_spearman:.4f}, dice={np.mean(self.dice):.4f}, "
            f"iou={np.mean(self.iou):.4f}, nan_count={self.nan_count})"
        )


def clickme_scores(
    saliency: Any, heatmaps: Any, percentile: float = 10, *, threads: int | None = None
) -> ClickMeScores:
    """Spearman, Dice and IoU of each saliency map against its heatmap, as in Harmonization.

    Parameters
    ----------
    saliency, heatmaps
        NumPy arrays, torch tensors or TensorFlow tensors of the same shape, ``(N, H, W)`` or
        ``(N, H, W, C)`` (channels averaged, as Harmonization's ``evaluate_clickme`` does).
    percentile
        Dice and IoU keep each map's pixels strictly above its ``100 - percentile`` percentile.
    threads
        Threads sorting chunks of images (default: the CPUs this process may use).

    Returns
    -------
    ClickMeScores
        Per-image ``spearman``, ``dice``, ``iou``; ``alignment``; ``as_dict()``.

    Raises
    ------
    ValueError
        Shapes differ, a rank other than 3 or 4, empty maps, non-finite values, or a
        ``percentile`` outside [0, 100].

    Examples
    --------
    >>> import numpy as np
    >>> saliency = np.array([[[0.0, 1.0], [2.0, 3.0]]])
    >>> heatmaps = np.array([[[0.0, 1.0], [3.0, 2.0]]])
    >>> scores = clickme_scores(saliency, heatmaps, percentile=50)
    >>> float(scores.spearman[0]), float(scores.dice[0]), float(scores.iou[0])
    (0.8, 1.0, 1.0)
    """
    scores = ClickMeScores(*_score_arrays(saliency, heatmaps, percentile, threads), percentile)
    warn_if_nan(scores, stacklevel=3)
    return scores


def warn_if_nan(scores: ClickMeScores, stacklevel: int = 2) -> None:
    """Warn that images with a NaN Spearman are left out of the alignment, if there are any."""
    if scores.nan_count:
        warnings.warn(
            f"{scores.nan_count} of {len(scores)} images have a constant saliency map or "
            "heatmap: their Spearman is NaN and is left out of the alignment",
            RuntimeWarning,
            stacklevel=stacklevel,
        )


def _score_arrays(
    saliency: Any, heatmaps: Any, percentile: float, threads: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-image Spearman, Dice and IoU (see :func:`clickme_scores`)."""
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {percentile!r}")
    a = _as_maps(saliency, "saliency")
    b = _as_maps(heatmaps, "heatmaps")
    if a.shape != b.shape:
        raise ValueError(
            f"saliency and heatmaps must have the same shape; got saliency {a.shape} and "
            f"heatmaps {b.shape} (after averaging channels)"
        )
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    n_images, n_pixels = a.shape
    spearman = np.empty(n_images)
    dice = np.empty(n_images)
    iou = np.empty(n_images)
    step = max(1, _CHUNK_PIXELS // n_pixels)
    chunks = [slice(i, min(i + step, n_images)) for i in range(0, n_images, step)]
    quantile = _QuantilePosition(n_pixels, 100 - percentile)

    def score(rows: slice) -> None:
        spearman[rows], dice[rows], iou[rows] = _score_chunk(a[rows], b[rows], quantile)

    workers = min(len(chunks), threads or _usable_cpus())
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(score, chunks))
    else:
        for rows in chunks:
            score(rows)
    return spearman, dice, iou


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _as_maps(value: Any, argument: str) -> np.ndarray:
    """``value`` as float32 ``(N, H, W)``: channels of a 4-D array averaged, -0.0 made 0.0."""
    maps = to_numpy(value, argument)
    if maps.ndim not in (3, 4):
        raise ValueError(
            f"{argument} must have shape (N, H, W) or (N, H, W, C); got rank {maps.ndim}, "
            f"shape {maps.shape}"
        )
    if not np.issubdtype(maps.dtype, np.number) and maps.dtype != np.bool_:
        raise TypeError(f"{argument} must hold numbers; got dtype {maps.dtype}")
    maps = maps.astype(np.float32, copy=False)
    if maps.ndim == 4:
        maps = maps.mean(axis=-1, dtype=np.float32)
    if maps.shape[1] * maps.shape[2] == 0:
        raise ValueError(f"{argument} maps are empty; got shape {maps.shape}")
    if not np.isfinite(maps).all():
        raise ValueError(f"{argument} holds NaN or infinite values; scores need finite maps")
    # -0.0 and 0.0 are equal (tied) but have different bits; the sort keys compare bits.
    return np.add(maps, np.float32(0.0))


@dataclass(frozen=True)
class _QuantilePosition:
    """Where ``numpy.percentile(x, q)`` (linear) reads a sorted row of ``n`` values, and its weight.

    Computed with NumPy's own float64 arithmetic, so the thresholds are NumPy's to the bit.
    """

    below: int
    above: int
    weight: float

    def __init__(self, n: int, q: float) -> None:
        fraction = float(np.true_divide(q, 100))
        position = n * fraction + (1 + fraction * (1 - 1 - 1)) - 1
        if position >= n - 1:
            below = above = n - 1
        elif position < 0:
            below = above = 0
        else:
            below, above = math.floor(position), math.floor(position) + 1
        object.__setattr__(self, "below", below)
        object.__setattr__(self, "above", above)
        object.__setattr__(self, "weight", position - math.floor(position))

    def threshold(self, low_high: np.ndarray) -> np.ndarray:
        """Each row's percentile, ``(rows, 1)``, from its values at ``below`` and ``above``."""
        low, high = low_high[:, :1], low_high[:, 1:]
        step = high - low
        if self.weight >= 0.5:
            return high - step * np.float32(1 - self.weight)
        return low + step * np.float32(self.weight)


def _sorted_keys(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's order-preserving value bits and pixel indices, sorted by value then pixel.

    One sort of uint64 keys, value bits above and pixel index below, gives both: the two
    halves are written and read back as strided uint32 views, without copies.
    """
    n_rows, n = maps.shape
    bits = maps.view(np.uint32)
    # Negative floats: flip every bit; others: flip the sign bit. Then unsigned order = float order.
    flips = (maps.view(np.int32) >> 31).view(np.uint32)
    flips |= _SIGN
    keys = np.empty((n_rows, n), np.uint64)
    halves = keys.view(np.uint32)
    low = 0 if sys.byteorder == "little" else 1
    np.bitwise_xor(bits, flips, out=halves[:, 1 - low :: 2])
    halves[:, low::2] = np.arange(n, dtype=np.uint32)
    keys.sort(axis=1)
    return halves[:, 1 - low :: 2], halves[:, low::2]


def _values_of(ordered_bits: np.ndarray) -> np.ndarray:
    """Float32 values back from their order-preserving bits."""
    return np.where(ordered_bits & _SIGN, ordered_bits ^ _SIGN, ~ordered_bits).view(np.float32)


def _centred_ranks(ordered_bits: np.ndarray, centred_positions: np.ndarray) -> np.ndarray:
    """Average ranks minus their mean, in sorted order, of one sorted row: ties share their mean."""
    starts = np.flatnonzero(ordered_bits[1:] != ordered_bits[:-1]) + 1
    if len(starts) == len(ordered_bits) - 1:
        return centred_positions  # no ties: the positions
    bounds = np.concatenate(([0], starts, [len(ordered_bits)]))
    middle = (bounds[:-1] + bounds[1:] - 1) / 2 - (len(ordered_bits) - 1) / 2
    return np.repeat(middle, np.diff(bounds))


def _dot(x: np.ndarray, y: np.ndarray) -> float:
    """``x . y`` without BLAS, whose threads contend with the chunks' threads on short vectors."""
    return float(np.einsum("i,i->", x, y))


def _score_chunk(
    a: np.ndarray, b: np.ndarray, quantile: _QuantilePosition
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_rows, n = a.shape
    centred_positions = np.arange(n) - (n - 1) / 2
    bits_a, pixels_a = _sorted_keys(a)
    bits_b, pixels_b = _sorted_keys(b)
    pixels_a, pixels_b = pixels_a.astype(np.intp), pixels_b.astype(np.intp)  # index dtype
    spearman = np.empty(n_rows)
    by_pixel, b_in_a_order = np.empty(n), np.empty(n)
    for row in range(n_rows):
        ranks_a = _centred_ranks(bits_a[row], centred_positions)
        ranks_b = _centred_ranks(bits_b[row], centred_positions)
        # Pearson of the ranks: b's ranks put in pixel order, read in a's sorted order.
        by_pixel[pixels_b[row]] = ranks_b
        np.take(by_pixel, pixels_a[row], out=b_in_a_order)
        spread = math.sqrt(_dot(ranks_a, ranks_a) * _dot(ranks_b, ranks_b))
        correlation = _dot(ranks_a, b_in_a_order) / spread if spread else math.nan
        spearman[row] = min(max(correlation, -1.0), 1.0) if spread else math.nan
    mask_a = a > quantile.threshold(_values_of(bits_a[:, [quantile.below, quantile.above]]))
    mask_b = b > quantile.threshold(_values_of(bits_b[:, [quantile.below, quantile.above]]))
    both = np.count_nonzero(mask_a & mask_b, axis=1).astype(np.float64)
    sizes = np.count_nonzero(mask_a, axis=1) + np.count_nonzero(mask_b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(sizes > 0, 2 * both / sizes, 0.0)
        iou = np.where(sizes > 0, both / (sizes - both), 0.0)
    return spearman, dice, iou
