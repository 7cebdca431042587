"""Fast, fork-safe random access to zarr v3 arrays through tensorstore.

tensorstore reads a random batch of 64 one-sample chunks ~40x faster than
zarr-python's default reader (BENCHMARKS.md). Like every threaded reader it
must not be shared with a forked child: :class:`LazyArray` opens its handle on
first use in each process and re-opens after a fork, so dataset objects can be
pickled to spawned workers and inherited by forked ones alike.

Every open and read of a remote store waits at most ``NEURAL_DATASETS_TIMEOUT``
seconds (default 30) and then fails with a :class:`~neural_datasets.errors.DownloadError`
that says so; with ``NEURAL_DATASETS_OFFLINE`` set, remote stores are refused at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ..errors import DownloadError, OfflineError

ENV_TIMEOUT = "NEURAL_DATASETS_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0


def is_url(location: str | os.PathLike[str]) -> bool:
    """True for a remote location (``http(s)://``, ``gs://``, ``s3://``); ``file://`` is local.

    Examples
    --------
    >>> is_url("gs://bucket/store.zarr"), is_url("/data/store.zarr"), is_url("file:///data")
    (True, False, False)
    """
    text = os.fspath(location)
    return "://" in text and not text.startswith("file://")


def network_timeout() -> float:
    """Seconds a network operation may wait: ``$NEURAL_DATASETS_TIMEOUT``, default 30.

    Examples
    --------
    >>> import os
    >>> network_timeout() == float(os.environ.get("NEURAL_DATASETS_TIMEOUT", 30))
    True
    """
    text = os.environ.get(ENV_TIMEOUT, "").strip()
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ValueError(f"{ENV_TIMEOUT}={text!r} is not a number of seconds") from None
    if value <= 0:
        raise ValueError(f"{ENV_TIMEOUT}={text!r} must be a positive number of seconds")
    return value


def _offline() -> bool:
    # The same switch as fetching.cache.offline(); storage must not import fetching.
    return os.environ.get("NEURAL_DATASETS_OFFLINE", "").strip().lower() in (
        "1",
        "true",
        "yes",
        "on",
    )


def _require_online(location: str) -> None:
    if is_url(location) and _offline():
        raise OfflineError(
            f"{location} is a remote store and NEURAL_DATASETS_OFFLINE is set, so it is not "
            f"opened. Unset NEURAL_DATASETS_OFFLINE, or open a local copy of the store by path."
        )


def wait_for(future: Any, location: str, what: str) -> Any:
    """The result of a tensorstore ``future`` on ``location``; remote waits are bounded."""
    if not is_url(location):
        return future.result()
    timeout = network_timeout()
    try:
        return future.result(timeout=timeout)
    except TimeoutError:
        future.cancel()
        raise DownloadError(
            f"No answer within {timeout:.0f} s while {what} {location}. The network or the "
            f"server is down, or (gs://, s3://) no cloud credentials are configured. Check the "
            f"connection, or copy the store to a local disk and open it by path; "
            f"{ENV_TIMEOUT} sets the limit in seconds."
        ) from None


def kvstore_spec(location: str | os.PathLike[str]) -> dict[str, Any] | str:
    """tensorstore kvstore spec for a local path or a ``gs://``/``s3://``/``http(s)://`` URL."""
    text = os.fspath(location)
    scheme = urlparse(text).scheme
    if scheme in ("http", "https", "gs", "s3"):
        return text.rstrip("/") + "/"
    if scheme == "file":
        text = urlparse(text).path
    return {"driver": "file", "path": str(Path(text).resolve()) + "/"}


def open_array(location: str | os.PathLike[str]) -> Any:
    """Open one zarr v3 array read-only with tensorstore.

    The cache pool is off: the operating system's page cache already keeps hot
    shards in memory, and a second copy would grow RSS with the dataset.
    """
    text = os.fspath(location)
    _require_online(text)  # before the import: a refusal costs no tensorstore start-up
    import tensorstore as ts

    spec = {
        "driver": "zarr3",
        "kvstore": kvstore_spec(location),
        "context": {"cache_pool": {"total_bytes_limit": 0}},
        "recheck_cached_data": False,
        "recheck_cached_metadata": False,
    }
    return wait_for(ts.open(spec, read=True, open=True), text, "opening")


def read_metadata(location: str, name: str = "zarr.json") -> dict[str, Any]:
    """The JSON document ``name`` of the remote store at ``location`` (bounded like a read)."""
    import json

    _require_online(location)  # before the import, as in open_array
    import tensorstore as ts

    store = wait_for(ts.KvStore.open(kvstore_spec(location)), location, "opening")
    found = wait_for(store.read(name), location, "reading")
    if found.state != "value":
        raise DownloadError(f"{location}/{name} does not exist: is this a published store?")
    return json.loads(bytes(found.value))


class LazyArray:
    """A picklable handle to a zarr v3 array, opened on first use in each process.

    Parameters
    ----------
    location
        Local path or URL of the array.

    Examples
    --------
    >>> arr = LazyArray("/path/to/store.zarr/image")  # doctest: +SKIP
    >>> arr.take(np.array([5, 1, 5])).shape          # doctest: +SKIP
    (3, 256, 256, 3)
    """

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.location = os.fspath(location)
        self._handle: Any = None
        self._pid: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"location": self.location}

    def __setstate__(self, state: dict[str, Any]) -> None:
        LazyArray.__init__(self, state["location"])

    @property
    def handle(self) -> Any:
        """The tensorstore handle of this process."""
        if self._handle is None or self._pid != os.getpid():
            self._handle = open_array(self.location)
            self._pid = os.getpid()
        return self._handle

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.handle.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self) -> np.ndarray:
        """The whole array."""
        return wait_for(self.handle[...].read(), self.location, "reading")

    def take(self, indices: np.ndarray) -> np.ndarray:
        """Samples ``indices`` (any order, repeats allowed) stacked on axis 0.

        Indices are sorted and de-duplicated before the read so each shard is
        visited once, then put back in the requested order.
        """
        from .reader import sample_indices

        unique, inverse = np.unique(
            sample_indices(indices, len(self), self.location), return_inverse=True
        )
        return wait_for(self.handle[unique].read(), self.location, "reading")[inverse]
