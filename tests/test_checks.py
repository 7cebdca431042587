"""Wrong argument types and values get a TypeError/ValueError naming the argument (issue 26)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import neural_datasets as nd
from neural_datasets._checks import batch_source, choice, count, dataset_name, framework_import
from neural_datasets.errors import InvalidArgumentError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("value", "shown"),
    [(42, "name=42"), (None, "name=None"), (["clickme-sample"], "name=['clickme-sample']")],
)
def test_fetch_says_it_takes_one_dataset_name(value: object, shown: str) -> None:
    with pytest.raises(TypeError, match="expected one dataset name") as caught:
        nd.fetch(value)  # type: ignore[arg-type]
    assert str(caught.value).startswith(shown)


def test_a_list_of_names_is_told_to_loop() -> None:
    with pytest.raises(TypeError, match="call once per name: for name in"):
        dataset_name(("clickme-sample", "arcaro2020-sample"))


def test_count_accepts_integers_and_refuses_the_rest() -> None:
    import numpy as np

    assert count("batch_size", np.int64(4)) == 4
    with pytest.raises(TypeError, match=r"batch_size='16': expected an integer, got str\. Pass 16"):
        count("batch_size", "16")
    with pytest.raises(TypeError, match="got bool"):
        count("batch_size", True)
    with pytest.raises(TypeError, match="got float"):
        count("batch_size", 16.0)
    with pytest.raises(InvalidArgumentError, match=r"epochs=0: expected an integer >= 1 or None"):
        count("epochs", 0, otherwise="or None")
    with pytest.raises(InvalidArgumentError, match=r"seed=-1: expected an integer >= 0"):
        count("seed", -1, minimum=0)


def test_batch_source_suggests_opening_the_dataset() -> None:
    with pytest.raises(TypeError, match=r"loader\(nd\.load\('clickme-sample'\), \.\.\.\)"):
        batch_source("clickme-sample", "ds", "loader")
    with pytest.raises(TypeError, match=r"expected a dataset object, got list"):
        batch_source([1, 2, 3], "ds", "loader")


def test_choice_lists_the_options_and_the_closest() -> None:
    with pytest.raises(InvalidArgumentError, match=r"one of a, bb\. Did you mean 'bb'\?"):
        choice("x", "b", ["a", "bb"], "a letter")
    with pytest.raises(TypeError, match=r"x=3: expected a letter \(a str\)"):
        choice("x", 3, ["a", "bb"], "a letter")


@pytest.mark.parametrize(("module", "extra"), [("torch", "torch"), ("tensorflow", "tf")])
def test_a_missing_framework_names_the_extra_to_install(
    tmp_path: Path, module: str, extra: str
) -> None:
    # A module named torch that cannot be imported stands for torch being absent.
    fake = f"raise ModuleNotFoundError('no {module}', name='{module}')\n"
    (tmp_path / f"{module}.py").write_text(fake)
    public = "torch" if extra == "torch" else "tf"
    code = f"import neural_datasets.{public}"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert f'pip install "neural-datasets[{extra}]"' in result.stderr
    assert f"neural_datasets.{public} needs {module}" in result.stderr


def test_framework_import_leaves_other_missing_modules_alone() -> None:
    with pytest.raises(ModuleNotFoundError) as caught, framework_import("x"):
        import no_such_module_for_this_test  # noqa: F401
    assert "pip install" not in str(caught.value)
