"""Numpy-style index coercion and split slicing, shared by the dataset classes.

Datasets index like a 1-D numpy array: an ``int`` (negative counts from the
end) selects one sample; a ``slice``, an integer array or a boolean mask of
length ``N`` select a batch. Anything else (floats, strings, tuples, ``None``,
``bool`` scalars) is a ``TypeError``; indices outside ``-N .. N-1`` and masks
of another length are an ``IndexError``. Nothing is truncated or guessed.

Split strings follow TensorFlow Datasets and Hugging Face: ``"train"``,
``"train[:10%]"``, ``"train[1000:2000]"``, ``"val[-512:]"``. Percent bounds are
rounded to the nearest sample (halves up).

Examples
--------
>>> coerce_index(-1, 5)
(array([4]), True)
>>> coerce_index(slice(1, None, 2), 5)
(array([1, 3]), False)
>>> coerce_index([True, False, True, False, False], 5)[0]
array([0, 2])
>>> parse_split("train[:10%]")
('train', ':10%')
>>> split_positions(":10%", 48)
array([0, 1, 2, 3, 4])
>>> records_needed("1000:2000"), records_needed(":10%"), records_needed(":10%", total=48)
(2000, None, 5)
"""

from __future__ import annotations

import numbers
import re
from typing import Any

import numpy as np

_SPLIT = re.compile(r"^(?P<name>[A-Za-z_][\w-]*)(?:\[(?P<slice>[^\]]*)\])?$")
_BOUND = re.compile(r"^\s*(-?\d+)\s*(%?)\s*$")


def coerce_index(index: Any, n: int) -> tuple[np.ndarray, bool]:
    """``index`` as flat, non-negative int64 positions into ``n`` items, and whether it is scalar.

    Parameters
    ----------
    index
        An integer, a slice, a 1-D integer array-like or a 1-D boolean mask of length ``n``.
    n
        The number of items indexed.

    Returns
    -------
    positions : numpy.ndarray
        int64, each in ``0 .. n-1``, in the order ``index`` gives them.
    scalar : bool
        True when ``index`` selects a single item (an integer).

    Raises
    ------
    TypeError
        For any other kind of index (floats, strings, tuples, bools, ``None``...).
    IndexError
        For an integer outside ``-n .. n-1`` or a mask of another length.

    Examples
    --------
    >>> coerce_index(np.int32(2), 3)
    (array([2]), True)
    >>> coerce_index([], 3)
    (array([], dtype=int64), False)
    >>> coerce_index(1.0, 3)
    Traceback (most recent call last):
    ...
    TypeError: dataset indices must be integers, slices, integer arrays or boolean masks, not float
    """
    if isinstance(index, slice):
        return np.arange(n, dtype=np.int64)[index], False
    if isinstance(index, (bool, np.bool_)) or index is None or isinstance(index, (tuple, str)):
        raise _type_error(index)
    if isinstance(index, numbers.Integral):
        return _in_range(np.array([int(index)], dtype=np.int64), n), True
    array = np.asarray(index)
    if array.ndim == 0 and np.issubdtype(array.dtype, np.integer):
        return _in_range(array.reshape(1).astype(np.int64), n), True
    if array.ndim != 1:
        raise _type_error(index)
    if array.size == 0 and not np.issubdtype(array.dtype, np.bool_):
        return np.empty(0, dtype=np.int64), False  # [] is float64 to numpy; nothing to read
    if np.issubdtype(array.dtype, np.bool_):
        if len(array) != n:
            raise IndexError(f"boolean mask of length {len(array)} for {n} samples")
        return np.flatnonzero(array).astype(np.int64), False
    if not np.issubdtype(array.dtype, np.integer):
        raise _type_error(index)
    return _in_range(array.astype(np.int64), n), False


def _in_range(positions: np.ndarray, n: int) -> np.ndarray:
    if positions.size and (positions.min() < -n or positions.max() >= n):
        bad = positions[(positions < -n) | (positions >= n)][0]
        raise IndexError(f"index {int(bad)} is out of range for {n} samples")
    return np.where(positions < 0, positions + n, positions)


def _type_error(index: Any) -> TypeError:
    kind = type(index).__name__
    if isinstance(index, np.ndarray) or (
        not isinstance(index, (str, tuple)) and np.ndim(index) > 0
    ):
        kind = f"an array of {np.asarray(index).dtype} with shape {np.shape(index)}"
    return TypeError(
        f"dataset indices must be integers, slices, integer arrays or boolean masks, not {kind}"
    )


def parse_split(split: str) -> tuple[str, str | None]:
    """Split ``"train[:10%]"`` into the split's name and the slice text (``None`` if absent).

    Raises
    ------
    ValueError
        When ``split`` is not ``name`` or ``name[slice]``.

    Examples
    --------
    >>> parse_split("val"), parse_split("train[1000:2000]")
    (('val', None), ('train', '1000:2000'))
    """
    match = _SPLIT.match(split.strip()) if isinstance(split, str) else None
    if match is None:
        raise ValueError(
            f"split {split!r} is not of the form 'name' or 'name[start:stop]', e.g. "
            f"'train', 'train[:10%]', 'train[1000:2000]', 'val[-512:]'"
        )
    return match["name"], match["slice"]


def split_positions(slice_text: str | None, n: int) -> np.ndarray:
    """Positions selected by the slice text of a split string (``":10%"``, ``"1000:2000"``).

    Bounds are sample counts or percentages of ``n`` (rounded to the nearest
    sample, halves up); negative bounds count from the end, as in Python.

    Raises
    ------
    ValueError
        For a malformed slice or a percentage outside -100..100.

    Examples
    --------
    >>> split_positions("-25%:", 8)
    array([6, 7])
    >>> split_positions("2:4", 8)
    array([2, 3])
    """
    if slice_text is None:
        return np.arange(n, dtype=np.int64)
    parts = slice_text.split(":")
    if len(parts) != 2:
        raise ValueError(f"split slice [{slice_text}] must be [start:stop], e.g. [:10%]")
    bounds = [_bound(part, n, slice_text) for part in parts]
    return np.arange(n, dtype=np.int64)[slice(*bounds)]


def _bound(text: str, n: int, slice_text: str) -> int | None:
    if not text.strip():
        return None
    match = _BOUND.match(text)
    if match is None:
        raise ValueError(f"split slice [{slice_text}]: {text!r} is not an integer or a percentage")
    value, percent = int(match[1]), match[2] == "%"
    if not percent:
        return value
    if not -100 <= value <= 100:
        raise ValueError(f"split slice [{slice_text}]: {value}% is outside -100%..100%")
    return int(np.sign(value)) * int(np.floor(abs(value) * n / 100 + 0.5))


def records_needed(
    slice_text: str | None, indices: Any = None, total: int | None = None
) -> int | None:
    """How many leading records of a split ``name[slice_text]``, then ``indices``, select from.

    ``None`` when only the split's length can tell: a percentage or a negative
    bound, an open end (``"1000:"``) without ``indices``, or ``indices`` that
    count from the end or are a mask, unless ``total``, the split's exact
    length, is given. Never more than ``total``; at least 1 (an empty
    selection is refused once the split is open). Does not validate
    ``indices``: bad ones are refused as usual when the subset is made.

    Raises
    ------
    ValueError
        For a malformed slice (as :func:`split_positions`).

    Examples
    --------
    >>> records_needed(":512"), records_needed("10:20", [3, 1]), records_needed(None, [40, 3])
    (512, 14, 41)
    >>> records_needed("-512:"), records_needed("-512:", total=48), records_needed(None)
    (None, 48, None)
    >>> records_needed("1000:", [0, 7]), records_needed(None, [-1]), records_needed(":0")
    (1008, None, 1)
    """
    if total is not None:
        positions = split_positions(slice_text, total)
        try:
            positions = positions[coerce_index(indices, len(positions))[0]]
        except (TypeError, IndexError):  # refused with its own message later
            pass
        return max(int(positions.max(initial=-1)) + 1, 1)
    start, stop = 0, None
    if slice_text is not None:
        split_positions(slice_text, 0)  # raises for a malformed slice
        parts = slice_text.split(":")
        if any("%" in part for part in parts):
            return None
        bounds = [_bound(part, 0, slice_text) for part in parts]
        if any(bound is not None and bound < 0 for bound in bounds):
            return None
        start, stop = bounds[0] or 0, bounds[1]
    within = _leading_positions(indices)
    if within is not None:
        needed = start + within
        stop = needed if stop is None else min(stop, needed)
    return None if stop is None else max(stop, 1)


def _leading_positions(indices: Any) -> int | None:
    """How many leading positions ``indices`` reach into, when no length is needed to tell."""
    if indices is None:
        return None
    if isinstance(indices, slice):
        step = 1 if indices.step is None else indices.step
        bounds = (indices.start or 0, indices.stop, step)
        if not all(isinstance(b, numbers.Integral) and int(b) >= 0 for b in bounds) or step == 0:
            return None  # an open or negative bound needs the length; step 0 is refused later
        return int(indices.stop)
    if isinstance(indices, (bool, np.bool_, str, tuple)):
        return None
    try:
        array = np.asarray(indices)
    except (TypeError, ValueError):
        return None
    if array.ndim == 1 and array.size == 0:
        return 0
    if array.ndim > 1 or not np.issubdtype(array.dtype, np.integer) or array.min() < 0:
        return None
    return int(array.max()) + 1
