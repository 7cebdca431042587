"""Install the example plug-in (tests/plugins/lab_datasets) into a folder, with its entry point.

A ``*.dist-info`` folder with ``entry_points.txt`` is what ``pip install``
leaves; ``importlib.metadata`` finds it on ``sys.path``, so no installation
is needed at test time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

PLUGIN_PACKAGE = Path(__file__).parents[1] / "plugins" / "lab_datasets"


def install_plugin(site: Path, *, broken: bool = False) -> Path:
    """Put ``lab_datasets`` and its dist-info in ``site``; ``broken`` adds a failing entry point."""
    shutil.copytree(
        PLUGIN_PACKAGE, site / "lab_datasets", ignore=shutil.ignore_patterns("__pycache__")
    )
    info = site / "lab_datasets-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-datasets\nVersion: 1.0\n")
    entries = "[neural_datasets.datasets]\nlab = lab_datasets.spec\n"
    if broken:
        entries += "broken = lab_datasets.no_such_module\n"
    (info / "entry_points.txt").write_text(entries)
    return site
