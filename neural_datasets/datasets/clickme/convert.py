"""ClickMe TFRecord shards -> zarr v3 store, decoded by threads in the calling process.

The JPEG decoder (libjpeg-turbo through simplejpeg) releases the GIL, so a
pool of threads decodes at the speed of as many cores as it has threads, with
no worker processes: nothing re-imports the user's ``__main__``, and the
conversion works the same from a script without a ``__main__`` guard,
``python -c``, a notebook, a DataLoader worker or a DDP rank
(scripts/bench/bench_convert.py measures it against the decode limit).

The conversion is planned from each source's sha256 and a framing-only scan
that gives every record's byte offset. Output samples are split into units of
whole zarr shards, each written by one thread. A unit marks itself done, with
the sha256 and record range of every source it was read from, only after its
data and checksums are written: a killed conversion resumes with the units
whose mark is missing or names other sources, so a source that changed in
between is converted again and never mixed with the old one.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConversionError, CorruptRecordError
from ...fetching.hashes import file_sha256
from ...formats.tfrecord import index_records, read_record
from ...storage import layout, writer
from ..spec import DatasetSpec, Feature
from .records import decode_clickme_example

IMAGE_SHAPE = (256, 256, 3)
HEATMAP_SHAPE = (256, 256)
"""ClickMe's own sizes; a spec of the family may declare others in its features."""
SHARDS_PER_UNIT = 2
# Each thread holds one unit (128 samples, 34 MB); past 16 threads (~50,000 samples/s of
# decoding) the raw layout's 262 KB/sample of writes saturate any disk.
MAX_THREADS = 16
PROGRESS_DIR = "_progress"


@dataclass(frozen=True)
class ShardScan:
    """One input shard: its name in the dataset, path, sha256 and record positions."""

    name: str
    path: Path
    sha256: str
    records: np.ndarray  # (n, 2) int64: byte offset and length of each record's data


def convert(
    spec: DatasetSpec,
    raw_files: dict[str, Path],
    building: Path,
    *,
    progress: bool = True,
    workers: int | None = None,
) -> dict[str, Any]:
    """Convert ClickMe shards (in registry order) into the zarr group ``building``.

    Arrays: ``image`` uint8 (sample, y, x, channel), ``heatmap`` uint8
    (sample, y, x), ``label`` int64, ``source_shard`` int32 and
    ``source_record`` int32 (where each sample came from), plus per-chunk
    crc32c sidecars. Every record is validated (label in 0..999, image
    256x256 RGB, heatmap 256x256); a bad record stops the conversion with a
    :class:`ConversionError` naming its shard and record. Returns the
    ``clickme`` root attributes, with each shard's record count.

    ``workers`` threads decode (default: the CPUs this process may use, at most 16).
    """
    workers = max(1, workers or min(_usable_cpus(), MAX_THREADS))
    plan = _plan([(remote.path, raw_files[remote.path]) for remote in spec.files], workers)
    for remote, source in zip(spec.files, plan):
        if remote.sha256 and remote.sha256 != source.sha256:
            raise ConversionError(
                f"{spec.name}: {source.path} changed after it was checked (sha256 {source.sha256}"
                f", expected {remote.sha256}). Something else is writing to it: stop that, then "
                f"call again."
            )
    empty = [source.name for source in plan if len(source.records) == 0]
    if empty:
        raise ConversionError(
            f"{spec.name}: {empty[0]} holds no records ({len(empty)} of {len(plan)} shards are "
            f"empty). A ClickMe shard is never empty: the file is truncated or not the right "
            f"one. Remove it with `neural-datasets rm {spec.name}` and fetch again."
        )
    total = int(sum(len(source.records) for source in plan))
    _prepare(building, total, *picture_shapes(spec))
    units = _units(plan, total)
    pending = [unit for unit in units if not unit.is_done(building)]
    _run_units(building, plan, pending, total, progress, workers, spec)
    _write_columns(building, units)
    shutil.rmtree(building / PROGRESS_DIR)
    return {
        "clickme": {
            "split": spec.split,
            "num_samples": total,
            "source_files": [source.name for source in plan],
            "records_per_file": [len(source.records) for source in plan],
            "source_file_column": "source_shard",
            "image_decoder": "libjpeg-turbo fast DCT, fancy upsampling (= tf.io.decode_jpeg)",
            "label_names": "ImageNet-1k (ClickMe.label_names)",
        }
    }


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _plan(named_paths: list[tuple[str, Path]], workers: int) -> list[ShardScan]:
    """Hash and index every source, in threads (hashlib and pread release the GIL)."""

    def scan(item: tuple[str, Path]) -> ShardScan:
        name, path = item
        return ShardScan(name, path, file_sha256(path), index_records(path))

    with ThreadPoolExecutor(workers, thread_name_prefix="clickme-plan") as pool:
        return list(pool.map(scan, named_paths))


def picture_shapes(spec: DatasetSpec) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The image ``(H, W, 3)`` and heatmap ``(H, W)`` shapes ``spec`` declares.

    Examples
    --------
    >>> from neural_datasets.registry import get_spec
    >>> picture_shapes(get_spec("clickme-sample"))
    ((256, 256, 3), (256, 256))
    """
    shapes = []
    for name in ("image", "heatmap"):
        shape = spec.feature(name).shape
        if any(n is None for n in shape):
            raise ConversionError(f"{spec.name}: its {name} feature must declare its size")
        shapes.append(tuple(int(n) for n in shape if n is not None))
    return shapes[0], shapes[1]


def _prepare(
    building: Path, total: int, image_shape: tuple[int, ...], heatmap_shape: tuple[int, ...]
) -> None:
    """Create the arrays, first emptying a leftover partial store of another size or format."""
    signature = {
        "format": layout.FORMAT_VERSION,
        "samples": total,
        "unit": SHARDS_PER_UNIT,
        "image": list(image_shape),
        "heatmap": list(heatmap_shape),
    }
    marker = building / PROGRESS_DIR / "layout.json"
    if not (marker.is_file() and json.loads(marker.read_text()) == signature):
        for child in building.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        marker.parent.mkdir(parents=True)
        marker.write_text(json.dumps(signature))
    layout.create_group(building)
    dims = ("sample", "y", "x")
    layout.create_sample_array(
        building,
        "image",
        shape=(total, *image_shape),
        dtype="uint8",
        dimension_names=(*dims, "channel"),
    )
    layout.create_sample_array(
        building, "heatmap", shape=(total, *heatmap_shape), dtype="uint8", dimension_names=dims
    )


@dataclass(frozen=True)
class Unit:
    """Output samples ``first:stop`` (whole zarr shards), converted and marked done together."""

    number: int
    first: int
    stop: int
    shards: tuple[tuple[str, str, int, int], ...]  # (sha256, name, first record, stop record)

    def mark(self, building: Path) -> Path:
        return building / PROGRESS_DIR / f"unit-{self.number}.json"

    def columns(self, building: Path) -> Path:
        return building / PROGRESS_DIR / f"unit-{self.number}.npz"

    def is_done(self, building: Path) -> bool:
        """Done from exactly these sources (same sha256 and record range), columns saved."""
        try:
            recorded = json.loads(self.mark(building).read_text())
        except (OSError, ValueError):
            return False
        return recorded == [list(s) for s in self.shards] and self.columns(building).is_file()


def _units(plan: list[ShardScan], total: int) -> list[Unit]:
    unit_size = layout.SAMPLES_PER_SHARD * SHARDS_PER_UNIT
    starts = np.cumsum([0] + [len(source.records) for source in plan])
    units = []
    for number, first in enumerate(range(0, total, unit_size)):
        stop = min(first + unit_size, total)
        shards = tuple(
            (source.sha256, source.name, max(first, int(a)) - int(a), min(stop, int(b)) - int(a))
            for source, a, b in zip(plan, starts[:-1], starts[1:])
            if b > first and a < stop
        )
        units.append(Unit(number, first, stop, shards))
    return units


def _run_units(
    building: Path,
    plan: list[ShardScan],
    units: list[Unit],
    total: int,
    progress: bool,
    workers: int,
    spec: DatasetSpec,
) -> None:
    """Convert ``units`` with ``workers`` threads; the first failure stops them all."""
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        initial=total - sum(unit.stop - unit.first for unit in units),
        unit="sample",
        desc=f"{spec.name}: converting",
        disable=not progress,
        leave=False,
    )
    stop = threading.Event()
    by_name = {source.name: source for source in plan}
    with bar:
        if workers == 1 or len(units) < 2:
            for unit in units:
                bar.update(_convert_unit(building, by_name, unit, stop, spec))
            return
        pool = ThreadPoolExecutor(min(workers, len(units)), thread_name_prefix="clickme-convert")
        try:
            futures = [pool.submit(_convert_unit, building, by_name, u, stop, spec) for u in units]
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_EXCEPTION)
                for future in done:
                    bar.update(future.result())  # raises the unit's error: stop the others
        finally:
            stop.set()  # running units stop at their next record; queued ones never start
            pool.shutdown(wait=True, cancel_futures=True)


class _Stopped(Exception):
    """Another unit failed; this one stops without marking itself done."""


def _convert_unit(
    building: Path,
    scans: dict[str, ShardScan],
    unit: Unit,
    stop: threading.Event,
    spec: DatasetSpec,
) -> int:
    """Decode, validate and write the samples of one unit; return how many."""
    name, label_feature = spec.name, spec.feature("label")
    image_shape, heatmap_shape = picture_shapes(spec)
    n = unit.stop - unit.first
    images = np.empty((n, *image_shape), np.uint8)
    heatmaps = np.empty((n, *heatmap_shape), np.uint8)
    labels = np.empty(n, np.int64)
    shard_of = np.empty(n, np.int32)
    record_of = np.empty(n, np.int32)
    number_of = {source_name: i for i, source_name in enumerate(scans)}
    i = 0
    with ExitStack() as stack:
        for _sha, source_name, first, end in unit.shards:
            source = scans[source_name]
            handle = stack.enter_context(open(source.path, "rb"))
            for record in range(first, end):
                if stop.is_set():
                    raise _Stopped
                offset, length = source.records[record]
                try:
                    data = read_record(handle, int(offset), int(length), index=record)
                    labels[i] = _decode_record(data, images[i], heatmaps[i], label_feature)
                except (CorruptRecordError, ConversionError) as exc:
                    raise ConversionError(
                        f"{name}: cannot convert {source.name}, record {record} (data at byte "
                        f"{int(offset)}): {exc}. The shard passed its checksum, so the file "
                        f"itself is bad: if it was trusted on first use (not pinned), remove the "
                        f"dataset with `neural-datasets rm {name}` and fetch again. Units "
                        f"already converted are kept; the next call resumes."
                    ) from exc
                shard_of[i], record_of[i] = number_of[source_name], record
                i += 1
    writer.write_samples(building, "image", unit.first, images)
    writer.write_samples(building, "heatmap", unit.first, heatmaps)
    columns: dict[str, np.ndarray] = {
        "label": labels,
        "source_shard": shard_of,
        "source_record": record_of,
    }
    _save_atomically(unit.columns(building), columns)
    _write_atomically(unit.mark(building), json.dumps([list(s) for s in unit.shards]))
    return n


def _decode_record(
    data: bytes, image: np.ndarray, heatmap: np.ndarray, label_feature: Feature
) -> int:
    """Decode one record into ``image`` and ``heatmap`` (views of the unit's arrays); its label.

    The label must lie in the spec's declared range (``label_feature``).
    """
    image_jpeg, heatmap_jpeg, label = decode_clickme_example(data)
    label_feature.check_range(label)
    _decode_jpeg(image_jpeg, image, "image")
    _decode_jpeg(heatmap_jpeg, heatmap, "heatmap")
    return label


def _save_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_columns(building: Path, units: list[Unit]) -> None:
    """Assemble the per-unit label and provenance columns into whole arrays."""
    parts = [np.load(unit.columns(building)) for unit in units]
    for name, dtype in (
        ("label", np.int64),
        ("source_shard", np.int32),
        ("source_record", np.int32),
    ):
        column = np.concatenate([part[name] for part in parts]).astype(dtype)
        writer.write_array(building, name, column, dimension_names=("sample",))


def _decode_jpeg(data: bytes, out: np.ndarray, what: str) -> None:
    """Decode into ``out`` exactly like ``tf.io.decode_jpeg(data, channels=3 or 1)``.

    TensorFlow's default decoder uses libjpeg-turbo's fast integer DCT with
    fancy upsampling; Pillow's accurate DCT differs from it by up to 8 levels.
    simplejpeg with the same settings reproduces TensorFlow's pixels exactly
    (tests/fetching/test_fetch.py), so the store holds what Harmonization sees.
    It releases the GIL while decoding, which is what lets threads scale.
    """
    import simplejpeg

    colorspace = "RGB" if out.ndim == 3 else "GRAY"
    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
        if (height, width) != out.shape[:2]:
            raise ConversionError(
                f"the {what} is {height}x{width} pixels, expected {out.shape[0]}x{out.shape[1]}"
            )
        simplejpeg.decode_jpeg(
            data, colorspace=colorspace, fastdct=True, fastupsample=False, buffer=out
        )
    except ValueError as exc:
        raise ConversionError(f"the {what} JPEG does not decode ({exc})") from exc
