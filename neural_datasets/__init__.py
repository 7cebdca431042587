"""neural-datasets: one-line, checksummed, fast access to ClickMe and IT recordings.

Examples
--------
>>> import neural_datasets as nd
>>> ds = nd.ClickMe("sample", progress=False)
>>> ds.read_batch([0, 1])["image"].shape
(2, 256, 256, 3)
>>> type(nd.load("arcaro2020-sample", progress=False)).__name__
'ITRecordings'

Importing this package is light: it never imports torch or tensorflow. The
framework adapters live in :mod:`neural_datasets.torch`,
:mod:`neural_datasets.tf` and :mod:`neural_datasets.augment`. The dataset
classes are imported when first used; type checkers see them (and their
signatures) through the ``TYPE_CHECKING`` imports below.
"""

from typing import TYPE_CHECKING

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
from .registry import available, get_spec, load

_LAZY = {
    "ClickMe": "neural_datasets.datasets.clickme.dataset",
    "ITRecordings": "neural_datasets.datasets.arcaro2020.dataset",
    "Neural_dataset": "neural_datasets.compat.neural_harmonizer",
    "verify": "neural_datasets.fetching.verify",
    "push": "neural_datasets.fetching.push",
    "info": "neural_datasets.dataset_info",
    "DatasetInfo": "neural_datasets.dataset_info",
}

__all__ = [
    "__version__",
    "fetch",
    "remove",
    "available",
    "get_spec",
    "load",
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

if TYPE_CHECKING:
    from .compat.neural_harmonizer import Neural_dataset as Neural_dataset
    from .dataset_info import DatasetInfo as DatasetInfo
    from .dataset_info import info as info
    from .datasets.arcaro2020.dataset import ITRecordings as ITRecordings
    from .datasets.clickme.dataset import ClickMe as ClickMe
    from .fetching.verify import verify as verify
else:

    def __getattr__(name: str) -> object:
        if name in _LAZY:
            import importlib

            return getattr(importlib.import_module(_LAZY[name]), name)
        raise AttributeError(f"module 'neural_datasets' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, the lazily imported ones included (``dir(nd)``, completion)."""
    return sorted({*__all__, *(name for name in globals() if not name.startswith("_"))})


del TYPE_CHECKING
