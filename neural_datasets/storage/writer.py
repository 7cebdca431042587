"""Writing sample arrays: whole shards at once, each published by one atomic rename.

:func:`write_shards` assembles each shard file of an uncompressed array in
memory and renames it into place, so a shard is never seen half-written, at
~2.7x the speed of zarr-python's write path. :func:`write_samples` adds the
per-chunk crc32c sidecar, :func:`write_array` writes small whole arrays.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .layout import CHECKSUM_GROUP
from .reader import EMPTY_CHUNK, ShardedArray


def write_array(
    root: Path,
    name: str,
    data: np.ndarray,
    *,
    dimension_names: Sequence[str] | None = None,
    **attrs: Any,
) -> None:
    """Write a small whole array (labels, coordinates) as one uncompressed chunk.

    One raw chunk is read back by :func:`~neural_datasets.storage.reader.read_whole` in a
    single read, without a threaded reader, and checked against the chunk's
    crc32c, recorded in the array's ``crc32c`` attribute.
    """
    import google_crc32c
    import zarr

    data = np.ascontiguousarray(data)
    little = data.astype(data.dtype.newbyteorder("<"), copy=False)
    zarr.create_array(
        store=str(root),
        name=name,
        data=data,
        chunks=tuple(max(s, 1) for s in data.shape),
        compressors=None,
        attributes={**attrs, "crc32c": google_crc32c.value(little.tobytes())},
        dimension_names=tuple(dimension_names) if dimension_names else None,
        overwrite=True,
        config={"write_empty_chunks": True},  # an all-zero column is data, not a missing chunk
    )


def chunk_crc32c(block: np.ndarray) -> np.ndarray:
    """crc32c of each sample (first axis) of ``block`` as uint32."""
    import google_crc32c

    flat = np.ascontiguousarray(block).reshape(len(block), -1)
    return np.fromiter((google_crc32c.value(row.tobytes()) for row in flat), np.uint32, len(flat))


def write_samples(root: Path, name: str, start: int, block: np.ndarray) -> None:
    """Write ``block`` at samples ``start:start+len(block)`` with its chunk checksums.

    Writes should cover whole shards (multiples of the shard size, or the
    tail), so that each shard file is written by exactly one process.
    Uncompressed arrays are written by :func:`write_shards`
    (atomic per shard, ~2.7x faster); others by zarr-python.
    """
    import zarr

    # zarr-python skips chunks equal to the fill value; readers treat a missing chunk as damage.
    with zarr.config.set({"array.write_empty_chunks": True}):
        if not write_shards(root / name, start, block):
            zarr.open_array(store=str(root / name), mode="r+")[start : start + len(block)] = block
        checksums = zarr.open_array(store=str(root / CHECKSUM_GROUP / name), mode="r+")
        checksums[start : start + len(block)] = chunk_crc32c(block)


def write_shards(path: str | os.PathLike[str], start: int, block: np.ndarray) -> bool:
    """Write samples ``start:start+len(block)`` of an uncompressed sharded array.

    ``start`` must fall on a shard boundary and ``block`` must fill whole
    shards (or end at the array's last sample). Each shard file is written to
    a temporary name and renamed, so readers never see a partial shard.
    Returns ``False`` (writing nothing) for layouts this writer does not
    handle: compressed chunks, or a checksum codec other than the index's.
    """
    array = ShardedArray(path, check="off")
    if array._decoder is not None or not array._index_crc:
        return False
    stop = start + len(block)
    if block.shape[1:] != array.shape[1:]:
        raise ValueError(f"{path}: samples of shape {block.shape[1:]}, expected {array.shape[1:]}")
    if stop > array.shape[0]:
        raise ValueError(f"{path}: samples {start}-{stop - 1} exceed {array.shape[0]}")
    # A partial shard would be rewritten without the samples it already holds.
    if start % array.per_shard or (len(block) % array.per_shard and stop != array.shape[0]):
        raise ValueError(
            f"{path}: samples {start}-{stop - 1} do not cover whole shards of {array.per_shard}"
        )
    import google_crc32c

    flat = np.ascontiguousarray(block, dtype=array.dtype).reshape(len(block), -1).view(np.uint8)
    for first in range(0, len(block), array.per_shard):
        chunks = flat[first : first + array.per_shard]
        index = np.full((array.per_shard, 2), EMPTY_CHUNK, np.uint64)
        index[: len(chunks), 0] = np.arange(len(chunks), dtype=np.uint64) * array.sample_nbytes
        index[: len(chunks), 1] = array.sample_nbytes
        index_bytes = index.astype("<u8").tobytes()
        target = array._shard_path((start + first) // array.per_shard)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as out:
                out.write(chunks.data)
                out.write(index_bytes)
                out.write(google_crc32c.value(index_bytes).to_bytes(4, "little"))
            os.replace(tmp, target)
        finally:  # a full disk must not leave a partial temporary behind
            tmp.unlink(missing_ok=True)
    return True
