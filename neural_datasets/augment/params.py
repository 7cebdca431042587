"""Framework-free augmentation parameters: sampling and geometry.

Parameters are sampled once with NumPy, per sample of a batch, and can then be
applied by either :mod:`neural_datasets.augment.torch` or
:mod:`neural_datasets.augment.tf`; the same :class:`AugmentParams` give the
same output in both.

Coordinate conventions
----------------------
Pixel ``i`` covers the continuous interval ``[i, i + 1)``, so its centre is at
``i + 0.5`` (the ``align_corners=False`` / half-pixel convention of
``torch.nn.functional.interpolate`` and ``tf.image.resize``). Matrices from
:meth:`AugmentParams.affine` map *output pixel indices* ``(x, y, 1)`` (x to the
right, y down) to *source pixel indices*, i.e. they are the inverse warp a
sampler needs. The geometric transform of each sample is, from output back to
source: rotation about the output centre, horizontal flip, then the crop box
scaled to the output size — the order of torchvision's
``RandomResizedCrop -> RandomHorizontalFlip -> RandomRotation``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_CROP_ATTEMPTS = 10  # torchvision RandomResizedCrop's number of tries
COLOR_OPS = ("brightness", "contrast", "saturation", "hue")
"""Photometric operations, in the order they are applied."""
_IDENTITY_COLOR = {"brightness": 1.0, "contrast": 1.0, "saturation": 1.0, "hue": 0.0}

Range = tuple[float, float]


def _as_size(size: int | Sequence[int]) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"size must be a positive int or (height, width), got {size!r}")
    return int(pair[0]), int(pair[1])


def _pair(values: Sequence[float]) -> Range:
    """A ``(low, high)`` pair from any two-item sequence (callers pass lists too)."""
    low, high = values
    return float(low), float(high)


def _as_range(value: float | Sequence[float], name: str, *, centre: float) -> Range:
    """Turn torchvision's ``x`` shorthand into ``(centre - x, centre + x)``."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
        return centre - float(value), centre + float(value)
    lo, hi = (float(v) for v in value)
    if lo > hi:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {value!r}")
    return lo, hi


@dataclass(frozen=True)
class ColorJitter:
    """Ranges of the per-sample photometric factors, as in torchvision's ``ColorJitter``.

    A number ``x`` means a factor drawn uniformly from ``[max(0, 1 - x), 1 + x]``
    (``[-x, x]`` for hue); a pair gives the range itself. Factors are applied
    in the fixed order brightness, contrast, saturation, hue (torchvision draws
    a random order).

    Parameters
    ----------
    brightness, contrast, saturation : float or (float, float)
        Multiplicative factors; 0 disables the operation.
    hue : float or (float, float)
        Shift of the HSV hue, as a fraction of the colour wheel, within
        ``[-0.5, 0.5]``; 0 disables the operation.

    Examples
    --------
    >>> ColorJitter(brightness=0.4, hue=0.1).ranges()["brightness"]
    (0.6, 1.4)
    """

    brightness: float | Range = 0.0
    contrast: float | Range = 0.0
    saturation: float | Range = 0.0
    hue: float | Range = 0.0

    def ranges(self) -> dict[str, Range]:
        """Return the validated ``(low, high)`` range of each factor."""
        out = {}
        for name in COLOR_OPS:
            centre = _IDENTITY_COLOR[name]
            lo, hi = _as_range(getattr(self, name), name, centre=centre)
            if name == "hue" and not -0.5 <= lo <= hi <= 0.5:
                raise ValueError(f"hue must lie within [-0.5, 0.5], got {(lo, hi)}")
            out[name] = (max(lo, 0.0), hi) if name != "hue" else (lo, hi)
        return out

    def active(self) -> tuple[str, ...]:
        """Return the operations whose range is not the identity, in application order."""
        return tuple(
            name
            for name, (lo, hi) in self.ranges().items()
            if (lo, hi) != (_IDENTITY_COLOR[name],) * 2
        )


def _translate(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _pixel_to_unit(height: int, width: int) -> np.ndarray:
    """Continuous pixel coordinates to ``[-1, 1]`` (``affine_grid``, ``align_corners=False``)."""
    return np.array([[2.0 / width, 0.0, -1.0], [0.0, 2.0 / height, -1.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class AugmentParams:
    """Per-sample parameters of one augmented batch.

    Every array has the batch as its first axis. Build them with
    :func:`sample_params` (or :meth:`HeatmapAugment.sample`), or with
    :meth:`identity` and :func:`dataclasses.replace` for hand-made transforms.

    Parameters
    ----------
    source_size : (int, int)
        ``(height, width)`` of the images the parameters apply to.
    size : (int, int)
        ``(height, width)`` of the output.
    crop : numpy.ndarray
        ``float64 [B, 4]``: ``top, left, height, width`` of the crop box in
        source pixels (integer-valued when sampled, as in torchvision).
    flip : numpy.ndarray
        ``bool [B]``: mirror left-right after the crop.
    angle : numpy.ndarray
        ``float64 [B]``: rotation in degrees, counter-clockwise, about the
        output centre, after the flip.
    brightness, contrast, saturation, hue : numpy.ndarray, optional
        ``float64 [B]`` photometric factors; ``None`` means the identity
        (1, 1, 1 and 0).

    Examples
    --------
    >>> p = AugmentParams.identity(2, 256, 256)
    >>> p.affine()[0]
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """

    source_size: tuple[int, int]
    size: tuple[int, int]
    crop: np.ndarray
    flip: np.ndarray
    angle: np.ndarray
    brightness: np.ndarray | None = None
    contrast: np.ndarray | None = None
    saturation: np.ndarray | None = None
    hue: np.ndarray | None = None

    def __post_init__(self) -> None:
        # Normalise dtypes and fill omitted photometric factors with the identity
        # so hand-built parameters need only the geometry.
        set_ = object.__setattr__
        set_(self, "source_size", _as_size(self.source_size))
        set_(self, "size", _as_size(self.size))
        crop = np.asarray(self.crop, dtype=np.float64)
        if crop.ndim != 2 or crop.shape[1] != 4:
            raise ValueError(f"crop must have shape [B, 4], got {crop.shape}")
        batch = crop.shape[0]
        set_(self, "crop", crop)
        set_(self, "flip", self._vector(self.flip, batch, "flip", bool))
        set_(self, "angle", self._vector(self.angle, batch, "angle", np.float64))
        for name in COLOR_OPS:
            value = getattr(self, name)
            value = np.full(batch, _IDENTITY_COLOR[name]) if value is None else value
            set_(self, name, self._vector(value, batch, name, np.float64))

    @staticmethod
    def _vector(value: object, batch: int, name: str, dtype: type) -> np.ndarray:
        array: np.ndarray = np.asarray(value, dtype=dtype)
        if array.shape != (batch,):
            raise ValueError(f"{name} must have shape [{batch}], got {array.shape}")
        return array

    @classmethod
    def identity(
        cls, batch_size: int, height: int, width: int, size: int | Sequence[int] | None = None
    ) -> AugmentParams:
        """Parameters that only resize the full frame (no flip, rotation or colour change).

        With ``size=None`` the output has the source size and applying the
        parameters returns the input (as float).
        """
        crop = np.tile([0.0, 0.0, float(height), float(width)], (batch_size, 1))
        return cls(
            source_size=(height, width),
            size=(height, width) if size is None else _as_size(size),
            crop=crop,
            flip=np.zeros(batch_size, bool),
            angle=np.zeros(batch_size),
        )

    @property
    def batch_size(self) -> int:
        """Number of samples."""
        return self.crop.shape[0]

    def _continuous(self) -> np.ndarray:
        """``[B, 3, 3]`` map from output to source continuous pixel coordinates."""
        out_h, out_w = self.size
        batch = self.batch_size
        top, left, crop_h, crop_w = self.crop.T
        rad = np.deg2rad(self.angle)
        cos, sin = np.cos(rad), np.sin(rad)
        cx, cy = out_w / 2.0, out_h / 2.0
        # Inverse of a counter-clockwise (on screen, y down) rotation about the centre.
        rotate = np.zeros((batch, 3, 3))
        rotate[:, 0] = np.stack([cos, -sin, cx - cos * cx + sin * cy], 1)
        rotate[:, 1] = np.stack([sin, cos, cy - sin * cx - cos * cy], 1)
        rotate[:, 2, 2] = 1.0
        flip = np.tile(np.eye(3), (batch, 1, 1))
        flip[self.flip, 0, 0] = -1.0
        flip[self.flip, 0, 2] = out_w
        crop = np.zeros((batch, 3, 3))
        crop[:, 0, 0] = crop_w / out_w
        crop[:, 0, 2] = left
        crop[:, 1, 1] = crop_h / out_h
        crop[:, 1, 2] = top
        crop[:, 2, 2] = 1.0
        return crop @ flip @ rotate

    def affine(self, source_size: Sequence[int] | None = None) -> np.ndarray:
        """Return ``[B, 3, 3]`` matrices from output pixel indices to source pixel indices.

        Parameters
        ----------
        source_size : (int, int), optional
            Resolution of the array to sample, when it differs from
            :attr:`source_size` (a heatmap stored at another size, or the
            64x64 blur grid); the same physical region is sampled.

        Returns
        -------
        numpy.ndarray
            ``float64`` matrices; the first two rows are TensorFlow's projective
            ``transforms`` ``[a0, a1, a2, b0, b1, b2]``.
        """
        src_h, src_w = self.source_size
        res_h, res_w = self.source_size if source_size is None else _as_size(source_size)
        rescale = np.diag([res_w / src_w, res_h / src_h, 1.0])
        return _translate(-0.5, -0.5) @ rescale @ self._continuous() @ _translate(0.5, 0.5)

    def normalized_affine(self) -> np.ndarray:
        """Return ``[B, 2, 3]`` matrices in the ``[-1, 1]`` coordinates of ``affine_grid``.

        The coordinates are those of ``torch.nn.functional.affine_grid`` and
        ``grid_sample`` with ``align_corners=False``; they do not depend on the
        resolution of the sampled array, so one grid serves image and heatmap.
        """
        out_h, out_w = self.size
        to_unit = _pixel_to_unit(*self.source_size)
        from_unit = np.linalg.inv(_pixel_to_unit(out_h, out_w))
        return (to_unit @ self._continuous() @ from_unit)[:, :2]

    def within_frame(self) -> np.ndarray:
        """Return ``bool [B]``: every output pixel of the sample comes from inside the source.

        False where a rotation brings in area from beyond the frame; the
        frameworks compute a per-pixel mask only when some sample needs it.
        """
        out_h, out_w = self.size
        corners = np.array([[0, out_w, 0, out_w], [0, 0, out_h, out_h], [1, 1, 1, 1]], float)
        x, y = (self._continuous() @ corners)[:, :2].transpose(1, 0, 2)
        src_h, src_w = self.source_size
        slack = 1e-9 * max(src_h, src_w)  # rounding of cos/sin for exact right angles
        inside = (x >= -slack) & (x <= src_w + slack) & (y >= -slack) & (y <= src_h + slack)
        return inside.all(axis=1)

    def color_factors(self) -> dict[str, np.ndarray]:
        """Return the photometric factors that differ from the identity for some sample.

        Operations that are the identity for the whole batch are left out so
        the frameworks can skip them.
        """
        return {
            name: getattr(self, name)
            for name in COLOR_OPS
            if np.any(getattr(self, name) != _IDENTITY_COLOR[name])
        }


def _centre_crop_fallback(height: int, width: int, ratio: Range) -> tuple[float, float]:
    """torchvision's crop when 10 random tries fail: the largest centred box within ``ratio``."""
    in_ratio = width / height
    if in_ratio < ratio[0]:
        return float(round(width / ratio[0])), float(width)
    if in_ratio > ratio[1]:
        return float(height), float(round(height * ratio[1]))
    return float(height), float(width)


def _sample_crops(
    rng: np.random.Generator, batch: int, height: int, width: int, scale: Range, ratio: Range
) -> np.ndarray:
    """Vectorised torchvision ``RandomResizedCrop.get_params``; returns ``[B, 4]`` boxes."""
    shape = (batch, _CROP_ATTEMPTS)
    area = height * width * rng.uniform(scale[0], scale[1], shape)
    aspect = np.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1]), shape))
    # np.rint rounds half to even, like the round() torchvision uses.
    crop_w = np.rint(np.sqrt(area * aspect))
    crop_h = np.rint(np.sqrt(area / aspect))
    fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
    first = fits.argmax(axis=1)
    found = fits.any(axis=1)
    rows = np.arange(batch)
    fallback_h, fallback_w = _centre_crop_fallback(height, width, ratio)
    crop_h = np.where(found, crop_h[rows, first], fallback_h)
    crop_w = np.where(found, crop_w[rows, first], fallback_w)
    # Uniform integer offsets in [0, side - crop], like torch.randint.
    top = np.floor(rng.random(batch) * (height - crop_h + 1))
    left = np.floor(rng.random(batch) * (width - crop_w + 1))
    top = np.where(found, top, (height - crop_h) // 2)
    left = np.where(found, left, (width - crop_w) // 2)
    return np.stack([top, left, crop_h, crop_w], axis=1)


def sample_params(
    batch_size: int,
    height: int,
    width: int,
    *,
    size: int | Sequence[int] = 224,
    scale: Range = (0.08, 1.0),
    ratio: Range = (3 / 4, 4 / 3),
    hflip: float = 0.5,
    degrees: float | Range = 0.0,
    color_jitter: ColorJitter | None = None,
    rng: np.random.Generator | int | None = None,
) -> AugmentParams:
    """Sample per-sample augmentation parameters for a batch.

    Crops follow torchvision's ``RandomResizedCrop``: the area fraction is
    uniform in ``scale``, the aspect ratio log-uniform in ``ratio``, up to 10
    tries per sample, then the largest centred crop within ``ratio``. Every
    random stream is drawn for every call, whatever the options, so that
    changing one option does not change the other draws.

    Parameters
    ----------
    batch_size, height, width : int
        Batch size and source image size.
    size : int or (int, int)
        Output ``(height, width)``; an int gives a square.
    scale : (float, float)
        Range of the crop area as a fraction of the source area.
    ratio : (float, float)
        Range of the crop aspect ratio (width / height).
    hflip : float
        Probability of a horizontal flip.
    degrees : float or (float, float)
        Rotation range in degrees (counter-clockwise); ``d`` means ``(-d, d)``.
    color_jitter : ColorJitter, optional
        Photometric factor ranges; ``None`` leaves colours unchanged.
    rng : numpy.random.Generator or int, optional
        Generator, or seed for a new one.

    Returns
    -------
    AugmentParams

    Examples
    --------
    >>> p = sample_params(4, 256, 256, size=224, degrees=15, rng=0)
    >>> p.crop.shape, p.affine().shape, p.size
    ((4, 4), (4, 3, 3), (224, 224))
    """
    if batch_size < 0 or height < 1 or width < 1:
        raise ValueError(f"invalid batch shape {(batch_size, height, width)}")
    if not 0 < scale[0] <= scale[1] or not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"scale and ratio must be increasing positive pairs: {scale}, {ratio}")
    if not 0.0 <= hflip <= 1.0:
        raise ValueError(f"hflip is a probability, got {hflip}")
    rng = np.random.default_rng(rng)
    deg_lo, deg_hi = _as_range(degrees, "degrees", centre=0.0)
    ranges = (color_jitter or ColorJitter()).ranges()
    crop = _sample_crops(rng, batch_size, height, width, _pair(scale), _pair(ratio))
    flip = rng.random(batch_size) < hflip
    angle = rng.uniform(deg_lo, deg_hi, batch_size)
    color = {name: rng.uniform(lo, hi, batch_size) for name, (lo, hi) in ranges.items()}
    return AugmentParams((height, width), _as_size(size), crop, flip, angle, **color)
