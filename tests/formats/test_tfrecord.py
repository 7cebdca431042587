"""Tests of the TensorFlow-free TFRecord and tf.train.Example codec."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neural_datasets.datasets.clickme.records import decode_clickme_example
from neural_datasets.errors import CorruptRecordError
from neural_datasets.formats.tfrecord import (
    encode_example,
    index_records,
    iter_records,
    parse_example,
    read_record,
    record_error,
    write_records,
)

INT64 = st.integers(-(2**63), 2**63 - 1)
FLOAT32 = st.floats(width=32, allow_nan=False)
FEATURE_VALUES = st.one_of(
    st.lists(st.binary(max_size=40), min_size=1, max_size=4),
    st.lists(INT64, max_size=6).map(lambda v: np.array(v, dtype=np.int64)),
    st.lists(FLOAT32, max_size=6).map(lambda v: np.array(v, dtype=np.float32)),
)
FEATURE_DICTS = st.dictionaries(st.text(max_size=8), FEATURE_VALUES, max_size=5)
# Hypothesis reuses tmp_path across examples; every example writes its own file name.
TMP_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_features_equal(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, list):
            assert got[key] == value
        else:
            assert got[key].dtype == value.dtype
            np.testing.assert_array_equal(got[key], value)


# ------------------------------------------------------------------ framing round trips


@TMP_OK
@given(payloads=st.lists(st.binary(max_size=300), max_size=12))
def test_records_round_trip(tmp_path: Path, payloads: list[bytes]) -> None:
    path = tmp_path / f"{os.urandom(6).hex()}.tfrecords"
    assert write_records(path, iter(payloads)) == len(payloads)
    assert list(iter_records(path)) == payloads
    index = index_records(path)
    assert index.shape == (len(payloads), 2) and index.dtype == np.int64
    assert index[:, 1].tolist() == [len(p) for p in payloads]
    with open(path, "rb") as f:
        assert [read_record(f, o, n) for o, n in index] == payloads
    assert [read_record(path, o, n, index=i) for i, (o, n) in enumerate(index)] == payloads
    stream = io.BytesIO(path.read_bytes())  # a file object without a descriptor
    assert [read_record(stream, o, n) for o, n in index] == payloads


def test_write_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "a.tfrecords"
    write_records(path, [b"old"])

    def failing():
        yield b"new"
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_records(path, failing())
    assert list(iter_records(path)) == [b"old"]
    assert [p.name for p in tmp_path.iterdir()] == ["a.tfrecords"]


# ------------------------------------------------------------------ corruption


@pytest.fixture
def three_records(tmp_path: Path) -> tuple[Path, list[int]]:
    path = tmp_path / "shard.tfrecords"
    write_records(path, [b"a" * 10, b"b" * 20, b"c" * 30])
    starts = [0, 12 + 10 + 4, 2 * 12 + 30 + 2 * 4]
    return path, starts


def expect_corrupt(func, *fragments: str) -> str:
    with pytest.raises(CorruptRecordError) as info:
        func()
    message = str(info.value)
    for fragment in (*fragments, "delete it and fetch it again"):
        assert fragment in message
    return message


@pytest.mark.parametrize("keep", [1, 11])
def test_truncated_header(three_records, keep: int) -> None:
    path, starts = three_records
    with open(path, "r+b") as f:
        f.truncate(starts[2] + keep)
    where = (str(path), "record 2", f"byte offset {starts[2]}", "truncated record header")
    expect_corrupt(lambda: index_records(path), *where)
    expect_corrupt(lambda: list(iter_records(path)), *where)


def test_truncated_data(three_records) -> None:
    path, starts = three_records
    with open(path, "r+b") as f:
        f.truncate(starts[2] + 12 + 29)  # data and its checksum cut short
    where = (str(path), "record 2", f"byte offset {starts[2]}", "truncated record data")
    expect_corrupt(lambda: index_records(path), *where)
    expect_corrupt(lambda: list(iter_records(path)), *where)


def test_truncated_data_on_read(three_records) -> None:
    path, starts = three_records
    index = index_records(path)
    with open(path, "r+b") as f:
        f.truncate(starts[2] + 20)
    expect_corrupt(
        lambda: read_record(path, *index[2], index=2),
        "record 2",
        f"byte offset {starts[2]}",
        "truncated",
    )


def test_bad_length_crc(three_records) -> None:
    path, starts = three_records
    raw = bytearray(path.read_bytes())
    raw[starts[1] + 8] ^= 0x01  # the stored length checksum
    path.write_bytes(bytes(raw))
    where = (str(path), "record 1", f"byte offset {starts[1]}", "bad length checksum")
    expect_corrupt(lambda: index_records(path), *where)
    expect_corrupt(lambda: list(iter_records(path)), *where)


def test_bad_length_value(three_records) -> None:
    path, starts = three_records
    raw = bytearray(path.read_bytes())
    raw[starts[1] : starts[1] + 8] = struct.pack("<Q", 10**12)  # absurd length, stale crc
    path.write_bytes(bytes(raw))
    expect_corrupt(lambda: index_records(path), "record 1", "bad length checksum")


def test_bad_data_crc(three_records) -> None:
    path, starts = three_records
    index = index_records(path)  # framing is intact
    raw = bytearray(path.read_bytes())
    raw[starts[1] + 12 + 5] ^= 0xFF
    path.write_bytes(bytes(raw))
    where = (str(path), "record 1", f"byte offset {starts[1]}", "bad data checksum")
    expect_corrupt(lambda: list(iter_records(path)), *where)
    expect_corrupt(lambda: read_record(path, *index[1], index=1), *where)
    with open(path, "rb") as f:
        expect_corrupt(lambda: read_record(f, *index[1]), str(path), "bad data checksum")
    assert len(read_record(path, *index[1], verify=False)) == 20
    assert len(list(iter_records(path, verify=False))) == 3


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\x05\x0a\x03",  # field runs past the end
        b"\x0a",  # truncated length varint
        b"\x0b",  # wire type 3 (groups) is not used by Example
        b"\x0a\x04\x0a\x02\x0a\x80",  # truncated varint inside the map entry
        b"\x0a\x06\x0a\x04\x0a\x02\xff\xfe",  # key is not UTF-8
        b"\x0a\x0b\x0a\x09\x12\x07\x1a\x05\x0a\x03\x01\x02\x83",  # unterminated packed varint
        b"\x0a\x09\x0a\x07\x12\x05\x12\x03\x0a\x01\x00",  # float data not a multiple of 4
        b"\x08" + b"\xff" * 10 + b"\x01",  # varint longer than 10 bytes
    ],
)
def test_bad_protobuf(data: bytes) -> None:
    with pytest.raises(CorruptRecordError, match=r"malformed tf\.train\.Example"):
        parse_example(data)


def test_record_error_adds_context() -> None:
    try:
        parse_example(b"\x0a\x05")
    except CorruptRecordError as exc:
        err = record_error(Path("s.tfrecords"), 4, 96, str(exc))
    message = str(err)
    assert message.startswith("s.tfrecords: record 4 (byte offset 96): malformed")
    assert "delete it and fetch it again" in message


# ------------------------------------------------------------------ Example codec


@given(FEATURE_DICTS)
def test_example_round_trip(features: dict) -> None:
    assert_features_equal(parse_example(encode_example(features)), features)


def test_python_scalars_and_lists() -> None:
    got = parse_example(
        encode_example({"b": b"x", "i": -3, "f": 0.5, "il": [1, 2], "fl": [1, 2.5], "bl": [b"p"]})
    )
    assert got["b"] == [b"x"] and got["bl"] == [b"p"]
    assert got["i"].tolist() == [-3] and got["il"].tolist() == [1, 2]
    assert got["f"].dtype == np.float32 and got["fl"].tolist() == [1.0, 2.5]


def test_numpy_values_flattened_by_dtype() -> None:
    got = parse_example(
        encode_example(
            {
                "u8": np.arange(6, dtype=np.uint8).reshape(2, 3),
                "b": np.array([True, False]),
                "f64": np.array([[0.25]]),
                "s": np.array([b"ab", b"c"]),
                "empty": np.zeros(0, np.int64),
            }
        )
    )
    assert got["u8"].tolist() == [0, 1, 2, 3, 4, 5] and got["u8"].dtype == np.int64
    assert got["b"].tolist() == [1, 0]
    assert got["f64"].dtype == np.float32 and got["f64"].tolist() == [0.25]
    assert got["s"] == [b"ab", b"c"]
    assert got["empty"].dtype == np.int64 and got["empty"].size == 0


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ([], TypeError),
        ("text", TypeError),
        (2**63, ValueError),
        (np.array([2**64 - 1], dtype=np.uint64), ValueError),
        ([b"a", 1], TypeError),
        (np.array(["u"]), TypeError),
    ],
)
def test_encode_rejects(value, error) -> None:
    with pytest.raises(error, match="feature 'x'"):
        encode_example({"x": value})


def _varint(v: int) -> bytes:
    v &= 2**64 - 1
    out = bytearray()
    while v > 0x7F:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    return bytes([*out, v])


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _example(*entries: tuple[bytes, bytes]) -> bytes:
    return _ld(1, b"".join(_ld(1, _ld(1, k) + _ld(2, f)) for k, f in entries))


def test_parse_unpacked_and_unknown_fields() -> None:
    unpacked_ints = b"".join(b"\x08" + _varint(v) for v in (-1, 5, -(2**63)))
    unpacked_floats = b"".join(b"\x0d" + struct.pack("<f", v) for v in (1.5, -2.0))
    mixed_ints = _ld(1, _varint(7)) + b"\x08" + _varint(-8)  # packed then unpacked
    unknown = b"\x28\x01" + b"\x31" + bytes(8) + b"\x3d" + bytes(4) + _ld(9, b"zz")
    data = (
        _example(
            (b"i", _ld(3, unpacked_ints)),
            (b"f", _ld(2, unpacked_floats + unknown)),
            (b"m", _ld(3, mixed_ints)),
            (b"none", b""),
            (b"last", _ld(1, _ld(1, b"old")) + _ld(3, _ld(1, _varint(2)))),  # oneof: last wins
        )
        + unknown
    )
    got = parse_example(data)
    assert got["i"].tolist() == [-1, 5, -(2**63)]
    assert got["f"].tolist() == [1.5, -2.0]
    assert got["m"].tolist() == [7, -8]
    assert got["none"] == []
    assert got["last"].tolist() == [2]


def test_parse_long_packed_ints() -> None:
    values = np.array([0, 1, 127, 128, -1, 2**63 - 1, -(2**63), 300] * 50, dtype=np.int64)
    assert parse_example(encode_example({"v": values}))["v"].tolist() == values.tolist()


# ------------------------------------------------------------------ TensorFlow interop


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return pytest.importorskip("tensorflow")


def tf_example(tf, features: dict):
    def feature(value):
        if isinstance(value, list):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=value))
        if value.dtype == np.int64:
            return tf.train.Feature(int64_list=tf.train.Int64List(value=value.tolist()))
        return tf.train.Feature(float_list=tf.train.FloatList(value=value.tolist()))

    return tf.train.Example(
        features=tf.train.Features(feature={k: feature(v) for k, v in features.items()})
    )


def clickme_features(label: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "label": np.array([label], dtype=np.int64),
        "image": [rng.bytes(int(rng.integers(20_000, 40_000)))],
        "heatmap": [rng.bytes(int(rng.integers(2_000, 9_000)))],
    }


def test_reads_tensorflow_records(tf, tmp_path: Path) -> None:
    examples = [clickme_features(label, label) for label in (0, 999, 417)]
    examples.append(
        {
            "neg": np.array([-1, -(2**63), 2**63 - 1, 0], dtype=np.int64),
            "floats": np.array([0.1, -3e38, 1e-40], dtype=np.float32),
            "many": [b"", b"x" * 200, b"\x00\xff"],
        }
    )
    path = tmp_path / "tf.tfrecords"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for features in examples:
            writer.write(tf_example(tf, features).SerializeToString())
    records = list(iter_records(path))
    assert len(records) == len(examples)
    for record, features in zip(records, examples, strict=True):
        assert_features_equal(parse_example(record), features)
    with open(path, "rb") as f:
        assert [read_record(f, o, n) for o, n in index_records(path)] == records
    image, heatmap, label = decode_clickme_example(records[1])
    assert (image, heatmap, label) == (examples[1]["image"][0], examples[1]["heatmap"][0], 999)


def test_tensorflow_reads_our_records(tf, tmp_path: Path) -> None:
    examples = [clickme_features(label, label) for label in (3, 998)]
    path = tmp_path / "ours.tfrecords"
    write_records(path, (encode_example(f) for f in examples))
    spec = {
        "image": tf.io.FixedLenFeature([], tf.string),
        "heatmap": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
    }
    parsed = [tf.io.parse_single_example(r, spec) for r in tf.data.TFRecordDataset(str(path))]
    assert len(parsed) == len(examples)
    for got, want in zip(parsed, examples, strict=True):
        assert got["image"].numpy() == want["image"][0]
        assert got["heatmap"].numpy() == want["heatmap"][0]
        assert int(got["label"].numpy()) == int(want["label"][0])


def test_encode_matches_tensorflow_clickme(tf) -> None:
    for label in (0, 1, 127, 128, 999):
        features = clickme_features(label, label)
        ours = encode_example(
            {"image": features["image"][0], "heatmap": features["heatmap"][0], "label": label}
        )
        assert ours == tf_example(tf, features).SerializeToString(deterministic=True)


def test_encode_key_order_matches_tensorflow(tf) -> None:
    # Keys that are prefixes of others, empty and non-ASCII keys are where orders differ.
    keys = ["", "a", "ab", "b", "image", "image/encoded", "label", "\u00e9", "z"]
    features = {k: np.array([i], dtype=np.int64) for i, k in enumerate(keys)}
    reference = tf_example(tf, features).SerializeToString(deterministic=True)
    assert encode_example(features) == reference


@settings(max_examples=60, deadline=None)
@given(features=FEATURE_DICTS)
def test_encode_matches_tensorflow_property(tf, features: dict) -> None:
    reference = tf_example(tf, features)
    assert encode_example(features) == reference.SerializeToString(deterministic=True)
    # TF's default serialization may order map entries differently; we parse either.
    assert_features_equal(parse_example(reference.SerializeToString()), features)
