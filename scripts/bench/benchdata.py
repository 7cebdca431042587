"""Benchmark data: ClickMe-format TFRecord shards of natural-image crops, and our store of them.

Made once and kept under ``bench-data/`` (git-ignored). The crops come from the
public-domain/CC0 photographs shipped with scikit-image (not noise: JPEG size,
compression ratios and decode time depend on content).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

DEFAULT_ROOT = REPO / "bench-data"
NAME = "clickme-bench"


def shards(n_samples: int = 2048, n_shards: int = 8, root: Path = DEFAULT_ROOT) -> list[Path]:
    """The TFRecord shards holding ``n_samples`` records (written on first use)."""
    from samples_clickme import write_clickme_shards

    folder = root / f"tfrecords-{n_samples}"
    paths = sorted(folder.glob("*.tfrecords"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    if len(paths) == n_shards:
        return paths
    print(f"writing {n_samples} natural-image ClickMe records to {folder} ...", file=sys.stderr)
    return write_clickme_shards(folder, n_shards, n_samples // n_shards, seed=1, prefix="bench")


def store(
    n_samples: int = 2048, n_shards: int = 8, root: Path = DEFAULT_ROOT, layout: str = "raw"
) -> Path:
    """Our store of the same records in ``layout``, converted through ``neural_datasets.fetch``."""
    import neural_datasets as nd
    from neural_datasets import registry
    from neural_datasets.datasets.clickme.spec import shard_spec

    paths = shards(n_samples, n_shards, root)
    name = f"{NAME}-{n_samples}"
    registry.REGISTRY[name] = shard_spec(
        name, paths[0].parent.as_uri(), [p.name for p in paths], split="bench"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unpinned by design
        return nd.fetch(name, cache_dir=root / "cache", progress=False, layout=layout)


def machine() -> dict:
    """What the numbers were measured on."""
    import os
    import platform

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def write_results(path: Path | None, **results: object) -> None:
    """Save a benchmark's results with the machine description, when ``path`` is given."""
    import json

    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), **results}, indent=1))
