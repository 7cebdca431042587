"""Read variables from MATLAB .mat files of any version, from a binary stream.

MATLAB writes two unrelated formats: the classic level-5 format (also used by
``-v6`` and ``-v7``), read here with scipy, and the ``-v7.3`` format, an HDF5
file behind a 512-byte MATLAB header, read with h5py. Both come back in the
same shape: numeric variables as numpy arrays in MATLAB's axis order, and
char arrays or cell arrays of strings as lists of ``str``.

HDF5 stores MATLAB's column-major arrays with their axes reversed (a MATLAB
``17x17x300x63x40`` array is a ``40x63x300x17x17`` dataset), and a cell array
is a dataset of object references, each pointing at a uint16 array of UTF-16
code units. Both details are undone here so callers never see them.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Sequence
from typing import IO, Any

import numpy as np

from ..errors import ConversionError

MatValue = np.ndarray | list[str]

_NUMERIC_KINDS = "biufc"
_H5_NUMERIC = {"double", "single", "logical"} | {
    f"{u}int{n}" for u in ("", "u") for n in (8, 16, 32, 64)
}


def read_mat(stream: IO[bytes], names: Sequence[str], *, source: str) -> dict[str, MatValue]:
    """Read variables ``names`` from the .mat file in ``stream``.

    Parameters
    ----------
    stream
        Seekable binary stream positioned at the start of the file (an open
        file, ``io.BytesIO`` or a zip member).
    names
        Variables to read; each must exist.
    source
        How to name the file in error messages (e.g. ``"Arcaro2020.zip:Red/red.mat"``).

    Returns
    -------
    dict
        Each name mapped to a numpy array in MATLAB axis order (numeric and
        logical variables) or a list of ``str`` in MATLAB's linear order (char
        arrays: one string per row; cell arrays of char rows: one per cell).

    Raises
    ------
    ConversionError
        When the file is not a readable .mat file, lacks a variable (the
        message lists those it holds), or a variable has an unsupported type.

    Examples
    --------
    >>> import scipy.io
    >>> buf = io.BytesIO()
    >>> names = np.array(["a.jpg"], dtype=object)
    >>> scipy.io.savemat(buf, {"rf": np.zeros((2, 3, 4)), "names": names})
    >>> _ = buf.seek(0)
    >>> out = read_mat(buf, ["rf", "names"], source="example.mat")
    >>> out["rf"].shape, out["names"]
    ((2, 3, 4), ['a.jpg'])
    """
    from scipy.io.matlab import MatReadError, matfile_version

    try:
        major, _ = matfile_version(stream)
        stream.seek(0)
        if major == 2:
            return _read_hdf5(stream, names, source)
        return _read_level5(stream, names, source)
    except (ValueError, OSError, MatReadError, zlib.error, zipfile.BadZipFile, EOFError) as exc:
        raise ConversionError(f"{source} is not a readable MATLAB .mat file ({exc}).") from exc


def _missing(names: Sequence[str], available: Sequence[str], source: str) -> ConversionError:
    return ConversionError(
        f"{source} has no variable {', '.join(repr(n) for n in names)}; "
        f"it holds: {', '.join(available) or 'nothing'}."
    )


def _unsupported(name: str, what: str, source: str) -> ConversionError:
    return ConversionError(f"{source}: variable {name!r} is a {what}, which is not supported.")


def _read_level5(stream: IO[bytes], names: Sequence[str], source: str) -> dict[str, MatValue]:
    from scipy.io import loadmat, whosmat

    values = loadmat(stream, variable_names=list(names), squeeze_me=False, chars_as_strings=True)
    missing = [n for n in names if n not in values]
    if missing:
        stream.seek(0)
        raise _missing(missing, [n for n, _, _ in whosmat(stream)], source)
    return {n: _from_scipy(values[n], n, source) for n in names}


def _from_scipy(value: np.ndarray, name: str, source: str) -> MatValue:
    if value.dtype.kind in _NUMERIC_KINDS:
        return value
    if value.dtype.kind == "U":
        return [str(row) for row in value]
    if value.dtype == object:
        return [
            _one_row(_from_scipy(cell, name, source), name, source) for cell in value.ravel("F")
        ]
    raise _unsupported(name, "struct or object", source)


def _one_row(value: MatValue, name: str, source: str) -> str:
    """The text of one cell, which must be a char array of at most one row."""
    if isinstance(value, list) and len(value) <= 1:
        return value[0] if value else ""
    raise _unsupported(name, "cell array holding something other than single strings", source)


def _read_hdf5(stream: IO[bytes], names: Sequence[str], source: str) -> dict[str, MatValue]:
    import h5py

    # HDF5 jumps around the file; seeking backwards in a compressed zip member restarts
    # its decompression each time, so the file is read into memory once instead.
    data = io.BytesIO(stream.read())
    with h5py.File(data, "r") as f:
        missing = [n for n in names if n not in f]
        if missing:
            raise _missing(missing, [k for k in f if not k.startswith("#")], source)
        return {n: _from_hdf5(f, f[n], n, source) for n in names}


def _from_hdf5(f: Any, obj: Any, name: str, source: str) -> MatValue:
    import h5py

    if not isinstance(obj, h5py.Dataset):
        raise _unsupported(name, "struct or object", source)
    kind = obj.attrs.get("MATLAB_class", b"")
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if kind == "char":
        return _h5_chars(obj)
    if kind == "cell":
        # The dataset's C order is MATLAB's column-major order, so ravel() keeps it.
        return [
            _one_row(_from_hdf5(f, f[ref], name, source), name, source) for ref in obj[()].ravel()
        ]
    empty = bool(obj.attrs.get("MATLAB_empty", 0))  # then the data holds the shape, not values
    if kind in _H5_NUMERIC and not empty:
        value = obj[()].T
        return value.astype(bool) if kind == "logical" else value
    raise _unsupported(
        name, "empty array" if empty else f"MATLAB {kind or 'unknown'} variable", source
    )


def _h5_chars(obj: Any) -> list[str]:
    if obj.attrs.get("MATLAB_empty", 0):
        return []
    rows = np.atleast_2d(obj[()].T).astype("<u2")
    return [row.tobytes().decode("utf-16-le") for row in rows]
