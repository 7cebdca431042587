"""A real S3 API on 127.0.0.1 for tests: moto's server, with fake credentials only.

:func:`s3_environment` gives the variables a test process (and any worker it
starts) needs to reach it the way the AWS tools would, and nothing that could
reach the real AWS: fake keys, the local endpoint, and empty config and
credentials files so no ``~/.aws`` of the user is ever read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FAKE_KEY_ID = "testing-key-id"
FAKE_SECRET = "testing-secret"


class LocalS3Server:
    """moto's S3 server on a free port of 127.0.0.1 (``with LocalS3Server() as s3: ...``)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""

    def __enter__(self) -> LocalS3Server:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def client(self) -> Any:
        """A boto3 S3 client of this server, with the fake credentials."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=FAKE_KEY_ID,
            aws_secret_access_key=FAKE_SECRET,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)


def s3_environment(endpoint: str, home: Path) -> dict[str, str]:
    """Environment variables reaching ``endpoint`` with fake credentials, never real AWS."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config").write_text("")
    (home / "credentials").write_text("")
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": FAKE_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextmanager
def patched_environment(values: dict[str, str], remove: tuple[str, ...] = ()) -> Iterator[None]:
    """``values`` set and ``remove`` unset in ``os.environ`` for the block (module fixtures)."""
    import pytest

    with pytest.MonkeyPatch.context() as patch:
        for name in remove:
            patch.delenv(name, raising=False)
        for name, value in values.items():
            patch.setenv(name, value)
        yield


@contextmanager
def authenticating_s3_server(bucket: str) -> Iterator[tuple[str, str, str]]:
    """A moto S3 server (its own process) that checks request signatures, with ``bucket``.

    Yields ``(endpoint, access key id, secret)`` of an IAM user allowed everything. moto
    checks credentials only after its first ``INITIAL_NO_AUTH_ACTION_COUNT`` requests, which
    create that user, its key and the bucket.
    """
    import json
    import os
    import socket
    import subprocess
    import sys
    import time

    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        anyone = dict(endpoint_url=endpoint, region_name="us-east-1")
        iam = boto3.client("iam", aws_access_key_id="x", aws_secret_access_key="y", **anyone)
        iam.create_user(UserName="lab")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="lab", PolicyName="all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="lab")["AccessKey"]
        key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
        boto3.client(
            "s3", aws_access_key_id=key_id, aws_secret_access_key=secret, **anyone
        ).create_bucket(Bucket=bucket)
        yield endpoint, key_id, secret
    finally:
        server.terminate()
        server.wait(timeout=30)
