"""The PyTorch adapter on the bundled sample: layout, batching, epochs, workers, ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import neural_datasets as nd
from neural_datasets.adapters.sampling import EpochPlan
from neural_datasets.torch import BatchDataset, ClickMeDataset, ITPairs, Loader, loader

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def clickme(tmp_path_factory: pytest.TempPathFactory) -> nd.ClickMe:
    return nd.ClickMe("sample", cache_dir=tmp_path_factory.mktemp("c"), progress=False)


def _epochs(batches: Loader, epochs: int = 2) -> list[dict[str, torch.Tensor]]:
    """Each epoch's batches concatenated, key by key."""
    out = []
    for epoch in range(epochs):
        batches.set_epoch(epoch)
        got = list(batches)
        out.append({key: torch.cat([b[key] for b in got]) for key in got[0]})
    return out


def _assert_same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        assert all(torch.equal(x[k], y[k]) for k in x)


def test_batches_are_nchw_views_of_the_stored_bytes(clickme: nd.ClickMe) -> None:
    batch = ClickMeDataset(clickme)[[7, 3, 7]]
    ref = clickme.read_batch([7, 3, 7])
    image, heatmap, label = batch["image"], batch["heatmap"], batch["label"]
    assert (image.shape, image.dtype) == ((3, 3, 256, 256), torch.uint8)
    assert (heatmap.shape, heatmap.dtype) == ((3, 1, 256, 256), torch.uint8)
    assert (label.shape, label.dtype) == ((3,), torch.int64)
    assert image.is_contiguous(memory_format=torch.channels_last)
    assert np.array_equal(image.permute(0, 2, 3, 1).numpy(), ref["image"])
    assert np.array_equal(heatmap[:, 0].numpy(), ref["heatmap"])
    assert np.array_equal(label.numpy(), ref["label"])


def test_single_items_and_store_locations(clickme: nd.ClickMe) -> None:
    ds = ClickMeDataset(clickme.location)  # opened from its path
    item = ds[-1]
    assert tuple(item["image"].shape) == (3, 256, 256)
    assert tuple(item["heatmap"].shape) == (1, 256, 256)
    assert item["label"].ndim == 0 and int(item["label"]) == clickme.labels[-1]
    assert len(ds) == 48
    with pytest.raises(IndexError):
        ds[48]


class _CountingSource:
    def __init__(self, source: nd.ClickMe) -> None:
        self.source, self.calls = source, []

    def __len__(self) -> int:
        return len(self.source)

    def read_batch(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        self.calls.append(len(indices))
        return self.source.read_batch(indices)


def test_a_batch_is_one_read(clickme: nd.ClickMe) -> None:
    counting = _CountingSource(clickme)
    batches = loader(counting, 16, shuffle=False)
    assert [len(b["label"]) for b in batches] == [16, 16, 16]
    assert counting.calls == [16, 16, 16]


def test_order_follows_the_seeded_epoch_plan(clickme: nd.ClickMe) -> None:
    batches = loader(clickme, 10, seed=5)
    assert len(batches) == 4  # 48 // 10, remainder dropped
    first, second = _epochs(batches)
    plan = EpochPlan(48, 10, seed=5)
    for epoch, got in enumerate((first, second)):
        expected = clickme.read_batch(plan.indices(epoch))
        assert np.array_equal(got["label"].numpy(), expected["label"])
        assert np.array_equal(got["image"].permute(0, 2, 3, 1).numpy(), expected["image"])
    assert not torch.equal(first["image"], second["image"])
    _assert_same(_epochs(loader(clickme, 10, seed=5)), [first, second])  # reproducible
    other = _epochs(loader(clickme, 10, seed=6), 1)[0]
    assert not torch.equal(other["image"], first["image"])


def test_without_drop_last_every_sample_comes_once(clickme: nd.ClickMe) -> None:
    batches = loader(clickme, 10, drop_last=False)
    assert [len(b["label"]) for b in batches] == [10, 10, 10, 10, 8]
    labels = torch.cat([b["label"] for b in batches]).numpy()
    assert sorted(labels) == sorted(clickme.labels)


@pytest.mark.parametrize("persistent", [True, False])
def test_forked_workers_after_the_parent_read(clickme: nd.ClickMe, persistent: bool) -> None:
    clickme.read_batch([0, 40])  # the parent has open shard files when workers fork
    expected = _epochs(loader(clickme, 8, seed=1))
    batches = loader(
        clickme,
        8,
        seed=1,
        num_workers=2,
        multiprocessing_context="fork",
        persistent_workers=persistent,
    )
    _assert_same(_epochs(batches), expected)


def test_spawned_persistent_workers(clickme: nd.ClickMe) -> None:
    expected = _epochs(loader(clickme, 12, seed=2))
    batches = loader(clickme, 12, seed=2, num_workers=2, multiprocessing_context="spawn")
    assert batches.persistent_workers
    _assert_same(_epochs(batches), expected)


def test_two_ranks_under_torchrun_read_disjoint_complete_equal_parts(
    clickme: nd.ClickMe, tmp_path: Path
) -> None:
    home = Path(clickme.location).parents[1]  # the ranks find the sample in this cache
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(HERE.parent / "support" / "dist_worker.py"),
        str(tmp_path),
    ]
    env = {**os.environ, "NEURAL_DATASETS_HOME": str(home), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, timeout=120, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for epoch in range(2):
        # drop: 48 samples, batch 5, 2 ranks -> 4 full batches each, 40 distinct samples
        drop = [ranks[r]["drop"][epoch] for r in range(2)]
        assert [len(d) for d in drop] == [4, 4]
        assert all(len(batch) == 5 for d in drop for batch in d)
        read = [i for d in drop for batch in d for i in batch]
        assert len(set(read)) == len(read) == 40
        # pad: 48 samples, batch 7, 2 ranks -> 24 each as 7, 7, 7, 3; every sample once
        pad = [ranks[r]["pad"][epoch] for r in range(2)]
        assert [[len(b) for b in p] for p in pad] == [[7, 7, 7, 3]] * 2
        assert sorted(i for p in pad for batch in p for i in batch) == list(range(48))
    assert ranks[0]["drop"][0] != ranks[0]["drop"][1]  # reshuffled per epoch


def test_it_pairs(tmp_path_factory: pytest.TempPathFactory) -> None:
    it = nd.ITRecordings(
        "arcaro2020-sample", cache_dir=tmp_path_factory.mktemp("it"), progress=False
    )
    pairs = ITPairs(it, "george_central_it", (50, 90), stimulus_size=32)
    stimuli = it.stimuli("george_central_it", size=32)
    responses = it.responses("george_central_it", time_window=(50, 90))
    batches = loader(pairs, 2, shuffle=False)
    got = list(batches)
    assert len(got) == 2
    stim, resp = got[1]["stimulus"], got[1]["response"]
    assert (stim.shape, stim.dtype) == ((2, 3, 32, 32), torch.uint8)
    assert (resp.shape, resp.dtype) == ((2, 17, 17, 30), torch.float32)
    assert np.array_equal(stim.permute(0, 2, 3, 1).numpy(), stimuli[2:4])
    assert np.allclose(resp.numpy(), responses[2:4])
    assert isinstance(pairs, BatchDataset) and "george_central_it" in repr(pairs)
