"""Real MATLAB files for tests: level 5 through scipy, v7.3 through HDF5 as MATLAB writes it."""

from __future__ import annotations

import io

import numpy as np
import scipy.io

MAT73_HEADER = (
    b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 "
    b"HDF5 schema 1.00 ."
)
_CLASSES = {
    np.dtype(np.float64): "double",
    np.dtype(np.float32): "single",
    np.dtype(np.uint8): "uint8",
}


def _h5_char(group, name: str, text: str):
    codes = np.frombuffer(text.encode("utf-16-le"), dtype="<u2").reshape(-1, 1)  # MATLAB 1xL
    ds = group.create_dataset(name, data=codes)
    ds.attrs["MATLAB_class"] = np.bytes_("char")
    ds.attrs["MATLAB_int_decode"] = np.int32(2)
    return ds


def write_mat73(variables: dict[str, object]) -> bytes:
    """Bytes of a MATLAB v7.3 file holding ``variables`` (numpy arrays, str, or lists of str)."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        for name, value in variables.items():
            if isinstance(value, str):
                _h5_char(f, name, value)
            elif isinstance(value, list):  # a 1xN cell array of strings
                cells = [_h5_char(refs, f"{name}_{i}", text).ref for i, text in enumerate(value)]
                ds = f.create_dataset(
                    name, data=np.array(cells, dtype=h5py.ref_dtype).reshape(-1, 1)
                )
                ds.attrs["MATLAB_class"] = np.bytes_("cell")
            else:
                value = np.asarray(value)
                # HDF5 holds MATLAB's axes reversed; MATLAB gzips chunks as here.
                ds = f.create_dataset(name, data=value.T, compression="gzip", compression_opts=3)
                ds.attrs["MATLAB_class"] = np.bytes_(_CLASSES[value.dtype])
    data = bytearray(buf.getvalue())
    data[:128] = MAT73_HEADER.ljust(116) + b" " * 8 + b"\x00\x02IM"
    return bytes(data)


def write_mat5(variables: dict[str, object], compress: bool = True) -> bytes:
    converted = {}
    for name, value in variables.items():
        if isinstance(value, list):
            cell = np.empty((1, len(value)), dtype=object)
            cell[0, :] = value
            value = cell
        converted[name] = value
    buf = io.BytesIO()
    scipy.io.savemat(buf, converted, do_compression=compress)
    return buf.getvalue()
