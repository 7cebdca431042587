"""Exceptions raised by neural-datasets.

Every failure a user can cause or meet in the field (a bad name, a network
outage, a checksum mismatch, a corrupt file, a cache that cannot be written)
raises a subclass of :class:`NeuralDatasetsError` whose message says what
happened and what to do next. The CLI prints that message without a traceback.
"""

from __future__ import annotations


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
