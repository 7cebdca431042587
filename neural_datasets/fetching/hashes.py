"""Checksums: hashing files, pinned values, and trust-on-first-use records.

The ClickMe and IT files are published without checksums. The first download
of an unpinned file records its sha256 and size in the dataset's
``hashes.json``; every later download or conversion is verified against that
record. ``neural-datasets pin NAME`` prints the records as registry lines so a
maintainer can pin them in the dataset folder's ``checksums.tsv``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

from ..datasets.spec import DatasetSpec, RemoteFile
from ..errors import ChecksumMismatchError


class UnpinnedFileWarning(UserWarning):
    """A file was trusted on first use because the registry pins no checksum for it."""


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of the file at ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"abc")
    >>> file_sha256(p)[:12]
    'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


class HashRecords:
    """The trust-on-first-use records of one dataset, kept in ``hashes.json``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._records: dict[str, dict[str, Any]] = json.loads(path.read_text())
        except FileNotFoundError:
            self._records = {}
        except ValueError as exc:
            raise ChecksumMismatchError(
                f"The checksum records {path} are unreadable ({exc}). Delete that file to "
                f"trust the next download again, or remove the dataset with `neural-datasets rm`."
            ) from exc

    def get(self, relative: str) -> dict[str, Any] | None:
        return self._records.get(relative)

    def record(self, relative: str, sha256: str, size: int, url: str) -> None:
        """Record a first download and save atomically."""
        self._records[relative] = {
            "sha256": sha256,
            "size": size,
            "url": url,
            "recorded": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self._records, indent=1, sort_keys=True))
        os.replace(tmp, self.path)

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        return sorted(self._records.items())


def expected_checksum(
    remote: RemoteFile, records: HashRecords
) -> tuple[str | None, int | None, str]:
    """(sha256, size, where) the file must match: the pin, else the record, else nothing."""
    if remote.sha256:
        return remote.sha256, remote.size, "pinned in the registry"
    rec = records.get(remote.path)
    if rec:
        return rec["sha256"], rec.get("size"), f"recorded at first download ({records.path})"
    return None, None, ""


def check_file(
    path: Path,
    remote: RemoteFile,
    records: HashRecords,
    *,
    spec: DatasetSpec,
    url: str,
    quarantine: Path,
) -> str:
    """Verify ``path`` against the pinned or recorded checksum; return its sha256.

    An unpinned, unrecorded file is trusted: its checksum is recorded and an
    :class:`UnpinnedFileWarning` is issued. A mismatching file is moved into
    ``quarantine`` (kept for inspection, never used) and
    :class:`ChecksumMismatchError` says what to do.
    """
    actual = file_sha256(path)
    size = path.stat().st_size
    sha, expected_size, where = expected_checksum(remote, records)
    if sha is None:
        records.record(remote.path, actual, size, url)
        warnings.warn(
            f"{spec.name}: {remote.path} has no published checksum; trusting this first download "
            f"(sha256 {actual}, {size} bytes) and verifying against it from now on.",
            UnpinnedFileWarning,
            stacklevel=3,
        )
        return actual
    if actual != sha or (expected_size is not None and size != expected_size):
        moved = move_aside(path, quarantine)
        raise ChecksumMismatchError(
            f"{spec.name}: checksum mismatch for {remote.path} (downloaded from {url}).\n"
            f"  expected sha256 {sha} ({expected_size if expected_size is not None else '?'} "
            f"bytes), {where}\n"
            f"  actual   sha256 {actual} ({size} bytes)\n"
            f"The file was moved aside to {moved} and not used. Fetch again to re-download it; "
            f"if the mismatch persists the source or mirror changed: check --base-url, or delete "
            f"{records.path} to trust the new file."
        )
    return actual


def move_aside(path: Path, quarantine: Path) -> Path:
    """Move ``path`` into ``quarantine`` under a unique name and return the new path."""
    quarantine.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    target = quarantine / f"{path.name}.{stamp}.{os.getpid()}.bad"
    os.replace(path, target)
    return target


def pin_lines(spec: DatasetSpec, records: HashRecords) -> list[str]:
    """Registry lines ``<dataset> <path> <sha256> <size>`` for every recorded file."""
    return [f"{spec.name} {rel} {rec['sha256']} {rec['size']}" for rel, rec in records.items()]
