"""``download=`` (torchvision's name) on the dataset classes; the size said before a download."""

from __future__ import annotations

from pathlib import Path

import pytest

import neural_datasets as nd
from neural_datasets.fetching.space import human_bytes


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda cache: nd.ClickMe("val", cache_dir=cache, download=False), "clickme-val"),
        (lambda cache: nd.ClickMe("val[:10]", cache_dir=cache, download=False), "clickme-val"),
        (lambda cache: nd.ITRecordings(cache_dir=cache, download=False), "arcaro2020"),
    ],
)
def test_download_false_says_what_is_missing_and_how_to_get_it(
    make, name: str, tmp_path: Path
) -> None:
    with pytest.raises(nd.OfflineError) as caught:
        make(tmp_path)
    message = str(caught.value)
    assert f"{name} is not in the cache at {tmp_path / name}" in message or (
        f"of {name} is missing" in message
    )
    assert "download=False forbids downloading" in message
    assert "ass download=True to download it" in message
    assert not (tmp_path / name / "raw").exists()  # nothing was attempted


def test_download_false_opens_what_is_on_this_machine(tmp_path: Path) -> None:
    assert len(nd.ClickMe("sample", cache_dir=tmp_path, download=False, progress=False)) == 48
    assert len(nd.ClickMe("sample", cache_dir=tmp_path, download=False, progress=False)) == 48


def test_the_size_is_said_before_a_download(served, tmp_path: Path, capsys) -> None:
    server, files = served
    total = sum((tmp_path / "www" / name).stat().st_size for name in files)
    with pytest.warns(UserWarning, match="trusted on first use"):
        nd.fetch("clickme-test", cache_dir=tmp_path / "cache", progress=True)
    err = capsys.readouterr().err
    said = f"neural-datasets: downloading clickme-test: 2 of 2 files, {human_bytes(total)}, into"
    assert said in err
    assert err.index(said) < err.index("part-0.tfrecords")  # before the first file's bar
