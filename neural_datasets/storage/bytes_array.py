"""Ragged byte arrays in zarr v3: one variable-length ``bytes`` item per sample, checksummed.

A bytes array named ``<name>`` in a store is a zarr group holding two plain
zarr arrays, so any zarr v3 reader can open it::

    <name>/zarr.json          group; attributes {"neural_datasets_array": "ragged_bytes"}
    <name>/offsets            int64 [n + 1]: item i is bytes[offsets[i]:offsets[i + 1]]
    <name>/bytes              uint8 [total], uncompressed chunks of CHUNK_BYTES
    checksums/<name>          uint32 [n]: crc32c of each item, as for every sample array

It holds payloads that are already compressed, such as the JPEG bytes of a
published dataset, which compress no further. :class:`BytesArray` reads items
with one ``pread`` per chunk touched, holds no threads and opens its files
lazily per thread and process (safe before and after ``fork``), and checks
every item's crc32c on read: a damaged byte raises, it is never returned.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptStoreError
from .layout import CHECKSUM_GROUP
from .reader import MAX_OPEN_FILES, read_whole, sample_indices

CHUNK_BYTES = 8 * 2**20
KIND = "ragged_bytes"


def is_bytes_array(
    path: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
) -> bool:
    """Whether ``path`` (local, or a URL) is a bytes array written by :class:`BytesArrayWriter`.

    A URL is asked within the network timeout, and not at all offline
    (:func:`~neural_datasets.storage.remote.read_metadata` raises).
    """
    from .remote import is_url, read_metadata

    if is_url(path):
        meta = read_metadata(os.fspath(path), storage_options=storage_options)
    else:
        try:
            meta = json.loads((Path(path) / "zarr.json").read_bytes())
        except (OSError, ValueError):  # absent or unreadable: not a bytes array (readers say why)
            return False
    return meta.get("attributes", {}).get("neural_datasets_array") == KIND


class BytesArrayWriter:
    """Append items to a new bytes array, then :meth:`close` to write its metadata.

    Items are buffered up to one chunk and each full chunk file is written to
    a temporary name and renamed, so no reader sees a partial chunk; the
    offsets and checksums are written last, by :meth:`close`.

    Parameters
    ----------
    root
        The store (a zarr v3 group) to create the array in.
    name
        The array's name in the store.
    dimension_name
        Name of the item axis.

    Examples
    --------
    >>> import tempfile, zarr
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = zarr.open_group(str(root), mode="w", zarr_format=3)
    >>> with BytesArrayWriter(root, "blobs") as out:
    ...     out.extend([b"ab", b"", b"cde"])
    >>> BytesArray(root / "blobs").take([2, 0])
    [b'cde', b'ab']
    """

    def __init__(self, root: Path, name: str, *, dimension_name: str = "sample") -> None:
        self.root, self.name, self.dimension_name = Path(root), name, dimension_name
        self.path = self.root / name
        (self.path / "bytes" / "c").mkdir(parents=True)
        self.offsets = [0]
        self.checksums: list[int] = []
        self.pending = bytearray()
        self.chunks_written = 0

    def append(self, item: bytes) -> None:
        """Add one item."""
        import google_crc32c

        self.offsets.append(self.offsets[-1] + len(item))
        self.checksums.append(google_crc32c.value(item))
        self.pending += item
        while len(self.pending) >= CHUNK_BYTES:
            self._write_chunk(bytes(self.pending[:CHUNK_BYTES]))
            del self.pending[:CHUNK_BYTES]

    def extend(self, items: Iterable[bytes]) -> None:
        """Add several items."""
        for item in items:
            self.append(item)

    def close(self) -> None:
        """Write the last chunk, the offsets, the checksums and the array metadata."""
        import zarr

        from .writer import write_array

        total = self.offsets[-1]
        # zarr chunks are whole: one array of fewer bytes than a chunk gets a chunk its size.
        chunk = min(CHUNK_BYTES, max(total, 1))
        if self.pending or total == 0:
            self._write_chunk(bytes(self.pending).ljust(chunk, b"\0"))
        self.pending = bytearray()
        zarr.open_group(str(self.path), mode="a", zarr_format=3).attrs.update(
            {"neural_datasets_array": KIND, "items": len(self.checksums)}
        )
        meta = {
            "zarr_format": 3,
            "node_type": "array",
            "shape": [total],
            "data_type": "uint8",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [chunk]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": 0,
            "codecs": [{"name": "bytes"}],
            "attributes": {},
            "dimension_names": ["byte"],
        }
        (self.path / "bytes" / "zarr.json").write_text(json.dumps(meta, indent=2))
        write_array(
            self.path, "offsets", np.asarray(self.offsets, np.int64), dimension_names=["edge"]
        )
        write_array(
            self.root,
            f"{CHECKSUM_GROUP}/{self.name}",
            np.asarray(self.checksums, np.uint32),
            dimension_names=[self.dimension_name],
            algorithm="crc32c",
            of=self.name,
            per="item",
        )

    def __enter__(self) -> BytesArrayWriter:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            self.close()

    def _write_chunk(self, data: bytes) -> None:
        target = self.path / "bytes" / "c" / str(self.chunks_written)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        self.chunks_written += 1


class BytesArray:
    """Random access to the items of a local bytes array, each checked against its crc32c.

    Parameters
    ----------
    path
        The array's directory (``<store>/<name>``).

    Examples
    --------
    >>> arr = BytesArray(store / "image")          # doctest: +SKIP
    >>> len(arr), arr.take([3])[0][:2]             # doctest: +SKIP
    (48, b'\\xff\\xd8')
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not is_bytes_array(self.path):
            raise CorruptStoreError(f"{self.path} is not a bytes array (no ragged_bytes group).")
        self.offsets = read_whole(self.path / "offsets").astype(np.int64)
        self.checksums = read_whole(self.path.parent / CHECKSUM_GROUP / self.path.name)
        meta = json.loads((self.path / "bytes" / "zarr.json").read_text())
        self.chunk = int(meta["chunk_grid"]["configuration"]["chunk_shape"][0])
        total = int(meta["shape"][0])
        n = len(self.offsets) - 1
        if (
            n != len(self.checksums)
            or self.offsets[0] != 0
            or self.offsets[-1] != total
            or np.any(np.diff(self.offsets) < 0)
        ):
            raise CorruptStoreError(
                f"{self.path}: offsets ({n} items, ending at {self.offsets[-1]}) disagree with "
                f"the {len(self.checksums)} checksums or the {total} bytes. Run `neural-datasets "
                f"verify`, then `neural-datasets rm` and fetch again."
            )
        self._local = threading.local()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]

    def nbytes(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """The size in bytes of each item of ``indices``."""
        indices = sample_indices(indices, len(self), self.path)
        return self.offsets[indices + 1] - self.offsets[indices]

    def take(self, indices: Sequence[int] | np.ndarray) -> list[bytes]:
        """Items ``indices`` (any order, repeats allowed), each checked against its crc32c.

        Raises
        ------
        CorruptStoreError
            An item's bytes are missing or fail their checksum.
        """
        import google_crc32c

        indices = sample_indices(indices, len(self), self.path)
        items = []
        for i in indices.tolist():
            item = self._read(int(self.offsets[i]), int(self.offsets[i + 1]))
            if google_crc32c.value(item) != int(self.checksums[i]):
                raise self._corrupt(i, "fails its crc32c checksum")
            items.append(item)
        return items

    def _read(self, start: int, stop: int) -> bytes:
        parts = []
        while start < stop:
            chunk, within = divmod(start, self.chunk)
            want = min(stop - start, self.chunk - within)
            got = os.pread(self._fd(chunk), want, within)
            if len(got) != want:
                raise CorruptStoreError(
                    f"{self._chunk_path(chunk)} is truncated: wanted bytes {within}-"
                    f"{within + want - 1}. Run `neural-datasets verify`, then `neural-datasets "
                    f"rm` and fetch again."
                )
            parts.append(got)
            start += want
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _fd(self, chunk: int) -> int:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # a forked child opens its own files
            local.files, local.pid = OrderedDict(), os.getpid()
        files = local.files
        handle = files.get(chunk)
        if handle is not None:
            files.move_to_end(chunk)
            return handle.fileno()
        try:
            handle = files[chunk] = io.FileIO(self._chunk_path(chunk), "r")
        except FileNotFoundError as exc:
            raise CorruptStoreError(
                f"{self._chunk_path(chunk)} is missing. Run `neural-datasets rm` and fetch again."
            ) from exc
        if len(files) > MAX_OPEN_FILES:  # this thread's own table: no other thread reads it
            files.popitem(last=False)[1].close()
        return handle.fileno()

    def _chunk_path(self, chunk: int) -> Path:
        return self.path / "bytes" / "c" / str(chunk)

    def _corrupt(self, item: int, what: str) -> CorruptStoreError:
        return CorruptStoreError(
            f"{self.path}: item {item} {what}. Run `neural-datasets verify` on the dataset, then "
            f"`neural-datasets rm` and fetch it again."
        )

    def __repr__(self) -> str:
        return f"BytesArray({str(self.path)!r}, items={len(self)})"
