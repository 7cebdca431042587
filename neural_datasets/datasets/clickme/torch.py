"""ClickMe in PyTorch: :class:`ClickMeDataset` (public as ``neural_datasets.torch.ClickMeDataset``).

The generic adapter (:mod:`neural_datasets.adapters.torch`) reads any batch
source; this adds ClickMe's own convenience: opening a published store by its
path or URL.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ...adapters.torch import BatchDataset
from .dataset import ClickMe


class ClickMeDataset(BatchDataset):
    """ClickMe batches as tensors: ``image`` uint8 ``[B, 3, H, W]``, ``heatmap``
    uint8 ``[B, 1, H, W]``, ``label`` int64 ``[B]``.

    Parameters
    ----------
    clickme
        A :class:`~neural_datasets.ClickMe`, or the path or URL of a published
        store (``http(s)://``, ``gs://``, ``s3://``) to open with
        :meth:`ClickMe.open <neural_datasets.ClickMe.open>`.
    transform
        As for :class:`~neural_datasets.adapters.torch.BatchDataset`.
    storage_options
        For an ``s3://`` URL: endpoint, region, credentials, as
        :meth:`ClickMe.open <neural_datasets.ClickMe.open>` (default: the
        standard AWS variables).

    Examples
    --------
    >>> import neural_datasets as nd
    >>> ds = ClickMeDataset(nd.ClickMe("sample", progress=False))
    >>> len(ds), tuple(ds[[0, 1]]["heatmap"].shape)
    (48, (2, 1, 256, 256))
    """

    def __init__(
        self,
        clickme: Any,
        transform: Callable[[dict[str, Any]], Any] | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(clickme, (str, os.PathLike)):
            clickme = ClickMe.open(clickme, storage_options=storage_options)
        super().__init__(clickme, transform)
