"""The harmonized training examples of docs/training.md train: their loss falls.

Each ``<!-- tested: NAME -->`` block is written to a script file and run
(``runpy``) in an empty folder on the bundled sample; the test reads the
losses the script recorded and asserts that the last steps' mean is well
below the first steps'.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parents[2]
MARKED = re.compile(r"<!-- tested: ([\w-]+) -->\s*```python\n(.*?)```", re.DOTALL)
BLOCKS = dict(MARKED.findall((ROOT / "docs" / "training.md").read_text()))


def run_example(name: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    script = folder / f"{name}.py"
    script.write_text(BLOCKS[name])
    monkeypatch.chdir(folder)
    return runpy.run_path(str(script), run_name="__main__")


def assert_falls(losses: list[float]) -> None:
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert len(losses) == 30 and np.isfinite(losses).all()
    assert last < 0.8 * first, f"loss {first:.3f} -> {last:.3f}"


def test_the_torch_loop_trains_harmonized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    scope = run_example("harmonized-torch-loop", tmp_path, monkeypatch)
    assert_falls(scope["losses"])


def test_keras_fit_trains_harmonized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorflow")
    scope = run_example("harmonized-keras-fit", tmp_path, monkeypatch)
    history = scope["history"].history
    assert sorted(history) == ["cross_entropy", "harmonization", "loss", "weight_decay"]
    # one value per epoch of 3 steps: compare the first and last epochs' means
    losses = np.repeat(history["loss"], 3).tolist()
    assert_falls(losses)
    assert (tmp_path / "harmonized.keras").is_file()
