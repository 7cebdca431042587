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
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import CorruptStoreError
from .layout import CHECKSUM_ATTRIBUTE
from .manifest import chunk_keys, read_json, remedy

EMPTY_CHUNK = np.uint64(2**64 - 1)
MAX_OPEN_FILES = 128
# Checksum-on-read: BENCHMARKS.md has each mode's measured cost, docs/integrity.md the choice.
ENV_CHECK_ON_READ = "NEURAL_DATASETS_CHECK_ON_READ"
CheckMode = Literal["off", "once", "always"]
_MODES: dict[str, CheckMode] = {
    **dict.fromkeys(("0", "false", "no", "off"), "off"),
    "once": "once",
    **dict.fromkeys(("1", "true", "yes", "on", "always"), "always"),
}


def check_on_read_default() -> CheckMode:
    """How readers check chunk checksums unless told: ``$NEURAL_DATASETS_CHECK_ON_READ``.

    ``once`` (the default): each chunk the first time a process reads it;
    ``always``: on every read; ``off``: never (``verify`` still checks all).

    Examples
    --------
    >>> check_on_read_default() in ("off", "once", "always")
    True
    """
    value = os.environ.get(ENV_CHECK_ON_READ, "once").strip().lower()
    try:
        return _MODES[value]
    except KeyError:
        raise ValueError(
            f"{ENV_CHECK_ON_READ}={value!r}: use once (the default), always or off"
        ) from None


class UnsupportedLayout(Exception):
    """The array's codecs or chunking are not the ones this reader handles."""


class ShardedArray:
    """Random access to a local sharded zarr v3 array, safe across ``fork``.

    Parameters
    ----------
    path
        The array's directory (the one holding its ``zarr.json``).
    check
        Verify chunks read against the crc32c their sidecar recorded at
        conversion (``checksums/<array>``), so a damaged byte raises
        :class:`~neural_datasets.errors.CorruptStoreError` instead of reaching
        the caller: ``"once"`` checks each chunk the first time this process
        reads it, ``"always"`` on every read, ``"off"`` never. ``None``:
        :func:`check_on_read_default` (``"once"`` unless the environment
        says otherwise). Arrays without a sidecar are read unchecked.

    Raises
    ------
    CorruptStoreError
        When the metadata is unreadable, and on reads that meet a missing
        shard file, a missing chunk, a damaged index or a checksum mismatch.
        Fill values never stand in for missing data.

    Examples
    --------
    >>> arr = ShardedArray(store / "image")          # doctest: +SKIP
    >>> arr.take(np.array([3, 17])).shape             # doctest: +SKIP
    (2, 256, 256, 3)
    """

    def __init__(self, path: str | os.PathLike[str], *, check: CheckMode | None = None) -> None:
        self.path = Path(path)
        self.check: CheckMode = check_on_read_default() if check is None else check
        meta = read_json(self.path / "zarr.json")
        try:
            self._parse(meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptStoreError(
                f"{self.path / 'zarr.json'} is not valid array metadata ({exc!r}). "
                f"{remedy(self.path)}"
            ) from exc
        self._indexes: dict[int, np.ndarray] = {}
        self._crcs: np.ndarray | None = None
        self._verified = np.zeros(0, bool)  # samples checked by this process ("once")
        self._local = threading.local()

    def _parse(self, meta: dict[str, Any]) -> None:
        path = self.path
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
        self.per_shard = self.shard_shape[0]
        self.sample_nbytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        sidecar = meta.get("attributes", {}).get(CHECKSUM_ATTRIBUTE)
        self._sidecar = None if sidecar is None else (path / sidecar).resolve()

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "check": self.check}

    def __setstate__(self, state: dict[str, Any]) -> None:
        ShardedArray.__init__(self, state["path"], check=state.get("check"))

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
        flat = out.reshape(len(indices), self.sample_nbytes // self.dtype.itemsize).view(np.uint8)
        expected = None if self.check == "off" else self._checksums()
        verified = self._verified if self.check == "once" else None
        order = np.argsort(indices, kind="stable")  # visit each shard file once, in order
        for slot in order:
            sample = int(indices[slot])
            self._read_sample(sample, flat[slot])
            if expected is not None and (verified is None or not verified[sample]):
                self._check_sample(sample, flat[slot], int(expected[sample]))
                if verified is not None:
                    verified[sample] = True
        return out

    def _checksums(self) -> np.ndarray | None:
        """The sidecar's per-chunk crc32c, loaded once per process (they are small)."""
        if self._crcs is None and self._sidecar is not None:
            crcs = read_whole(self._sidecar)
            if crcs.shape != (self.shape[0],):
                raise CorruptStoreError(
                    f"{self._sidecar} holds {crcs.shape} checksums for the {self.shape[0]} "
                    f"samples of {self.path}. {remedy(self.path)}"
                )
            self._crcs = crcs
            self._verified = np.zeros(self.shape[0], bool)
        return self._crcs

    def _check_sample(self, sample: int, data: np.ndarray, expected: int) -> None:
        import google_crc32c

        frozen = data.view()
        frozen.flags.writeable = False  # google_crc32c takes read-only buffers only
        if google_crc32c.value(frozen) != expected:
            shard, within = divmod(sample, self.per_shard)
            raise self._corrupt(
                shard, f"sample {sample} (chunk {within}) fails its crc32c checksum"
            )

    def read(self) -> np.ndarray:
        """The whole array."""
        return self.take(np.arange(self.shape[0]))

    def _read_sample(self, sample: int, target: np.ndarray) -> None:
        shard, within = divmod(sample, self.per_shard)
        offset, nbytes = self._index(shard)[within]
        if offset == EMPTY_CHUNK:  # writers write every chunk: a gap is damage, not fill
            raise self._corrupt(shard, f"chunk {within} (sample {sample}) is missing")
        fd = self._fd(shard)
        if self._decoder is None:
            got = os.preadv(fd, [target.data], int(offset))
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
            raise self._corrupt(shard, "the shard file is missing") from None
        files[shard] = handle
        if len(files) > MAX_OPEN_FILES:
            files.popitem(last=False)[1].close()
        return handle.fileno()

    def _shard_path(self, shard: int) -> Path:
        return self.path.joinpath("c", str(shard), *(["0"] * (len(self.shape) - 1)))

    def _corrupt(self, shard: int, what: str) -> CorruptStoreError:
        first = shard * self.per_shard
        last = min(first + self.per_shard, self.shape[0]) - 1
        return CorruptStoreError(
            f"{self._shard_path(shard)} (samples {first}-{last}) is corrupt: {what}. "
            f"{remedy(self.path)}"
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
    """Read a small uncompressed array whole, as :func:`.writer.write_array` writes them.

    Thread-free like :class:`ShardedArray`; other codecs are read with
    zarr-python. Every chunk file must exist and have its full size, and a
    chunk whose crc32c the writer recorded (the ``crc32c`` attribute) must
    match it.

    Raises
    ------
    CorruptStoreError
        When the metadata is unreadable, or a chunk file is missing, short or
        fails its checksum. Fill values never stand in for missing chunks.
    """
    path = Path(path)
    meta = read_json(path / "zarr.json")
    try:
        shape = tuple(int(s) for s in meta["shape"])
        chunk = tuple(int(s) for s in meta["chunk_grid"]["configuration"]["chunk_shape"])
        names = [c["name"] for c in meta["codecs"]]
        keys = chunk_keys(meta)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptStoreError(
            f"{path / 'zarr.json'} is not valid array metadata ({exc!r}). {remedy(path)}"
        ) from exc
    missing = [key for key in keys if not (path / key).is_file()]
    if missing:
        raise CorruptStoreError(
            f"{path / missing[0]} is missing ({len(missing)} of the {len(keys)} chunk files of "
            f"{path.name}). {remedy(path)}"
        )
    try:
        dtype = np.dtype(meta["data_type"])
    except TypeError:
        dtype = None
    if dtype is None or names != ["bytes"]:
        import zarr

        return np.asarray(zarr.open_array(str(path), mode="r")[...])
    if dtype.itemsize > 1:
        endian = meta["codecs"][0].get("configuration", {}).get("endian", "little")
        dtype = dtype.newbyteorder("<" if endian == "little" else ">")
    out = np.empty(shape, dtype)
    expected_crc = meta.get("attributes", {}).get("crc32c") if len(keys) == 1 else None
    for key in keys:
        where = tuple(
            slice(i * c, min((i + 1) * c, s))
            for i, c, s in zip(map(int, key.split("/")[1:]), chunk, shape)
        )
        out[where] = _read_chunk(path / key, dtype, chunk, expected_crc)[
            tuple(slice(0, w.stop - w.start) for w in where)
        ]
    return out


def _read_chunk(
    file: Path, dtype: np.dtype, chunk: tuple[int, ...], expected_crc: int | None
) -> np.ndarray:
    data = file.read_bytes()
    nbytes = int(np.prod(chunk, dtype=np.int64)) * dtype.itemsize
    if len(data) != nbytes:
        raise CorruptStoreError(
            f"{file} is {len(data)} bytes, a chunk of {chunk} {dtype} holds {nbytes}: it is "
            f"truncated or damaged. {remedy(file)}"
        )
    if expected_crc is not None:
        import google_crc32c

        if google_crc32c.value(data) != int(expected_crc):
            raise CorruptStoreError(f"{file} fails its crc32c checksum. {remedy(file)}")
    return np.frombuffer(data, dtype).reshape(chunk)


def open_sample_array(
    location: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
) -> Any:
    """A fork-safe reader of one sample array with ``take(indices)``, ``read()`` and ``len()``.

    Local stores get the thread-free :class:`ShardedArray`; URLs (and layouts
    it does not handle) a :class:`~neural_datasets.storage.remote.LazyArray`
    over tensorstore, reaching ``s3://`` with ``storage_options``
    (:func:`~neural_datasets.storage.remote.s3_settings`).
    """
    from .remote import LazyArray, is_url

    text = os.fspath(location)
    if not is_url(text):
        try:
            return ShardedArray(text.removeprefix("file://"))
        except UnsupportedLayout:
            pass
    return LazyArray(text, storage_options)
