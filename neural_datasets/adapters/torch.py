"""PyTorch adapter: whole-batch reads into a ``DataLoader``, from one process to many ranks.

Every batch is read with one ``read_batch`` call on the dataset (one pass over
the shard files it touches), so there is no per-sample Python work and no
collation: the loader's sampler hands the dataset a whole batch of indices
and gets stacked tensors back.

Image-like tensors come as ``[B, C, H, W]`` views of the ``[B, H, W, C]``
bytes on disk, i.e. in ``torch.channels_last`` memory format, with no
transposing copy; convolutions run in that format directly (and fastest on
GPUs), and ``.contiguous()`` gives the NCHW layout where something needs it.

Readers hold no threads and open their files lazily in each process, so
loaders work with ``fork`` and ``spawn`` workers, persistent or not, even when
the main process has read before the workers start.

Examples
--------
>>> import neural_datasets as nd
>>> from neural_datasets.torch import loader
>>> batches = loader(nd.ClickMe("sample", progress=False), 8)
>>> batch = next(iter(batches))
>>> {k: (tuple(v.shape), v.dtype) for k, v in batch.items()}  # doctest: +NORMALIZE_WHITESPACE
{'image': ((8, 3, 256, 256), torch.uint8), 'heatmap': ((8, 1, 256, 256), torch.uint8),
 'label': ((8,), torch.int64)}
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal, cast

import numpy as np

from neural_datasets._checks import batch_source, count, framework_import

with framework_import("neural_datasets.torch"):
    import torch
    from torch.utils.data import DataLoader, Dataset, Sampler

from neural_datasets.adapters.batches import (
    BatchSource,
    channels_last,
    fork_safe,
    picture_keys,
    thread_safe,
)
from neural_datasets.adapters.sampling import EpochPlan
from neural_datasets.datasets.indexing import coerce_index
from neural_datasets.errors import NeuralDatasetsError

__all__ = ["BatchDataset", "EpochBatchSampler", "Loader", "loader"]


def _to_tensors(batch: dict[str, np.ndarray], pictures: frozenset[str]) -> dict[str, torch.Tensor]:
    tensors = {k: torch.from_numpy(v) for k, v in channels_last(batch, pictures).items()}
    # NHWC -> NCHW as a strided view: shape [B, C, H, W], memory format channels_last.
    return {k: v.permute(0, 3, 1, 2) if k in pictures else v for k, v in tensors.items()}


class BatchDataset(Dataset):
    """A map-style dataset over a batch source, indexed by whole batches.

    ``dataset[indices]`` reads all of ``indices`` in one call and returns a
    dict of stacked tensors; ``dataset[i]`` returns one sample. Use it with
    :func:`loader` (or a ``DataLoader`` with ``sampler=EpochBatchSampler(...)``
    and ``batch_size=None``).

    Parameters
    ----------
    source
        Anything with ``len()`` and ``read_batch(indices) -> dict of arrays``,
        such as :class:`~neural_datasets.ClickMe` (its ``features`` say which
        arrays are pictures, see :func:`~neural_datasets.adapters.batches.picture_keys`).
    transform
        Called on what the dataset returns, a dict of tensors (a whole batch
        from :func:`loader`, one sample for ``dataset[i]``), in the reading
        worker; its result is what is returned (torchvision's hook, per batch).
        With GPU JPEG decoding it runs after decoding, on the device.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> ds = BatchDataset(nd.ClickMe("sample", progress=False))
    >>> tuple(ds[[4, 1, 9]]["image"].shape)
    (3, 3, 256, 256)
    >>> tuple(ds[4]["heatmap"].shape), ds[4]["label"].dtype
    ((1, 256, 256), torch.int64)
    >>> as_float = BatchDataset(ds.source, transform=lambda b: {**b, "image": b["image"] / 255})
    >>> as_float[[0, 1]]["image"].dtype
    torch.float32
    """

    encoded = False
    """Hand over images as JPEG bytes (lists of ``bytes``) for a decoder elsewhere; set by
    :func:`loader`."""

    def __init__(
        self, source: BatchSource, transform: Callable[[dict[str, Any]], Any] | None = None
    ) -> None:
        self.source: BatchSource = batch_source(source, "source", type(self).__name__)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int | Sequence[int] | np.ndarray) -> dict[str, Any]:
        """One sample for an integer index; a stacked batch for a slice, indices or a mask."""
        positions, scalar = coerce_index(index, len(self.source))  # floats raise, not truncate
        batch: dict[str, Any]
        if self.encoded:
            encoded = self.source.read_encoded_batch(positions)  # type: ignore[attr-defined]
            jpegs = {k: v for k, v in encoded.items() if isinstance(v, list)}
            arrays = {k: v for k, v in encoded.items() if k not in jpegs}
            batch = _to_tensors(arrays, picture_keys(self.source, arrays)) | jpegs
        else:
            arrays = self.source.read_batch(positions)
            batch = _to_tensors(arrays, picture_keys(self.source, arrays))
        result = {key: value[0] for key, value in batch.items()} if scalar else batch
        if self.transform is None or self.encoded:  # encoded: after decoding (Loader)
            return result
        return self.transform(result)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"


class EpochBatchSampler(Sampler[np.ndarray]):
    """Yields this rank's batches of indices for the current epoch (an :class:`EpochPlan`).

    Parameters
    ----------
    num_samples, batch_size, shuffle, seed, drop_last
        As :class:`~neural_datasets.adapters.sampling.EpochPlan`.
    num_replicas, rank
        Default: the world size and rank of ``torch.distributed`` when it is
        initialised, else one rank.

    Examples
    --------
    >>> sampler = EpochBatchSampler(10, 4, seed=1)
    >>> [len(b) for b in sampler]
    [4, 4]
    >>> sampler.set_epoch(1)  # a new permutation, the same for every rank
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = True,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        world, me = _distributed_world()
        self.plan = EpochPlan(
            num_samples,
            batch_size,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
            num_replicas=world if num_replicas is None else num_replicas,
            rank=me if rank is None else rank,
        )
        self.epoch = 0
        self.skip = 0
        """Batches of :attr:`epoch` that iterations leave out (read before a resume, see
        :meth:`Loader.load_state_dict`, which clears it once the resumed pass starts)."""

    def set_epoch(self, epoch: int) -> None:
        """Read epoch ``epoch``'s permutation from the next iteration on."""
        if int(epoch) != self.epoch:
            self.skip = 0  # a resumed epoch's skip applies to that epoch only
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.plan)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.plan.batches(self.epoch)[self.skip :])


def _distributed_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


class Loader(DataLoader):
    """A ``DataLoader`` over an :class:`EpochBatchSampler`, with :meth:`set_epoch`.

    With ``reader_threads > 0`` (set by :func:`loader` for thread-safe
    sources), batches are read ahead by that many threads of this process
    instead of worker processes, and come in the sampler's order.
    """

    reader_threads = 0
    """Threads reading batches ahead; 0 leaves reading to ``DataLoader`` itself."""
    read_ahead = 0
    """How many batches the threads may hold ready or in progress."""
    device: torch.device | None = None
    """Where batches are delivered; ``None``: on the CPU, as read."""
    decode_jpeg: Callable[[list[bytes]], torch.Tensor] | None = None
    """Decodes a list of RGB JPEGs on :attr:`device`."""

    delivered = 0
    """Batches of the current epoch handed out so far (what :meth:`state_dict` records)."""

    def set_epoch(self, epoch: int) -> None:
        """Shuffle the next pass as epoch ``epoch`` (call it before each epoch)."""
        cast(EpochBatchSampler, self.sampler).set_epoch(epoch)  # loader() always builds one

    def state_dict(self) -> dict[str, Any]:
        """Where this loader is: its epoch and the batches of it already handed out.

        Save it with the model's checkpoint; :meth:`load_state_dict` on a new
        loader built with the same arguments (dataset, batch size, seed,
        shuffle, ranks) then gives exactly the batches this one would have
        given next, whatever ``num_workers`` either uses (torchdata's
        ``StatefulDataLoader`` convention). Batches read ahead by workers but
        not yet handed out are not counted, so none is skipped.

        Examples
        --------
        >>> import neural_datasets as nd
        >>> batches = loader(nd.ClickMe("sample", progress=False), 8, seed=1)
        >>> it = iter(batches); _ = next(it); _ = next(it)
        >>> state = batches.state_dict()
        >>> state["epoch"], state["batches_delivered"]
        (0, 2)
        >>> resumed = loader(nd.ClickMe("sample", progress=False), 8, seed=1)
        >>> resumed.load_state_dict(state)
        >>> bool((next(iter(resumed))["label"] == next(it)["label"]).all())
        True
        """
        sampler = cast(EpochBatchSampler, self.sampler)
        return {
            "epoch": sampler.epoch,
            "batches_delivered": self.delivered,
            "num_batches": len(sampler),
            "plan": _plan_facts(sampler.plan),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (:meth:`state_dict`): the next iteration resumes its epoch.

        Raises
        ------
        ValueError
            When ``state`` was saved by a loader over other samples, batch
            size, seed, shuffling or ranks: resuming it would not give the
            batches the interrupted loader would have given.
        """
        sampler = cast(EpochBatchSampler, self.sampler)
        facts = _plan_facts(sampler.plan)
        if state.get("plan") != facts:
            raise ValueError(
                f"state was saved by a loader with {state.get('plan')}, this loader has {facts}; "
                f"build the loader with the same dataset, batch_size, shuffle, seed, drop_last "
                f"and ranks to resume it."
            )
        sampler.set_epoch(int(state["epoch"]))
        sampler.skip = self.delivered = int(state["batches_delivered"])

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]  # a plain iterator in thread mode
        sampler = cast(EpochBatchSampler, self.sampler)
        self.delivered = sampler.skip
        # DataLoader's iterators take the sampler's order when built (some twice): the
        # resume point holds for this pass only, so it is cleared once the pass is built.
        batches = self._batches()
        sampler.skip = 0
        return self._counted(batches)

    def _counted(self, batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            self.delivered += 1
            yield batch

    def _batches(self) -> Iterator[Any]:
        if not self.reader_threads:
            batches: Iterator[Any] = super().__iter__()
        else:
            read = self.dataset.__getitem__
            if self.pin_memory:
                from torch.utils.data._utils.pin_memory import pin_memory

                def read(indices: Any, get: Any = read) -> Any:
                    return pin_memory(get(indices), self.pin_memory_device or None)

            batches = _read_ahead(read, iter(self.sampler), self.reader_threads, self.read_ahead)
        if self.device is None:
            return batches
        delivered = (self._deliver(batch) for batch in batches)
        transform = getattr(self.dataset, "transform", None)
        if transform is None or not getattr(self.dataset, "encoded", False):
            return delivered
        return (transform(batch) for batch in delivered)  # after decoding on the device

    def _deliver(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Move a batch to :attr:`device`, decoding JPEG bytes there."""
        out = {}
        for key, value in batch.items():
            if isinstance(value, list):
                assert self.decode_jpeg is not None  # set with encoded batches
                out[key] = self.decode_jpeg(value)
            else:
                out[key] = value.to(self.device, non_blocking=True)
        return out


def _plan_facts(plan: EpochPlan) -> dict[str, Any]:
    """What must match for a saved loader state to resume on another loader."""
    return {
        "num_samples": plan.num_samples,
        "batch_size": plan.batch_size,
        "shuffle": plan.shuffle,
        "seed": plan.seed,
        "drop_last": plan.drop_last,
        "num_replicas": plan.num_replicas,
        "rank": plan.rank,
    }


def _read_ahead(
    read: Callable[[Any], Any], batches: Iterator[Any], threads: int, depth: int
) -> Iterator[Any]:
    """``read(b)`` for each of ``batches``, in order, with up to ``depth`` reads ahead.

    A thread that raises hands its exception to the consumer, at that batch.
    Closing the iterator early (``break``) cancels the reads not yet started
    and waits for the running ones, each a single batch.
    """
    pending: deque[Future[Any]] = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="neural-datasets-reader") as pool:
        try:
            for indices in batches:
                pending.append(pool.submit(read, indices))
                if len(pending) >= depth:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def loader(
    ds: BatchDataset | BatchSource,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    drop_last: bool = True,
    num_workers: int = 0,
    workers: Literal["auto", "threads", "processes"] = "auto",
    pin_memory: bool | None = None,
    persistent_workers: bool | None = None,
    prefetch_factor: int | None = None,
    multiprocessing_context: str | None = None,
    num_replicas: int | None = None,
    rank: int | None = None,
    device: str | torch.device | None = None,
) -> Loader:
    """A ``DataLoader`` of whole batches, shuffled per epoch, sharded across ranks.

    Parameters
    ----------
    ds
        A :class:`BatchDataset` (such as ``neural_datasets.torch.ClickMeDataset``) or
        a batch source such as :class:`~neural_datasets.ClickMe`.
    batch_size
        Samples per batch on each rank.
    shuffle, seed, drop_last
        As :class:`~neural_datasets.adapters.sampling.EpochPlan`: a new permutation per
        epoch, deterministic under ``seed``; call :meth:`Loader.set_epoch`
        before each epoch.
    num_workers
        Workers reading batches ahead; 0 (the default) reads in the main
        process, when the batch is asked for. Reader threads (below) are
        capped at the number of usable cores.
    workers
        What the workers are. ``"threads"``: threads of this process, which
        hand batches over without a copy (reads release the GIL while the
        kernel copies bytes, and JPEG decoding of the compact layout does too);
        it needs a source that declares ``thread_safe``
        (:func:`~neural_datasets.adapters.batches.thread_safe`).
        ``"processes"``: ``DataLoader`` worker processes, which copy each batch
        through shared memory (dearer than the read itself for uint8 batches,
        BENCHMARKS.md) but suit sources doing Python-heavy work. ``"auto"``:
        threads for thread-safe sources unless a ``multiprocessing_context``
        is given, processes otherwise.
    pin_memory
        Default: whether CUDA is available.
    persistent_workers
        Keep workers alive between epochs; default: ``num_workers > 0``.
    prefetch_factor
        As ``torch.utils.data.DataLoader``.
    multiprocessing_context
        ``"fork"``, ``"spawn"`` or ``"forkserver"``. Default: ``"fork"`` on
        Linux, which never re-runs your script in the workers, except
        ``"forkserver"`` for stores opened from a URL, which cannot be read in
        forked workers (see :func:`~neural_datasets.adapters.batches.fork_safe`);
        elsewhere the platform's. ``"spawn"`` and ``"forkserver"`` run your
        script again in each worker: started from a script without an
        ``if __name__ == "__main__":`` guard they are refused at once, with
        that advice, instead of failing inside multiprocessing.
    num_replicas, rank
        Default: from ``torch.distributed`` when initialised; then every rank
        reads a disjoint part of each epoch and the same number of batches.
    device
        Deliver batches on this device (default: on the CPU, as read). On
        CUDA, a source whose store keeps JPEG bytes (ClickMe's compact
        layout) has its images decoded on the GPU, batched through nvJPEG
        (``torchvision.io.decode_jpeg(..., device="cuda")``; needs
        torchvision), with values 1.4 levels from the CPU decoder's on
        average (nvJPEG's IDCT differs; BENCHMARKS.md, GPU section); its
        heatmaps are decoded on the CPU, exactly. Otherwise batches are read
        on the CPU and copied (from pinned memory when ``pin_memory``).

    Returns
    -------
    Loader
        Yields dicts of tensors: for ClickMe ``image`` uint8 ``[B, 3, H, W]``,
        ``heatmap`` uint8 ``[B, 1, H, W]`` (channels_last views) and ``label``
        int64 ``[B]``.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> batches = loader(nd.ClickMe("sample", progress=False), 16, seed=3)
    >>> for epoch in range(2):
    ...     batches.set_epoch(epoch)
    ...     labels = [b["label"] for b in batches]
    >>> len(labels), tuple(labels[0].shape)
    (3, (16,))
    """
    if not isinstance(ds, BatchDataset):
        ds = BatchDataset(batch_source(ds, "ds", "loader"))
    count("num_workers", num_workers, minimum=0)
    target = None if device is None else torch.device(device)
    decode = _gpu_jpeg_decoder(target) if getattr(ds.source, "decodes_on_read", False) else None
    ds.encoded = decode is not None
    if workers not in ("auto", "threads", "processes"):
        raise ValueError(f"workers must be 'auto', 'threads' or 'processes', got {workers!r}")
    if workers == "auto":
        use_threads = thread_safe(ds.source) and multiprocessing_context is None
        workers = "threads" if use_threads else "processes"
    threads = read_ahead = 0
    if workers == "threads" and num_workers > 0:
        if not thread_safe(ds.source):
            raise ValueError(
                f"{ds.source!r} does not declare itself thread_safe, so it cannot be read by "
                f"threads; use workers='processes' (or set thread_safe = True on a source "
                f"whose read_batch may run in several threads at once)."
            )
        # At most one reader thread per core: a read's Python part holds the GIL, and
        # more threads than cores only contend for it (num_workers=8 on 2 cores ran at
        # 0.6x of 0 workers, 2 threads at 1.4x; BENCHMARKS.md). Threads start in
        # microseconds: nothing to keep alive between epochs.
        threads = min(num_workers, _usable_cores())
        read_ahead = threads * (prefetch_factor or 2)
        num_workers, persistent_workers, prefetch_factor, multiprocessing_context = (
            0,
            False,
            None,
            None,
        )
    elif num_workers > 0:
        multiprocessing_context = _worker_start_method(ds.source, multiprocessing_context)
    sampler = EpochBatchSampler(
        len(ds),
        batch_size,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
        num_replicas=num_replicas,
        rank=rank,
    )
    batches = Loader(
        ds,
        batch_size=None,  # the sampler yields whole batches; the dataset stacks them
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        persistent_workers=num_workers > 0 if persistent_workers is None else persistent_workers,
        prefetch_factor=prefetch_factor,
        multiprocessing_context=multiprocessing_context,
    )
    if threads:
        batches.reader_threads, batches.read_ahead = threads, read_ahead
    batches.device, batches.decode_jpeg = target, decode
    return batches


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _gpu_jpeg_decoder(
    device: torch.device | None,
) -> Callable[[list[bytes]], torch.Tensor] | None:
    """Batched nvJPEG decoding of RGB images onto ``device`` when it is CUDA and torchvision is
    installed (heatmaps, grayscale JPEGs that nvJPEG decodes wrongly, arrive decoded)."""
    if device is None or device.type != "cuda":
        return None
    try:
        from torchvision.io import ImageReadMode
        from torchvision.io import decode_jpeg as decode_many
    except ImportError:
        return None

    def decode(payloads: list[bytes]) -> torch.Tensor:
        data = [torch.frombuffer(bytearray(p), dtype=torch.uint8) for p in payloads]
        images = torch.stack(decode_many(data, mode=ImageReadMode.RGB, device=device))
        # The CPU path's layout: [B, C, H, W] in channels_last memory format.
        return images.contiguous(memory_format=torch.channels_last)

    return decode


def _worker_start_method(source: BatchSource, requested: str | None) -> str | None:
    """The workers' start method: ``fork`` where the source allows it, as it never re-runs
    ``__main__``; a method that does is refused when ``__main__`` has no guard."""
    import multiprocessing
    import sys

    if not fork_safe(source):
        if requested == "fork":
            raise ValueError(
                f"{source!r} reads through tensorstore, which aborts in forked workers; "
                f"use multiprocessing_context='forkserver' or 'spawn'."
            )
        requested = requested or "forkserver"
    elif requested is None and sys.platform.startswith("linux"):
        requested = "fork"
    # Not get_start_method(): without allow_none it fixes the default for the whole process.
    # Only non-Linux platforms get here with nothing requested; their default is spawn.
    method = requested or multiprocessing.get_start_method(allow_none=True) or "spawn"
    unguarded = _unguarded_main_call() if method != "fork" else None
    if unguarded:
        script, line = unguarded
        raise NeuralDatasetsError(
            f"loader(num_workers>0) starts its workers with {method!r}, which runs {script} "
            f"again from the top in every worker, and line {line} of it, which starts the "
            f'loader, is not under `if __name__ == "__main__":`. Put the script\'s top-level '
            f"code under that guard, or pass num_workers=0."
        )
    return requested


def _unguarded_main_call() -> tuple[str, int] | None:
    """``(script, line)`` of the module-level line of ``__main__`` running this call when a
    spawned worker would run that line again (it is outside the ``__main__`` guard)."""
    import ast
    import sys

    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    module = getattr(getattr(main, "__spec__", None), "name", None) or ""
    if main is None or not script or module == "__main__" or module.endswith(".__main__"):
        return None  # a REPL, a notebook, python -c, python -m pkg: nothing is re-run
    frame: Any = sys._getframe(1)
    while frame is not None and not (
        frame.f_code.co_name == "<module>" and frame.f_globals is vars(main)
    ):
        frame = frame.f_back
    if frame is None:
        return None
    line = frame.f_lineno
    try:
        with open(script, encoding="utf-8") as source:
            tree = ast.parse(source.read())
    except (OSError, SyntaxError, ValueError):
        return None
    guarded = any(
        isinstance(node, ast.If)
        and _is_main_guard(node.test)
        and node.lineno <= line <= (node.end_lineno or node.lineno)
        for node in ast.walk(tree)
    )
    return None if guarded else (script, line)


def _is_main_guard(test: Any) -> bool:
    """Whether an ``if`` test is ``__name__ == "__main__"`` (either way round)."""
    import ast

    if not (isinstance(test, ast.Compare) and len(test.comparators) == 1):
        return False
    sides = {ast.dump(test.left), ast.dump(test.comparators[0])}
    return sides == {ast.dump(ast.Name("__name__", ast.Load())), ast.dump(ast.Constant("__main__"))}
