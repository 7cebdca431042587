"""Tests of fetching.archives: in-place zip reading and refusal of unsafe members."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from neural_datasets.errors import ConversionError
from neural_datasets.fetching.archives import ZipArchive


def make_zip(path: Path, members: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = 0o120777 << 16  # a Unix symbolic link
            zf.writestr(info, b"/etc/passwd")
    return path


@pytest.mark.parametrize("top", ["Arcaro2020/", ""])
def test_reads_with_or_without_top_folder(tmp_path: Path, top: str) -> None:
    path = make_zip(
        tmp_path / "a.zip", {f"{top}George/a.mat": b"mat", f"{top}George/s/x.jpg": b"jpg"}
    )
    before = sorted(tmp_path.rglob("*"))
    with ZipArchive(path, top="Arcaro2020") as archive:
        assert archive.names() == ["George/a.mat", "George/s/x.jpg"]
        assert "George/s/x.jpg" in archive and "George/s/y.jpg" not in archive
        with archive.open("George/a.mat") as f:
            assert f.read() == b"mat"
    assert sorted(tmp_path.rglob("*")) == before  # nothing extracted


def test_backslash_names_are_normalised(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {"Arcaro2020\\Red\\r.mat": b"r"})
    with ZipArchive(path, top="Arcaro2020") as archive:
        assert archive.names() == ["Red/r.mat"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.txt", "'..' component"),
        ("Arcaro2020/George/../../../evil.txt", "'..' component"),
        ("..\\evil.txt", "'..' component"),
        ("/etc/cron.d/evil", "absolute path"),
        ("C:/Windows/evil.dll", "absolute path"),
        ("\\\\server\\share\\evil", "absolute path"),
    ],
)
def test_refuses_unsafe_names(tmp_path: Path, name: str, reason: str) -> None:
    path = make_zip(tmp_path / "a.zip", {"Arcaro2020/ok.txt": b"ok", name: b"evil"})
    with pytest.raises(ConversionError, match=reason) as info:
        ZipArchive(path, top="Arcaro2020")
    assert "refusing" in str(info.value)


def test_refuses_symlink_members(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {"Arcaro2020/ok.txt": b"ok"}, symlinks=("Arcaro2020/link",))
    with pytest.raises(ConversionError, match="symbolic link"):
        ZipArchive(path)


def test_missing_member_names_file_and_archive(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {"Arcaro2020/George/a.mat": b""})
    expected = r"a\.zip has no file 'Red/r\.mat' \(or Arcaro2020/Red/r\.mat\)"
    with (
        ZipArchive(path, top="Arcaro2020") as archive,
        pytest.raises(ConversionError, match=expected),
    ):
        archive.open("Red/r.mat")


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(b"<html>Not Found</html>")
    with pytest.raises(ConversionError, match="not a readable zip archive"):
        ZipArchive(path)
