"""The adapters check their arguments before any work, in each framework's words (issue 26)."""

from __future__ import annotations

import pytest

import neural_datasets as nd
from neural_datasets.errors import InvalidArgumentError


@pytest.fixture(scope="module")
def clickme() -> nd.ClickMe:
    return nd.ClickMe("sample", progress=False)


def test_torch_loader_refuses_a_name_and_says_what_to_pass(clickme: nd.ClickMe) -> None:
    from neural_datasets.torch import loader

    with pytest.raises(
        TypeError, match=r"ds='sample'.*loader\(nd\.load\('sample'\), \.\.\.\).*nd\.ClickMe"
    ):
        loader("sample", 16)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"batch_size='16': expected an integer"):
        loader(clickme, "16")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"num_workers=-1"):
        loader(clickme, 16, num_workers=-1)
    with pytest.raises(InvalidArgumentError, match=r"drop_last=False"):
        loader(clickme, 100)


def test_tf_dataset_refuses_a_name_bad_epochs_and_speaks_tf(clickme: nd.ClickMe) -> None:
    from neural_datasets.tf import dataset

    with pytest.raises(TypeError, match=r"dataset\(nd\.load\('clickme-sample'\), \.\.\.\)"):
        dataset("clickme-sample", 16)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"batch_size='16'"):
        dataset(clickme, "16")  # type: ignore[arg-type]
    for epochs in (0, -1):
        with pytest.raises(InvalidArgumentError, match=rf"epochs={epochs}: .*or None"):
            dataset(clickme, 16, epochs=epochs)
    with pytest.raises(InvalidArgumentError, match=r"drop_remainder=False") as caught:
        dataset(clickme, 100)
    assert "drop_last" not in str(caught.value)


def test_tf_as_supervised_yields_input_target_tuples(clickme: nd.ClickMe) -> None:
    import numpy as np

    from neural_datasets.tf import dataset, it_dataset

    images, labels = next(iter(dataset(clickme, 4, shuffle=False, as_supervised=True)))
    assert images.shape == (4, 256, 256, 3) and labels.numpy().tolist() == list(clickme.labels[:4])
    it = nd.ITRecordings("arcaro2020-sample", progress=False)
    pairs = it_dataset(it, "red_central_it", (50, 90), 2, stimulus_size=32, as_supervised=True)
    stimuli, responses = next(iter(pairs))
    assert stimuli.shape[:3] == (2, 32, 32) and np.isfinite(responses.numpy()).all()

    class NoKeys:
        def __len__(self) -> int:
            return 4

        def read_batch(self, indices: object) -> dict:
            return {}

    with pytest.raises(InvalidArgumentError, match="as_supervised=True: NoKeys names no"):
        dataset(NoKeys(), 2, as_supervised=True)


def test_torch_transform_runs_on_each_batch_and_sample(clickme: nd.ClickMe) -> None:
    import torch

    from neural_datasets.torch import ClickMeDataset, ITPairs, loader

    def to_float(batch: dict) -> dict:
        return {**batch, "image": batch["image"].float() / 255}

    ds = ClickMeDataset(clickme, transform=to_float)
    assert ds[0]["image"].dtype == torch.float32 and ds[0]["image"].max() <= 1
    batch = next(iter(loader(ds, 8, shuffle=False)))
    assert batch["image"].dtype == torch.float32 and batch["image"].shape == (8, 3, 256, 256)
    assert torch.equal(batch["label"], torch.as_tensor(clickme.labels[:8]))
    it = nd.ITRecordings("arcaro2020-sample", progress=False)
    pairs = ITPairs(
        it, "red_central_it", (50, 90), stimulus_size=32, transform=lambda b: b["response"]
    )
    assert pairs[[0, 1]].shape[0] == 2
