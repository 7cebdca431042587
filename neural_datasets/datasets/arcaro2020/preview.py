"""A PNG contact sheet of IT stimuli beside their response maps (Pillow and numpy only).

One row per population: each of the first ``n`` stimuli, then its response
map averaged over the population's channels and the paper's 50-90 ms window
(or the whole time axis when shorter), in the paper's orientation, scaled to
the stimulus's size and coloured from dark (low) to bright (high) per map.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import PAPER_WINDOW, ITRecordings

TILE = 128
GAP = 6
LABEL = 18
# Dark blue -> magenta -> orange -> pale yellow, a perceptually ordered ramp.
_RAMP = np.array(
    [[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109], [252, 253, 191]],
    dtype=np.float64,
)


def colorize(values: np.ndarray) -> np.ndarray:
    """Map a 2-D array to RGB uint8 through the ramp, scaled to its own min-max.

    Examples
    --------
    >>> colorize(np.array([[0.0, 1.0]]))[0].tolist()
    [[0, 0, 4], [252, 253, 191]]
    """
    span = np.ptp(values)
    scaled = (values - values.min()) / span if span > 0 else np.zeros_like(values, dtype=float)
    stops = np.linspace(0, 1, len(_RAMP))
    rgb = [np.interp(scaled, stops, _RAMP[:, k]) for k in range(3)]
    return np.stack(rgb, axis=-1).round().astype(np.uint8)


def render(store: Path, out: Path, n: int = 4) -> Path:
    """Write a PNG of the first ``n`` stimuli of each population beside their response maps.

    Parameters
    ----------
    store
        A converted IT store (e.g. ``neural_datasets.fetch("arcaro2020-sample")``).
    out
        The PNG file to write.
    n
        Stimuli per population (fewer when the monkey saw fewer).

    Returns
    -------
    pathlib.Path
        ``out``.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> from neural_datasets.datasets.arcaro2020.preview import render
    >>> render(nd.fetch("arcaro2020-sample", progress=False), Path("x.png"))  # doctest: +SKIP
    PosixPath('x.png')
    """
    from PIL import Image, ImageDraw

    it = ITRecordings.open(store)
    rows = []
    for name in it.populations:
        pop = it.population(name)
        first, last = int(pop.time_ms[0]), int(pop.time_ms[-1]) + 1
        window = (
            PAPER_WINDOW if first <= PAPER_WINDOW[0] and PAPER_WINDOW[1] <= last else (first, last)
        )
        maps = it.responses(name, window).mean(axis=-1)[:n]
        images = it.stimuli(name, size=TILE)[:n]
        tiles = [
            tile
            for image, rmap in zip(images, maps)
            for tile in (
                Image.fromarray(image),
                Image.fromarray(colorize(rmap)).resize((TILE, TILE), Image.NEAREST),
            )
        ]
        rows.append((f"{name}  ({window[0]}-{window[1]} ms, {len(pop.channels)} channels)", tiles))
    width = max(len(tiles) for _, tiles in rows) * (TILE + GAP) + GAP
    sheet = Image.new("RGB", (width, len(rows) * (LABEL + TILE + GAP) + GAP), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, tiles) in enumerate(rows):
        top = GAP + r * (LABEL + TILE + GAP)
        draw.text((GAP, top + 2), label, fill="black")
        for c, tile in enumerate(tiles):
            sheet.paste(tile, (GAP + c * (TILE + GAP), top + LABEL))
    out = Path(out)
    sheet.save(out, format="PNG")
    return out
