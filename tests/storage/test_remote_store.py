"""A published store read over HTTP, as every node of a cluster would read one copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from support.httpserver import LocalHTTPServer

import neural_datasets as nd
from neural_datasets.adapters.batches import fork_safe


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> nd.ClickMe:
    return nd.ClickMe("sample", cache_dir=tmp_path_factory.mktemp("c"), progress=False)


@pytest.fixture(scope="module")
def server(local: nd.ClickMe) -> Iterator[LocalHTTPServer]:
    """The cache folder served as a static site: ``/clickme-sample/store.zarr/...``."""
    with LocalHTTPServer(Path(local.location).parents[1]) as server:
        yield server


@pytest.fixture(scope="module")
def remote(server: LocalHTTPServer) -> nd.ClickMe:
    return nd.ClickMe.open(f"{server.url}/clickme-sample/store.zarr")


def test_reads_match_the_local_store_with_range_requests(
    local: nd.ClickMe, remote: nd.ClickMe, server: LocalHTTPServer
) -> None:
    assert len(remote) == len(local) == 48
    indices = [44, 3, 3, 17]
    got, expected = remote.read_batch(indices), local.read_batch(indices)
    assert all(np.array_equal(got[k], expected[k]) for k in expected)
    shard_reads = [  # the image shards; the checksum sidecar (checksums/image) is read whole
        r for m, p, r in server.state.requests if "/image/c/" in p and "/checksums/" not in p
    ]
    assert shard_reads and all(r and r.startswith("bytes=") for r in shard_reads)
    assert not fork_safe(remote) and fork_safe(local)


def test_torch_loader_over_http(local: nd.ClickMe, remote: nd.ClickMe) -> None:
    import torch

    from neural_datasets.torch import loader

    def labels(batches) -> list[int]:
        return torch.cat([b["label"] for b in batches]).tolist()

    expected = labels(loader(local, 8, seed=1))
    assert labels(loader(remote, 8, seed=1)) == expected
    # Workers default to threads of this process, which tensorstore is safe in.
    threads = loader(remote, 8, seed=1, num_workers=2)
    assert threads.reader_threads > 0 and labels(threads) == expected
    # tensorstore aborts in forked children: processes default to forkserver, fork is refused
    workers = loader(
        remote, 8, seed=1, num_workers=2, workers="processes", persistent_workers=False
    )
    assert workers.multiprocessing_context.get_start_method() == "forkserver"
    assert labels(workers) == expected
    with pytest.raises(ValueError, match="forkserver"):
        loader(remote, 8, num_workers=2, multiprocessing_context="fork")


def test_tf_dataset_over_http(local: nd.ClickMe, remote: nd.ClickMe) -> None:
    from neural_datasets.tf import dataset

    got = [b["image"] for b in dataset(remote, 16, seed=2).as_numpy_iterator()]
    expected = [b["image"] for b in dataset(local, 16, seed=2).as_numpy_iterator()]
    assert np.array_equal(np.concatenate(got), np.concatenate(expected))


def test_a_compact_store_over_http_is_refused_with_a_way_out(local: nd.ClickMe) -> None:
    from neural_datasets.errors import InvalidArgumentError

    cache = Path(local.location).parents[1]
    nd.ClickMe("sample", cache_dir=cache, layout="compact", progress=False)
    refused = pytest.raises(InvalidArgumentError, match="compact layout.*local path only")
    with LocalHTTPServer(cache) as server, refused:
        nd.ClickMe.open(f"{server.url}/clickme-sample/store-compact.zarr")
