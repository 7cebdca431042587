"""Benchmark batched heatmap-aligned augmentation against a per-sample CPU baseline.

Run by hand (not by CI)::

    python scripts/bench/bench_augment.py --json bench_augment.json

A batch of 256x256 uint8 images (random crops of scikit-image's sample photos)
and click-like uint8 heatmaps is augmented to 224x224 by:

* the baselines: what the lab's PyTorch code does, one sample at a time on the
  CPU — heatmap stacked as a fourth channel, then RandomResizedCrop (bilinear,
  antialiased as torchvision's default), horizontal flip and rotation
  (bilinear), written with plain torch ops because torchvision is not a
  dependency here — one per preset, doing that preset's work (heatmap blur;
  colour jitter, normalisation, heatmap max-normalisation), so every batched
  case is compared with a per-sample path doing the same work;
* ``neural_datasets.augment.torch.HeatmapAugment`` on the CPU, and on CUDA
  when available (the script prints the devices it found; no CUDA, no GPU rows);
* ``neural_datasets.augment.tf.HeatmapAugment`` inside ``tf.function``, when
  TensorFlow is installed (the GPU machines this runs on may have only torch).

Each case is timed end to end (parameter sampling included) after warm-up
calls, with the repeats of all cases interleaved; the median is reported as
samples/s. Thread counts are left at the frameworks' defaults and reported,
with the machine's load average (other work skews CPU timings).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from baselines import random_resized_crop  # the loader benchmark's torchvision sampling

from neural_datasets.augment import ColorJitter
from neural_datasets.augment import torch as augment_torch
from neural_datasets.augment._pixelmath import adjust_color

SOURCE = 256
DEGREES = 15.0
CONFIGS = {
    # The same work as the baseline: crop + resize, flip, rotation.
    "geometry": {"degrees": DEGREES, "blur_heatmaps": False},
    # Defaults plus rotation: adds the Harmonization heatmap blur.
    "default": {"degrees": DEGREES},
    "full": {
        "degrees": DEGREES,
        "color_jitter": ColorJitter(0.4, 0.4, 0.4, 0.1),
        "normalize": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        "heatmap_norm": "max",
    },
}


def natural_batch(batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """NHWC uint8 photo crops and click-like heatmaps (sums of Gaussian blobs)."""
    try:
        from skimage import data
    except ImportError as exc:  # a bench-only dependency
        raise SystemExit("this benchmark needs scikit-image: pip install scikit-image") from exc
    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.cat()]
    rng = np.random.default_rng(seed)
    images = np.empty((batch, SOURCE, SOURCE, 3), np.uint8)
    for i in range(batch):
        photo = photos[i % len(photos)]
        top = rng.integers(0, photo.shape[0] - SOURCE + 1)
        left = rng.integers(0, photo.shape[1] - SOURCE + 1)
        images[i] = photo[top : top + SOURCE, left : left + SOURCE]
    yy, xx = np.mgrid[:SOURCE, :SOURCE]
    heatmaps = np.zeros((batch, SOURCE, SOURCE), np.float32)
    for _ in range(8):
        cx, cy = rng.uniform(0, SOURCE, (2, batch, 1, 1))
        heatmaps += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 20.0**2))
    heatmaps = 255 * heatmaps / heatmaps.max(axis=(1, 2), keepdims=True)
    return images, np.rint(heatmaps).astype(np.uint8)[..., None]


def _rotate(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """torchvision-style rotation of one CHW tensor about its centre (bilinear, fill 0)."""
    rad = math.radians(degrees)
    theta = torch.tensor(
        [[math.cos(rad), -math.sin(rad), 0.0], [math.sin(rad), math.cos(rad), 0.0]]
    )
    grid = F.affine_grid(theta[None], [1, *x.shape], align_corners=False)
    return F.grid_sample(x[None], grid, mode="bilinear", align_corners=False)[0]


def baseline(
    images: torch.Tensor, heatmaps: torch.Tensor, preset: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample CPU path doing the preset's work, image + heatmap stacked as four channels.

    ``geometry``: crop + resize, flip, rotation. ``default`` adds the
    Harmonization heatmap blur (64x64 grid, 10x10 Gaussian, back to the source
    size) before stacking. ``full`` adds colour jitter (the same factor
    ranges and pixel math as the batched classes), normalisation and
    max-normalised heatmaps.
    """
    options = CONFIGS[preset]
    jitter = options.get("color_jitter")
    outputs = []
    for image, heatmap in zip(images, heatmaps, strict=True):
        heat = heatmap.float()[None]
        if options.get("blur_heatmaps", True):
            blurred = augment_torch._harmonization_blur(heat)
            heat = F.interpolate(blurred, (SOURCE, SOURCE), mode="bilinear")
        stacked = torch.cat([image.float()[None], heat], dim=1) / 255
        top, left, h, w = random_resized_crop(SOURCE, SOURCE)
        crop = stacked[:, :, top : top + h, left : left + w]
        sample = F.interpolate(crop, (224, 224), mode="bilinear", antialias=True)[0]
        if random.random() < 0.5:
            sample = sample.flip(-1)
        sample = _rotate(sample, random.uniform(-DEGREES, DEGREES))
        rgb, heat = sample[None, :3], sample[None, 3:]
        if jitter is not None:
            factors = {
                name: torch.tensor(random.uniform(*bounds)).view(1, 1, 1, 1)
                for name, bounds in jitter.ranges().items()
            }
            rgb = adjust_color(rgb, factors, augment_torch._OPS)
        if "normalize" in options:
            mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in options["normalize"])
            rgb = (rgb - mean) / std
        if options.get("heatmap_norm") == "max":
            heat = heat / heat.amax().clamp_min(1e-12)
        outputs.append(torch.cat([rgb, heat], dim=1))
    out = torch.cat(outputs)
    return out[:, :3], out[:, 3:]


def _run_tf(fn: Callable, images: object, heatmaps: object) -> list[np.ndarray]:
    return [t.numpy() for t in fn(images, heatmaps)]


def tensorflow() -> Any:
    """TensorFlow, or ``None`` where it is not installed."""
    try:
        import tensorflow as tf
    except ImportError:
        return None
    return tf


def tf_cases(images_np: np.ndarray, heatmaps_np: np.ndarray) -> list[Case]:
    """The tf.function cases, one per preset (none without TensorFlow)."""
    tf = tensorflow()
    if tf is None:
        print("TensorFlow not installed: no tf rows measured", flush=True)
        return []
    from neural_datasets.augment import tf as augment_tf

    images_tf, heatmaps_tf = tf.constant(images_np), tf.constant(heatmaps_np)
    device = "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
    cases: list[Case] = []
    for name, options in CONFIGS.items():
        fn = tf.function(augment_tf.HeatmapAugment(224, seed=0, **options).__call__)
        run = functools.partial(_run_tf, fn, images_tf, heatmaps_tf)
        cases.append((f"tf HeatmapAugment (tf.function), {name}", device, run, lambda: None))
    return cases


Case = tuple[str, str, Callable[[], object], Callable[[], None]]


def time_cases(cases: list[Case], warmup: int, repeats: int) -> list[list[float]]:
    """Seconds per call of each case, repeats interleaved round-robin.

    Interleaving spreads any background load on the machine over all cases
    instead of penalising whichever case ran while it lasted.
    """
    for _, _, fn, sync in cases:
        for _ in range(warmup):
            fn()
        sync()
    times: list[list[float]] = [[] for _ in cases]
    for _ in range(repeats):
        for (_, _, fn, sync), case_times in zip(cases, times, strict=True):
            start = time.perf_counter()
            fn()
            sync()
            case_times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument(
        "--threads", type=int, help="intra-op threads for torch and TF (default: theirs)"
    )
    args = parser.parse_args()
    tf = tensorflow()
    if args.threads:
        torch.set_num_threads(args.threads)
        if tf is not None:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)

    load_at_start = os.getloadavg()[0]
    images_np, heatmaps_np = natural_batch(args.batch)
    images_t = torch.from_numpy(images_np).permute(0, 3, 1, 2).contiguous()
    heatmaps_t = torch.from_numpy(heatmaps_np).permute(0, 3, 1, 2).contiguous()
    random.seed(0)

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(
        f"devices: {', '.join(devices)}"
        + ("" if "cuda" in devices else " (CUDA not available: no GPU rows measured)"),
        flush=True,
    )
    cases: list[Case] = []
    for name in CONFIGS:
        cases.append(
            (
                f"baseline: per-sample torch, 4-channel stack, {name}",
                "cpu",
                lambda name=name: baseline(images_t, heatmaps_t, name),
                lambda: None,
            )
        )
    for device in devices:
        x, h = images_t.to(device), heatmaps_t.to(device)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        for name, options in CONFIGS.items():
            aug = augment_torch.HeatmapAugment(224, seed=0, **options)
            cases.append(
                (f"torch HeatmapAugment, {name}", device, lambda a=aug, x=x, h=h: a(x, h), sync)
            )
    cases += tf_cases(images_np, heatmaps_np)

    results = []
    for (name, device, _, _), times in zip(
        cases, time_cases(cases, args.warmup, args.repeats), strict=True
    ):
        seconds = statistics.median(times)
        rate = args.batch / seconds
        results.append({"case": name, "device": device, "median_s": seconds, "samples_per_s": rate})
        print(f"{name} [{device}]: {rate:,.0f} samples/s", flush=True)
    # Each case against the per-sample baseline doing the same preset's work.
    bases = {
        r["case"].rsplit(", ", 1)[1]: r["samples_per_s"] for r in results if "baseline" in r["case"]
    }
    for row in results:
        row["vs_baseline"] = row["samples_per_s"] / bases[row["case"].rsplit(", ", 1)[1]]

    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "tensorflow": tf.__version__ if tf else None,
        "tf_intra_op_threads": (
            tf.config.threading.get_intra_op_parallelism_threads() or "default" if tf else None
        ),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        # Other work on the machine skews CPU timings; the 1-minute load shows how much.
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg()[0],
    }
    print(f"\nbatch {args.batch}, {SOURCE}x{SOURCE} uint8 -> 224x224, rotation +-{DEGREES} deg")
    print(f"machine: {machine}\n")
    print("| case | device | samples/s | vs baseline |")
    print("|---|---|---:|---:|")
    for row in results:
        rate, ratio = f"{row['samples_per_s']:,.0f}", f"{row['vs_baseline']:.2f}x"
        print(f"| {row['case']} | {row['device']} | {rate} | {ratio} |")
    if args.json:
        report = {
            "batch": args.batch,
            "source": SOURCE,
            "size": 224,
            "degrees": DEGREES,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "machine": machine,
            "results": results,
        }
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
