"""The registry: every dataset neural-datasets knows, by name.

It holds no entries of its own. It collects the ``SPECS`` each dataset
declares (see :mod:`neural_datasets.datasets.spec`) from two places:

* every folder under ``neural_datasets/datasets/`` with a ``spec.py``;
* every module named by an entry point of the group
  ``neural_datasets.datasets`` (a plug-in: a pip package of a lab's own
  datasets; see ``docs/adding-a-dataset.md``).

A plug-in that fails to load, or declares a name already taken, gives one
warning naming it and is left out; the others load.

Examples
--------
>>> from neural_datasets.registry import get_spec, available
>>> "clickme-val" in available()
True
>>> len(get_spec("clickme-val").files)
18
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ._checks import dataset_name
from .datasets.spec import DatasetSpec, RemoteFile
from .errors import UnknownDatasetError

__all__ = [
    "DatasetSpec",
    "RemoteFile",
    "REGISTRY",
    "ENTRY_POINT_GROUP",
    "PluginWarning",
    "available",
    "get_spec",
    "load",
]

ENTRY_POINT_GROUP = "neural_datasets.datasets"
"""Entry-point group of plug-ins: each names a module exposing ``SPECS``."""
DATASETS_FOLDER = Path(__file__).parent / "datasets"


class PluginWarning(UserWarning):
    """A dataset plug-in could not be registered (it is named; the others are)."""


def dataset_folders() -> list[str]:
    """The folders under ``neural_datasets/datasets/`` holding a ``spec.py``, sorted.

    Examples
    --------
    >>> dataset_folders()
    ['arcaro2020', 'clickme']
    """
    return sorted(p.parent.name for p in DATASETS_FOLDER.glob("*/spec.py"))


def _add(registry: dict[str, DatasetSpec], specs: Any, origin: str) -> None:
    specs = tuple(specs)
    if not all(isinstance(spec, DatasetSpec) for spec in specs):
        raise TypeError(f"{origin}: SPECS must hold DatasetSpec objects")
    taken = [spec.name for spec in specs if spec.name in registry]
    if taken:
        raise ValueError(f"{origin} declares {', '.join(taken)}, already registered")
    registry.update((spec.name, spec) for spec in specs)


def _collect() -> dict[str, DatasetSpec]:
    registry: dict[str, DatasetSpec] = {}
    for folder in dataset_folders():  # ours: an error here is a bug, raised
        module = f"neural_datasets.datasets.{folder}.spec"
        _add(registry, importlib.import_module(module).SPECS, module)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"plug-in {entry.name!r} ({entry.value})"
        try:
            _add(registry, entry.load().SPECS, origin)
        except Exception as exc:  # a broken plug-in never breaks the others
            warnings.warn(
                f"neural-datasets: skipped dataset {origin}: {type(exc).__name__}: {exc}",
                PluginWarning,
                stacklevel=2,
            )
    return registry


REGISTRY: dict[str, DatasetSpec] = _collect()


def available() -> list[str]:
    """Names of every registered dataset, sorted.

    Examples
    --------
    >>> available()[:2]
    ['arcaro2020', 'arcaro2020-sample']
    """
    return sorted(REGISTRY)


def get_spec(name: str) -> DatasetSpec:
    """The registry entry called ``name``.

    Raises
    ------
    UnknownDatasetError
        When ``name`` is not registered; the message suggests close matches.
    TypeError
        When ``name`` is not a ``str`` (a list of names, None...).

    Examples
    --------
    >>> get_spec("clickme-sample").split
    'sample'
    """
    try:
        return REGISTRY[dataset_name(name)]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}.{hint} Known datasets: {', '.join(available())}."
        ) from None


def load(name: str, **kwargs: Any) -> Any:
    """The dataset object of any registered ``name``, fetched first if needed.

    What its spec's ``open`` gives: a :class:`~neural_datasets.ClickMe` for a
    ClickMe-format dataset, an :class:`~neural_datasets.ITRecordings` for IT
    recordings, a plug-in's own class for a plug-in's. Keyword arguments go
    to that class (``cache_dir``, ``progress``, ``layout``, ...).

    Examples
    --------
    >>> import neural_datasets as nd
    >>> ds = nd.load("clickme-sample", progress=False)
    >>> type(ds).__name__, len(ds)
    ('ClickMe', 48)
    """
    return get_spec(name).open(name, **kwargs)
