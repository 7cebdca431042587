"""ClickMe's TFRecord records: one ``tf.train.Example`` per sample, with its three features.

The TFRecord framing and the ``tf.train.Example`` wire format are
:mod:`neural_datasets.formats.tfrecord`'s; which features a ClickMe record
holds is ClickMe's, declared here.
"""

from __future__ import annotations

import numpy as np

from ...formats.tfrecord import single_values

RECORD_FEATURES = {"image": bytes, "heatmap": bytes, "label": np.int64}
"""A ClickMe record's features: the image and heatmap JPEG bytes and the ImageNet label."""


def decode_clickme_example(data: bytes) -> tuple[bytes, bytes, int]:
    """Decode one ClickMe record into its image, heatmap and label.

    Parameters
    ----------
    data : bytes
        A serialized ``tf.train.Example`` with features ``image`` (JPEG bytes),
        ``heatmap`` (JPEG bytes) and ``label`` (int64).

    Returns
    -------
    tuple of (bytes, bytes, int)
        The image JPEG, the heatmap JPEG and the label.

    Raises
    ------
    CorruptRecordError
        If the proto is malformed or a feature is missing or of the wrong type;
        the message names the feature.

    Examples
    --------
    >>> from neural_datasets.formats.tfrecord import encode_example
    >>> rec = encode_example({"image": b"img", "heatmap": b"map", "label": 3})
    >>> decode_clickme_example(rec)
    (b'img', b'map', 3)
    """
    values = single_values(data, RECORD_FEATURES, what="ClickMe record")
    return values["image"], values["heatmap"], int(values["label"])
