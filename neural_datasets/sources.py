"""Framework-free batch sources, the common ground of the PyTorch and tf.data adapters.

A batch source is any object with ``len()`` and ``read_batch(indices)``
returning a dict of NumPy arrays stacked on axis 0, read in one call.
:class:`~neural_datasets.ClickMe` is one; :class:`ITPairSource` makes one of
IT (stimulus, response) pairs. The adapters only add the framework's tensor
type and layout on top.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    Local stores read through the thread-free shard reader and are. Stores
    opened from a URL read through tensorstore, whose threads make it abort a
    forked child: use ``spawn`` or ``forkserver`` workers with those.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> fork_safe(nd.ClickMe("sample", progress=False))
    True
    """
    from .readers import LazyArray

    return not any(isinstance(v, LazyArray) for v in getattr(source, "__dict__", {}).values())


class ITPairSource:
    """(stimulus, response) pairs of one IT population, as a batch source.

    Stimuli and responses are small (hundreds of images at most), so both are
    loaded into memory once; a batch is a NumPy gather.

    Parameters
    ----------
    it
        An :class:`~neural_datasets.ITRecordings` (anything with its
        ``stimuli(population, size=)`` and ``responses(population, time_window=)``).
    population
        One of ``it.populations``.
    time_window
        ``(a, b)`` in ms after stimulus onset: responses are averaged over it;
        ``None`` keeps the time axis.
    stimulus_size
        Side (or ``(height, width)``) to resize the stimuli to; ``None`` keeps
        their native size.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> it = nd.ITRecordings("arcaro2020-sample", progress=False)
    >>> pairs = ITPairSource(it, "george_central_it", (50, 90), stimulus_size=64)
    >>> batch = pairs.read_batch([3, 0])
    >>> batch["stimulus"].shape, batch["response"].shape, batch["response"].dtype
    ((2, 64, 64, 3), (2, 17, 17, 30), dtype('float32'))
    """

    def __init__(
        self,
        it: Any,
        population: str,
        time_window: tuple[int, int] | None,
        *,
        stimulus_size: int | Sequence[int] | None = 224,
    ) -> None:
        self.population = population
        self.time_window = time_window
        self.stimuli = np.ascontiguousarray(it.stimuli(population, size=stimulus_size))
        responses = it.responses(population, time_window=time_window)
        self.responses = np.ascontiguousarray(responses, dtype=np.float32)
        if len(self.stimuli) != len(self.responses):
            raise ValueError(
                f"{population}: {len(self.stimuli)} stimuli but {len(self.responses)} responses"
            )

    def __len__(self) -> int:
        return len(self.stimuli)

    def read_batch(self, indices: Any) -> dict[str, np.ndarray]:
        """``stimulus`` uint8 ``(B, H, W, 3)`` and ``response`` float32 ``(B, ...)``."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        return {"stimulus": self.stimuli[indices], "response": self.responses[indices]}

    def __repr__(self) -> str:
        return (
            f"ITPairSource(population={self.population!r}, time_window={self.time_window!r}, "
            f"pairs={len(self)}, stimulus={self.stimuli.shape[1:]}, "
            f"response={self.responses.shape[1:]})"
        )
