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


class SilentServer:
    """A socket on 127.0.0.1 that accepts connections and never answers (a stalled server)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        host, port = self.listener.getsockname()
        self.url = f"http://{host}:{port}"

    def connections_attempted(self) -> int:
        """Connections the kernel completed for this socket (each waits in the backlog)."""
        self.listener.setblocking(False)
        count = 0
        while True:
            try:
                connection, _ = self.listener.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.listener.close()


def test_open_of_a_silent_server_fails_after_the_timeout(silent_server: SilentServer) -> None:
    # In a child process: on the old code this open never returned. The child's own timeout
    # (60 s) is the guard against a hang; the assertions are on behaviour, not the clock.
    code = textwrap.dedent(
        f"""
        import time, neural_datasets as nd
        start = time.monotonic()
        try:
            nd.ClickMe.open("{silent_server.url}/clickme-val/store.zarr")
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
    # It waited for the server (a load can only lengthen the wait, never shorten it) ...
    assert float(result.stdout.split("FAILED AFTER ")[1].split(" S")[0]) >= 1.5
    # ... for the configured limit, and says which setting that was.
    assert "No answer within 2 s" in result.stdout
    assert "NEURAL_DATASETS_TIMEOUT" in result.stdout
    # The positive control for the next test: a real attempt shows in the server's backlog.
    assert silent_server.connections_attempted() >= 1


def test_offline_mode_refuses_remote_opens_without_touching_the_network(
    silent_server: SilentServer,
) -> None:
    """The refusal comes before any connection and before tensorstore (the network layer) loads."""
    code = textwrap.dedent(
        f"""
        import sys, neural_datasets as nd
        for url in ("{silent_server.url}/store.zarr", "gs://bucket/clickme-val/store.zarr"):
            try:
                nd.ClickMe.open(url)
            except nd.OfflineError as exc:
                print(f"REFUSED: {{exc}}")
        print("TENSORSTORE LOADED:", "tensorstore" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_env(), "NEURAL_DATASETS_OFFLINE": "1"},
    )
    refusals = [line for line in result.stdout.splitlines() if line.startswith("REFUSED:")]
    assert len(refusals) == 2, result.stdout + result.stderr
    assert all("NEURAL_DATASETS_OFFLINE is set" in line for line in refusals)
    assert "TENSORSTORE LOADED: False" in result.stdout, result.stdout
    # The silent server never saw a connection: its backlog is empty.
    assert silent_server.connections_attempted() == 0


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
