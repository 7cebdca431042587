"""A PNG contact sheet of IT stimuli beside their response maps (Pillow and numpy only).

One row per population, headed by the population (monkey, region, channels)
and the time window shown: each of the first ``n`` stimuli with its file name,
then its response map averaged over the population's channels and the paper's
50-90 ms window (or the whole time axis when shorter), in the paper's
orientation, scaled to the stimulus's size. The maps of a row share one colour
scale, drawn as a colour bar with its values at the row's end. The bundled
sample, whose responses are synthetic, is stamped as such.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..picture import MUTED, TEXT, colour_bar, fit, font, stamp_synthetic
from .dataset import PAPER_WINDOW, ITRecordings
from .spec import SAMPLE_NAME

TILE = 128
GAP = 8
TITLE = 40
HEADER = 40
CAPTION = 20
BAR = 14
BAR_LABELS = 64
# Dark blue -> magenta -> orange -> pale yellow, a perceptually ordered ramp.
_RAMP = np.array(
    [[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109], [252, 253, 191]],
    dtype=np.float64,
)


def colorize(values: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """Map an array to RGB uint8 through the ramp, ``low`` to ``high`` (default: its min-max).

    Examples
    --------
    >>> colorize(np.array([[0.0, 1.0]]))[0].tolist()
    [[0, 0, 4], [252, 253, 191]]
    >>> colorize(np.array([0.8]), 0.0, 2.0).tolist()
    [[140, 41, 129]]
    """
    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    span = high - low
    scaled = np.clip((values - low) / span, 0, 1) if span > 0 else np.zeros(values.shape)
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
    rows = [_row(it, name, n) for name in it.populations]
    tiles_wide = max(2 * len(row["names"]) for row in rows)
    width = max(tiles_wide * (TILE + GAP) + GAP + BAR + BAR_LABELS, 940)
    row_height = HEADER + TILE + CAPTION + GAP
    sheet = Image.new("RGB", (width, TITLE + len(rows) * row_height), "white")
    draw = ImageDraw.Draw(sheet)

    dataset = it.attrs.get("neural_datasets", {}).get("dataset", Path(store).parent.name)
    right = width - GAP
    if dataset == SAMPLE_NAME:
        right = stamp_synthetic(draw, right=right, top=8, what="responses are made up") - GAP
    title = f"{dataset}  ·  macaque IT responses to natural images (Arcaro et al. 2020)"
    draw.text((GAP, 10), fit(title, 18, right - GAP), fill=TEXT, font=font(18))

    for r, row in enumerate(rows):
        top = TITLE + r * row_height
        draw.text((GAP, top), fit(row["header"], 15, width - 2 * GAP), fill=TEXT, font=font(15))
        draw.text(
            (GAP, top + 19), fit(row["detail"], 13, width - 2 * GAP), fill=MUTED, font=font(13)
        )
        tiles_top = top + HEADER
        low, high = row["range"]
        for c, (name, image, rmap) in enumerate(zip(row["names"], row["images"], row["maps"])):
            left = GAP + 2 * c * (TILE + GAP)
            sheet.paste(Image.fromarray(image), (left, tiles_top))
            coloured = Image.fromarray(colorize(rmap, low, high)).resize(
                (TILE, TILE), Image.Resampling.NEAREST
            )
            sheet.paste(coloured, (left + TILE + GAP, tiles_top))
            caption_top = tiles_top + TILE + 3
            draw.text((left, caption_top), fit(name, 12, TILE), fill=TEXT, font=font(12))
            draw.text((left + TILE + GAP, caption_top), "response map", fill=MUTED, font=font(12))
        bar_left = GAP + tiles_wide * (TILE + GAP)
        bar = colour_bar(lambda t: colorize(t, 0.0, 1.0), TILE, BAR, vertical=True)
        sheet.paste(Image.fromarray(bar), (bar_left, tiles_top))
        draw.rectangle(
            [bar_left, tiles_top, bar_left + BAR - 1, tiles_top + TILE - 1], outline=MUTED
        )
        small = font(12)
        draw.text((bar_left + BAR + 4, tiles_top - 2), f"{high:.3g}", fill=TEXT, font=small)
        draw.text((bar_left + BAR + 4, tiles_top + TILE - 13), f"{low:.3g}", fill=TEXT, font=small)
        draw.text((bar_left + BAR + 4, tiles_top + TILE // 2 - 14), "mean", fill=MUTED, font=small)
        draw.text((bar_left + BAR + 4, tiles_top + TILE // 2), "response", fill=MUTED, font=small)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG")
    return out


def _row(it: ITRecordings, name: str, n: int) -> dict:
    """One population's header, stimuli, maps and shared colour range."""
    pop = it.population(name)
    first, last = int(pop.time_ms[0]), int(pop.time_ms[-1]) + 1
    window = PAPER_WINDOW if first <= PAPER_WINDOW[0] and PAPER_WINDOW[1] <= last else (first, last)
    maps = it.responses(name, window).mean(axis=-1)[:n]
    region = pop.region.replace("_it", " IT")
    grid = f"{len(pop.x)}x{len(pop.y)}"
    return {
        "header": (
            f"{name}:  monkey {pop.monkey.capitalize()}, {region}, {len(pop.channels)} channels"
        ),
        "detail": (
            f"{window[0]}-{window[1]} ms after onset  ·  map: mean over window and channels at "
            f"{grid} positions (paper's orientation), imageRF units"
        ),
        "names": pop.stimulus_names[:n],
        "images": it.stimuli(name, size=TILE)[:n],
        "maps": maps,
        "range": (float(maps.min()), float(maps.max())),
    }
