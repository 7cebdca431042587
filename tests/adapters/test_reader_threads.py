"""Reading batches with threads: the torch loader's thread workers and tf.data's parallel map."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import neural_datasets as nd
from neural_datasets.adapters.batches import thread_safe
from neural_datasets.torch import Loader, loader


@pytest.fixture(scope="module")
def clickme(tmp_path_factory: pytest.TempPathFactory) -> nd.ClickMe:
    return nd.ClickMe("sample", cache_dir=tmp_path_factory.mktemp("c"), progress=False)


def _epochs(batches: Loader, epochs: int = 2) -> list[list[dict[str, torch.Tensor]]]:
    out = []
    for epoch in range(epochs):
        batches.set_epoch(epoch)
        out.append(list(batches))
    return out


def _assert_same(a: list[list[dict]], b: list[list[dict]]) -> None:
    assert [len(e) for e in a] == [len(e) for e in b]
    for epoch_a, epoch_b in zip(a, b):
        for x, y in zip(epoch_a, epoch_b):
            assert x.keys() == y.keys()
            assert all(torch.equal(x[k], y[k]) for k in x)


class _Unsafe:
    """A source that declares nothing, and records how many reads overlap."""

    def __init__(self, source: nd.ClickMe) -> None:
        self.source, self.active, self.most = source, 0, 0
        self.guard = threading.Lock()

    def __len__(self) -> int:
        return len(self.source)

    def read_batch(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        with self.guard:
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            return self.source.read_batch(indices)
        finally:
            with self.guard:
                self.active -= 1


def test_sources_declare_thread_safety(clickme: nd.ClickMe) -> None:
    assert thread_safe(clickme) and not thread_safe(_Unsafe(clickme))


@pytest.mark.parametrize("num_workers", [1, 2, 8])
def test_thread_workers_give_the_zero_worker_batches(clickme: nd.ClickMe, num_workers: int) -> None:
    expected = _epochs(loader(clickme, 7, seed=3, drop_last=False))
    batches = loader(clickme, 7, seed=3, drop_last=False, num_workers=num_workers)
    threads = min(num_workers, len(os.sched_getaffinity(0)))  # one per core at most
    assert (batches.reader_threads, batches.num_workers) == (threads, 0)
    got = _epochs(batches)
    _assert_same(got, expected)
    assert [len(b["label"]) for b in got[0]] == [7] * 6 + [6]
    assert got[0][0]["image"].is_contiguous(memory_format=torch.channels_last)


def test_process_workers_on_request_and_for_undeclared_sources(clickme: nd.ClickMe) -> None:
    expected = _epochs(loader(clickme, 8, seed=1), 1)
    chosen = loader(clickme, 8, seed=1, num_workers=2, workers="processes")
    assert (chosen.reader_threads, chosen.num_workers) == (0, 2)
    _assert_same(_epochs(chosen, 1), expected)
    unsafe = _Unsafe(clickme)
    auto = loader(unsafe, 8, seed=1, num_workers=2, multiprocessing_context="fork")
    assert (auto.reader_threads, auto.num_workers) == (0, 2)
    _assert_same(_epochs(auto, 1), expected)
    with pytest.raises(ValueError, match="thread_safe"):
        loader(unsafe, 8, num_workers=2, workers="threads")
    with pytest.raises(ValueError, match="workers must be"):
        loader(clickme, 8, num_workers=2, workers="fibers")  # type: ignore[arg-type]


class _FailsAt:
    thread_safe = True

    def __init__(self, source: nd.ClickMe, bad: int) -> None:
        self.source, self.bad = source, bad

    def __len__(self) -> int:
        return len(self.source)

    def read_batch(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        if self.bad in indices:
            raise OSError(f"sample {self.bad} is unreadable")
        return self.source.read_batch(indices)


def test_a_failed_read_raises_at_its_batch(clickme: nd.ClickMe) -> None:
    batches = loader(_FailsAt(clickme, 20), 8, shuffle=False, num_workers=3)
    seen = []
    with pytest.raises(OSError, match="sample 20 is unreadable"):
        for batch in batches:
            seen.append(batch["label"])
    assert len(seen) == 2  # batches 0 and 1 came, batch 2 (samples 16-23) raised


def test_a_script_leaving_a_thread_loader_early_exits(clickme: nd.ClickMe, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import neural_datasets as nd\n"
        "from neural_datasets.torch import loader\n"
        f"batches = loader(nd.ClickMe.open({clickme.location!r}), 4, num_workers=8)\n"
        "for i, batch in enumerate(batches):\n"
        "    if i == 2:\n"
        "        break\n"
        "held = iter(batches)\n"
        "next(held)\n"  # an iterator still open at exit
        "print('done')\n"
    )
    proc = subprocess.run(
        [sys.executable, str(script)], timeout=120, capture_output=True, text=True, env=os.environ
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "done"


def test_tf_reads_undeclared_sources_one_at_a_time(clickme: nd.ClickMe) -> None:
    from neural_datasets.tf import dataset

    unsafe = _Unsafe(clickme)
    got = list(dataset(unsafe, 4, seed=2, epochs=3).as_numpy_iterator())
    assert len(got) == 36 and unsafe.most == 1


class _MeetsAnother:
    """Thread-safe; its first two reads wait for each other, so they must overlap."""

    thread_safe = True

    def __init__(self, source: nd.ClickMe) -> None:
        self.source = source
        self.barrier = threading.Barrier(2, timeout=30)
        self.calls = 0

    def __len__(self) -> int:
        return len(self.source)

    def read_batch(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        self.calls += 1
        if len(indices) == 4 and self.calls <= 3:  # the first call is the shape probe
            self.barrier.wait()
        return self.source.read_batch(indices)


def test_tf_reads_thread_safe_sources_in_parallel(clickme: nd.ClickMe) -> None:
    from neural_datasets.tf import dataset

    source = _MeetsAnother(clickme)
    got = list(dataset(source, 4, shuffle=False).as_numpy_iterator())
    assert not source.barrier.broken  # serialised reads would have timed out the barrier
    assert np.array_equal(np.concatenate([b["label"] for b in got]), clickme.labels)


def test_batches_are_64_byte_aligned_so_tensorflow_adopts_them(clickme: nd.ClickMe) -> None:
    # tf.numpy_function copies returned arrays that are not 64-byte aligned.
    batch = clickme.read_batch([5, 1, 30])
    assert batch["image"].ctypes.data % 64 == 0 and batch["heatmap"].ctypes.data % 64 == 0
    compact = nd.ClickMe(
        "sample", cache_dir=Path(clickme.location).parents[1], layout="compact", progress=False
    )
    assert compact.read_batch([5, 1, 30])["image"].ctypes.data % 64 == 0
