"""The CLI's shared mechanisms: exit codes, usage errors, closed pipes, help (issue 26)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from neural_datasets.cli import main

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "neural_datasets.cli", *args],
        env=env,
        text=True,
        timeout=120,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.mark.parametrize("command", [["list"], ["--help"], ["path", "clickme-sample"]])
def test_a_closed_pipe_ends_quietly(command: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before we write a byte: `| true`, `| head -0`
    try:
        result = cli(*command, stdout=write, stderr=subprocess.PIPE)
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-n", "0"], "-n 0: a preview shows at least one sample"),
        (["-n", "-3"], "-n -3: a preview shows at least one sample"),
        (["-o", "x.jpg"], "-o x.jpg: the preview is a PNG"),
    ],
)
def test_bad_values_are_usage_errors_with_the_commands_usage(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = ["-o", str(tmp_path / "p.png")] if "-o" not in args else []
    assert main(["preview", "clickme-sample", *output, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: neural-datasets preview ")
    assert f"neural-datasets preview: error: {says}" in err


def test_an_unknown_option_shows_the_commands_usage() -> None:
    result = cli("list", "--bogus", capture_output=True)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: neural-datasets list ")
    assert "neural-datasets list: error: unrecognized arguments: --bogus" in result.stderr


def test_an_unknown_name_is_a_usage_error_of_its_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["info", "clickme-vla"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: neural-datasets info ") and "Did you mean: clickme-val" in err


def test_help_documents_exit_codes_environment_and_examples() -> None:
    result = cli("--help", capture_output=True)
    assert result.returncode == 0
    for text in (
        "exit status:",
        "2    a usage error",
        "NEURAL_DATASETS_HOME",
        "NEURAL_DATASETS_OFFLINE",
        "NEURAL_DATASETS_TIMEOUT",
        "KERAS_HOME",
        "examples:",
        "neural-datasets fetch clickme-sample",
    ):
        assert text in result.stdout, text
