"""Argument checks shared by the public API: one wording for every wrong type or value.

Each check names the argument, shows what was given and says what is
expected, raising :class:`TypeError` for a wrong type and
:class:`~neural_datasets.errors.InvalidArgumentError` (a :class:`ValueError`)
for a wrong value, before any work starts.

Examples
--------
>>> count("batch_size", 16)
16
>>> count("batch_size", "16")
Traceback (most recent call last):
...
TypeError: batch_size='16': expected an integer, got str. Pass 16, not '16'.
>>> count("epochs", 0)
Traceback (most recent call last):
...
neural_datasets.errors.InvalidArgumentError: epochs=0: expected an integer >= 1.
"""

from __future__ import annotations

import contextlib
import difflib
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

from .errors import InvalidArgumentError


def count(argument: str, value: Any, *, minimum: int = 1, otherwise: str = "") -> int:
    """``value`` as an ``int`` when it is an integer (not a bool) of at least ``minimum``.

    ``otherwise`` names what else the argument accepts, for the message (e.g.
    ``"or None to repeat forever"``); the caller handles that case itself.
    """
    also = f" {otherwise}" if otherwise else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = ""
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            hint = f" Pass {value.strip()}, not {value!r}."
        raise TypeError(
            f"{argument}={value!r}: expected an integer{also}, got {type(value).__name__}.{hint}"
        )
    if value < minimum:
        raise InvalidArgumentError(f"{argument}={value!r}: expected an integer >= {minimum}{also}.")
    return int(value)


def dataset_name(value: Any, argument: str = "name") -> str:
    """``value`` when it is one dataset name (a ``str``); a clear :class:`TypeError` otherwise.

    Examples
    --------
    >>> dataset_name(["clickme-sample"])
    Traceback (most recent call last):
    ...
    TypeError: name=['clickme-sample']: expected one dataset name (a str such as 'clickme-sample'; \
`neural-datasets list` shows them all), got list. For several datasets, call once per name: \
for name in ['clickme-sample']: ...
    """
    if isinstance(value, str):
        return value
    hint = ""
    if isinstance(value, (list, tuple, set)) and all(isinstance(v, str) for v in value):
        hint = f" For several datasets, call once per name: for name in {value!r}: ..."
    raise TypeError(
        f"{argument}={value!r}: expected one dataset name (a str such as 'clickme-sample'; "
        f"`neural-datasets list` shows them all), got {type(value).__name__}.{hint}"
    )


def batch_source(value: Any, argument: str, call: str) -> Any:
    """``value`` when it reads batches (``len`` and ``read_batch``); else a :class:`TypeError`.

    ``call`` is the adapter's function, for the example in the message.

    Examples
    --------
    >>> batch_source("clickme-sample", "ds", "loader")
    Traceback (most recent call last):
    ...
    TypeError: ds='clickme-sample': expected a dataset object, got str. Open the dataset first \
and pass it: loader(nd.load('clickme-sample'), ...) (after `import neural_datasets as nd`; \
nd.load takes any name `neural-datasets list` shows, or use the dataset's class, e.g. \
nd.ClickMe('sample[:10%]')).
    """
    if hasattr(value, "read_batch") and hasattr(value, "__len__"):
        return value
    example = f"nd.load({value!r})" if isinstance(value, str) else "nd.load(NAME)"
    raise TypeError(
        f"{argument}={value!r}: expected a dataset object, got {type(value).__name__}. Open the "
        f"dataset first and pass it: {call}({example}, ...) (after `import neural_datasets as "
        f"nd`; nd.load takes any name `neural-datasets list` shows, or use the dataset's class, "
        f"e.g. nd.ClickMe('sample[:10%]'))."
    )


EXTRAS = {"torch": "torch", "tensorflow": "tf", "tf_keras": "tf", "torchvision": "torch"}
"""The extra that installs each framework module (``pip install "neural-datasets[EXTRA]"``)."""


@contextlib.contextmanager
def framework_import(user: str) -> Iterator[None]:
    """Import a framework inside this block; a missing one names the extra that installs it.

    ``user`` is the module that needs it, for the message.

    Examples
    --------
    >>> with framework_import("neural_datasets.torch"):
    ...     import no_such_framework_module
    Traceback (most recent call last):
    ...
    ModuleNotFoundError: No module named 'no_such_framework_module'
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in EXTRAS:
            raise
        raise ModuleNotFoundError(
            f"{user} needs {top}, which is not installed. Install it with: "
            f'pip install "neural-datasets[{EXTRAS[top]}]"',
            name=exc.name,
        ) from exc


def choice(argument: str, value: Any, options: Sequence[str], what: str) -> str:
    """``value`` when it is one of ``options``; else a message listing them, closest first.

    ``what`` says what the options are, e.g. ``"a ClickMe split"``.

    Examples
    --------
    >>> choice("split", "vall", ["train", "val", "sample"], "a ClickMe split")
    Traceback (most recent call last):
    ...
    neural_datasets.errors.InvalidArgumentError: split='vall': expected a ClickMe split, one of \
train, val, sample. Did you mean 'val'?
    """
    if not isinstance(value, str):
        raise TypeError(
            f"{argument}={value!r}: expected {what} (a str), one of {', '.join(options)}; "
            f"got {type(value).__name__}."
        )
    if value in options:
        return value
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise InvalidArgumentError(
        f"{argument}={value!r}: expected {what}, one of {', '.join(options)}.{hint}"
    )
