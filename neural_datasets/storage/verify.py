"""``verify_store``: prove a store complete and every byte of it intact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptStoreError
from .bytes_array import BytesArray, is_bytes_array
from .layout import CHECKSUM_GROUP, SAMPLES_PER_SHARD, read_attributes, sample_arrays
from .manifest import manifest_problems, read_json
from .reader import open_sample_array, read_whole
from .writer import chunk_crc32c


def verify_store(
    store: Path,
    *,
    batch: int = SAMPLES_PER_SHARD,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Check that ``store`` is complete and intact; return a list of problems.

    An empty list means: the completion marker seals the checksum manifest;
    every file the manifest lists exists with its recorded size and crc32c,
    and no other file is present; every array has all its chunk files; every
    sample array has as many samples as its checksum sidecar, and they match
    the per-chunk crc32c recorded at conversion; per-source-file record counts
    in the root attributes (``records_per_file``) add up to the stored samples.
    Zarr *shards* are the store's files of many chunks; *source files* are the
    raw files a converter read.
    Each problem names the file or the samples affected.

    Examples
    --------
    >>> from neural_datasets import fetch
    >>> verify_store(fetch("clickme-sample", progress=False))
    []
    """
    store = Path(store)
    problems = manifest_problems(store)
    if problems and "incomplete" in problems[0]:
        return problems  # nothing else can be trusted without the seal
    try:
        attributes = read_attributes(store)
    except CorruptStoreError as exc:
        return [*problems, str(exc)]
    try:
        problems += _record_count_problems(store, attributes)
    except CorruptStoreError as exc:  # damaged metadata: a finding, not a crash
        problems.append(str(exc))
    for name in sample_arrays(store):
        if is_bytes_array(store / name):  # compact layout: checked item by item on read
            problems += _verify_bytes_array(store / name, batch, progress)
            continue
        problems += _chunk_problems(store, name, batch, progress)
    return list(dict.fromkeys(problems))  # one damaged file can trip several checks alike


def _chunk_problems(
    store: Path, name: str, batch: int, progress: Callable[[int], None] | None
) -> list[str]:
    """Per-sample crc32c of one sample array against its sidecar, naming bad samples."""
    try:
        data = open_sample_array(store / name)
        if hasattr(data, "check"):
            data.check = "off"  # compared below, to report every bad sample rather than the first
        expected = read_whole(store / CHECKSUM_GROUP / name)
    except Exception as exc:  # any damage to metadata is a finding, not a crash
        return [f"{name}: cannot open ({exc})"]
    if len(expected) != len(data):
        return [f"{name}: {len(data)} samples but {len(expected)} checksums"]
    problems = []
    per_zarr_shard = int(getattr(data, "per_shard", SAMPLES_PER_SHARD))
    for start in range(0, len(expected), batch):
        stop = min(start + batch, len(expected))
        where = _zarr_shard_file(store / name, start // per_zarr_shard)
        try:
            block = data.take(np.arange(start, stop))
        except Exception as exc:
            problems.append(f"{name}: samples {start}-{stop - 1} unreadable in {where} ({exc})")
        else:
            bad = np.flatnonzero(chunk_crc32c(block) != expected[start:stop]) + start
            if len(bad):
                problems.append(
                    f"{name}: samples {_ranges(bad)} fail their crc32c checksum ({where})"
                )
        if progress is not None:
            progress(stop - start)
    return problems


def sample_count(array: Path) -> int:
    """Samples of a sample array of either layout (fixed-size chunks, or ragged bytes)."""
    return len(BytesArray(array) if is_bytes_array(array) else open_sample_array(array))


def _record_count_problems(store: Path, attributes: dict[str, Any]) -> list[str]:
    """Compare each namespace's ``records_per_file`` with the samples the store holds.

    Converters that read several source files record how many records each
    held; their sum must be every sample array's length. When the namespace
    names a ``source_file_column`` (an array giving each sample's source file
    number), its counts must match file by file (an empty or dropped source
    file shows up here).
    """
    problems = []
    arrays = {name: sample_count(store / name) for name in sample_arrays(store)}
    for namespace, values in sorted(attributes.items()):
        counts = values.get("records_per_file") if isinstance(values, dict) else None
        if counts is None:
            continue
        total = int(sum(counts))
        for name, length in sorted(arrays.items()):
            if length != total:
                problems.append(
                    f"{name}: {length} samples, but {namespace}.records_per_file adds up to {total}"
                )
        column = values.get("source_file_column")
        if column is not None:
            try:
                found = np.bincount(read_whole(store / column), minlength=len(counts))
            except (CorruptStoreError, ValueError, OSError) as exc:
                problems.append(f"{column}: unreadable ({exc})")
                continue
            for index, (want, got) in enumerate(zip(counts, found.tolist())):
                if want != got:
                    problems.append(
                        f"source file {index}: {namespace}.records_per_file says {want} records, "
                        f"the store holds {got} samples from it"
                    )
    return problems


def _verify_bytes_array(
    path: Path, batch: int, progress: Callable[[int], None] | None
) -> list[str]:
    try:
        items = BytesArray(path)
    except Exception as exc:  # any damage to metadata is a finding, not a crash
        return [f"{path.name}: cannot open ({exc})"]
    problems = []
    for start in range(0, len(items), batch):
        stop = min(start + batch, len(items))
        try:
            items.take(np.arange(start, stop))
        except CorruptStoreError as exc:
            problems.append(f"{path.name}: items {start}-{stop - 1}: {exc}")
        if progress is not None:
            progress(stop - start)
    return problems


def _zarr_shard_file(array_dir: Path, shard_index: int) -> Path:
    """The file of the array's zarr shard ``shard_index`` (along the sample axis)."""
    ndim = len(read_json(array_dir / "zarr.json")["shape"])
    return array_dir.joinpath("c", str(shard_index), *(["0"] * (ndim - 1)))


def _ranges(indices: np.ndarray) -> str:
    out, start, prev = [], int(indices[0]), int(indices[0])
    for i in map(int, indices[1:]):
        if i != prev + 1:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = i
        prev = i
    out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(out)
