"""Store layouts side by side: bytes per sample, conversion and read speed, JPEG decode scaling.

For the benchmark's ClickMe records, in one run:

* bytes per sample of the download (TFRecords), the ``raw`` store and the ``compact`` store;
* conversion samples/s of each layout (a fresh cache each time);
* the JPEG decode limit: image + heatmap decoded with the raw conversion's
  settings (simplejpeg), by 1 thread and by one thread per core, which shows
  whether decoding releases the GIL (the ratio approaches the core count if so);
* random-batch read samples/s of both layouts through ``ClickMe.read_batch``,
  against a NumPy gather from memory (the ceiling);
* with CUDA and torchvision: nvJPEG decode samples/s (batches of 64, as
  ``loader(..., device="cuda")`` decodes), and how far its pixels are from the
  CPU decoder's (nvJPEG's IDCT differs).

Run by hand::

    python scripts/bench/bench_layouts.py --json bench-data/layouts.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import benchdata  # noqa: E402

BATCH = 64


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def convert(paths: list[Path], root: Path, layout: str) -> tuple[Path, float]:
    """Convert ``paths`` into a fresh store of ``layout`` under ``root``; return it and seconds."""
    from neural_datasets.datasets.clickme.spec import shard_spec
    from neural_datasets.storage.layout import publish, standard_attributes

    spec = shard_spec("bench", paths[0].parent.as_uri(), [p.name for p in paths], split="bench")
    store = root / f"{layout}.zarr"
    shutil.rmtree(store, ignore_errors=True)
    building = root / f"{layout}.zarr.building"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    start = time.perf_counter()
    attributes = spec.converter(layout)(spec, {p.name: p for p in paths}, building, progress=False)
    elapsed = time.perf_counter() - start
    return publish(building, store, standard_attributes("bench", {}) | attributes), elapsed


def decode_rates(payloads: list[tuple[bytes, bytes]], rounds: int) -> dict[str, float]:
    """Samples/s decoding image + heatmap, by 1 thread and by one thread per core."""
    from neural_datasets.datasets.clickme.convert import HEATMAP_SHAPE, IMAGE_SHAPE, _decode_jpeg

    def decode(chunk: list[tuple[bytes, bytes]]) -> None:
        image, heatmap = np.empty(IMAGE_SHAPE, np.uint8), np.empty(HEATMAP_SHAPE, np.uint8)
        for image_jpeg, heatmap_jpeg in chunk:  # into one buffer per thread, as the converter
            _decode_jpeg(image_jpeg, image, "image")
            _decode_jpeg(heatmap_jpeg, heatmap, "heatmap")

    cores = len(os.sched_getaffinity(0))
    rates: dict[str, list[float]] = {"1 thread": [], f"{cores} threads": []}
    with ThreadPoolExecutor(cores) as pool:
        for _ in range(rounds):
            start = time.perf_counter()
            decode(payloads)
            rates["1 thread"].append(len(payloads) / (time.perf_counter() - start))
            chunks = [payloads[i::cores] for i in range(cores)]
            start = time.perf_counter()
            list(pool.map(decode, chunks))
            rates[f"{cores} threads"].append(len(payloads) / (time.perf_counter() - start))
    return {k: statistics.median(v) for k, v in rates.items()}


def nvjpeg(payloads: list[tuple[bytes, bytes]], rounds: int) -> dict[str, float] | None:
    """nvJPEG samples/s for images in batches of 64 (as ``loader(..., device="cuda")``
    decodes them), its pixel difference from the CPU decoder, and that of its grayscale
    modes on the heatmaps (which the loader decodes on the CPU); ``None`` without CUDA or
    torchvision."""
    try:
        import torch
        from torchvision.io import ImageReadMode, decode_jpeg
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    from neural_datasets.datasets.clickme.convert import HEATMAP_SHAPE, IMAGE_SHAPE, _decode_jpeg

    def tensors(jpegs: list[bytes]) -> list[torch.Tensor]:
        return [torch.frombuffer(bytearray(j), dtype=torch.uint8) for j in jpegs]

    batches = [payloads[i : i + BATCH] for i in range(0, len(payloads), BATCH)]
    inputs = [tensors([image for image, _ in batch]) for batch in batches]

    def decode_all() -> list[torch.Tensor]:
        out = [
            torch.stack(decode_jpeg(images, mode=ImageReadMode.RGB, device="cuda"))
            for images in inputs
        ]
        torch.cuda.synchronize()
        return out

    decoded = decode_all()  # warm-up: nvJPEG handles and buffers
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        decode_all()
        rates.append(len(payloads) / (time.perf_counter() - start))

    cpu_images = np.empty((len(payloads), *IMAGE_SHAPE), np.uint8)
    cpu_heatmaps = np.empty((len(payloads), *HEATMAP_SHAPE), np.uint8)
    for (image_jpeg, heatmap_jpeg), image, heatmap in zip(
        payloads, cpu_images, cpu_heatmaps, strict=True
    ):
        _decode_jpeg(image_jpeg, image, "image")
        _decode_jpeg(heatmap_jpeg, heatmap, "heatmap")
    gpu_images = torch.cat(decoded).permute(0, 2, 3, 1).cpu().numpy()
    images = np.abs(gpu_images.astype(np.int16) - cpu_images)
    result = {
        "samples_per_s": statistics.median(rates),
        "image_max_abs_diff": float(images.max()),
        "image_mean_abs_diff": float(images.mean()),
        "image_share_differing": float((images > 0).mean()),
        "image_share_over_4": float((images > 4).mean()),
        "image_share_over_16": float((images > 16).mean()),
        "image_p99_abs_diff": float(np.percentile(images, 99)),
    }
    # Heatmaps (1-component JPEGs), the first batch, in each way nvJPEG could decode them.
    first = tensors([heatmap for _, heatmap in batches[0]])
    ways = {
        "batched GRAY": lambda: decode_jpeg(first, mode=ImageReadMode.GRAY, device="cuda"),
        "one by one GRAY": lambda: [
            decode_jpeg(t, mode=ImageReadMode.GRAY, device="cuda") for t in first
        ],
        "batched RGB, channel 0": lambda: [
            t[:1] for t in decode_jpeg(first, mode=ImageReadMode.RGB, device="cuda")
        ],
    }
    for way, decode in ways.items():
        got = torch.stack(decode())[:, 0].cpu().numpy().astype(np.int16)
        diff = np.abs(got - cpu_heatmaps[: len(got)])
        result[f"heatmap {way}: mean_abs_diff"] = float(diff.mean())
        result[f"heatmap {way}: max_abs_diff"] = float(diff.max())
    return result


def read_rates(stores: dict[str, Path], samples: int, rounds: int) -> dict[str, float]:
    from neural_datasets import ClickMe
    from neural_datasets.adapters.sampling import EpochPlan

    plan = EpochPlan(samples, BATCH)
    sources = {layout: ClickMe.open(store) for layout, store in stores.items()}
    arrays = sources["raw"].read_batch(np.arange(samples))
    readers = {name: src.read_batch for name, src in sources.items()}
    readers["NumPy gather from memory (ceiling)"] = lambda idx: {
        k: v[idx] for k, v in arrays.items()
    }
    rates: dict[str, list[float]] = {name: [] for name in readers}
    for r in range(rounds):
        for name, read in readers.items():  # interleaved: load changes hit every reader alike
            start = time.perf_counter()
            for idx in plan.batches(r):
                read(idx)
            rates[name].append(samples / (time.perf_counter() - start))
    return {k: statistics.median(v) for k, v in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    paths = benchdata.shards(args.samples, max(1, args.samples * 4 // 1024))
    cache = benchdata.DEFAULT_ROOT / "layouts-cache"
    stores, seconds = {}, {}
    for layout in ("raw", "compact"):
        print(f"converting to the {layout} layout ...", file=sys.stderr, flush=True)
        stores[layout], seconds[layout] = convert(paths, cache, layout)
    download = sum(p.stat().st_size for p in paths)
    sizes = {"download (TFRecords)": download} | {k: _size(v) for k, v in stores.items()}

    from neural_datasets.datasets.clickme.records import decode_clickme_example
    from neural_datasets.formats.tfrecord import iter_records

    payloads = [decode_clickme_example(r)[:2] for p in paths for r in iter_records(p)]
    print("decoding JPEGs on the CPU ...", file=sys.stderr, flush=True)
    decode = decode_rates(payloads, args.rounds)
    print("decoding JPEGs with nvJPEG, if CUDA ...", file=sys.stderr, flush=True)
    gpu = nvjpeg(payloads, args.rounds)
    print("reading random batches ...", file=sys.stderr, flush=True)
    reads = read_rates(stores, args.samples, args.rounds)

    print(
        f"{args.samples} natural-image ClickMe records, batches of {BATCH}, {os.cpu_count()} CPUs"
    )
    print("\n| store | KB/sample | x download | conversion samples/s |")
    print("|---|---:|---:|---:|")
    for name, size in sizes.items():
        layout = name if name in seconds else None
        rate = f"{args.samples / seconds[layout]:,.0f}" if layout else "-"
        print(f"| {name} | {size / args.samples / 1024:.1f} | {size / download:.2f}x | {rate} |")
    print(
        "\n| JPEG decode, image + heatmap (simplejpeg, the raw conversion's settings) | samples/s |"
    )
    print("|---|---:|")
    for name, rate in decode.items():
        print(f"| {name} | {rate:,.0f} |")
    if gpu:
        rate = gpu["samples_per_s"]
        print(f"| nvJPEG on CUDA, images only, batches of {BATCH} (torchvision) | {rate:,.0f} |")
        print(
            f"\nnvJPEG vs the CPU decoder: images differ by at most "
            f"{gpu['image_max_abs_diff']:.0f} levels (mean {gpu['image_mean_abs_diff']:.3f}, "
            f"{gpu['image_share_differing']:.1%} of values differ, {gpu['image_share_over_4']:.2%} "
            f"by more than 4, {gpu['image_share_over_16']:.3%} by more than 16, 99th percentile "
            f"{gpu['image_p99_abs_diff']:.0f})."
        )
        for way in ("batched GRAY", "one by one GRAY", "batched RGB, channel 0"):
            mean, top = (gpu[f"heatmap {way}: {stat}_abs_diff"] for stat in ("mean", "max"))
            print(f"nvJPEG heatmaps, {way}: mean |diff| {mean:.3f}, max {top:.0f}")
    else:
        print("\n(no CUDA or torchvision: nvJPEG not measured)")
    ceiling = reads["NumPy gather from memory (ceiling)"]
    print("\n| random batches of 64 via ClickMe.read_batch | samples/s | / ceiling |")
    print("|---|---:|---:|")
    for name, rate in reads.items():
        print(f"| {name} | {rate:,.0f} | {rate / ceiling:.0%} |")
    benchdata.write_results(
        args.json,
        samples=args.samples,
        bytes=sizes,
        convert_seconds=seconds,
        decode_samples_per_s=decode,
        read_samples_per_s=reads,
        nvjpeg=gpu,
    )


if __name__ == "__main__":
    main()
