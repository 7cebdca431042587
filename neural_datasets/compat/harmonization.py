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

Every public name of the original's ``clickme_dataset.py`` and ``blur.py``
is here with its signature, defaults and results: ``CLICKME_BASE_URL``,
``NB_TRAIN_SHARDS``, ``NB_VAL_SHARDS``, ``AUTO``, ``GAUSSIAN_KERNEL``,
``FEATURE_DESCRIPTION``, ``BLUR_KERNEL_SIZE``, ``BLUR_SIGMA``,
:func:`gaussian_kernel`, :func:`gaussian_blur`, :func:`parse_clickme_prototype`
and the three loaders (``docs/migrating.md`` lists what differs). Where the
original's edges differ from the native API's they follow the original: a
``batch_size`` larger than the data gives zero batches (with a warning), not
an error. ``NEURAL_DATASETS_SAMPLES=1`` points ``load_clickme_train()`` and
``load_clickme_val()`` at the bundled sample (:mod:`.samples`).

This module imports TensorFlow only when a TensorFlow value is asked for
(the loaders, ``GAUSSIAN_KERNEL``, ``FEATURE_DESCRIPTION``, the functions of
``blur.py``) and PyTorch only in :func:`torch_loader`.
"""

from __future__ import annotations

import numbers
import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..augment import harmonization as recipe
from ..datasets.clickme.dataset import ClickMe
from ..datasets.clickme.reading_order import (  # the original's reading order, used natively too
    HARMONIZATION_SHARDS,
    NB_CLASSES,
    HarmonizationBatches,
)
from ..datasets.clickme.spec import BASE_URL, SAMPLE_FOLDER
from ..errors import InvalidArgumentError
from ..registry import get_spec
from .samples import ENV_SAMPLES, samples_requested

if TYPE_CHECKING:
    import tensorflow as tf
    import torch

__all__ = [
    "AUTO",
    "BLUR_KERNEL_SIZE",
    "BLUR_SIGMA",
    "CLICKME_BASE_URL",
    "FEATURE_DESCRIPTION",
    "GAUSSIAN_KERNEL",
    "NB_TRAIN_SHARDS",
    "NB_VAL_SHARDS",
    "HarmonizationBatches",
    "gaussian_blur",
    "gaussian_kernel",
    "load_clickme",
    "load_clickme_train",
    "load_clickme_val",
    "parse_clickme_prototype",
    "sample_shards",
    "torch_loader",
]

CLICKME_BASE_URL = BASE_URL
"""Where the original downloads the shards from (``<base>/val/val-{i}.tfrecords``)."""

NB_TRAIN_SHARDS = HARMONIZATION_SHARDS["train"]
"""Train shards the original reads: ``train-0`` .. ``train-317``."""

NB_VAL_SHARDS = HARMONIZATION_SHARDS["val"]
"""Val shards the original reads: ``val-0`` .. ``val-16``."""


AUTO = -1
"""``tf.data.AUTOTUNE`` (the same int, -1), without importing TensorFlow."""

BLUR_KERNEL_SIZE = recipe.BLUR_KERNEL_SIZE
"""Side of the original's Gaussian kernel: 10."""

BLUR_SIGMA = int(recipe.BLUR_SIGMA)
"""Sigma of the original's Gaussian kernel: 10, an int as in the original."""

# Built with TensorFlow on first access (module __getattr__ below), as the original's
# module-level tensors are, so that importing this module stays free of TensorFlow.
_LAZY_TF_CONSTANTS = ("FEATURE_DESCRIPTION", "GAUSSIAN_KERNEL")
FEATURE_DESCRIPTION: dict[str, Any]  # declared only: no value until first read
GAUSSIAN_KERNEL: tf.Tensor

_UPSTREAM_SHARDS = {"train": NB_TRAIN_SHARDS, "val": NB_VAL_SHARDS}


def __getattr__(name: str) -> Any:
    """``GAUSSIAN_KERNEL`` and ``FEATURE_DESCRIPTION``, built (once) when first read.

    ``GAUSSIAN_KERNEL`` is :func:`gaussian_kernel` ``()``, a float32
    ``tf.Tensor`` ``(10, 10, 1, 1)``; ``FEATURE_DESCRIPTION`` the
    ``tf.io.FixedLenFeature`` dict of the shards' three features (``image`` and
    ``heatmap`` JPEG strings, ``label`` int64), as in the original.
    """
    if name not in _LAZY_TF_CONSTANTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import tensorflow as tf

    if name == "GAUSSIAN_KERNEL":
        value: Any = gaussian_kernel()
    else:
        value = {
            "image": tf.io.FixedLenFeature([], tf.string, default_value=""),
            "heatmap": tf.io.FixedLenFeature([], tf.string, default_value=""),
            "label": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        }
    globals()[name] = value
    return value


def gaussian_kernel(size: int = BLUR_KERNEL_SIZE, sigma: float = BLUR_SIGMA) -> tf.Tensor:
    """The original's ``gaussian_kernel``: a normalised Gaussian as a ``conv2d`` filter.

    The same numbers as :func:`neural_datasets.augment.harmonization.gaussian_kernel`
    (off-centre peak for even sizes, as the original's), shaped for
    ``tf.nn.conv2d``.

    Returns
    -------
    tf.Tensor
        float32 ``(size, size, 1, 1)``, summing to 1.

    Examples
    --------
    >>> kernel = gaussian_kernel()
    >>> kernel.shape.as_list(), kernel.dtype.name, round(float(np.sum(kernel)), 5)
    ([10, 10, 1, 1], 'float32', 1.0)
    """
    import tensorflow as tf

    return tf.constant(recipe.gaussian_kernel(int(size), float(sigma))[:, :, None, None])


def gaussian_blur(heatmap: Any, kernel: Any) -> tf.Tensor:
    """The original's ``gaussian_blur``: one ``(H, W, 1)`` heatmap through a ``'SAME'`` conv.

    Parameters
    ----------
    heatmap
        float32 ``(H, W, 1)`` (a tensor or array).
    kernel
        A ``conv2d`` filter such as :data:`GAUSSIAN_KERNEL`.

    Returns
    -------
    tf.Tensor
        float32 ``(H, W, 1)``.

    Examples
    --------
    >>> blurred = gaussian_blur(np.ones((64, 64, 1), np.float32), gaussian_kernel())
    >>> blurred.shape.as_list(), round(float(blurred[32, 32, 0]), 4)
    ([64, 64, 1], 1.0)
    """
    import tensorflow as tf

    batch = tf.convert_to_tensor(heatmap)[None]
    return tf.nn.conv2d(batch, kernel, strides=[1, 1, 1, 1], padding="SAME")[0]


def parse_clickme_prototype(prototype: Any) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The original's ``parse_clickme_prototype``: one serialized record to model inputs.

    The record's JPEGs are decoded and put through the original's
    preprocessing (:func:`neural_datasets.augment.tf.harmonization_preprocess`):
    usable in ``tf.data`` maps over ``TFRecordDataset``, as in the original.

    Returns
    -------
    image, heatmap, label : tf.Tensor
        float32 ``(224, 224, 3)`` in 0..255, ``(224, 224, 1)`` and one-hot ``(1000,)``.

    Examples
    --------
    >>> import tensorflow as tf
    >>> record = next(iter(tf.data.TFRecordDataset(sample_shards()[0])))
    >>> [t.shape.as_list() for t in parse_clickme_prototype(record)]
    [[224, 224, 3], [224, 224, 1], [1000]]
    """
    import tensorflow as tf

    from ..augment.tf import harmonization_preprocess
    from ..datasets.clickme.convert import HEATMAP_SHAPE, IMAGE_SHAPE

    data = tf.io.parse_single_example(prototype, __getattr__("FEATURE_DESCRIPTION"))
    image = tf.reshape(tf.io.decode_jpeg(data["image"]), IMAGE_SHAPE)
    heatmap = tf.reshape(tf.io.decode_jpeg(data["heatmap"]), (*HEATMAP_SHAPE, 1))
    images, heatmaps = harmonization_preprocess(image[None], heatmap[None])
    label = tf.one_hot(tf.cast(data["label"], tf.int32), NB_CLASSES)
    return images[0], heatmaps[0], label


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
    """The original's shards of ``split`` (all shards for ``"sample"``), in its order.

    With ``NEURAL_DATASETS_SAMPLES=1`` the sample's shards stand in for the
    split's, in turn (17 for val, 318 for train), so the original's default
    ``batch_size`` still gives batches.
    """
    if split not in (*_UPSTREAM_SHARDS, "sample"):
        raise InvalidArgumentError(
            f"Unknown split {split!r}; choose 'train', 'val' or 'sample', or give shard paths."
        )
    if split != "sample" and samples_requested():
        print(
            f"neural-datasets: {ENV_SAMPLES} is set: the {split} split reads the bundled "
            f"ClickMe sample (48 records, its 2 shards standing in for the split's "
            f"{_UPSTREAM_SHARDS[split]}), not the real data.",
            file=sys.stderr,
        )
        clickme = ClickMe("sample", cache_dir=cache_dir, progress=progress)
        n_sample = len(clickme.attrs["clickme"]["source_files"])
        shards = [i % n_sample for i in range(_UPSTREAM_SHARDS[split])]
        return HarmonizationBatches(clickme, shards, cycle_length=cycle_length)
    clickme = ClickMe(split, cache_dir=cache_dir, base_url=base_url, progress=progress)
    count = _UPSTREAM_SHARDS.get(split, len(clickme.attrs["clickme"]["source_files"]))
    return HarmonizationBatches(clickme, list(range(count)), cycle_length=cycle_length)


def _shard_path_list(shards_paths: Any) -> list[Path]:
    """What the original's ``TFRecordDataset`` accepts, as paths: one name or an iterable of
    names (str, bytes, ``os.PathLike``, NumPy strings, a string tensor), read once."""
    if hasattr(shards_paths, "numpy"):  # a tf.Tensor of file names
        shards_paths = shards_paths.numpy()
    if isinstance(shards_paths, np.ndarray):
        shards_paths = shards_paths.tolist()
    if isinstance(shards_paths, (str, bytes, os.PathLike)):
        shards_paths = [shards_paths]  # TFRecordDataset accepts one file name too
    if not isinstance(shards_paths, Iterable):
        raise InvalidArgumentError(
            f"shards_paths must be a file name or a sequence of them, got "
            f"{type(shards_paths).__name__}"
        )
    paths = []
    for name in shards_paths:
        if not isinstance(name, (str, bytes, os.PathLike)):
            raise InvalidArgumentError(
                f"shards_paths must hold file names (str or pathlib.Path), got "
                f"{type(name).__name__}: {name!r}"
            )
        paths.append(Path(os.fsdecode(name)).expanduser().resolve())
    return paths


def _path_batches(
    shards_paths: Any,
    *,
    cache_dir: str | os.PathLike[str] | None,
    progress: bool,
    cycle_length: int | None,
) -> HarmonizationBatches | None:
    """The shards in the given order; ``None`` for no shards (the original reads no record)."""
    paths = _shard_path_list(shards_paths)
    if not paths:
        return None
    unique = list(dict.fromkeys(paths))
    missing = [str(path) for path in unique if not path.is_file()]
    if missing:  # as the original's TFRecordDataset, before anything is read
        raise FileNotFoundError(f"No such TFRecord shard: {', '.join(missing[:3])}")
    clickme = ClickMe.from_tfrecords(unique, cache_dir=cache_dir, progress=progress)
    position = {path: i for i, path in enumerate(unique)}
    return HarmonizationBatches(clickme, [position[p] for p in paths], cycle_length=cycle_length)


def _batch_size(batch_size: Any) -> int:
    """``batch_size`` as an int: Python and NumPy integers >= 1, as ``Dataset.batch`` takes."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise InvalidArgumentError(
            f"batch_size must be an integer, got {type(batch_size).__name__}: {batch_size!r}"
        )
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
    return int(batch_size)


def _has_a_full_batch(source: HarmonizationBatches | None, batch_size: int) -> bool:
    """Whether ``source`` fills one batch; if not, warn: the original yields zero batches."""
    if source is None:
        why = "no shard paths were given (the original's TFRecordDataset([]) reads no record)"
    elif len(source) < batch_size:
        why = (
            f"batch_size={batch_size} is larger than the {len(source)} samples: the original "
            f"drops incomplete batches (drop_remainder=True); use batch_size <= {len(source)}"
        )
    else:
        return True
    warnings.warn(f"No batches: {why}.", RuntimeWarning, stacklevel=3)
    return False


def _tf_pipeline(source: HarmonizationBatches | None, batch_size: Any) -> tf.data.Dataset:
    import tensorflow as tf

    from ..adapters.tf import dataset
    from ..augment.tf import harmonization_preprocess

    batch_size = _batch_size(batch_size)
    if not _has_a_full_batch(source, batch_size) or source is None:
        side, classes = recipe.IMAGE_SIZE, NB_CLASSES
        empty = (tf.zeros([0, side, side, 3]), tf.zeros([0, side, side, 1]), tf.zeros([0, classes]))
        return tf.data.Dataset.from_tensor_slices(empty).batch(batch_size, drop_remainder=True)
    batches = dataset(source, batch_size, shuffle=False, drop_remainder=True)

    def to_elements(batch: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        images, heatmaps = harmonization_preprocess(batch["image"], batch["heatmap"])
        return images, heatmaps, batch["label"]

    return batches.map(to_elements, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def load_clickme(
    shards_paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
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
        ``~/.keras/datasets/click-me/clickme_val_{i}``: one name or any iterable
        of names (str, bytes, ``pathlib.Path``, a NumPy or TensorFlow string
        array), as ``TFRecordDataset`` takes.
    batch_size
        Samples per batch (a Python or NumPy integer); incomplete batches are
        dropped, as the original does: larger than the data, zero batches
        (and a ``RuntimeWarning``).
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
        ``batch_size`` is not an integer >= 1, or a path is not a file name.

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
    :func:`neural_datasets.fetch`; ``base_url`` may be a mirror; shards
    already in the Keras cache are reused). Elements as :func:`load_clickme`.
    With ``NEURAL_DATASETS_SAMPLES=1``, reads the bundled sample instead.

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
    :func:`neural_datasets.fetch`; ``base_url`` may be a mirror; shards
    already in the Keras cache are reused). Elements as :func:`load_clickme`;
    this is what the original's ``evaluate_clickme`` reads by default (the
    original's own ``load_clickme_val`` fails with ``UnboundLocalError``; this
    one runs). With ``NEURAL_DATASETS_SAMPLES=1``, reads the bundled sample
    instead.

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
    split: str | Iterable[str | os.PathLike[str]],
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
        Samples per batch; incomplete batches are dropped (zero batches, with
        a ``RuntimeWarning``, when it exceeds the data).
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
    source: HarmonizationBatches | None
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
    batch_size = _batch_size(batch_size)
    if not _has_a_full_batch(source, batch_size) or source is None:
        return TorchBatches([], channels_last=layout == "NHWC", device=device)
    batches = loader(source, batch_size, shuffle=False, drop_last=True, num_workers=num_workers)
    return TorchBatches(batches, channels_last=layout == "NHWC", device=device)


# --- Training: harmonization.training ---------------------------------------------------------
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


# --- Evaluation: harmonization.evaluation.{metrics,clickme} ------------------------------------
# Upstream's evaluation names, so `from harmonization.evaluation import ...` switches by import.
# The scores come from neural_datasets.metrics (same values, one sort per map instead of
# scipy/percentile loops); see docs/scoring.md for the differences.

EPSILON = 1e-9
"""Upstream's guard added to the Dice and IoU denominators (it changes no score)."""

from ..metrics.clickme import (  # noqa: E402
    HUMAN_SPEARMAN_CEILING,
    ClickMeScores,
    _score_arrays,
    warn_if_nan,
)

__all__ += [  # AUTO, which upstream's evaluation module exports too, is defined above
    "EPSILON",
    "HUMAN_SPEARMAN_CEILING",
    "dice",
    "evaluate_clickme",
    "intersection_over_union",
    "spearman_correlation",
]


def _upstream_scores(heatmaps_a: Any, heatmaps_b: Any, percentile: float) -> ClickMeScores:
    """The per-image scores of two ``(N, W, H)`` sets, rank checked as upstream asserts."""

    for argument, value in (("heatmaps_a", heatmaps_a), ("heatmaps_b", heatmaps_b)):
        if len(value.shape) != 3:
            raise ValueError(f"{argument} must have shape (N, W, H); got {tuple(value.shape)}")
    return ClickMeScores(*_score_arrays(heatmaps_a, heatmaps_b, percentile, None), percentile)


def spearman_correlation(heatmaps_a: Any, heatmaps_b: Any) -> np.ndarray:
    """Upstream's ``spearman_correlation``: per-image Spearman of two ``(N, W, H)`` sets.

    NumPy arrays, TF or torch tensors; compared in float32; NaN for a constant map.

    Examples
    --------
    >>> maps = np.arange(8.0).reshape(2, 2, 2)
    >>> spearman_correlation(maps, -maps).tolist()
    [-1.0, -1.0]
    """
    return _upstream_scores(heatmaps_a, heatmaps_b, 10).spearman


def dice(heatmaps_a: Any, heatmaps_b: Any, percentile: float = 10) -> np.ndarray:
    """Upstream's ``dice``: per-image Sorensen-Dice of the maps above their ``100 - percentile``.

    Examples
    --------
    >>> maps = np.arange(8.0).reshape(2, 2, 2)
    >>> dice(maps, maps, percentile=50).tolist()
    [1.0, 1.0]
    """
    return _upstream_scores(heatmaps_a, heatmaps_b, percentile).dice


def intersection_over_union(heatmaps_a: Any, heatmaps_b: Any, percentile: float = 10) -> np.ndarray:
    """Upstream's ``intersection_over_union``: per-image IoU of the thresholded maps.

    Examples
    --------
    >>> maps = np.arange(8.0).reshape(2, 2, 2)
    >>> intersection_over_union(maps, maps[:, ::-1], percentile=50).tolist()
    [0.0, 0.0]
    """
    return _upstream_scores(heatmaps_a, heatmaps_b, percentile).iou


def evaluate_clickme(
    model: Any,
    explainer: Any = None,
    clickme_val_dataset: Any = None,
    preprocess_inputs: Any = None,
    *,
    nan: str = "omit",
) -> dict[str, Any]:
    """Upstream's ``evaluate_clickme``: ClickMe scores of a model over a tf.data dataset.

    Parameters
    ----------
    model
        A Keras model, or (new) a PyTorch model, explained by default with xplique's
        ``Saliency`` definition (:func:`neural_datasets.metrics.saliency_explainer`); a
        PyTorch model is given the images as ``(B, 3, H, W)`` torch tensors on its device.
    explainer
        ``f(images, labels) -> saliency_maps`` called with each batch's TF tensors, as upstream;
        maps ``(B, H, W)`` or ``(B, H, W, C)`` (averaged over ``C``), any array type.
    clickme_val_dataset
        A ``tf.data.Dataset`` of ``(images, heatmaps, labels)`` batches, e.g.
        ``load_clickme_val().take(5)``; default :func:`load_clickme_val` (fetched on first use).
    preprocess_inputs
        Mapped over the images inside the dataset, as upstream; default identity.

    nan
        ``"omit"`` (default): an image with a constant map (NaN Spearman) is left out of
        ``alignment_score``, with a warning; ``"propagate"``: upstream's NaN score.

    Returns
    -------
    dict
        ``spearman``, ``dice``, ``iou`` (per-image lists) and ``alignment_score`` (mean
        Spearman / ``HUMAN_SPEARMAN_CEILING``).

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((224, 224, 3)), keras.layers.Conv2D(2, 8, 8),
    ...                           keras.layers.Flatten(), keras.layers.Dense(1000)])
    >>> ds = load_clickme(sample_shards(), batch_size=16, progress=False)
    >>> scores = evaluate_clickme(model, clickme_val_dataset=ds.take(2))
    >>> len(scores["spearman"]), sorted(scores)
    (32, ['alignment_score', 'dice', 'iou', 'spearman'])
    """
    from ..metrics.explainers import saliency_explainer
    from ..metrics.frameworks import framework_of

    if clickme_val_dataset is None:
        clickme_val_dataset = load_clickme_val()
    if preprocess_inputs is not None:
        clickme_val_dataset = clickme_val_dataset.map(
            lambda x, y, z: (preprocess_inputs(x), y, z), num_parallel_calls=AUTO
        )
    if explainer is None:
        explainer = saliency_explainer(model)
        if framework_of(model) == "torch":
            explainer = _from_tf_batches(explainer, model)
    parts = []
    for images, heatmaps, labels in clickme_val_dataset:
        parts.append(_score_arrays(explainer(images, labels), heatmaps, 10, None))
    scores = ClickMeScores.from_batches(parts)
    warn_if_nan(scores)
    return scores.as_dict(nan)


def _from_tf_batches(explain: Any, model: Any) -> Any:
    """A PyTorch explainer fed with upstream's TF batches: NHWC TF tensors to NCHW torch ones."""
    import torch

    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")

    def explain_tf_batch(images: Any, labels: Any) -> Any:
        nchw = torch.from_numpy(images.numpy()).permute(0, 3, 1, 2).to(device)
        return explain(nchw, torch.from_numpy(labels.numpy()).to(device))

    return explain_tf_batch
