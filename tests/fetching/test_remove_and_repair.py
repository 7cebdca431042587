"""``rm`` leaves nothing and never shows a half-deleted store; ``fetch`` repairs lost files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import neural_datasets as nd
from neural_datasets.cli import main
from neural_datasets.errors import NeuralDatasetsError
from neural_datasets.fetching import fetch as fetching
from neural_datasets.fetching.cache import dataset_cache


def test_rm_removes_the_folder_and_its_lock(tmp_path: Path, capsys) -> None:
    nd.fetch("clickme-sample", cache_dir=tmp_path, progress=False)
    assert (tmp_path / "clickme-sample" / ".lock").exists()
    assert main(["rm", "clickme-sample", "--cache-dir", str(tmp_path)]) == 0
    assert f"removed {tmp_path / 'clickme-sample'}" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_rm_keeps_files_that_are_not_ours(tmp_path: Path) -> None:
    nd.fetch("clickme-sample", cache_dir=tmp_path, progress=False)
    notes = tmp_path / "clickme-sample" / "my-notes.txt"
    notes.write_text("mine")
    fetching.remove("clickme-sample", cache_dir=tmp_path)
    assert sorted(p.name for p in notes.parent.iterdir()) == [".lock", "my-notes.txt"]


def test_rm_never_shows_a_half_deleted_store(tmp_path: Path, monkeypatch) -> None:
    nd.fetch("clickme-sample", cache_dir=tmp_path, progress=False)
    cache = dataset_cache("clickme-sample", tmp_path)
    seen: list[tuple[bool, bool]] = []
    rmtree = shutil.rmtree

    def deleting(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((cache.store.exists(), cache.is_published()))
        rmtree(path, *args, **kwargs)

    monkeypatch.setattr(fetching.shutil, "rmtree", deleting)
    fetching.remove("clickme-sample", cache_dir=tmp_path)
    assert seen and all(state == (False, False) for state in seen)


def test_a_reader_of_a_removed_store_is_told_so(tmp_path: Path) -> None:
    ds = nd.ClickMe("sample", cache_dir=tmp_path, progress=False)
    fetching.remove("clickme-sample", cache_dir=tmp_path)
    with pytest.raises(NeuralDatasetsError, match="removed while in use") as caught:
        ds.read_batch([0, 1])
    assert "damaged" not in str(caught.value)


def test_fetch_rebuilds_a_store_whose_checksum_group_was_deleted(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    store = nd.fetch("clickme-sample", cache_dir=tmp_path, progress=False)
    shutil.rmtree(store / "checksums")
    monkeypatch.setenv("NEURAL_DATASETS_OFFLINE", "1")  # the raw files are kept: no download
    assert main(["fetch", "clickme-sample", "--cache-dir", str(tmp_path), "--no-progress"]) == 0
    assert "lacks 5 of the files its manifest lists" in capsys.readouterr().err
    assert main(["verify", "clickme-sample", "--cache-dir", str(tmp_path), "--no-progress"]) == 0
    assert len(nd.ClickMe("sample", cache_dir=tmp_path, progress=False).read_batch([0])["label"])
