"""A thread-free reader for the sharded zarr v3 arrays neural-datasets writes.

Why not tensorstore or zarr-python for local stores: both run thread pools,
and tensorstore aborts outright in a forked child once the parent has read
(``fork() use detected``), which is exactly what a PyTorch DataLoader with
``fork`` workers does. This reader holds no threads and no locks: it parses
each shard's index once, then reads each chunk with one ``os.preadv`` straight
into the output batch (decompressing blosc/zstd chunks with numcodecs). It is
safe to use before and after ``fork`` and faster than tensorstore on our
one-sample chunks (BENCHMARKS.md).

:func:`~neural_datasets.storage.writer.write_shards` is the matching writer.
Both support the layout :mod:`neural_datasets.storage.layout` creates: the
``sharding_indexed`` codec with one-sample inner chunks, inner codecs
``bytes`` optionally followed by ``blosc`` or ``zstd``, index at the end
encoded ``bytes`` + ``crc32c``, default chunk key encoding. Anything else
raises :class:`UnsupportedLayout` and callers fall back to tensorstore.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptStoreError

EMPTY_CHUNK = np.uint64(2**64 - 1)
MAX_OPEN_FILES = 128


class UnsupportedLayout(Exception):
    """The array's codecs or chunking are not the ones this reader handles."""


class ShardedArray:
    """Random access to a local sharded zarr v3 array, safe across ``fork``.

    Parameters
    ----------
    path
        The array's directory (the one holding its ``zarr.json``).

    Examples
    --------
    >>> arr = ShardedArray(store / "image")          # doctest: +SKIP
    >>> arr.take(np.array([3, 17])).shape             # doctest: +SKIP
    (2, 256, 256, 3)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        meta = json.loads((self.path / "zarr.json").read_text())
        self.shape = tuple(int(s) for s in meta["shape"])
        self.dtype = np.dtype(meta["data_type"])
        (shard_codec,) = _only(meta["codecs"], "sharding_indexed")
        cfg = shard_codec["configuration"]
        self.shard_shape = tuple(int(s) for s in meta["chunk_grid"]["configuration"]["chunk_shape"])
        inner = tuple(int(s) for s in cfg["chunk_shape"])
        if inner != (1, *self.shape[1:]) or self.shard_shape[1:] != self.shape[1:]:
            raise UnsupportedLayout(f"{path}: inner chunks {inner} are not single samples")
        if cfg.get("index_location", "end") != "end":
            raise UnsupportedLayout(f"{path}: shard index not at the end")
        index_codecs = [c["name"] for c in cfg["index_codecs"]]
        if index_codecs not in (["bytes", "crc32c"], ["bytes"]):
            raise UnsupportedLayout(f"{path}: index codecs {index_codecs}")
        self._index_crc = index_codecs[-1] == "crc32c"
        self._decoder = _decoder(cfg["codecs"], self.dtype, path)
        if meta.get("chunk_key_encoding", {}).get("name", "default") != "default":
            raise UnsupportedLayout(f"{path}: chunk key encoding")
        self.fill_value = meta.get("fill_value", 0)
        self.per_shard = self.shard_shape[0]
        self.sample_nbytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._indexes: dict[int, np.ndarray] = {}
        self._local = threading.local()

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])

    def close(self) -> None:
        """Close the shard files the calling thread opened (others close when GC'd)."""
        for handle in self._open_files().values():
            handle.close()
        self._local.files = OrderedDict()

    def take(self, indices: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Samples ``indices`` (any order, repeats allowed), stacked on axis 0.

        Parameters
        ----------
        indices
            Integer sample indices; negative ones count from the end.
        out
            Optional C-contiguous array of shape ``(len(indices), *shape[1:])``
            to fill, so a loader can read into pinned or reused memory.
        """
        indices = sample_indices(indices, self.shape[0], self.path)
        if out is None:
            out = empty_aligned((len(indices), *self.shape[1:]), self.dtype)
        flat = out.reshape(len(indices), -1).view(np.uint8)
        order = np.argsort(indices, kind="stable")  # visit each shard file once, in order
        for slot in order:
            self._read_sample(int(indices[slot]), flat[slot])
        return out

    def read(self) -> np.ndarray:
        """The whole array."""
        return self.take(np.arange(self.shape[0]))

    def _read_sample(self, sample: int, target: np.ndarray) -> None:
        shard, within = divmod(sample, self.per_shard)
        offset, nbytes = self._index(shard)[within]
        if offset == EMPTY_CHUNK:
            target[:] = np.frombuffer(
                np.full(1, self.fill_value, self.dtype).tobytes()
                * (len(target) // self.dtype.itemsize),
                np.uint8,
            )
            return
        fd = self._fd(shard)
        if self._decoder is None:
            got = os.preadv(fd, [target], int(offset))
            if got != self.sample_nbytes or nbytes != self.sample_nbytes:
                raise self._corrupt(
                    shard, f"chunk {within} is {got} bytes, expected {self.sample_nbytes}"
                )
            return
        raw = os.pread(fd, int(nbytes), int(offset))
        try:
            decoded = self._decoder(raw)
        except Exception as exc:
            raise self._corrupt(shard, f"chunk {within} does not decompress ({exc})") from exc
        if len(decoded) != self.sample_nbytes:
            raise self._corrupt(shard, f"chunk {within} decodes to {len(decoded)} bytes")
        target[:] = np.frombuffer(decoded, np.uint8)

    def _index(self, shard: int) -> np.ndarray:
        index = self._indexes.get(shard)
        if index is None:
            index = self._load_index(shard)
            self._indexes[shard] = index
        return index

    def _load_index(self, shard: int) -> np.ndarray:
        size = 16 * self.per_shard + (4 if self._index_crc else 0)
        fd = self._fd(shard)
        if fd < 0:
            return np.full((self.per_shard, 2), EMPTY_CHUNK, np.uint64)
        end = os.fstat(fd).st_size
        if end < size:
            raise self._corrupt(shard, f"file of {end} bytes is shorter than its index")
        blob = os.pread(fd, size, end - size)
        if self._index_crc:
            import google_crc32c

            if google_crc32c.value(blob[:-4]) != int.from_bytes(blob[-4:], "little"):
                raise self._corrupt(shard, "shard index fails its crc32c checksum")
        return np.frombuffer(blob[: 16 * self.per_shard], "<u8").reshape(self.per_shard, 2)

    def _open_files(self) -> OrderedDict[int, io.FileIO]:
        """This thread's open shard files, most recently used last.

        Each thread keeps its own files: a file evicted by one thread can never
        be closed under another's read (its descriptor number could then be
        reused for a different file). Files close when evicted, or when their
        thread's table is garbage-collected. A forked child starts with an
        empty table and opens its own files.
        """
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.files, local.pid = OrderedDict(), os.getpid()
        return local.files

    def _fd(self, shard: int) -> int:
        files = self._open_files()
        handle = files.get(shard)
        if handle is not None:
            files.move_to_end(shard)
            return handle.fileno()
        try:
            handle = io.FileIO(self._shard_path(shard), "r")
        except FileNotFoundError:
            return -1  # a shard never written holds fill values only
        files[shard] = handle
        if len(files) > MAX_OPEN_FILES:
            files.popitem(last=False)[1].close()
        return handle.fileno()

    def _shard_path(self, shard: int) -> Path:
        return self.path.joinpath("c", str(shard), *(["0"] * (len(self.shape) - 1)))

    def _corrupt(self, shard: int, what: str) -> CorruptStoreError:
        first = shard * self.per_shard
        return CorruptStoreError(
            f"{self._shard_path(shard)} (samples {first}-{first + self.per_shard - 1}) is corrupt: "
            f"{what}. Run `neural-datasets verify` on the dataset, then `neural-datasets rm` and "
            f"fetch it again."
        )


def empty_aligned(shape: tuple[int, ...], dtype: Any, alignment: int = 64) -> np.ndarray:
    """``np.empty`` whose data starts on an ``alignment``-byte boundary.

    TensorFlow adopts NumPy arrays without a copy only when they are 64-byte
    aligned, and NumPy's allocations are 16-byte aligned: an unaligned 16 MB
    batch was copied again by every ``tf.numpy_function`` return (BENCHMARKS.md).
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def sample_indices(indices: Any, n: int, where: object) -> np.ndarray:
    """``indices`` as a flat int64 array with negatives counted from the end, bounds-checked."""
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size and (indices.min() < -n or indices.max() >= n):
        raise IndexError(f"sample index out of range for {n} samples in {where}")
    return np.where(indices < 0, indices + n, indices)


def _only(codecs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    if [c["name"] for c in codecs] != [name]:
        raise UnsupportedLayout(f"codecs {[c['name'] for c in codecs]} are not one {name}")
    return codecs


def _decoder(codecs: list[dict[str, Any]], dtype: np.dtype, path: Path) -> Any:
    names = [c["name"] for c in codecs]
    if not names or names[0] != "bytes":
        raise UnsupportedLayout(f"{path}: inner codecs {names}")
    endian = codecs[0].get("configuration", {}).get("endian", "little")
    if dtype.itemsize > 1 and endian != ("little" if dtype.byteorder in "<=|" else "big"):
        raise UnsupportedLayout(f"{path}: {endian}-endian chunks")
    if names == ["bytes"]:
        return None
    if names == ["bytes", "blosc"]:
        from numcodecs import blosc

        blosc.use_threads = False  # blosc's own threads are not fork-safe either
        return blosc.decompress
    if names == ["bytes", "zstd"]:
        from numcodecs import Zstd

        return Zstd().decode
    raise UnsupportedLayout(f"{path}: inner codecs {names}")


def read_whole(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a small single-chunk uncompressed array, as :func:`.writer.write_array` writes them.

    Thread-free like :class:`ShardedArray`; other layouts are read with zarr-python.
    """
    path = Path(path)
    meta = json.loads((path / "zarr.json").read_text())
    shape = tuple(int(s) for s in meta["shape"])
    chunk = tuple(int(s) for s in meta["chunk_grid"]["configuration"]["chunk_shape"])
    names = [c["name"] for c in meta["codecs"]]
    try:
        dtype = np.dtype(meta["data_type"])
    except TypeError:
        dtype = None
    if dtype is None or names != ["bytes"] or chunk != tuple(max(s, 1) for s in shape):
        import zarr

        return zarr.open_array(str(path), mode="r")[...]
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder(
            "<" if meta["codecs"][0]["configuration"]["endian"] == "little" else ">"
        )
    chunk_file = path.joinpath("c", *(["0"] * max(len(shape), 1)))
    if not chunk_file.exists():
        return np.full(shape, meta.get("fill_value", 0), dtype)
    return np.fromfile(chunk_file, dtype).reshape(shape)


def open_sample_array(location: str | os.PathLike[str]) -> Any:
    """A fork-safe reader of one sample array with ``take(indices)``, ``read()`` and ``len()``.

    Local stores get the thread-free :class:`ShardedArray`; URLs (and layouts
    it does not handle) a :class:`~neural_datasets.storage.remote.LazyArray`
    over tensorstore.
    """
    from .remote import LazyArray, is_url

    text = os.fspath(location)
    if not is_url(text):
        try:
            return ShardedArray(text.removeprefix("file://"))
        except UnsupportedLayout:
            pass
    return LazyArray(text)
