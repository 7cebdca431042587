"""Reusing raw files already on the machine: the Keras cache and ``--from DIR``."""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from support.arcaro_sample import archive_members, write_archive
from support.httpserver import LocalHTTPServer
from support.keras_cache import KERAS_LAYOUTS, put_arcaro, tree_fingerprint
from support.shardgen import write_shards

import neural_datasets as nd
from neural_datasets.cli import main
from neural_datasets.fetching.cache import dataset_cache
from neural_datasets.fetching.hashes import UnpinnedFileWarning

VAL_SHARDS, PER_SHARD = 18, 4  # the registry's clickme-val has 18 shards


@pytest.fixture
def val_files(tmp_path: Path) -> dict[int, bytes]:
    """Bytes of 18 small ClickMe-format shards standing in for val-0 .. val-17."""
    names = write_shards(tmp_path / "made", VAL_SHARDS, PER_SHARD)
    return {i: (tmp_path / "made" / name).read_bytes() for i, name in enumerate(names)}


@pytest.fixture
def server(tmp_path: Path, val_files: dict[int, bytes]):
    """The dataset's own layout (``val/val-{i}.tfrecords``) on a local HTTP server."""
    for i, data in val_files.items():
        _put(tmp_path / "www" / "val" / f"val-{i}.tfrecords", data)
    with LocalHTTPServer(tmp_path / "www") as server:
        yield server


def _put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _keras_clickme(home: Path, val_files: dict[int, bytes]) -> list[Path]:
    """The files where Harmonization's load_clickme_val leaves them (no extension)."""
    folder = home / "datasets" / "click-me"
    return [_put(folder / f"clickme_val_{i}", data) for i, data in val_files.items()]


def _fingerprint(paths: list[Path]) -> list[tuple[str, int, int]]:
    out = []
    for p in paths:
        stat = p.stat()
        out.append((hashlib.sha256(p.read_bytes()).hexdigest(), stat.st_mtime_ns, stat.st_mode))
    return out


def _val_requests(server: LocalHTTPServer) -> list[str]:
    return [p for m, p, _ in server.state.requests if m == "GET"]


def test_keras_cache_is_reused_checked_and_left_untouched(
    tmp_path: Path, server: LocalHTTPServer, val_files: dict[int, bytes], capsys
) -> None:
    copies = _keras_clickme(Path(os.environ["KERAS_HOME"]), val_files)
    before = _fingerprint(copies)
    with pytest.warns(UnpinnedFileWarning, match="18 files have no published checksum"):
        store = nd.fetch("clickme-val", cache_dir=tmp_path / "c", base_url=server.url)
    assert _val_requests(server) == []  # nothing downloaded
    err = capsys.readouterr().err
    total = sum(len(d) for d in val_files.values())
    assert f"clickme-val: reused 18 existing files ({total / 2**20:.1f} MiB not downloaded)" in err
    assert str(copies[0].parent) in err
    assert _fingerprint(copies) == before  # never modified or moved
    cache = dataset_cache("clickme-val", tmp_path / "c")
    raw = cache.raw_file("val/val-7.tfrecords")
    assert raw.read_bytes() == val_files[7]
    ds = nd.ClickMe.open(store)
    assert len(ds) == VAL_SHARDS * PER_SHARD
    np.testing.assert_array_equal(ds.read_batch(np.arange(len(ds)))["label"], np.arange(72))
    # The store records the copies' sha256 like any download's.
    assert ds.attrs["neural_datasets"]["sources"]["val/val-0.tfrecords"] == (
        hashlib.sha256(val_files[0]).hexdigest()
    )
    # Removing the dataset removes our links, never the Keras files.
    nd.remove("clickme-val", cache_dir=tmp_path / "c")
    assert _fingerprint(copies) == before


def test_a_keras_copy_that_fails_its_check_is_left_alone_and_downloaded(
    tmp_path: Path, server: LocalHTTPServer, val_files: dict[int, bytes], capsys
) -> None:
    cache_dir = tmp_path / "c"
    with pytest.warns(UnpinnedFileWarning):
        nd.fetch("clickme-val", cache_dir=cache_dir, base_url=server.url, progress=False)
    cache = dataset_cache("clickme-val", cache_dir)
    shutil.rmtree(cache.store)
    shutil.rmtree(cache.raw)  # the hashes recorded on first use stay
    home = Path(os.environ["KERAS_HOME"])
    copies = _keras_clickme(home, val_files)
    wrong = copies[3].read_bytes()[:-1] + b"X"
    copies[3].write_bytes(wrong)
    before = _fingerprint(copies)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnpinnedFileWarning)  # all recorded: no new trust
        nd.fetch("clickme-val", cache_dir=cache_dir, base_url=server.url, progress=False)
    err = capsys.readouterr().err
    assert f"the existing copy {copies[3]} is not val/val-3.tfrecords" in err
    assert "reused 17 existing files" in err
    assert server.state.count("val/val-3.tfrecords") == 2  # first fetch, then instead of it
    assert server.state.count("val/val-4.tfrecords") == 1
    assert _fingerprint(copies) == before and copies[3].read_bytes() == wrong
    assert cache.raw_file("val/val-3.tfrecords").read_bytes() == val_files[3]


def test_keras_arcaro_zip_is_reused(tmp_path: Path, capsys) -> None:
    home = Path(os.environ["KERAS_HOME"])
    archive = write_archive(_put(home / "datasets" / "Arcaro2020.zip", b""), archive_members())
    before = _fingerprint([archive])
    with LocalHTTPServer(tmp_path / "empty-www") as server:
        (tmp_path / "empty-www").mkdir()
        with pytest.warns(UnpinnedFileWarning):
            store = nd.fetch("arcaro2020", cache_dir=tmp_path / "c", base_url=server.url)
        assert server.state.requests == []
    assert "arcaro2020: reused 1 existing file" in capsys.readouterr().err
    assert (store / "zarr.json").is_file() and _fingerprint([archive]) == before


@pytest.fixture
def sample_server(tmp_path: Path):
    """The bundled Arcaro sample archive on a local HTTP server that counts requests."""
    from neural_datasets.datasets.arcaro2020.spec import ARCHIVE, SAMPLE_FOLDER

    shutil.copyfile(SAMPLE_FOLDER / ARCHIVE, _put(tmp_path / "www" / ARCHIVE, b""))
    with LocalHTTPServer(tmp_path / "www") as server:
        yield server


@pytest.mark.parametrize("layout", KERAS_LAYOUTS)
def test_each_keras_layout_of_the_arcaro_archive_is_reused_against_its_pin(
    tmp_path: Path, sample_server: LocalHTTPServer, layout: str, capsys
) -> None:
    home = Path(os.environ["KERAS_HOME"])
    kept = put_arcaro(home, layout)
    before = tree_fingerprint(home)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnpinnedFileWarning)  # the sample is pinned: checked
        store = nd.fetch("arcaro2020-sample", cache_dir=tmp_path / "c", base_url=sample_server.url)
    assert sample_server.state.requests == []  # not a byte downloaded
    assert "reused 1 existing file" in capsys.readouterr().err
    assert (store / "zarr.json").is_file()
    raw = dataset_cache("arcaro2020-sample", tmp_path / "c").raw_file("Arcaro2020.zip")
    assert raw.read_bytes() == kept.read_bytes()
    nd.remove("arcaro2020-sample", cache_dir=tmp_path / "c")
    assert tree_fingerprint(home) == before  # never modified, moved or deleted


@pytest.mark.parametrize("layout", KERAS_LAYOUTS)
def test_a_keras_archive_that_fails_its_pin_is_left_alone_and_downloaded(
    tmp_path: Path, sample_server: LocalHTTPServer, layout: str, capsys
) -> None:
    home = Path(os.environ["KERAS_HOME"])
    kept = put_arcaro(home, layout)
    damaged = bytearray(kept.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # the pinned size, another sha256
    kept.write_bytes(bytes(damaged))
    before = tree_fingerprint(home)
    nd.fetch("arcaro2020-sample", cache_dir=tmp_path / "c", base_url=sample_server.url)
    assert sample_server.state.count("Arcaro2020.zip") == 1
    assert f"the existing copy {kept} is not Arcaro2020.zip" in capsys.readouterr().err
    assert tree_fingerprint(home) == before


def test_a_keras3_extraction_folder_alone_is_not_taken_for_the_archive(
    tmp_path: Path, sample_server: LocalHTTPServer
) -> None:
    home = Path(os.environ["KERAS_HOME"])
    put_arcaro(home, "keras3").unlink()  # only the folder named Arcaro2020.zip is left
    nd.fetch("arcaro2020-sample", cache_dir=tmp_path / "c", base_url=sample_server.url)
    assert sample_server.state.count("Arcaro2020.zip") == 1
    assert (home / "datasets" / "Arcaro2020.zip").is_dir()


def test_cli_from_dir_matches_our_names_and_keras_names(
    tmp_path: Path, server: LocalHTTPServer, val_files: dict[int, bytes], capsys
) -> None:
    shared = tmp_path / "lab-share"
    _put(shared / "val" / "val-0.tfrecords", val_files[0])  # our relative path
    _put(shared / "val-1.tfrecords", val_files[1])  # our file name
    _put(shared / "clickme_val_2", val_files[2])  # Keras's name
    argv = ["fetch", "clickme-val", "--from", str(shared), "--cache-dir", str(tmp_path / "c")]
    assert main([*argv, "--base-url", server.url, "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(tmp_path / "c" / "clickme-val" / "store.zarr")
    assert "clickme-val: reused 3 existing files" in err and str(shared) in err
    assert err.count("warning:") == 1
    downloaded = sorted(_val_requests(server))
    assert downloaded == sorted(f"/val/val-{i}.tfrecords" for i in range(3, VAL_SHARDS))


def test_from_dir_that_is_not_a_folder_fails_at_once(tmp_path: Path, capsys) -> None:
    argv = ["fetch", "clickme-val", "--from", str(tmp_path / "nope"), "--cache-dir", str(tmp_path)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "is not a folder" in err and str(tmp_path / "nope") in err


def test_offline_fetch_works_from_existing_copies(
    tmp_path: Path, val_files: dict[int, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    _keras_clickme(Path(os.environ["KERAS_HOME"]), val_files)
    monkeypatch.setenv("NEURAL_DATASETS_OFFLINE", "1")
    with pytest.warns(UnpinnedFileWarning):
        store = nd.fetch("clickme-val", cache_dir=tmp_path / "c", progress=False)
    assert len(nd.ClickMe.open(store)) == 72


@pytest.mark.parametrize("can_link", [True, False])
def test_link_or_copy_never_touches_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, can_link: bool
) -> None:
    import errno

    from neural_datasets.fetching import adopt

    source = _put(tmp_path / "keras" / "clickme_val_0", b"shard bytes")
    source.chmod(0o444)
    before = _fingerprint([source])
    if not can_link:  # another file system

        def cross_device(*args: object) -> None:
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(adopt.os, "link", cross_device)
    target = tmp_path / "cache" / "raw" / "val" / "val-0.tfrecords"
    adopt.link_or_copy(source, target)
    assert target.read_bytes() == b"shard bytes"
    assert os.path.samefile(source, target) is can_link
    assert _fingerprint([source]) == before
    assert [p.name for p in target.parent.iterdir()] == ["val-0.tfrecords"]  # no temporaries
