"""ClickMe in the Harmonization package's reading order, as its loaders read it.

Harmonization's ``load_clickme_val`` reads shards 0-16 of the val split (``train``: 0-317)
through a ``tf.data`` interleave. :class:`HarmonizationBatches` gives the same samples in
the same order from the converted store, for the compat loaders and for
:func:`neural_datasets.metrics.evaluate_clickme`, whose scores are comparable with the
published tables because they read these shards.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorruptStoreError, InvalidArgumentError
from ...storage.reader import read_whole
from .dataset import ClickMe

HARMONIZATION_SHARDS = {"train": 318, "val": 17}
"""Shards of each split the Harmonization package reads: ``train-0..317``, ``val-0..16``."""

NB_CLASSES = 1000
"""Length of the one-hot labels."""

_CYCLE_PREFETCH_THREADS = 3  # TensorFlow runs 1 + 2 prefetching threads per cycle element


class HarmonizationBatches:
    """A batch source over a ClickMe store in the original's reading order.

    ``read_batch(indices)`` returns ``image`` uint8 ``(B, 256, 256, 3)``,
    ``heatmap`` uint8 ``(B, 256, 256)`` and ``label`` one-hot float32
    ``(B, 1000)`` for positions ``indices`` of that order; the adapters
    (:func:`neural_datasets.tf.dataset`, :func:`neural_datasets.torch.loader`)
    batch it, and the resize and blur run on whole batches in the framework.

    Parameters
    ----------
    clickme
        A local :class:`~neural_datasets.ClickMe` store.
    shards
        Indices into the store's ``source_files``, in the order the original
        is given them; repeats are read again, as the original does.
    cycle_length
        Shards read at once, one record from each in turn; ``None``: what
        TensorFlow picks on this machine for the original's pipeline.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> source = HarmonizationBatches(nd.ClickMe("sample", progress=False), [0, 1])
    >>> len(source), source.read_batch([0, 1])["label"].shape
    (48, (2, 1000))
    >>> HarmonizationBatches(source.clickme, [0, 1], cycle_length=2).order[:4].tolist()
    [0, 24, 1, 25]
    """

    def __init__(
        self, clickme: ClickMe, shards: Sequence[int], *, cycle_length: int | None = None
    ) -> None:
        if cycle_length is not None and cycle_length < 1:
            raise InvalidArgumentError(f"cycle_length must be >= 1, got {cycle_length}")
        self.clickme = clickme
        by_shard = _samples_by_shard(clickme)
        self.order = _interleave([by_shard[s] for s in shards], cycle_length or _tf_cycle_length())

    def __len__(self) -> int:
        return len(self.order)

    def read_batch(self, indices: Any) -> dict[str, np.ndarray]:
        """Positions ``indices`` of the reading order, in one read of the store."""
        batch = self.clickme.read_batch(self.order[np.asarray(indices, dtype=np.int64)])
        # tf.one_hot's semantics, which the original uses: an out-of-range label is all zeros.
        batch["label"] = (batch["label"][:, None] == np.arange(NB_CLASSES)).astype(np.float32)
        return batch

    @property
    def fork_safe(self) -> bool:
        """Forked workers may read it (the store is local)."""
        return self.clickme.fork_safe

    def __repr__(self) -> str:
        return f"HarmonizationBatches({self.clickme!r}, samples={len(self)})"


def _samples_by_shard(clickme: ClickMe) -> list[np.ndarray]:
    """Store indices of each source file's records, in record order."""
    location = Path(clickme.location)
    shard = read_whole(location / "source_shard").astype(np.int64)
    record = read_whole(location / "source_record").astype(np.int64)
    counts = clickme.attrs["clickme"]["records_per_file"]
    by_position = np.lexsort((record, shard))
    bounds = np.searchsorted(shard[by_position], np.arange(len(counts) + 1))
    if np.diff(bounds).tolist() != list(counts):
        raise CorruptStoreError(
            f"{location}: its source columns disagree with its records_per_file attribute; "
            f"remove it with `neural-datasets rm` and fetch again."
        )
    return [by_position[bounds[i] : bounds[i + 1]] for i in range(len(counts))]


def _interleave(files: Sequence[np.ndarray], cycle_length: int) -> np.ndarray:
    """The order of a deterministic ``tf.data`` interleave, block length 1, over ``files``.

    ``cycle_length`` slots take one element each in turn; a slot whose file
    ends stays empty until its next turn, when it opens the next file.
    """
    slots: list[Iterator[int] | None] = [None] * cycle_length
    waiting = iter(files)
    out: list[int] = []
    position, open_slots, more_files = 0, 0, True
    while more_files or open_slots:
        slot = slots[position]
        if slot is None and more_files:
            following = next(waiting, None)
            if following is None:
                more_files = False
            else:
                slots[position], open_slots = iter(following.tolist()), open_slots + 1
            continue  # the turn stays with this slot
        if slot is not None:
            element = next(slot, None)
            if element is not None:
                out.append(element)
            else:
                slots[position], open_slots = None, open_slots - 1
        position = (position + 1) % cycle_length
    return np.array(out, dtype=np.int64)


def _tf_cycle_length() -> int:
    """The cycle length TensorFlow autotunes ``num_parallel_reads=AUTOTUNE`` to here."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return math.ceil((cpus or 1) / _CYCLE_PREFETCH_THREADS)
