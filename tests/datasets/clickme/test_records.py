"""ClickMe's record schema over the generic tf.train.Example decoder."""

from __future__ import annotations

import numpy as np
import pytest

from neural_datasets.datasets.clickme.records import decode_clickme_example
from neural_datasets.errors import CorruptRecordError
from neural_datasets.formats.tfrecord import encode_example, single_values


def clickme_record(label: int = 7) -> bytes:
    return encode_example({"image": b"\xff\xd8image", "heatmap": b"\xff\xd8map", "label": label})


@pytest.mark.parametrize("missing", ["image", "heatmap", "label"])
def test_clickme_missing_feature(missing: str) -> None:
    features = {"image": b"i", "heatmap": b"h", "label": 1}
    del features[missing]
    with pytest.raises(CorruptRecordError, match=f"no '{missing}' feature"):
        decode_clickme_example(encode_example(features))


@pytest.mark.parametrize(
    "features",
    [
        {"image": b"i", "heatmap": b"h", "label": b"1"},
        {"image": 3, "heatmap": b"h", "label": 1},
        {"image": b"i", "heatmap": [b"h", b"h"], "label": 1},
        {"image": b"i", "heatmap": b"h", "label": 1.0},
    ],
)
def test_clickme_wrong_feature_type(features: dict) -> None:
    with pytest.raises(CorruptRecordError, match="should hold exactly one"):
        decode_clickme_example(encode_example(features))


def test_clickme_decode() -> None:
    assert decode_clickme_example(clickme_record(999)) == (b"\xff\xd8image", b"\xff\xd8map", 999)


def test_single_values_names_the_record_kind() -> None:
    with pytest.raises(CorruptRecordError, match="^pair record has no 'b' feature"):
        single_values(encode_example({"a": 1}), {"a": np.int64, "b": bytes}, what="pair record")
