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

    with pytest.raises(TypeError, match=r"ds='sample'.*loader\(nd\.ClickMe\('sample'\), \.\.\.\)"):
        loader("sample", 16)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"batch_size='16': expected an integer"):
        loader(clickme, "16")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"num_workers=-1"):
        loader(clickme, 16, num_workers=-1)
    with pytest.raises(InvalidArgumentError, match=r"drop_last=False"):
        loader(clickme, 100)


def test_tf_dataset_refuses_a_name_bad_epochs_and_speaks_tf(clickme: nd.ClickMe) -> None:
    from neural_datasets.tf import dataset

    with pytest.raises(TypeError, match=r"dataset\(nd\.ClickMe\('sample'\), \.\.\.\)"):
        dataset("clickme-sample", 16)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"batch_size='16'"):
        dataset(clickme, "16")  # type: ignore[arg-type]
    for epochs in (0, -1):
        with pytest.raises(InvalidArgumentError, match=rf"epochs={epochs}: .*or None"):
            dataset(clickme, 16, epochs=epochs)
    with pytest.raises(InvalidArgumentError, match=r"drop_remainder=False") as caught:
        dataset(clickme, 100)
    assert "drop_last" not in str(caught.value)
