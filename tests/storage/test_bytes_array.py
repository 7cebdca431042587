"""Ragged byte arrays: round trips, a plain zarr view of the same bytes, damage detection."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_datasets.errors import CorruptStoreError
from neural_datasets.storage import bytes_array
from neural_datasets.storage.bytes_array import BytesArray, BytesArrayWriter, is_bytes_array
from neural_datasets.storage.verify import verify_store


def _write(root: Path, items: list[bytes], name: str = "blobs") -> BytesArray:
    zarr.open_group(str(root), mode="a", zarr_format=3)
    with BytesArrayWriter(root, name) as out:
        out.extend(items)
    return BytesArray(root / name)


items_strategy = st.lists(st.binary(max_size=40), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None)
@given(items=items_strategy, picks=st.lists(st.integers(0, 10_000), max_size=20))
def test_items_come_back_in_any_order(
    tmp_path_factory: pytest.TempPathFactory, items: list[bytes], picks: list[int]
) -> None:
    root = tmp_path_factory.mktemp("b")
    original = bytes_array.CHUNK_BYTES
    bytes_array.CHUNK_BYTES = 16  # items straddle chunk files
    try:
        arr = _write(root, items)
    finally:
        bytes_array.CHUNK_BYTES = original
    indices = [p % len(items) for p in picks]
    assert arr.take(indices) == [items[i] for i in indices]
    assert arr.take([-1]) == [items[-1]]
    assert list(arr.nbytes(range(len(items)))) == [len(i) for i in items]
    # An independent reader: zarr-python sees a plain uint8 array and its offsets.
    data = zarr.open_array(str(root / "blobs" / "bytes"), mode="r")[...].tobytes()
    offsets = zarr.open_array(str(root / "blobs" / "offsets"), mode="r")[...]
    assert [data[a:b] for a, b in zip(offsets[:-1], offsets[1:])] == items


def test_is_recognised_and_out_of_range_raises(tmp_path: Path) -> None:
    arr = _write(tmp_path, [b"x", b"yz"])
    assert is_bytes_array(tmp_path / "blobs") and not is_bytes_array(tmp_path)
    assert len(arr) == 2 and "items=2" in repr(arr)
    with pytest.raises(IndexError):
        arr.take([2])


def test_threads_share_one_reader(tmp_path: Path) -> None:
    items = [bytes([i]) * (i * 37 % 500) for i in range(200)]
    arr = _write(tmp_path, items)
    errors: list[BaseException] = []

    def read(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(50):
                idx = rng.integers(0, len(items), 8)
                assert arr.take(idx) == [items[i] for i in idx]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors


def test_a_flipped_byte_raises_and_verify_names_it(tmp_path: Path) -> None:
    from neural_datasets.storage.manifest import seal

    items = [b"a" * 100, b"b" * 100, b"c" * 100]
    arr = _write(tmp_path, items)
    seal(tmp_path)  # as publish does: verify_store then checks the items, not only the seal
    chunk = tmp_path / "blobs" / "bytes" / "c" / "0"
    data = bytearray(chunk.read_bytes())
    data[150] ^= 0xFF  # inside item 1
    chunk.write_bytes(bytes(data))
    assert arr.take([0, 2]) == [items[0], items[2]]
    with pytest.raises(CorruptStoreError, match="item 1 fails its crc32c"):
        arr.take([1])
    problems = verify_store(tmp_path)
    # The manifest names the damaged file; the bytes array names the damaged item.
    assert any("blobs/bytes/c/0" in p and "crc32c" in p for p in problems)
    assert any("blobs" in p and "item 1" in p for p in problems)
    assert len(problems) == 2


def test_truncated_or_missing_chunks_raise(tmp_path: Path) -> None:
    arr = _write(tmp_path, [b"a" * 100, b"b" * 100])
    chunk = tmp_path / "blobs" / "bytes" / "c" / "0"
    chunk.write_bytes(chunk.read_bytes()[:150])
    with pytest.raises(CorruptStoreError, match="truncated"):
        BytesArray(tmp_path / "blobs").take([1])
    chunk.unlink()
    with pytest.raises(CorruptStoreError, match="missing"):
        BytesArray(tmp_path / "blobs").take([0])
    del arr


def test_offsets_that_disagree_with_the_checksums_raise(tmp_path: Path) -> None:
    _write(tmp_path, [b"a", b"b"])
    zarr.create_array(
        store=str(tmp_path / "blobs"),
        name="offsets",
        data=np.array([0, 1], np.int64),
        overwrite=True,
    )
    with pytest.raises(CorruptStoreError, match="disagree"):
        BytesArray(tmp_path / "blobs")
