"""Shuffled-batch throughput and peak RSS of the framework loaders, against their baselines.

Every pipeline reads the same ClickMe-format data, in one run, in batches of 64:

(a) the Harmonization package's tf.data loader over the TFRecord shards
    (parse, decode JPEG image and heatmap, resize to 224, blur the heatmap on a
    64x64 grid with a 10x10 sigma-10 Gaussian 'SAME' convolution, one-hot label),
    plus a record shuffle buffer;
(b) the per-sample PyTorch path of the lab's code (``baselines.py``), with 0
    and 2 workers;
(c) ``neural_datasets.torch.loader`` on our store of those records, with 0 and 2 workers
    (c0 checks each chunk's crc32c the first time the process reads it, the default; c0a on
    every read, which is also what c0's first epoch costs; c0u never);
(d) ``neural_datasets.tf.dataset`` on the same store;
(e) a NumPy gather of the same bytes from memory (the ceiling for uint8 batches).

Pipelines are entries of ``PIPELINES``. Rounds are interleaved and the median kept, because the
machine is shared and noisy. Peak RSS while iterating is measured in a fresh
process per pipeline, for the data at 1x and 4x its size. Run by hand::

    python scripts/bench/bench_loaders.py --json bench-data/loaders.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import benchdata  # noqa: E402
from baselines import per_sample_torch  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH = 64
SHARDS_PER_1K = 4  # as benchdata's default: 8 shards of 256 records for 2048 samples


@dataclass(frozen=True)
class Data:
    """One benchmark dataset: the TFRecord shards and our store of the same records."""

    shards: list[Path]
    store: Path
    compact: Path
    samples: int


def make_data(samples: int) -> Data:
    n_shards = max(1, samples * SHARDS_PER_1K // 1024)
    return Data(
        benchdata.shards(samples, n_shards),
        benchdata.store(samples, n_shards),
        benchdata.store(samples, n_shards, layout="compact"),
        samples,
    )


# An epoch function reads one full pass and returns how many samples it yielded.
Epoch = Callable[[int], int]


def harmonization_tfdata(data: Data) -> Epoch:
    """(a) The Harmonization ClickMe loader: per-sample ops of its ``parse_clickme_prototype``."""
    import tensorflow as tf
    from baselines import harmonization_parse

    parse = harmonization_parse()
    ds = tf.data.TFRecordDataset([str(p) for p in data.shards], num_parallel_reads=tf.data.AUTOTUNE)
    ds = ds.shuffle(1024, seed=0, reshuffle_each_iteration=True)
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(BATCH, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    return lambda epoch: sum(int(images.shape[0]) for images, _, _ in ds)


def torch_loader(
    num_workers: int, workers: str = "auto", layout: str = "raw", check: str = "once"
) -> Callable[[Data], Epoch]:
    """(c) ``neural_datasets.torch.loader`` with ``num_workers`` workers.

    ``workers="auto"`` reads with threads (ClickMe declares itself thread-safe);
    ``"processes"`` uses persistent DataLoader worker processes (fork). ``check`` is the
    checksum-on-read mode the store is opened with (its cost is measured by the c0
    variants: ``once``, the default, ``always`` and ``off``).
    """

    def make(data: Data) -> Epoch:
        from neural_datasets import ClickMe
        from neural_datasets.storage.reader import ENV_CHECK_ON_READ
        from neural_datasets.torch import loader

        before = os.environ.get(ENV_CHECK_ON_READ)
        os.environ[ENV_CHECK_ON_READ] = check
        try:  # readers take the setting when opened
            ds = ClickMe.open(data.compact if layout == "compact" else data.store)
        finally:
            os.environ.pop(ENV_CHECK_ON_READ)
            if before is not None:
                os.environ[ENV_CHECK_ON_READ] = before
        batches = loader(ds, BATCH, num_workers=num_workers, workers=workers)

        def epoch(e: int) -> int:
            batches.set_epoch(e)
            return sum(len(b["label"]) for b in batches)

        return epoch

    return make


def tf_dataset(layout: str = "raw") -> Callable[[Data], Epoch]:
    """(d) ``neural_datasets.tf.dataset``, one endless pipeline read one epoch at a time."""

    def make(data: Data) -> Epoch:
        from neural_datasets import ClickMe
        from neural_datasets.tf import dataset

        store = data.compact if layout == "compact" else data.store
        ds = dataset(ClickMe.open(store), BATCH, epochs=None)
        steps = data.samples // BATCH
        batches = iter(ds)
        return lambda epoch: sum(int(next(batches)["label"].shape[0]) for _ in range(steps))

    return make


def cuda_end_to_end(layout: str, gpu_decode: bool = False) -> Callable[[Data], Epoch]:
    """(g) loader (8 threads, pinned) -> CUDA tensors -> HeatmapAugment on the GPU, 256 -> 224.

    With ``gpu_decode`` the loader is given ``device="cuda"``: a compact store's JPEG bytes
    go to the GPU and are decoded there by nvJPEG, batched.
    """

    def make(data: Data) -> Epoch:
        import torch

        from neural_datasets import ClickMe
        from neural_datasets.augment.torch import HeatmapAugment
        from neural_datasets.torch import loader

        store = data.compact if layout == "compact" else data.store
        device = "cuda" if gpu_decode else None
        batches = loader(ClickMe.open(store), BATCH, num_workers=8, pin_memory=True, device=device)
        augment = HeatmapAugment(224, degrees=15, seed=0)

        def epoch(e: int) -> int:
            batches.set_epoch(e)
            n = 0
            for b in batches:
                image = b["image"].to("cuda", non_blocking=True)
                heatmap = b["heatmap"].to("cuda", non_blocking=True)
                augment(image, heatmap)
                n += len(b["label"])
            torch.cuda.synchronize()
            return n

        return epoch

    return make


def numpy_memcpy(data: Data) -> Epoch:
    """(e) The same arrays held in memory, gathered batch by batch with NumPy fancy indexing."""
    from neural_datasets import ClickMe
    from neural_datasets.adapters.sampling import EpochPlan

    arrays = ClickMe.open(data.store).read_batch(np.arange(data.samples))
    plan = EpochPlan(data.samples, BATCH)

    def epoch(e: int) -> int:
        batches = ({k: v[idx] for k, v in arrays.items()} for idx in plan.batches(e))
        return sum(len(b["label"]) for b in batches)

    return epoch


@dataclass(frozen=True)
class Pipeline:
    key: str
    name: str
    make: Callable[[Data], Epoch]
    # Measure its peak RSS? Not for the in-memory ceiling (it grows with the data by design)
    # nor the slow per-sample baselines (minutes per run; the flat-RSS claim is about ours).
    rss: bool = True


PIPELINES = [
    Pipeline("a", "Harmonization tf.data (TFRecord: decode, resize, blur)", harmonization_tfdata),
    Pipeline(
        "b0", "per-sample PIL decode + transforms, DataLoader, 0 workers", per_sample_torch(0)
    ),
    Pipeline(
        "b2", "per-sample PIL decode + transforms, DataLoader, 2 workers", per_sample_torch(2)
    ),
    Pipeline("c0", "neural_datasets.torch.loader, num_workers=0", torch_loader(0)),
    Pipeline(
        "c0a",
        "neural_datasets.torch.loader, num_workers=0, checksum on every read",
        torch_loader(0, check="always"),
        rss=False,
    ),
    Pipeline(
        "c0u",
        "neural_datasets.torch.loader, num_workers=0, checksum-on-read off",
        torch_loader(0, check="off"),
        rss=False,
    ),
    Pipeline("c2", "neural_datasets.torch.loader, num_workers=2 (threads)", torch_loader(2)),
    Pipeline("c8", "neural_datasets.torch.loader, num_workers=8 (threads)", torch_loader(8)),
    Pipeline(
        "c2p",
        "neural_datasets.torch.loader, num_workers=2, workers='processes'",
        torch_loader(2, "processes"),
    ),
    Pipeline("d", "neural_datasets.tf.dataset", tf_dataset()),
    Pipeline(
        "k0",
        "compact layout: torch.loader, num_workers=0",
        torch_loader(0, layout="compact"),
    ),
    Pipeline(
        "k2",
        "compact layout: torch.loader, num_workers=2 (threads)",
        torch_loader(2, layout="compact"),
    ),
    Pipeline(
        "k8",
        "compact layout: torch.loader, num_workers=8 (threads)",
        torch_loader(8, layout="compact"),
    ),
    Pipeline("kd", "compact layout: tf.dataset", tf_dataset("compact")),
    Pipeline("e", "NumPy gather from memory (ceiling)", numpy_memcpy, rss=False),
]
CUDA_PIPELINES = [
    Pipeline("g", "raw layout -> CUDA tensors -> HeatmapAugment on CUDA", cuda_end_to_end("raw")),
    Pipeline(
        "gk",
        "compact layout, CPU decode -> CUDA tensors -> HeatmapAugment on CUDA",
        cuda_end_to_end("compact"),
    ),
    Pipeline(
        "gn",
        "compact layout, loader(device='cuda'): nvJPEG decode -> HeatmapAugment on CUDA",
        cuda_end_to_end("compact", gpu_decode=True),
    ),
]


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def timed(epoch: Epoch, first: int, min_seconds: float) -> float:
    """Samples/s over whole epochs lasting at least ``min_seconds`` in all."""
    start, samples, e = time.perf_counter(), 0, first
    while (elapsed := time.perf_counter() - start) < min_seconds or not samples:
        samples += epoch(e)
        e += 1
    return samples / elapsed


def throughput(data: Data, pipelines: list[Pipeline], rounds: int, seconds: float) -> dict:
    """Median samples/s per pipeline over interleaved rounds.

    Each round builds every pipeline afresh, warms it up with one epoch (workers
    started, functions traced, page cache hot), times it, and tears it down, so
    no idle pipeline's prefetching competes with the one being timed.
    """
    results: dict[str, list[float]] = {p.key: [] for p in pipelines}
    for _ in range(rounds):
        for p in pipelines:  # interleaved, so load changes hit every pipeline alike
            epoch = p.make(data)
            epoch(0)
            results[p.key].append(timed(epoch, 1, seconds))
            del epoch
            gc.collect()
    return {key: statistics.median(rates) for key, rates in results.items()} | {"_all": results}


def _peak_rss_child(key: str, samples: int) -> None:
    """In a fresh process: RSS before and peak while iterating two epochs (workers included)."""
    import psutil

    data = make_data(samples)
    pipeline = next(p for p in PIPELINES + CUDA_PIPELINES if p.key == key)
    epoch = pipeline.make(data)
    me = psutil.Process()

    def total() -> int:
        procs = [me, *me.children(recursive=True)]
        size = 0
        for proc in procs:
            try:
                size += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return size

    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], total())
            time.sleep(0.005)

    epoch(0)  # workers up and functions traced, so the baseline counts them
    before = total()
    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    for e in range(1, 3):
        epoch(e)
    done.set()
    watcher.join()
    print(json.dumps({"before": before, "peak": max(peak[0], total())}))


def peak_rss(key: str, samples: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", key, "--samples", str(samples)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def markdown(rates: dict, rss: dict, pipelines: list[Pipeline], samples: int) -> str:
    lines = [
        f"Shuffled batches of {BATCH}, {samples} samples, median of interleaved rounds:",
        "",
        "| pipeline | samples/s | x (a) | / (e) |",
        "|---|---:|---:|---:|",
    ]
    for p in pipelines:
        rate = rates[p.key]
        ratio_a = f"{rate / rates['a']:.1f}x" if "a" in rates else "-"
        ratio_e = f"{rate / rates['e']:.0%}" if "e" in rates else "-"
        lines.append(f"| ({p.key}) {p.name} | {rate:,.0f} | {ratio_a} | {ratio_e} |")
    if rss:
        sizes = sorted({n for per in rss.values() for n in per}, key=int)
        head = " | ".join(f"{n} samples: before / peak (MiB)" for n in sizes)
        lines += ["", f"| pipeline | {head} |", "|---|" + "---:|" * len(sizes)]
        for key, per in rss.items():
            cells = " | ".join(
                f"{per[n]['before'] / 2**20:,.0f} / {per[n]['peak'] / 2**20:,.0f}" for n in sizes
            )
            lines.append(f"| ({key}) | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="per pipeline and round")
    parser.add_argument("--only", nargs="*", help="pipeline keys to run (default: all)")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS runs")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        _peak_rss_child(args.rss_child, args.samples)
        return
    cuda = cuda_available()
    print(
        "device: cuda available, GPU rows (g, gk, gn) included"
        if cuda
        else "device: cpu only (no CUDA): the GPU rows (g, gk, gn) are not measured",
        flush=True,
    )
    every = PIPELINES + (CUDA_PIPELINES if cuda else [])
    pipelines = [p for p in every if not args.only or p.key in args.only]
    data = make_data(args.samples)
    rates = throughput(data, pipelines, args.rounds, args.seconds)
    rss: dict[str, dict[str, dict]] = {}
    if not args.no_rss:
        for p in (p for p in pipelines if p.rss):
            rss[p.key] = {str(n): peak_rss(p.key, n) for n in (args.samples, 4 * args.samples)}
    print(markdown(rates, rss, pipelines, args.samples))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "batch_size": BATCH,
            "samples": args.samples,
            "cpus": os.cpu_count(),
            "machine": platform.platform(),
            "samples_per_s": {k: v for k, v in rates.items() if not k.startswith("_")},
            "rounds": rates["_all"],
            "pipelines": {p.key: p.name for p in pipelines},
            "rss_bytes": rss,
        }
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
