"""(b) The per-sample PyTorch path researchers use today, as a benchmark baseline.

What the lab's PyTorch ClickMe code does, one sample at a time on the CPU:
read a TFRecord record, decode the image and heatmap JPEGs with Pillow, stack
the heatmap as a fourth channel, run the augmentation transforms on that
4-channel tensor (random resized crop to 224, horizontal flip), and let the
default collate stack the batch. torchvision has no CPU wheel on these
machines, so the transforms are the same operations written with plain torch
(``F.interpolate`` bilinear, ``torch.flip``); the work per sample is the same.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np

SIZE = 224


def _per_sample_dataset(shards: list[Path]):
    import torch
    from PIL import Image
    from torch.nn import functional as F
    from torch.utils.data import Dataset

    from neural_datasets.datasets.clickme.records import decode_clickme_example
    from neural_datasets.formats.tfrecord import index_records, read_record

    class PerSampleClickMe(Dataset):
        def __init__(self) -> None:
            self.items = [(p, int(o), int(n)) for p in shards for o, n in index_records(p)]

        def __len__(self) -> int:
            return len(self.items)

        def __getitem__(self, i: int):
            path, offset, length = self.items[i]
            with open(path, "rb") as f:
                image, heatmap, label = decode_clickme_example(read_record(f, offset, length))
            rgb = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"))
            heat = np.asarray(Image.open(io.BytesIO(heatmap)).convert("L"))
            stacked = torch.from_numpy(np.dstack([rgb, heat])).permute(2, 0, 1).float()
            top, left, h, w = random_resized_crop(stacked.shape[1], stacked.shape[2])
            crop = stacked[:, top : top + h, left : left + w]
            out = F.interpolate(
                crop[None], size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=True
            )[0]
            if random.random() < 0.5:
                out = torch.flip(out, dims=(2,))
            return out[:3] / 255.0, out[3:], label

    return PerSampleClickMe()


def random_resized_crop(height: int, width: int) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop sampling (scale 0.08-1, ratio 3/4-4/3)."""
    area = height * width
    for _ in range(10):
        target = area * random.uniform(0.08, 1.0)
        ratio = math.exp(random.uniform(math.log(3 / 4), math.log(4 / 3)))
        w, h = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            return random.randint(0, height - h), random.randint(0, width - w), h, w
    return 0, 0, height, width


def per_sample_torch(num_workers: int) -> Callable:
    """(b) Factory: per-sample decode and transforms in a torch DataLoader with workers."""

    def make(data) -> Callable[[int], int]:
        import torch
        from torch.utils.data import DataLoader

        loader = DataLoader(
            _per_sample_dataset(data.shards),
            batch_size=64,
            shuffle=True,
            drop_last=True,
            num_workers=num_workers,
            persistent_workers=num_workers > 0,
            generator=torch.Generator().manual_seed(0),
        )
        return lambda epoch: sum(len(labels) for _, _, labels in loader)

    return make


def harmonization_parse() -> Callable:
    """The Harmonization ClickMe loader's per-record ops (its ``parse_clickme_prototype``):
    decode, resize to 224, heatmap to 64, blur, back to 224, one-hot label. Shared by the
    loader and compat benchmarks, which build their tf.data pipelines around it."""
    import tensorflow as tf

    from neural_datasets.augment.harmonization import gaussian_kernel

    kernel = tf.constant(gaussian_kernel()[:, :, None, None])
    features = {
        "image": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "heatmap": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "label": tf.io.FixedLenFeature([], tf.int64, default_value=0),
    }

    def parse(record: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        parsed = tf.io.parse_single_example(record, features)
        image = tf.cast(tf.reshape(tf.io.decode_jpeg(parsed["image"]), (256, 256, 3)), tf.float32)
        image = tf.image.resize(image, (224, 224), method="bilinear")
        heatmap = tf.reshape(tf.io.decode_jpeg(parsed["heatmap"]), (256, 256, 1))
        heatmap = tf.image.resize(tf.cast(heatmap, tf.float32), (64, 64), method="bilinear")
        heatmap = tf.nn.conv2d(heatmap[None], kernel, strides=1, padding="SAME")[0]
        heatmap = tf.image.resize(heatmap, (224, 224), method="bilinear")
        return image, heatmap, tf.one_hot(tf.cast(parsed["label"], tf.int32), 1000)

    return parse
