"""Tests of neural_datasets.formats.matfiles on level-5 files (scipy) and v7.3 files (HDF5).

``write_mat73`` writes files the way MATLAB's ``save -v7.3`` does (512-byte
MATLAB header as the HDF5 user block, axes reversed, cell arrays as object
references into ``#refs#``, chars as uint16), so the HDF5 path is tested
without MATLAB. test_arcaro_convert.py uses it too.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from support.matgen import write_mat5, write_mat73

from neural_datasets.errors import ConversionError
from neural_datasets.formats.matfiles import read_mat

RF = np.arange(3 * 4 * 5 * 2 * 6, dtype=np.float64).reshape(3, 4, 5, 2, 6)
NAMES = ["C:\\stim\\a.jpg", "", "D:\\x\\bé ☃.png"]
VARIABLES = {
    "imageRF": RF,
    "UniqueNames": NAMES,
    "title": "hello",
    "small": RF[0, 0].astype(np.float32),
    "counts": np.arange(6, dtype=np.uint8).reshape(2, 3),
}


@pytest.mark.parametrize(
    "writer",
    [write_mat73, write_mat5, lambda v: write_mat5(v, compress=False)],
    ids=["v7.3", "v7", "v5"],
)
def test_round_trip(writer) -> None:
    out = read_mat(io.BytesIO(writer(VARIABLES)), list(VARIABLES), source="x.mat")
    assert out["imageRF"].shape == RF.shape and out["imageRF"].dtype == np.float64
    np.testing.assert_array_equal(out["imageRF"], RF)
    assert out["UniqueNames"] == NAMES
    assert out["title"] == ["hello"]
    assert out["small"].dtype == np.float32 and out["small"].shape == (5, 2, 6)
    np.testing.assert_array_equal(out["counts"], VARIABLES["counts"])
    assert out["counts"].dtype == np.uint8


def test_reads_from_a_zip_member(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "a.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("v73.mat", write_mat73(VARIABLES))
        zf.writestr("v5.mat", write_mat5(VARIABLES))
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        for member in ("v73.mat", "v5.mat"):
            with zf.open(member) as stream:
                out = read_mat(stream, ["imageRF", "UniqueNames"], source=member)
            np.testing.assert_array_equal(out["imageRF"], RF)


@pytest.mark.parametrize("writer", [write_mat73, write_mat5], ids=["v7.3", "v5"])
def test_missing_variable_lists_what_the_file_holds(writer) -> None:
    data = writer({"other": RF, "UniqueNames": NAMES})
    with pytest.raises(
        ConversionError, match=r"r\.mat has no variable 'imageRF'; it holds: "
    ) as info:
        read_mat(io.BytesIO(data), ["imageRF", "UniqueNames"], source="r.mat")
    assert "other" in str(info.value) and "UniqueNames" in str(info.value)
    assert "#refs#" not in str(info.value)


@pytest.mark.parametrize(
    "data", [b"", b"<html>404</html>" * 20, b"MATLAB 7.3 MAT-file" + b"\0" * 200]
)
def test_not_a_mat_file(data: bytes) -> None:
    with pytest.raises(ConversionError, match=r"bad\.mat is not a readable MATLAB \.mat file"):
        read_mat(io.BytesIO(data), ["imageRF"], source="bad.mat")


def test_structs_are_refused() -> None:
    data = write_mat5({"imageRF": {"a": 1.0}})
    with pytest.raises(ConversionError, match="'imageRF' is a struct"):
        read_mat(io.BytesIO(data), ["imageRF"], source="s.mat")
