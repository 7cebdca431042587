"""A resumable, retrying downloader for http(s):// and file:// URLs.

It follows pooch's downloader protocol (``downloader(url, output_file, pooch)``)
so it can be handed to :func:`pooch.retrieve`, and it is what
:func:`neural_datasets.fetch` uses for every raw file, the bundled samples
included (``file://``), so one code path is exercised everywhere.

Bytes go to ``<output_file>.part`` and the file appears under its final name
only once the whole body has arrived (one atomic rename). A dropped connection
or a 5xx answer is retried with exponential backoff, resuming with an HTTP
``Range`` request from the bytes already on disk; a server that ignores
``Range`` (answers 200) restarts the file from byte 0. Retries stop once no
byte has arrived for ``NEURAL_DATASETS_TIMEOUT`` seconds (default 30), so a
dead network fails in about that long. A missing network is not retried: a
host name that does not resolve or an unreachable network fails at the first
attempt, and refused connections (a server restarting?) are retried for
:data:`REFUSED_RETRY_S` seconds only; then one paragraph names the host, the
cause and what to do (``NEURAL_DATASETS_OFFLINE``, a mirror).
"""

from __future__ import annotations

import errno
import os
import socket
import time
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple
from urllib.parse import unquote, urlparse

from ..errors import DownloadError, option
from ..storage.remote import network_timeout

PART_SUFFIX = ".part"
REFUSED_RETRY_S = 3.0
"""How long refused connections are retried: long enough for a server to restart."""


class ResumableDownloader:
    """Download one URL to a file, resuming and retrying.

    Parameters
    ----------
    progress
        Show a tqdm byte progress bar.
    retries
        Attempts after the first one, for connection errors, truncated bodies
        and HTTP 5xx/429 answers. 4xx answers fail at once.
    backoff
        Seconds before the first retry; doubled after each.
    timeout
        ``(connect, read)`` timeouts in seconds for each request. Default:
        ``NEURAL_DATASETS_TIMEOUT`` (30 s) for reads, at most 10 s to connect.
    give_up_after
        Stop retrying once no byte has arrived for this many seconds.
        Default: ``NEURAL_DATASETS_TIMEOUT``.
    chunk_size
        Bytes per read; a dropped connection loses at most one read.

    Examples
    --------
    >>> import pooch                                             # doctest: +SKIP
    >>> pooch.retrieve(url, known_hash=None, downloader=ResumableDownloader())  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        progress: bool = True,
        retries: int = 5,
        backoff: float = 0.5,
        timeout: tuple[float, float] | None = None,
        give_up_after: float | None = None,
        chunk_size: int = 1 << 16,
    ) -> None:
        limit = network_timeout()
        self.progress = progress
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout or (min(10.0, limit), limit)
        self.give_up_after = limit if give_up_after is None else give_up_after
        self.chunk_size = chunk_size

    def __call__(
        self,
        url: str,
        output_file: str | os.PathLike[str],
        pooch: Any = None,
        check_only: bool = False,
    ) -> bool | None:
        if check_only:
            return self.exists(url)
        output = Path(output_file)
        output.parent.mkdir(parents=True, exist_ok=True)
        part = output.with_name(output.name + PART_SUFFIX)
        delay = self.backoff
        last_error: BaseException | None = None
        last_progress = first_try = time.monotonic()
        attempts = 0
        for attempts in range(1, self.retries + 2):
            have = _size_of(part)
            try:
                self._transfer(url, part)
            except _Retryable as exc:
                last_error = exc.__cause__ or exc
                if (unreachable := no_network(last_error)) is not None:
                    waited = time.monotonic() + delay - first_try
                    if (
                        not unreachable.refused
                        or waited > REFUSED_RETRY_S
                        or attempts > self.retries
                    ):
                        message = _unreachable_message(url, unreachable.cause, part, attempts)
                        raise DownloadError(message) from None
                if _size_of(part) != have:
                    last_progress = time.monotonic()
                if time.monotonic() + delay - last_progress > self.give_up_after:
                    break  # nothing arrives: the network or the server is down
                if attempts <= self.retries:
                    time.sleep(delay)
                    delay *= 2
                continue
            os.replace(part, output)
            return None
        raise DownloadError(
            f"Could not download {url} after {attempts} attempt{'s' if attempts > 1 else ''}: "
            f"{last_error} (no data for {time.monotonic() - last_progress:.0f} s).{_kept(part)} "
            f"Check the network, or use a mirror with {option('base_url')}."
        )

    def exists(self, url: str) -> bool:
        """True when ``url`` answers (a HEAD for http(s), a stat for file://)."""
        if urlparse(url).scheme == "file":
            return _file_path(url).is_file()
        import requests

        try:
            return requests.head(url, timeout=self.timeout, allow_redirects=True).ok
        except requests.RequestException:
            return False

    def _transfer(self, url: str, part: Path) -> None:
        if urlparse(url).scheme == "file":
            self._copy_file(url, part)
        elif urlparse(url).scheme in ("http", "https"):
            self._get(url, part)
        else:
            raise DownloadError(f"Unsupported URL scheme in {url!r}: use http(s):// or file://.")

    def _copy_file(self, url: str, part: Path) -> None:
        source = _file_path(url)
        try:
            total = source.stat().st_size
            with open(source, "rb") as src:
                have = _resume_point(part, total)
                src.seek(have)
                with open(part, "ab" if have else "wb") as out:
                    self._pump(src.read, out, have, total, source.name)
        except FileNotFoundError as exc:
            raise DownloadError(f"{source} does not exist (from {url}).") from exc

    def _get(self, url: str, part: Path) -> None:
        import requests

        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with requests.get(url, headers=headers, stream=True, timeout=self.timeout) as resp:
                if resp.status_code == 416:  # the part file is stale or longer than the file
                    part.unlink()
                    raise _Retryable(f"range not satisfiable for {url}; restarting")
                if resp.status_code >= 500 or resp.status_code == 429:
                    raise _Retryable(f"HTTP {resp.status_code} from {url}")
                if resp.status_code >= 400:
                    raise DownloadError(
                        f"HTTP {resp.status_code} {resp.reason} for {url}. Check the dataset name "
                        f"and {option('base_url')} (a mirror must keep the original relative "
                        f"layout)."
                    )
                resumed = resp.status_code == 206
                if not resumed:
                    have = 0
                total = _total_size(resp, have)
                with open(part, "ab" if resumed else "wb") as out:
                    chunks = resp.iter_content(self.chunk_size)
                    self._pump(lambda _n: next(chunks, b""), out, have, total, part.name[:-5])
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Retryable(str(exc)) from exc
        except requests.exceptions.ChunkedEncodingError as exc:
            raise _Retryable(f"connection dropped mid-body: {exc}") from exc

    def _pump(self, read: Any, out: BinaryIO, have: int, total: int | None, label: str) -> None:
        from tqdm.auto import tqdm

        with tqdm(
            total=total,
            initial=have,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=label,
            disable=not self.progress,
            leave=False,
        ) as bar:
            while block := read(self.chunk_size):
                out.write(block)
                have += len(block)
                bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        if total is not None and have != total:
            raise _Retryable(f"truncated body: got {have} of {total} bytes")


class _Retryable(Exception):
    pass


class NoRoute(NamedTuple):
    """Why a server cannot be reached at all, as opposed to a flaky transfer."""

    cause: str
    refused: bool
    """A refused connection, which a restarting server also gives: worth a short retry."""


def no_network(error: BaseException) -> NoRoute | None:
    """Why ``error`` shows there is no way to the server, or None for other errors.

    Looks through the chain of causes (requests wraps urllib3 wraps socket)
    for a host name that does not resolve, a refused connection or an
    unreachable network.

    Examples
    --------
    >>> import socket
    >>> no_network(socket.gaierror(-2, "Name or service not known")).cause
    'the host name could not be resolved (Name or service not known)'
    >>> no_network(TimeoutError("timed out")) is None
    True
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        cause = pending.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, socket.gaierror):
            return NoRoute(
                f"the host name could not be resolved ({cause.strerror or cause})", False
            )
        if isinstance(cause, ConnectionRefusedError):
            return NoRoute("the connection was refused (nothing listens at that port)", True)
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return NoRoute(f"the network is unreachable ({cause.strerror})", False)
        reason = getattr(cause, "reason", None)
        pending += [cause.__cause__, cause.__context__]
        pending += [reason] if isinstance(reason, BaseException) else []
        pending += [arg for arg in cause.args if isinstance(arg, BaseException)]
    return None


def _unreachable_message(url: str, cause: str, part: Path, attempts: int) -> str:
    host = urlparse(url).netloc
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    return (
        f"Could not download {url}: {cause}{tries}, so {host} cannot be reached from this machine. "
        f"Without a network, set NEURAL_DATASETS_OFFLINE=1 to use only what is already "
        f"cached (and bring files in with {option('from_dir')}); with one, check it (a proxy, "
        f"a firewall?) or use a mirror with {option('base_url')}.{_kept(part)}"
    )


def _kept(part: Path) -> str:
    """What the next fetch resumes from, when a partial download is on disk."""
    size = _size_of(part)
    if not size:
        return ""
    return f" The {size:,} bytes received so far are kept in {part}; the next fetch resumes there."


def _file_path(url: str) -> Path:
    parsed = urlparse(url)
    return Path(unquote(parsed.path))


def _size_of(part: Path) -> int:
    return part.stat().st_size if part.exists() else 0


def _resume_point(part: Path, total: int) -> int:
    have = part.stat().st_size if part.exists() else 0
    return have if have <= total else 0


def _total_size(resp: Any, have: int) -> int | None:
    content_range = resp.headers.get("Content-Range", "")
    if resp.status_code == 206 and "/" in content_range:
        start = int(content_range.split()[1].split("-")[0])
        if start != have:
            raise _Retryable(f"server resumed at byte {start}, expected {have}")
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    length = resp.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None
