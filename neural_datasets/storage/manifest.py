"""The checksum manifest of a published store, and the completion marker that seals it.

When a store is published, :func:`seal` lists **every** file under it (each
array's chunk and shard files, every ``zarr.json``, the checksum sidecars),
checks that every chunk or shard file its arrays' metadata calls for exists,
and records each file's size and crc32c in the manifest. The sha256 of the
manifest is then written into the completion marker. Both live in the store's
``integrity`` group, as zarr group attributes so that zarr and tensorstore see
an ordinary hierarchy::

    store.zarr/integrity/zarr.json            the manifest: {relative path: [size, crc32c]}
    store.zarr/integrity/complete/zarr.json   the marker: the manifest's sha256

A store is complete only when the marker is present and names the manifest's
current hash (:func:`is_sealed`, cheap enough for every ``fetch``).
:func:`manifest_problems` re-hashes every file and reports missing, changed and
unlisted ones (``verify``).

Examples
--------
>>> import neural_datasets as nd
>>> store = nd.fetch("clickme-sample", progress=False)
>>> is_sealed(store), manifest_problems(store)
(True, [])
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from itertools import product
from pathlib import Path
from typing import Any

from ..errors import CorruptStoreError

INTEGRITY_GROUP = "integrity"
MANIFEST_FILE = f"{INTEGRITY_GROUP}/zarr.json"
MARKER_FILE = f"{INTEGRITY_GROUP}/complete/zarr.json"
MANIFEST_VERSION = 1
_BLOCK = 4 << 20
# A store in a dataset's cache: store.zarr, store-<layout>.zarr, store[-<layout>]-first<K>.zarr
_STORE_NAME = re.compile(r"store(-[a-z]+)?(-first[0-9]+)?\.zarr")


def file_crc32c(path: Path) -> int:
    """crc32c of the file at ``path``, read in blocks.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"123456789")
    >>> hex(file_crc32c(p))
    '0xe3069283'
    """
    import google_crc32c

    crc = 0
    with open(path, "rb", buffering=0) as handle:
        while block := handle.read(_BLOCK):
            crc = google_crc32c.extend(crc, block)
    return crc


def store_files(store: Path) -> Iterator[str]:
    """Relative ``/``-separated paths of every file under ``store``, but the integrity records."""
    for folder, _, files in os.walk(store):
        for name in files:
            relative = Path(folder, name).relative_to(store).as_posix()
            if not relative.startswith(f"{INTEGRITY_GROUP}/"):
                yield relative


def expected_chunk_files(store: Path) -> dict[str, list[str]]:
    """For every array of ``store``: the chunk (or shard) files its metadata calls for.

    A store written by neural-datasets holds every one of them: writers write
    fill-valued chunks too, so a missing file is always damage, never zeros.
    """
    expected: dict[str, list[str]] = {}
    for relative in sorted(store_files(store)):
        if relative != "zarr.json" and not relative.endswith("/zarr.json"):
            continue
        meta = read_json(store / relative)
        if meta.get("node_type") != "array":
            continue
        folder = relative.removesuffix("zarr.json").rstrip("/")
        try:
            keys = chunk_keys(meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptStoreError(
                f"{store / relative} is not valid array metadata ({exc!r}). {remedy(store)}"
            ) from exc
        expected[folder] = [f"{folder}/{key}" for key in keys]
    return expected


def chunk_keys(meta: dict[str, Any]) -> list[str]:
    """The default-encoded keys (``c/i/j``) of every chunk of a zarr v3 array's ``meta``."""
    shape = [int(s) for s in meta["shape"]]
    grid = [int(s) for s in meta["chunk_grid"]["configuration"]["chunk_shape"]]
    encoding = meta.get("chunk_key_encoding", {})
    separator = encoding.get("configuration", {}).get("separator", "/")
    if encoding.get("name", "default") != "default":
        raise CorruptStoreError(f"unsupported chunk key encoding {encoding.get('name')!r}")
    counts = [-(-s // c) if c else 0 for s, c in zip(shape, grid)]
    if not shape:
        return ["c"]
    return [
        "c" + separator + separator.join(map(str, index))
        for index in product(*(range(n) for n in counts))
    ]


def remedy(path: Path) -> str:
    """What to do about damage at ``path``, naming the dataset when it is in a cache.

    Examples
    --------
    >>> import tempfile
    >>> store = Path(tempfile.mkdtemp()) / "clickme-val" / "store.zarr"
    >>> store.mkdir(parents=True)
    >>> remedy(store / "image/c/0/0/0/0")[:62]
    'The store is damaged: run `neural-datasets verify clickme-val`'
    >>> remedy(Path("/cache/clickme-train/store-compact-first2.zarr/label"))[:35]
    'The store /cache/clickme-train/stor'
    >>> remedy(Path("gs://bucket/clickme-val/store.zarr/label"))[:21]
    'The store is damaged:'
    """
    stores = [p for p in (Path(path), *Path(path).parents) if _STORE_NAME.fullmatch(p.name)]
    name = stores[0].parent.name if stores else "NAME"
    local = not re.match(r"[a-z][a-z0-9+.-]+:/", str(path))  # not gs://, s3://, https://
    if stores and local and not stores[0].exists():
        return (
            f"The store {stores[0]} is gone: it was removed while in use (`neural-datasets rm "
            f"{name}`?). Open the dataset again; that fetches it anew."
        )
    return (
        f"The store is damaged: run `neural-datasets verify {name}` to list what is wrong, then "
        f"`neural-datasets rm {name}` and fetch it again."
    )


def read_json(path: Path) -> dict[str, Any]:
    """A JSON metadata file, or :class:`CorruptStoreError` naming it and the fix."""
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise CorruptStoreError(f"{path} is missing. {remedy(path)}") from exc
    except (OSError, ValueError) as exc:
        raise CorruptStoreError(f"{path} is unreadable ({exc}). {remedy(path)}") from exc
    if not isinstance(value, dict):
        raise CorruptStoreError(f"{path} does not hold a JSON object. {remedy(path)}")
    return value


def seal(store: Path, progress: Callable[[int], None] | None = None) -> int:
    """Write the manifest of every file under ``store``, then the marker; return the file count.

    Raises
    ------
    CorruptStoreError
        When an array lacks one of its chunk files (a conversion that did not
        write everything must not be published).
    """
    store = Path(store)
    files = set(store_files(store))
    for array, keys in expected_chunk_files(store).items():
        missing = [key for key in keys if key not in files]
        if missing:
            raise CorruptStoreError(
                f"{store}: array {array!r} lacks {len(missing)} of its {len(keys)} chunk files "
                f"(e.g. {missing[0]}); refusing to publish an incomplete store."
            )
    entries: dict[str, list[int]] = {}
    for relative in sorted(files):
        path = store / relative
        entries[relative] = [path.stat().st_size, file_crc32c(path)]
        if progress is not None:
            progress(1)
    manifest = {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": {
            "neural_datasets_manifest": {
                "version": MANIFEST_VERSION,
                "algorithm": "crc32c",
                "files": entries,
            }
        },
    }
    _write_atomically(store / MANIFEST_FILE, json.dumps(manifest, sort_keys=True).encode())
    marker = {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": {
            "neural_datasets_complete": {
                "manifest_sha256": hashlib.sha256((store / MANIFEST_FILE).read_bytes()).hexdigest(),
                "files": len(entries),
                "sealed": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            }
        },
    }
    _write_atomically(store / MARKER_FILE, json.dumps(marker, indent=1).encode())
    return len(entries)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def seal_problem(store: Path) -> str | None:
    """Why ``store`` is not a complete, sealed store; ``None`` when it is."""
    store = Path(store)
    marker_path, manifest_path = store / MARKER_FILE, store / MANIFEST_FILE
    if not (store / "zarr.json").is_file():
        return f"{store} has no root zarr.json"
    if not marker_path.is_file():
        return f"{store} has no completion marker ({MARKER_FILE}): it was never fully published"
    if not manifest_path.is_file():
        return f"{store} has no checksum manifest ({MANIFEST_FILE})"
    try:
        sealed = json.loads(marker_path.read_bytes())["attributes"]["neural_datasets_complete"]
        expected = sealed["manifest_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{store}: its completion marker {MARKER_FILE} is unreadable ({exc})"
    if hashlib.sha256(manifest_path.read_bytes()).hexdigest() != expected:
        return (
            f"{store}: its checksum manifest {MANIFEST_FILE} does not match its completion marker"
        )
    return None


def is_sealed(store: Path) -> bool:
    """True when ``store`` holds a completion marker sealing its current manifest."""
    return seal_problem(store) is None


def read_manifest(store: Path) -> dict[str, list[int]]:
    """``{relative path: [size, crc32c]}`` of a sealed store."""
    problem = seal_problem(store)
    if problem is not None:
        raise CorruptStoreError(f"{problem}. {remedy(Path(store))}")
    meta = read_json(Path(store) / MANIFEST_FILE)
    files: dict[str, list[int]] = meta["attributes"]["neural_datasets_manifest"]["files"]
    return files


def missing_files(store: Path) -> list[str]:
    """The files the manifest of the sealed ``store`` lists that are gone (a stat each, no hash).

    Cheap enough for every ``fetch``: a store whose files were deleted after
    publication is noticed there, not at the first read.
    """
    store = Path(store)
    return sorted(path for path in read_manifest(store) if not (store / path).is_file())


def manifest_problems(store: Path, progress: Callable[[int], None] | None = None) -> list[str]:
    """Re-hash every file of ``store`` against its manifest; return the problems found.

    Reports a missing or unsealed manifest, files missing or changed since
    publication, files the manifest does not list (temporaries, strays), and
    arrays lacking chunk files.
    """
    store = Path(store)
    problem = seal_problem(store)
    if problem is not None:
        return [f"{problem}: the store is incomplete"]
    listed = read_manifest(store)
    problems: list[str] = []
    present = set(store_files(store))
    for relative in sorted(present - set(listed)):
        problems.append(f"{relative}: not covered by the checksum manifest (a stray file)")
    for relative, (size, crc) in sorted(listed.items()):
        path = store / relative
        if relative not in present:
            problems.append(f"{relative}: missing ({path})")
        elif path.stat().st_size != size:
            problems.append(f"{relative}: {path.stat().st_size} bytes, manifest says {size}")
        elif file_crc32c(path) != crc:
            problems.append(f"{relative}: fails its crc32c checksum ({path})")
        if progress is not None:
            progress(1)
    try:
        arrays = expected_chunk_files(store)
    except CorruptStoreError as exc:
        return [*problems, str(exc)]
    for array, keys in arrays.items():
        unlisted = [key for key in keys if key not in listed]
        if unlisted:
            problems.append(
                f"{array}: {len(unlisted)} of its {len(keys)} chunk files are not in the manifest "
                f"(e.g. {unlisted[0]})"
            )
    return problems
