"""Every python block of docs/migrating.md runs as written on the bundled samples.

Blocks whose first line starts with ``# needs`` (the network, the original
packages, files they downloaded) are compiled, not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "migrating.md"
BLOCKS = re.findall(r"^( *)```python\n(.*?)^\1```", DOC.read_text(), re.DOTALL | re.MULTILINE)
CODE = ["\n".join(line[len(indent) :] for line in body.splitlines()) for indent, body in BLOCKS]
RUNNABLE = [code for code in CODE if not code.startswith("# needs")]


def test_the_doc_has_offline_and_network_blocks() -> None:
    assert len(RUNNABLE) >= 4 and len(CODE) - len(RUNNABLE) >= 3


@pytest.mark.parametrize("code", CODE, ids=[f"block-{i}" for i in range(len(CODE))])
def test_every_block_compiles(code: str) -> None:
    compile(code, str(DOC), "exec")


@pytest.mark.parametrize("code", RUNNABLE, ids=[f"runs-{i}" for i in range(len(RUNNABLE))])
def test_offline_blocks_run(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs"})
    assert capsys.readouterr().out.strip()  # every runnable block shows its result
