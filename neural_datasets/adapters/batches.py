"""Framework-free batch sources, the common ground of the PyTorch and tf.data adapters.

A batch source is any object with ``len()`` and ``read_batch(indices)``
returning a dict of NumPy arrays stacked on axis 0, read in one call; the
dataset classes are such sources. A source declares its arrays with a
``features`` attribute (:class:`~neural_datasets.datasets.spec.Feature`, from
its dataset's spec): the adapters give the pictures among them (images and
maps) a channel axis and the framework's layout, and add nothing else.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

import numpy as np


class BatchSource(Protocol):
    """What the adapters read from."""

    def __len__(self) -> int: ...

    def read_batch(self, indices: Any) -> dict[str, np.ndarray]: ...


def picture_keys(source: Any, batch: dict[str, Any]) -> frozenset[str]:
    """The keys of ``batch`` holding pictures (images or maps, ``[B, H, W(, C)]``).

    Read from the features ``source`` declares (``Feature.is_picture``). A
    source declaring none (a wrapper of your own) has its pictures recognised
    by their arrays: ``uint8`` with axes ``[B, H, W]`` or ``[B, H, W, C]``
    and ``C`` in 1, 3 or 4; declare ``features`` to say otherwise.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> ds = nd.ClickMe("sample", progress=False)
    >>> sorted(picture_keys(ds, ds.read_batch([0])))
    ['heatmap', 'image']
    >>> sorted(picture_keys(object(), {"map": np.zeros((2, 4, 4), np.uint8), "x": np.zeros(2)}))
    ['map']
    """
    features = getattr(source, "features", None)
    if features:
        return frozenset(f.name for f in features if f.is_picture and f.name in batch)
    return frozenset(
        key
        for key, value in batch.items()
        if isinstance(value, np.ndarray)
        and value.dtype == np.uint8
        and (value.ndim == 3 or (value.ndim == 4 and value.shape[-1] in (1, 3, 4)))
    )


def channels_last(batch: dict[str, np.ndarray], pictures: Collection[str]) -> dict[str, np.ndarray]:
    """Give single-channel ``pictures`` of ``batch`` a trailing channel axis, as views.

    Examples
    --------
    >>> batch = {"heatmap": np.zeros((2, 4, 4), np.uint8), "label": np.zeros(2)}
    >>> {k: v.shape for k, v in channels_last(batch, {"heatmap"}).items()}
    {'heatmap': (2, 4, 4, 1), 'label': (2,)}
    """
    return {
        key: value[..., None] if key in pictures and value.ndim == 3 else value
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
    The dataset classes declare it (each thread keeps its own zarr shard
    files, see :class:`~neural_datasets.storage.reader.ShardedArray`, or reads
    read-only in-memory arrays).

    Examples
    --------
    >>> import neural_datasets as nd
    >>> thread_safe(nd.ClickMe("sample", progress=False)), thread_safe(object())
    (True, False)
    """
    return bool(getattr(source, "thread_safe", False))
