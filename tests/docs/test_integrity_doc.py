"""Every code block of docs/integrity.md runs as written, on the bundled samples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "integrity.md"
BLOCKS = dict(re.findall(r"<!-- tested: ([\w-]+) -->\s*```python\n(.*?)```", DOC.read_text(), re.S))


def test_every_python_block_is_marked_for_testing() -> None:
    assert DOC.read_text().count("```python") == len(BLOCKS) == 3


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_block_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(BLOCKS[name], f"integrity.md:{name}", "exec"), {"__name__": "docs"})
    printed = capsys.readouterr().out.strip()
    expected = {
        "manifest": r"^True \d+ 384$",
        "check-on-read": r"^\(2, 256, 256, 3\) always$",
        "recover": r"^\[\]$",
    }
    assert re.match(expected[name], printed), printed
