"""IT (stimulus, response) pairs of one population, as a batch source for the adapters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..indexing import coerce_index
from .spec import FEATURES


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

    thread_safe = True
    supervised_keys = ("stimulus", "response")
    """The (input, target) of a sample, for ``as_supervised=True`` (TFDS's name)."""
    """Reads are gathers from read-only arrays, safe from several threads at once."""

    features = FEATURES
    """What a pair holds (the adapters read which arrays are pictures)."""

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
        """``stimulus`` uint8 ``(B, H, W, 3)`` and ``response`` float32 ``(B, ...)``.

        ``indices`` index like a 1-D numpy array (integers, a slice, an integer
        array or a boolean mask); anything else is a ``TypeError``.
        """
        indices = coerce_index(indices, len(self))[0]
        return {"stimulus": self.stimuli[indices], "response": self.responses[indices]}

    def __repr__(self) -> str:
        return (
            f"ITPairSource(population={self.population!r}, time_window={self.time_window!r}, "
            f"pairs={len(self)}, stimulus={self.stimuli.shape[1:]}, "
            f"response={self.responses.shape[1:]})"
        )
