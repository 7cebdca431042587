"""ClickMe's compact layout: the published JPEG bytes, decoded to the raw layout's pixels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neural_datasets as nd
from neural_datasets.cli import main
from neural_datasets.datasets.clickme.compact import JpegArray
from neural_datasets.datasets.clickme.records import decode_clickme_example
from neural_datasets.errors import ConversionError, InvalidArgumentError
from neural_datasets.formats.tfrecord import iter_records


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def both(cache: Path) -> tuple[nd.ClickMe, nd.ClickMe]:
    compact = nd.ClickMe("sample", cache_dir=cache, layout="compact", progress=False)
    raw = nd.ClickMe("sample", cache_dir=cache, layout="raw", progress=False)
    return compact, raw


def test_compact_reads_the_raw_layouts_values(both: tuple[nd.ClickMe, nd.ClickMe]) -> None:
    compact, raw = both
    assert isinstance(compact.images, JpegArray) and not isinstance(raw.images, JpegArray)
    order = np.random.default_rng(0).permutation(48)
    indices = np.concatenate([order, order[:5], [-1]])  # any order, repeats, negatives
    got, expected = compact.read_batch(indices), raw.read_batch(indices)
    assert got.keys() == expected.keys()
    for key in got:
        assert got[key].dtype == expected[key].dtype
        assert np.array_equal(got[key], expected[key]), key
    assert compact[3]["label"] == raw[3]["label"]
    assert np.array_equal(compact.images.read(), raw.images.read())


def test_stores_the_published_bytes_unchanged_at_the_download_size(
    both: tuple[nd.ClickMe, nd.ClickMe], cache: Path
) -> None:
    compact, _ = both
    shards = sorted((cache / "clickme-sample" / "raw").glob("*.tfrecords"))
    published = [decode_clickme_example(r) for path in shards for r in iter_records(path)]
    assert compact.images.items.take(range(48)) == [image for image, _, _ in published]
    assert compact.heatmaps.items.take(range(48)) == [heat for _, heat, _ in published]
    store = Path(compact.location)
    assert store.name == "store-compact.zarr"
    size = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
    download = sum(p.stat().st_size for p in shards)
    assert size <= 1.3 * download
    assert compact.attrs["clickme"]["layout"] == "compact"
    assert compact.source(7) == both[1].source(7)


def test_unknown_layouts_are_refused(cache: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="no layout 'tiny'; choose one of raw, compact"):
        nd.fetch("clickme-sample", cache_dir=cache, layout="tiny", progress=False)
    with pytest.raises(InvalidArgumentError, match="no layout 'compact'"):
        nd.fetch("arcaro2020-sample", cache_dir=cache, layout="compact", progress=False)


def test_cli_layout_verify_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cache = ["--cache-dir", str(tmp_path)]
    assert main(["fetch", "clickme-sample", "--no-progress", "--layout", "compact", *cache]) == 0
    store = capsys.readouterr().out.strip()
    assert store == str(tmp_path / "clickme-sample" / "store-compact.zarr")
    assert main(["path", "clickme-sample", "--layout", "compact", *cache]) == 0
    assert capsys.readouterr().out.strip() == store
    assert nd.verify("clickme-sample", cache_dir=tmp_path, progress=False) == []
    chunk = Path(store) / "heatmap" / "bytes" / "c" / "0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 1
    chunk.write_bytes(bytes(data))
    problems = nd.verify("clickme-sample", cache_dir=tmp_path, progress=False)
    assert len(problems) == 2  # the manifest names the file, the bytes array the items in it
    assert any("heatmap/bytes/c/0" in p for p in problems)
    assert any(p.startswith("heatmap: items") and "crc32c" in p for p in problems)
    assert main(["rm", "clickme-sample", *cache]) == 0
    assert not Path(store).exists()


def test_a_payload_that_is_not_a_jpeg_fails_the_copy(tmp_path: Path) -> None:
    from neural_datasets import registry
    from neural_datasets.datasets.clickme.spec import shard_spec
    from neural_datasets.formats.tfrecord import encode_example, write_records

    records = [encode_example({"image": b"not a jpeg", "heatmap": b"x", "label": 1})]
    write_records(tmp_path / "bad.tfrecords", records)
    registry.REGISTRY["clickme-bad"] = shard_spec(
        "clickme-bad", tmp_path.as_uri(), ["bad.tfrecords"]
    )
    try:
        with (
            pytest.warns(UserWarning),
            pytest.raises(ConversionError, match="bad.tfrecords, record 0"),
        ):
            nd.fetch("clickme-bad", cache_dir=tmp_path / "c", layout="compact", progress=False)
    finally:
        del registry.REGISTRY["clickme-bad"]


@pytest.mark.parametrize("layout", ["raw", "compact"])
def test_both_layouts_refuse_a_label_outside_the_declared_range(
    tmp_path: Path, layout: str
) -> None:
    from neural_datasets import registry
    from neural_datasets.datasets.clickme.records import decode_clickme_example
    from neural_datasets.datasets.clickme.spec import SAMPLE_FOLDER, shard_spec
    from neural_datasets.formats.tfrecord import encode_example, iter_records, write_records

    first = next(iter_records(sorted(SAMPLE_FOLDER.glob("*.tfrecords"))[0]))
    image, heatmap, _ = decode_clickme_example(first)
    records = [encode_example({"image": image, "heatmap": heatmap, "label": 1500})]
    write_records(tmp_path / "bad.tfrecords", records)
    spec = shard_spec("clickme-label", tmp_path.as_uri(), ["bad.tfrecords"])
    assert spec.feature("label").value_range == (0, 999)
    registry.REGISTRY["clickme-label"] = spec
    try:
        with (
            pytest.warns(UserWarning),
            pytest.raises(ConversionError, match="label 1500 is outside 0..999"),
        ):
            nd.fetch("clickme-label", cache_dir=tmp_path / "c", layout=layout, progress=False)
    finally:
        del registry.REGISTRY["clickme-label"]


def test_loaders_read_compact_batches_in_threads_and_workers(
    both: tuple[nd.ClickMe, nd.ClickMe],
) -> None:
    import torch

    from neural_datasets.torch import loader

    compact, raw = both
    compact.read_batch(np.arange(48))  # the parent's decode threads exist before the fork

    def epoch(source: nd.ClickMe, **kw: object) -> list[dict[str, torch.Tensor]]:
        return list(loader(source, 8, seed=4, **kw))

    expected = epoch(raw)
    for got in (
        epoch(compact, num_workers=3),
        epoch(compact, num_workers=2, multiprocessing_context="fork", persistent_workers=False),
    ):
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            assert all(torch.equal(a[k], b[k]) for k in a)


def test_tf_dataset_over_compact(both: tuple[nd.ClickMe, nd.ClickMe]) -> None:
    from neural_datasets.tf import dataset

    compact, raw = both
    got = list(dataset(compact, 16, seed=1).as_numpy_iterator())
    expected = list(dataset(raw, 16, seed=1).as_numpy_iterator())
    for a, b in zip(got, expected, strict=True):
        assert all(np.array_equal(a[k], b[k]) for k in a)


def test_a_script_with_forked_workers_over_compact_exits(both: tuple, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import neural_datasets as nd\n"
        "from neural_datasets.torch import loader\n"
        f"ds = nd.ClickMe.open({both[0].location!r})\n"
        "ds.read_batch(range(16))\n"
        "batches = loader(ds, 8, num_workers=2, workers='processes')\n"
        "print(sum(len(b['label']) for b in batches))\n"
    )
    proc = subprocess.run(
        [sys.executable, str(script)], timeout=120, capture_output=True, text=True, env=os.environ
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "48"


def test_loader_decodes_jpeg_bytes_where_it_delivers(
    both: tuple[nd.ClickMe, nd.ClickMe], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GPU path's wiring, with a CPU stand-in for nvJPEG (no GPU or torchvision here)."""
    import torch

    from neural_datasets.adapters import torch as adapter
    from neural_datasets.datasets.clickme.convert import IMAGE_SHAPE, _decode_jpeg

    compact, raw = both
    decoded = []

    def stand_in(device: torch.device | None):  # noqa: ANN202 - the decoder factory's shape
        def decode(payloads: list[bytes]) -> torch.Tensor:
            decoded.append(len(payloads))
            pixels = np.empty((len(payloads), *IMAGE_SHAPE), np.uint8)
            for payload, out in zip(payloads, pixels):
                _decode_jpeg(payload, out, "image")
            return torch.from_numpy(pixels).permute(0, 3, 1, 2).to(device)

        return decode

    expected = list(adapter.loader(raw, 8, seed=2))
    plain = list(adapter.loader(compact, 8, seed=2, device="cpu"))  # no decoder: read, then copy
    monkeypatch.setattr(adapter, "_gpu_jpeg_decoder", stand_in)
    for kw in ({}, {"num_workers": 2}):
        batches = adapter.loader(compact, 8, seed=2, device="cpu", **kw)
        assert batches.dataset.encoded
        got = list(batches)
        for a, b, c in zip(got, plain, expected, strict=True):
            assert all(torch.equal(a[k], c[k]) and torch.equal(b[k], c[k]) for k in c)
    assert decoded == [8] * (2 * 6)  # images only: heatmaps arrive decoded, exactly
    batch = compact.read_encoded_batch([5, 0])
    assert [bytes(jpeg[:2]) for jpeg in batch["image"]] == [b"\xff\xd8"] * 2
    assert np.array_equal(batch["heatmap"], raw.read_batch([5, 0])["heatmap"])
    assert not adapter.loader(raw, 8, device="cpu").dataset.encoded  # raw stores hold pixels
    with pytest.raises(InvalidArgumentError, match="compact"):
        raw.read_encoded_batch([0])
