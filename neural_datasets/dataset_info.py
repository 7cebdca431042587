"""``info(name)``: what a dataset is, holds and weighs, from its spec and the cache.

Examples
--------
>>> import neural_datasets as nd
>>> about = nd.info("clickme-sample", cache_dir="/nowhere")
>>> about.layouts, about.samples.value, [f.name for f in about.features]
(('raw', 'compact'), 48, ['image', 'heatmap', 'label'])
>>> about.bibtex.startswith("@inproceedings{fel2022harmonizing")
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .datasets.spec import Feature
from .fetching.cache import offline, spec_cache
from .fetching.space import UNKNOWN, Amount, dataset_sizes, measured_size
from .registry import get_spec

__all__ = ["DatasetInfo", "info"]


@dataclass(frozen=True)
class DatasetInfo:
    """Everything ``neural-datasets info`` prints about one dataset.

    Sizes are :class:`~neural_datasets.fetching.space.Amount`: known,
    measured in the cache, estimated (``~``) or unknown (``?``).
    """

    name: str
    description: str
    homepage: str
    license: str
    citation: str
    bibtex: str
    family: str | None
    split: str | None
    features: tuple[Feature, ...]
    layouts: tuple[str, ...]
    default_layout: str
    files: int
    download: Amount
    samples: Amount
    store_bytes: dict[str, Amount]
    """Bytes of the store in each layout: measured when cached, the default's estimated."""
    cached: tuple[str, ...]
    """The layouts whose whole store is in the cache."""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (``neural-datasets info NAME --json``).

        Examples
        --------
        >>> import json, neural_datasets as nd
        >>> facts = nd.info("arcaro2020-sample", cache_dir="/nowhere").as_dict()
        >>> facts["layouts"], facts["samples"], json.dumps(facts)[:1]
        (['raw'], {'value': 8, 'how': 'known', 'text': '8'}, '{')
        """

        def amount(value: Amount) -> dict[str, Any]:
            return {"value": value.value, "how": value.how, "text": str(value)}

        return {
            "name": self.name,
            "description": self.description,
            "homepage": self.homepage,
            "license": self.license,
            "citation": self.citation,
            "bibtex": self.bibtex,
            "family": self.family,
            "split": self.split,
            "features": [feature.as_dict() for feature in self.features],
            "layouts": list(self.layouts),
            "default_layout": self.default_layout,
            "files": self.files,
            "download": amount(self.download),
            "samples": amount(self.samples),
            "store_bytes": {layout: amount(v) for layout, v in self.store_bytes.items()},
            "cached": list(self.cached),
        }


def info(
    name: str, *, cache_dir: str | os.PathLike[str] | None = None, lookup: bool = False
) -> DatasetInfo:
    """Describe dataset ``name``: features, split and counts, sizes per layout, citation.

    Parameters
    ----------
    name
        A registered dataset name.
    cache_dir
        The cache to look in for measured sizes, as for :func:`~neural_datasets.fetch`.
    lookup
        Ask the server for unknown download sizes (HEAD requests, remembered
        in the cache); never when ``NEURAL_DATASETS_OFFLINE`` is set.
    """
    spec = get_spec(name)
    cache = spec_cache(spec, cache_dir)
    sizes = dataset_sizes(spec, cache, lookup=lookup and not offline())
    store_bytes: dict[str, Amount] = {}
    cached = []
    for other in cache.every_layout():
        published = other.is_published()
        if published:
            cached.append(other.layout)
        if other.layout == cache.layout:
            store_bytes[other.layout] = sizes.store
        else:
            store_bytes[other.layout] = measured_size(other.store) if published else UNKNOWN
    return DatasetInfo(
        name=spec.name,
        description=spec.description,
        homepage=spec.homepage,
        license=spec.license,
        citation=spec.citation,
        bibtex=spec.bibtex,
        family=spec.family,
        split=spec.split,
        features=spec.features,
        layouts=spec.layout_names,
        default_layout=spec.default_layout,
        files=sizes.files,
        download=sizes.download,
        samples=sizes.samples,
        store_bytes=store_bytes,
        cached=tuple(cached),
    )
