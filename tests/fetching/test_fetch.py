"""fetch(): real local HTTP server, checksums, offline mode, concurrency, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from support.httpserver import Fault
from support.shardgen import make_spec, write_shards

import neural_datasets as nd
from neural_datasets import registry
from neural_datasets.fetching.cache import dataset_cache
from neural_datasets.fetching.hashes import UnpinnedFileWarning

TESTS = Path(__file__).parents[1]


def _bundled(name: str) -> dict:
    ds = nd.ClickMe.open(nd.fetch(name, progress=False))
    return ds.read_batch(np.arange(len(ds)))


def test_sample_fetch_is_idempotent_and_matches_the_mirror(cache_dir: Path, http_mirror) -> None:
    local = nd.fetch("clickme-sample", cache_dir=cache_dir / "a", progress=False)
    assert local == cache_dir / "a" / "clickme-sample" / "store.zarr"
    assert nd.fetch("clickme-sample", cache_dir=cache_dir / "a", progress=False) == local
    remote = nd.fetch(
        "clickme-sample", cache_dir=cache_dir / "b", base_url=http_mirror.url, progress=False
    )
    a, b = nd.ClickMe.open(local), nd.ClickMe.open(remote)
    assert len(a) == len(b) == 48
    np.testing.assert_array_equal(
        a.read_batch(np.arange(48))["image"], b.read_batch(np.arange(48))["image"]
    )
    attrs = b.attrs["neural_datasets"]
    assert attrs["dataset"] == "clickme-sample" and attrs["format_version"] == 1
    assert (
        attrs["sources"]["clickme-sample-0.tfrecords"]
        == registry.get_spec("clickme-sample").files[0].sha256
    )


def test_trust_on_first_use_records_and_then_verifies(cache_dir: Path, served) -> None:
    server, files = served
    with pytest.warns(UnpinnedFileWarning, match="no published checksum"):
        nd.fetch("clickme-test", cache_dir=cache_dir, progress=False)
    records = json.loads((cache_dir / "clickme-test" / "hashes.json").read_text())
    assert set(records) == set(files) and all(len(r["sha256"]) == 64 for r in records.values())
    # A second conversion (store removed, raw kept) verifies against the record, silently.
    import shutil

    shutil.rmtree(cache_dir / "clickme-test" / "store.zarr")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nd.fetch("clickme-test", cache_dir=cache_dir, progress=False)
    assert server.state.count(files[0]) == 1  # raw file reused, not downloaded again


def test_resume_after_dropped_connection(cache_dir: Path, served) -> None:
    server, files = served
    server.state.add_fault(files[0], Fault(drop_after=200_000))
    with pytest.warns(UnpinnedFileWarning):
        store = nd.fetch("clickme-test", cache_dir=cache_dir, progress=False)
    ranges = [r for m, p, r in server.state.requests if p == "/" + files[0]]
    # Whole 64 KiB reads reached the disk before the drop; the retry asks for the rest.
    assert ranges == [None, f"bytes={3 * 65536}-"]
    assert len(nd.ClickMe.open(store)) == 48


def test_retry_on_503_then_succeed(cache_dir: Path, served) -> None:
    server, files = served
    server.state.add_fault(files[1], Fault(status=503), Fault(status=503))
    with pytest.warns(UnpinnedFileWarning):
        nd.fetch("clickme-test", cache_dir=cache_dir, progress=False)
    assert server.state.count(files[1]) == 3


def test_persistent_503_fails_clearly_and_keeps_nothing_final(
    cache_dir: Path, served, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, files = served
    server.state.add_fault(files[0], *[Fault(status=503)] * 10)
    from neural_datasets.fetching import download as downloaders

    monkeypatch.setattr(downloaders.time, "sleep", lambda s: None)
    with pytest.raises(nd.DownloadError, match=r"after 6 attempts: HTTP 503"):
        nd.fetch("clickme-test", cache_dir=cache_dir, progress=False)
    cache = dataset_cache("clickme-test", cache_dir)
    assert not cache.raw_file(files[0]).exists() and not cache.is_published()


def test_truncated_body_is_never_published(cache_dir: Path, served, monkeypatch) -> None:
    server, files = served
    from neural_datasets.fetching import download as downloaders

    monkeypatch.setattr(downloaders.time, "sleep", lambda s: None)
    server.state.add_fault(files[0], *[Fault(drop_after=5000)] * 6)
    with pytest.raises(nd.DownloadError, match="truncated|dropped|IncompleteRead|Connection"):
        nd.fetch("clickme-test", cache_dir=cache_dir, progress=False)
    cache = dataset_cache("clickme-test", cache_dir)
    assert not cache.raw_file(files[0]).exists()
    part = cache.raw_file(files[0]).with_name(files[0] + ".part")
    assert part.exists() and part.stat().st_size == 0  # nothing of a whole 64 KiB read arrived
    with pytest.warns(UnpinnedFileWarning):
        store = nd.fetch("clickme-test", cache_dir=cache_dir, progress=False)
    assert len(nd.ClickMe.open(store)) == 48


def test_wrong_content_is_moved_aside_with_a_clear_error(cache_dir: Path, http_mirror) -> None:
    spec = registry.get_spec("clickme-sample")
    http_mirror.state.add_fault(spec.files[0].path, Fault(body=b"<html>not the file</html>"))
    with pytest.raises(nd.ChecksumMismatchError) as info:
        nd.fetch("clickme-sample", cache_dir=cache_dir, base_url=http_mirror.url, progress=False)
    message = str(info.value)
    assert spec.files[0].path in message and spec.files[0].sha256 in message
    assert "moved aside" in message and "pinned in the registry" in message
    quarantined = list((cache_dir / "clickme-sample" / "quarantine").iterdir())
    assert len(quarantined) == 1 and quarantined[0].read_bytes() == b"<html>not the file</html>"
    assert not dataset_cache("clickme-sample", cache_dir).is_published()
    nd.fetch("clickme-sample", cache_dir=cache_dir, base_url=http_mirror.url, progress=False)


def test_raw_file_damaged_on_disk_is_replaced(cache_dir: Path, http_mirror, capsys) -> None:
    nd.fetch("clickme-sample", cache_dir=cache_dir, base_url=http_mirror.url, progress=False)
    cache = dataset_cache("clickme-sample", cache_dir)
    import shutil

    shutil.rmtree(cache.store)
    raw = cache.raw_file("clickme-sample-0.tfrecords")
    raw.write_bytes(raw.read_bytes()[:-10] + b"0123456789")
    nd.fetch("clickme-sample", cache_dir=cache_dir, base_url=http_mirror.url, progress=False)
    assert "Downloading it again" in capsys.readouterr().err
    assert len(list(cache.quarantine.iterdir())) == 1


def test_offline_mode_never_downloads(cache_dir: Path, served, monkeypatch) -> None:
    server, _ = served
    monkeypatch.setenv("NEURAL_DATASETS_OFFLINE", "1")
    with pytest.raises(nd.OfflineError, match="NEURAL_DATASETS_OFFLINE"):
        nd.fetch("clickme-test", cache_dir=cache_dir, progress=False)
    assert server.state.requests == []
    # Bundled samples are file:// and need no network.
    assert nd.fetch("clickme-sample", cache_dir=cache_dir, progress=False).exists()


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(nd.UnknownDatasetError, match="Did you mean: clickme-val"):
        nd.fetch("clickme-vall")


def test_records_written_by_tensorflow_convert_to_tensorflows_pixels(
    cache_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    tf = pytest.importorskip("tensorflow")
    files = write_shards(tmp_path / "tf", 2, 10, with_tensorflow=True)
    monkeypatch.setitem(
        registry.REGISTRY, "clickme-tf", make_spec("clickme-tf", (tmp_path / "tf").as_uri(), files)
    )
    with pytest.warns(UnpinnedFileWarning):
        ds = nd.ClickMe.open(nd.fetch("clickme-tf", cache_dir=cache_dir, progress=False))
    batch = ds.read_batch(np.arange(20))
    parsed = list(
        tf.data.TFRecordDataset([str(tmp_path / "tf" / f) for f in files]).map(
            lambda r: tf.io.parse_single_example(
                r,
                {
                    "image": tf.io.FixedLenFeature([], tf.string),
                    "heatmap": tf.io.FixedLenFeature([], tf.string),
                    "label": tf.io.FixedLenFeature([], tf.int64),
                },
            )
        )
    )
    for i, example in enumerate(parsed):
        # The default decode_jpeg, as Harmonization's loader calls it: pixel-exact.
        np.testing.assert_array_equal(
            batch["image"][i], tf.io.decode_jpeg(example["image"], channels=3)
        )
        np.testing.assert_array_equal(
            batch["heatmap"][i], tf.io.decode_jpeg(example["heatmap"], channels=1)[..., 0]
        )
        assert batch["label"][i] == int(example["label"])
    assert ds.source(13) == ("part-1.tfrecords", 3)


def _spawn_fetch(
    name: str, cache_dir: Path, registry_json: str, extra: str = ""
) -> subprocess.Popen:
    code = textwrap.dedent(
        f"""
        import json, warnings, sys
        sys.path.insert(0, {str(TESTS)!r})
        from support.shardgen import make_spec
        from neural_datasets import registry, fetch
        spec = json.loads({registry_json!r})
        registry.REGISTRY[spec["name"]] = make_spec(spec["name"], spec["url"], spec["files"])
        warnings.simplefilter("ignore")
        {extra}
        print(fetch(spec["name"], cache_dir={str(cache_dir)!r}, progress=False))
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_four_processes_fetching_at_once_download_once(cache_dir: Path, served) -> None:
    server, files = served
    spec = json.dumps({"name": "clickme-test", "url": server.url, "files": files})
    procs = [_spawn_fetch("clickme-test", cache_dir, spec) for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    assert len({out.strip() for out, _ in outputs}) == 1
    assert [server.state.count(f) for f in files] == [1, 1]
    assert nd.verify("clickme-test", cache_dir=cache_dir, progress=False) == []


def test_killed_during_download_resumes(cache_dir: Path, served) -> None:
    server, files = served
    server.state.add_fault(files[0], Fault(stall_after=300_000))
    spec = json.dumps({"name": "clickme-test", "url": server.url, "files": files})
    proc = _spawn_fetch("clickme-test", cache_dir, spec)
    part = dataset_cache("clickme-test", cache_dir).raw_file(files[0] + ".part")
    _wait_for(lambda: part.exists() and part.stat().st_size >= 4 * 65536)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = part.stat().st_size
    assert not dataset_cache("clickme-test", cache_dir).is_published()
    with pytest.warns(UnpinnedFileWarning):
        store = nd.fetch("clickme-test", cache_dir=cache_dir, progress=False)
    assert [r for m, p, r in server.state.requests if p == "/" + files[0]][-1] == f"bytes={kept}-"
    assert (
        len(nd.ClickMe.open(store)) == 48
        and nd.verify("clickme-test", cache_dir=cache_dir, progress=False) == []
    )


def test_killed_during_conversion_resumes(cache_dir: Path, tmp_path: Path, monkeypatch) -> None:
    files = write_shards(tmp_path / "big", 5, 128)
    url = (tmp_path / "big").as_uri()
    monkeypatch.setitem(registry.REGISTRY, "clickme-big", make_spec("clickme-big", url, files))
    spec = json.dumps({"name": "clickme-big", "url": url, "files": files})
    slow = "import neural_datasets.datasets.clickme.convert as c; c.SHARDS_PER_UNIT = 2"
    proc = _spawn_fetch("clickme-big", cache_dir, spec, slow)
    cache = dataset_cache("clickme-big", cache_dir)
    progress = cache.building / "_progress"
    _wait_for(lambda: progress.is_dir() and any(progress.glob("unit-*.json")))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {p.name for p in progress.glob("unit-*.json")}
    assert done_before and not cache.is_published()
    assert len(done_before) < 5  # 640 samples in 5 units: killed part-way
    store = nd.fetch("clickme-big", cache_dir=cache_dir, progress=False)
    reference = nd.fetch("clickme-big", cache_dir=tmp_path / "fresh", progress=False)
    a, b = nd.ClickMe.open(store), nd.ClickMe.open(reference)
    for key in ("image", "heatmap", "label"):
        np.testing.assert_array_equal(
            a.read_batch(np.arange(640))[key], b.read_batch(np.arange(640))[key]
        )
    assert nd.verify("clickme-big", cache_dir=cache_dir, progress=False) == []


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def test_read_only_cache(tmp_path: Path) -> None:
    """A complete store in a read-only cache is readable; an empty read-only cache fails clearly."""
    full, empty = tmp_path / "full", tmp_path / "empty"
    nd.fetch("clickme-sample", cache_dir=full, progress=False)
    empty.mkdir()
    script = tmp_path / "check.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import neural_datasets as nd
            ds = nd.ClickMe("sample", cache_dir={str(full)!r}, progress=False)
            assert ds.read_batch([0, 47])["image"].shape == (2, 256, 256, 3)
            try:
                nd.fetch("clickme-sample", cache_dir={str(empty)!r}, progress=False)
            except nd.CacheNotWritableError as exc:
                print("REFUSED:", exc)
            """
        )
    )
    result = subprocess.run(
        _read_only(full, empty, [sys.executable, str(script)]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "REFUSED: Cannot write to the cache" in result.stdout
    assert "cache_dir=" in result.stdout  # the Python spelling of --cache-dir


def _read_only(full: Path, empty: Path, command: list[str]) -> list[str]:
    """Run ``command`` with ``full`` and ``empty`` read-only, as the kernel enforces it.

    Root ignores permission bits, so as root the folders are bind-mounted
    read-only in a private mount namespace instead.
    """
    if os.geteuid() != 0:
        for path in (full, *full.rglob("*"), empty):
            path.chmod(path.stat().st_mode & ~0o222)
        return command
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("running as root without mount namespaces: cannot make a read-only cache")
    mounts = " && ".join(f"mount --bind -o ro {p} {p}" for p in (full, empty))
    return ["unshare", "-m", "sh", "-c", f'{mounts} && exec "$@"', "sh", *command]
