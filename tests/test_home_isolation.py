"""The suite never touches the user's home: tests and doctests run in a temporary one."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

DOCTEST_WRITING_THE_CACHE = '''
def make_cache():
    """Write into the default cache, as the package's doctests do.

    >>> from neural_datasets.fetching.cache import cache_root
    >>> folder = cache_root() / "clickme-sample"
    >>> folder.mkdir(parents=True)
    >>> folder.is_dir()
    True
    """
'''

TEST_WRITING_THE_REAL_HOME = """
import os
from pathlib import Path

def test_writes_where_it_must_not():
    keras = Path(os.environ["REAL_HOME_FOR_TEST"]) / ".keras"
    keras.mkdir()
    (keras / "stray.txt").write_text("x")
"""


def test_home_and_caches_are_temporary() -> None:
    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    assert Path.home() != real_home
    for variable in ("NEURAL_DATASETS_HOME", "KERAS_HOME", "XDG_CACHE_HOME"):
        assert real_home not in Path(os.environ[variable]).parents, variable


def _pytest(folder: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``folder`` with our root conftest, with ``home`` as the 'real' home."""
    env = {
        **os.environ,
        "HOME": str(home),
        "REAL_HOME_FOR_TEST": str(home),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    for variable in ("XDG_CACHE_HOME", "NEURAL_DATASETS_HOME", "KERAS_HOME"):
        env.pop(variable, None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, *args, str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_doctests_write_in_a_temporary_home(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    (project / "module_with_doctest.py").write_text(DOCTEST_WRITING_THE_CACHE)
    result = _pytest(project, home, "--doctest-modules")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert list(home.iterdir()) == []


@pytest.mark.slow
def test_a_change_to_the_real_home_fails_the_session(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    (project / "test_stray.py").write_text(TEST_WRITING_THE_REAL_HOME)
    result = _pytest(project, home)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "changed files in the real home" in result.stdout
    assert f"created {home / '.keras' / 'stray.txt'}" in result.stdout
