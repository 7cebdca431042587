"""Stores in an S3-compatible object store: push, open, verify, damage, errors.

A real S3 API (moto's server) runs on 127.0.0.1 for this module; the tests
reach it as users do, through ``AWS_ENDPOINT_URL`` and fake credentials (or an
explicit ``endpoint=``). Nothing here can reach the real AWS: the config and
credentials files are empty temporary files and IMDS is disabled.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from support.s3server import (
    LocalS3Server,
    authenticating_s3_server,
    patched_environment,
    s3_environment,
)

import neural_datasets as nd
from neural_datasets.errors import CorruptStoreError, DownloadError
from neural_datasets.storage.manifest import MARKER_FILE, read_manifest
from neural_datasets.storage.push import push_store
from neural_datasets.storage.remote import RemoteStore

BUCKET = "lab-data"
AWS_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION")


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3Server]:
    with LocalS3Server() as server:
        env = s3_environment(server.endpoint, tmp_path_factory.mktemp("aws"))
        with patched_environment(env, remove=AWS_VARIABLES):
            server.create_bucket(BUCKET)
            yield server


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> nd.ClickMe:
    return nd.ClickMe("sample", cache_dir=tmp_path_factory.mktemp("c"), progress=False)


@pytest.fixture(scope="module")
def published(s3: LocalS3Server, local: nd.ClickMe) -> str:
    url = f"s3://{BUCKET}/published/store.zarr"
    nd.push(local.location, url, progress=False)
    return url


def _fresh_copy(local: nd.ClickMe, name: str) -> str:
    """The sample store pushed to its own URL, for a test that damages it."""
    url = f"s3://{BUCKET}/{name}/store.zarr"
    push_store(local.location, url)
    return url


def test_a_pushed_store_opens_and_reads_as_the_local_one_quietly(
    published: str, local: nd.ClickMe, capfd: pytest.CaptureFixture[str]
) -> None:
    remote = nd.ClickMe.open(published)
    indices = [44, 3, 3, 17]
    got, expected = remote.read_batch(indices), local.read_batch(indices)
    assert len(remote) == 48 and all(np.array_equal(got[k], expected[k]) for k in expected)
    assert remote.attrs["clickme"] == local.attrs["clickme"]
    out, err = capfd.readouterr()
    assert "AuthCredentialsProvider" not in err and "aws" not in err.lower()  # SDK lines
    assert nd.verify(published, progress=False) == []


def test_push_writes_the_marker_last_and_resumes(
    s3: LocalS3Server, local: nd.ClickMe, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"s3://{BUCKET}/interrupted/store.zarr"
    written: list[str] = []
    real_write = RemoteStore.write_bytes

    def failing_write(self: RemoteStore, key: str, data: bytes | None) -> None:
        if data is not None and len(written) == 5:
            raise ConnectionError("the network dropped")
        real_write(self, key, data)
        if data is not None:
            written.append(key)

    monkeypatch.setattr(RemoteStore, "write_bytes", failing_write)
    with pytest.raises(ConnectionError):
        push_store(local.location, url, jobs=1)
    monkeypatch.setattr(RemoteStore, "write_bytes", real_write)
    assert MARKER_FILE not in written
    with pytest.raises(CorruptStoreError, match="no completion marker"):
        nd.ClickMe.open(url)
    report = push_store(local.location, url, jobs=2)
    files = read_manifest(Path(local.location))
    assert report.skipped == 5 and report.uploaded == len(files) - 5 and report.strays == 0
    assert nd.verify(url, progress=False) == []
    assert len(nd.ClickMe.open(url)) == 48


def test_push_deletes_nothing_outside_the_store(s3: LocalS3Server, local: nd.ClickMe) -> None:
    inner = _fresh_copy(local, "nest")  # s3://lab-data/nest/store.zarr
    report = push_store(local.location, f"s3://{BUCKET}/nest")  # a store one level up
    assert report.strays == len(read_manifest(Path(local.location))) + 2  # inner, with seal
    assert len(nd.ClickMe.open(inner)) == len(nd.ClickMe.open(f"s3://{BUCKET}/nest")) == 48
    assert (
        "not covered by the checksum manifest"
        in nd.verify(f"s3://{BUCKET}/nest", progress=False)[0]
    )


def test_a_flipped_byte_is_found_by_verify_and_on_read(
    s3: LocalS3Server, local: nd.ClickMe
) -> None:
    url = _fresh_copy(local, "flipped")
    key = "flipped/store.zarr/image/c/0/0/0/0"
    client = s3.client()
    data = bytearray(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    data[1000] ^= 0x01  # inside sample 0's chunk
    client.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    problems = nd.verify(url, progress=False)
    assert problems == [f"image/c/0/0/0/0: fails its crc32c checksum ({url}/image/c/0/0/0/0)"]
    remote = nd.ClickMe.open(url)  # every object is there: opening succeeds
    assert remote.read_batch([5])["label"].shape == (1,)  # undamaged samples read
    with pytest.raises(CorruptStoreError, match="sample 0 fails its crc32c checksum"):
        remote.read_batch([0, 5])


def test_a_deleted_object_is_refused_never_zeros(s3: LocalS3Server, local: nd.ClickMe) -> None:
    url = _fresh_copy(local, "deleted")
    remote = nd.ClickMe.open(url)
    s3.client().delete_object(Bucket=BUCKET, Key="deleted/store.zarr/heatmap/c/0/0/0")
    assert nd.verify(url, progress=False) == [f"heatmap/c/0/0/0: missing ({url}/heatmap/c/0/0/0)"]
    with pytest.raises(CorruptStoreError, match="lacks 1 of the .* objects"):
        nd.ClickMe.open(url)
    remote.heatmaps.check = "off"  # even unchecked, a missing object is an error, not zeros
    with pytest.raises(CorruptStoreError, match="object of the store is missing") as caught:
        remote.read_batch([1])
    assert f"`neural-datasets verify {url}`" in str(caught.value)


def test_a_store_synced_without_push_is_refused(s3: LocalS3Server, local: nd.ClickMe) -> None:
    """``aws s3 sync`` interrupted before the end, as made with boto3 directly."""
    client, root = s3.client(), Path(local.location)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = path.relative_to(root).as_posix()
        if not key.startswith("integrity/complete"):
            client.put_object(Bucket=BUCKET, Key=f"synced/store.zarr/{key}", Body=path.read_bytes())
    url = f"s3://{BUCKET}/synced/store.zarr"
    with pytest.raises(CorruptStoreError, match="no completion marker.*never fully published"):
        nd.ClickMe.open(url)
    assert "the store is incomplete" in nd.verify(url, progress=False)[0]


def test_an_explicit_endpoint_wins_over_the_environment(
    published: str, s3: LocalS3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing there
    assert len(nd.ClickMe.open(published, endpoint=s3.endpoint)) == 48
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint)  # the S3-specific variable
    assert len(nd.ClickMe.open(published)) == 48


def test_credentials_from_a_profile_quietly(
    published: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """moto refuses anonymous requests, so a successful open proves the profile was used."""
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[lab]\naws_access_key_id = testing-key-id\naws_secret_access_key = testing-secret\n"
    )
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "lab")
    assert len(nd.ClickMe.open(published)) == 48
    monkeypatch.delenv("AWS_PROFILE")
    assert len(nd.ClickMe.open(published, storage_options={"profile": "lab"})) == 48
    assert "AuthCredentialsProvider" not in capfd.readouterr().err


def test_no_credentials_names_the_variables_to_set(
    published: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(DownloadError) as caught:
        nd.ClickMe.open(published)
    message = str(caught.value)
    assert published in message and "from AWS_ENDPOINT_URL" in message
    assert "access denied" in message and "AWS_ACCESS_KEY_ID" in message
    assert capfd.readouterr().err == ""  # one exception, no SDK lines


def test_wrong_credentials_are_named(s3: LocalS3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    with authenticating_s3_server("signed") as (endpoint, key_id, secret):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-" + secret)
        with pytest.raises(DownloadError) as caught:
            nd.ClickMe.open("s3://signed/store.zarr", endpoint=endpoint)
        message = str(caught.value)
        assert "access denied" in message and "SignatureDoesNotMatch" in message
        assert "environment credentials were refused" in message and endpoint in message
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)  # right key: gets as far as the store
        with pytest.raises(DownloadError, match="there is no store at this URL"):
            nd.ClickMe.open("s3://signed/store.zarr", endpoint=endpoint)


def test_no_store_and_a_closed_port_are_one_clear_error(
    s3: LocalS3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DownloadError, match="there is no store at this URL.*bucket"):
        nd.ClickMe.open("s3://no-such-bucket/store.zarr")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("NEURAL_DATASETS_TIMEOUT", "2")
    with pytest.raises(DownloadError) as caught:
        nd.ClickMe.open(f"s3://{BUCKET}/x/store.zarr", endpoint=closed)
    assert f"endpoint {closed} (from storage_options)" in str(caught.value)


def test_cli_push_and_verify(
    s3: LocalS3Server,
    local: nd.ClickMe,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from neural_datasets.cli import main

    url = f"s3://{BUCKET}/cli/store.zarr"
    with monkeypatch.context() as without_variable:
        without_variable.delenv("AWS_ENDPOINT_URL")
        push = ["push", local.location, url, "--no-progress", "--jobs", "2"]
        assert main([*push, "--endpoint", s3.endpoint]) == 0
    assert "16 objects uploaded" in capsys.readouterr().out
    assert (
        main(["push", local.location, url, "--no-progress", "--jobs", "0"]) == 2
    )  # a bad option value is a usage error
    assert "jobs must be a positive" in capsys.readouterr().err
    assert main(["verify", url, "--no-progress"]) == 0
    with monkeypatch.context() as without_variable:
        without_variable.delenv("AWS_ENDPOINT_URL")
        assert main(["verify", url, "--no-progress", "--endpoint", s3.endpoint]) == 0
        assert "complete; every file" in capsys.readouterr().out
        assert main(["verify", "clickme-sample", "--endpoint", s3.endpoint]) == 2
        assert "applies to s3:// URLs only" in capsys.readouterr().err
    s3.client().delete_object(Bucket=BUCKET, Key="cli/store.zarr/label/c/0")
    assert main(["verify", url, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "label/c/0: missing" in err and "push" in err


def test_loaders_over_s3_match_local_and_shard_across_ranks(
    published: str, local: nd.ClickMe
) -> None:
    import torch

    from neural_datasets.tf import dataset
    from neural_datasets.torch import ClickMeDataset, loader

    def labels(batches) -> list[int]:
        return torch.cat([b["label"] for b in batches]).tolist()

    remote = ClickMeDataset(published)
    assert labels(loader(remote, 8, seed=1, num_workers=2)) == labels(loader(local, 8, seed=1))
    ranks = [labels(loader(remote, 4, seed=2, num_replicas=2, rank=r)) for r in (0, 1)]
    local_ranks = [labels(loader(local, 4, seed=2, num_replicas=2, rank=r)) for r in (0, 1)]
    assert ranks == local_ranks
    read = [loader(remote, 4, seed=2, num_replicas=2, rank=r).sampler for r in (0, 1)]
    both = [np.concatenate(list(s)) for s in read]
    assert not set(both[0]) & set(both[1]) and len(set(both[0]) | set(both[1])) == 48
    import tensorflow as tf

    def pipelines(source: object) -> list[np.ndarray]:
        contexts = [tf.distribute.InputContext(2, r, 2) for r in (0, 1)]
        return [
            np.concatenate([b["label"] for b in dataset(source, 8, seed=2, input_context=c)])
            for c in contexts
        ]

    got, expected = pipelines(remote.source), pipelines(local)
    assert all(np.array_equal(g, e) for g, e in zip(got, expected))
    assert not set(got[0]) & set(got[1]) or len(np.concatenate(got)) == 48


def test_the_scaling_doc_block_runs_against_the_server(
    published: str, s3: LocalS3Server, tmp_path: Path
) -> None:
    """docs/scaling.md's object-store block, run as a script against this module's server."""
    import os
    import re
    import subprocess
    import sys

    doc = Path(__file__).parents[2] / "docs" / "scaling.md"
    (code,) = re.findall(
        r"<!-- tested: scaling-s3 -->\s*```python\n(.*?)```", doc.read_text(), re.S
    )
    script = tmp_path / "scaling_s3.py"
    script.write_text(code)
    run = subprocess.run(
        [sys.executable, str(script)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["48", "48"]
    assert "AuthCredentialsProvider" not in run.stderr


def test_a_local_chunk_cache_serves_later_epochs_from_disk(
    s3: LocalS3Server, local: nd.ClickMe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEURAL_DATASETS_HOME", str(tmp_path / "home"))
    url = _fresh_copy(local, "cached")
    everything = np.arange(48)
    remote = nd.ClickMe.open(url, cache="local")
    first = remote.read_batch(everything)
    assert all(np.array_equal(first[k], v) for k, v in local.read_batch(everything).items())
    assert str(remote.shard_cache.folder).startswith(str(tmp_path / "home" / "remote"))
    for key in ("image/c/0/0/0/0", "heatmap/c/0/0/0"):  # the object store loses the shards
        s3.client().delete_object(Bucket=BUCKET, Key=f"cached/store.zarr/{key}")
    again = remote.read_batch(everything[::-1])  # read from disk, still checked
    assert np.array_equal(again["image"], first["image"][::-1])
    shard = local.images.sample_nbytes * 48  # one image shard, roughly
    small = nd.ClickMe.open(_fresh_copy(local, "small-cache"), cache="local", cache_size=shard)
    small.read_batch(everything)
    assert small.shard_cache.cached_bytes() <= shard + 16 * 48 + 4  # the size limit holds


def test_the_local_cache_refuses_a_damaged_object(s3: LocalS3Server, local: nd.ClickMe) -> None:
    url = _fresh_copy(local, "cache-damaged")
    key = "cache-damaged/store.zarr/image/c/0/0/0/0"
    client = s3.client()
    data = bytearray(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    data[-100] ^= 0x01  # inside the shard index: the manifest's crc32c catches it
    client.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    remote = nd.ClickMe.open(url, cache="local")
    with pytest.raises(CorruptStoreError, match="does not match the store's manifest"):
        remote.read_batch([0])


RANK_SCRIPT = """
import hashlib, json, sys
import numpy as np
import torch.distributed as dist
import neural_datasets as nd
from neural_datasets.torch import loader

dist.init_process_group("gloo")
batches = loader(nd.ClickMe.open(sys.argv[1]), 4, seed=3)
digests = [
    hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()
    for batch in batches
    for image in batch["image"].permute(0, 2, 3, 1).numpy()
]
open(f"{sys.argv[2]}/rank{dist.get_rank()}.json", "w").write(json.dumps(digests))
dist.barrier()
dist.destroy_process_group()
"""


def test_two_ddp_ranks_read_disjoint_complete_parts_of_a_url(
    published: str, local: nd.ClickMe, tmp_path: Path
) -> None:
    import hashlib
    import json
    import os
    import subprocess
    import sys

    script = tmp_path / "ranks.py"
    script.write_text(RANK_SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # AWS_ENDPOINT_URL etc. reach the ranks
    run = subprocess.run(
        [*cmd, str(script), published, str(tmp_path)],
        env=env,
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    images = local.read_batch(np.arange(48))["image"]
    every = {hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest() for image in images}
    assert [len(r) for r in ranks] == [24, 24]
    assert not set(ranks[0]) & set(ranks[1]) and set(ranks[0]) | set(ranks[1]) == every


def test_bad_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from neural_datasets.errors import InvalidArgumentError
    from neural_datasets.storage.push import push_jobs
    from neural_datasets.storage.remote import s3_settings
    from neural_datasets.storage.shard_cache import cache_limit

    monkeypatch.setenv("NEURAL_DATASETS_PUSH_JOBS", "many")
    with pytest.raises(InvalidArgumentError, match="NEURAL_DATASETS_PUSH_JOBS='many'"):
        push_jobs()
    with pytest.raises(InvalidArgumentError, match="jobs must be a positive"):
        push_jobs(0)
    with pytest.raises(InvalidArgumentError, match="cache_size must be a positive"):
        cache_limit(0)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['endpoint_uri'\]"):
        s3_settings({"endpoint_uri": "http://x"})
    with pytest.raises(ValueError, match="not an http:// or https:// URL"):
        s3_settings({"endpoint": "minio.lab:9000"})
    with pytest.raises(ValueError, match="credentials.*'iam'"):
        s3_settings({"credentials": "iam"})
