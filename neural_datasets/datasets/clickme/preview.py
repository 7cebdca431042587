"""Preview PNGs: a quick look at what a cached ClickMe store holds.

The sheet has a title (dataset, split, which samples), each image beside its
human heatmap overlaid on it with the sample number and class name under the
pair, and a colour bar saying what the overlay's colours mean. The bundled
sample, whose heatmaps and labels are synthetic, is stamped as such.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..picture import MUTED, TEXT, colour_bar, fit, font, stamp_synthetic

TILE = 256
GAP = 8
TITLE = 44
CAPTION = 24
LEGEND = 58


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


def render(store: Path, out: Path, n: int = 8) -> Path:
    """Write a preview PNG of the first ``n`` samples of a ClickMe ``store``; return ``out``.

    Two (image | heatmap overlay) pairs per row, each captioned with its
    sample number and class; a title naming the dataset, split and samples; a
    colour bar for the overlay; "SYNTHETIC SAMPLE" on the bundled sample.

    Examples
    --------
    >>> import neural_datasets as nd
    >>> render(nd.fetch("clickme-sample", progress=False), Path("/tmp/clickme.png"), n=4)
    ... # doctest: +SKIP
    PosixPath('/tmp/clickme.png')
    """
    from PIL import Image, ImageDraw

    from .dataset import ClickMe

    ds = ClickMe.open(store)
    attrs = ds.attrs
    count = min(n, len(ds))
    batch = ds.read_batch(np.arange(count))
    columns = 1 if count == 1 else 2
    rows = -(-count // columns)
    pair = 2 * TILE
    width = columns * pair + (columns + 1) * GAP
    height = TITLE + rows * (TILE + CAPTION + GAP) + LEGEND
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)

    dataset = attrs.get("neural_datasets", {}).get("dataset", Path(store).parent.name)
    split = attrs.get("clickme", {}).get("split") or "custom"
    shown = "sample 0" if count == 1 else f"samples 0-{count - 1}"
    title = f"{dataset}  ·  split {split}  ·  {shown} of {len(ds)}"
    right = width - GAP
    if split == "sample":
        right = stamp_synthetic(
            draw, right=width - GAP, top=9, what="heatmaps and labels are made up"
        )
    draw.text((GAP, 11), fit(title, 20, right - GAP), fill=TEXT, font=font(20))

    names = ds.label_names
    for i in range(count):
        left = GAP + (i % columns) * (pair + GAP)
        top = TITLE + (i // columns) * (TILE + CAPTION + GAP)
        image, heat = batch["image"][i], batch["heatmap"][i]
        sheet.paste(Image.fromarray(image), (left, top))
        sheet.paste(Image.fromarray(overlay(image, heat)), (left + TILE, top))
        label = int(batch["label"][i])
        caption = f"#{i}  {names[label]}  (label {label})"
        draw.text((left, top + TILE + 4), fit(caption, 15, pair), fill=TEXT, font=font(15))

    bar_top = height - LEGEND + 8
    bar_width = min(320, width - 2 * GAP)
    bar = colour_bar(lambda t: heat_colormap((t * 255).round()), bar_width, 14, vertical=False)
    sheet.paste(Image.fromarray(bar), (GAP, bar_top))
    draw.rectangle([GAP, bar_top, GAP + bar_width - 1, bar_top + 13], outline=MUTED)
    small = font(13)
    draw.text((GAP, bar_top + 18), "none", fill=MUTED, font=small)
    draw.text((GAP + bar_width - 70, bar_top + 18), "most clicked", fill=MUTED, font=small)
    draw.text(
        (GAP + bar_width + 12, bar_top - 1),
        fit(
            "left: image;  right: human heatmap (ClickMe clicks) overlaid",
            14,
            width - bar_width - 30,
        ),
        fill=TEXT,
        font=font(14),
    )
    draw.text(
        (GAP + bar_width + 12, bar_top + 17),
        fit("colours scaled to each heatmap's maximum", 14, width - bar_width - 30),
        fill=MUTED,
        font=font(14),
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG")
    return out
