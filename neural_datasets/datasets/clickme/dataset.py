"""The ClickMe dataset: ImageNet images with human feature-importance heatmaps."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InvalidArgumentError
from ...storage.reader import open_sample_array, read_whole
from ...storage.remote import is_url
from ..base import StoreDataset

SPLITS = ("train", "val", "sample")


def _read_column(location: str, name: str) -> np.ndarray:
    if not is_url(location):
        return read_whole(Path(location.removeprefix("file://")) / name)
    from ...storage.remote import open_array, wait_for

    url = f"{location}/{name}"
    return wait_for(open_array(url)[...].read(), url, "reading")


def _tfrecords_spec(paths: list[Path]) -> tuple[Any, dict[str, Path]]:
    """A registry entry pinning ``paths`` by sha256, named after their digests; its sources."""
    import hashlib
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from ...fetching.hashes import file_sha256
    from ..spec import RemoteFile
    from .spec import shard_spec

    if not paths:
        raise InvalidArgumentError("ClickMe.from_tfrecords needs at least one TFRecord file.")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InvalidArgumentError(f"{missing[0]} is not a file ({len(missing)} of the paths).")
    with ThreadPoolExecutor(min(len(paths), os.cpu_count() or 1)) as pool:
        digests = list(pool.map(file_sha256, paths))  # hashlib releases the GIL
    key = hashlib.sha256("\n".join(digests).encode()).hexdigest()[:16]
    unique = len({p.name for p in paths}) == len(paths)
    names = [p.name if unique else p.as_posix().lstrip("/") for p in paths]
    spec = shard_spec(f"clickme-tfrecords-{key}", paths[0].parent.as_uri(), names, split="custom")
    files = tuple(RemoteFile(n, d, p.stat().st_size) for n, d, p in zip(names, digests, paths))
    return replace(spec, files=files), dict(zip(names, paths))


class ClickMe(StoreDataset):
    """ClickMe images, human heatmaps and ImageNet labels, read from the local zarr store.

    Creating the object fetches and converts the split on first use (see
    :func:`neural_datasets.fetch`); afterwards it opens instantly. Reads are
    thread-free, so the object can be used before and inside forked or spawned
    DataLoader workers.

    Parameters
    ----------
    split
        ``"train"``, ``"val"`` or ``"sample"`` (the bundled offline sample).
    cache_dir, base_url, progress
        As for :func:`neural_datasets.fetch`.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> ds = nd.ClickMe("sample", progress=False)
    >>> len(ds)
    48
    >>> sample = ds[0]
    >>> sample["image"].shape, sample["heatmap"].shape, type(sample["label"])
    ((256, 256, 3), (256, 256), <class 'int'>)
    >>> batch = ds.read_batch([5, 2, 7])
    >>> batch["image"].shape
    (3, 256, 256, 3)
    """

    split: str | None = None
    """The split's name; ``None`` for a store opened with :meth:`open`."""

    def __init__(
        self,
        split: str = "val",
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        progress: bool = True,
    ) -> None:
        if split not in SPLITS:
            raise InvalidArgumentError(
                f"Unknown ClickMe split {split!r}; choose one of {', '.join(SPLITS)}."
            )
        self.split = split
        super().__init__(
            f"clickme-{split}", cache_dir=cache_dir, base_url=base_url, progress=progress
        )

    @classmethod
    def from_tfrecords(
        cls,
        paths: Sequence[str | os.PathLike[str]],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        progress: bool = True,
    ) -> ClickMe:
        """Convert ClickMe-format TFRecord files of your own into a store, once, and open it.

        For shards that are not a registered split: a lab's new ClickMe
        collection, a subset, a benchmark's. Samples follow the order of
        ``paths``. The store is cached under a name made from the files'
        sha256 (in order), so the same files convert once, wherever they lie,
        and changed files convert again. The files are read where they are,
        never copied or modified; each call hashes them to find the store.

        Parameters
        ----------
        paths
            The TFRecord files, each record a ``tf.train.Example`` with
            ``image`` and ``heatmap`` (JPEG bytes, 256x256) and ``label`` (0..999).
        cache_dir, progress
            As for :func:`neural_datasets.fetch`.

        Examples
        --------
        >>> import neural_datasets as nd
        >>> from neural_datasets.datasets.clickme.spec import SAMPLE_FOLDER
        >>> files = sorted(SAMPLE_FOLDER.glob("*.tfrecords"))
        >>> ds = nd.ClickMe.from_tfrecords(files, progress=False)
        >>> len(ds), ds.split, ds.name.startswith("clickme-tfrecords-")
        (48, 'custom', True)
        """
        from ...fetching.fetch import convert_local

        spec, sources = _tfrecords_spec([Path(p).expanduser().resolve() for p in paths])
        self = cls.open(convert_local(spec, sources, cache_dir=cache_dir, progress=progress))
        self.name, self.split = spec.name, "custom"
        return self

    def _open(self, location: str | os.PathLike[str]) -> None:
        self.location = os.fspath(location).rstrip("/")
        self.images = open_sample_array(f"{self.location}/image")
        self.heatmaps = open_sample_array(f"{self.location}/heatmap")
        self.labels = _read_column(self.location, "label")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """One sample: ``image`` uint8 (256,256,3), ``heatmap`` uint8 (256,256), ``label`` int."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        batch = self.read_batch([index])
        return {
            "image": batch["image"][0],
            "heatmap": batch["heatmap"][0],
            "label": int(batch["label"][0]),
        }

    def read_batch(self, indices: Any) -> dict[str, np.ndarray]:
        """Samples ``indices`` stacked: ``image`` (B,256,256,3), ``heatmap`` (B,256,256), ``label``.

        One call reads the whole batch, visiting each shard file once.
        """
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        return {
            "image": self.images.take(indices),
            "heatmap": self.heatmaps.take(indices),
            "label": self.labels[indices],
        }

    @property
    def fork_safe(self) -> bool:
        """Whether forked workers may read this dataset (local stores: yes; URLs: no)."""
        return not is_url(self.location)

    @property
    def label_names(self) -> tuple[str, ...]:
        """The 1000 ImageNet class names; ``label_names[label]`` names a sample's class."""
        from .labels import imagenet_class_names

        return imagenet_class_names()

    @property
    def attrs(self) -> dict[str, Any]:
        """The store's provenance attributes (sources and their sha256, versions, dates)."""
        if is_url(self.location):
            from ...storage.remote import read_metadata

            return dict(read_metadata(self.location).get("attributes", {}))
        from ...storage.layout import read_attributes

        return read_attributes(Path(self.location))

    def source(self, index: int) -> tuple[str, int]:
        """``(TFRecord file, record number)`` the sample ``index`` was converted from."""
        files = self.attrs["clickme"]["source_files"]
        shard = _read_column(self.location, "source_shard")[index]
        record = _read_column(self.location, "source_record")[index]
        return files[int(shard)], int(record)

    def __repr__(self) -> str:
        return f"ClickMe(split={self.split!r}, samples={len(self)}, location={self.location!r})"
