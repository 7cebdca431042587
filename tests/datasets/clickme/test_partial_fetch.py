"""Partial-split fetching: a subset of a split's first records fetches only the shards holding them.

A five-shard split of six records each, written as real TFRecords and served
over HTTP on 127.0.0.1, stands in for clickme-train; labels are each record's
position in the split, so every order mistake shows.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support.httpserver import LocalHTTPServer
from support.shardgen import make_spec, write_shards

import neural_datasets as nd
from neural_datasets import registry
from neural_datasets.cli import main
from neural_datasets.fetching.cache import dataset_cache
from neural_datasets.storage import manifest

SHARDS, PER_SHARD = 5, 6
TESTS = Path(__file__).parents[2]
pytestmark = pytest.mark.filterwarnings(
    "ignore::neural_datasets.fetching.hashes.UnpinnedFileWarning"
)


@pytest.fixture
def split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The five shards served over HTTP and registered as clickme-train (total not declared)."""
    files = write_shards(tmp_path / "www", SHARDS, PER_SHARD)
    with LocalHTTPServer(tmp_path / "www") as server:
        monkeypatch.setitem(
            registry.REGISTRY, "clickme-train", make_spec("clickme-train", server.url, files)
        )
        yield server, files


@pytest.fixture
def full(split, tmp_path: Path) -> nd.ClickMe:
    """The whole split, fetched into a cache of its own: what every subset must equal."""
    return nd.ClickMe("train", cache_dir=tmp_path / "full", progress=False)


def _gets(server) -> list[int]:
    """GET requests served for each shard."""
    return [server.state.count(f"part-{i}.tfrecords") for i in range(SHARDS)]


def _same(view: nd.ClickMe, reference: nd.ClickMe, positions) -> None:
    got, want = view[:], reference[positions]
    for key in ("image", "heatmap", "label"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    positions = np.arange(len(reference))[positions]
    assert [view.source(i) for i in range(len(view))] == [
        reference.source(int(p)) for p in positions
    ]


def test_a_head_slice_fetches_and_converts_only_the_shards_holding_it(
    split, cache_dir: Path, capsys
) -> None:
    server, files = split
    view = nd.ClickMe("train[:8]", cache_dir=cache_dir)  # 8 records: shards 0 and 1
    assert _gets(server) == [1, 1, 0, 0, 0]
    assert len(view) == 8 and view.labels.tolist() == list(range(8))
    assert Path(view.location).name == "store-first2.zarr"
    attrs = view.attrs["neural_datasets"]
    assert attrs["prefix"] == {"shards": 2, "of_shards": 5, "records": 12}
    assert list(attrs["sources"]) == files[:2]
    assert view.attrs["clickme"]["records_per_file"] == [6, 6]
    assert (
        manifest.is_sealed(Path(view.location))
        and manifest.manifest_problems(Path(view.location)) == []
    )
    assert not dataset_cache("clickme-train", cache_dir).is_published()  # no whole store
    err = capsys.readouterr().err
    assert "train[:8] needs only the first 8 records" in err
    assert "fetched 2 of 5 shards (12 records) for train[:8]" in err


def test_prefix_subsets_equal_the_same_subsets_of_the_whole_store(
    split, full: nd.ClickMe, cache_dir: Path
) -> None:
    server, _ = split
    before = _gets(server)
    window = nd.ClickMe("train[3:10]", cache_dir=cache_dir, progress=False)
    _same(window, full, slice(3, 10))
    picked = nd.ClickMe("train", indices=[11, 0, 4, 4], cache_dir=cache_dir, progress=False)
    _same(picked, full, [11, 0, 4, 4])
    both = nd.ClickMe("train[2:20]", indices=[5, 1], cache_dir=cache_dir, progress=False)
    _same(both, full, [7, 3])
    # Only the first two shards were fetched for these (the whole store had all five).
    assert [a - b for a, b in zip(_gets(server), before)] == [1, 1, 0, 0, 0]
    assert {Path(v.location).name for v in (window, picked, both)} == {"store-first2.zarr"}


def test_the_compact_layout_gets_a_prefix_store_of_its_own(
    split, full: nd.ClickMe, cache_dir: Path
) -> None:
    view = nd.ClickMe("train[4:9]", layout="compact", cache_dir=cache_dir, progress=False)
    assert Path(view.location).name == "store-compact-first2.zarr" and view.decodes_on_read
    _same(view, full, slice(4, 9))


def test_a_covered_request_reuses_the_prefix_store_without_network(
    split, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = split
    first = nd.ClickMe("train[:7]", cache_dir=cache_dir, progress=False)
    requests = len(server.state.requests)
    monkeypatch.setenv("NEURAL_DATASETS_OFFLINE", "1")
    for again in ("train[:7]", "train[:12]", "train[2:5]"):
        view = nd.ClickMe(again, cache_dir=cache_dir, progress=False)
        assert view.location == first.location
    assert nd.ClickMe("train", indices=[11], cache_dir=cache_dir, progress=False).labels == [11]
    assert len(server.state.requests) == requests
    with pytest.raises(nd.OfflineError, match="part-2.tfrecords of clickme-train is missing"):
        nd.ClickMe("train[:13]", cache_dir=cache_dir, progress=False)


def test_a_longer_request_builds_a_longer_prefix_from_the_kept_shards(
    split, full: nd.ClickMe, cache_dir: Path
) -> None:
    server, _ = split
    before = _gets(server)  # the whole store's downloads
    short = nd.ClickMe("train[:8]", cache_dir=cache_dir, progress=False)
    longer = nd.ClickMe("train[10:20]", cache_dir=cache_dir, progress=False)
    # shards 0 and 1 were kept from the first request, not downloaded again
    assert [a - b for a, b in zip(_gets(server), before)] == [1, 1, 1, 1, 0]
    assert Path(longer.location).name == "store-first4.zarr"
    assert longer.attrs["neural_datasets"]["prefix"] == {"shards": 4, "of_shards": 5, "records": 24}
    _same(longer, full, slice(10, 20))
    # The shorter store is kept as it was (another process may be reading it) and still sound;
    # requests now use the longer one.
    assert manifest.manifest_problems(Path(short.location)) == []
    _same(short, full, slice(0, 8))
    assert nd.ClickMe("train[:3]", cache_dir=cache_dir, progress=False).location == longer.location


def test_the_whole_store_is_preferred_once_fetched(split, cache_dir: Path) -> None:
    server, _ = split
    nd.ClickMe("train[:8]", cache_dir=cache_dir, progress=False)
    whole = nd.fetch("clickme-train", cache_dir=cache_dir, progress=False)
    assert _gets(server) == [1, 1, 1, 1, 1]  # only the missing shards were downloaded
    for request in ("train[:8]", "train[1:3]"):
        assert nd.ClickMe(request, cache_dir=cache_dir, progress=False).location == str(whole)
    assert nd.fetch("clickme-train", records=3, cache_dir=cache_dir, progress=False) == whole


def test_a_request_reaching_the_last_shard_builds_the_whole_store(split, cache_dir: Path) -> None:
    server, _ = split
    view = nd.ClickMe("train[:1000]", cache_dir=cache_dir, progress=False)  # more than it holds
    assert Path(view.location).name == "store.zarr" and len(view) == SHARDS * PER_SHARD
    assert "prefix" not in view.attrs["neural_datasets"]
    assert _gets(server) == [1] * SHARDS


@pytest.mark.parametrize(
    ("request_", "kwargs"),
    [
        ("train[:10%]", {}),
        ("train[-3:]", {}),
        ("train[20:]", {}),
        ("train", {"classes": [3]}),
        ("train", {"indices": [-1]}),
        ("train[:4]", {"partial": False}),
    ],
)
def test_what_needs_the_split_length_fetches_the_whole_split(
    split, cache_dir: Path, request_: str, kwargs: dict
) -> None:
    server, _ = split
    view = nd.ClickMe(request_, cache_dir=cache_dir, progress=False, **kwargs)
    assert Path(view.location).name == "store.zarr" and _gets(server) == [1] * SHARDS
    reference = nd.ClickMe("train", cache_dir=cache_dir, progress=False)
    positions = view.store_indices
    assert view.labels.tolist() == reference.labels[positions].tolist()


def test_a_percent_slice_uses_the_registry_total_when_it_is_known(
    split, full: nd.ClickMe, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = split
    spec = registry.REGISTRY["clickme-train"]
    monkeypatch.setitem(registry.REGISTRY, "clickme-train", replace(spec, samples=30))
    before = _gets(server)
    view = nd.ClickMe("train[10%:20%]", cache_dir=cache_dir, progress=False)  # records 3..5
    assert [a - b for a, b in zip(_gets(server), before)] == [1, 0, 0, 0, 0]
    assert Path(view.location).name == "store-first1.zarr"
    _same(view, full, slice(3, 6))
    _same(nd.ClickMe("train[-90%:7]", cache_dir=cache_dir, progress=False), full, slice(3, 7))


def test_fetch_records_argument(split, cache_dir: Path) -> None:
    store = nd.fetch("clickme-train", records=6, cache_dir=cache_dir, progress=False)
    assert store.name == "store-first1.zarr"
    for bad in (0, -1, 2.5, True):
        with pytest.raises(nd.InvalidArgumentError, match="positive number of records"):
            nd.fetch("clickme-train", records=bad, cache_dir=cache_dir, progress=False)
    # A dataset that cannot count records per file is fetched whole.
    it = nd.fetch("arcaro2020-sample", records=1, cache_dir=cache_dir, progress=False)
    assert it.name == "store.zarr"


def test_verify_rm_info_and_list_know_prefix_stores(split, cache_dir: Path, capsys) -> None:
    view = nd.ClickMe("train[:8]", cache_dir=cache_dir, progress=False)
    store = Path(view.location)
    cache = ["--cache-dir", str(cache_dir)]
    assert nd.verify("clickme-train", cache_dir=cache_dir, progress=False) == []
    assert main(["verify", "clickme-train", "--no-progress", *cache]) == 0
    assert main(["info", "clickme-train", "--no-lookup", *cache]) == 0
    assert main(["list", *cache]) == 0
    out = capsys.readouterr().out
    assert f"prefix store: {store} (the first 12 records, from 2 of 5 shards" in out
    row = next(line for line in out.splitlines() if line.startswith("clickme-train "))
    assert "  prefix  " in row, row

    data = bytearray((store / "label" / "c" / "0").read_bytes())
    data[8] ^= 0xFF
    (store / "label" / "c" / "0").write_bytes(bytes(data))
    problems = nd.verify("clickme-train", cache_dir=cache_dir, progress=False)
    label = store / "label" / "c" / "0"
    assert problems == [f"store-first2.zarr: label/c/0: fails its crc32c checksum ({label})"]
    assert main(["verify", "clickme-train", "--no-progress", *cache]) == 1

    assert main(["rm", "clickme-train", *cache]) == 0
    assert not store.exists() and not list((cache_dir / "clickme-train").glob("store*"))
    assert not (cache_dir / "clickme-train" / "raw").exists()


def test_verify_catches_a_prefix_store_whose_attributes_lie(split, cache_dir: Path) -> None:
    store = nd.fetch("clickme-train", records=8, cache_dir=cache_dir, progress=False)
    renamed = store.with_name("store-first3.zarr")  # says 3 shards; holds 2
    store.rename(renamed)
    problems = nd.verify("clickme-train", cache_dir=cache_dir, progress=False)
    assert "store-first3.zarr: neural_datasets.prefix says 2 shards, its name 3" in problems
    # ...and it is never taken for a prefix of 3 shards.
    assert nd.fetch("clickme-train", records=8, cache_dir=cache_dir, progress=False).name == (
        "store-first2.zarr"
    )


def test_a_failed_prefix_conversion_is_never_read_as_complete(
    split, full: nd.ClickMe, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = registry.REGISTRY["clickme-train"]

    def fail_half_way(spec, sources, building, *, progress):  # type: ignore[no-untyped-def]
        real(spec, sources, building, progress=progress)
        raise OSError(28, "No space left on device")

    real = spec.convert
    monkeypatch.setitem(registry.REGISTRY, "clickme-train", replace(spec, convert=fail_half_way))
    with pytest.raises(OSError, match="No space left"):
        nd.ClickMe("train[:8]", cache_dir=cache_dir, progress=False)
    cache = dataset_cache("clickme-train", cache_dir)
    prefix = replace(cache, shards=2)
    assert prefix.building.is_dir() and not prefix.store.exists()
    assert prefix.prefix_facts() is None
    monkeypatch.setitem(registry.REGISTRY, "clickme-train", spec)
    view = nd.ClickMe("train[:8]", cache_dir=cache_dir, progress=False)
    assert view.location == str(prefix.store) and not prefix.building.exists()
    _same(view, full, slice(0, 8))


def test_an_unsealed_prefix_store_is_never_reused_and_is_rebuilt(
    split, full: nd.ClickMe, cache_dir: Path
) -> None:
    store = nd.fetch("clickme-train", records=8, cache_dir=cache_dir, progress=False)
    (store / manifest.MANIFEST_FILE).unlink()
    assert "no checksum manifest" in nd.verify("clickme-train", cache_dir=cache_dir)[0]
    view = nd.ClickMe("train[:8]", cache_dir=cache_dir, progress=False)  # converted again
    assert view.location == str(store) and manifest.manifest_problems(store) == []
    assert list((cache_dir / "clickme-train" / "quarantine").glob("store-first2.zarr*"))
    _same(view, full, slice(0, 8))


def test_a_prefix_store_claiming_more_records_than_it_holds_is_refused(
    split, cache_dir: Path
) -> None:
    store = nd.fetch("clickme-train", records=8, cache_dir=cache_dir, progress=False)
    meta = json.loads((store / "zarr.json").read_text())
    meta["attributes"]["neural_datasets"]["prefix"]["records"] = 24  # holds 12
    (store / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(nd.CorruptStoreError, match="holds 12 samples.*needs 20.*verify"):
        nd.ClickMe("train[:20]", cache_dir=cache_dir, progress=False)
    problems = nd.verify("clickme-train", cache_dir=cache_dir, progress=False)
    assert problems[0].startswith("store-first2.zarr: zarr.json: ")  # not what was sealed
    assert "store-first2.zarr: image: 12 samples, but neural_datasets.prefix says 24 records" in (
        problems
    )


@pytest.mark.slow
def test_a_prefix_conversion_killed_part_way_is_not_complete_and_resumes(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write_shards(tmp_path / "big", 4, 128)
    url = (tmp_path / "big").as_uri()
    monkeypatch.setitem(registry.REGISTRY, "clickme-train", make_spec("clickme-train", url, files))
    code = textwrap.dedent(
        f"""
        import sys, warnings
        sys.path.insert(0, {str(TESTS)!r})
        from support.shardgen import make_spec
        from neural_datasets import registry
        import neural_datasets as nd
        import neural_datasets.datasets.clickme.convert as c
        c.SHARDS_PER_UNIT = 1
        registry.REGISTRY["clickme-train"] = make_spec("clickme-train", {url!r}, {files!r})
        warnings.simplefilter("ignore")
        nd.ClickMe("train[:300]", cache_dir={str(cache_dir)!r}, progress=False)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    prefix = replace(dataset_cache("clickme-train", cache_dir), shards=3)
    progress = prefix.building / "_progress"
    deadline = time.monotonic() + 60
    while not (progress.is_dir() and any(progress.glob("unit-*.json"))):
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not prefix.store.exists() and prefix.prefix_facts() is None
    view = nd.ClickMe("train[:300]", cache_dir=cache_dir, progress=False)
    whole = nd.ClickMe("train", cache_dir=tmp_path / "whole", progress=False)
    assert view.location == str(prefix.store)
    np.testing.assert_array_equal(view[:]["image"], whole[:300]["image"])
    np.testing.assert_array_equal(view.labels, whole.labels[:300])
    assert nd.verify("clickme-train", cache_dir=cache_dir, progress=False) == []


def test_a_prefix_view_through_the_torch_loader_and_ddp(split, cache_dir: Path) -> None:
    pytest.importorskip("torch")
    from neural_datasets.adapters.sampling import EpochPlan
    from neural_datasets.torch import loader

    view = nd.ClickMe("train[:16]", cache_dir=cache_dir, progress=False)
    assert Path(view.location).name == "store-first3.zarr"
    seen = []
    for rank in range(2):
        batches = loader(view, 4, seed=2, num_replicas=2, rank=rank)
        batches.set_epoch(1)
        labels = [int(x) for batch in batches for x in batch["label"]]
        plan = EpochPlan(len(view), 4, seed=2, num_replicas=2, rank=rank)
        assert labels == view.labels[plan.indices(1)].tolist()
        seen.append(set(labels))
    assert seen[0].isdisjoint(seen[1]) and seen[0] | seen[1] <= set(range(16))


def test_concurrent_requests_build_one_prefix(split, cache_dir: Path) -> None:
    server, files = split
    spec = json.dumps({"name": "clickme-train", "url": server.url, "files": files})
    code = textwrap.dedent(
        f"""
        import json, sys, warnings
        sys.path.insert(0, {str(TESTS)!r})
        from support.shardgen import make_spec
        from neural_datasets import registry
        import neural_datasets as nd
        spec = json.loads({spec!r})
        registry.REGISTRY[spec["name"]] = make_spec(spec["name"], spec["url"], spec["files"])
        warnings.simplefilter("ignore")
        print(nd.ClickMe("train[:9]", cache_dir={str(cache_dir)!r}, progress=False).location)
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert [p.returncode for p in procs] == [0] * 3
    assert len(outputs) == 1 and outputs.pop().endswith("store-first2.zarr")
    assert _gets(server) == [1, 1, 0, 0, 0]
