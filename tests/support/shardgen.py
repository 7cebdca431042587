"""Build ClickMe-format TFRecord shards for tests from the bundled sample's records."""

from __future__ import annotations

import itertools
from pathlib import Path

from neural_datasets.datasets.clickme.records import decode_clickme_example
from neural_datasets.datasets.clickme.spec import shard_spec
from neural_datasets.formats.tfrecord import encode_example, iter_records, write_records
from neural_datasets.registry import DatasetSpec, get_spec


def sample_examples() -> list[tuple[bytes, bytes, int]]:
    """(image JPEG, heatmap JPEG, label) of the 48 bundled records."""
    spec = get_spec("clickme-sample")
    root = Path(spec.base_url.removeprefix("file://"))
    return [
        decode_clickme_example(record)
        for remote in spec.files
        for record in iter_records(root / remote.path)
    ]


def write_shards(
    folder: Path, n_shards: int, per_shard: int, *, with_tensorflow: bool = False
) -> list[str]:
    """Write ``n_shards`` shards of ``per_shard`` records (labels = global index % 1000).

    With ``with_tensorflow`` the files are written by ``tf.io.TFRecordWriter``
    from ``tf.train.Example`` protos, exactly as the published shards were.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cycle = itertools.cycle(sample_examples())
    names = []
    for shard in range(n_shards):
        rows = [next(cycle) for _ in range(per_shard)]
        labels = [(shard * per_shard + i) % 1000 for i in range(per_shard)]
        name = f"part-{shard}.tfrecords"
        if with_tensorflow:
            _write_with_tensorflow(folder / name, rows, labels)
        else:
            records = (
                encode_example({"image": img, "heatmap": heat, "label": label})
                for (img, heat, _), label in zip(rows, labels)
            )
            write_records(folder / name, records)
        names.append(name)
    return names


def _write_with_tensorflow(path: Path, rows: list, labels: list[int]) -> None:
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for (image, heatmap, _), label in zip(rows, labels):
            feature = {
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
                "heatmap": tf.train.Feature(bytes_list=tf.train.BytesList(value=[heatmap])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())


def make_spec(name: str, base_url: str, files: list[str]) -> DatasetSpec:
    """An unpinned ClickMe registry entry over ``files`` at ``base_url``."""
    return shard_spec(name, base_url, files, split="test", description="test dataset")
