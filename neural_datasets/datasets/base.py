"""What every dataset class shares: open by registry name (fetching first) or by store location."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..errors import InvalidArgumentError
from ..fetching.fetch import fetch, fetch_leading
from ..storage.remote import RemoteStore, is_url

Self = TypeVar("Self", bound="StoreDataset")


class StoreDataset:
    """Base of the dataset classes: ``Cls(name, ...)`` fetches, ``Cls.open(location)`` opens.

    Subclasses implement :meth:`_open`, which reads a published store at a
    local path or URL; both constructors end there, so a dataset opened either
    way behaves the same.
    """

    name: str | None
    storage_options: dict[str, Any] | None = None
    """How a store at an ``s3://`` URL is reached (see :meth:`open`)."""
    shard_cache: Any = None
    """The local cache of a URL's shards (``open(url, cache="local")``), else ``None``."""

    def __init__(
        self,
        name: str,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        progress: bool = True,
        layout: str | None = None,
        records: int | None = None,
        request: str | None = None,
        download: bool = True,
    ) -> None:
        """Fetch ``name`` (only its first ``records`` records, if given; see ``fetch_leading``)."""
        self.name = name
        if records is None:
            store = fetch(
                name,
                cache_dir=cache_dir,
                base_url=base_url,
                progress=progress,
                layout=layout,
                download=download,
            )
        else:
            store = fetch_leading(
                name,
                records,
                request=request,
                cache_dir=cache_dir,
                base_url=base_url,
                progress=progress,
                layout=layout,
                download=download,
            )
        self._open(store)

    @classmethod
    def open(
        cls: type[Self],
        location: str | os.PathLike[str],
        *,
        storage_options: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        cache: str | None = None,
        cache_size: int | None = None,
    ) -> Self:
        """Open a published store directly: a local path, or for ClickMe also a URL.

        Use it for a store copied from another cache, or one published on a
        web server or bucket (``http(s)://``, ``gs://``, ``s3://``, e.g. with
        ``neural-datasets push``). A store at a URL is opened only when its
        completion marker seals its manifest and no object the manifest lists
        is missing, so a half-pushed store is refused, never read.

        Parameters
        ----------
        location
            Path or URL of the store's folder.
        storage_options
            For ``s3://``: ``endpoint``, ``region``, ``profile``,
            ``credentials``, ``host_header``; unset ones come from the
            standard AWS variables (``AWS_ENDPOINT_URL``, ``AWS_REGION``,
            ``AWS_PROFILE``, ...; see :func:`~neural_datasets.storage.remote.s3_settings`).
        endpoint
            Shorthand for ``storage_options={"endpoint": endpoint}``, e.g. a
            MinIO server's ``http://host:9000``.
        cache
            ``"local"``: keep the shard files read from a URL on the local disk
            (under the cache root, ``remote/``), each checked against the
            manifest when fetched, so later epochs read from disk
            (:mod:`~neural_datasets.storage.shard_cache`). ``None``: read every
            epoch from the URL.
        cache_size
            The local cache's limit in bytes (least recently used shards are
            dropped); default ``$NEURAL_DATASETS_REMOTE_CACHE_BYTES`` or 20 GiB.

        Examples
        --------
        >>> from neural_datasets import ClickMe
        >>> ds = ClickMe.open("https://example.org/clickme-val/store.zarr")  # doctest: +SKIP
        >>> ClickMe.open("/no/such/store.zarr")
        Traceback (most recent call last):
        ...
        neural_datasets.errors.InvalidArgumentError: There is no store at /no/such/store.zarr ...
        """
        text = os.fspath(location)
        if not is_url(text) and not Path(text.removeprefix("file://")).is_dir():
            raise InvalidArgumentError(
                f"There is no store at {text} (no such folder). Give the path of a published "
                f"store.zarr folder, e.g. the one `neural-datasets path NAME` prints."
            )
        options = dict(storage_options or {})
        if endpoint is not None:
            options["endpoint"] = endpoint
        if cache not in (None, "local"):
            raise InvalidArgumentError(f"cache must be None or 'local', got {cache!r}")
        if is_url(text):
            RemoteStore(text, options).require_complete()
        self = cls.__new__(cls)
        self.name = None
        self.storage_options = options or None
        if cache == "local" and is_url(text):
            from ..fetching.cache import cache_root
            from ..storage.shard_cache import ShardCache

            self.shard_cache = ShardCache(
                text, cache_root() / "remote", max_bytes=cache_size, storage_options=options
            )
        self._open(location)
        return self

    def _open(self, location: str | os.PathLike[str]) -> None:
        raise NotImplementedError
