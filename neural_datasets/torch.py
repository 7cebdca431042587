"""PyTorch adapter (public name of :mod:`neural_datasets.adapters.torch`; needs ``[torch]``).

With the datasets' own PyTorch classes: ``ClickMeDataset``
(:mod:`neural_datasets.datasets.clickme.torch`) and ``ITPairs``
(:mod:`neural_datasets.datasets.arcaro2020.torch`).

Examples
--------
>>> import neural_datasets as nd
>>> from neural_datasets.torch import loader
>>> batch = next(iter(loader(nd.ClickMe("sample", progress=False), 8)))
>>> tuple(batch["image"].shape)
(8, 3, 256, 256)
"""

from neural_datasets.adapters.torch import BatchDataset, EpochBatchSampler, Loader, loader
from neural_datasets.datasets.arcaro2020.torch import ITPairs
from neural_datasets.datasets.clickme.torch import ClickMeDataset

__all__ = ["BatchDataset", "ClickMeDataset", "EpochBatchSampler", "ITPairs", "Loader", "loader"]
