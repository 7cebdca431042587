"""Framework-free batch sources, the common ground of the PyTorch and tf.data adapters.

A batch source is any object with ``len()`` and ``read_batch(indices)``
returning a dict of NumPy arrays stacked on axis 0, read in one call.
:class:`~neural_datasets.ClickMe` is one;
:class:`~neural_datasets.datasets.arcaro2020.pairs.ITPairSource` makes one of
IT (stimulus, response) pairs. The adapters only add the framework's tensor
type and layout on top.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

IMAGE_KEYS = ("image", "heatmap", "stimulus")
"""Keys holding images or maps; the adapters give them a channel axis."""


class BatchSource(Protocol):
    """What the adapters read from."""

    def __len__(self) -> int: ...

    def read_batch(self, indices: Any) -> dict[str, np.ndarray]: ...


def channels_last(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Give single-channel maps of ``batch`` a trailing channel axis, as views.

    Examples
    --------
    >>> batch = {"heatmap": np.zeros((2, 4, 4), np.uint8), "label": np.zeros(2)}
    >>> {k: v.shape for k, v in channels_last(batch).items()}
    {'heatmap': (2, 4, 4, 1), 'label': (2,)}
    """
    return {
        key: value[..., None] if key in IMAGE_KEYS and value.ndim == 3 else value
        for key, value in batch.items()
    }


def fork_safe(source: Any) -> bool:
    """Whether a forked child may read ``source`` after this process has.

    A source says so with a ``fork_safe`` attribute; sources without one are
    assumed safe. Local stores read through the thread-free shard reader and
    are. Stores opened from a URL read through tensorstore, whose threads make
    it abort a forked child: use ``spawn`` or ``forkserver`` workers with those.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> fork_safe(nd.ClickMe("sample", progress=False))
    True
    """
    return bool(getattr(source, "fork_safe", True))


def thread_safe(source: Any) -> bool:
    """Whether several threads may call ``source.read_batch`` at once.

    A source declares it with a true ``thread_safe`` attribute; sources
    without one are assumed unsafe, and the adapters serialise their reads.
    :class:`~neural_datasets.ClickMe` declares it (each thread keeps its own
    shard files, see :class:`~neural_datasets.storage.reader.ShardedArray`),
    as does :class:`~neural_datasets.datasets.arcaro2020.pairs.ITPairSource`
    (read-only in-memory arrays).

    Examples
    --------
    >>> import neural_datasets as nd
    >>> thread_safe(nd.ClickMe("sample", progress=False)), thread_safe(object())
    (True, False)
    """
    return bool(getattr(source, "thread_safe", False))
