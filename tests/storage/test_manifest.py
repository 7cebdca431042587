"""The checksum manifest, the completion marker, and the whole-array reader they rely on."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neural_datasets as nd
from neural_datasets.errors import CorruptStoreError
from neural_datasets.storage import layout, manifest
from neural_datasets.storage.reader import read_whole
from neural_datasets.storage.writer import write_array


@pytest.fixture(scope="module")
def sealed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nd.fetch("arcaro2020-sample", cache_dir=tmp_path_factory.mktemp("c"), progress=False)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(0, 9), min_size=1, max_size=3),
    chunk=st.lists(st.integers(1, 4), min_size=3, max_size=3),
    dtype=st.sampled_from(["uint8", "int32", "float64"]),
)
def test_chunk_keys_are_the_files_zarr_writes(
    tmp_path_factory: pytest.TempPathFactory, shape: list[int], chunk: list[int], dtype: str
) -> None:
    import zarr

    root = tmp_path_factory.mktemp("z")
    data = (np.arange(int(np.prod(shape))) % 7).astype(dtype).reshape(shape)
    array = zarr.create_array(
        store=str(root),
        shape=shape,
        dtype=dtype,
        chunks=tuple(chunk[: len(shape)]),
        compressors=None,
        fill_value=0,
        config={"write_empty_chunks": True},
    )
    array[...] = data
    meta = manifest.read_json(root / "zarr.json")
    written = {p.relative_to(root).as_posix() for p in (root / "c").rglob("*") if p.is_file()}
    assert set(manifest.chunk_keys(meta)) == written
    np.testing.assert_array_equal(read_whole(root), data)  # multi-chunk, thread-free


def test_sealed_store_has_no_problems(sealed_store: Path) -> None:
    assert manifest.is_sealed(sealed_store)
    assert manifest.manifest_problems(sealed_store) == []


@settings(max_examples=20, deadline=None)
@given(pick=st.integers(0, 10_000), offset=st.integers(0, 10_000), drop=st.booleans())
def test_any_damaged_or_missing_file_is_named(
    sealed_store: Path, tmp_path_factory: pytest.TempPathFactory, pick: int, offset: int, drop: bool
) -> None:
    import shutil

    copy = tmp_path_factory.mktemp("d") / "store.zarr"
    shutil.copytree(sealed_store, copy)
    files = sorted(manifest.read_manifest(copy))
    victim = files[pick % len(files)]
    path = copy / victim
    if drop:
        path.unlink()
    else:
        data = bytearray(path.read_bytes())
        data[offset % len(data)] ^= 0x10
        path.write_bytes(bytes(data))
    problems = manifest.manifest_problems(copy)
    assert problems and victim in problems[0]


def test_write_array_records_a_crc_that_read_whole_checks(tmp_path: Path) -> None:
    layout.create_group(tmp_path)
    write_array(tmp_path, "label", np.arange(10, dtype=np.int64))
    chunk = tmp_path / "label" / "c" / "0"
    data = bytearray(chunk.read_bytes())
    data[3] ^= 1
    chunk.write_bytes(bytes(data))
    with pytest.raises(CorruptStoreError, match="fails its crc32c checksum"):
        read_whole(tmp_path / "label")


def test_publish_removes_temporaries_before_sealing(tmp_path: Path) -> None:
    building = tmp_path / "b"
    layout.create_group(building)
    write_array(building, "x", np.arange(4))
    for stray in (".0.123.tmp", "unit-0.npz.tmp.npz"):
        (building / "x" / stray).write_bytes(b"partial")
    final = layout.publish(building, tmp_path / "store.zarr", {})
    names = [name for _, _, files in os.walk(final) for name in files]
    assert not [n for n in names if layout.is_temporary(n)]
    assert manifest.manifest_problems(final) == []
