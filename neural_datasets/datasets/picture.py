"""Drawing helpers the preview PNGs share: text, a "synthetic sample" stamp, colour bars.

Pillow only. Text uses Pillow's built-in scalable font, so previews look the
same on every machine without system fonts.

Examples
--------
>>> from PIL import Image, ImageDraw
>>> sheet = Image.new("RGB", (300, 40), "white")
>>> right = stamp_synthetic(ImageDraw.Draw(sheet), right=296, top=4, what="made up")
>>> 0 < right < 296
True
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

TEXT = (20, 20, 20)
MUTED = (90, 90, 90)
STAMP = (200, 30, 30)


@cache
def font(size: int) -> Any:
    """Pillow's built-in scalable font at ``size`` pixels."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def text_width(text: str, size: int) -> int:
    """Width in pixels of ``text`` drawn at ``size``."""
    return int(font(size).getlength(text))


def fit(text: str, size: int, width: int) -> str:
    """``text``, cut with an ellipsis so that it is at most ``width`` pixels wide at ``size``.

    Examples
    --------
    >>> fit("a long class name", 14, 60).endswith("…")
    True
    """
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def stamp_synthetic(draw: Any, *, right: int, top: int, what: str, size: int = 16) -> int:
    """Draw a red boxed "SYNTHETIC SAMPLE: <what>" ending at x = ``right``; return its left edge."""
    label = f"SYNTHETIC SAMPLE: {what}"
    pad = 5
    left = right - text_width(label, size) - 2 * pad
    draw.rectangle([left, top, right, top + size + 2 * pad], outline=STAMP, width=2)
    draw.text((left + pad, top + pad), label, fill=STAMP, font=font(size))
    return left


def colour_bar(
    colormap: Callable[[np.ndarray], np.ndarray], length: int, thickness: int, *, vertical: bool
) -> np.ndarray:
    """An RGB uint8 gradient of ``colormap`` over 0..1: low at the left (or bottom), high at
    the right (or top).

    Parameters
    ----------
    colormap
        Maps an array of values in 0..1 to RGB uint8 (one more trailing axis of 3).
    length, thickness
        Size along and across the gradient, in pixels.
    vertical
        Run the gradient bottom to top instead of left to right.

    Examples
    --------
    >>> ramp = lambda t: np.stack([t * 255] * 3, -1).astype(np.uint8)
    >>> bar = colour_bar(ramp, 10, 2, vertical=False)
    >>> bar.shape, int(bar[0, 0, 0]), int(bar[0, -1, 0])
    ((2, 10, 3), 0, 255)
    """
    ramp = colormap(np.linspace(0.0, 1.0, length))
    if vertical:
        return np.ascontiguousarray(np.repeat(ramp[::-1, None, :], thickness, axis=1))
    return np.ascontiguousarray(np.repeat(ramp[None, :, :], thickness, axis=0))
