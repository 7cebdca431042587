"""ClickMe TFRecord shards -> zarr v3 store.

The conversion is planned from a cheap framing-only scan of every shard, which
gives each record's byte offset. Output samples are then split into units of
whole zarr shards, so each output file is written by exactly one process, and
units run in parallel worker processes. A unit marks itself done only after
its data and checksums are written: a killed conversion resumes with the
units that have no mark. Memory stays bounded by one unit's samples per worker.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConversionError, CorruptRecordError
from ...formats.tfrecord import decode_clickme_example, index_records, read_record
from ...storage import layout, writer
from ..spec import DatasetSpec

IMAGE_SHAPE = (256, 256, 3)
HEATMAP_SHAPE = (256, 256)
SHARDS_PER_UNIT = 2
PROGRESS_DIR = "_progress"


def convert(
    spec: DatasetSpec,
    sources: dict[str, Path],
    building: Path,
    *,
    progress: bool = True,
    workers: int | None = None,
) -> dict[str, Any]:
    """Convert ClickMe shards (in registry order) into the zarr group ``building``.

    Arrays: ``image`` uint8 (sample, y, x, channel), ``heatmap`` uint8
    (sample, y, x), ``label`` int64, ``source_shard`` int32 and
    ``source_record`` int32 (where each sample came from), plus per-chunk
    crc32c sidecars. Returns the ``clickme`` root attributes.
    """
    paths = [sources[remote.path] for remote in spec.files]
    names = [remote.path for remote in spec.files]
    plan = _plan(paths)
    total = int(sum(len(ix) for ix in plan))
    _reset_if_stale(building, names, plan)
    if total == 0:
        raise ConversionError(f"{spec.name}: the TFRecord shards hold no records.")
    _create_arrays(building, total)
    units = _pending_units(building, total)
    _run_units(building, paths, plan, units, total, progress, workers, spec.name)
    _write_columns(building, total)
    shutil.rmtree(building / PROGRESS_DIR)
    return {
        "clickme": {
            "split": spec.split,
            "num_samples": total,
            "source_files": names,
            "records_per_file": [len(ix) for ix in plan],
            "image_decoder": "libjpeg-turbo fast DCT, fancy upsampling (= tf.io.decode_jpeg)",
            "label_names": "ImageNet-1k (ClickMe.label_names)",
        }
    }


def _plan(paths: list[Path]) -> list[np.ndarray]:
    return [index_records(p) for p in paths]


def _reset_if_stale(building: Path, names: list[str], plan: list[np.ndarray]) -> None:
    """Start over when a leftover partial store was planned from other files."""
    signature = {
        "files": names,
        "records": [len(ix) for ix in plan],
        "format": layout.FORMAT_VERSION,
    }
    marker = building / PROGRESS_DIR / "plan.json"
    if marker.is_file() and json.loads(marker.read_text()) == signature:
        return
    for child in building.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps(signature))


def _create_arrays(building: Path, total: int) -> None:
    layout.create_group(building)
    dims = ("sample", "y", "x")
    layout.create_sample_array(
        building,
        "image",
        shape=(total, *IMAGE_SHAPE),
        dtype="uint8",
        dimension_names=(*dims, "channel"),
    )
    layout.create_sample_array(
        building, "heatmap", shape=(total, *HEATMAP_SHAPE), dtype="uint8", dimension_names=dims
    )


def _pending_units(building: Path, total: int) -> list[int]:
    unit_size = layout.SAMPLES_PER_SHARD * SHARDS_PER_UNIT
    done = building / PROGRESS_DIR
    return [u for u in range(-(-total // unit_size)) if not (done / f"unit-{u}.done").exists()]


def _run_units(
    building: Path,
    paths: list[Path],
    plan: list[np.ndarray],
    units: list[int],
    total: int,
    progress: bool,
    workers: int | None,
    name: str,
) -> None:
    from tqdm.auto import tqdm

    unit_size = layout.SAMPLES_PER_SHARD * SHARDS_PER_UNIT
    done_before = total - sum(min(unit_size, total - u * unit_size) for u in units)
    workers = min(workers or os.cpu_count() or 1, len(units)) if units else 0
    bar = tqdm(
        total=total,
        initial=done_before,
        unit="sample",
        desc=f"{name}: converting",
        disable=not progress,
        leave=False,
    )
    with bar:
        if workers <= 1:
            for unit in units:
                bar.update(_convert_unit(building, paths, plan, unit))
            return
        context = multiprocessing.get_context("spawn")  # children must not inherit threads
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with_parent) as pool:
            pending = {pool.submit(_convert_unit, building, paths, plan, u) for u in units}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    bar.update(future.result())


def _die_with_parent() -> None:
    """Workers must not outlive a killed conversion and race its successor's writes."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _convert_unit(building: Path, paths: list[Path], plan: list[np.ndarray], unit: int) -> int:
    """Decode and write the samples of one unit; return how many."""
    unit_size = layout.SAMPLES_PER_SHARD * SHARDS_PER_UNIT
    counts = np.array([len(ix) for ix in plan])
    starts = np.concatenate([[0], np.cumsum(counts)])
    first, stop = unit * unit_size, min((unit + 1) * unit_size, int(starts[-1]))
    n = stop - first
    images = np.empty((n, *IMAGE_SHAPE), np.uint8)
    heatmaps = np.empty((n, *HEATMAP_SHAPE), np.uint8)
    labels = np.empty(n, np.int64)
    shard_of = np.searchsorted(starts, np.arange(first, stop), side="right") - 1
    record_of = np.arange(first, stop) - starts[shard_of]
    with ExitStack() as stack:
        handles: dict[int, Any] = {}
        for i, (shard, record) in enumerate(zip(shard_of.tolist(), record_of.tolist())):
            if shard not in handles:
                handles[shard] = stack.enter_context(open(paths[shard], "rb"))
            offset, length = plan[shard][record]
            data = read_record(handles[shard], int(offset), int(length), index=record)
            try:
                image, heatmap, labels[i] = decode_clickme_example(data)
                images[i] = _decode_jpeg(image, IMAGE_SHAPE)
                heatmaps[i] = _decode_jpeg(heatmap, HEATMAP_SHAPE)
            except (CorruptRecordError, ConversionError) as exc:
                raise ConversionError(
                    f"{paths[shard].name}, record {record} (byte offset {offset}): {exc}"
                ) from exc
    writer.write_samples(building, "image", first, images)
    writer.write_samples(building, "heatmap", first, heatmaps)
    columns = {"label": labels, "source_shard": shard_of, "source_record": record_of}
    _save_atomically(building / PROGRESS_DIR / f"unit-{unit}.npz", columns)
    (building / PROGRESS_DIR / f"unit-{unit}.done").touch()
    return n


def _save_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _write_columns(building: Path, total: int) -> None:
    """Assemble the per-unit label and provenance columns into whole arrays."""
    unit_size = layout.SAMPLES_PER_SHARD * SHARDS_PER_UNIT
    parts = [
        np.load(building / PROGRESS_DIR / f"unit-{u}.npz") for u in range(-(-total // unit_size))
    ]
    for name, dtype in (
        ("label", np.int64),
        ("source_shard", np.int32),
        ("source_record", np.int32),
    ):
        column = np.concatenate([part[name] for part in parts]).astype(dtype)
        writer.write_array(building, name, column, dimension_names=("sample",))


def _decode_jpeg(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """Decode exactly like ``tf.io.decode_jpeg(data, channels=shape[-1] or 1)``.

    TensorFlow's default decoder uses libjpeg-turbo's fast integer DCT with
    fancy upsampling; Pillow's accurate DCT differs from it by up to 8 levels.
    simplejpeg with the same settings reproduces TensorFlow's pixels exactly
    (tests/datasets/clickme/test_convert.py), so the store holds what Harmonization sees.
    """
    import simplejpeg

    colorspace = "RGB" if len(shape) == 3 else "GRAY"
    try:
        array = simplejpeg.decode_jpeg(
            data, colorspace=colorspace, fastdct=True, fastupsample=False
        )
    except ValueError as exc:
        raise ConversionError(f"JPEG payload does not decode ({exc})") from exc
    array = array.reshape(array.shape[:2]) if colorspace == "GRAY" else array
    if array.shape != shape:
        raise ConversionError(f"decoded to shape {array.shape}, expected {shape}")
    return array
