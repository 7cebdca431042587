"""The neural-datasets command line: commands, exit codes, messages without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from neural_datasets.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "neural_datasets.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_fetch_verify_path_preview_rm(tmp_path: Path, capsys) -> None:
    cache = ["--cache-dir", str(tmp_path)]
    assert main(["fetch", "clickme-sample", "--no-progress", *cache]) == 0
    store = capsys.readouterr().out.strip()
    assert store == str(tmp_path / "clickme-sample" / "store.zarr")
    assert main(["verify", "clickme-sample", "--no-progress", *cache]) == 0
    assert "ok" in capsys.readouterr().out
    assert (
        main(["path", "clickme-sample", *cache]) == 0 and capsys.readouterr().out.strip() == store
    )
    assert main(["list", *cache]) == 0
    listing = capsys.readouterr().out
    assert "clickme-sample" in listing and "cached" in listing and "clickme-train" in listing
    assert (
        main(["preview", "clickme-sample", "-o", str(tmp_path / "p.png"), "-n", "4", *cache]) == 0
    )
    with Image.open(tmp_path / "p.png") as img:
        assert img.size == (1048, 678)  # title, 2 rows of 2 (image | overlay) pairs, colour bar
    assert main(["rm", "clickme-sample", *cache]) == 0
    assert not Path(store).exists()


def test_info_describes_files_and_citation(capsys) -> None:
    assert main(["info", "clickme-val", "--no-lookup"]) == 0  # tests never touch the internet
    out = capsys.readouterr().out
    assert "18 (0 pinned)" in out and "val/val-0.tfrecords" in out and "Harmonizing" in out


def test_pin_before_fetch_says_fetch_first(tmp_path: Path, capsys) -> None:
    assert main(["pin", "clickme-val", "--cache-dir", str(tmp_path)]) == 1
    assert "fetch it first" in capsys.readouterr().err


def test_pin_prints_registry_lines_after_first_use(tmp_path: Path, capsys, monkeypatch) -> None:
    import hashlib

    from support.shardgen import make_spec, write_shards

    from neural_datasets import registry

    files = write_shards(tmp_path / "shards", 2, 3)
    spec = make_spec("clickme-pin", (tmp_path / "shards").as_uri(), files)
    monkeypatch.setitem(registry.REGISTRY, spec.name, spec)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["fetch", spec.name, "--no-progress", *cache]) == 0
    capsys.readouterr()
    assert main(["pin", spec.name, *cache]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = []
    for name in files:
        data = (tmp_path / "shards" / name).read_bytes()
        expected.append(f"clickme-pin {name} {hashlib.sha256(data).hexdigest()} {len(data)}")
    assert sorted(lines) == sorted(expected)


def test_unknown_name_exit_2_with_suggestion() -> None:
    result = run("fetch", "clickme-vla")
    assert result.returncode == 2
    assert "Did you mean: clickme-val" in result.stderr and "Traceback" not in result.stderr


def test_usage_error_exit_2() -> None:
    assert run("fetch").returncode == 2
    assert run("frobnicate").returncode == 2


def test_network_failure_is_one_message_exit_1(tmp_path: Path, capsys, monkeypatch) -> None:
    from neural_datasets.fetching import download as downloaders

    monkeypatch.setattr(downloaders.time, "sleep", lambda seconds: None)  # skip the backoff
    url = "http://127.0.0.1:9"  # the discard port: connection refused
    args = ["fetch", "clickme-sample", "--cache-dir", str(tmp_path), "--no-progress"]
    assert main([*args, "--base-url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("neural-datasets: error: Could not download") and err.count("\n") == 1


def test_verify_before_fetch_is_a_clear_failure(tmp_path: Path) -> None:
    result = run("verify", "clickme-sample", "--cache-dir", str(tmp_path))
    assert result.returncode == 1 and "fetch it first" in result.stderr


def test_version_and_help() -> None:
    from neural_datasets import __version__

    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"neural-datasets {__version__}"
    usage = run("--help")
    assert usage.returncode == 0
    for command in ("list", "info", "fetch", "verify", "path", "rm", "pin", "preview"):
        assert command in usage.stdout
