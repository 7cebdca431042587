"""Make small ClickMe-format TFRecord shards from freely licensed photographs.

The photographs are the public-domain and CC0 ones shipped inside the
scikit-image wheel (see ``SOURCE_IMAGES``), so no network access is needed.
Heatmaps and labels are synthetic: the heatmaps are smooth Gaussian blobs
placed on high-contrast parts of each crop, the labels are arbitrary.

Used by ``scripts/make_samples.py`` for the bundled sample and by the
benchmark to make larger natural-image test sets.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from itertools import islice
from pathlib import Path

import numpy as np
from PIL import Image

from neural_datasets.formats.tfrecord import encode_example, write_records

# File names in skimage/data; licences as stated in skimage.data's docstrings.
SOURCE_IMAGES = (
    "astronaut.png",  # Eileen Collins, NASA; public domain
    "chelsea.png",  # Chelsea the cat, Stefan van der Walt; CC0
    "coffee.png",  # coffee cup, Rachel Michetti; CC0
    "rocket.jpg",  # DSCOVR launch on Falcon 9, SpaceX; public domain
    "hubble_deep_field.jpg",  # Hubble eXtreme Deep Field, NASA; public domain
)
JPEG_QUALITY = 90
SAMPLE_SEED = 0
SAMPLE_SHARDS = 2
SAMPLE_PER_SHARD = 24
SAMPLE_NAME = "clickme-sample"
N_CLASSES = 1000


@cache
def _source_images() -> tuple[Image.Image, ...]:
    data_dir = files("skimage") / "data"
    images = []
    for name in SOURCE_IMAGES:
        with Image.open(io.BytesIO((data_dir / name).read_bytes())) as img:
            images.append(img.convert("RGB"))
    return tuple(images)


def natural_crops(n: int, seed: int, size: int = 256) -> Iterator[np.ndarray]:
    """Yield deterministic random crops of the bundled scikit-image photographs.

    Each crop picks a photograph, a region covering 10-100% of the photograph's
    shorter side squared (aspect ratio 3/4 to 4/3), rescales it to
    ``size`` x ``size`` and mirrors it half of the time, like ImageNet's
    random-resized-crop augmentation.

    Parameters
    ----------
    n : int
        Number of crops.
    seed : int
        Seed of the random crop parameters; equal seeds give equal crops.
    size : int, default 256
        Side of the square output, in pixels.

    Yields
    ------
    numpy.ndarray
        uint8 array of shape ``(size, size, 3)``.

    Examples
    --------
    >>> crops = list(natural_crops(2, seed=0))
    >>> crops[0].shape, crops[0].dtype
    ((256, 256, 3), dtype('uint8'))
    """
    rng = np.random.default_rng(seed)
    images = _source_images()
    for _ in range(n):
        img = images[rng.integers(len(images))]
        width, height = img.size
        area = min(width, height) ** 2 * rng.uniform(0.1, 1.0)
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        crop_w = min(width, round(np.sqrt(area * aspect)))
        crop_h = min(height, round(np.sqrt(area / aspect)))
        left = int(rng.integers(width - crop_w + 1))
        top = int(rng.integers(height - crop_h + 1))
        box = (left, top, left + crop_w, top + crop_h)
        crop = img.resize((size, size), Image.Resampling.BICUBIC, box=box)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        yield np.asarray(crop)


def synthetic_heatmap(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Make a smooth, clearly synthetic feature-importance map for an image.

    Two to five Gaussian blobs are centred on pixels drawn with probability
    proportional to the image's gradient magnitude, so they land on edges and
    texture rather than flat background, loosely like human ClickMe maps.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 array of shape ``(H, W, 3)``.
    rng : numpy.random.Generator
        Source of the blob positions, widths and weights.

    Returns
    -------
    numpy.ndarray
        uint8 array of shape ``(H, W)`` with maximum 255.

    Examples
    --------
    >>> img = next(natural_crops(1, seed=0))
    >>> heat = synthetic_heatmap(img, np.random.default_rng(0))
    >>> heat.shape, heat.dtype, int(heat.max())
    ((256, 256), dtype('uint8'), 255)
    """
    height, width = image.shape[:2]
    grad_y, grad_x = np.gradient(image.astype(np.float64).mean(axis=2))
    weight = np.hypot(grad_x, grad_y).ravel() + 1e-3  # flat images still get blobs
    n_blobs = int(rng.integers(2, 6))
    centres = rng.choice(weight.size, size=n_blobs, p=weight / weight.sum())
    ys, xs = np.divmod(centres, width)
    sigmas = rng.uniform(0.05, 0.15, n_blobs) * min(height, width)
    amplitudes = rng.uniform(0.4, 1.0, n_blobs)
    grid_y = np.arange(height, dtype=np.float64)[:, None]
    grid_x = np.arange(width, dtype=np.float64)[None, :]
    heat = np.zeros((height, width))
    for y, x, sigma, amplitude in zip(ys, xs, sigmas, amplitudes, strict=True):
        heat += amplitude * np.exp(-((grid_y - y) ** 2 + (grid_x - x) ** 2) / (2 * sigma**2))
    return np.round(heat * (255 / heat.max())).astype(np.uint8)


def _jpeg(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # Baseline, non-optimized JPEG with explicit settings: the bytes depend only on
    # the pixels and the libjpeg build, so regenerating gives identical files.
    Image.fromarray(array).save(
        buffer,
        "JPEG",
        quality=JPEG_QUALITY,
        subsampling="4:2:0",
        optimize=False,
        progressive=False,
    )
    return buffer.getvalue()


def clickme_example(image: np.ndarray, heatmap: np.ndarray, label: int) -> bytes:
    """Serialize one record in the ClickMe TFRecord format.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 array of shape ``(256, 256, 3)``, stored as an RGB JPEG in ``image``.
    heatmap : numpy.ndarray
        uint8 array of shape ``(256, 256)`` or ``(256, 256, 1)``, stored as a
        grayscale JPEG in ``heatmap``.
    label : int
        ImageNet class index in ``[0, 1000)``, stored as int64 in ``label``.

    Returns
    -------
    bytes
        A serialized ``tf.train.Example``.

    Examples
    --------
    >>> from neural_datasets.datasets.clickme.records import decode_clickme_example
    >>> rec = clickme_example(np.zeros((256, 256, 3), np.uint8), np.zeros((256, 256), np.uint8), 5)
    >>> decode_clickme_example(rec)[2]
    5
    """
    if image.shape != (256, 256, 3) or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (256, 256, 3), got {image.dtype} {image.shape}")
    if heatmap.shape == (256, 256, 1):
        heatmap = heatmap[:, :, 0]
    if heatmap.shape != (256, 256) or heatmap.dtype != np.uint8:
        raise ValueError(f"heatmap must be uint8 (256, 256), got {heatmap.dtype} {heatmap.shape}")
    if not 0 <= label < N_CLASSES:
        raise ValueError(f"label must be in [0, {N_CLASSES}), got {label}")
    return encode_example({"image": _jpeg(image), "heatmap": _jpeg(heatmap), "label": int(label)})


def write_clickme_shards(
    out_dir: Path, n_shards: int, per_shard: int, seed: int, prefix: str
) -> list[Path]:
    """Write ClickMe-format shards of natural crops, synthetic heatmaps and labels.

    Parameters
    ----------
    out_dir : pathlib.Path
        Directory for the shards (created if needed).
    n_shards : int
        Number of shard files.
    per_shard : int
        Records per shard.
    seed : int
        Seed of the crops, heatmaps and labels; equal seeds give identical bytes.
    prefix : str
        Shards are named ``{prefix}-{i}.tfrecords``.

    Returns
    -------
    list of pathlib.Path
        The shard files, in order.

    Examples
    --------
    >>> import tempfile
    >>> paths = write_clickme_shards(Path(tempfile.mkdtemp()), 2, 3, seed=1, prefix="t")
    >>> [p.name for p in paths]
    ['t-0.tfrecords', 't-1.tfrecords']
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    crops = natural_crops(n_shards * per_shard, seed)
    rng = np.random.default_rng([seed, 1])  # independent of the crop stream
    paths = []
    for shard in range(n_shards):
        path = out_dir / f"{prefix}-{shard}.tfrecords"
        write_records(
            path,
            (
                clickme_example(img, synthetic_heatmap(img, rng), int(rng.integers(N_CLASSES)))
                for img in islice(crops, per_shard)
            ),
        )
        paths.append(path)
    return paths


def main(out_dir: Path) -> list[Path]:
    """Regenerate the bundled ClickMe sample in ``out_dir``.

    Parameters
    ----------
    out_dir : pathlib.Path
        The sample folder (``neural_datasets/datasets/clickme/sample`` in the repository).

    Returns
    -------
    list of pathlib.Path
        The shard files written.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in main(Path(tempfile.mkdtemp()))]
    ['clickme-sample-0.tfrecords', 'clickme-sample-1.tfrecords']
    """
    return write_clickme_shards(
        Path(out_dir), SAMPLE_SHARDS, SAMPLE_PER_SHARD, SAMPLE_SEED, SAMPLE_NAME
    )
