"""The tf.data adapter on the bundled sample: element_spec, order, epochs, sharding, strategies."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import neural_datasets as nd
from neural_datasets.adapters.sampling import EpochPlan
from neural_datasets.tf import dataset, it_dataset


@pytest.fixture(scope="module")
def clickme(tmp_path_factory: pytest.TempPathFactory) -> nd.ClickMe:
    return nd.ClickMe("sample", cache_dir=tmp_path_factory.mktemp("c"), progress=False)


def _concat(ds: tf.data.Dataset) -> dict[str, np.ndarray]:
    got = list(ds.as_numpy_iterator())
    return {key: np.concatenate([b[key] for b in got]) for key in got[0]}


def test_element_spec_is_complete_nhwc(clickme: nd.ClickMe) -> None:
    spec = dataset(clickme, 8).element_spec
    assert spec == {
        "image": tf.TensorSpec([8, 256, 256, 3], tf.uint8),
        "heatmap": tf.TensorSpec([8, 256, 256, 1], tf.uint8),
        "label": tf.TensorSpec([8], tf.int64),
    }
    short = dataset(clickme, 10, drop_remainder=False).element_spec
    assert short["image"].shape.as_list() == [None, 256, 256, 3]


def test_batches_follow_the_shared_epoch_plan(clickme: nd.ClickMe) -> None:
    ds = dataset(clickme, 10, seed=4, epochs=2)
    assert int(ds.cardinality()) == 8
    got = _concat(ds)
    plan = EpochPlan(48, 10, seed=4)
    expected = clickme.read_batch(np.concatenate([plan.indices(0), plan.indices(1)]))
    assert np.array_equal(got["image"], expected["image"])
    assert np.array_equal(got["heatmap"][..., 0], expected["heatmap"])
    assert np.array_equal(got["label"], expected["label"])
    assert not np.array_equal(got["image"][:40], got["image"][40:])  # epochs differ
    again = _concat(ds)  # iterating again is deterministic
    assert all(np.array_equal(got[k], again[k]) for k in got)
    resumed = _concat(dataset(clickme, 10, seed=4, start_epoch=1))
    assert np.array_equal(resumed["label"], got["label"][40:])


def test_endless_epochs_and_short_last_batches(clickme: nd.ClickMe) -> None:
    endless = dataset(clickme, 16, epochs=None)
    assert endless.cardinality() == tf.data.INFINITE_CARDINALITY
    assert len(list(endless.take(7))) == 7
    sizes = [len(b["label"]) for b in dataset(clickme, 10, drop_remainder=False)]
    assert sizes == [10, 10, 10, 10, 8]


def test_input_pipelines_get_disjoint_equal_parts(clickme: nd.ClickMe) -> None:
    images = clickme.read_batch(range(48))["image"]
    parts = []
    for pipeline in range(3):
        context = tf.distribute.InputContext(
            num_input_pipelines=3, input_pipeline_id=pipeline, num_replicas_in_sync=3
        )
        parts.append(_concat(dataset(clickme, 4, seed=2, input_context=context))["image"])
    assert [len(p) for p in parts] == [16, 16, 16]  # 48 = 3 pipelines x 4 batches x 4
    index = [
        [int(np.flatnonzero((images == img).all(axis=(1, 2, 3)))[0]) for img in p] for p in parts
    ]
    flat = sum(index, [])
    assert sorted(flat) == list(range(48))


@pytest.mark.parametrize(
    "strategy",
    [tf.distribute.get_strategy, lambda: tf.distribute.MirroredStrategy(["/cpu:0"])],
    ids=["default", "mirrored"],
)
def test_distribute_datasets_from_function(clickme: nd.ClickMe, strategy) -> None:
    strategy = strategy()
    per_replica = []

    def make(context: tf.distribute.InputContext) -> tf.data.Dataset:
        batch = context.get_per_replica_batch_size(16)
        per_replica.append(batch)
        return dataset(clickme, batch, input_context=context)

    dist = strategy.distribute_datasets_from_function(make)
    labels = [strategy.experimental_local_results(b["label"]) for b in dist]
    assert per_replica == [16] and len(labels) == 3
    got = np.concatenate([np.concatenate([t.numpy() for t in step]) for step in labels])
    assert np.array_equal(got, clickme.labels[EpochPlan(48, 16).indices(0)])


def test_it_pairs(tmp_path_factory: pytest.TempPathFactory) -> None:
    it = nd.ITRecordings(
        "arcaro2020-sample", cache_dir=tmp_path_factory.mktemp("it"), progress=False
    )
    ds = it_dataset(it, "red_central_it", (60, 100), 2, stimulus_size=(24, 32), shuffle=False)
    assert ds.element_spec == {
        "stimulus": tf.TensorSpec([2, 24, 32, 3], tf.uint8),
        "response": tf.TensorSpec([2, 9, 9, 32], tf.float32),
    }
    got = _concat(ds)
    assert np.array_equal(got["stimulus"], it.stimuli("red_central_it", size=(24, 32)))
    assert np.allclose(got["response"], it.responses("red_central_it", time_window=(60, 100)))


def test_exiting_with_a_partly_read_iterator_does_not_hang(clickme: nd.ClickMe) -> None:
    # A tf.data thread entering Python during interpreter finalization never
    # returns; without the exit guard this script hangs in the iterator's destructor.
    script = (
        "import neural_datasets as nd\n"
        "from neural_datasets.tf import dataset\n"
        f"it = iter(dataset(nd.ClickMe.open({clickme.location!r}), 16, epochs=None))\n"
        "next(it)\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, capture_output=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
