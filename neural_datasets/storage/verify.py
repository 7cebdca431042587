"""``verify_store``: recompute every chunk checksum of a store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import CorruptStoreError
from .bytes_array import BytesArray, is_bytes_array
from .layout import CHECKSUM_GROUP, SAMPLES_PER_SHARD, read_attributes, sample_arrays
from .reader import open_sample_array, read_whole
from .writer import chunk_crc32c


def verify_store(
    store: Path,
    *,
    batch: int = SAMPLES_PER_SHARD,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Recompute every chunk checksum of ``store``; return a list of problems.

    An empty list means every sample of every sample array decodes and matches
    the crc32c recorded when the store was written. Each problem names the
    array, the sample indices and the shard file that holds them.

    Examples
    --------
    >>> from neural_datasets import fetch
    >>> verify_store(fetch("clickme-sample", progress=False))
    []
    """
    store = Path(store)
    problems: list[str] = []
    read_attributes(store)
    for name in sample_arrays(store):
        if is_bytes_array(store / name):  # compact layout: checked item by item on read
            problems += _verify_bytes_array(store / name, batch, progress)
            continue
        try:
            data = open_sample_array(store / name)
            expected = read_whole(store / CHECKSUM_GROUP / name)
        except Exception as exc:  # any damage to metadata is a finding, not a crash
            problems.append(f"{name}: cannot open ({exc})")
            continue
        shard = int(getattr(data, "per_shard", SAMPLES_PER_SHARD))
        for start in range(0, len(expected), batch):
            stop = min(start + batch, len(expected))
            where = _shard_file(store / name, start // shard)
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


def _shard_file(array_dir: Path, shard_index: int) -> Path:
    meta = json.loads((array_dir / "zarr.json").read_text())
    ndim = len(meta["shape"])
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
