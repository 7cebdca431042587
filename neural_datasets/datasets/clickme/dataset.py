"""The ClickMe dataset: ImageNet images with human feature-importance heatmaps."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InvalidArgumentError
from ...storage.bytes_array import is_bytes_array
from ...storage.reader import open_sample_array, read_whole
from ...storage.remote import is_url
from ..base import StoreDataset

SPLITS = ("train", "val", "sample")


def _read_column(location: str, name: str) -> np.ndarray:
    if not is_url(location):
        return read_whole(Path(location.removeprefix("file://")) / name)
    from ...storage.remote import open_array

    return open_array(f"{location}/{name}")[...].read().result()


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
    cache_dir, base_url, progress, layout
        As for :func:`neural_datasets.fetch`. ``layout="compact"`` keeps the
        published JPEG bytes and decodes batches on read, with pixels
        identical to the ``"raw"`` layout's.

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

    thread_safe = True
    """Threads may read batches at once: each keeps its own shard files (the adapters use this)."""

    def __init__(
        self,
        split: str = "val",
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        progress: bool = True,
        layout: str | None = None,
    ) -> None:
        if split not in SPLITS:
            raise InvalidArgumentError(
                f"Unknown ClickMe split {split!r}; choose one of {', '.join(SPLITS)}."
            )
        self.split = split
        super().__init__(
            f"clickme-{split}",
            cache_dir=cache_dir,
            base_url=base_url,
            progress=progress,
            layout=layout,
        )

    def _open(self, location: str | os.PathLike[str]) -> None:
        self.location = os.fspath(location).rstrip("/")
        if is_bytes_array(f"{self.location}/image"):
            if is_url(self.location):
                raise InvalidArgumentError(
                    f"{self.location} is a store in the compact layout, which is read from a "
                    f"local path only. Copy it to a local disk and open that, or publish the "
                    f"raw layout (neural-datasets fetch --layout raw) for reading over the network."
                )
            from .compact import HEATMAP_SHAPE, IMAGE_SHAPE, JpegArray  # layout="compact"

            self.images = JpegArray(Path(self.location) / "image", IMAGE_SHAPE)
            self.heatmaps = JpegArray(Path(self.location) / "heatmap", HEATMAP_SHAPE)
        else:
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
    def decodes_on_read(self) -> bool:
        """Whether the store keeps JPEG bytes (``layout="compact"``), decoded on each read."""
        return hasattr(self.images, "items")

    def read_encoded_batch(self, indices: Any) -> dict[str, Any]:
        """:meth:`read_batch` with ``image`` and ``heatmap`` as their stored JPEG bytes.

        For decoders elsewhere, such as the GPU (the PyTorch loader's ``device``);
        compact layout only. Every item is checked against its crc32c.
        """
        if not self.decodes_on_read:
            raise InvalidArgumentError(
                f"{self!r} holds decoded pixels (layout 'raw'); JPEG bytes are kept by the "
                f"'compact' layout only."
            )
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        return {
            "image": self.images.items.take(indices),
            "heatmap": self.heatmaps.items.take(indices),
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
            import zarr

            return dict(zarr.open_group(self.location, mode="r").attrs)
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
