"""Remote stores: a server that never answers fails within the timeout; offline mode refuses."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.httpserver import LocalHTTPServer

import neural_datasets as nd


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A socket on 127.0.0.1 that accepts connections and never answers (a stalled server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    host, port = listener.getsockname()
    try:
        yield f"http://{host}:{port}"
    finally:
        listener.close()


def test_open_of_a_silent_server_fails_within_the_timeout(silent_server: str) -> None:
    # In a child process with a hard timeout: on the old code this open never returned.
    code = textwrap.dedent(
        f"""
        import time, neural_datasets as nd
        start = time.monotonic()
        try:
            nd.ClickMe.open("{silent_server}/clickme-val/store.zarr")
        except nd.DownloadError as exc:
            print(f"FAILED AFTER {{time.monotonic() - start:.1f}} S: {{exc}}")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_env(), "NEURAL_DATASETS_TIMEOUT": "2"},
    )
    assert result.returncode == 0, result.stderr
    assert "FAILED AFTER" in result.stdout, result.stdout + result.stderr
    waited = float(result.stdout.split("FAILED AFTER ")[1].split(" S")[0])
    assert 1.5 <= waited < 20
    assert "No answer within 2 s" in result.stdout
    assert "NEURAL_DATASETS_TIMEOUT" in result.stdout


def test_offline_mode_refuses_remote_opens_at_once(silent_server: str) -> None:
    code = textwrap.dedent(
        f"""
        import time, neural_datasets as nd
        for url in ("{silent_server}/store.zarr", "gs://bucket/clickme-val/store.zarr"):
            start = time.monotonic()
            try:
                nd.ClickMe.open(url)
            except nd.OfflineError as exc:
                print(f"REFUSED IN {{time.monotonic() - start:.2f}} S: {{exc}}")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_env(), "NEURAL_DATASETS_OFFLINE": "1"},
    )
    refusals = [line for line in result.stdout.splitlines() if line.startswith("REFUSED IN")]
    assert len(refusals) == 2, result.stdout + result.stderr
    assert all(float(line.split()[2]) < 1.0 for line in refusals)
    assert all("NEURAL_DATASETS_OFFLINE is set" in line for line in refusals)


def test_a_bad_timeout_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from neural_datasets.storage.remote import network_timeout

    monkeypatch.setenv("NEURAL_DATASETS_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="NEURAL_DATASETS_TIMEOUT='soon'"):
        network_timeout()
    monkeypatch.setenv("NEURAL_DATASETS_TIMEOUT", "7.5")
    assert network_timeout() == 7.5


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "NEURAL_DATASETS_OFFLINE"}


def test_remote_attributes_are_read_with_the_same_bounds(tmp_path: Path) -> None:
    local = nd.ClickMe("sample", cache_dir=tmp_path, progress=False)
    with LocalHTTPServer(tmp_path) as server:
        remote = nd.ClickMe.open(f"{server.url}/clickme-sample/store.zarr")
        assert remote.attrs == local.attrs
        assert remote.source(47) == local.source(47)
