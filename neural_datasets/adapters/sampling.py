"""Which samples each rank reads in each epoch: the index plan shared by the adapters.

The PyTorch loader and the tf.data pipeline both draw their batches from an
:class:`EpochPlan`, so with the same seed they read the same batches in the
same order, and a run is reproducible whatever the framework.

An epoch's order is one permutation of all samples, the same on every rank
(``np.random.default_rng([seed, epoch])``). With ``R`` ranks and batch size
``B``, rank ``r`` takes every ``R``-th sample of that order starting at ``r``,
so global step ``k`` (the ``k``-th batch of every rank together) covers the
contiguous window ``k*R*B : (k+1)*R*B`` of the permutation: what one process
with batch size ``R*B`` would read.

Every rank always gets the same number of samples, hence of batches:

* ``drop_last=True``: the order is cut to a multiple of ``R*B``. Each sample is
  read at most once per epoch; the fewer than ``R*B`` samples left out are the
  tail of the epoch's permutation, so a shuffled run leaves out different ones
  each epoch.
* ``drop_last=False``: the order is padded by wrapping around to a multiple of
  ``R``, and each rank's last batch may be short. Each sample is read at least
  once per epoch, exactly once when ``R`` divides the number of samples ``N``;
  otherwise the order is extended with its own first ``R*ceil(N/R) - N``
  entries (fewer than ``R``), which are read twice, as
  :class:`torch.utils.data.DistributedSampler` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._checks import count
from ..errors import InvalidArgumentError


@dataclass(frozen=True)
class EpochPlan:
    """The batches of sample indices one rank reads in every epoch.

    Parameters
    ----------
    num_samples
        Size of the dataset.
    batch_size
        Samples per batch on this rank.
    shuffle
        Permute the samples anew in every epoch; else read them in order.
    seed
        Seed of the permutations (non-negative); equal seeds give equal plans.
    drop_last
        Drop the remainder so every batch is full and no sample repeats within
        an epoch; else pad and allow a short last batch (see the module notes).
    num_replicas, rank
        How many ranks share the epoch, and which one this plan is for.

    Raises
    ------
    TypeError, InvalidArgumentError
        For invalid arguments, or when no batch would be left to read.

    Examples
    --------
    >>> plan = EpochPlan(10, 2, seed=0, num_replicas=2, rank=1)
    >>> len(plan)
    2
    >>> other = EpochPlan(10, 2, seed=0, num_replicas=2, rank=0)
    >>> both = np.concatenate([plan.indices(epoch=0), other.indices(epoch=0)])
    >>> len(np.unique(both))
    8
    >>> [b.tolist() for b in EpochPlan(5, 2, shuffle=False, drop_last=False).batches(0)]
    [[0, 1], [2, 3], [4]]
    """

    num_samples: int
    batch_size: int
    shuffle: bool = True
    seed: int = 0
    drop_last: bool = True
    num_replicas: int = 1
    rank: int = 0
    drop_argument: str = field(default="drop_last", repr=False, compare=False)
    """The caller's name for ``drop_last``, for the messages (tf.data: ``drop_remainder``)."""

    def __post_init__(self) -> None:
        count("batch_size", self.batch_size)
        count("num_replicas", self.num_replicas)
        count("rank", self.rank, minimum=0)
        count("seed", self.seed, minimum=0)
        count("num_samples", self.num_samples, minimum=0)
        if self.rank >= self.num_replicas:
            raise InvalidArgumentError(
                f"rank={self.rank}: expected 0 <= rank < num_replicas={self.num_replicas}."
            )
        if len(self) == 0:
            raise InvalidArgumentError(
                f"{self.num_samples} samples give no batch of {self.batch_size} on each of "
                f"{self.num_replicas} ranks; use a smaller batch size or "
                f"{self.drop_argument}=False."
            )

    @property
    def samples_per_rank(self) -> int:
        """Samples each rank reads per epoch (padding included)."""
        if self.drop_last:
            return self.num_samples // (self.num_replicas * self.batch_size) * self.batch_size
        return -(-self.num_samples // self.num_replicas)

    def __len__(self) -> int:
        """Batches per epoch, the same on every rank."""
        return -(-self.samples_per_rank // self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The epoch's order of all samples, identical on every rank (int64)."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        if not self.shuffle:
            return np.arange(self.num_samples, dtype=np.int64)
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_samples)

    def indices(self, epoch: int) -> np.ndarray:
        """This rank's samples for ``epoch`` in reading order, ``samples_per_rank`` of them."""
        total = self.samples_per_rank * self.num_replicas
        # np.resize truncates, or pads by repeating the order from its start.
        return np.resize(self.order(epoch), total)[self.rank :: self.num_replicas]

    def batches(self, epoch: int) -> list[np.ndarray]:
        """This rank's batches for ``epoch``: ``len(self)`` index arrays."""
        mine = self.indices(epoch)
        return [mine[i : i + self.batch_size] for i in range(0, len(mine), self.batch_size)]
