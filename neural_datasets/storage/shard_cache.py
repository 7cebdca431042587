"""A size-bounded local cache of the shard files of a store read from a URL.

With ``ClickMe.open(url, cache="local")`` each shard file is fetched whole
the first time a batch touches it, checked against the store's manifest
(size and crc32c of the whole object) and kept on the local disk; reads then
go through the thread-free local reader
(:class:`~neural_datasets.storage.reader.ShardedArray`, with its own
checksum-on-read), so a second epoch reads from disk, not from the network.
When the cached shards exceed ``max_bytes``, the least recently used ones are
deleted (a reader holding one open keeps reading it).

The cache folder is named after the URL and the manifest's sha256, so a store
pushed again with other contents never meets the old copy's shards.
Metadata (every ``zarr.json``, the checksum sidecars and the manifest) is
fetched at open and checked the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..errors import CorruptStoreError, InvalidArgumentError
from .manifest import MANIFEST_FILE, MARKER_FILE
from .reader import ShardedArray
from .remote import RemoteStore, StorageOptions

ENV_CACHE_BYTES = "NEURAL_DATASETS_REMOTE_CACHE_BYTES"
DEFAULT_CACHE_BYTES = 20 << 30  # 20 GiB


def cache_limit(max_bytes: int | None = None) -> int:
    """The cache's size limit: ``max_bytes``, else ``$NEURAL_DATASETS_REMOTE_CACHE_BYTES``, else
    20 GiB.

    Examples
    --------
    >>> cache_limit(1 << 20)
    1048576
    """
    text = os.environ.get(ENV_CACHE_BYTES, "").strip()
    if max_bytes is None and text and not text.isdigit():
        raise InvalidArgumentError(f"{ENV_CACHE_BYTES}={text!r} is not a number of bytes")
    value = max_bytes if max_bytes is not None else (int(text) if text else DEFAULT_CACHE_BYTES)
    if value <= 0:
        raise InvalidArgumentError(f"cache_size must be a positive number of bytes, got {value}")
    return value


class ShardCache:
    """The local copy of a remote store's metadata and of the shards read so far.

    Parameters
    ----------
    url
        The store's URL (sealed: :meth:`RemoteStore.manifest` is checked).
    root
        Folder under which the cache of this store is made.
    max_bytes
        Size limit of the cached shard files (:func:`cache_limit`).
    storage_options
        As :func:`~neural_datasets.storage.remote.s3_settings`.
    """

    def __init__(
        self,
        url: str,
        root: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        storage_options: StorageOptions = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.storage_options = dict(storage_options) if storage_options else None
        self.max_bytes = cache_limit(max_bytes)
        remote = RemoteStore(self.url, self.storage_options)
        listed = remote.manifest()  # refuses an unsealed store
        seal = hashlib.sha256(remote.read_bytes(MANIFEST_FILE)).hexdigest()
        name = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        self.folder = Path(root) / f"{name}-{seal[:16]}"
        self._manifest: dict[str, list[int]] | None = listed
        self._remote: RemoteStore | None = remote
        for key in (MARKER_FILE, MANIFEST_FILE):
            self._store(key, remote.read_bytes(key))
        for key in listed:
            if key.endswith("zarr.json") or key.startswith("checksums/"):
                self.fetch(key)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k not in ("_remote", "_manifest")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state, _remote=None, _manifest=None)

    @property
    def manifest(self) -> dict[str, list[int]]:
        if self._manifest is None:
            meta = json.loads((self.folder / MANIFEST_FILE).read_bytes())
            self._manifest = meta["attributes"]["neural_datasets_manifest"]["files"]
        return self._manifest

    def fetch(self, key: str) -> Path:
        """The local copy of object ``key``, fetched and checked when not cached yet."""
        import google_crc32c

        path = self.folder / key
        if path.is_file():
            os.utime(path)  # recently used: evicted last
            return path
        if self._remote is None:
            self._remote = RemoteStore(self.url, self.storage_options)
        data = self._remote.read_bytes(key)
        size, crc = self.manifest[key]
        if len(data) != size or google_crc32c.value(data) != crc:
            raise CorruptStoreError(
                f"{self.url}/{key} does not match the store's manifest (size or crc32c): the "
                f"object store holds a damaged copy. Run `neural-datasets verify {self.url}`."
            )
        self._store(key, data)
        if "/c/" in key and not key.startswith("checksums/"):
            self._evict(keep=path)
        return path

    def _store(self, key: str, data: bytes) -> None:
        path = self.folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def _evict(self, keep: Path) -> None:
        """Delete the least recently used shard files while the cache is over its limit."""
        shards = []
        for folder, _, names in os.walk(self.folder):
            if "/c" not in folder or "checksums" in folder:
                continue
            for name in names:
                path = Path(folder, name)
                try:
                    stat = path.stat()
                except FileNotFoundError:  # another process evicted it
                    continue
                shards.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in shards)
        for _, size, path in sorted(shards):
            if total <= self.max_bytes:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size

    def sample_array(self, name: str) -> CachedShardedArray:
        """A reader of sample array ``name`` whose shards come through this cache."""
        return CachedShardedArray(self, name)

    def cached_bytes(self) -> int:
        """Bytes of shard files in the cache now."""
        return sum(
            Path(folder, n).stat().st_size
            for folder, _, names in os.walk(self.folder)
            if "/c" in folder and "checksums" not in folder
            for n in names
        )


class CachedShardedArray(ShardedArray):
    """:class:`ShardedArray` over a :class:`ShardCache`: a shard not on disk is fetched first."""

    def __init__(self, cache: ShardCache, name: str, *, check: Any = None) -> None:
        self.cache, self.name = cache, name
        super().__init__(cache.folder / name, check=check)

    def __getstate__(self) -> dict[str, Any]:
        return {"cache": self.cache, "name": self.name, "check": self.check}

    def __setstate__(self, state: dict[str, Any]) -> None:
        CachedShardedArray.__init__(self, state["cache"], state["name"], check=state["check"])

    def _fd(self, shard: int) -> int:
        if shard not in self._open_files():
            relative = self._shard_path(shard).relative_to(self.cache.folder).as_posix()
            self.cache.fetch(relative)
        return super()._fd(shard)
