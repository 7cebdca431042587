"""IT pairs in tf.data: :func:`it_dataset` (public as ``neural_datasets.tf.it_dataset``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..._checks import framework_import
from ...adapters.tf import dataset

with framework_import("neural_datasets.tf"):
    import tensorflow as tf

from .pairs import ITPairSource


def it_dataset(
    it: Any,
    population: str,
    time_window: tuple[int, int] | None,
    batch_size: int,
    *,
    stimulus_size: int | Sequence[int] | None = 224,
    **kwargs: Any,
) -> tf.data.Dataset:
    """IT (stimulus, response) pairs of one population as a ``tf.data.Dataset``.

    Elements are ``{"stimulus": uint8 [B, H, W, 3], "response": float32 [B, ...]}``
    with responses as :meth:`ITRecordings.responses <neural_datasets.ITRecordings.responses>`
    gives them, images first.

    Parameters
    ----------
    it, population, time_window, stimulus_size
        As :class:`~neural_datasets.datasets.arcaro2020.pairs.ITPairSource`.
    batch_size, **kwargs
        As :func:`neural_datasets.tf.dataset`.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> it = nd.ITRecordings("arcaro2020-sample", progress=False)
    >>> pairs = it_dataset(it, "george_central_it", (50, 90), 2, stimulus_size=64)
    >>> pairs.element_spec["response"].shape.as_list()
    [2, 17, 17, 30]
    """
    source = ITPairSource(it, population, time_window, stimulus_size=stimulus_size)
    return dataset(source, batch_size, **kwargs)
