"""Drop-in for Harmonization's ClickMe loaders (``harmonization.common.clickme_dataset``).

The Harmonization package (serre-lab) feeds ``evaluate_clickme`` and its
training scripts with ``load_clickme``, ``load_clickme_train`` and
``load_clickme_val``. The functions here have the same names, arguments and
elements, so switching is a one-line import change (``docs/migrating.md``):
``(images, heatmaps, labels)`` batches with

* images float32 ``(B, 224, 224, 3)`` in 0..255 (bilinear resize from 256x256);
* heatmaps float32 ``(B, 224, 224, 1)``: resized to 64x64, blurred with the
  original's 10x10, sigma-10 Gaussian, resized to 224x224, in 0..255 units;
* labels one-hot float32 ``(B, 1000)``;

the original's shards (train 0-317, val 0-16), its reading order and its
batching (``drop_remainder=True``, no shuffling). The samples come from the
converted, checksummed store (:class:`~neural_datasets.ClickMe`) instead of
decoding the TFRecords on every pass; the pixels are the ones TensorFlow
decodes. :func:`torch_loader` yields the same batches as PyTorch tensors,
without TensorFlow.

Reading order: the original reads its shards with
``TFRecordDataset(paths, num_parallel_reads=AUTOTUNE)``, which interleaves
``ceil(schedulable CPUs / 3)`` shards one record at a time (TensorFlow's rule
for an autotuned cycle length), so its order depends on the machine. The
loaders here follow the same rule on the machine they run on (``cycle_length=None``);
pass ``cycle_length=1`` for shard after shard, the same on every machine.

This module imports TensorFlow only in the ``load_clickme*`` functions and
PyTorch only in :func:`torch_loader`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..datasets.clickme.dataset import ClickMe
from ..datasets.clickme.spec import BASE_URL, SAMPLE_FOLDER
from ..errors import CorruptStoreError, InvalidArgumentError
from ..registry import get_spec
from ..storage.reader import read_whole

if TYPE_CHECKING:
    import tensorflow as tf
    import torch

__all__ = [
    "CLICKME_BASE_URL",
    "NB_TRAIN_SHARDS",
    "NB_VAL_SHARDS",
    "HarmonizationBatches",
    "load_clickme",
    "load_clickme_train",
    "load_clickme_val",
    "sample_shards",
    "torch_loader",
]

CLICKME_BASE_URL = BASE_URL
"""Where the original downloads the shards from (``<base>/val/val-{i}.tfrecords``)."""

NB_TRAIN_SHARDS = 318
"""Train shards the original reads: ``train-0`` .. ``train-317``."""

NB_VAL_SHARDS = 17
"""Val shards the original reads: ``val-0`` .. ``val-16``."""

NB_CLASSES = 1000
"""Length of the one-hot labels."""

_UPSTREAM_SHARDS = {"train": NB_TRAIN_SHARDS, "val": NB_VAL_SHARDS}
_CYCLE_PREFETCH_THREADS = 3  # TensorFlow runs 1 + 2 prefetching threads per cycle element


class HarmonizationBatches:
    """A batch source over a ClickMe store in the original's reading order.

    ``read_batch(indices)`` returns ``image`` uint8 ``(B, 256, 256, 3)``,
    ``heatmap`` uint8 ``(B, 256, 256)`` and ``label`` one-hot float32
    ``(B, 1000)`` for positions ``indices`` of that order; the adapters
    (:func:`neural_datasets.tf.dataset`, :func:`neural_datasets.torch.loader`)
    batch it, and the resize and blur run on whole batches in the framework.

    Parameters
    ----------
    clickme
        A local :class:`~neural_datasets.ClickMe` store.
    shards
        Indices into the store's ``source_files``, in the order the original
        is given them; repeats are read again, as the original does.
    cycle_length
        Shards read at once, one record from each in turn; ``None``: what
        TensorFlow picks on this machine for the original's pipeline.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> source = HarmonizationBatches(nd.ClickMe("sample", progress=False), [0, 1])
    >>> len(source), source.read_batch([0, 1])["label"].shape
    (48, (2, 1000))
    >>> HarmonizationBatches(source.clickme, [0, 1], cycle_length=2).order[:4].tolist()
    [0, 24, 1, 25]
    """

    def __init__(
        self, clickme: ClickMe, shards: Sequence[int], *, cycle_length: int | None = None
    ) -> None:
        if cycle_length is not None and cycle_length < 1:
            raise InvalidArgumentError(f"cycle_length must be >= 1, got {cycle_length}")
        self.clickme = clickme
        by_shard = _samples_by_shard(clickme)
        self.order = _interleave([by_shard[s] for s in shards], cycle_length or _tf_cycle_length())

    def __len__(self) -> int:
        return len(self.order)

    def read_batch(self, indices: Any) -> dict[str, np.ndarray]:
        """Positions ``indices`` of the reading order, in one read of the store."""
        batch = self.clickme.read_batch(self.order[np.asarray(indices, dtype=np.int64)])
        # tf.one_hot's semantics, which the original uses: an out-of-range label is all zeros.
        batch["label"] = (batch["label"][:, None] == np.arange(NB_CLASSES)).astype(np.float32)
        return batch

    @property
    def fork_safe(self) -> bool:
        """Forked workers may read it (the store is local)."""
        return self.clickme.fork_safe

    def __repr__(self) -> str:
        return f"HarmonizationBatches({self.clickme!r}, samples={len(self)})"


def _samples_by_shard(clickme: ClickMe) -> list[np.ndarray]:
    """Store indices of each source file's records, in record order."""
    location = Path(clickme.location)
    shard = read_whole(location / "source_shard").astype(np.int64)
    record = read_whole(location / "source_record").astype(np.int64)
    counts = clickme.attrs["clickme"]["records_per_file"]
    by_position = np.lexsort((record, shard))
    bounds = np.searchsorted(shard[by_position], np.arange(len(counts) + 1))
    if np.diff(bounds).tolist() != list(counts):
        raise CorruptStoreError(
            f"{location}: its source columns disagree with its records_per_file attribute; "
            f"remove it with `neural-datasets rm` and fetch again."
        )
    return [by_position[bounds[i] : bounds[i + 1]] for i in range(len(counts))]


def _interleave(files: Sequence[np.ndarray], cycle_length: int) -> np.ndarray:
    """The order of a deterministic ``tf.data`` interleave, block length 1, over ``files``.

    ``cycle_length`` slots take one element each in turn; a slot whose file
    ends stays empty until its next turn, when it opens the next file.
    """
    slots: list[Iterator[int] | None] = [None] * cycle_length
    waiting = iter(files)
    out: list[int] = []
    position, open_slots, more_files = 0, 0, True
    while more_files or open_slots:
        slot = slots[position]
        if slot is None and more_files:
            following = next(waiting, None)
            if following is None:
                more_files = False
            else:
                slots[position], open_slots = iter(following.tolist()), open_slots + 1
            continue  # the turn stays with this slot
        if slot is not None:
            element = next(slot, None)
            if element is not None:
                out.append(element)
            else:
                slots[position], open_slots = None, open_slots - 1
        position = (position + 1) % cycle_length
    return np.array(out, dtype=np.int64)


def _tf_cycle_length() -> int:
    """The cycle length TensorFlow autotunes ``num_parallel_reads=AUTOTUNE`` to here."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return math.ceil((cpus or 1) / _CYCLE_PREFETCH_THREADS)


def sample_shards() -> list[str]:
    """Paths of the bundled sample's two ClickMe TFRecord shards (48 records), for offline use.

    Examples
    --------
    >>> [Path(p).name for p in sample_shards()]
    ['clickme-sample-0.tfrecords', 'clickme-sample-1.tfrecords']
    """
    return [str(SAMPLE_FOLDER / remote.path) for remote in get_spec("clickme-sample").files]


def _split_batches(
    split: str,
    *,
    cache_dir: str | os.PathLike[str] | None,
    base_url: str | None,
    progress: bool,
    cycle_length: int | None,
) -> HarmonizationBatches:
    """The original's shards of ``split`` (all shards for ``"sample"``), in its order."""
    if split not in (*_UPSTREAM_SHARDS, "sample"):
        raise InvalidArgumentError(
            f"Unknown split {split!r}; choose 'train', 'val' or 'sample', or give shard paths."
        )
    clickme = ClickMe(split, cache_dir=cache_dir, base_url=base_url, progress=progress)
    shards = range(_UPSTREAM_SHARDS.get(split, len(clickme.attrs["clickme"]["source_files"])))
    return HarmonizationBatches(clickme, list(shards), cycle_length=cycle_length)


def _path_batches(
    shards_paths: Sequence[str | os.PathLike[str]],
    *,
    cache_dir: str | os.PathLike[str] | None,
    progress: bool,
    cycle_length: int | None,
) -> HarmonizationBatches:
    if isinstance(shards_paths, (str, os.PathLike)):
        shards_paths = [shards_paths]  # TFRecordDataset accepts one file name too
    unique = list(dict.fromkeys(Path(p).expanduser().resolve() for p in shards_paths))
    missing = [str(path) for path in unique if not path.is_file()]
    if missing:  # as the original's TFRecordDataset, before anything is read
        raise FileNotFoundError(f"No such TFRecord shard: {', '.join(missing[:3])}")
    clickme = ClickMe.from_tfrecords(unique, cache_dir=cache_dir, progress=progress)
    position = {path: i for i, path in enumerate(unique)}
    shards = [position[Path(p).expanduser().resolve()] for p in shards_paths]
    return HarmonizationBatches(clickme, shards, cycle_length=cycle_length)


def _require_a_batch(source: HarmonizationBatches, batch_size: int) -> None:
    if batch_size < 1 or len(source) < batch_size:
        raise InvalidArgumentError(
            f"batch_size={batch_size} with {len(source)} samples gives no full batch, and the "
            f"original drops incomplete batches; use 1 <= batch_size <= {len(source)}."
        )


def _tf_pipeline(source: HarmonizationBatches, batch_size: int) -> tf.data.Dataset:
    import tensorflow as tf

    from ..adapters.tf import dataset
    from ..augment.tf import harmonization_preprocess

    _require_a_batch(source, batch_size)
    batches = dataset(source, batch_size, shuffle=False, drop_remainder=True)

    def to_elements(batch: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        images, heatmaps = harmonization_preprocess(batch["image"], batch["heatmap"])
        return images, heatmaps, batch["label"]

    return batches.map(to_elements, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def load_clickme(
    shards_paths: Sequence[str | os.PathLike[str]],
    batch_size: int = 64,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    cycle_length: int | None = None,
) -> tf.data.Dataset:
    """The original's ``load_clickme``: ClickMe-format TFRecord shards as a ``tf.data.Dataset``.

    The shards are converted into the cache once (keyed by their paths, sizes
    and modification times; the copies are checksummed) and read from the
    store afterwards.

    Parameters
    ----------
    shards_paths
        Local ClickMe TFRecord files, e.g. those the original downloaded to
        ``~/.keras/datasets/click-me/clickme_val_{i}``.
    batch_size
        Samples per batch; incomplete batches are dropped, as the original does.
    cache_dir, progress
        As for :func:`neural_datasets.fetch`.
    cycle_length
        See the module notes; ``None`` reads in the original's order on this machine.

    Returns
    -------
    tf.data.Dataset
        ``(images, heatmaps, labels)``: float32 ``(B, 224, 224, 3)`` in 0..255,
        ``(B, 224, 224, 1)`` and one-hot ``(B, 1000)``.

    Raises
    ------
    FileNotFoundError
        A path is not a file.
    InvalidArgumentError
        No full batch (``batch_size`` larger than the shards' records).

    Examples
    --------
    >>> ds = load_clickme(sample_shards(), batch_size=16, progress=False)
    >>> [spec.shape.as_list() for spec in ds.element_spec]
    [[16, 224, 224, 3], [16, 224, 224, 1], [16, 1000]]
    """
    source = _path_batches(
        shards_paths, cache_dir=cache_dir, progress=progress, cycle_length=cycle_length
    )
    return _tf_pipeline(source, batch_size)


def load_clickme_train(
    batch_size: int = 64,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    progress: bool = True,
    cycle_length: int | None = None,
) -> tf.data.Dataset:
    """The original's ``load_clickme_train``: shards ``train-0`` .. ``train-317``.

    Fetches and converts ``clickme-train`` on first use (see
    :func:`neural_datasets.fetch`; ``base_url`` may be a mirror). Elements as
    :func:`load_clickme`.

    Examples
    --------
    >>> train = load_clickme_train(batch_size=128)  # doctest: +SKIP
    """
    source = _split_batches(
        "train",
        cache_dir=cache_dir,
        base_url=base_url,
        progress=progress,
        cycle_length=cycle_length,
    )
    return _tf_pipeline(source, batch_size)


def load_clickme_val(
    batch_size: int = 64,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    progress: bool = True,
    cycle_length: int | None = None,
) -> tf.data.Dataset:
    """The original's ``load_clickme_val``: shards ``val-0`` .. ``val-16``.

    Fetches and converts ``clickme-val`` on first use (see
    :func:`neural_datasets.fetch`; ``base_url`` may be a mirror). Elements as
    :func:`load_clickme`; this is what the original's ``evaluate_clickme``
    reads by default.

    Examples
    --------
    >>> val = load_clickme_val(batch_size=128)  # doctest: +SKIP
    """
    source = _split_batches(
        "val", cache_dir=cache_dir, base_url=base_url, progress=progress, cycle_length=cycle_length
    )
    return _tf_pipeline(source, batch_size)


class TorchBatches:
    """The batches of :func:`torch_loader`: iterable (again and again), with ``len()``.

    Examples
    --------
    >>> batches = torch_loader("sample", batch_size=20, layout="NCHW", progress=False)
    >>> len(batches), [tuple(t.shape) for t in next(iter(batches))]
    (2, [(20, 3, 224, 224), (20, 1, 224, 224), (20, 1000)])
    """

    def __init__(self, loader: Any, *, channels_last: bool, device: Any) -> None:
        self.loader = loader
        self.channels_last = channels_last
        self.device = device

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        from ..augment.torch import harmonization_preprocess

        for batch in self.loader:
            if self.device is not None:
                batch = {key: value.to(self.device) for key, value in batch.items()}
            images, heatmaps = harmonization_preprocess(batch["image"], batch["heatmap"])
            if self.channels_last:
                images = images.permute(0, 2, 3, 1).contiguous()
                heatmaps = heatmaps.permute(0, 2, 3, 1).contiguous()
            yield images, heatmaps, batch["label"]


def torch_loader(
    split: str | Sequence[str | os.PathLike[str]],
    batch_size: int = 64,
    *,
    layout: str = "NHWC",
    device: str | torch.device | None = None,
    num_workers: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    progress: bool = True,
    cycle_length: int | None = None,
) -> TorchBatches:
    """The Harmonization training inputs as PyTorch tensors: the TF loaders' batches, in torch.

    Parameters
    ----------
    split
        ``"train"`` (shards 0-317) or ``"val"`` (0-16) as ``load_clickme_train``
        / ``load_clickme_val``; ``"sample"`` for the bundled sample; or a
        sequence of local shard paths, as :func:`load_clickme`.
    batch_size
        Samples per batch; incomplete batches are dropped.
    layout
        ``"NHWC"`` (the original's: images ``(B, 224, 224, 3)``, heatmaps
        ``(B, 224, 224, 1)``) or ``"NCHW"`` (``(B, 3, 224, 224)``, ``(B, 1, 224, 224)``).
    device
        Where the resize and blur run and the tensors end up (default: CPU).
    num_workers
        Processes reading batches ahead (see :func:`neural_datasets.torch.loader`).
    cache_dir, base_url, progress
        As for :func:`neural_datasets.fetch` (``base_url`` for the splits only).
    cycle_length
        As :func:`load_clickme`.

    Returns
    -------
    TorchBatches
        Iterable of ``(images, heatmaps, labels)``, float32, labels one-hot
        ``(B, 1000)``; equal to the TF loaders' elements within 1e-4.

    Examples
    --------
    >>> batches = torch_loader("sample", batch_size=16, progress=False)
    >>> images, heatmaps, labels = next(iter(batches))
    >>> tuple(images.shape), tuple(heatmaps.shape), tuple(labels.shape), len(batches)
    ((16, 224, 224, 3), (16, 224, 224, 1), (16, 1000), 3)
    """
    from ..adapters.torch import loader

    if layout not in ("NHWC", "NCHW"):
        raise InvalidArgumentError(f"layout must be 'NHWC' or 'NCHW', got {layout!r}")
    if isinstance(split, str):
        source = _split_batches(
            split,
            cache_dir=cache_dir,
            base_url=base_url,
            progress=progress,
            cycle_length=cycle_length,
        )
    else:
        source = _path_batches(
            split, cache_dir=cache_dir, progress=progress, cycle_length=cycle_length
        )
    _require_a_batch(source, batch_size)
    batches = loader(source, batch_size, shuffle=False, drop_last=True, num_workers=num_workers)
    return TorchBatches(batches, channels_last=layout == "NHWC", device=device)


# --- training names (harmonization.training): start ----------------------------------------
# Harmonization's training API, over neural_datasets.harmonize.tf (TensorFlow imported on use).
# Same argument order as the original; images NHWC, true_heatmaps (B, H, W).

__all__ += [
    "harmonizer_loss",
    "pyramidal_mse_with_tokens",
    "pyramidal_representation",
    "standardize_cut",
]


def standardize_cut(heatmaps: Any, axes: tuple[int, int] = (1, 2), epsilon: float = 1e-5) -> Any:
    """The original's ``standardize_cut``: ``relu((h - mean) / (std + epsilon))`` over ``axes``.

    Examples
    --------
    >>> standardize_cut(np.array([[[0.0, 2.0], [0.0, 2.0]]], np.float32)).numpy().round(4).tolist()
    [[[0.0, 1.0], [0.0, 1.0]]]
    """
    from ..harmonize import tf as harmonize

    if tuple(axes) != (1, 2):
        import tensorflow as tf

        mean = tf.reduce_mean(heatmaps, axes, keepdims=True)
        std = tf.math.reduce_std(heatmaps, axes, keepdims=True)
        return tf.nn.relu((heatmaps - mean) / (std + epsilon))
    return harmonize.standardize_cut(heatmaps, epsilon)


def pyramidal_representation(image: Any, num_levels: int) -> list[Any]:
    """The original's ``pyramidal_representation``: ``image`` (NHWC) and ``num_levels`` reductions.

    Examples
    --------
    >>> [int(level.shape[1]) for level in pyramidal_representation(np.ones((1, 8, 8, 1)), 2)]
    [8, 4, 2]
    """
    from ..harmonize import tf as harmonize

    return harmonize.pyramidal_representation(np.asarray(image, np.float32), num_levels)


def pyramidal_mse_with_tokens(
    true_heatmaps: Any, predicted_heatmaps: Any, tokens: Any, nb_levels: int = 5
) -> Any:
    """The original's ``pyramidal_mse_with_tokens`` on ``(B, H, W)`` maps.

    Examples
    --------
    >>> maps = np.zeros((2, 8, 8), np.float32)
    >>> float(pyramidal_mse_with_tokens(maps, maps + 1, np.ones(2, np.float32), 1))
    1.0
    """
    from ..harmonize import tf as harmonize

    return harmonize.pyramidal_mse(true_heatmaps, predicted_heatmaps, tokens, nb_levels)


def harmonizer_loss(
    model: Any,
    images: Any,
    tokens: Any,
    labels: Any,
    true_heatmaps: Any,
    cross_entropy: Any = None,
    lambda_weights: float = 1e-5,
    lambda_harmonization: float = 1.0,
) -> list[Any]:
    """The original's ``harmonizer_loss``: the gradients of the loss, one per trainable variable.

    ``cross_entropy`` (``None``: label-smoothed 0.1, from logits, as the
    original's default) is called as ``cross_entropy(labels, logits)``.
    For a loss to differentiate yourself, or ``model.fit``, see
    :mod:`neural_datasets.harmonize.tf`.

    Examples
    --------
    >>> import tensorflow as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((8, 8, 3)), tf.keras.layers.Flatten(),
    ...                              tf.keras.layers.Dense(4)])
    >>> gradients = harmonizer_loss(model, tf.random.uniform((2, 8, 8, 3)), tf.ones(2),
    ...                             tf.one_hot([0, 1], 4), tf.random.uniform((2, 8, 8)))
    >>> [tuple(g.shape) for g in gradients]
    [(192, 4), (4,)]
    """
    import tensorflow as tf

    from ..harmonize import tf as harmonize

    images = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        terms = harmonize.loss_terms(
            model,
            images,
            labels,
            true_heatmaps,
            tokens,
            lambda_weights=lambda_weights,
            lambda_harmonization=lambda_harmonization,
            cross_entropy=cross_entropy,
        )
    return tape.gradient(terms.loss, model.trainable_variables)


# --- training names (harmonization.training): end ------------------------------------------
