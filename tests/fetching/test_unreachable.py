"""No network: one paragraph at the first failure, in the words of the interface in use.

The unreachable hosts are local: a name under ``.invalid`` (RFC 2606) never
resolves, and a port we just closed refuses connections.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import neural_datasets as nd
from neural_datasets.cli import main
from neural_datasets.errors import DownloadError
from neural_datasets.fetching import download

UNRESOLVABLE = "http://neural-datasets-test.invalid/mirror"


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the downloader asked for between attempts (not waited)."""
    asked: list[float] = []
    monkeypatch.setattr(download.time, "sleep", asked.append)
    return asked


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> list[str]:
    """The URLs the downloader tried, in order."""
    tried: list[str] = []
    transfer = download.ResumableDownloader._transfer

    def counted(self: download.ResumableDownloader, url: str, part: Path) -> None:
        tried.append(url)
        transfer(self, url, part)

    monkeypatch.setattr(download.ResumableDownloader, "_transfer", counted)
    return tried


def test_an_unresolvable_host_fails_at_once_naming_host_cause_and_remedies(
    tmp_path: Path, attempts: list[str], sleeps: list[float]
) -> None:
    with pytest.raises(DownloadError) as caught:
        nd.fetch("clickme-sample", base_url=UNRESOLVABLE, cache_dir=tmp_path, progress=False)
    message = str(caught.value)
    assert (len(attempts), sleeps) == (1, [])  # a missing network is not retried
    assert "neural-datasets-test.invalid cannot be reached" in message
    assert "host name could not be resolved" in message
    assert "NEURAL_DATASETS_OFFLINE=1" in message
    assert "base_url=" in message and "--base-url" not in message  # Python's spelling
    assert ".part" not in message  # nothing was received, so nothing is kept
    assert "\n" not in message  # one paragraph
    assert not (tmp_path / "clickme-sample").exists()  # no lock, no empty raw folder


def test_the_cli_says_it_on_its_own_lines_with_its_options(
    tmp_path: Path,
    closed_port: int,
    attempts: list[str],
    sleeps: list[float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = f"http://127.0.0.1:{closed_port}"
    args = ["fetch", "clickme-sample", "--cache-dir", str(tmp_path), "--base-url", base]
    assert main(args) == 1
    err = capsys.readouterr().err
    # A refused connection (a server restarting?) is retried briefly, not for the full timeout.
    assert len(attempts) == len(sleeps) + 1 > 1
    assert sum(sleeps[:-1]) <= download.REFUSED_RETRY_S
    message = err.splitlines()[-1]
    assert message.startswith("neural-datasets: error: Could not download ")
    assert f"127.0.0.1:{closed_port} cannot be reached" in message
    assert (
        f"connection was refused (nothing listens at that port) (after {len(attempts)} " in message
    )
    assert "--base-url" in message and "--from" in message and "base_url=" not in message
    assert not (tmp_path / "clickme-sample").exists()


def test_a_partial_download_is_still_reported_as_kept(tmp_path: Path) -> None:
    part = tmp_path / "file.part"
    assert download._kept(part) == ""
    part.write_bytes(b"x" * 1234)
    assert download._kept(part) == (
        f" The 1,234 bytes received so far are kept in {part}; the next fetch resumes there."
    )
