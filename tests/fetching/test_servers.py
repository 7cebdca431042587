"""Servers as they are: no Range support, no Content-Length, redirects, silence."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.shardgen import make_spec, write_shards

import neural_datasets as nd
from neural_datasets import registry
from neural_datasets.fetching.download import ResumableDownloader
from neural_datasets.fetching.hashes import UnpinnedFileWarning


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "www" / "blob.bin"
    path.parent.mkdir()
    path.write_bytes(bytes(range(256)) * 4000)
    return path


def test_stdlib_server_ignores_range_and_the_file_restarts_from_byte_0(
    payload: Path, tmp_path: Path
) -> None:
    # A stale partial download holding other bytes: a resumed append would corrupt it.
    out = tmp_path / "blob.bin"
    Path(f"{out}.part").write_bytes(b"\xff" * 5000)
    handler = functools.partial(_Quiet, directory=str(payload.parent))
    with _serve(handler) as url:  # type: ignore[arg-type]
        ResumableDownloader(progress=False)(f"{url}/blob.bin", out)
    assert out.read_bytes() == payload.read_bytes()


def test_no_content_length(payload: Path, tmp_path: Path) -> None:
    body = payload.read_bytes()

    class NoLength(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection closes

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            for start in range(0, len(body), 4096):
                self.wfile.write(body[start : start + 4096])

        def log_message(self, *args: object) -> None:
            pass

    with _serve(NoLength) as url:
        ResumableDownloader(progress=False)(f"{url}/blob.bin", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == body


def test_a_whole_fetch_through_a_redirect(tmp_path: Path, monkeypatch, cache_dir: Path) -> None:
    files = write_shards(tmp_path / "www", 2, 8)
    with _serve(functools.partial(_Quiet, directory=str(tmp_path / "www"))) as target:  # type: ignore[arg-type]

        class Redirect(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(302)
                self.send_header("Location", target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        with _serve(Redirect) as front:
            spec = make_spec("clickme-moved", front, files)
            monkeypatch.setitem(registry.REGISTRY, "clickme-moved", spec)
            with pytest.warns(UnpinnedFileWarning):
                store = nd.fetch("clickme-moved", cache_dir=cache_dir, progress=False)
    assert len(nd.ClickMe.open(store)) == 16


def test_a_silent_server_fails_within_the_timeout(tmp_path: Path) -> None:
    """Accepts the connection, never answers: the download gives up in about the timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/blob.bin"
    code = textwrap.dedent(
        f"""
        import time
        from neural_datasets.errors import DownloadError
        from neural_datasets.fetching.download import ResumableDownloader
        start = time.monotonic()
        try:
            ResumableDownloader(progress=False)({url!r}, {str(tmp_path / "x")!r})
        except DownloadError as exc:
            print(f"GAVE UP AFTER {{time.monotonic() - start:.1f}} S: {{exc}}")
        """
    )
    env = {**os.environ, "NEURAL_DATASETS_TIMEOUT": "2"}
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
        )
    finally:
        listener.close()
    assert "GAVE UP AFTER" in result.stdout, result.stdout + result.stderr
    # It gives up after the first silent attempt instead of retrying into the backoff; the
    # child's timeout (60 s) guards against a hang, and no clock is compared with a constant.
    assert "after 1 attempt:" in result.stdout, result.stdout
    assert "no data for" in result.stdout and "bytes received" not in result.stdout  # none were
