"""A real HTTP server on 127.0.0.1 for offline tests, with Range support and fault injection.

It serves one directory. Faults are set per URL path and consumed request by
request, so a test can script "503 twice, then drop the connection after 1000
bytes, then serve normally".
"""

from __future__ import annotations

import os
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Fault:
    """One scripted misbehaviour for one request.

    ``status``: answer with this HTTP status and no body. ``drop_after``: send
    the headers for the whole body, then close after this many body bytes.
    ``body``: send these bytes instead of the file (wrong content).
    ``stall_after``: send this many body bytes, then hang (until the server stops).
    """

    status: int | None = None
    drop_after: int | None = None
    body: bytes | None = None
    stall_after: int | None = None


@dataclass
class ServerState:
    root: Path
    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ranges: bool = True
    stop: threading.Event = field(default_factory=threading.Event)

    def add_fault(self, path: str, *faults: Fault) -> None:
        with self.lock:
            self.faults["/" + path.lstrip("/")].extend(faults)

    def count(self, path: str, method: str = "GET") -> int:
        path = "/" + path.lstrip("/")
        return sum(1 for m, p, _ in self.requests if p == path and m == method)


def _handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        def _serve(self, head: bool) -> None:
            path = self.path.split("?", 1)[0]
            with state.lock:
                state.requests.append((self.command, path, self.headers.get("Range")))
                fault = state.faults[path].pop(0) if state.faults.get(path) else None
            if fault and fault.status:
                self._reply(fault.status, b"")
                return
            file = (state.root / path.lstrip("/")).resolve()
            if state.root.resolve() not in file.parents or not file.is_file():
                self._reply(404, b"not found")
                return
            data = fault.body if fault and fault.body is not None else file.read_bytes()
            start, end, status = 0, len(data), 200
            match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
            if match and state.ranges:
                first, last = match.groups()
                if first == "":
                    start = max(len(data) - int(last), 0)
                else:
                    start = int(first)
                    end = min(int(last) + 1, len(data)) if last else len(data)
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            body = data[start:end]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            self.end_headers()
            if head:
                return
            if fault and fault.drop_after is not None:
                self.wfile.write(body[: fault.drop_after])
                self.wfile.flush()
                self.close_connection = True
                return
            if fault and fault.stall_after is not None:
                self.wfile.write(body[: fault.stall_after])
                self.wfile.flush()
                state.stop.wait()
                self.close_connection = True
                return
            self.wfile.write(body)

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class LocalHTTPServer:
    """Serve ``root`` on 127.0.0.1 at an ephemeral port, in a background thread."""

    def __init__(self, root: Path) -> None:
        self.state = ServerState(Path(root))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LocalHTTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.stop.set()
        self._server.shutdown()
        self._server.server_close()


def serve_forever(root: str, port_file: str) -> None:
    """Entry point for a server in its own process (used by multi-process tests)."""
    with LocalHTTPServer(Path(root)) as server:
        Path(port_file).write_text(server.url)
        threading.Event().wait()


if __name__ == "__main__":
    import sys

    serve_forever(sys.argv[1], sys.argv[2])
    os._exit(0)
