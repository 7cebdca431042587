"""Preview PNGs: a quick look at what a cached dataset holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def heat_colormap(values: np.ndarray) -> np.ndarray:
    """Map uint8 intensities to RGB uint8 with a perceptually ordered blue-red-yellow ramp."""
    t = values.astype(np.float32) / 255.0
    red = np.clip(3.0 * t, 0, 1)
    green = np.clip(3.0 * t - 1.0, 0, 1)
    blue = np.clip(1.5 - 3.0 * np.abs(t - 0.25), 0, 1) * (t < 0.6)
    return (np.stack([red, green, blue], axis=-1) * 255).astype(np.uint8)


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """Blend a heatmap (H, W) over an RGB image (H, W, 3), weighting by heat."""
    weight = alpha * (heatmap.astype(np.float32) / max(int(heatmap.max()), 1))[..., None]
    blended = image * (1 - weight) + heat_colormap(heatmap) * weight
    return blended.astype(np.uint8)


def clickme_grid(store: Path, n: int = 8) -> np.ndarray:
    """Rows of (image, heatmap overlay) pairs for the first ``n`` samples of a ClickMe store."""
    from .dataset import ClickMe

    ds = ClickMe.open(store)
    batch = ds.read_batch(np.arange(min(n, len(ds))))
    tiles = [
        np.concatenate([image, overlay(image, heat)], axis=1)
        for image, heat in zip(batch["image"], batch["heatmap"])
    ]
    columns = 2
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i : i + columns], axis=1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)


def render(store: Path, out: Path, n: int = 8) -> Path:
    """Write a preview PNG of a ClickMe ``store`` to ``out`` and return ``out``.

    Each tile is an image beside its heatmap overlay.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> render(nd.fetch("clickme-sample", progress=False), Path("/tmp/clickme.png"), n=4)
    ... # doctest: +SKIP
    PosixPath('/tmp/clickme.png')
    """
    from PIL import Image

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(clickme_grid(store, n)).save(out, optimize=False)
    return out
