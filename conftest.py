"""Every test and doctest runs in a temporary home; the session fails if the real one changes.

Loaded for the whole run (``tests/`` and the package's doctests alike), before
any test module is imported: ``HOME``, ``XDG_CACHE_HOME``,
``NEURAL_DATASETS_HOME`` and ``KERAS_HOME`` point into a temporary folder, so
nothing the suite runs (subprocesses included, which inherit the environment)
can read or write the user's cache. What neural-datasets could write in the
real home (its platform cache, the Keras cache) is listed before the run and
compared after it: any change fails the session, naming the paths.
``tests/conftest.py`` gives each test a fresh cache of its own on top of this.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ISOLATED = ("HOME", "XDG_CACHE_HOME", "NEURAL_DATASETS_HOME", "KERAS_HOME")
CLEARED = (
    "NEURAL_DATASETS_OFFLINE",
    # near-misses of NEURAL_DATASETS_HOME warn; a user's own must not steer the suite
    "NEURAL_DATASETS_CACHE",
    "NEURAL_DATASET_HOME",
    "NEURAL_DATASETS_DIR",
)


@dataclass
class _Isolation:
    """What the run changed in the environment, and the real home's files before it."""

    temporary_home: Path
    saved: dict[str, str | None]
    watched: list[Path]
    before: dict[str, tuple[int, int]]


def watched_paths(home: Path, environ: os._Environ[str] | dict[str, str]) -> list[Path]:
    """Where neural-datasets writes under the home ``home`` given the environment ``environ``."""
    xdg = environ.get("XDG_CACHE_HOME") or str(home / ".cache")
    paths = [Path(xdg) / "neural-datasets", home / ".cache" / "neural-datasets", home / ".keras"]
    for variable in ("NEURAL_DATASETS_HOME", "KERAS_HOME"):
        if environ.get(variable):
            paths.append(Path(environ[variable]).expanduser())
    return sorted(set(paths))


def snapshot(paths: list[Path]) -> dict[str, tuple[int, int]]:
    """``{path: (size, mtime_ns)}`` of every file and folder under ``paths``."""
    found: dict[str, tuple[int, int]] = {}
    for top in paths:
        if not top.exists():
            continue
        for where, folders, files in os.walk(top):
            for name in (".", *folders, *files):
                path = os.path.normpath(os.path.join(where, name))
                try:
                    facts = os.lstat(path)
                except OSError:  # removed while we looked
                    continue
                found[path] = (facts.st_size, facts.st_mtime_ns)
    return found


def changes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """Human-readable differences between two snapshots, sorted."""
    added = [f"created {p}" for p in after.keys() - before.keys()]
    removed = [f"deleted {p}" for p in before.keys() - after.keys()]
    changed = [f"modified {p}" for p in before.keys() & after.keys() if before[p] != after[p]]
    return sorted(added + removed + changed)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "_neural_datasets_isolation"):  # loaded twice: root conftest and -p
        return
    real_home = Path(os.environ.get("HOME") or Path.home())
    watched = watched_paths(real_home, os.environ)
    temporary_home = Path(tempfile.mkdtemp(prefix="neural-datasets-test-home-"))
    saved = {variable: os.environ.get(variable) for variable in (*ISOLATED, *CLEARED)}
    config._neural_datasets_isolation = _Isolation(  # type: ignore[attr-defined]
        temporary_home, saved, watched, snapshot(watched)
    )
    os.environ["HOME"] = str(temporary_home)
    os.environ["XDG_CACHE_HOME"] = str(temporary_home / ".cache")
    os.environ["NEURAL_DATASETS_HOME"] = str(temporary_home / "neural-datasets")
    os.environ["KERAS_HOME"] = str(temporary_home / ".keras")
    for variable in CLEARED:
        os.environ.pop(variable, None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    isolation: _Isolation | None = getattr(session.config, "_neural_datasets_isolation", None)
    if isolation is None:
        return
    changed = changes(isolation.before, snapshot(isolation.watched))
    if changed:
        shown = "\n  ".join(changed[:20]) + ("\n  ..." if len(changed) > 20 else "")
        message = f"ERROR: the test run changed files in the real home:\n  {shown}"
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(message, red=True, bold=True)
        else:
            print(message)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    isolation: _Isolation | None = getattr(config, "_neural_datasets_isolation", None)
    if isolation is None:
        return
    for variable, value in isolation.saved.items():
        if value is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = value
    shutil.rmtree(isolation.temporary_home, ignore_errors=True)
    del config._neural_datasets_isolation  # type: ignore[attr-defined]
