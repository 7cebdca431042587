"""Publish a sealed local store to an object store, and check a published one.

:func:`push_store` uploads every file a store's manifest lists, then the
manifest, then the completion marker, so the URL becomes a store that
:meth:`ClickMe.open <neural_datasets.ClickMe.open>` accepts only once every
object is in place; until then readers refuse it. It first removes the marker
of an earlier push, so a store being replaced is never read half-replaced. It
deletes nothing else: objects under the URL that the manifest does not list
(another store below that prefix, leftovers of an older store) are left in
place, counted in :attr:`PushReport.strays`, and listed by ``verify``; readers
never use them. It is resumable: an object already there
whose bytes match (its ETag is the local file's MD5, or else its crc32c
matches the manifest) is not uploaded again.

:func:`verify_remote_store` re-reads every object of a published store and
compares it with the manifest (sizes and crc32c), as ``verify`` does for a
local store.

Uploads go through tensorstore's kvstore drivers, the same code that reads
stores, so pushing adds no dependency (docs/scaling.md).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArgumentError
from .manifest import INTEGRITY_GROUP, MANIFEST_FILE, MARKER_FILE, read_manifest
from .remote import RemoteStore, StorageOptions

ENV_PUSH_JOBS = "NEURAL_DATASETS_PUSH_JOBS"
DEFAULT_PUSH_JOBS = 8


def push_jobs(jobs: int | None = None) -> int:
    """Uploads at once: ``jobs``, else ``$NEURAL_DATASETS_PUSH_JOBS``, else 8.

    Each upload holds one file (a shard: 64 samples, ~12 MiB for ClickMe) in
    memory, so this bounds memory as well as connections.

    Examples
    --------
    >>> push_jobs(3)
    3
    """
    text = os.environ.get(ENV_PUSH_JOBS, "").strip()
    if jobs is None and text and not text.isdigit():
        raise InvalidArgumentError(f"{ENV_PUSH_JOBS}={text!r} is not a number of parallel uploads")
    value = jobs if jobs is not None else (int(text) if text else DEFAULT_PUSH_JOBS)
    if value < 1:
        raise InvalidArgumentError(
            f"jobs must be a positive number of parallel uploads, got {value}"
        )
    return value


@dataclass(frozen=True)
class PushReport:
    """What :func:`push_store` did: objects uploaded, objects already in place, bytes sent,
    and objects under the URL that are not part of the store (left in place)."""

    uploaded: int
    skipped: int
    bytes_sent: int
    strays: int


def push_store(
    store: str | os.PathLike[str],
    url: str,
    *,
    storage_options: StorageOptions = None,
    jobs: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> PushReport:
    """Upload the sealed store at ``store`` to ``url``; the marker goes last.

    Parameters
    ----------
    store
        A published local store (its completion marker seals its manifest).
    url
        Where to publish it: ``s3://bucket/prefix/store.zarr`` (or ``gs://``).
    storage_options
        As :func:`~neural_datasets.storage.remote.s3_settings`.
    jobs
        Parallel uploads (:func:`push_jobs`).
    progress
        Called with the bytes of each file uploaded or found in place.

    Raises
    ------
    CorruptStoreError
        When the local store is not sealed.
    DownloadError
        When the object store refuses or does not answer (the message names
        the URL, the endpoint and what to set).
    """
    store = Path(store)
    workers = push_jobs(jobs)  # bad arguments are refused before the remote store is touched
    files = read_manifest(store)  # refuses an unsealed store before anything is sent
    remote = RemoteStore(url, storage_options)
    remote.write_bytes(MARKER_FILE, None)  # unsealed from here until the end
    # The root zarr.json first: an interrupted push then reads as "no completion marker".
    data_files = sorted(
        (f for f in files if not f.startswith(f"{INTEGRITY_GROUP}/")),
        key=lambda f: (f != "zarr.json", f),
    )
    # Never deleted: below a prefix they may be another store (s3://bucket/a and .../a/b).
    strays = remote.keys() - set(data_files) - {MANIFEST_FILE, MARKER_FILE}

    def send(relative: str) -> tuple[bool, int]:
        path = store / relative
        data = path.read_bytes()
        size, crc = files[relative]
        if len(data) != size:
            raise _changed(store, relative)
        if _in_place(remote, relative, data, crc):
            sent = False
        else:
            remote.write_bytes(relative, data)
            sent = True
        if progress is not None:
            progress(len(data))
        return sent, len(data) if sent else 0

    with ThreadPoolExecutor(workers, thread_name_prefix="neural-datasets-push") as pool:
        results = list(pool.map(send, data_files))
    for relative in (MANIFEST_FILE, MARKER_FILE):  # the manifest, then the seal: last
        remote.write_bytes(relative, (store / relative).read_bytes())
    uploaded = sum(sent for sent, _ in results)
    return PushReport(
        uploaded=uploaded,
        skipped=len(results) - uploaded,
        bytes_sent=sum(n for _, n in results),
        strays=len(strays),
    )


def _in_place(remote: RemoteStore, key: str, data: bytes, crc: int) -> bool:
    """Whether the object ``key`` already holds ``data``: by ETag when it is an MD5, else by
    reading it back and comparing its crc32c."""
    import google_crc32c

    etag = remote.etag(key)
    if etag is None:
        return False
    if etag == hashlib.md5(data, usedforsecurity=False).hexdigest():
        return True
    if len(etag) == 32 and all(c in "0123456789abcdef" for c in etag):
        return False  # an MD5 ETag that differs: the object holds other bytes
    found = remote.read_if_present(key)  # multipart or encrypted uploads: compare the bytes
    return found is not None and len(found) == len(data) and google_crc32c.value(found) == crc


def _changed(store: Path, relative: str) -> Exception:
    from ..errors import CorruptStoreError
    from .manifest import remedy

    return CorruptStoreError(
        f"{store / relative} changed since the store was sealed; refusing to push it. "
        f"{remedy(store)}"
    )


def verify_remote_store(
    url: str,
    *,
    storage_options: StorageOptions = None,
    jobs: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> list[str]:
    """Check a published remote store against its manifest; return the problems found.

    An empty list means: the completion marker seals the manifest, every
    object it lists exists with its recorded size and crc32c, and no other
    object is under the URL. Each problem names the object.

    Parameters
    ----------
    url
        The store's URL.
    storage_options
        As :func:`~neural_datasets.storage.remote.s3_settings`.
    jobs
        Objects read at once (:func:`push_jobs`).
    progress
        Called with 1 for each object checked.
    """
    import google_crc32c

    remote = RemoteStore(url, storage_options)
    problem = remote.seal_problem()
    if problem is not None:
        return [f"{problem}: the store is incomplete"]
    listed = remote.manifest()
    problems: list[str] = []
    if not url.startswith(("http://", "https://")):  # web servers cannot list
        extra = remote.keys() - set(listed) - {MANIFEST_FILE, MARKER_FILE}
        problems += [
            f"{key}: not covered by the checksum manifest (a stray object)" for key in sorted(extra)
        ]

    def check(item: tuple[str, list[int]]) -> str | None:
        key, (size, crc) = item
        data = remote.read_if_present(key)
        if progress is not None:
            progress(1)
        if data is None:
            return f"{key}: missing ({url}/{key})"
        if len(data) != size:
            return f"{key}: {len(data)} bytes, manifest says {size}"
        if google_crc32c.value(data) != crc:
            return f"{key}: fails its crc32c checksum ({url}/{key})"
        return None

    with ThreadPoolExecutor(push_jobs(jobs), thread_name_prefix="neural-datasets-verify") as pool:
        found = list(pool.map(check, sorted(listed.items())))
    return problems + [p for p in found if p is not None]
