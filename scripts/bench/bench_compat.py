"""The drop-in loaders against the originals they replace, on the same data, in one run.

ClickMe, batches of 64 as Harmonization's ``load_clickme`` yields them (float32
224x224 images, blurred heatmaps, one-hot labels; no shuffling):

(a) Harmonization's pipeline restated: ``TFRecordDataset`` over the shards,
    parse, decode both JPEGs, resize, blur, one-hot, ``batch(drop_remainder=True)``;
(b) ``neural_datasets.compat.harmonization.load_clickme`` on the same shards
    (read from our store after a one-time conversion, timed separately);
(c) ``compat.harmonization.torch_loader`` on the same shards (NHWC, CPU).

Rounds are interleaved and the median kept (the machine is shared). Run by hand::

    python scripts/bench/bench_compat.py --json bench-data/compat.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import benchdata  # noqa: E402
from bench_loaders import timed  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH = 64
Epoch = Callable[[int], int]


def original_load_clickme(shards: list[str]) -> Epoch:
    """(a) The original pipeline's ops (see tests/compat/test_harmonization.py for its test)."""
    import tensorflow as tf
    from baselines import harmonization_parse

    parse = harmonization_parse()
    ds = tf.data.TFRecordDataset(shards, num_parallel_reads=tf.data.AUTOTUNE)
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(BATCH, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    return lambda epoch: sum(int(images.shape[0]) for images, _, _ in ds)


def ours_tf(shards: list[str], cache: Path) -> Epoch:
    """(b) The drop-in ``load_clickme``."""
    from neural_datasets.compat.harmonization import load_clickme

    ds = load_clickme(shards, BATCH, cache_dir=cache, progress=False)
    return lambda epoch: sum(int(images.shape[0]) for images, _, _ in ds)


def ours_torch(shards: list[str], cache: Path) -> Epoch:
    """(c) The PyTorch twin."""
    from neural_datasets.compat.harmonization import torch_loader

    batches = torch_loader(shards, BATCH, cache_dir=cache, progress=False)
    return lambda epoch: sum(int(images.shape[0]) for images, _, _ in batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    shards = [str(p) for p in benchdata.shards(args.samples, max(1, args.samples * 4 // 1024))]
    cache = Path(tempfile.mkdtemp(prefix="bench-compat-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = original_load_clickme(shards)
            start = time.perf_counter()
            first(0)
            original_epoch_s = time.perf_counter() - start
            start = time.perf_counter()
            ours_tf(shards, cache)  # the one-time conversion into the cache
            conversion_s = time.perf_counter() - start
            pipelines = {
                "a": ("Harmonization load_clickme (decodes every pass)", original_load_clickme),
                "b": ("compat.harmonization.load_clickme", lambda s: ours_tf(s, cache)),
                "c": ("compat.harmonization.torch_loader (NHWC)", lambda s: ours_torch(s, cache)),
            }
            rates: dict[str, list[float]] = {key: [] for key in pipelines}
            for _ in range(args.rounds):
                for key, (_, make) in pipelines.items():
                    epoch = make(shards)
                    epoch(0)
                    rates[key].append(timed(epoch, 1, args.seconds))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    median = {key: statistics.median(values) for key, values in rates.items()}
    lines = [
        f"{args.samples} records, batches of {BATCH}, {benchdata.machine()['cpus']} CPUs.",
        "",
        "| pipeline | samples/s | x (a) |",
        "|---|---:|---:|",
    ]
    for key, (name, _) in pipelines.items():
        lines.append(f"| ({key}) {name} | {median[key]:,.0f} | {median[key] / median['a']:.1f}x |")
    lines += [
        "",
        f"One-time conversion of the shards: {conversion_s:.1f} s "
        f"(one pass of (a): {original_epoch_s:.1f} s).",
    ]
    print("\n".join(lines))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "median": median,
            "all": rates,
            "conversion_s": conversion_s,
            "original_epoch_s": original_epoch_s,
            "samples": args.samples,
            "machine": benchdata.machine(),
        }
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
