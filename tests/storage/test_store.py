"""The zarr v3 store: layout, the thread-free shard reader, checksums and verify."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neural_datasets as nd
from neural_datasets.cli import main
from neural_datasets.storage import layout, manifest, verify, writer
from neural_datasets.storage.reader import ShardedArray, read_whole
from neural_datasets.storage.remote import LazyArray


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nd.fetch("clickme-sample", cache_dir=tmp_path_factory.mktemp("c"), progress=False)


@pytest.fixture(scope="module")
def reference(sample_store: Path) -> dict[str, np.ndarray]:
    import zarr

    group = zarr.open_group(str(sample_store), mode="r")
    return {name: group[name][...] for name in ("image", "heatmap", "label")}


def test_layout_is_what_benchmarks_chose(sample_store: Path) -> None:
    import zarr

    group = zarr.open_group(str(sample_store), mode="r")
    image, heatmap = group["image"], group["heatmap"]
    assert image.shape == (48, 256, 256, 3) and image.dtype == np.uint8
    assert heatmap.shape == (48, 256, 256) and group["label"].dtype == np.int64
    assert image.chunks == (1, 256, 256, 3) and image.shards == (48, 256, 256, 3)
    assert image.metadata.dimension_names == ("sample", "y", "x", "channel")
    assert not image.compressors and not heatmap.compressors


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-48, 47), min_size=1, max_size=70))
def test_shard_reader_matches_zarr_python(
    sample_store: Path, reference: dict, indices: list[int]
) -> None:
    idx = np.array(indices)
    for name in ("image", "heatmap"):
        np.testing.assert_array_equal(
            ShardedArray(sample_store / name).take(idx), reference[name][idx]
        )


def test_tensorstore_reads_the_same_store(sample_store: Path, reference: dict) -> None:
    idx = np.array([47, 3, 3, 0])
    np.testing.assert_array_equal(
        LazyArray(sample_store / "heatmap").take(idx), reference["heatmap"][idx]
    )
    np.testing.assert_array_equal(read_whole(sample_store / "label"), reference["label"])


def test_take_fills_a_caller_buffer(sample_store: Path, reference: dict) -> None:
    out = np.zeros((3, 256, 256, 3), np.uint8)
    assert ShardedArray(sample_store / "image").take(np.array([5, 1, 9]), out=out) is out
    np.testing.assert_array_equal(out, reference["image"][[5, 1, 9]])


def _child_read(array: ShardedArray, queue) -> None:
    queue.put(int(array.take(np.arange(0, 48, 5)).sum()))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_reader_works_in_children_after_the_parent_read(sample_store: Path, method: str) -> None:
    array = ShardedArray(sample_store / "image")
    expected = int(array.take(np.arange(0, 48, 5)).sum())  # the parent reads first
    ctx = multiprocessing.get_context(method)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_child_read, args=(array, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    assert results == [expected, expected]


def test_verify_finds_a_corrupted_chunk(tmp_path: Path, capsys) -> None:
    path = nd.fetch("clickme-sample", cache_dir=tmp_path, progress=False)
    assert nd.verify("clickme-sample", cache_dir=tmp_path, progress=False) == []
    shard = path / "image" / "c" / "0" / "0" / "0" / "0"
    data = bytearray(shard.read_bytes())
    sample_bytes = 256 * 256 * 3
    data[7 * sample_bytes + 1000] ^= 0xFF  # one bit-flipped byte in sample 7
    shard.write_bytes(bytes(data))
    problems = nd.verify("clickme-sample", cache_dir=tmp_path, progress=False)
    assert problems == [
        f"image/c/0/0/0/0: fails its crc32c checksum ({shard})",
        f"image: samples 7 fail their crc32c checksum ({shard})",
    ]
    assert main(["verify", "clickme-sample", "--cache-dir", str(tmp_path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "samples 7 fail" in err and "neural-datasets rm clickme-sample" in err


def test_damaged_shard_index_is_reported_on_read(tmp_path: Path) -> None:
    path = nd.fetch("clickme-sample", cache_dir=tmp_path, progress=False)
    shard = path / "heatmap" / "c" / "0" / "0" / "0"
    data = bytearray(shard.read_bytes())
    data[-20] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(
        nd.CorruptStoreError, match="shard index fails its crc32c.*neural-datasets verify"
    ):
        nd.ClickMe("sample", cache_dir=tmp_path).read_batch([0])
    assert any(
        "heatmap" in p for p in nd.verify("clickme-sample", cache_dir=tmp_path, progress=False)
    )


def test_chunk_crc32c_is_per_sample() -> None:
    block = np.arange(2 * 4, dtype=np.uint8).reshape(2, 4)
    import google_crc32c

    assert writer.chunk_crc32c(block).tolist() == [
        google_crc32c.value(bytes([0, 1, 2, 3])),
        google_crc32c.value(bytes([4, 5, 6, 7])),
    ]


def test_clickme_class(tmp_path: Path, reference: dict) -> None:
    ds = nd.ClickMe("sample", cache_dir=tmp_path, progress=False)
    assert len(ds) == 48
    item = ds[-1]
    np.testing.assert_array_equal(item["image"], reference["image"][47])
    assert item["label"] == int(reference["label"][47]) and isinstance(item["label"], int)
    batch = ds.read_batch([3, 3, 0])
    np.testing.assert_array_equal(batch["heatmap"], reference["heatmap"][[3, 3, 0]])
    assert len(ds.label_names) == 1000 and ds.label_names[1] == "goldfish"
    assert ds.source(24) == ("clickme-sample-1.tfrecords", 0)
    with pytest.raises(IndexError):
        ds[48]
    with pytest.raises(ValueError, match="train, val, sample"):
        nd.ClickMe("test")


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 150),
    per_shard=st.sampled_from([1, 7, 64]),
    shape=st.sampled_from([(3,), (4, 5), (2, 3, 3)]),
    dtype=st.sampled_from(["uint8", "int64", "float32"]),
)
def test_native_shard_writer_is_read_identically_by_zarr_and_tensorstore(
    tmp_path_factory: pytest.TempPathFactory, n: int, per_shard: int, shape: tuple, dtype: str
) -> None:
    import zarr

    root = tmp_path_factory.mktemp("w")
    data = (np.arange(n * int(np.prod(shape))) % 251).astype(dtype).reshape(n, *shape)
    layout.create_sample_array(
        root,
        "x",
        shape=data.shape,
        dtype=dtype,
        dimension_names=("s", *"abc"[: len(shape)]),
        samples_per_shard=per_shard,
    )
    for start in range(0, n, 2 * per_shard):  # two shards per write, like conversion units
        writer.write_samples(root, "x", start, data[start : start + 2 * per_shard])
    np.testing.assert_array_equal(zarr.open_array(str(root / "x"), mode="r")[...], data)
    np.testing.assert_array_equal(LazyArray(root / "x").read(), data)
    assert not list(root.rglob("*.tmp"))
    manifest.seal(root)
    assert verify.verify_store(root) == []


def test_shard_reader_is_thread_safe_under_file_evictions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads sharing one reader never read through a descriptor another thread closed."""
    from concurrent.futures import ThreadPoolExecutor

    from neural_datasets.storage import reader as shards

    monkeypatch.setattr(shards, "MAX_OPEN_FILES", 1)  # evict on nearly every read
    data = np.random.default_rng(0).integers(0, 255, (96, 32, 32), dtype=np.uint8)
    layout.create_sample_array(
        tmp_path,
        "x",
        shape=data.shape,
        dtype="uint8",
        dimension_names=("s", "y", "x"),
        samples_per_shard=4,
    )
    writer.write_samples(tmp_path, "x", 0, data)
    reader = ShardedArray(tmp_path / "x")

    def read_many(seed: int) -> bool:
        rng = np.random.default_rng(seed)
        for _ in range(150):
            idx = rng.integers(0, 96, 16)
            if not np.array_equal(reader.take(idx), data[idx]):
                return False
        return True

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(read_many, range(8)))


def test_native_shard_writer_refuses_partial_shards(tmp_path: Path) -> None:
    layout.create_sample_array(
        tmp_path, "x", shape=(10, 3), dtype="uint8", dimension_names=("s", "c"), samples_per_shard=4
    )
    block = np.ones((4, 3), np.uint8)
    with pytest.raises(ValueError, match="do not cover whole shards"):
        writer.write_samples(tmp_path, "x", 2, block)  # not on a boundary
    with pytest.raises(ValueError, match="do not cover whole shards"):
        writer.write_samples(tmp_path, "x", 0, block[:3])  # would drop sample 3 of shard 0
    with pytest.raises(ValueError, match="expected"):
        writer.write_samples(tmp_path, "x", 0, np.ones((4, 2), np.uint8))
    writer.write_samples(tmp_path, "x", 8, block[:2])  # the tail shard may be short
