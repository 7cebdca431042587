"""The registry: every dataset neural-datasets knows, by name.

It holds no entries of its own: it collects the ``SPECS`` each dataset folder
declares in its ``spec.py`` (see :mod:`neural_datasets.datasets.spec`). Adding
a dataset means adding a folder and one line to :data:`DATASET_FOLDERS`.

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

from ._checks import dataset_name
from .datasets.spec import DatasetSpec, RemoteFile
from .errors import UnknownDatasetError

__all__ = ["DatasetSpec", "RemoteFile", "REGISTRY", "available", "get_spec"]

DATASET_FOLDERS = ("clickme", "arcaro2020")
"""Folders under ``neural_datasets/datasets/`` whose ``spec.SPECS`` are registered."""


def _collect() -> dict[str, DatasetSpec]:
    registry: dict[str, DatasetSpec] = {}
    for folder in DATASET_FOLDERS:
        for spec in importlib.import_module(f"neural_datasets.datasets.{folder}.spec").SPECS:
            if spec.name in registry:
                raise RuntimeError(f"dataset {spec.name!r} is declared twice")
            registry[spec.name] = spec
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
