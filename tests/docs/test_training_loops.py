"""The minimal training loops of docs/adapters.md (and README.md, where marked) run as written.

A block runs when a ``<!-- tested: NAME -->`` line comes right before its
fenced ``python`` code, so the documentation cannot drift from working code.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
MARKED = re.compile(r"<!-- tested: ([\w-]+) -->\s*```python\n(.*?)```", re.DOTALL)


def _blocks() -> dict[str, str]:
    blocks = {}
    for doc in (ROOT / "docs" / "adapters.md", ROOT / "README.md"):
        if doc.exists():
            for name, code in MARKED.findall(doc.read_text()):
                blocks[f"{doc.name}:{name}"] = code
    return blocks


BLOCKS = _blocks()


def test_the_adapter_docs_hold_both_loops() -> None:
    assert {"adapters.md:torch-training-loop", "adapters.md:keras-fit"} <= set(BLOCKS)


@pytest.mark.parametrize("name", sorted(n for n in BLOCKS if n.endswith("torch-training-loop")))
def test_torch_loop(name: str) -> None:
    import torch

    scope: dict = {"__name__": "docs"}
    exec(compile(BLOCKS[name], name, "exec"), scope)
    assert torch.isfinite(scope["loss"])
    assert scope["model"].features.weight.grad is not None  # backward reached the first layer


@pytest.mark.parametrize("name", sorted(n for n in BLOCKS if n.endswith("keras-fit")))
def test_keras_fit(name: str) -> None:
    scope: dict = {"__name__": "docs"}
    exec(compile(BLOCKS[name], name, "exec"), scope)
    losses = scope["history"].history["loss"]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
