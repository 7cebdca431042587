"""Batched, heatmap-aligned augmentation in TensorFlow (NHWC).

Same names and meanings as :mod:`neural_datasets.augment.torch`; given the
same :class:`~neural_datasets.augment.params.AugmentParams` both produce the
same output. Warps use ``ImageProjectiveTransformV3`` (bilinear), one call per
array for the whole batch on a GPU, or per block of a few samples in a graph
loop on the CPU, where whole-batch intermediates would not stay in cache.
Works eagerly, inside ``tf.function`` and in ``tf.data`` maps: there the
per-sample parameters are drawn by the NumPy generator through
``tf.numpy_function`` (a few numbers per sample; image data stays in the graph).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np

from neural_datasets._checks import framework_import

with framework_import("neural_datasets.augment.tf"):
    import tensorflow as tf

from neural_datasets.augment._base import HeatmapAugmentBase, check_params, check_shapes
from neural_datasets.augment._pixelmath import LUMA, adjust_color, renormalize
from neural_datasets.augment.harmonization import BLUR_GRID, IMAGE_SIZE, gaussian_kernel
from neural_datasets.augment.params import COLOR_OPS, AugmentParams

__all__ = ["HeatmapAugment", "harmonization_preprocess"]


SAMPLES_PER_BLOCK = 4
"""Samples per step of the CPU graph loop: few enough to stay in cache."""


class _TFOps:
    """:class:`~neural_datasets.augment._pixelmath.ArrayOps` for NHWC TensorFlow tensors."""

    clip01 = staticmethod(lambda x: tf.clip_by_value(x, 0.0, 1.0))
    blend01 = staticmethod(lambda a, b, weight: tf.clip_by_value(b + weight * (a - b), 0.0, 1.0))
    where = staticmethod(tf.where)
    maximum = staticmethod(tf.maximum)
    minimum = staticmethod(tf.minimum)
    floor = staticmethod(tf.floor)
    clamp_min = staticmethod(tf.maximum)
    split_rgb = staticmethod(lambda x: tuple(tf.split(x, 3, axis=-1)))
    merge_rgb = staticmethod(lambda r, g, b: tf.concat([r, g, b], axis=-1))

    @staticmethod
    def reduce(x: tf.Tensor, how: Literal["mean", "max", "sum"]) -> tf.Tensor:
        reduce = {"mean": tf.reduce_mean, "max": tf.reduce_max, "sum": tf.reduce_sum}[how]
        return reduce(x, axis=[1, 2, 3], keepdims=True)

    @staticmethod
    def gray(x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(x * tf.constant(LUMA, x.dtype), axis=-1, keepdims=True)


_OPS = _TFOps()


def _as_float(x: tf.Tensor) -> tuple[tf.Tensor, float]:
    """float32 values and the factor to the ``[0, 1]`` scale (1/255 for uint8).

    The factor is applied after resampling, on the smaller output.
    """
    return tf.cast(x, tf.float32), (1.0 / 255.0 if x.dtype == tf.uint8 else 1.0)


def _harmonization_blur(heatmaps: tf.Tensor) -> tf.Tensor:
    """The reference's blur of ``[B, H, W, 1]``: 64x64 bilinear resize, Gaussian 'SAME'."""
    kernel = tf.constant(gaussian_kernel()[:, :, None, None])
    grid = tf.image.resize(heatmaps, (BLUR_GRID, BLUR_GRID), method="bilinear")
    return tf.nn.conv2d(grid, kernel, strides=1, padding="SAME")


def harmonization_preprocess(images: tf.Tensor, heatmaps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Deterministic preprocessing of the Harmonization package's ClickMe loader.

    The reference's own op sequence, batched: images ``tf.image.resize`` to
    224x224 (bilinear); heatmaps resized to 64x64, convolved with the 10x10,
    sigma-10 Gaussian (``tf.nn.conv2d``, ``'SAME'``) and resized to 224x224.
    Values keep their units (no division by 255).

    Parameters
    ----------
    images : tf.Tensor
        ``[B, H, W, 3]``, uint8 or float.
    heatmaps : tf.Tensor
        ``[B, H', W', 1]`` or ``[B, H', W']``, uint8 or float.

    Returns
    -------
    images, heatmaps : tf.Tensor
        ``float32 [B, 224, 224, 3]`` and ``float32`` heatmaps of the input rank.

    Examples
    --------
    >>> images = tf.zeros([2, 256, 256, 3], tf.uint8)
    >>> x, h = harmonization_preprocess(images, tf.zeros([2, 256, 256], tf.uint8))
    >>> x.shape.as_list(), h.shape.as_list()
    ([2, 224, 224, 3], [2, 224, 224])
    """
    images, heatmaps = tf.convert_to_tensor(images), tf.convert_to_tensor(heatmaps)
    has_channel = check_shapes(images.shape, heatmaps.shape, channels_last=True)
    out = (IMAGE_SIZE, IMAGE_SIZE)
    hm = tf.cast(heatmaps if has_channel else heatmaps[..., None], tf.float32)
    hm = tf.image.resize(_harmonization_blur(hm), out, method="bilinear")
    image = tf.image.resize(tf.cast(images, tf.float32), out, method="bilinear")
    return image, hm if has_channel else hm[..., 0]


def _projective(params: AugmentParams, source_size: tuple[int, int] | None = None) -> np.ndarray:
    """``[B, 8]`` float32 rows ``[a0, a1, a2, b0, b1, b2, 0, 0]`` for the projective op."""
    affine = params.affine(source_size)[:, :2].reshape(params.batch_size, 6)
    return np.pad(affine, ((0, 0), (0, 2))).astype(np.float32)


class _Warp(NamedTuple):
    """Per-sample projective rows for the image and heatmap grids, and the output size."""

    image: tf.Tensor
    heatmap: tf.Tensor
    size: tuple[int, int]
    masked: bool  # whether some output pixel may come from beyond the frame


def _warp(x: tf.Tensor, transforms: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    # NEAREST fill clamps coordinates to the edge pixels, like grid_sample's
    # 'border'; the frame mask below zeroes what lies beyond the frame.
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transforms,
        output_shape=tf.constant(size, tf.int32),
        fill_value=tf.constant(0.0),
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )


def _inside_frame(transforms: tf.Tensor, source_hw: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """``[B, h, w, 1]`` float mask of output pixels whose source point is within the frame."""
    xs = tf.range(size[1], dtype=tf.float32)[None, None, :]
    ys = tf.range(size[0], dtype=tf.float32)[None, :, None]
    t = transforms[:, :, None, None]
    # Broadcast [B, 1, w] + [B, h, 1]: one full-size add per coordinate.
    src_x = t[:, 0] * xs + (t[:, 1] * ys + t[:, 2])
    src_y = t[:, 3] * xs + (t[:, 4] * ys + t[:, 5])
    height, width = (tf.cast(v, tf.float32) for v in tf.unstack(source_hw))
    # Pixel i spans [i - 0.5, i + 0.5] in index coordinates.
    inside = (tf.abs(src_x - (width - 1) / 2) <= width / 2) & (
        tf.abs(src_y - (height - 1) / 2) <= height / 2
    )
    return tf.cast(inside, tf.float32)[..., None]


class HeatmapAugment(HeatmapAugmentBase):
    """Random resized crop, flip, rotation and colour jitter that keep heatmaps aligned.

    TensorFlow twin of :class:`neural_datasets.augment.torch.HeatmapAugment`,
    with the same options and meanings; batches are NHWC.

    Parameters
    ----------
    size, scale, ratio, hflip, degrees, color_jitter, blur_heatmaps, heatmap_norm, normalize, seed
        As :class:`neural_datasets.augment.torch.HeatmapAugment`.

    Notes
    -----
    Input: images ``[B, H, W, 3]``, heatmaps ``[B, H', W', 1]`` or
    ``[B, H', W']``, uint8 (divided by 255) or float (taken as is). Output:
    ``float32`` images ``[B, h, w, 3]`` and ``float32`` heatmaps of the input
    rank. Inside ``tf.function``/``tf.data`` the parameters come from a
    stateful ``tf.numpy_function``: the sequence is reproducible under a seed
    as long as batches are augmented one at a time (a parallel ``map`` may
    hand out the draws in another order).

    Examples
    --------
    >>> aug = HeatmapAugment(224, degrees=10, seed=0)
    >>> images = tf.zeros([8, 256, 256, 3], tf.uint8)
    >>> x, h = aug(images, tf.zeros([8, 256, 256, 1], tf.uint8))
    >>> x.shape.as_list(), h.shape.as_list()
    ([8, 224, 224, 3], [8, 224, 224, 1])
    """

    def __call__(self, images: tf.Tensor, heatmaps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Augment a batch with freshly drawn parameters; see the class docstring."""
        images, heatmaps = tf.convert_to_tensor(images), tf.convert_to_tensor(heatmaps)
        has_channel = check_shapes(images.shape, heatmaps.shape, channels_last=True)
        image_shape, heat_shape = tf.shape(images), tf.shape(heatmaps)
        grid = tf.constant([BLUR_GRID, BLUR_GRID]) if self.blur_heatmaps else heat_shape[1:3]
        image_t, heat_t, color = tf.numpy_function(
            self._draw,
            [image_shape[0], image_shape[1], image_shape[2], grid[0], grid[1]],
            [tf.float32] * 3,
            stateful=True,
        )
        image_t.set_shape([None, 8])
        heat_t.set_shape([None, 8])
        warp = _Warp(image_t, heat_t, self.size, masked=self.rotates)
        factors = {name: color[:, COLOR_OPS.index(name)] for name in self.color_ops}
        return self._transform(images, heatmaps, has_channel, warp, factors)

    def _draw(self, batch: int, height: int, width: int, grid_h: int, grid_w: int) -> tuple:
        params = self.sample(int(batch), int(height), int(width))
        color = np.stack([getattr(params, name) for name in COLOR_OPS], axis=1)
        return (
            _projective(params),
            _projective(params, (int(grid_h), int(grid_w))),
            color.astype(np.float32),
        )

    def apply(
        self, images: tf.Tensor, heatmaps: tf.Tensor, params: AugmentParams
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Augment a batch with the given parameters.

        Examples
        --------
        >>> aug = HeatmapAugment(blur_heatmaps=False)
        >>> images = tf.random.uniform([2, 32, 32, 3])
        >>> p = AugmentParams.identity(2, 32, 32)
        >>> x, _ = aug.apply(images, images[..., :1], p)
        >>> bool(tf.reduce_all(tf.abs(x - images) < 1e-5))
        True
        """
        images, heatmaps = tf.convert_to_tensor(images), tf.convert_to_tensor(heatmaps)
        has_channel = check_shapes(images.shape, heatmaps.shape, channels_last=True)
        check_params(params, *images.shape[:3])
        grid = (BLUR_GRID, BLUR_GRID) if self.blur_heatmaps else tuple(heatmaps.shape[1:3])
        if None in grid:
            raise ValueError("apply needs a static heatmap height and width")
        warp = _Warp(
            tf.constant(_projective(params)),
            tf.constant(_projective(params, grid)),
            params.size,
            masked=not params.within_frame().all(),
        )
        factors = {
            name: tf.constant(value, tf.float32) for name, value in params.color_factors().items()
        }
        return self._transform(images, heatmaps, has_channel, warp, factors)

    def _transform(
        self,
        images: tf.Tensor,
        heatmaps: tf.Tensor,
        has_channel: bool,
        warp: _Warp,
        factors: dict[str, tf.Tensor],
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Augment on the GPU as one batch; on the CPU one sample at a time, in the graph.

        On the CPU, whole-batch float intermediates (~150 MB) stream through
        memory once per elementwise pass, and the colour math has dozens; one
        sample's stay in cache (BENCHMARKS.md). ``tf.map_fn`` runs the samples
        as a graph loop, several at once, inside a ``tf.function`` even when
        called eagerly.
        """
        heatmaps = heatmaps if has_channel else heatmaps[..., None]
        if tf.config.list_logical_devices("GPU"):
            image, heat = self._transform_batch(
                images, heatmaps, warp.image, warp.heatmap, factors, warp.size, warp.masked
            )
        else:
            per_sample = self._per_sample_transform(warp.size, warp.masked)
            image, heat = per_sample(images, heatmaps, warp.image, warp.heatmap, factors)
        return image, heat if has_channel else heat[..., 0]

    def _per_sample_transform(self, size: tuple[int, int], masked: bool) -> Callable[..., Any]:
        """A graph function mapping :meth:`_transform_batch` over the samples (cached)."""
        cache = self.__dict__.setdefault("_per_sample_fns", {})
        if (size, masked) not in cache:

            def one(args: tuple) -> tuple[tf.Tensor, tf.Tensor]:
                images, heatmaps, image_t, heat_t, factors = args  # one block
                return self._transform_batch(
                    images, heatmaps, image_t, heat_t, factors, size, masked
                )

            @tf.function(reduce_retracing=True)
            def per_sample(images, heatmaps, image_t, heat_t, factors):
                count = tf.shape(images)[0]
                pad = -count % SAMPLES_PER_BLOCK

                def blocks(t: tf.Tensor) -> tf.Tensor:
                    rest = tf.zeros([tf.rank(t) - 1, 2], tf.int32)
                    t = tf.pad(t, tf.concat([[[0, pad]], rest], 0))
                    return tf.reshape(t, tf.concat([[-1, SAMPLES_PER_BLOCK], tf.shape(t)[1:]], 0))

                elems = (images, heatmaps, image_t, heat_t, factors)
                image, heat = tf.map_fn(
                    one,
                    tf.nest.map_structure(blocks, elems),
                    fn_output_signature=(tf.float32, tf.float32),
                    parallel_iterations=2,
                )
                unblock = lambda t: tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))[:count]  # noqa: E731
                return unblock(image), unblock(heat)

            cache[size, masked] = per_sample
        return cache[size, masked]

    def _transform_batch(
        self,
        images: tf.Tensor,
        heatmaps: tf.Tensor,
        image_t: tf.Tensor,
        heat_t: tf.Tensor,
        factors: dict[str, tf.Tensor],
        size: tuple[int, int],
        masked: bool,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        image, image_scale = _as_float(images)
        heat, heat_scale = _as_float(heatmaps)
        if self.blur_heatmaps:
            heat = _harmonization_blur(heat)
        keep = 1.0
        if masked:
            keep = _inside_frame(image_t, tf.shape(image)[1:3], size)
        image = _warp(image, image_t, size) * (keep * image_scale)
        heat = _warp(heat, heat_t, size) * (keep * heat_scale)
        shaped = {name: tf.reshape(v, [-1, 1, 1, 1]) for name, v in factors.items()}
        image = adjust_color(image, shaped, _OPS)
        if self.normalize is not None:
            mean, std = (tf.constant(v, tf.float32) for v in self.normalize)
            image = (image - mean) / std
        return image, renormalize(heat, self.heatmap_norm, _OPS)
