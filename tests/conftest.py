"""Shared fixtures: an isolated cache, a local HTTP mirror of the bundled samples."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.httpserver import LocalHTTPServer  # noqa: E402
from support.shardgen import make_spec, write_shards  # noqa: E402

from neural_datasets import registry  # noqa: E402
from neural_datasets.registry import get_spec  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never let a test read or write the user's real cache, or be steered by their env."""
    monkeypatch.setenv("NEURAL_DATASETS_HOME", str(tmp_path_factory.mktemp("default-cache")))
    monkeypatch.delenv("NEURAL_DATASETS_OFFLINE", raising=False)
    # fetch reuses files from the Keras cache: never the user's real one in tests.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras-home")))


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """A directory holding copies of every bundled sample's raw files, as a mirror would."""
    root = tmp_path / "mirror"
    for name in ("clickme-sample", "arcaro2020-sample"):
        spec = get_spec(name)
        source = Path(spec.base_url.removeprefix("file://"))
        for remote in spec.files:
            if (source / remote.path).exists():
                (root / remote.path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / remote.path, root / remote.path)
    return root


@pytest.fixture
def http_mirror(mirror: Path):
    """The mirror served over HTTP on 127.0.0.1."""
    with LocalHTTPServer(mirror) as server:
        yield server


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Two unpinned 24-record shards served over HTTP as dataset 'clickme-test'."""
    files = write_shards(tmp_path / "www", 2, 24)
    with LocalHTTPServer(tmp_path / "www") as server:
        monkeypatch.setitem(
            registry.REGISTRY, "clickme-test", make_spec("clickme-test", server.url, files)
        )
        yield server, files
