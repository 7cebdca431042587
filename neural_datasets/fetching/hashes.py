"""Checksums: hashing files, pinned values, and trust-on-first-use records.

The ClickMe and IT files are published without checksums. The first download
of an unpinned file is validated (not an HTML page; TFRecord and zip CRCs),
then its sha256 and size are recorded in the dataset's ``hashes.json``; every
later download or conversion is verified against that record.
``neural-datasets pin NAME`` prints the records as registry lines so a
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
from ..errors import ChecksumMismatchError, InvalidFileError, option


class UnpinnedFileWarning(UserWarning):
    """A file was trusted on first use because the registry pins no checksum for it."""


class ReplacedRecordWarning(UserWarning):
    """A first-use record that was never format-validated gave way to a validated download."""


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

    def record(self, relative: str, sha256: str, size: int, url: str, *, validated: str) -> None:
        """Record a first download, whose format ``validated`` was checked, and save atomically."""
        self._records[relative] = {
            "sha256": sha256,
            "size": size,
            "url": url,
            "validated": validated,
            "recorded": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        self._save()

    def forget(self, relative: str) -> None:
        """Drop the record of ``relative`` (a bad first download) and save atomically."""
        if self._records.pop(relative, None) is not None:
            self._save()

    def _save(self) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        try:
            tmp.write_text(json.dumps(self._records, indent=1, sort_keys=True))
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

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

    A pinned file must match its pin. An unpinned file must first prove its
    format (:func:`~neural_datasets.formats.validate.format_problem`: not an
    HTML page, TFRecord framing and CRCs, zip CRCs); only then is it trusted
    on first use: its checksum is recorded and an
    :class:`UnpinnedFileWarning` is issued. Every file that fails is moved
    into ``quarantine`` (kept for inspection, never used) and the error says
    what happened and what to do: :class:`InvalidFileError` for a file of the
    wrong format (a recorded one also has its record forgotten, so the next
    download is validated afresh), :class:`ChecksumMismatchError` for a
    well-formed file with other content than the pin or record. A record
    made before downloads were validated (it has no ``validated`` entry)
    proves nothing, so a valid file that mismatches it replaces it, with a
    warning.
    """
    from ..formats.validate import format_problem

    actual = file_sha256(path)
    size = path.stat().st_size
    sha, expected_size, where = expected_checksum(remote, records)
    matches = actual == sha and (expected_size is None or size == expected_size)
    record = records.get(remote.path)
    if matches and (remote.sha256 or (record or {}).get("validated")):
        return actual  # the same bytes as a pinned or already validated file
    kind, problem = format_problem(path, spec.file_format)
    if problem is not None and not remote.sha256:
        moved = move_aside(path, quarantine)
        if sha is not None and matches:  # recorded before downloads were validated
            records.forget(remote.path)
            raise InvalidFileError(
                f"{spec.name}: {remote.path} matches the checksum recorded at its first download "
                f"but is not a valid {kind} file: {problem}. That first download was bad; its "
                f"record was forgotten and the file moved aside to {moved}. The next fetch "
                f"downloads it again from {url} and validates it before trusting it."
            )
        raise InvalidFileError(
            f"{spec.name}: {remote.path} downloaded from {url} is not a valid {kind} file: "
            f"{problem}. It was moved aside to {moved}"
            + ("" if sha else " and nothing was recorded")
            + f". Check your network (a captive portal or proxy?) and {option('base_url')}, then "
            "fetch again."
        )
    if sha is None:
        records.record(remote.path, actual, size, url, validated=kind)
        warnings.warn(
            f"{spec.name}: {remote.path} has no published checksum; trusting this first download "
            f"(a valid {kind} file, sha256 {actual}, {size} bytes) and verifying against it from "
            f"now on.",
            UnpinnedFileWarning,
            stacklevel=3,
        )
        return actual
    if matches:
        return actual
    if not remote.sha256 and record is not None and "validated" not in record:
        # Recorded by a version that trusted first downloads unvalidated (an HTML page, say):
        # such a record proves nothing, and a file that passes validation replaces it.
        records.record(remote.path, actual, size, url, validated=kind)
        warnings.warn(
            f"{spec.name}: {remote.path} does not match the checksum recorded at its first "
            f"download (sha256 {sha}), which was never validated; this download is a valid {kind} "
            f"file (sha256 {actual}, {size} bytes) and replaces that record.",
            ReplacedRecordWarning,
            stacklevel=3,
        )
        return actual
    moved = move_aside(path, quarantine)
    diagnosis = "" if problem is None else f"The download is not a valid {kind} file: {problem}. "
    if remote.sha256:
        advice = (
            "The registry pins this checksum, so the server or mirror served a different file: "
            f"check your network and {option('base_url')}, then fetch again. Deleting the "
            "cache's records "
            "does not change a pin; if the publisher changed the file, report it so the pin can "
            "be updated."
        )
    else:
        advice = (
            f"The source or mirror changed since the first download (the new file is a valid "
            f"{kind} file). Fetch again if the download may have been damaged; if the change is "
            f"expected, run `neural-datasets rm {spec.name}` (or delete the {remote.path!r} entry "
            f"of {records.path}) and fetch again to trust the new file."
        )
    raise ChecksumMismatchError(
        f"{spec.name}: checksum mismatch for {remote.path} (downloaded from {url}).\n"
        f"  expected sha256 {sha} ({expected_size if expected_size is not None else '?'} "
        f"bytes), {where}\n"
        f"  actual   sha256 {actual} ({size} bytes)\n"
        f"The file was moved aside to {moved} and not used. {diagnosis}{advice}"
    )


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
