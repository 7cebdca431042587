"""docs/architecture.md's import rules, enforced on the source (an AST walk, no imports run).

Each module belongs to a layer; a layer may import only the layers its rule
lists. Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "neural_datasets"
FOLDER_HELPERS = {"spec", "base", "indexing", "picture", "__init__"}
BASE = {"errors", "_version", "_checks"}  # every layer's: exceptions, version, argument checks
DATASET_CORE = {"datasets/spec", "datasets/base", "datasets/indexing", "datasets/picture"}

# The table of docs/architecture.md ("What may import what"), layer -> layers it may import.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "_version": set(),
    "_checks": {"errors"},
    "formats": BASE,
    "storage": BASE | {"formats"},
    "datasets/spec": BASE,
    "registry": BASE | {"datasets/spec"},
    "fetching": BASE | {"formats", "storage", "datasets/spec", "registry"},
    "datasets/indexing": BASE,
    "datasets/picture": BASE | {"formats"},
    "datasets/base": BASE | {"fetching", "storage"},
    "datasets/__init__": set(),
    "adapters": BASE | {"datasets/indexing"},
    "augment": BASE,
    "datasets/<name>": BASE
    | {"formats", "storage", "fetching", "registry", "adapters", "augment"}
    | DATASET_CORE,
    "dataset_info": BASE | {"datasets/spec", "registry", "fetching"},
    "testing": BASE
    | {"formats", "storage", "fetching", "registry", "adapters", "dataset_info"}
    | DATASET_CORE,
    "metrics": BASE
    | {"formats", "storage", "fetching", "registry", "adapters", "augment", "datasets/<name>"}
    | DATASET_CORE,
    "harmonize": BASE
    | {"formats", "storage", "fetching", "registry", "adapters", "augment", "metrics"}
    | {"datasets/<name>"}
    | DATASET_CORE,
}
ANYTHING = {"compat", "cli", "torch", "tf", "__init__"}  # users' entry points: anything below

# Words naming our datasets, which the core (these layers) must never use in code.
DATASET_WORDS = re.compile(
    r"clickme|click-me|arcaro|george|\bred_|heatmap|stimul|source_shard|compact|\bit_", re.I
)
NAME_FREE = ("fetching", "storage", "formats", "adapters", "registry")


def layer(path: Path) -> tuple[str, str | None]:
    """The layer of a module file, and its dataset folder when it is in one."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[0] == "datasets" and len(parts) > 1:
        if len(parts) > 2 or parts[1] not in FOLDER_HELPERS:
            return "datasets/<name>", parts[1]
        return f"datasets/{parts[1]}", None
    return (parts[0] if parts[0] != "__init__" else "__init__"), None


def imported_modules(path: Path) -> list[str]:
    """Absolute names of the neural_datasets modules ``path`` imports, anywhere in it."""
    package = ".".join(("neural_datasets", *path.relative_to(PACKAGE).parent.parts))
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                found += [f"{target}.{alias.name}" for alias in node.names]
            elif node.module:
                found += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name.startswith("neural_datasets.")]


def module_layer(name: str) -> tuple[str, str | None]:
    """The layer of an imported name (``neural_datasets.x.y.Z``): its longest existing module."""
    parts = name.split(".")[1:]
    for end in range(len(parts), 0, -1):
        base = PACKAGE.joinpath(*parts[:end])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return layer(candidate)
    raise AssertionError(f"{name} names no module of the package")


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_layer_has_a_rule() -> None:
    layers = {layer(path)[0] for path in MODULES}
    assert layers <= set(ALLOWED) | ANYTHING, layers - set(ALLOWED) - ANYTHING


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_imports_follow_the_layers(path: Path) -> None:
    own, folder = layer(path)
    if own in ANYTHING:
        return
    for name in imported_modules(path):
        other, other_folder = module_layer(name)
        if other == own and other_folder == folder:
            continue
        assert other != "datasets/<name>" or own != "datasets/<name>", (
            f"{path.name} of dataset folder {folder} imports folder {other_folder} ({name})"
        )
        assert other in ALLOWED[own] or (other == own and own != "datasets/<name>"), (
            f"{path.relative_to(PACKAGE)} ({own}) may not import {name} ({other}); "
            f"see docs/architecture.md"
        )


def _code_strings(path: Path) -> list[str]:
    """String constants of a module that are not docstrings, and its names."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                out.append(node.value)
        elif isinstance(node, ast.Name):
            out.append(node.id)
        elif isinstance(node, ast.Attribute):
            out.append(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.append(node.name)
    return out


def modules_naming_a_dataset() -> list[str]:
    """Package modules outside dataset folders and compat/ that name a dataset in code."""
    named = []
    for path in MODULES:
        own, folder = layer(path)
        if folder is not None or own == "compat":
            continue
        if any(DATASET_WORDS.search(text) for text in _code_strings(path)):
            named.append(path.relative_to(PACKAGE).as_posix())
    return named


def test_the_core_names_no_dataset() -> None:
    core = [m for m in modules_naming_a_dataset() if m.startswith(NAME_FREE)]
    assert core == [], f"these core modules name a dataset in code: {core}"
