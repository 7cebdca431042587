"""Light core: no framework is imported unless the user imports a framework module."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import neural_datasets

# Modules that exist to bring a framework in; everything else must stay framework-free.
FRAMEWORK_MODULES = {"torch", "tf"}


def framework_free_modules() -> list[str]:
    names = ["neural_datasets"]
    for module in pkgutil.walk_packages(neural_datasets.__path__, "neural_datasets."):
        if FRAMEWORK_MODULES.isdisjoint(module.name.split(".")):
            names.append(module.name)
    return names


def test_the_module_list_is_not_empty() -> None:
    names = framework_free_modules()
    assert "neural_datasets.fetching.fetch" in names and "neural_datasets.augment.params" in names
    assert not any(name.endswith((".torch", ".tf")) for name in names)


@pytest.mark.parametrize("module", framework_free_modules())
def test_importing_imports_no_framework(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "import neural_datasets as nd; nd.ClickMe, nd.ITRecordings, nd.Neural_dataset, nd.verify\n"
        "bad = {'torch', 'tensorflow'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
