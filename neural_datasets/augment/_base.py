"""Configuration, sampling and shape checks shared by both ``HeatmapAugment`` classes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from neural_datasets.augment._pixelmath import HeatmapNorm
from neural_datasets.augment.params import AugmentParams, ColorJitter, Range, sample_params

Normalize = tuple[float | Sequence[float], float | Sequence[float]]


def _per_channel(value: float | Sequence[float], name: str) -> np.ndarray:
    array = np.broadcast_to(np.asarray(value, dtype=np.float64), (3,)).copy()
    if name == "std" and np.any(array <= 0):
        raise ValueError(f"normalize std must be positive, got {value!r}")
    return array


class HeatmapAugmentBase:
    """Framework-free part of ``HeatmapAugment``: options, RNG and parameter sampling.

    See :class:`neural_datasets.augment.torch.HeatmapAugment` for the
    meaning of the options.
    """

    def __init__(
        self,
        size: int | Sequence[int] = 224,
        *,
        scale: Range = (0.08, 1.0),
        ratio: Range = (3 / 4, 4 / 3),
        hflip: float = 0.5,
        degrees: float | Range = 0.0,
        color_jitter: ColorJitter | Sequence[float] | None = None,
        blur_heatmaps: bool = True,
        heatmap_norm: HeatmapNorm = None,
        normalize: Normalize | None = None,
        seed: int | None = None,
    ) -> None:
        if color_jitter is not None and not isinstance(color_jitter, ColorJitter):
            color_jitter = ColorJitter(*color_jitter)
        if heatmap_norm not in (None, "max", "sum"):
            raise ValueError(f"heatmap_norm must be None, 'max' or 'sum', got {heatmap_norm!r}")
        self.sampling: dict[str, Any] = {  # sample_params' keyword arguments
            "size": size,
            "scale": tuple(scale),
            "ratio": tuple(ratio),
            "hflip": hflip,
            "degrees": degrees if isinstance(degrees, (int, float, np.number)) else tuple(degrees),
            "color_jitter": color_jitter,
        }
        # Sample once to validate every option now rather than at the first batch.
        self.size = sample_params(1, 8, 8, **self.sampling, rng=0).size
        self.color_ops = color_jitter.active() if color_jitter is not None else ()
        # Crops stay within the frame; only a rotation can bring in area beyond it.
        self.rotates = bool(np.any(np.asarray(degrees, dtype=float) != 0))
        self.blur_heatmaps = bool(blur_heatmaps)
        self.heatmap_norm = heatmap_norm
        self.normalize = (
            None
            if normalize is None
            else (_per_channel(normalize[0], "mean"), _per_channel(normalize[1], "std"))
        )
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def sample(self, batch_size: int, height: int, width: int) -> AugmentParams:
        """Draw the parameters of the next batch from this instance's generator.

        Two instances built with the same ``seed`` — in torch or in TensorFlow —
        draw the same sequence of parameters.
        """
        return sample_params(batch_size, height, width, **self.sampling, rng=self.rng)

    def __repr__(self) -> str:
        options = {
            **self.sampling,
            "blur_heatmaps": self.blur_heatmaps,
            "heatmap_norm": self.heatmap_norm,
            "normalize": None
            if self.normalize is None
            else tuple(v.tolist() for v in self.normalize),
            "seed": self.seed,
        }
        text = ", ".join(f"{k}={v!r}" for k, v in options.items())
        return f"{type(self).__name__}({text})"


def check_shapes(
    image_shape: Sequence[int | None],
    heatmap_shape: Sequence[int | None],
    *,
    channels_last: bool,
) -> bool:
    """Validate a batch layout; return whether the heatmap has a channel axis.

    Images must be ``[B, 3, H, W]`` (``[B, H, W, 3]`` if ``channels_last``);
    heatmaps ``[B, 1, H', W']`` / ``[B, H', W', 1]`` or ``[B, H', W']``. The
    heatmap may have another resolution than the image: it is sampled over
    the same physical region.
    """
    image_shape, heatmap_shape = tuple(image_shape), tuple(heatmap_shape)
    channel_axis = -1 if channels_last else 1
    if None not in (image_shape[:1] + heatmap_shape[:1]) and image_shape[0] != heatmap_shape[0]:
        raise ValueError(
            f"batch sizes differ: images {image_shape[0]}, heatmaps {heatmap_shape[0]}"
        )
    if len(image_shape) != 4 or image_shape[channel_axis] not in (3, None):
        layout = "[B, H, W, 3]" if channels_last else "[B, 3, H, W]"
        raise ValueError(f"images must be {layout}, got shape {list(image_shape)}")
    if len(heatmap_shape) == 3:
        return False
    if len(heatmap_shape) != 4 or heatmap_shape[channel_axis] not in (1, None):
        layout = "[B, H, W(, 1)]" if channels_last else "[B, (1, )H, W]"
        raise ValueError(f"heatmaps must be {layout}, got shape {list(heatmap_shape)}")
    return True


def check_params(params: AugmentParams, batch: int, height: int, width: int) -> None:
    """Raise ``ValueError`` unless ``params`` were drawn for ``batch`` images of that size.

    Examples
    --------
    >>> check_params(AugmentParams.identity(2, 32, 32), 3, 32, 32)
    Traceback (most recent call last):
    ...
    ValueError: params are for 2 images of (32, 32), got 3 of (32, 32)
    """
    if (batch, (height, width)) != (params.batch_size, params.source_size):
        raise ValueError(
            f"params are for {params.batch_size} images of {params.source_size}, "
            f"got {batch} of {(height, width)}"
        )
