"""The cache root: a file where a folder should be, and near-miss variable names (issue 26)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import neural_datasets as nd
from neural_datasets.cli import main
from neural_datasets.fetching import cache


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-folder"
    path.write_text("x")
    return path


def test_a_file_as_the_cache_root_names_the_variable(
    a_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEURAL_DATASETS_HOME", str(a_file / "below"))
    with pytest.raises(nd.CacheNotWritableError) as caught:
        nd.fetch("clickme-sample", progress=False)
    message = str(caught.value)
    assert f"is under {a_file}, which is a file, not a folder" in message
    assert "Set NEURAL_DATASETS_HOME (or cache_dir=) to a folder" in message


def test_the_cli_says_which_setting_chose_the_file(
    a_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEURAL_DATASETS_HOME", str(a_file))
    assert main(["fetch", "clickme-sample", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"The cache root {a_file} (NEURAL_DATASETS_HOME) is a file" in err
    assert "(or --cache-dir)" in err
    assert main(["fetch", "clickme-sample", "--no-progress", "--cache-dir", str(a_file)]) == 1
    assert f"The cache root {a_file} (--cache-dir) is a file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["NEURAL_DATASETS_CACHE", "NEURAL_DATASET_HOME", "NEURAL_DATASETS_DIR"]
)
def test_a_near_miss_variable_warns_once(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "_warned", set())
    monkeypatch.setenv(name, str(tmp_path / "ignored"))
    with pytest.warns(UserWarning, match=rf"{name} is set but neural-datasets does not read it"):
        root = cache.cache_root()
    assert root != tmp_path / "ignored"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.cache_root()  # once per variable and process


def test_the_cli_prints_warnings_as_its_own_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "_warned", set())
    monkeypatch.setenv("NEURAL_DATASETS_CACHE", "/somewhere")
    assert main(["path", "clickme-sample"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("neural-datasets: warning: NEURAL_DATASETS_CACHE is set but")
    assert "UserWarning" not in err
