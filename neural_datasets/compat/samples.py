"""The ``NEURAL_DATASETS_SAMPLES`` switch: the compat loaders' default data becomes the samples.

Client code calls the lab's loaders without arguments (``load_clickme_val()``,
``load_clickme_train()``, ``Neural_dataset()``), and those calls download
gigabytes. With ``NEURAL_DATASETS_SAMPLES=1`` in the environment they read the
bundled samples instead, so a client's script or test suite runs offline, e.g.
in its CI, unchanged. Calls that name their data (shard paths, a dataset
name) are not affected. The variable is read at each call, not at import.

Examples
--------
>>> import os
>>> os.environ["NEURAL_DATASETS_SAMPLES"] = "1"
>>> samples_requested()
True
>>> os.environ["NEURAL_DATASETS_SAMPLES"] = "0"
>>> samples_requested()
False
>>> del os.environ["NEURAL_DATASETS_SAMPLES"]
"""

from __future__ import annotations

import os

from ..errors import InvalidArgumentError

ENV_SAMPLES = "NEURAL_DATASETS_SAMPLES"
"""Set to ``1`` to point the compat loaders' no-argument calls at the bundled samples."""

_ON = ("1", "true", "yes", "on")
_OFF = ("", "0", "false", "no", "off")


def samples_requested() -> bool:
    """Whether ``$NEURAL_DATASETS_SAMPLES`` asks for the bundled samples (read now).

    Raises
    ------
    InvalidArgumentError
        For a value that is neither on (``1``, ``true``, ``yes``, ``on``) nor
        off (empty, ``0``, ``false``, ``no``, ``off``): a typo must not
        silently download the full data.
    """
    value = os.environ.get(ENV_SAMPLES, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise InvalidArgumentError(
        f"{ENV_SAMPLES}={os.environ[ENV_SAMPLES]!r} is not understood; set it to 1 to read the "
        f"bundled samples, or 0 (or unset it) for the full data."
    )
