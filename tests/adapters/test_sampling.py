"""The epoch/rank index plan: disjoint, complete, equal-length, deterministic; light imports."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neural_datasets.adapters.sampling import EpochPlan

plans = st.fixed_dictionaries(
    {
        "num_samples": st.integers(1, 400),
        "batch_size": st.integers(1, 40),
        "num_replicas": st.integers(1, 8),
        "shuffle": st.booleans(),
        "seed": st.integers(0, 2**32),
    }
)


def _ranks(drop_last: bool, epoch: int = 0, **kw: int) -> list[list[np.ndarray]]:
    return [
        EpochPlan(**kw, drop_last=drop_last, rank=r).batches(epoch)
        for r in range(kw["num_replicas"])
    ]


@settings(max_examples=300, deadline=None)
@given(kw=plans, epoch=st.integers(0, 1000))
def test_drop_last_is_disjoint_full_and_equal_length(kw: dict, epoch: int) -> None:
    n, b, r = kw["num_samples"], kw["batch_size"], kw["num_replicas"]
    if n < r * b:
        with pytest.raises(ValueError, match="no batch"):
            EpochPlan(**kw, drop_last=True)
        return
    ranks = _ranks(True, epoch, **kw)
    assert {len(batches) for batches in ranks} == {n // (r * b)}
    assert all(len(batch) == b for batches in ranks for batch in batches)
    read = np.concatenate([np.concatenate(batches) for batches in ranks])
    assert len(np.unique(read)) == len(read)  # every sample at most once
    assert n - len(read) < r * b and read.min() >= 0 and read.max() < n


@settings(max_examples=300, deadline=None)
@given(kw=plans, epoch=st.integers(0, 1000))
def test_padding_covers_every_sample_with_equal_batches(kw: dict, epoch: int) -> None:
    n, r = kw["num_samples"], kw["num_replicas"]
    ranks = _ranks(False, epoch, **kw)
    assert len({len(batches) for batches in ranks}) == 1
    for step in zip(*ranks):  # every rank's k-th batch has the same size
        assert len({len(batch) for batch in step}) == 1
    counts = np.bincount(np.concatenate([np.concatenate(bs) for bs in ranks]), minlength=n)
    assert counts.min() >= 1 and counts.max() - counts.min() <= 1
    assert counts.sum() == r * -(-n // r)
    if n % r == 0:
        assert counts.max() == 1


@settings(max_examples=100, deadline=None)
@given(kw=plans, epoch=st.integers(0, 1000), drop_last=st.booleans())
def test_global_steps_are_consecutive_windows_of_one_order(
    kw: dict, epoch: int, drop_last: bool
) -> None:
    if drop_last and kw["num_samples"] < kw["num_replicas"] * kw["batch_size"]:
        return
    ranks = _ranks(drop_last, epoch, **kw)
    plan = EpochPlan(**kw, drop_last=drop_last)
    order = np.resize(plan.order(epoch), plan.samples_per_rank * kw["num_replicas"])
    interleaved = np.stack([np.concatenate(bs) for bs in ranks], axis=1).ravel()
    assert np.array_equal(interleaved, order)


def test_seed_and_epoch_determine_the_order() -> None:
    plan = EpochPlan(1000, 10, seed=7)
    assert np.array_equal(plan.indices(3), EpochPlan(1000, 10, seed=7).indices(3))
    assert not np.array_equal(plan.indices(3), plan.indices(4))
    assert not np.array_equal(plan.indices(3), EpochPlan(1000, 10, seed=8).indices(3))
    assert sorted(plan.order(5)) == list(range(1000))
    assert np.array_equal(EpochPlan(10, 3, shuffle=False).order(9), np.arange(10))


def test_invalid_arguments_raise() -> None:
    for bad in (
        {"batch_size": 0},
        {"rank": 2, "num_replicas": 2},
        {"num_replicas": 0},
        {"seed": -1},
        {"num_samples": -1},
    ):
        with pytest.raises(ValueError):
            EpochPlan(**{"num_samples": 10, "batch_size": 2, **bad})
    with pytest.raises(ValueError, match="epoch"):
        EpochPlan(10, 2).order(-1)
