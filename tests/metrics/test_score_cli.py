"""``neural-datasets score MODULE:CALLABLE --on POPULATION`` on the bundled IT sample."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from neural_datasets.cli import main

MODELS = """
import torch

def build():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5, stride=4), torch.nn.ReLU())

MODEL = build()
NOT_A_MODEL = 3
"""
SAMPLE = ["--dataset", "arcaro2020-sample", "--window", "50", "90", "--no-progress"]
FAST = ["--image-size", "64", "--n-components", "4"]


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "tiny_models.py").write_text(MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "tiny_models", raising=False)
    return "tiny_models"


def test_json_result_of_a_callable_and_of_a_model(models: str, capsys) -> None:
    argv = ["score", f"{models}:build", "--on", "george_central_it", "--layers", "1", "--json"]
    assert main(argv + SAMPLE + FAST) == 0
    result = json.loads(capsys.readouterr().out)
    assert [layer["layer"] for layer in result["layers"]] == ["1"]
    assert result["provenance"]["window_ms"] == [50, 90] and result["selection"] == "held_out"
    argv[1] = f"{models}:MODEL"
    assert main(argv + SAMPLE + FAST) == 0
    assert json.loads(capsys.readouterr().out)["score"] == result["score"]


def test_usage_errors_exit_2(models: str, capsys) -> None:
    cases = {
        f"{models}:missing": "has no attribute 'missing'",
        f"{models}:NOT_A_MODEL": "neither a model nor callable",
        "no_such_module_xyz:build": "cannot import 'no_such_module_xyz'",
        "tiny_models": "give MODULE:CALLABLE",
    }
    for target, message in cases.items():
        assert main(["score", target, "--on", "george_central_it", *SAMPLE]) == 2
        assert message in capsys.readouterr().err
    assert main(["score", f"{models}:build", "--on", "v1", *SAMPLE]) == 2
    assert "IT population" in capsys.readouterr().err
    argv = ["score", f"{models}:build", "--on", "red_central_it", "--layers", "conv", *SAMPLE]
    assert main(argv) == 2
    assert "no layer 'conv'" in capsys.readouterr().err


def test_table_from_a_real_process(models: str, tmp_path: Path) -> None:
    """The installed entry point's code path, run as users run it, in a fresh process."""
    code = "import sys; from neural_datasets.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = ["score", f"{models}:build", "--on", "red_central_it", *SAMPLE, *FAST]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert textwrap.dedent(done.stdout).startswith("IT predictivity: red_central_it [50, 90] ms")
    assert "<- best" in done.stdout
