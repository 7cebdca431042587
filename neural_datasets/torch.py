"""PyTorch adapter (public name of :mod:`neural_datasets.adapters.torch`; needs ``[torch]``).

Examples
--------
>>> import neural_datasets as nd
>>> from neural_datasets.torch import loader
>>> batch = next(iter(loader(nd.ClickMe("sample", progress=False), 8)))
>>> tuple(batch["image"].shape)
(8, 3, 256, 256)
"""

from neural_datasets.adapters.torch import (
    BatchDataset,
    ClickMeDataset,
    EpochBatchSampler,
    ITPairs,
    Loader,
    loader,
)

__all__ = ["BatchDataset", "ClickMeDataset", "EpochBatchSampler", "ITPairs", "Loader", "loader"]
