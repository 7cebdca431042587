"""tf.data adapter: whole-batch reads into a ``tf.data.Dataset``, sharded by input pipeline.

The pipeline is a dataset of index batches (from the same
:class:`~neural_datasets.adapters.sampling.EpochPlan` the PyTorch loader uses, so a seed
gives the same batches in both frameworks) mapped through one
``tf.numpy_function`` per batch that calls the source's ``read_batch``, then
prefetched, so reading the next batches overlaps the training step. Elements
are dicts of NHWC tensors with a complete ``element_spec``; single-channel maps
get a trailing channel axis.

Examples
--------
>>> import neural_datasets as nd
>>> from neural_datasets.tf import dataset
>>> ds = dataset(nd.ClickMe("sample", progress=False), 8)
>>> {k: (s.shape.as_list(), s.dtype.name) for k, s in ds.element_spec.items()}
... # doctest: +NORMALIZE_WHITESPACE
{'image': ([8, 256, 256, 3], 'uint8'), 'heatmap': ([8, 256, 256, 1], 'uint8'),
 'label': ([8], 'int64')}
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from neural_datasets._checks import batch_source, count, framework_import

with framework_import("neural_datasets.tf"):
    import tensorflow as tf

from neural_datasets.adapters.batches import BatchSource, channels_last, picture_keys, thread_safe
from neural_datasets.adapters.sampling import EpochPlan
from neural_datasets.errors import InvalidArgumentError

__all__ = ["dataset"]


class _ExitGuard:
    """Keeps tf.data threads out of Python while the interpreter finalizes.

    A tf.data thread that enters Python during finalization never returns, and
    destroying an iterator waits for its threads: a script that exits while
    holding a partly read iterator would hang. From ``atexit`` on, the wrapped
    functions fail fast instead, and exit waits until the pipelines have filled
    their buffers and gone idle.
    """

    def __init__(self) -> None:
        self.closing = False
        self.running = 0
        self.last_call = 0.0
        self.lock = threading.Lock()  # guards the counters only, never held during a call

    def wrap(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any) -> Any:
            if self.closing:
                raise RuntimeError("Python is exiting")
            with self.lock:
                self.running += 1
            try:
                return func(*args)
            finally:
                with self.lock:
                    self.running -= 1
                    self.last_call = time.monotonic()

        return guarded

    def close(self, quiet_s: float = 0.1, timeout_s: float = 5.0) -> None:
        self.closing = True
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (
            self.running or time.monotonic() - self.last_call < quiet_s
        ):
            time.sleep(0.01)


_GUARD = _ExitGuard()
atexit.register(_GUARD.close)


def dataset(
    source: BatchSource,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    drop_remainder: bool = True,
    epochs: int | None = 1,
    start_epoch: int = 0,
    start_batch: int = 0,
    input_context: tf.distribute.InputContext | None = None,
    as_supervised: bool = False,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of whole batches read in parallel, shuffled per epoch.

    Parameters
    ----------
    source
        A batch source: a dataset object such as :class:`~neural_datasets.ClickMe`
        (local or opened from a URL), or any object with ``len()`` and
        ``read_batch``; its ``features`` say which arrays are pictures.
        Batches are read by parallel calls when the source declares
        ``thread_safe`` (see :func:`~neural_datasets.adapters.batches.thread_safe`),
        one at a time otherwise.
    batch_size
        Samples per batch of this pipeline; under a distribution strategy pass
        ``input_context.get_per_replica_batch_size(global_batch_size)``.
    shuffle, seed, drop_remainder
        As :class:`~neural_datasets.adapters.sampling.EpochPlan` (``drop_last``).
        ``drop_remainder=True`` keeps the batch dimension static.
    epochs
        Passes over the data, back to back, each in its own order (epoch
        ``start_epoch``, ``start_epoch + 1``, ...); ``None`` repeats forever
        (give Keras ``steps_per_epoch``). Iterating the dataset again starts
        over from ``start_epoch``: deterministic, hence the same order.
    start_epoch
        The first epoch's number, to resume a run where it stopped.
    start_batch
        Batches of the first epoch to leave out, to resume mid-epoch: with
        ``start_epoch=e, start_batch=k`` the dataset gives exactly the batches
        a run that had consumed ``k`` batches of epoch ``e`` would read next
        (the indices are skipped before any read). Save ``e`` and ``k`` with
        the checkpoint (docs/scaling.md).
    input_context
        From ``strategy.distribute_datasets_from_function``: each input
        pipeline reads a disjoint part of every epoch and the same number of
        batches.
    as_supervised
        Yield ``(input, target)`` tuples instead of dicts, as TFDS does: the
        source's ``supervised_keys``, ``(image, label)`` for ClickMe and
        ``(stimulus, response)`` for IT pairs, ready for ``keras.Model.fit``.

    Returns
    -------
    tf.data.Dataset
        Dicts of NHWC tensors (pictures get a channel axis); for ClickMe
        ``image`` uint8 ``[B, H, W, 3]``,
        ``heatmap`` uint8 ``[B, H, W, 1]``, ``label`` int64 ``[B]``. Its
        cardinality is known (``epochs`` times the batches per epoch).

    Examples
    --------
    >>> import neural_datasets as nd
    >>> clickme = nd.ClickMe("sample", progress=False)
    >>> two_epochs = dataset(clickme, 16, seed=1, epochs=2)
    >>> int(two_epochs.cardinality())
    6
    >>> images, labels = next(iter(dataset(clickme, 8, as_supervised=True)))
    >>> images.shape.as_list(), labels.shape.as_list()
    ([8, 256, 256, 3], [8])
    >>> strategy = tf.distribute.get_strategy()
    >>> dist = strategy.distribute_datasets_from_function(
    ...     lambda ctx: dataset(clickme, ctx.get_per_replica_batch_size(16), input_context=ctx))
    """
    batch_source(source, "source", "dataset")
    supervised = getattr(source, "supervised_keys", None) if as_supervised else None
    if as_supervised and supervised is None:
        raise InvalidArgumentError(
            f"as_supervised=True: {type(source).__name__} names no supervised_keys (the "
            f"(input, target) pair); map the dicts yourself, e.g. .map(lambda b: (b['x'], b['y']))."
        )
    if epochs is not None:
        count("epochs", epochs, otherwise="or None to repeat forever")
    count("start_epoch", start_epoch, minimum=0)
    replicas, rank = (1, 0)
    if input_context is not None:
        replicas, rank = input_context.num_input_pipelines, input_context.input_pipeline_id
    plan = EpochPlan(
        len(source),
        batch_size,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_remainder,
        num_replicas=replicas,
        rank=rank,
        drop_argument="drop_remainder",
    )
    if epochs is None:
        passes, cardinality = tf.data.Dataset.counter(start_epoch), tf.data.INFINITE_CARDINALITY
    else:
        passes = tf.data.Dataset.range(start_epoch, start_epoch + epochs)
        cardinality = epochs * len(plan)

    @tf.autograph.experimental.do_not_convert
    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        indices = tf.numpy_function(
            _GUARD.wrap(lambda e: plan.indices(int(e))), [epoch], tf.int64, stateful=False
        )
        indices.set_shape([plan.samples_per_rank])
        return tf.data.Dataset.from_tensor_slices(indices).batch(batch_size, drop_remainder)

    if not 0 <= start_batch <= len(plan):
        raise ValueError(
            f"start_batch must be between 0 and the {len(plan)} batches of an epoch, "
            f"got {start_batch}"
        )
    batches = passes.flat_map(epoch_batches).skip(start_batch)
    if cardinality != tf.data.INFINITE_CARDINALITY:
        cardinality -= start_batch
    batches = batches.apply(tf.data.experimental.assert_cardinality(cardinality))
    read = _batch_reader(source, batch_size if drop_remainder else None)
    pipeline = batches.map(read, num_parallel_calls=tf.data.AUTOTUNE)
    if supervised is not None:
        x, y = supervised
        pipeline = pipeline.map(lambda batch: (batch[x], batch[y]))
    return pipeline.prefetch(tf.data.AUTOTUNE)


def _batch_reader(
    source: BatchSource, batch_dim: int | None
) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """A tf.data map function reading one batch of indices, with static shapes and dtypes."""
    first = source.read_batch([0])
    pictures = picture_keys(source, first)
    probe = channels_last(first, pictures)
    keys = list(probe)
    shapes = {key: [batch_dim, *value.shape[1:]] for key, value in probe.items()}
    dtypes = [tf.as_dtype(probe[key].dtype) for key in keys]

    # tf.data calls this from several threads at once (the AUTOTUNE map). Sources
    # that declare themselves thread-safe are read in parallel; any other object
    # with read_batch takes turns behind a lock.
    turns: contextlib.AbstractContextManager[Any] = (
        contextlib.nullcontext() if thread_safe(source) else threading.Lock()
    )

    def read_numpy(indices: np.ndarray) -> list[np.ndarray]:
        with turns:
            batch = channels_last(source.read_batch(indices), pictures)
        return [batch[key] for key in keys]

    @tf.autograph.experimental.do_not_convert
    def read(indices: tf.Tensor) -> dict[str, tf.Tensor]:
        values = tf.numpy_function(_GUARD.wrap(read_numpy), [indices], dtypes, stateful=False)
        return {key: tf.ensure_shape(v, shapes[key]) for key, v in zip(keys, values)}

    return read
