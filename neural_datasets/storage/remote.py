"""Fast, fork-safe random access to zarr v3 arrays through tensorstore.

tensorstore reads a random batch of 64 one-sample chunks ~40x faster than
zarr-python's default reader (BENCHMARKS.md). Like every threaded reader it
must not be shared with a forked child: :class:`LazyArray` opens its handle on
first use in each process and re-opens after a fork, so dataset objects can be
pickled to spawned workers and inherited by forked ones alike.

Every open and read of a remote store waits at most ``NEURAL_DATASETS_TIMEOUT``
seconds (default 30) and then fails with a :class:`~neural_datasets.errors.DownloadError`
that says so; with ``NEURAL_DATASETS_OFFLINE`` set, remote stores are refused at once.

``s3://`` stores are reached at the endpoint, region and credentials of
:func:`s3_settings` (the standard AWS variables, or ``storage_options``), so
S3-compatible servers (MinIO, Ceph, R2) work as AWS does. Reads from a URL are
checked like local ones: a store opens only when sealed and complete
(:meth:`RemoteStore.require_complete`), a missing chunk raises instead of
reading as the fill value, and samples are compared with their recorded
crc32c (:class:`LazyArray`). Failures name the URL, the endpoint and what to
set (:func:`remote_error`).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ..errors import (
    CorruptStoreError,
    DownloadError,
    InvalidArgumentError,
    NeuralDatasetsError,
    OfflineError,
)

StorageOptions = Mapping[str, Any] | None
"""How to reach an ``s3://`` store: ``endpoint``, ``region``, ``profile``, ``credentials``,
``host_header`` (see :func:`s3_settings`); ``None``: the standard AWS variables alone."""

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


def wait_for(
    future: Any,
    location: str,
    what: str,
    storage_options: StorageOptions = None,
    *,
    store: str | None = None,
) -> Any:
    """The result of a tensorstore ``future`` on ``location``; remote waits are bounded.

    A remote failure becomes one :class:`~neural_datasets.errors.NeuralDatasetsError`
    naming the URL, the endpoint and what to set (:func:`remote_error`).
    """
    if not is_url(location):
        return future.result()
    timeout = network_timeout()
    try:
        return future.result(timeout=timeout)
    except TimeoutError:
        future.cancel()
        raise DownloadError(
            f"No answer within {timeout:.0f} s while {what} {location}"
            f"{_endpoint_note(location, storage_options)}. The network or the server is down, "
            f"or (gs://, s3://) no cloud credentials are configured. Check the connection, or "
            f"copy the store to a local disk and open it by path; {ENV_TIMEOUT} sets the limit "
            f"in seconds."
        ) from None
    except (ValueError, RuntimeError, OSError) as exc:  # tensorstore's status errors
        raise remote_error(exc, location, what, storage_options, store=store) from None


ENV_ENDPOINTS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
ENV_REGIONS = ("AWS_REGION", "AWS_DEFAULT_REGION")
CREDENTIAL_TYPES = ("environment", "profile", "anonymous", "imds", "ecs", "default")
_OPTION_NAMES = ("endpoint", "endpoint_url", "region", "profile", "credentials", "host_header")


def s3_settings(storage_options: StorageOptions = None) -> dict[str, Any]:
    """The endpoint, region and credentials an ``s3://`` store is read and written with.

    Each comes from ``storage_options`` when given there, else from the
    variables the AWS tools read:

    * ``endpoint`` (or ``endpoint_url``): ``$AWS_ENDPOINT_URL_S3``, then
      ``$AWS_ENDPOINT_URL``; none: the public AWS endpoint. MinIO, Ceph, R2 and
      on-premise stores need it.
    * ``region``: ``$AWS_REGION``, then ``$AWS_DEFAULT_REGION``; with an
      endpoint and no region, ``us-east-1`` (what S3-compatible servers expect).
    * ``credentials``: one of tensorstore's providers, ``environment``,
      ``profile``, ``anonymous``, ``imds``, ``ecs`` or ``default``. Unless
      given: ``profile`` when a ``profile`` option or ``$AWS_PROFILE`` is set,
      ``environment`` when ``$AWS_ACCESS_KEY_ID`` is, ``profile`` when a
      credentials file exists (``$AWS_SHARED_CREDENTIALS_FILE`` or
      ``~/.aws/credentials``), ``ecs`` in a container that provides them,
      else ``anonymous`` (a public bucket). Naming the provider keeps the AWS
      SDK from trying (and logging) every other one on each open.
    * ``host_header``: sent instead of the endpoint's host (some gateways).

    Returns
    -------
    dict
        ``endpoint`` (or ``None``), ``endpoint_from`` (the argument or variable
        that set it), ``region``, ``credentials`` (a tensorstore
        ``aws_credentials`` object) and ``host_header``.

    Raises
    ------
    InvalidArgumentError
        For an unknown option or credentials provider (a ``ValueError``).

    Examples
    --------
    >>> settings = s3_settings({"endpoint": "http://127.0.0.1:9000", "credentials": "anonymous"})
    >>> settings["endpoint"], settings["region"], settings["credentials"]
    ('http://127.0.0.1:9000', 'us-east-1', {'type': 'anonymous'})
    """
    options = dict(storage_options or {})
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        raise InvalidArgumentError(
            f"storage_options has unknown key(s) {unknown}; use {', '.join(_OPTION_NAMES[:1])}"
            f"{''.join(', ' + n for n in _OPTION_NAMES[2:])}"
        )
    endpoint, source = options.get("endpoint") or options.get("endpoint_url"), "storage_options"
    if not endpoint:
        source = next((name for name in ENV_ENDPOINTS if os.environ.get(name, "").strip()), "")
        endpoint = os.environ[source].strip() if source else None
    if endpoint and urlparse(str(endpoint)).scheme not in ("http", "https"):
        raise InvalidArgumentError(
            f"the S3 endpoint {endpoint!r} (from {source}) is not an http:// or https:// URL"
        )
    region = options.get("region") or next(
        (os.environ[name].strip() for name in ENV_REGIONS if os.environ.get(name, "").strip()),
        None,
    )
    if region is None and endpoint:
        region = "us-east-1"
    return {
        "endpoint": str(endpoint).rstrip("/") if endpoint else None,
        "endpoint_from": source or None,
        "region": region,
        "credentials": _credentials(options),
        "host_header": options.get("host_header"),
    }


def _credentials(options: dict[str, Any]) -> dict[str, Any]:
    chosen = options.get("credentials")
    profile = options.get("profile") or os.environ.get("AWS_PROFILE", "").strip() or None
    credentials_file = _aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
    if chosen is None:
        if profile:
            chosen = "profile"
        elif os.environ.get("AWS_ACCESS_KEY_ID", "").strip():
            chosen = "environment"
        elif _has_profile(credentials_file, "default"):
            chosen = "profile"
        elif any(
            os.environ.get(name)
            for name in (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            )
        ):
            chosen = "ecs"
        else:
            chosen = "anonymous"
    if chosen not in CREDENTIAL_TYPES:
        raise InvalidArgumentError(
            f"storage_options['credentials'] is {chosen!r}; use one of "
            f"{', '.join(CREDENTIAL_TYPES)}"
        )
    spec: dict[str, Any] = {"type": chosen}
    if chosen in ("profile", "default") and profile:
        spec["profile"] = profile
    if chosen == "profile":
        # tensorstore's provider fails without both files named, and logs a missing config
        # file: an absent one is named as the empty /dev/null.
        config_file = _aws_file("AWS_CONFIG_FILE", "config")
        spec["credentials_file"] = str(credentials_file)
        spec["config_file"] = str(config_file) if config_file.is_file() else os.devnull
    return spec


def _aws_file(variable: str, name: str) -> Path:
    """The AWS shared file ``$variable``, else ``~/.aws/<name>``."""
    given = os.environ.get(variable, "").strip()
    return Path(given).expanduser() if given else Path(os.path.expanduser(f"~/.aws/{name}"))


def _has_profile(path: Path, profile: str) -> bool:
    """Whether the AWS credentials file ``path`` holds a ``[profile]`` section."""
    import configparser

    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except (OSError, configparser.Error):
        return False
    return parser.has_section(profile)


def describe_endpoint(location: str, storage_options: StorageOptions = None) -> str:
    """Where an ``s3://`` URL is reached, for messages: the endpoint and what set it.

    Examples
    --------
    >>> describe_endpoint("s3://lab/store.zarr", {"endpoint": "http://127.0.0.1:9000"})
    'endpoint http://127.0.0.1:9000 (from storage_options)'
    >>> describe_endpoint("https://example.org/store.zarr")
    ''
    """
    if urlparse(location).scheme != "s3":
        return ""
    settings = s3_settings(storage_options)
    if settings["endpoint"] is None:
        return (
            "the public AWS endpoint (set AWS_ENDPOINT_URL, or pass storage_options="
            "{'endpoint': ...}, for MinIO, Ceph, R2 or an on-premise store)"
        )
    return f"endpoint {settings['endpoint']} (from {settings['endpoint_from']})"


def _endpoint_note(location: str, storage_options: StorageOptions) -> str:
    try:
        where = describe_endpoint(location, storage_options)
    except ValueError:
        return ""
    return f" at {where}" if where else ""


def remote_error(
    exc: BaseException,
    location: str,
    what: str,
    storage_options: StorageOptions = None,
    *,
    store: str | None = None,
) -> NeuralDatasetsError:
    """One clear error for a failed remote operation: what failed, where, and what to set.

    ``store`` is the URL of the store ``location`` belongs to (default: ``location``), which
    the remedy of a missing object names.
    """
    text = str(exc)
    where = f"{location}{_endpoint_note(location, storage_options)}"
    first = text.split("[", 1)[0].strip()
    status = text.split(":", 1)[0].strip()
    if "credentials provider" in text:
        return DownloadError(
            f"{where}: the credentials could not be loaded ({first}). Set AWS_ACCESS_KEY_ID and "
            f"AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile of your credentials file "
            f"(AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials)."
        )
    if status == "NOT_FOUND" and "NoSuchBucket" not in text:
        return CorruptStoreError(
            f"{where}: an object of the store is missing ({first}). The store is incomplete or "
            f"damaged: run `neural-datasets verify {store or location}` to list what is wrong, "
            f"then push it again (`neural-datasets push NAME {store or location}`)."
        )
    credentials = s3_settings(storage_options)["credentials"]["type"] if "s3:" in location else ""
    if "NoSuchBucket" in text or "bucket does not exist" in text.lower():
        return DownloadError(
            f"{where}: the bucket does not exist ({first}). Check the URL, and that the endpoint "
            f"is the server holding the bucket (AWS_ENDPOINT_URL)."
        )
    if "PERMISSION_DENIED" in text or "403" in text or "UNAUTHENTICATED" in text:
        hint = (
            "no credentials were found, so the request was anonymous: set AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
            if credentials == "anonymous"
            else f"the {credentials} credentials were refused: check AWS_ACCESS_KEY_ID / "
            f"AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's policy"
        )
        return DownloadError(f"{where}: access denied while {what} it ({first}); {hint}.")
    return DownloadError(
        f"{where}: {what} failed ({first}). Check that the server answers at that endpoint "
        f"(AWS_ENDPOINT_URL for S3-compatible stores) and the credentials "
        f"(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)."
    )


def kvstore_spec(
    location: str | os.PathLike[str], storage_options: StorageOptions = None
) -> dict[str, Any] | str:
    """tensorstore kvstore spec for a local path or a ``gs://``/``s3://``/``http(s)://`` URL.

    ``s3://`` URLs get the endpoint, region and credentials of :func:`s3_settings`.

    Examples
    --------
    >>> spec = kvstore_spec("s3://lab/clickme/store.zarr", {"endpoint": "http://127.0.0.1:9000"})
    >>> spec["driver"], spec["bucket"], spec["path"], spec["endpoint"]
    ('s3', 'lab', 'clickme/store.zarr/', 'http://127.0.0.1:9000')
    """
    text = os.fspath(location)
    parsed = urlparse(text)
    scheme = parsed.scheme
    if scheme == "s3":
        settings = s3_settings(storage_options)
        path = parsed.path.strip("/")
        spec: dict[str, Any] = {
            "driver": "s3",
            "bucket": parsed.netloc,
            "path": f"{path}/" if path else "",
            "aws_credentials": settings["credentials"],
        }
        for key, name in (("endpoint", "endpoint"), ("region", "aws_region")):
            if settings[key]:
                spec[name] = settings[key]
        if settings["host_header"]:
            spec["host_header"] = settings["host_header"]
        return spec
    if storage_options:
        raise InvalidArgumentError(
            f"storage_options apply to s3:// stores only, and {text} is not one; "
            f"pass storage_options=None"
        )
    if scheme in ("http", "https", "gs"):
        return text.rstrip("/") + "/"
    if scheme == "file":
        text = urlparse(text).path
    return {"driver": "file", "path": str(Path(text).resolve()) + "/"}


def open_array(location: str | os.PathLike[str], storage_options: StorageOptions = None) -> Any:
    """Open one zarr v3 array read-only with tensorstore.

    The cache pool is off: the operating system's page cache already keeps hot
    shards in memory, and a second copy would grow RSS with the dataset. A
    missing chunk or shard is an error, never the fill value.
    """
    text = os.fspath(location)
    _require_online(text)  # before the import: a refusal costs no tensorstore start-up
    import tensorstore as ts

    spec = {
        "driver": "zarr3",
        "kvstore": kvstore_spec(location, storage_options),
        "context": {"cache_pool": {"total_bytes_limit": 0}},
        "recheck_cached_data": False,
        "recheck_cached_metadata": False,
        "fill_missing_data_reads": False,
    }
    return wait_for(ts.open(spec, read=True, open=True), text, "opening", storage_options)


def read_metadata(
    location: str, name: str = "zarr.json", storage_options: StorageOptions = None
) -> dict[str, Any]:
    """The JSON document ``name`` of the remote store at ``location`` (bounded like a read)."""
    import json

    data = RemoteStore(location, storage_options).read_bytes(name)
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise CorruptStoreError(f"{location}/{name} is not valid JSON ({exc})") from None
    return value if isinstance(value, dict) else {}


def read_whole_remote(location: str, storage_options: StorageOptions = None) -> np.ndarray:
    """A small whole array (labels, coordinates) of a remote store, checked like a local one.

    A missing chunk raises; the array's ``crc32c`` attribute, recorded when it
    was written, is compared with what was read.
    """
    import google_crc32c

    meta = read_metadata(location, storage_options=storage_options)
    handle = open_array(location, storage_options)
    store = location.rstrip("/").rsplit("/", 1)[0]
    data = np.asarray(
        wait_for(handle[...].read(), location, "reading", storage_options, store=store)
    )
    expected = meta.get("attributes", {}).get("crc32c")
    if expected is not None:
        little = np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<"), copy=False)
        if google_crc32c.value(little.tobytes()) != int(expected):
            raise CorruptStoreError(
                f"{location} fails its crc32c checksum: the store is damaged. Run "
                f"`neural-datasets verify {location}` to list what is wrong."
            )
    return data


def join_url(location: str, relative: str) -> str:
    """``relative`` (may hold ``..``) resolved against the URL ``location``.

    Examples
    --------
    >>> join_url("s3://lab/store.zarr/image", "../checksums/image")
    's3://lab/store.zarr/checksums/image'
    """
    parsed = urlparse(location)
    path = posixpath.normpath(posixpath.join(parsed.path or "/", relative))
    return parsed._replace(path=path).geturl()


class RemoteStore:
    """The objects of a store at a URL, read and written through tensorstore's kvstores.

    Parameters
    ----------
    location
        ``s3://``, ``gs://`` or ``http(s)://`` URL of the store's folder.
    storage_options
        As :func:`s3_settings`.

    Examples
    --------
    >>> store = RemoteStore("s3://lab/clickme/store.zarr")  # doctest: +SKIP
    >>> store.seal_problem() is None                        # doctest: +SKIP
    True
    """

    def __init__(self, location: str, storage_options: StorageOptions = None) -> None:
        self.location = location.rstrip("/")
        self.storage_options = dict(storage_options) if storage_options else None
        self._kvstore: Any = None

    @property
    def kvstore(self) -> Any:
        """The tensorstore ``KvStore`` of the store's folder, opened once."""
        if self._kvstore is None:
            _require_online(self.location)
            import tensorstore as ts

            self._kvstore = self._wait(
                ts.KvStore.open(kvstore_spec(self.location, self.storage_options)), "opening"
            )
        return self._kvstore

    def _wait(self, future: Any, what: str) -> Any:
        return wait_for(future, self.location, what, self.storage_options)

    def read_bytes(self, key: str) -> bytes:
        """The object ``key``; a missing one raises :class:`CorruptStoreError`."""
        found = self.read_if_present(key)
        if found is None:
            raise CorruptStoreError(
                f"{self.location}/{key} does not exist: is this a store published with "
                f"`neural-datasets push`?"
            )
        return found

    def read_if_present(self, key: str) -> bytes | None:
        """The object ``key``, or ``None`` when it does not exist."""
        found = self._wait(self.kvstore.read(key), "reading")
        return bytes(found.value) if found.state == "value" else None

    def etag(self, key: str) -> str | None:
        """The object's ETag (an MD5 for a plain upload) without its bytes; ``None``: missing."""
        found = self._wait(self.kvstore.read(key, byte_range=slice(0, 0)), "reading")
        if found.state == "missing":
            return None
        return bytes(found.stamp.generation).strip(b"\x00").strip(b'"').decode(errors="replace")

    def keys(self) -> set[str]:
        """Every object under the store's folder (one listing)."""
        return {bytes(key).decode() for key in self._wait(self.kvstore.list(), "listing")}

    def write_bytes(self, key: str, data: bytes | None) -> None:
        """Write the object ``key`` (``None`` deletes it)."""
        self._wait(self.kvstore.write(key, data), "writing")

    def seal_problem(self) -> str | None:
        """Why the remote store is not complete (as :func:`~.manifest.seal_problem`)."""
        import hashlib
        import json

        from .manifest import MANIFEST_FILE, MARKER_FILE

        if self.read_if_present("zarr.json") is None:
            return (
                f"{self.location}{_endpoint_note(self.location, self.storage_options)} has no "
                f"root zarr.json: there is no store at this URL (check the bucket, the path "
                f"and the endpoint)"
            )
        marker = self.read_if_present(MARKER_FILE)
        if marker is None:
            return (
                f"{self.location} has no completion marker ({MARKER_FILE}): it was never fully "
                f"published (an interrupted push, or a copy not made by `neural-datasets push`)"
            )
        manifest = self.read_if_present(MANIFEST_FILE)
        if manifest is None:
            return f"{self.location} has no checksum manifest ({MANIFEST_FILE})"
        try:
            expected = json.loads(marker)["attributes"]["neural_datasets_complete"]
            expected = expected["manifest_sha256"]
        except (ValueError, KeyError, TypeError) as exc:
            return f"{self.location}: its completion marker is unreadable ({exc})"
        if hashlib.sha256(manifest).hexdigest() != expected:
            return f"{self.location}: its checksum manifest does not match its completion marker"
        return None

    def manifest(self) -> dict[str, list[int]]:
        """``{relative path: [size, crc32c]}`` of a sealed remote store."""
        import json

        from .manifest import MANIFEST_FILE

        problem = self.seal_problem()
        if problem is not None and "no root zarr.json" in problem:
            raise DownloadError(f"{problem}.")
        if problem is not None:
            raise CorruptStoreError(f"{problem}. {_REMOTE_REMEDY.format(url=self.location)}")
        files: dict[str, list[int]] = json.loads(self.read_bytes(MANIFEST_FILE))["attributes"][
            "neural_datasets_manifest"
        ]["files"]
        return files

    def require_complete(self) -> None:
        """Refuse a store that is not sealed, or that lacks an object its manifest lists."""
        listed = self.manifest()
        if urlparse(self.location).scheme in ("http", "https"):
            return  # a web server cannot list its folders; reads raise on a missing object
        missing = sorted(set(listed) - self.keys())
        if missing:
            raise CorruptStoreError(
                f"{self.location} lacks {len(missing)} of the {len(listed)} objects its manifest "
                f"lists (e.g. {missing[0]}). {_REMOTE_REMEDY.format(url=self.location)}"
            )


_REMOTE_REMEDY = (
    "The store is incomplete or damaged: run `neural-datasets verify {url}` to list what is "
    "wrong, then push it again (`neural-datasets push NAME {url}` resumes and repairs)."
)


class LazyArray:
    """A picklable handle to a zarr v3 array, opened on first use in each process.

    Reads are parallel range requests of the chunks asked for, no more; a
    missing chunk or shard raises instead of reading as the fill value. Chunks
    are checked against the crc32c recorded at conversion (the array's
    ``checksums/<array>`` sidecar) as local reads are: ``check`` is ``"once"``,
    ``"always"`` or ``"off"``, default ``$NEURAL_DATASETS_CHECK_ON_READ``
    (docs/integrity.md).

    Parameters
    ----------
    location
        Local path or URL of the array.
    storage_options
        As :func:`s3_settings`, for ``s3://`` URLs.
    check
        Checksum-on-read mode; ``None``: the environment's default.

    Examples
    --------
    >>> arr = LazyArray("/path/to/store.zarr/image")  # doctest: +SKIP
    >>> arr.take(np.array([5, 1, 5])).shape          # doctest: +SKIP
    (3, 256, 256, 3)
    """

    def __init__(
        self,
        location: str | os.PathLike[str],
        storage_options: StorageOptions = None,
        *,
        check: str | None = None,
    ) -> None:
        from .reader import check_on_read_default

        self.location = os.fspath(location)
        self.storage_options = dict(storage_options) if storage_options else None
        self.check = check_on_read_default() if check is None else check
        self._handle: Any = None
        self._pid: int | None = None
        self._crcs: np.ndarray | None = None
        self._verified = np.zeros(0, bool)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "storage_options": self.storage_options,
            "check": self.check,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        LazyArray.__init__(
            self, state["location"], state.get("storage_options"), check=state.get("check")
        )

    @property
    def handle(self) -> Any:
        """The tensorstore handle of this process."""
        if self._handle is None or self._pid != os.getpid():
            self._handle = open_array(self.location, self.storage_options)
            self._pid = os.getpid()
        return self._handle

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.handle.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self) -> np.ndarray:
        """The whole array."""
        return self.take(np.arange(len(self)))

    def take(self, indices: np.ndarray) -> np.ndarray:
        """Samples ``indices`` (any order, repeats allowed) stacked on axis 0.

        Indices are sorted and de-duplicated before the read so each shard is
        visited once, then put back in the requested order.
        """
        from .reader import sample_indices

        unique, inverse = np.unique(
            sample_indices(indices, len(self), self.location), return_inverse=True
        )
        data = wait_for(
            self.handle[unique].read(),
            self.location,
            "reading",
            self.storage_options,
            store=self.location.rstrip("/").rsplit("/", 1)[0],
        )
        self._check(unique, data)
        return data[inverse]

    def _check(self, samples: np.ndarray, data: np.ndarray) -> None:
        """Compare each sample read with its recorded crc32c (``check`` decides which)."""
        if self.check == "off" or not is_url(self.location):
            return  # local stores reached here have layouts without sidecars
        expected = self._checksums()
        if expected is None:
            return
        todo = np.ones(len(samples), bool) if self.check == "always" else ~self._verified[samples]
        if not todo.any():
            return
        from .writer import chunk_crc32c

        bad = np.flatnonzero(chunk_crc32c(data[todo]) != expected[samples[todo]])
        if len(bad):
            sample = int(samples[todo][bad[0]])
            raise CorruptStoreError(
                f"{self.location} is corrupt: sample {sample} fails its crc32c checksum "
                f"({len(bad)} of the {int(todo.sum())} samples checked in this read). "
                f"{_REMOTE_REMEDY.format(url=self.location.rsplit('/', 1)[0])}"
            )
        if self.check == "once":
            self._verified[samples[todo]] = True

    def _checksums(self) -> np.ndarray | None:
        """The per-sample crc32c of the sidecar, fetched once per process."""
        if self._crcs is None:
            from .layout import CHECKSUM_ATTRIBUTE

            meta = read_metadata(self.location, storage_options=self.storage_options)
            sidecar = meta.get("attributes", {}).get(CHECKSUM_ATTRIBUTE)
            if sidecar is None:
                return None
            where = join_url(self.location, sidecar)
            crcs = read_whole_remote(where, self.storage_options)
            if crcs.shape != (len(self),):
                raise CorruptStoreError(
                    f"{where} holds {crcs.shape} checksums for the {len(self)} samples of "
                    f"{self.location}. {_REMOTE_REMEDY.format(url=self.location.rsplit('/', 1)[0])}"
                )
            self._crcs = crcs
            self._verified = np.zeros(len(self), bool)
        return self._crcs
