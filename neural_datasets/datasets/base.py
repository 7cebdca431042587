"""What every dataset class shares: open by registry name (fetching first) or by store location."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

from ..errors import InvalidArgumentError
from ..fetching.fetch import fetch, fetch_leading
from ..storage.remote import is_url

Self = TypeVar("Self", bound="StoreDataset")


class StoreDataset:
    """Base of the dataset classes: ``Cls(name, ...)`` fetches, ``Cls.open(location)`` opens.

    Subclasses implement :meth:`_open`, which reads a published store at a
    local path or URL; both constructors end there, so a dataset opened either
    way behaves the same.
    """

    name: str | None

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
    def open(cls: type[Self], location: str | os.PathLike[str]) -> Self:
        """Open a published store directly: a local path, or for ClickMe also a URL.

        Use it for a store copied from another cache, or one published on a
        web server or bucket (``http(s)://``, ``gs://``, ``s3://``).

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
        self = cls.__new__(cls)
        self.name = None
        self._open(location)
        return self

    def _open(self, location: str | os.PathLike[str]) -> None:
        raise NotImplementedError
