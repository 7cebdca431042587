"""Benchmark one training step with the harmonizer loss against plain cross-entropy.

Run by hand (not by CI)::

    python scripts/bench/bench_training.py --json bench_training.json

The same tiny CNN (conv 16, batch norm, ReLU, conv 16, ReLU, global average
pooling, 1000 logits) and the same batch (16 images of 64x64, human maps,
labels) in both frameworks; one step is forward, loss, backward and an SGD
update:

* PyTorch: ``F.cross_entropy`` (label smoothing 0.1) against
  ``neural_datasets.harmonize.torch.HarmonizerLoss``, on the CPU and on CUDA
  when available;
* TensorFlow, each step in a ``tf.function``: cross-entropy against
  ``neural_datasets.harmonize.tf.harmonizer_loss``, and against the
  restatement of the Harmonization package's ``harmonizer_loss``
  (``tests/support/upstream_harmonizer.py``: the published function's form,
  which returns gradients; the package itself is Keras-2 code that cannot be
  installed beside our TensorFlow).

Each framework runs ``--threads`` intra-op threads (default 1: on a shared
2-core machine more threads mostly wait on each other). Cases are timed in
interleaved rounds (each: warm-up steps, then ``--steps``
steps); the median ms/step is reported, with ratios within this run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "tests")]
import benchdata  # noqa: E402

BATCH, SIZE, CLASSES = 16, 64, 1000


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (BATCH, SIZE, SIZE, 3)).astype(np.float32)
    heatmaps = (rng.uniform(0, 1, (BATCH, SIZE, SIZE)) ** 4).astype(np.float32)
    return images, heatmaps, rng.integers(0, CLASSES, BATCH)


def torch_cases(device: str) -> dict[str, Callable[[], None]]:
    import torch
    import torch.nn.functional as F

    from neural_datasets.harmonize.torch import HarmonizerLoss

    images, heatmaps, labels = data()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(device)
    h, y = torch.from_numpy(heatmaps).to(device), torch.from_numpy(labels).to(device)

    def make() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        nn = torch.nn
        model = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(16, CLASSES),
        ).to(device)
        return model, torch.optim.SGD(model.parameters(), lr=0.01)

    criterion = HarmonizerLoss()

    def stepper(harmonized: bool) -> Callable[[], None]:
        model, optimizer = make()

        def step() -> None:
            if harmonized:
                loss = criterion(model, x, y, h)
            else:
                loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if device == "cuda":
                torch.cuda.synchronize()

        return step

    return {
        f"torch {device}, cross-entropy": stepper(False),
        f"torch {device}, harmonizer loss": stepper(True),
    }


def tf_cases() -> dict[str, Callable[[], None]]:
    import tensorflow as tf
    from support.upstream_harmonizer import harmonizer_gradients

    from neural_datasets.harmonize.tf import harmonizer_loss

    images, heatmaps, labels = data()
    x, h = tf.constant(images), tf.constant(heatmaps)
    y, one_hot = tf.constant(labels), tf.one_hot(labels, CLASSES)
    tokens = tf.ones(BATCH)

    def make() -> tuple[tf.keras.Model, tf.keras.optimizers.Optimizer]:
        tf.keras.utils.set_random_seed(0)
        layers = tf.keras.layers
        model = tf.keras.Sequential(
            [
                tf.keras.Input((SIZE, SIZE, 3)),
                layers.Conv2D(16, 3, padding="same", use_bias=False),
                layers.BatchNormalization(),
                layers.ReLU(),
                layers.Conv2D(16, 3, padding="same", activation="relu"),
                layers.GlobalAveragePooling2D(),
                layers.Dense(CLASSES),
            ]
        )
        optimizer = tf.keras.optimizers.SGD(0.01)
        optimizer.build(model.trainable_variables)
        return model, optimizer

    entropy = tf.keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)

    def stepper(kind: str) -> Callable[[], None]:
        model, optimizer = make()

        @tf.function
        def step() -> None:
            if kind == "upstream":
                gradients = harmonizer_gradients(model, x, tokens, one_hot, h)
            else:
                with tf.GradientTape() as tape:
                    if kind == "ours":
                        loss = harmonizer_loss(model, x, y, h)
                    else:
                        loss = entropy(one_hot, model(x, training=True))
                gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))

        return lambda: step()  # noqa: PLW0108 - a plain callable around the traced step

    return {
        "tf, cross-entropy": stepper("plain"),
        "tf, harmonizer loss (ours)": stepper("ours"),
        "tf, Harmonization's harmonizer_loss (restated)": stepper("upstream"),
    }


def measure(cases: dict[str, Callable[[], None]], rounds: int, steps: int) -> dict[str, list]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, step in cases.items():  # interleaved: load changes hit every case alike
            for _ in range(2):
                step()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            times[name].append((time.perf_counter() - start) / steps * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads, each framework")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import tensorflow as tf
    import torch

    torch.set_num_threads(args.threads)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    cases = torch_cases("cpu")
    if torch.cuda.is_available():
        cases |= torch_cases("cuda")
    cases |= tf_cases()
    times = measure(cases, args.rounds, args.steps)
    ms = {name: statistics.median(values) for name, values in times.items()}

    print(
        f"torch {torch.__version__}, tensorflow {tf.__version__}, {args.threads} intra-op "
        f"thread(s) each, load average {os.getloadavg()[0]:.1f}; "
        f"batch {BATCH} x {SIZE}x{SIZE}, {args.rounds} rounds of {args.steps} steps"
    )
    print()
    print("| training step (forward, loss, backward, SGD) | ms/step | vs cross-entropy |")
    print("|---|---:|---:|")
    for name, value in ms.items():
        framework = name.split(",")[0]
        plain = ms[f"{framework}, cross-entropy"]
        print(f"| {name} | {value:.1f} | {value / plain:.2f}x |")
    print()
    upstream = ms["tf, Harmonization's harmonizer_loss (restated)"]
    print("| harmonizer-loss step | vs Harmonization's (restated, TF, CPU) |")
    print("|---|---:|")
    for name, value in ms.items():
        if "harmonizer loss" in name:
            print(f"| {name} | {value / upstream:.2f}x the time |")
    benchdata.write_results(args.json, ms_per_step=ms, rounds=times)


if __name__ == "__main__":
    main()
