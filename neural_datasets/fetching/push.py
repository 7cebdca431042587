"""``push``: publish a cached dataset's store to an object store, for many nodes to read."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..storage.manifest import read_manifest
from ..storage.push import PushReport, push_store
from ..storage.remote import is_url


def push(
    name: str | os.PathLike[str],
    url: str,
    *,
    layout: str = "raw",
    cache_dir: str | os.PathLike[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    endpoint: str | None = None,
    jobs: int | None = None,
    progress: bool = True,
) -> PushReport:
    """Upload dataset ``name``'s store to ``url`` so every node can open it from there.

    The dataset is fetched first when it is not cached. Every file goes up,
    then the checksum manifest, then the completion marker, so
    :meth:`ClickMe.open(url) <neural_datasets.ClickMe.open>` refuses the URL
    until the push has finished. Run it again after an interruption: objects
    already in place with the right bytes are skipped.

    Parameters
    ----------
    name
        A registered dataset (``clickme-val``), or the path of a published store.
    url
        ``s3://bucket/prefix`` (any S3-compatible store) or ``gs://...``.
    layout
        The store's layout; ``raw`` (the default) is the one read over the
        network (``compact`` stores are read from local disks only).
    cache_dir
        The cache holding ``name``.
    storage_options, endpoint
        As :meth:`ClickMe.open <neural_datasets.ClickMe.open>`: the endpoint,
        region and credentials, by default from the standard AWS variables.
    jobs
        Parallel uploads; default ``$NEURAL_DATASETS_PUSH_JOBS`` or 8.
    progress
        Show a progress bar (bytes).

    Returns
    -------
    PushReport
        Objects uploaded and skipped, bytes sent, and objects under ``url`` that are not
        part of the store (left in place; ``verify`` lists them).

    Examples
    --------
    >>> import neural_datasets as nd
    >>> nd.push("clickme-sample", "s3://lab-data/clickme-sample")  # doctest: +SKIP
    PushReport(uploaded=16, skipped=0, bytes_sent=12591647, strays=0)
    """
    from tqdm.auto import tqdm

    from ..errors import InvalidArgumentError
    from .fetch import fetch

    if not is_url(url):
        raise InvalidArgumentError(
            f"url must be an object-store URL such as s3://bucket/prefix, got {url!r}; to copy a "
            f"store between local disks, copy its folder."
        )
    text = os.fspath(name)
    if Path(text).is_dir():
        store = Path(text)
    else:
        store = fetch(text, cache_dir=cache_dir, progress=progress, layout=layout)
    options = dict(storage_options or {})
    if endpoint is not None:
        options["endpoint"] = endpoint
    total = sum(size for size, _ in read_manifest(store).values())  # what the bar counts
    with tqdm(
        total=total, desc=f"pushing to {url}", unit="B", unit_scale=True, disable=not progress
    ) as bar:
        return push_store(
            store, url, storage_options=options or None, jobs=jobs, progress=bar.update
        )
