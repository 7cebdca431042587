"""Is a downloaded file what its name says? Checked before its checksum is trusted.

Trust on first use records whatever the first download returned, so that
download must first prove its format: an HTML page (a captive portal, a wrong
mirror, an error page served with ``200 OK``) is never a data file; a TFRecord
file must frame and checksum every record; a zip archive must pass every
member's CRC-32. The format is the one the dataset declares
(``DatasetSpec.file_format``), else taken from the file name (``.tfrecords``,
``.tfrecord``, ``.zip``) or, for names without an extension (as in the Keras
cache), from the file's first bytes.

Examples
--------
>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "page").write_bytes(b"<!DOCTYPE html><html><body>Sign in</body></html>")
>>> format_problem(folder / "page")
('data', 'it is an HTML page (a captive portal, login or error page?), not data')
>>> from neural_datasets.formats.tfrecord import write_records
>>> _ = write_records(folder / "a.tfrecords", [b"ab", b"cde"])
>>> format_problem(folder / "a.tfrecords")
('TFRecord', None)
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from pathlib import Path

from ..errors import CorruptRecordError
from .tfrecord import iter_records, masked_crc32c

TFRECORD_SUFFIXES = (".tfrecords", ".tfrecord")
FORMATS = ("TFRecord", "zip", "data")
"""The formats checked: TFRecord framing, zip CRCs, and ``data`` (only: not an HTML page)."""
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<!--")
_SNIFF_BYTES = 512


def detect_format(path: Path) -> str:
    """``"TFRecord"``, ``"zip"`` or ``"data"`` (no format check beyond not-HTML) for ``path``.

    Examples
    --------
    >>> detect_format(Path("val/val-0.tfrecords")), detect_format(Path("recordings.zip"))
    ('TFRecord', 'zip')
    """
    suffix = path.suffix.lower()
    if suffix in TFRECORD_SUFFIXES:
        return "TFRecord"
    if suffix == ".zip":
        return "zip"
    if suffix:
        return "data"
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return "data"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if len(head) == 12:
        length, crc = struct.unpack("<QI", head)
        if masked_crc32c(head[:8]) == crc:
            return "TFRecord"
    return "data"


def is_html(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes) is the start of an HTML or XML page.

    Examples
    --------
    >>> is_html(b"  \\n<HTML lang=en>"), is_html(b"\\x00\\x01binary")
    (True, False)
    """
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return text.startswith(_HTML_STARTS)


def format_problem(path: Path, kind: str | None = None) -> tuple[str, str | None]:
    """Validate ``path`` as ``kind`` (one of :data:`FORMATS`; default: :func:`detect_format`).

    Returns the format and what is wrong with the file (``None`` when valid).
    Reads the whole file for TFRecord and zip files (every CRC is checked).
    """
    path = Path(path)
    if kind is not None and kind not in FORMATS:
        raise ValueError(f"kind={kind!r}: expected one of {', '.join(FORMATS)}")
    kind = kind or detect_format(path)
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if is_html(head):
        return kind, "it is an HTML page (a captive portal, login or error page?), not data"
    if kind == "TFRecord":
        return kind, _tfrecord_problem(path)
    if kind == "zip":
        return kind, _zip_problem(path)
    return kind, None


def _tfrecord_problem(path: Path) -> str | None:
    if os.path.getsize(path) == 0:
        return "the file is empty"
    try:
        for _ in iter_records(path, verify=True):
            pass
    except CorruptRecordError as exc:
        return str(exc).split(". The file is damaged")[0]
    return None


def _zip_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        return f"it is not a readable zip archive ({exc})"
    if bad is not None:
        return f"member {bad!r} fails its CRC-32 check"
    return None
