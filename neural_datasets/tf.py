"""tf.data adapter (public name of :mod:`neural_datasets.adapters.tf`; needs ``[tf]``).

With the IT pairs' own pipeline, ``it_dataset``
(:mod:`neural_datasets.datasets.arcaro2020.tf`).

Examples
--------
>>> import neural_datasets as nd
>>> from neural_datasets.tf import dataset
>>> ds = dataset(nd.ClickMe("sample", progress=False), 8)
>>> ds.element_spec["image"].shape.as_list()
[8, 256, 256, 3]
"""

from neural_datasets.adapters.tf import dataset
from neural_datasets.datasets.arcaro2020.tf import it_dataset

__all__ = ["dataset", "it_dataset"]
