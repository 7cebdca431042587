"""torch loader workers started from real scripts, with and without a ``__main__`` guard."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.httpserver import LocalHTTPServer

import neural_datasets as nd

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cache")
    nd.fetch("clickme-sample", cache_dir=root, progress=False)
    return root


@pytest.fixture(scope="module")
def store_url(cache: Path) -> Iterator[str]:
    with LocalHTTPServer(cache) as server:
        yield f"{server.url}/clickme-sample/store.zarr"


def _run(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


def test_unguarded_script_with_two_workers_works(cache: Path, tmp_path: Path) -> None:
    # forkserver as the default start method, as on Python >= 3.14 (and spawn on macOS):
    # workers that re-ran this unguarded script used to start loaders of their own.
    result = _run(
        tmp_path,
        f"""
        import multiprocessing
        multiprocessing.set_start_method("forkserver")
        import neural_datasets as nd
        from neural_datasets.torch import loader
        print("SCRIPT RAN")
        ds = nd.ClickMe("sample", cache_dir={str(cache)!r}, progress=False)
        labels = [int(x) for b in loader(ds, 8, shuffle=False, num_workers=2) for x in b["label"]]
        print("LABELS", labels == ds.read_batch(range(48))["label"].tolist())
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("SCRIPT RAN") == 1 and "LABELS True" in result.stdout


def test_unguarded_script_needing_forkserver_is_refused_at_once(
    store_url: str, tmp_path: Path
) -> None:
    result = _run(
        tmp_path,
        f"""
        import neural_datasets as nd
        from neural_datasets.torch import loader
        print("SCRIPT RAN")
        remote = nd.ClickMe.open({store_url!r})
        for batch in loader(remote, 8, num_workers=2, workers="processes"):
            pass
        """,
    )
    assert result.returncode == 1
    assert result.stdout.count("SCRIPT RAN") == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("neural_datasets.errors.NeuralDatasetsError: loader(num_workers>0)")
    assert "'forkserver'" in last and 'if __name__ == "__main__":' in last
    assert "line 6" in last and "num_workers=0" in last
    # Only the script's and our frames: nothing from inside multiprocessing or torch.
    frames = [line for line in result.stderr.splitlines() if line.strip().startswith("File ")]
    assert not [f for f in frames if "multiprocessing/" in f or "/torch/" in f], frames


def test_unguarded_script_with_default_workers_reads_with_threads(
    store_url: str, tmp_path: Path
) -> None:
    result = _run(
        tmp_path,
        f"""
        import neural_datasets as nd
        from neural_datasets.torch import loader
        print("SCRIPT RAN")
        remote = nd.ClickMe.open({store_url!r})
        print("BATCHES", sum(1 for _ in loader(remote, 8, num_workers=2)))
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("SCRIPT RAN") == 1  # threads: nothing re-runs the script
    assert "BATCHES 6" in result.stdout


def test_guarded_script_with_forkserver_workers_works(store_url: str, tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        f"""
        import neural_datasets as nd
        from neural_datasets.torch import loader

        def main():
            remote = nd.ClickMe.open({store_url!r})
            batches = loader(remote, 8, shuffle=False, num_workers=2, persistent_workers=False)
            print("BATCHES", sum(1 for _ in batches))

        if __name__ == "__main__":
            main()
        """,
    )
    assert result.returncode == 0, result.stderr
    assert "BATCHES 6" in result.stdout


def test_explicit_spawn_in_an_unguarded_script_is_refused(cache: Path, tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        f"""
        import neural_datasets as nd
        from neural_datasets.torch import loader
        ds = nd.ClickMe("sample", cache_dir={str(cache)!r}, progress=False)
        batches = loader(ds, 8, num_workers=2, multiprocessing_context="spawn")
        """,
    )
    assert result.returncode == 1
    assert "starts its workers with 'spawn'" in result.stderr and "line 5" in result.stderr
