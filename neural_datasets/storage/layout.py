"""The zarr v3 store layout: groups, sample arrays, provenance attributes, publishing.

A store is a zarr v3 group on disk. It is built under a temporary name
(``<name>.zarr.building``) and only renamed to its final name once every array
is written, its attributes and chunk checksums are recorded, leftover
temporary files are removed, and every file is listed with its checksum in the
sealed manifest (:mod:`neural_datasets.storage.manifest`). A store is complete
only when that seal holds.

Layout choices (measured in BENCHMARKS.md): one sample per chunk, 64 chunks
per shard, uncompressed. blosc-lz4 saves 17 % of image bytes but halves
random-read speed; on heatmaps it saves 58 % of their bytes (14 % of a
sample's) but reads 4x slower, so ClickMe stores both raw. Per-chunk
crc32c checksums live in ``checksums/<array>`` sidecar arrays rather than in
the codec chain, where tensorstore's check halves random-read throughput;
``verify`` recomputes them. The shard index carries zarr's own crc32c.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import CorruptStoreError

FORMAT_VERSION = 1
SAMPLES_PER_SHARD = 64
CHECKSUM_GROUP = "checksums"
# Array attribute naming the array's per-chunk crc32c sidecar, relative to the array's folder.
CHECKSUM_ATTRIBUTE = "crc32c_sidecar"

Codec = str | None  # "lz4", "zstd" or None (uncompressed)


def _compressors(codec: Codec) -> Any:
    from zarr.codecs import BloscCodec, ZstdCodec

    if codec is None:
        return None
    if codec == "lz4":
        return [BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle")]
    if codec == "zstd":
        return [ZstdCodec(level=3)]
    raise ValueError(f"unknown codec {codec!r}; use 'lz4', 'zstd' or None")


def create_group(root: Path, attributes: dict[str, Any] | None = None) -> None:
    """Create (or reset the attributes of) the zarr v3 group at ``root``."""
    import zarr

    zarr.open_group(store=str(root), mode="a", zarr_format=3).attrs.update(attributes or {})


def create_sample_array(
    root: Path,
    name: str,
    *,
    shape: Sequence[int],
    dtype: str,
    dimension_names: Sequence[str],
    codec: Codec = None,
    samples_per_shard: int = SAMPLES_PER_SHARD,
    attributes: dict[str, Any] | None = None,
) -> None:
    """Create an array whose first axis is the sample axis, one sample per chunk.

    Chunks of one sample are grouped into shards of ``samples_per_shard``
    samples, so a random batch is a handful of shard-file reads. Sample arrays
    also get a ``checksums/<name>`` uint32 sidecar holding each chunk's crc32c.
    Re-creating an existing array (a resumed conversion) is a no-op. The
    array's ``crc32c_sidecar`` attribute names the sidecar, so readers that
    check chunks on read know where to find it.
    """
    import zarr

    path = root / name
    if (path / "zarr.json").exists():
        return
    shape = tuple(int(s) for s in shape)
    chunk = (1, *shape[1:])
    sidecar = {
        CHECKSUM_ATTRIBUTE: "/".join([".."] * (name.count("/") + 1) + [CHECKSUM_GROUP, name])
    }
    zarr.create_array(
        store=str(root),
        name=name,
        shape=shape,
        dtype=dtype,
        chunks=chunk,
        shards=(min(samples_per_shard, max(shape[0], 1)), *shape[1:]),
        compressors=_compressors(codec),
        fill_value=0,
        dimension_names=tuple(dimension_names),
        attributes={**(attributes or {}), **sidecar},
    )
    zarr.create_array(
        store=str(root),
        name=f"{CHECKSUM_GROUP}/{name}",
        shape=(shape[0],),
        dtype="uint32",
        chunks=(min(samples_per_shard, max(shape[0], 1)),),
        compressors=None,
        fill_value=0,
        dimension_names=(dimension_names[0],),
        attributes={"algorithm": "crc32c", "of": name, "per": "chunk (one sample)"},
    )


def _utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def standard_attributes(dataset: str, sources: dict[str, str]) -> dict[str, Any]:
    """Attributes every store carries: provenance and format version.

    ``sources`` maps each raw file's relative path to its sha256.
    """
    return {
        "neural_datasets": {
            "format_version": FORMAT_VERSION,
            "dataset": dataset,
            "software_version": __version__,
            "created": _utcnow(),
            "sources": sources,
        }
    }


def publish(building: Path, final: Path, attributes: dict[str, Any]) -> Path:
    """Record ``attributes``, seal the finished store's manifest and rename it to ``final``.

    Temporary files a killed or failed writer left behind are removed first,
    so nothing temporary is ever inside a published store; then every file is
    checksummed into the manifest, whose hash the completion marker seals
    (:func:`~neural_datasets.storage.manifest.seal`). The rename is atomic on
    POSIX file systems: readers see either no store or a complete one. A stale
    ``final`` (an older format, a failed verify) must be removed by the caller
    first.

    Raises
    ------
    CorruptStoreError
        When an array lacks one of its chunk files.
    """
    from .manifest import seal

    create_group(building, attributes)
    remove_temporaries(building)
    seal(building)
    os.replace(building, final)
    _fsync_dir(final.parent)
    return final


def is_temporary(name: str) -> bool:
    """True for the names writers give files before renaming them into place.

    Examples
    --------
    >>> is_temporary(".0.4242.tmp"), is_temporary("unit-3.npz.tmp.npz"), is_temporary("0")
    (True, True, False)
    """
    return name.startswith(".") or ".tmp" in name or name.endswith(".partial")


def remove_temporaries(root: Path) -> list[Path]:
    """Delete every temporary file (:func:`is_temporary`) under ``root``; return them."""
    removed = []
    for folder, _, files in os.walk(root):
        for name in files:
            if is_temporary(name):
                path = Path(folder, name)
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_attributes(store: Path) -> dict[str, Any]:
    """The root group's attributes, read straight from ``zarr.json``."""
    try:
        meta = json.loads((Path(store) / "zarr.json").read_text())
    except (OSError, ValueError) as exc:
        raise CorruptStoreError(
            f"{store} is not a readable zarr v3 store ({exc}). Remove it with "
            f"`neural-datasets rm` and fetch again."
        ) from exc
    return meta.get("attributes", {})


def require_format(attributes: dict[str, Any], store: Path) -> None:
    """Raise :class:`CorruptStoreError` unless ``attributes`` are of this version's store format."""
    found = attributes.get("neural_datasets", {}).get("format_version")
    if found != FORMAT_VERSION:
        raise CorruptStoreError(
            f"{store} is in store format {found!r}, this version of neural-datasets reads "
            f"format {FORMAT_VERSION}. Remove it with `neural-datasets rm` and fetch again."
        )


def sample_arrays(store: Path) -> list[str]:
    """Names of the arrays that have a chunk-checksum sidecar."""
    side = Path(store) / CHECKSUM_GROUP
    if not side.is_dir():
        return []
    return sorted(p.name for p in side.iterdir() if (p / "zarr.json").exists())
