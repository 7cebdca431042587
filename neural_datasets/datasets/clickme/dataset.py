"""The ClickMe dataset: ImageNet images with human feature-importance heatmaps."""

from __future__ import annotations

import copy
import difflib
import numbers
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._checks import choice
from ...errors import CorruptStoreError, InvalidArgumentError
from ...registry import REGISTRY
from ...storage.bytes_array import is_bytes_array
from ...storage.layout import read_attributes
from ...storage.reader import open_sample_array, read_whole
from ...storage.remote import is_url
from ..base import StoreDataset
from ..indexing import coerce_index, parse_split, records_needed, split_positions
from .spec import FEATURES

SPLITS = ("train", "val", "sample")
"""ClickMe's own splits, registered as ``clickme-<split>``."""


def clickme_spec(name: str) -> Any:
    """The spec of ClickMe split ``name`` or of any registered ClickMe-format dataset ``name``.

    Raises
    ------
    InvalidArgumentError
        When ``name`` is neither (the message lists the choices, the closest first).

    Examples
    --------
    >>> clickme_spec("val").name, clickme_spec("clickme-sample").name
    ('clickme-val', 'clickme-sample')
    """
    registered = sorted(n for n, spec in REGISTRY.items() if spec.family == "clickme")
    splits = [split for split in SPLITS if f"clickme-{split}" in registered]
    choice(
        "split",
        name,
        [*splits, *registered],
        "a ClickMe split or a registered ClickMe-format dataset, optionally sliced like "
        "'train[:10%]' or 'val[1000:2000]'",
    )
    return REGISTRY[name if name in registered else f"clickme-{name}"]


def _read_column(location: str, name: str, storage_options: Any = None) -> np.ndarray:
    if not is_url(location):
        return read_whole(Path(location.removeprefix("file://")) / name)
    from ...storage.remote import read_whole_remote

    return read_whole_remote(f"{location}/{name}", storage_options)


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
        ``"train"``, ``"val"`` or ``"sample"`` (the bundled offline sample),
        or the registered name of any ClickMe-format dataset (its spec's
        ``family`` is ``"clickme"``: another split, a lab's plug-in), each
        optionally sliced (``"train[:10%]"``).
    classes, indices
        Keep only samples of these classes (label numbers or names), or at
        these positions (in the slice, if any); see :meth:`subset`.
    cache_dir, base_url, progress, layout
        As for :func:`neural_datasets.fetch`. ``layout="compact"`` keeps the
        published JPEG bytes and decodes batches on read, with pixels
        identical to the ``"raw"`` layout's.
    partial
        When the split's whole store is not in the cache and the subset needs
        only its first records (``"train[:1000]"``, ``"train[1000:2000]"``,
        ``indices=[...]``), fetch and convert only the leading shards, in
        registry order, that hold them (default). The samples are the same
        as in the whole split's store. A slice in percent or counting from
        the end, and ``classes=``, need the whole split unless the registry
        knows its exact length. ``partial=False`` always fetches the whole
        split.
    download
        Download the split if the cache lacks it (default; its size is
        printed first). ``False``: use only what is on this machine, and
        raise :class:`~neural_datasets.errors.OfflineError` (saying how big
        the download is) when it is not there (torchvision's convention).

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

    Subsets are views over the same store, in store order:

    >>> len(nd.ClickMe("sample[:25%]", progress=False)), len(ds[:12]["label"])
    (12, 12)
    >>> few = nd.ClickMe("sample", classes=["tiger shark", 3], progress=False)
    >>> {few.label_names[label] for label in few.labels}
    {'tiger shark'}

    In a cache without the split, a subset of its first records fetches only
    the shards that hold them (the sample's first shard holds 24):

    >>> import tempfile
    >>> first = nd.ClickMe("sample[:10]", cache_dir=tempfile.mkdtemp(), progress=False)
    >>> len(first), first.attrs["neural_datasets"]["prefix"]
    (10, {'shards': 1, 'of_shards': 2, 'records': 24})
    """

    split: str | None = None
    """The split as given, e.g. ``"train[:10%]"``; ``None`` for a store opened with :meth:`open`."""

    store_indices: np.ndarray | None = None
    """For a subset, the store positions of its samples, in order; ``None`` for the whole store."""

    filters: tuple[str, ...] = ()
    """The ``indices=``/``classes=`` filters and :meth:`subset` calls that made this view."""

    thread_safe = True
    """Threads may read batches at once: each keeps its own shard files (the adapters use this)."""

    supervised_keys = ("image", "label")
    """The (input, target) of a sample, for ``as_supervised=True`` (TFDS's name)."""

    features = FEATURES
    """What a sample holds: the spec's features (the adapters read which are pictures)."""

    def __init__(
        self,
        split: str = "val",
        *,
        classes: Iterable[int | str] | None = None,
        indices: Any = None,
        cache_dir: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        progress: bool = True,
        layout: str | None = None,
        partial: bool = True,
        download: bool = True,
    ) -> None:
        if not isinstance(split, str):
            choice("split", split, SPLITS, "a ClickMe split")  # raises the TypeError
        try:
            name, slice_text = parse_split(split)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc)) from None
        spec = clickme_spec(name)
        if classes is not None and not isinstance(classes, (str, numbers.Integral)):
            classes = list(classes)  # read twice: to select, and for the repr
        total = spec.samples  # the split's exact length, when known
        need = None
        if partial and classes is None and (slice_text is not None or indices is not None):
            try:
                need = records_needed(slice_text, indices, total)
            except ValueError as exc:
                raise InvalidArgumentError(str(exc)) from None
            if total is not None and need is not None and need >= total:
                need = None
        super().__init__(
            spec.name,
            cache_dir=cache_dir,
            base_url=base_url,
            progress=progress,
            layout=layout,
            records=need,
            request=split if indices is None else f"{split} with indices",
            download=download,
        )
        self.split = name  # until the slice is applied, for the messages and the repr
        self.features = spec.features
        length = len(self)
        if need is not None and "prefix" in self.attrs.get("neural_datasets", {}):
            length = self._prefix_length(need, total)
        if slice_text is not None:
            try:
                positions = split_positions(slice_text, length)
            except ValueError as exc:
                raise InvalidArgumentError(str(exc)) from None
            self._select(positions, f"the slice [{slice_text}]", length)  # below `need` on a prefix
        self.split = split
        if indices is not None or classes is not None:
            what = _filters(indices, classes)
            self._select(self._subset_positions(indices, classes), ", ".join(what))
            self.filters = what

    def _prefix_length(self, need: int, total: int | None) -> int:
        """The length to resolve the slice against, on a prefix store of at least ``need``."""
        if len(self) < need:  # fetch_leading chose it for its attributes: they are wrong
            raise CorruptStoreError(
                f"{self.location} holds {len(self)} samples, but its attributes say it holds the "
                f"first {self.attrs['neural_datasets']['prefix'].get('records')} records of "
                f"{self.name}, and {self.split!r} needs {need}. The store is damaged: run "
                f"`neural-datasets verify {self.name}`, then `neural-datasets rm {self.name}` "
                f"and fetch it again."
            )
        # Bounds are resolved against the split's own length when the registry knows it (a
        # percentage, a negative bound); else they are non-negative sample numbers, which pick
        # the same samples from any store holding the first `need` records.
        return len(self) if total is None else total

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
        if is_bytes_array(f"{self.location}/image", self.storage_options):
            if is_url(self.location):
                raise InvalidArgumentError(
                    f"{self.location} is a store in the compact layout, which is read from a "
                    f"local path only. Copy it to a local disk and open that, or publish the "
                    f"raw layout (neural-datasets fetch --layout raw) for reading over the network."
                )
            from .compact import JpegArray  # layout="compact"
            from .convert import HEATMAP_SHAPE, IMAGE_SHAPE

            facts = read_attributes(Path(self.location)).get("clickme", {})
            image_shape = tuple(facts.get("image_shape", IMAGE_SHAPE))  # older stores: ClickMe's
            heatmap_shape = tuple(facts.get("heatmap_shape", HEATMAP_SHAPE))
            self.images = JpegArray(Path(self.location) / "image", image_shape)
            self.heatmaps = JpegArray(Path(self.location) / "heatmap", heatmap_shape)
        elif self.shard_cache is not None:  # open(url, cache="local")
            self.images = self.shard_cache.sample_array("image")
            self.heatmaps = self.shard_cache.sample_array("heatmap")
        else:
            self.images = open_sample_array(f"{self.location}/image", self.storage_options)
            self.heatmaps = open_sample_array(f"{self.location}/heatmap", self.storage_options)
        self.labels = self._store_labels = _read_column(
            self.location, "label", self.storage_options
        )
        self.store_indices = None

    def subset(self, indices: Any = None, *, classes: Iterable[int | str] | None = None) -> ClickMe:
        """A view of some of this dataset's samples over the same store (nothing is copied).

        Parameters
        ----------
        indices
            Positions in this dataset: a slice, integer array or boolean mask,
            as for indexing; the view keeps their order.
        classes
            Keep only samples of these classes: ImageNet label numbers or
            names from :attr:`label_names`. Applied after ``indices``.

        Raises
        ------
        InvalidArgumentError
            For an unknown class, or when nothing is left.

        Examples
        --------
        >>> import neural_datasets as nd
        >>> ds = nd.ClickMe("sample", progress=False)
        >>> view = ds.subset(slice(10, 20))
        >>> len(view), bool((view.read_batch([0])["image"] == ds[10]["image"]).all())
        (10, True)
        """
        if classes is not None and not isinstance(classes, (str, numbers.Integral)):
            classes = list(classes)  # read twice: to select, and for the repr
        view = copy.copy(self)
        what = _filters(indices, classes)
        view._select(self._subset_positions(indices, classes), f"subset({', '.join(what)})")
        view.filters = (*self.filters, f"subset({', '.join(what)})")
        return view

    def _subset_positions(self, indices: Any, classes: Iterable[int | str] | None) -> np.ndarray:
        positions = np.arange(len(self), dtype=np.int64)
        if indices is not None:
            positions = coerce_index(indices, len(self))[0]
        if classes is not None:
            wanted = self._class_numbers(classes)
            positions = positions[np.isin(self.labels[positions], wanted)]
        return positions

    def _class_numbers(self, classes: Iterable[int | str]) -> np.ndarray:
        if isinstance(classes, (str, numbers.Integral)):
            classes = [classes]
        names = self.label_names
        numbers_: list[int] = []
        for cls in classes:
            if isinstance(cls, str):
                if cls not in names:
                    close = difflib.get_close_matches(cls, names, n=3)
                    hint = f" Did you mean: {', '.join(close)}?" if close else ""
                    raise InvalidArgumentError(f"Unknown ImageNet class name {cls!r}.{hint}")
                numbers_.append(names.index(cls))
            elif isinstance(cls, numbers.Integral) and not isinstance(cls, bool):
                if not 0 <= cls < len(names):
                    raise InvalidArgumentError(
                        f"class {cls} is not an ImageNet label (0..{len(names) - 1})"
                    )
                numbers_.append(int(cls))
            else:
                raise InvalidArgumentError(f"classes must be label numbers or names, got {cls!r}")
        return np.asarray(numbers_, dtype=np.int64)

    def _select(self, positions: np.ndarray, what: str, of: int | None = None) -> None:
        """Narrow this object to ``positions`` (indices into its current samples).

        ``what`` says which filter chose them and ``of`` from how many samples
        (default: this object's), for the message when none is left.
        """
        if len(positions) == 0:
            filters = "".join(f", {item}" for item in self.filters)
            raise InvalidArgumentError(
                f"{what} selects none of the {len(self) if of is None else of} samples of "
                f"ClickMe(split={self.split!r}{filters}); widen it."
            )
        base = self.store_indices
        self.store_indices = positions if base is None else base[positions]
        self.labels = self._store_labels[self.store_indices]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: Any) -> dict[str, Any]:
        """Index like a 1-D numpy array.

        An integer gives one sample: ``image`` uint8 (256,256,3), ``heatmap``
        uint8 (256,256), ``label`` int. A slice, integer array or boolean mask
        gives the batch :meth:`read_batch` returns.
        """
        positions, scalar = coerce_index(index, len(self))
        batch = self._read_positions(positions)
        if not scalar:
            return batch
        return {
            "image": batch["image"][0],
            "heatmap": batch["heatmap"][0],
            "label": int(batch["label"][0]),
        }

    def read_batch(self, indices: Any) -> dict[str, np.ndarray]:
        """Samples ``indices`` stacked: ``image`` (B,256,256,3), ``heatmap`` (B,256,256), ``label``.

        ``indices`` is anything that indexes a 1-D numpy array (an integer
        gives a batch of one). One call reads the whole batch, visiting each
        shard file once; ``read_batch([])`` gives empty arrays of those shapes.
        """
        return self._read_positions(coerce_index(indices, len(self))[0])

    def _in_store(self, positions: np.ndarray) -> np.ndarray:
        """Positions in this view as positions in the store."""
        return positions if self.store_indices is None else self.store_indices[positions]

    def _read_positions(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        in_store = self._in_store(positions)
        return {
            "image": self.images.take(in_store),
            "heatmap": self.heatmaps.take(in_store),
            "label": self.labels[positions],
        }

    @property
    def decodes_on_read(self) -> bool:
        """Whether the store keeps JPEG bytes (``layout="compact"``), decoded on each read."""
        return hasattr(self.images, "items")

    def read_encoded_batch(self, indices: Any) -> dict[str, Any]:
        """:meth:`read_batch` with ``image`` as the stored JPEG bytes (a list of ``bytes``).

        For image decoders elsewhere, such as the GPU (the PyTorch loader's
        ``device``); compact layout only. Heatmaps come decoded, exactly as
        :meth:`read_batch` gives them: they are the measurements, and nvJPEG
        decodes these grayscale JPEGs wrongly (BENCHMARKS.md, Store layouts),
        where a colour image differs from the CPU decoder's by a few levels.
        Every item is checked against its crc32c.

        Examples
        --------
        >>> import neural_datasets as nd
        >>> ds = nd.ClickMe("sample", layout="compact", progress=False)
        >>> batch = ds.read_encoded_batch([3, 1])
        >>> batch["image"][0][:2], batch["heatmap"].shape
        (b'\\xff\\xd8', (2, 256, 256))
        """
        if not self.decodes_on_read:
            raise InvalidArgumentError(
                f"{self!r} holds decoded pixels (layout 'raw'); JPEG bytes are kept by the "
                f"'compact' layout only."
            )
        positions = coerce_index(indices, len(self))[0]
        in_store = self._in_store(positions)
        return {
            "image": self.images.items.take(in_store),
            "heatmap": self.heatmaps.take(in_store),
            "label": self.labels[positions],
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

            meta = read_metadata(self.location, storage_options=self.storage_options)
            return dict(meta.get("attributes", {}))
        from ...storage.layout import read_attributes

        return read_attributes(Path(self.location))

    def source(self, index: int) -> tuple[str, int]:
        """``(TFRecord file, record number)`` the sample ``index`` was converted from."""
        files = self.attrs["clickme"]["source_files"]
        position = self._in_store(coerce_index(index, len(self))[0])[0]
        shard = _read_column(self.location, "source_shard", self.storage_options)[position]
        record = _read_column(self.location, "source_record", self.storage_options)[position]
        return files[int(shard)], int(record)

    def __repr__(self) -> str:
        filters = "".join(f"{item}, " for item in self.filters)
        return (
            f"ClickMe(split={self.split!r}, {filters}samples={len(self)}, "
            f"location={self.location!r})"
        )


def _filters(indices: Any, classes: Any) -> tuple[str, ...]:
    """``indices=...``, ``classes=...`` as given (long arrays shortened), for reprs and messages.

    Examples
    --------
    >>> _filters(np.arange(100), [3, "tiger shark"])  # doctest: +ELLIPSIS
    ('indices=array([ 0,  1,  2, ..., 97, 98, 99]...)', "classes=[3, 'tiger shark']")
    """
    shown = []
    if indices is not None:
        with np.printoptions(threshold=10, edgeitems=3):
            shown.append(f"indices={indices!r}")
    if classes is not None:
        shown.append(f"classes={classes!r}")
    return tuple(shown)
