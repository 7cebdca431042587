"""Resume mid-epoch: a loader restored from ``state_dict()`` gives exactly the batches the
interrupted one would have given next (torch), and ``start_batch=`` does so for tf.data."""

from __future__ import annotations

import numpy as np
import pytest

import neural_datasets as nd


@pytest.fixture(scope="module")
def clickme() -> nd.ClickMe:
    return nd.ClickMe("sample", progress=False)


def _labels(batches) -> list[list[int]]:
    return [b["label"].tolist() for b in batches]


@pytest.mark.parametrize(
    "workers",
    [
        {"num_workers": 0},
        {"num_workers": 2, "workers": "threads"},
        {"num_workers": 2, "workers": "processes", "persistent_workers": False},
    ],
    ids=["main", "threads", "processes"],
)
def test_a_restored_loader_continues_where_the_interrupted_one_stopped(
    clickme: nd.ClickMe, workers: dict
) -> None:
    from neural_datasets.torch import loader

    settings = dict(seed=7, num_replicas=2, rank=1)  # shuffled, seeded, sharded
    reference = loader(clickme, 4, **settings)
    reference.set_epoch(1)
    expected = _labels(reference)  # 6 batches of epoch 1 on rank 1

    interrupted = loader(clickme, 4, **settings, **workers)
    interrupted.set_epoch(1)
    it = iter(interrupted)
    seen = [next(it)["label"].tolist() for _ in range(2)]
    state = interrupted.state_dict()
    del it  # preempted (workers may have read ahead: those batches are not counted)
    assert state["epoch"] == 1 and state["batches_delivered"] == 2

    resumed = loader(clickme, 4, **settings, **workers)
    resumed.load_state_dict(state)
    resumed.set_epoch(1)  # the usual loop calls it again: the resume point is kept
    assert seen + _labels(resumed) == expected
    resumed.set_epoch(2)  # the next epoch is whole
    assert len(_labels(resumed)) == len(expected)


def test_a_state_from_another_loader_is_refused(clickme: nd.ClickMe) -> None:
    from neural_datasets.torch import loader

    state = loader(clickme, 4, seed=1).state_dict()
    with pytest.raises(ValueError, match="seed.*same dataset, batch_size"):
        loader(clickme, 4, seed=2).load_state_dict(state)


def test_tf_start_batch_resumes_mid_epoch(clickme: nd.ClickMe) -> None:
    from neural_datasets.tf import dataset

    whole = [b["label"] for b in dataset(clickme, 8, seed=3, epochs=2).as_numpy_iterator()]
    resumed = dataset(clickme, 8, seed=3, epochs=2, start_batch=4)
    assert int(resumed.cardinality()) == len(whole) - 4
    rest = [b["label"] for b in resumed.as_numpy_iterator()]
    assert np.array_equal(np.concatenate(whole[4:]), np.concatenate(rest))
    with pytest.raises(ValueError, match="start_batch"):
        dataset(clickme, 8, start_batch=7)
