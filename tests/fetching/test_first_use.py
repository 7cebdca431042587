"""First use as users write it: unguarded scripts, ``python -c``, DataLoader workers.

Each case runs a real process with a timeout. Before the conversion moved to
threads, a ``spawn`` process pool re-imported the unguarded script in every
worker, which fetched again and waited on its parent's lock forever.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from support.httpserver import LocalHTTPServer
from support.shardgen import make_spec, write_shards

import neural_datasets as nd
from neural_datasets import registry
from neural_datasets.fetching.hashes import UnpinnedFileWarning
from neural_datasets.storage.verify import verify_store

TESTS = Path(__file__).parents[1]
SHARDS, PER_SHARD = 4, 128  # 512 samples: 4 conversion units, several threads busy


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """Four unpinned ClickMe-format shards on a local HTTP server."""
    root = tmp_path_factory.mktemp("www")
    files = write_shards(root, SHARDS, PER_SHARD)
    with LocalHTTPServer(root) as server:
        yield server, files


def _prelude(server: LocalHTTPServer, files: list[str], cache: Path) -> str:
    """Registers the served shards as 'clickme-local', as a lab's own registry entry would."""
    return textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from support.shardgen import make_spec
        import neural_datasets as nd
        from neural_datasets import registry
        registry.REGISTRY["clickme-local"] = make_spec(
            "clickme-local", {server.url!r}, {json.dumps(files)}
        )
        CACHE = {str(cache)!r}
        """
    )


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _expected_labels() -> list[int]:
    return [i % 1000 for i in range(SHARDS * PER_SHARD)]


def test_unguarded_script_converts_a_multi_shard_dataset(served, tmp_path: Path) -> None:
    server, files = served
    script = tmp_path / "train.py"  # no `if __name__ == "__main__":`, as users write it
    script.write_text(
        _prelude(server, files, tmp_path / "cache")
        + textwrap.dedent(
            """
            print("SCRIPT RAN")
            ds = nd.ClickMe.open(nd.fetch("clickme-local", cache_dir=CACHE, progress=False))
            print("LABELS", ds.read_batch(range(len(ds)))["label"].tolist())
            """
        )
    )
    before = [server.state.count(f) for f in files]  # the server is shared by the module
    result = _run([sys.executable, str(script)], tmp_path)
    assert result.stdout.count("SCRIPT RAN") == 1  # never re-imported by a worker
    labels = json.loads(result.stdout.split("LABELS ")[1])
    assert labels == _expected_labels()
    assert [server.state.count(f) - n for f, n in zip(files, before)] == [1] * SHARDS
    assert verify_store(tmp_path / "cache" / "clickme-local" / "store.zarr") == []


def test_python_dash_c(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server, files = served
    code = _prelude(server, files, tmp_path / "cache") + textwrap.dedent(
        """
        ds = nd.ClickMe.open(nd.fetch("clickme-local", cache_dir=CACHE, progress=False))
        print("SAMPLES", len(ds), ds.read_batch([511])["label"][0])
        """
    )
    result = _run([sys.executable, "-c", code], tmp_path)
    assert "SAMPLES 512 511" in result.stdout


def test_first_use_inside_a_dataloader_worker(served, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    server, files = served
    script = tmp_path / "worker_first_use.py"
    script.write_text(
        _prelude(server, files, tmp_path / "cache")
        + textwrap.dedent(
            """
            import torch
            from torch.utils.data import DataLoader, Dataset

            class FetchInWorker(Dataset):
                # The store is opened lazily, in the worker: its first use converts there.
                def __len__(self):
                    return 2

                def __getitem__(self, i):
                    ds = nd.ClickMe.open(nd.fetch("clickme-local", cache_dir=CACHE, progress=False))
                    return int(ds.read_batch([100 + i])["label"][0])

            batches = DataLoader(FetchInWorker(), batch_size=None, num_workers=1)
            print("LABELS", [int(x) for x in batches])
            """
        )
    )
    result = _run([sys.executable, str(script)], tmp_path)
    assert "LABELS [100, 101]" in result.stdout


def test_one_warning_per_fetch_names_the_pin_command(served, tmp_path: Path, monkeypatch) -> None:
    server, files = served
    monkeypatch.setitem(
        registry.REGISTRY, "clickme-local", make_spec("clickme-local", server.url, files)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nd.fetch("clickme-local", cache_dir=tmp_path / "cache", progress=False)
    unpinned = [w for w in caught if issubclass(w.category, UnpinnedFileWarning)]
    assert len(unpinned) == 1
    message = str(unpinned[0].message)
    assert f"{SHARDS} files have no published checksum" in message
    assert "neural-datasets pin clickme-local" in message
    assert str(tmp_path / "cache" / "clickme-local" / "hashes.json") in message


def test_cli_fetch_prints_one_warning(served, tmp_path: Path, monkeypatch, capsys) -> None:
    from neural_datasets.cli import main

    server, files = served
    monkeypatch.setitem(
        registry.REGISTRY, "clickme-local", make_spec("clickme-local", server.url, files)
    )
    argv = ["fetch", "clickme-local", "--cache-dir", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "neural-datasets pin clickme-local" in err


def test_loader_reads_what_was_converted(served, tmp_path: Path, monkeypatch) -> None:
    """The threaded conversion puts every record where the sequential order says."""
    server, files = served
    monkeypatch.setitem(
        registry.REGISTRY, "clickme-local", make_spec("clickme-local", server.url, files)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnpinnedFileWarning)
        ds = nd.ClickMe.open(nd.fetch("clickme-local", cache_dir=tmp_path, progress=False))
    assert [ds.source(i) for i in (0, 127, 128, 511)] == [
        (files[0], 0),
        (files[0], 127),
        (files[1], 0),
        (files[3], 127),
    ]
    np.testing.assert_array_equal(ds.read_batch(np.arange(512))["label"], _expected_labels())


def test_first_use_in_two_ddp_ranks(served, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    server, files = served
    script = tmp_path / "ddp_train.py"  # unguarded; torchrun runs it once per rank
    script.write_text(
        _prelude(server, files, tmp_path / "cache")
        + textwrap.dedent(
            """
            import os
            ds = nd.ClickMe.open(nd.fetch("clickme-local", cache_dir=CACHE, progress=False))
            print("RANK", os.environ["RANK"], len(ds), flush=True)
            """
        )
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(script),
    ]
    before = [server.state.count(f) for f in files]
    result = _run(command, tmp_path)
    assert sorted(line for line in result.stdout.splitlines() if line.startswith("RANK")) == [
        "RANK 0 512",
        "RANK 1 512",
    ]
    # One rank downloaded and converted; the other waited for it.
    assert [server.state.count(f) - n for f, n in zip(files, before)] == [1] * SHARDS
