"""neural-datasets: one-line, checksummed, fast access to ClickMe and IT recordings.

Examples
--------
>>> import neural_datasets as nd
>>> ds = nd.ClickMe("sample", progress=False)
>>> ds.read_batch([0, 1])["image"].shape
(2, 256, 256, 3)

Importing this package is light: it never imports torch or tensorflow. The
framework adapters live in :mod:`neural_datasets.torch`,
:mod:`neural_datasets.tf` and :mod:`neural_datasets.augment`.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .errors import (
    CacheNotWritableError,
    ChecksumMismatchError,
    ConversionError,
    CorruptRecordError,
    CorruptStoreError,
    DownloadError,
    InvalidArgumentError,
    InvalidFileError,
    NeuralDatasetsError,
    OfflineError,
    UnknownDatasetError,
)
from .fetching.fetch import fetch, remove
from .registry import available, get_spec

_LAZY = {
    "ClickMe": "neural_datasets.datasets.clickme.dataset",
    "ITRecordings": "neural_datasets.datasets.arcaro2020.dataset",
    "Neural_dataset": "neural_datasets.compat.neural_harmonizer",
    "verify": "neural_datasets.fetching.verify",
    "push": "neural_datasets.fetching.push",
}

__all__ = [
    "__version__",
    "fetch",
    "remove",
    "available",
    "get_spec",
    "NeuralDatasetsError",
    "UnknownDatasetError",
    "DownloadError",
    "OfflineError",
    "ChecksumMismatchError",
    "InvalidFileError",
    "CorruptRecordError",
    "CorruptStoreError",
    "ConversionError",
    "CacheNotWritableError",
    "InvalidArgumentError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'neural_datasets' has no attribute {name!r}")
