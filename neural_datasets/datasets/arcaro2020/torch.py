"""IT pairs in PyTorch: :class:`ITPairs` (public as ``neural_datasets.torch.ITPairs``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...adapters.torch import BatchDataset
from .pairs import ITPairSource


class ITPairs(BatchDataset):
    """IT (stimulus, response) pairs: ``stimulus`` uint8 ``[B, 3, H, W]``,
    ``response`` float32 ``[B, ...]`` (as :meth:`ITRecordings.responses`, images first).

    Parameters
    ----------
    *args, **kwargs
        ``it, population, time_window, *, stimulus_size=224``, as
        :class:`~neural_datasets.datasets.arcaro2020.pairs.ITPairSource`.
    transform
        As for :class:`~neural_datasets.adapters.torch.BatchDataset`.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> it = nd.ITRecordings("arcaro2020-sample", progress=False)
    >>> pairs = ITPairs(it, "red_central_it", (50, 90), stimulus_size=64)
    >>> tuple(pairs[0]["stimulus"].shape), tuple(pairs[0]["response"].shape)
    ((3, 64, 64), (9, 9, 32))
    """

    def __init__(
        self, *args: Any, transform: Callable[[dict[str, Any]], Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(ITPairSource(*args, **kwargs), transform)
