"""``Neural_dataset``: the neural-harmonizer paper's entry point, backed by the registry.

The paper's code loads the IT recordings with ``Neural_dataset().load_data(...)``;
the same call works here (offline on the bundled sample, checksummed and
cached on the real archive), and any other registered name opens that dataset.
The unusual capitalisation is kept so existing code runs unchanged.
"""

from __future__ import annotations

import os
from typing import Any

from ..registry import get_spec


def Neural_dataset(
    name: str = "arcaro2020",
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    progress: bool = True,
) -> Any:
    """Open a registered dataset by name; with no arguments, the Arcaro 2020 IT recordings.

    Parameters
    ----------
    name
        A registered name (``neural-datasets list``): ``"arcaro2020"``,
        ``"arcaro2020-sample"``, ``"clickme-val"``, ``"clickme-train"``,
        ``"clickme-sample"``...
    cache_dir, base_url, progress
        As for :func:`neural_datasets.fetch`.

    Returns
    -------
    ITRecordings or ClickMe
        :class:`~neural_datasets.ITRecordings` for IT datasets, whose
        ``load_data(stimuli, time_a, time_b)`` matches the paper's loader;
        :class:`~neural_datasets.ClickMe` for ClickMe splits.

    Raises
    ------
    UnknownDatasetError
        When ``name`` is not registered (the message suggests close names).

    Examples
    --------
    >>> import neural_datasets as nd
    >>> X, X_preprocessed, y = nd.Neural_dataset("arcaro2020-sample", progress=False).load_data(
    ...     stimuli="george_central_it", time_a=50, time_b=90)
    >>> X.shape, y.shape
    ((4, 224, 224, 3), (4, 17, 17, 30))
    >>> len(nd.Neural_dataset("clickme-sample", progress=False))
    48
    """
    return get_spec(name).open(name, cache_dir=cache_dir, base_url=base_url, progress=progress)
