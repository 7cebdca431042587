"""ClickMe's compact layout: the published JPEG bytes, copied, decoded in batches on read.

``layout="compact"`` keeps each image and heatmap as the JPEG bytes of its
TFRecord, bit for bit (no re-encoding), in
:mod:`~neural_datasets.storage.bytes_array` arrays, checksummed per item like
every array. The store is about the size of the download instead of ~10x it;
the price is a JPEG decode per sample on every read, done in batches by a
pool of threads (simplejpeg releases the GIL while it decodes) with exactly
the settings of the raw layout's conversion, so both layouts return
identical pixels.

Examples
--------
>>> import neural_datasets as nd
>>> compact = nd.ClickMe("sample", layout="compact", progress=False)
>>> raw = nd.ClickMe("sample", progress=False)
>>> import numpy as np
>>> batch = compact.read_batch([5, 2])
>>> all(np.array_equal(batch[k], raw.read_batch([5, 2])[k]) for k in batch)
True
"""

from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConversionError, CorruptRecordError, CorruptStoreError
from ...formats.tfrecord import index_records, read_record
from ...storage import layout, writer
from ...storage.bytes_array import BytesArray, BytesArrayWriter
from ...storage.reader import empty_aligned
from ..spec import DatasetSpec
from .convert import _decode_jpeg, picture_shapes
from .records import decode_clickme_example

MAX_DECODE_THREADS = 8


def convert_compact(
    spec: DatasetSpec, raw_files: dict[str, Path], building: Path, *, progress: bool = True
) -> dict[str, Any]:
    """Copy the JPEG bytes and labels of ClickMe shards (in registry order) into ``building``.

    Arrays: ``image`` and ``heatmap`` as bytes arrays of JPEG payloads,
    ``label`` int64, ``source_shard`` and ``source_record`` int32. Every
    payload's header is checked (a JPEG of the expected size and channels) and
    every label against the spec's declared range;
    the pixels are decoded on read. A copy runs at disk speed, so an
    interrupted conversion starts over. Returns the ``clickme`` root attributes.
    """
    from tqdm.auto import tqdm

    label_feature = spec.feature("label")  # its declared range, as the raw layout enforces
    image_shape, heatmap_shape = picture_shapes(spec)
    paths = [raw_files[remote.path] for remote in spec.files]
    plan = [index_records(p) for p in paths]
    total = int(sum(len(ix) for ix in plan))
    if total == 0:
        raise ConversionError(f"{spec.name}: the TFRecord shards hold no records.")
    for child in building.iterdir():  # leftovers of an interrupted copy
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    layout.create_group(building)
    labels = np.empty(total, np.int64)
    shard_of = np.repeat(np.arange(len(plan), dtype=np.int32), [len(ix) for ix in plan])
    record_of = np.concatenate([np.arange(len(ix), dtype=np.int32) for ix in plan])
    bar = tqdm(total=total, unit="sample", desc=f"{spec.name}: copying", disable=not progress)
    with (
        bar,
        BytesArrayWriter(building, "image") as images,
        BytesArrayWriter(building, "heatmap") as heatmaps,
    ):
        sample = 0
        for path, index in zip(paths, plan, strict=True):
            with open(path, "rb") as f:
                for record, (offset, length) in enumerate(index.tolist()):
                    data = read_record(f, offset, length, index=record)
                    try:
                        image, heatmap, labels[sample] = decode_clickme_example(data)
                        label_feature.check_range(labels[sample])
                        _check_jpeg(image, image_shape)
                        _check_jpeg(heatmap, heatmap_shape)
                    except (CorruptRecordError, ConversionError) as exc:
                        raise ConversionError(
                            f"{path.name}, record {record} (byte offset {offset}): {exc}"
                        ) from exc
                    images.append(image)
                    heatmaps.append(heatmap)
                    sample += 1
                    bar.update()
    for name, column in (
        ("label", labels),
        ("source_shard", shard_of),
        ("source_record", record_of),
    ):
        writer.write_array(building, name, column, dimension_names=("sample",))
    return {
        "clickme": {
            "split": spec.split,
            "num_samples": total,
            "source_files": [remote.path for remote in spec.files],
            "records_per_file": [len(ix) for ix in plan],
            "source_file_column": "source_shard",
            "layout": "compact",
            "image_shape": list(image_shape),
            "heatmap_shape": list(heatmap_shape),
            "image_decoder": "libjpeg-turbo fast DCT, fancy upsampling (= tf.io.decode_jpeg), "
            "on read",
            "label_names": "ImageNet-1k (ClickMe.label_names)",
        }
    }


def _check_jpeg(data: bytes, shape: tuple[int, ...]) -> None:
    """Raise :class:`ConversionError` unless ``data`` is a JPEG header of ``shape``'s size."""
    import simplejpeg

    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError as exc:
        raise ConversionError(f"JPEG payload has no valid header ({exc})") from exc
    if (height, width) != shape[:2]:
        raise ConversionError(f"JPEG payload is {height}x{width}, expected {shape[0]}x{shape[1]}")


class JpegArray:
    """A bytes array of JPEGs read as a uint8 sample array: ``take`` decodes a batch.

    Decoding uses the raw layout's conversion settings (libjpeg-turbo fast
    DCT, fancy upsampling, as ``tf.io.decode_jpeg``), so pixels are identical
    to the raw layout's. A batch is split over a pool of threads of this
    process (created lazily per process, so forked workers get their own),
    each decoding straight into its slice of the output batch.

    Parameters
    ----------
    path
        The bytes array's directory.
    sample_shape
        ``(H, W, 3)`` for RGB, ``(H, W)`` for greyscale.
    """

    def __init__(self, path: str | os.PathLike[str], sample_shape: tuple[int, ...]) -> None:
        self.items = BytesArray(path)
        self.sample_shape = tuple(sample_shape)
        self.shape = (len(self.items), *self.sample_shape)
        self.dtype = np.dtype(np.uint8)

    def __len__(self) -> int:
        return len(self.items)

    def take(self, indices: Any, out: np.ndarray | None = None) -> np.ndarray:
        """Samples ``indices`` decoded and stacked on axis 0 (into ``out`` if given)."""
        payloads = self.items.take(indices)
        if out is None:
            out = empty_aligned((len(payloads), *self.sample_shape), np.uint8)
        threads = min(_decode_threads(), len(payloads))
        if threads <= 1:
            self._decode(payloads, out, 0, len(payloads))
            return out
        bounds = np.linspace(0, len(payloads), threads + 1).astype(int)
        pool = _POOL.get()
        jobs = [
            pool.submit(self._decode, payloads, out, int(a), int(b))
            for a, b in zip(bounds[:-1], bounds[1:])
        ]
        for job in jobs:
            job.result()
        return out

    def read(self) -> np.ndarray:
        """The whole array, decoded."""
        return self.take(np.arange(len(self)))

    def _decode(self, payloads: list[bytes], out: np.ndarray, start: int, stop: int) -> None:
        for slot in range(start, stop):
            try:
                _decode_jpeg(payloads[slot], out[slot], self.items.path.name)
            except ConversionError as exc:
                raise CorruptStoreError(
                    f"{self.items.path}: a stored JPEG does not decode ({exc}). Run "
                    f"`neural-datasets verify`, then `neural-datasets rm` and fetch again."
                ) from exc

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.items.path, "sample_shape": self.sample_shape}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["sample_shape"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"JpegArray({str(self.items.path)!r}, shape={self.shape})"


def _decode_threads() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(MAX_DECODE_THREADS, cores or 1)


class _DecodePool:
    """This process's decode threads, started on first use; a forked child starts its own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool: ThreadPoolExecutor | None = None

    def get(self) -> ThreadPoolExecutor:
        with self.lock:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(
                    _decode_threads(), thread_name_prefix="neural-datasets-jpeg"
                )
            return self.pool

    def forget(self) -> None:
        """In a forked child: the parent's threads and lock state did not come along."""
        self.lock, self.pool = threading.Lock(), None


_POOL = _DecodePool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.forget)
