"""Read and write TFRecord files and ``tf.train.Example`` protos without TensorFlow.

A TFRecord file is a sequence of records, each framed as::

    uint64 length (little endian)
    uint32 masked crc32c of the 8 length bytes
    bytes  data[length]
    uint32 masked crc32c of data

Datasets store one ``tf.train.Example`` per record (each declares which
features in its own folder); :func:`single_values` decodes records whose
features each hold one value. The protobuf wire format is decoded by hand so
that importing this package never pulls in TensorFlow or protobuf.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, BinaryIO

import google_crc32c
import numpy as np

from ..errors import CorruptRecordError

__all__ = [
    "FeatureValue",
    "encode_example",
    "index_records",
    "iter_records",
    "masked_crc32c",
    "parse_example",
    "read_record",
    "record_error",
    "single_values",
    "write_records",
]

PathLike = str | os.PathLike[str]
FeatureValue = bytes | list[bytes] | int | list[int] | float | list[float] | np.ndarray

_HEADER = struct.Struct("<QI")  # length, masked crc of length
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_SMALL_PACKED = 32  # bytes of packed varints decoded in pure Python

# Protobuf wire types.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


def masked_crc32c(data: bytes) -> int:
    """Return the masked CRC-32C that TFRecord framing stores for ``data``.

    Parameters
    ----------
    data : bytes
        The bytes to checksum.

    Returns
    -------
    int
        ``rotate_right(crc32c(data), 15) + 0xa282ead8`` modulo 2**32.

    Examples
    --------
    >>> hex(masked_crc32c(b""))
    '0xa282ead8'
    """
    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def record_error(path: object, index: int | None, offset: int, problem: str) -> CorruptRecordError:
    """Build the error raised for a damaged record, naming where it is and what to do.

    Callers that decode a record's payload (for example with :func:`parse_example`)
    use this to add the file and position to the decoder's message.

    Parameters
    ----------
    path : object
        The file (path or name) holding the record.
    index : int or None
        Zero-based record number, or None when it is not known.
    offset : int
        Byte offset of the start of the record's frame in the file.
    problem : str
        What is wrong with the record.

    Returns
    -------
    CorruptRecordError
        The error to raise.

    Examples
    --------
    >>> str(record_error("a.tfrecords", 3, 120, "bad data checksum"))[:52]
    'a.tfrecords: record 3 (byte offset 120): bad data ch'
    """
    which = "record" if index is None else f"record {index}"
    return CorruptRecordError(
        f"{os.fspath(path) if isinstance(path, os.PathLike) else path}: {which} "
        f"(byte offset {offset}): {problem}. The file is damaged or was not fully "
        "downloaded; delete it and fetch it again."
    )


def _frame_length(header: bytes, path: object, index: int, offset: int, size: int) -> int:
    """Validate the header of the record starting at ``offset``; return its data length."""
    if len(header) < _HEADER.size:
        raise record_error(
            path, index, offset, f"truncated record header ({len(header)} of {_HEADER.size} bytes)"
        )
    length, length_crc = _HEADER.unpack(header)
    if masked_crc32c(header[:8]) != length_crc:
        raise record_error(path, index, offset, "bad length checksum in record header")
    remaining = size - offset - _HEADER.size
    if length + _CRC.size > remaining:
        raise record_error(
            path,
            index,
            offset,
            f"truncated record data (header declares {length} bytes plus a 4-byte "
            f"checksum, only {remaining} bytes remain)",
        )
    return length


def index_records(path: PathLike) -> np.ndarray:
    """Locate every record of a TFRecord file by scanning its framing only.

    Each header's length checksum is verified; data checksums are verified later,
    when the record is read with :func:`read_record`.

    Parameters
    ----------
    path : str or os.PathLike
        The TFRecord file.

    Returns
    -------
    numpy.ndarray
        int64 array of shape ``(n, 2)``: the byte offset of each record's data
        and its length.

    Raises
    ------
    CorruptRecordError
        If a header is truncated or fails its checksum, or data runs past the end.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.tfrecords"
    >>> write_records(p, [b"ab", b"cde"])
    2
    >>> index_records(p).tolist()
    [[12, 2], [30, 3]]
    """
    entries: list[tuple[int, int]] = []
    with open(path, "rb") as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        offset = 0
        while offset < size:
            header = os.pread(fd, _HEADER.size, offset)
            length = _frame_length(header, path, len(entries), offset, size)
            entries.append((offset + _HEADER.size, length))
            offset += _HEADER.size + length + _CRC.size
    return np.array(entries, dtype=np.int64).reshape(-1, 2)


def _pread(f: BinaryIO, n: int, offset: int) -> bytes:
    # pread leaves the shared file position alone, so threads can share one handle.
    try:
        fd = f.fileno()
    except (AttributeError, OSError):
        f.seek(offset)
        return f.read(n)
    return os.pread(fd, n, offset)


def read_record(
    file: BinaryIO | PathLike,
    offset: int,
    length: int,
    *,
    verify: bool = True,
    index: int | None = None,
) -> bytes:
    """Read one record's data at a position found by :func:`index_records`.

    Parameters
    ----------
    file : binary file object, str or os.PathLike
        An open binary file (read with ``os.pread`` when it has a file
        descriptor, so it may be shared between threads) or a path.
    offset : int
        Byte offset of the record's data.
    length : int
        Length of the record's data.
    verify : bool, default True
        Check the data's crc32c.
    index : int, optional
        Record number, only used in error messages.

    Returns
    -------
    bytes
        The record's data.

    Raises
    ------
    CorruptRecordError
        If the file ends early or the data checksum does not match.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.tfrecords"
    >>> _ = write_records(p, [b"ab", b"cde"])
    >>> read_record(p, *index_records(p)[1])
    b'cde'
    """
    offset, length = int(offset), int(length)
    if isinstance(file, (str, os.PathLike)):
        name: object = file
        with open(file, "rb") as f:
            chunk = _pread(f, length + _CRC.size, offset)
    else:
        name = getattr(file, "name", "<stream>")
        chunk = _pread(file, length + _CRC.size, offset)
    start = offset - _HEADER.size
    if len(chunk) < length + _CRC.size:
        raise record_error(name, index, start, "truncated record data")
    data = chunk[:length]
    if verify and masked_crc32c(data) != _CRC.unpack_from(chunk, length)[0]:
        raise record_error(name, index, start, "bad data checksum")
    return data


def iter_records(path: PathLike, *, verify: bool = True) -> Iterator[bytes]:
    """Yield the data of every record in a TFRecord file, in order.

    Parameters
    ----------
    path : str or os.PathLike
        The TFRecord file.
    verify : bool, default True
        Check each record's data crc32c (header checksums are always checked).

    Yields
    ------
    bytes
        Each record's data.

    Raises
    ------
    CorruptRecordError
        On a truncated record or a checksum mismatch.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.tfrecords"
    >>> _ = write_records(p, [b"ab", b"cde"])
    >>> list(iter_records(p))
    [b'ab', b'cde']
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        offset = 0
        index = 0
        while header := f.read(_HEADER.size):
            length = _frame_length(header, path, index, offset, size)
            body = f.read(length + _CRC.size)
            data = body[:length]
            if verify and masked_crc32c(data) != _CRC.unpack_from(body, length)[0]:
                raise record_error(path, index, offset, "bad data checksum")
            yield data
            offset += _HEADER.size + length + _CRC.size
            index += 1


def write_records(path: PathLike, records: Iterable[bytes]) -> int:
    """Write records to a TFRecord file, replacing it atomically.

    The records go to a temporary file beside ``path`` that is renamed over it
    once complete, so an interrupted write never leaves a truncated file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.
    records : iterable of bytes
        The records' data.

    Returns
    -------
    int
        Number of records written.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.tfrecords"
    >>> write_records(p, [b"hello"])
    1
    >>> p.stat().st_size
    21
    """
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    count = 0
    try:
        with open(tmp, "wb") as f:
            for data in records:
                data = bytes(data)
                length = struct.pack("<Q", len(data))
                f.write(length)
                f.write(_CRC.pack(masked_crc32c(length)))
                f.write(data)
                f.write(_CRC.pack(masked_crc32c(data)))
                count += 1
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return count


# --------------------------------------------------------------------------- decoding


class _MalformedError(Exception):
    """Internal: the protobuf bytes do not follow the wire format."""


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    # Only tags and lengths go through here: a handful of bytes per field.
    result = 0
    shift = 0
    while pos < end:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if shift > 63:
                raise _MalformedError("varint longer than 10 bytes")
            return result, pos
        shift += 7
    raise _MalformedError("truncated varint")


def _fields(data: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field number, wire type, start, stop)`` of each field in ``data[pos:end]``.

    For varint fields ``start`` is the decoded value and ``stop`` the next position.
    """
    while pos < end:
        tag, pos = _varint(data, pos, end)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise _MalformedError("field number 0")
        if wire == _VARINT:
            value, pos = _varint(data, pos, end)
            yield number, wire, value, pos
            continue
        if wire == _LEN:
            size, pos = _varint(data, pos, end)
        elif wire == _I64:
            size = 8
        elif wire == _I32:
            size = 4
        else:
            raise _MalformedError(f"unsupported wire type {wire}")
        if pos + size > end:
            raise _MalformedError("field runs past the end of its message")
        yield number, wire, pos, pos + size
        pos += size


def _packed_varints(data: bytes, start: int, stop: int) -> np.ndarray:
    """Decode packed int64 varints with numpy instead of a per-byte Python loop."""
    if stop - start <= _SMALL_PACKED:
        # A label or two: numpy's per-call overhead would dominate.
        values = []
        while start < stop:
            value, start = _varint(data, start, stop)
            values.append(value & _U64)
        return np.array(values, dtype=np.uint64).view(np.int64)
    buf = np.frombuffer(data, dtype=np.uint8, count=stop - start, offset=start)
    if buf.size == 0:
        return np.zeros(0, dtype=np.int64)
    if buf[-1] >= 0x80:
        raise _MalformedError("truncated packed varint")
    last = np.flatnonzero(buf < 0x80)
    first = np.concatenate(([0], last[:-1] + 1))
    sizes = last - first + 1
    if sizes.max() > 10:
        raise _MalformedError("varint longer than 10 bytes")
    byte_index = np.arange(buf.size) - np.repeat(first, sizes)
    parts = (buf & 0x7F).astype(np.uint64) << (7 * byte_index).astype(np.uint64)
    # Two's complement: a 10-byte varint's top bit lands on bit 63, so the int64 view
    # of the uint64 sum is the signed value.
    return np.bitwise_or.reduceat(parts, first).view(np.int64)


def _parse_feature(data: bytes, start: int, stop: int) -> list[bytes] | np.ndarray:
    kind = 0
    chunks: list = []
    for number, wire, fstart, fstop in _fields(data, start, stop):
        if number not in (1, 2, 3):
            continue  # unknown fields are skipped, as protobuf parsers do
        if wire != _LEN:
            raise _MalformedError(f"Feature field {number} has wire type {wire}")
        if number != kind:  # oneof: the last kind seen wins
            kind, chunks = number, []
        for vnum, vwire, vstart, vstop in _fields(data, fstart, fstop):
            if vnum != 1:
                continue
            if kind == 1:
                if vwire != _LEN:
                    raise _MalformedError("bytes_list value is not length-delimited")
                chunks.append(data[vstart:vstop])
            elif kind == 2:
                if vwire not in (_LEN, _I32) or (vstop - vstart) % 4:
                    raise _MalformedError("float_list value is not float32 data")
                chunks.append(np.frombuffer(data, "<f4", (vstop - vstart) // 4, vstart))
            elif vwire == _LEN:
                chunks.append(_packed_varints(data, vstart, vstop))
            elif vwire == _VARINT:
                value = vstart & _U64  # protobuf keeps the low 64 bits
                value -= (1 << 64) if value > _INT64_MAX else 0
                chunks.append(np.array([value], dtype=np.int64))
            else:
                raise _MalformedError("int64_list value is not a varint")
    if kind == 2:
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if kind == 3:
        return np.concatenate(chunks).astype(np.int64) if chunks else np.zeros(0, np.int64)
    return chunks


def parse_example(data: bytes) -> dict[str, list[bytes] | np.ndarray]:
    """Decode a serialized ``tf.train.Example``.

    Parameters
    ----------
    data : bytes
        The serialized proto (one TFRecord record).

    Returns
    -------
    dict
        Feature name to value: ``bytes_list`` as a list of bytes, ``float_list``
        as a float32 array, ``int64_list`` as an int64 array. A feature with no
        kind set decodes as an empty list.

    Raises
    ------
    CorruptRecordError
        If ``data`` is not a valid ``tf.train.Example``. The message does not
        name a file; wrap it with :func:`record_error` to add one.

    Examples
    --------
    >>> ex = parse_example(encode_example({"image": b"jpeg", "label": 7}))
    >>> ex["image"], ex["label"].tolist()
    ([b'jpeg'], [7])
    """
    data = bytes(data)
    features: dict[str, list[bytes] | np.ndarray] = {}
    try:
        for number, wire, start, stop in _fields(data, 0, len(data)):
            if number != 1:
                continue
            if wire != _LEN:
                raise _MalformedError("Example.features is not length-delimited")
            for enumber, ewire, estart, estop in _fields(data, start, stop):
                if enumber != 1:
                    continue
                if ewire != _LEN:
                    raise _MalformedError("Features.feature entry is not length-delimited")
                key = ""
                value: list[bytes] | np.ndarray = []
                for fnum, fwire, fstart, fstop in _fields(data, estart, estop):
                    if fwire != _LEN and fnum in (1, 2):
                        raise _MalformedError("feature map entry field is not length-delimited")
                    if fnum == 1:
                        key = data[fstart:fstop].decode("utf-8")
                    elif fnum == 2:
                        value = _parse_feature(data, fstart, fstop)
                features[key] = value
    except (_MalformedError, UnicodeDecodeError) as exc:
        raise CorruptRecordError(f"malformed tf.train.Example protobuf: {exc}") from None
    return features


def single_values(
    data: bytes, kinds: Mapping[str, type], *, what: str = "record"
) -> dict[str, Any]:
    """Decode a ``tf.train.Example`` whose features each hold exactly one value.

    Parameters
    ----------
    data : bytes
        The serialized proto (one TFRecord record).
    kinds : mapping
        Feature name to the type of its one value: ``bytes`` (a
        ``bytes_list``), ``numpy.int64`` (an ``int64_list``) or
        ``numpy.float32`` (a ``float_list``).
    what : str
        How to name the record in error messages (e.g. ``"image record"``).

    Returns
    -------
    dict
        Feature name to its value (``bytes``, ``int`` or ``float``).

    Raises
    ------
    CorruptRecordError
        If the proto is malformed or a feature is missing or of the wrong type;
        the message names the feature.

    Examples
    --------
    >>> rec = encode_example({"image": b"img", "label": 3})
    >>> single_values(rec, {"image": bytes, "label": np.int64})
    {'image': b'img', 'label': 3}
    """
    features = parse_example(data)
    values = {}
    for name, kind in kinds.items():
        if name not in features:
            found = ", ".join(sorted(features)) or "none"
            raise CorruptRecordError(f"{what} has no {name!r} feature (features found: {found})")
        value = features[name]
        ok_type = (
            isinstance(value, list)
            if kind is bytes
            else (isinstance(value, np.ndarray) and value.dtype == kind)
        )
        if not ok_type or len(value) != 1:
            raise CorruptRecordError(
                f"{what} feature {name!r} should hold exactly one {kind.__name__} value"
            )
        values[name] = value[0] if isinstance(value, list) else value[0].item()
    return values


# --------------------------------------------------------------------------- encoding


def _encode_varint(value: int) -> bytes:
    value &= _U64  # negative int64 -> two's complement, 10 bytes on the wire
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _encode_varint(field << 3 | _LEN) + _encode_varint(len(payload)) + payload


def _as_typed(name: str, value: FeatureValue) -> tuple[int, list[bytes] | np.ndarray]:
    """Return ``(Feature field number, values)`` for a Python or numpy value."""
    if isinstance(value, np.ndarray):
        flat = value.ravel()
        if flat.dtype.kind in "biu":
            if flat.dtype.kind == "u" and flat.size and flat.max() > _INT64_MAX:
                raise ValueError(f"feature {name!r}: value exceeds the int64 range")
            return 3, flat.astype(np.int64)
        if flat.dtype.kind == "f":
            return 2, flat.astype(np.float32)
        if flat.dtype.kind == "S" or (
            flat.dtype.kind == "O" and all(isinstance(v, bytes) for v in flat)
        ):
            return 1, [bytes(v) for v in flat]
        raise TypeError(f"feature {name!r}: unsupported array dtype {flat.dtype}")
    items: list[Any] = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise TypeError(
            f"feature {name!r}: cannot tell the type of an empty list; "
            "pass an empty numpy array of the wanted dtype"
        )
    if all(isinstance(v, (bytes, bytearray, memoryview)) for v in items):
        return 1, [bytes(v) for v in items]
    if all(isinstance(v, (int, np.integer)) for v in items):
        if any(not _INT64_MIN <= int(v) <= _INT64_MAX for v in items):
            raise ValueError(f"feature {name!r}: value outside the int64 range")
        return 3, np.array([int(v) for v in items], dtype=np.int64)
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in items):
        return 2, np.array(items, dtype=np.float32)
    raise TypeError(f"feature {name!r}: expected bytes, int or float values, got {value!r}")


def _encode_feature(name: str, value: FeatureValue) -> bytes:
    kind, values = _as_typed(name, value)
    if kind == 1:
        inner = b"".join(_length_delimited(1, v) for v in values)
    elif kind == 2:
        packed = np.asarray(values, "<f4").tobytes()
        inner = _length_delimited(1, packed) if packed else b""
    else:
        packed = b"".join(_encode_varint(int(v)) for v in values)
        inner = _length_delimited(1, packed) if packed else b""
    return _length_delimited(kind, inner)


def _map_key_order(key: str) -> bytes:
    # The upb runtime behind current protobuf/TensorFlow writes map entries in UTF-8
    # byte order except that a key comes after the keys it is a prefix of ("ab" before
    # "a", "" last). 0xff never occurs in UTF-8, so it sorts such a key's end last.
    # C++ protobuf puts prefixes first instead; the orders agree for the keys the datasets use.
    return key.encode("utf-8") + b"\xff"


def encode_example(features: Mapping[str, FeatureValue]) -> bytes:
    """Serialize features as a ``tf.train.Example``, byte for byte as TensorFlow does.

    Map entries are written in the order of protobuf's deterministic serialization
    (``SerializeToString(deterministic=True)``), which is sorted by key; numeric
    lists are packed, as in proto3.

    Parameters
    ----------
    features : mapping of str to value
        ``bytes`` or a list of bytes -> ``bytes_list``; ``int`` or a list of ints
        -> ``int64_list``; ``float`` or a list of numbers with a float ->
        ``float_list``; a numpy array goes by dtype (integer or bool -> int64,
        floating -> float32, ``S`` -> bytes) and is flattened.

    Returns
    -------
    bytes
        The serialized proto.

    Raises
    ------
    TypeError
        For a value of unsupported type or an empty list (its type is unknown).
    ValueError
        For an integer outside the int64 range.

    Examples
    --------
    >>> encode_example({"label": 5}).hex()
    '0a100a0e0a056c6162656c12051a030a0105'
    """
    entries = []
    for key in sorted(features, key=_map_key_order):
        entry = _length_delimited(1, key.encode("utf-8")) + _length_delimited(
            2, _encode_feature(key, features[key])
        )
        entries.append(_length_delimited(1, entry))
    return _length_delimited(1, b"".join(entries))
