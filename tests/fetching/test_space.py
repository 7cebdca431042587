"""Sizes before downloads (list/info) and the free-space check at the start of fetch."""

from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path

import pytest

import neural_datasets as nd
from neural_datasets import registry
from neural_datasets.cli import main
from neural_datasets.datasets.clickme.spec import STORE_BYTES_PER_SAMPLE, shard_spec
from neural_datasets.errors import NotEnoughSpaceError
from neural_datasets.fetching.cache import dataset_cache
from neural_datasets.fetching.space import check_free_space, dataset_sizes, human_bytes

SHARDS = ["clickme-sample-0.tfrecords", "clickme-sample-1.tfrecords"]
SAMPLE_BYTES = 555_116 + 498_016  # the pinned sizes of the bundled shards
Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def served(http_mirror, monkeypatch: pytest.MonkeyPatch):
    """An unpinned ClickMe dataset on the local HTTP server, registered as 'served-clickme'."""
    spec = shard_spec("served-clickme", http_mirror.url, SHARDS)
    monkeypatch.setitem(registry.REGISTRY, spec.name, spec)
    return http_mirror


def _heads(server) -> int:
    return sum(server.state.count(path, "HEAD") for path in SHARDS)


def _store_bytes(cache_dir: Path) -> int:
    files = (cache_dir / "clickme-sample" / "store.zarr").rglob("*")
    return sum(f.stat().st_size for f in files if f.is_file())


def _row(listing: str, name: str) -> list[str]:
    (line,) = [line for line in listing.splitlines() if line.startswith(name + " ")]
    return line.split()


def test_list_shows_sizes_of_the_bundled_samples(cache_dir: Path, capsys) -> None:
    assert main(["list", "--cache-dir", str(cache_dir)]) == 0
    before = capsys.readouterr().out
    assert _row(before, "clickme-sample")[:6] == [
        "clickme-sample",
        "2",
        "1.05",
        "MB",
        "48",
        "~12.6",
    ]
    assert _row(before, "clickme-train")[1:5] == ["319", "?", "?", "?"]
    assert "~ estimated" in before and "? not known yet" in before
    nd.fetch("clickme-sample", cache_dir=cache_dir, progress=False)
    assert main(["list", "--cache-dir", str(cache_dir)]) == 0
    after = _row(capsys.readouterr().out, "clickme-sample")
    assert after[4:8] == ["48", *human_bytes(_store_bytes(cache_dir)).split(), "cached"]  # no "~"


def test_info_adds_bytes_per_sample_and_free_space(
    cache_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**12, 0, 123_400_000_000))
    nd.fetch("clickme-sample", cache_dir=cache_dir, progress=False)
    assert main(["info", "clickme-sample", "--cache-dir", str(cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "  download: 1.05 MB (known)" in out
    assert "  samples: 48 (measured in the cache)" in out
    per_sample = _store_bytes(cache_dir) / 48
    assert 262_200 < per_sample < 262_200 * 1.01  # the layout's bytes plus a little metadata
    assert f"  store on disk: {human_bytes(_store_bytes(cache_dir))} (measured in the cache)" in out
    assert f"  store bytes per sample: {human_bytes(per_sample)}" in out
    assert f"  free space: 123 GB at {cache_dir}" in out


def test_list_and_info_follow_the_default_layout_and_name_the_others(
    cache_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """clickme-train's store is compact by default: list and info must look there."""
    from dataclasses import replace

    spec = replace(registry.get_spec("clickme-sample"), name="sample-compact")
    spec = replace(spec, default_layout="compact")
    monkeypatch.setitem(registry.REGISTRY, spec.name, spec)
    args = ["--cache-dir", str(cache_dir)]
    nd.fetch(spec.name, cache_dir=cache_dir, progress=False, layout="raw")
    assert main(["list", *args]) == 0
    listing = capsys.readouterr().out
    assert _row(listing, "sample-compact")[7] == "cached:raw"  # not the default layout
    assert "cached:LAYOUT: cached in that layout, not the default one" in listing
    compact = nd.fetch(spec.name, cache_dir=cache_dir, progress=False)
    assert compact.name == "store-compact.zarr"
    assert main(["list", *args]) == 0
    row = _row(capsys.readouterr().out, "sample-compact")
    measured = sum(f.stat().st_size for f in compact.rglob("*") if f.is_file())
    assert row[4:8] == ["48", *human_bytes(measured).split(), "cached"]
    assert main(["info", spec.name, "--no-lookup", *args]) == 0
    out = capsys.readouterr().out
    assert "  layout: compact (the default; also: raw, with `--layout`)" in out
    assert f"  store on disk: {human_bytes(measured)} (measured in the cache)" in out
    assert f"  cache: {compact} (ready)" in out
    assert f"  also cached, raw layout: {compact.parent / 'store.zarr'} (" in out


def test_remote_sizes_come_from_head_requests_once(served, cache_dir: Path, capsys) -> None:
    args = ["--cache-dir", str(cache_dir)]
    assert main(["list", *args]) == 0
    assert _row(capsys.readouterr().out, "served-clickme")[1:5] == ["2", "?", "?", "?"]
    assert _heads(served) == 0  # list asks no server unless told to
    assert main(["info", "served-clickme", *args]) == 0
    out = capsys.readouterr().out
    estimate = SAMPLE_BYTES / 28_000
    assert "  download: 1.05 MB (known)" in out and _heads(served) == 2
    assert f"  samples: ~{round(estimate)} (estimated)" in out
    assert f"  store on disk: ~{human_bytes(estimate * STORE_BYTES_PER_SAMPLE)} (estimated)" in out
    assert main(["list", "--lookup", *args]) == 0
    assert _row(capsys.readouterr().out, "served-clickme")[1:4] == ["2", "1.05", "MB"]
    assert _heads(served) == 2  # remembered in the cache's sizes.json
    assert main(["info", "served-clickme", "--no-lookup", "--cache-dir", str(cache_dir / "x")]) == 0
    assert "  download: ? (unknown: not asked (--no-lookup))" in capsys.readouterr().out


def test_an_unreachable_server_leaves_sizes_unknown(cache_dir: Path, monkeypatch) -> None:
    spec = shard_spec("gone", "http://127.0.0.1:9", SHARDS)  # port 9: connection refused
    sizes = dataset_sizes(spec, dataset_cache(spec.name, cache_dir), lookup=True)
    assert sizes.download.value is None and str(sizes.store) == "?"


def test_fetch_refuses_when_the_disk_is_too_small(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9, 5_000_000))
    with pytest.raises(NotEnoughSpaceError) as caught:
        nd.fetch("clickme-sample", cache_dir=cache_dir, progress=False)
    needed = SAMPLE_BYTES + 48 * STORE_BYTES_PER_SAMPLE
    assert str(caught.value).startswith(
        f"Not enough free space to fetch clickme-sample: it needs about {human_bytes(needed)} "
        f"(1.05 MB to download + 12.6 MB for the converted store) and 5 MB is free at "
        f"{cache_dir / 'clickme-sample'}."
    )
    assert not (cache_dir / "clickme-sample" / "raw").exists()  # refused before any download
    assert main(["fetch", "clickme-sample", "--no-progress", "--cache-dir", str(cache_dir)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("neural-datasets: error: Not enough free space") and err.count("\n") == 1


def test_files_already_downloaded_are_not_counted_again(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, cache = registry.get_spec("clickme-sample"), dataset_cache("clickme-sample", cache_dir)
    for remote in spec.files:
        cache.raw_file(remote.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(
            Path(spec.base_url.removeprefix("file://")) / remote.path, cache.raw_file(remote.path)
        )
    store_only = 48 * STORE_BYTES_PER_SAMPLE
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 0, store_only))
    check_free_space(spec, cache)  # fits exactly: the raw files are already there
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 0, store_only - 1))
    with pytest.raises(NotEnoughSpaceError, match=r"\(0 B to download \+ 12.6 MB"):
        check_free_space(spec, cache)


def test_a_published_store_needs_no_space(cache_dir: Path, monkeypatch) -> None:
    nd.fetch("clickme-sample", cache_dir=cache_dir, progress=False)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9, 0))
    assert nd.fetch("clickme-sample", cache_dir=cache_dir, progress=False).name == "store.zarr"
