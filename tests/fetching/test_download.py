"""The resumable downloader on its own: pooch protocol, file://, HTTP errors."""

from __future__ import annotations

from pathlib import Path

import pooch
import pytest
from support.httpserver import Fault, LocalHTTPServer

from neural_datasets.errors import DownloadError
from neural_datasets.fetching.download import ResumableDownloader


@pytest.fixture
def site(tmp_path: Path):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "blob.bin").write_bytes(bytes(range(256)) * 1000)
    with LocalHTTPServer(tmp_path / "www") as server:
        yield server


def test_works_as_a_pooch_downloader(tmp_path: Path, site) -> None:
    path = pooch.retrieve(
        f"{site.url}/blob.bin",
        known_hash=None,
        path=tmp_path / "p",
        downloader=ResumableDownloader(progress=False),
    )
    assert Path(path).read_bytes() == bytes(range(256)) * 1000


def test_resumes_a_part_file(tmp_path: Path, site) -> None:
    out = tmp_path / "blob.bin"
    (tmp_path / "blob.bin.part").write_bytes((bytes(range(256)) * 1000)[:70_000])
    ResumableDownloader(progress=False)(f"{site.url}/blob.bin", out)
    assert out.read_bytes() == bytes(range(256)) * 1000
    assert site.state.requests[-1][2] == "bytes=70000-"
    assert not (tmp_path / "blob.bin.part").exists()


def test_server_without_range_support_restarts(tmp_path: Path, site) -> None:
    site.state.ranges = False
    (tmp_path / "blob.bin.part").write_bytes(b"stale bytes")
    ResumableDownloader(progress=False)(f"{site.url}/blob.bin", tmp_path / "blob.bin")
    assert (tmp_path / "blob.bin").read_bytes() == bytes(range(256)) * 1000


def test_stale_part_longer_than_the_file_restarts(tmp_path: Path, site) -> None:
    (tmp_path / "blob.bin.part").write_bytes(b"x" * 300_000)
    ResumableDownloader(progress=False, backoff=0)(f"{site.url}/blob.bin", tmp_path / "blob.bin")
    assert (tmp_path / "blob.bin").read_bytes() == bytes(range(256)) * 1000


def test_404_fails_at_once_with_advice(tmp_path: Path, site) -> None:
    with pytest.raises(DownloadError, match=r"HTTP 404.*base_url="):
        ResumableDownloader(progress=False)(f"{site.url}/missing.bin", tmp_path / "m")
    assert site.state.count("missing.bin") == 1


def test_connection_refused_is_retried_then_explained(tmp_path: Path) -> None:
    with LocalHTTPServer(tmp_path) as server:
        url = server.url
    with pytest.raises(
        DownloadError, match=r"connection was refused .* \(after 3 attempts\)"
    ) as info:
        ResumableDownloader(progress=False, retries=2, backoff=0)(f"{url}/x", tmp_path / "x")
    assert "bytes received" not in str(info.value)  # nothing arrived, so nothing is kept


def test_file_urls_and_check_only(tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(b"abc" * 100_000)
    download = ResumableDownloader(progress=False)
    (tmp_path / "out.bin.part").write_bytes(b"abc" * 10)
    download(source.as_uri(), tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == b"abc" * 100_000
    assert download(source.as_uri(), tmp_path / "o", check_only=True) is True
    with pytest.raises(DownloadError, match="does not exist"):
        download((tmp_path / "nope").as_uri(), tmp_path / "o2")


def test_unsupported_scheme(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="Unsupported URL scheme"):
        ResumableDownloader(progress=False)("ftp://127.0.0.1/x", tmp_path / "x")


def test_one_server_error_is_retried_then_succeeds(tmp_path: Path, site, monkeypatch) -> None:
    from neural_datasets.fetching import download

    monkeypatch.setattr(download.time, "sleep", lambda seconds: None)  # skip the backoff
    site.state.add_fault("blob.bin", Fault(status=500))
    out = tmp_path / "blob.bin"
    ResumableDownloader(progress=False)(f"{site.url}/blob.bin", out)
    assert out.read_bytes() == bytes(range(256)) * 1000
    assert site.state.count("/blob.bin") == 2  # the 500, then the good answer
