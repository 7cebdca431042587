"""Exceptions raised by neural-datasets.

Every failure a user can cause or meet in the field (a bad name, a network
outage, a checksum mismatch, a corrupt file, a cache that cannot be written)
raises a subclass of :class:`NeuralDatasetsError` whose message says what
happened and what to do next. The CLI prints that message without a traceback.
Messages name settings as the reader types them (:func:`option`): ``base_url=``
in Python, ``--base-url`` on the command line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar


class NeuralDatasetsError(Exception):
    """Base class of every expected failure in neural-datasets."""


class UnknownDatasetError(NeuralDatasetsError, KeyError):
    """A dataset name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DownloadError(NeuralDatasetsError):
    """A file could not be downloaded (network down, HTTP error, truncated body)."""


class OfflineError(NeuralDatasetsError):
    """Data is missing and ``NEURAL_DATASETS_OFFLINE`` forbids downloading it."""


class ChecksumMismatchError(NeuralDatasetsError):
    """A file's sha256 or size differs from the pinned or recorded value."""


class InvalidFileError(ChecksumMismatchError):
    """A downloaded file is not what its name says: an HTML page, a damaged TFRecord or zip.

    A subclass of :class:`ChecksumMismatchError` because both mean "this file
    must not be used": it is moved aside and ``fetch`` downloads it once more.
    """


class CorruptRecordError(NeuralDatasetsError):
    """A TFRecord file whose framing, CRC or protobuf payload is damaged."""


class CorruptStoreError(NeuralDatasetsError):
    """A cached zarr store whose files do not match their recorded checksums."""


class ConversionError(NeuralDatasetsError):
    """Raw files that cannot be converted (missing variables, missing stimuli...)."""


class CacheNotWritableError(NeuralDatasetsError):
    """The cache directory cannot be written and holds no complete copy."""


class InvalidArgumentError(NeuralDatasetsError, ValueError):
    """An argument outside what the data allows (unknown population, bad time window)."""


class NotEnoughSpaceError(NeuralDatasetsError):
    """The cache's file system has less free space than a fetch needs."""


_INTERFACE: ContextVar[str] = ContextVar("neural_datasets_interface", default="python")
_FLAGS = {"from_dir": "--from"}  # the CLI's names that are not the keyword's


def option(keyword: str) -> str:
    """How the user in front of us spells the setting ``keyword``, for messages.

    ``base_url=`` from Python, ``--base-url`` from the command line (inside
    :func:`command_line`), so every message names what its reader can type.

    Examples
    --------
    >>> option("base_url")
    'base_url='
    >>> with command_line():
    ...     option("base_url"), option("from_dir")
    ('--base-url', '--from')
    """
    if _INTERFACE.get() == "cli":
        return _FLAGS.get(keyword, "--" + keyword.replace("_", "-"))
    return f"{keyword}="


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Within this block, messages spell settings as command-line options (:func:`option`)."""
    token = _INTERFACE.set("cli")
    try:
        yield
    finally:
        _INTERFACE.reset(token)
