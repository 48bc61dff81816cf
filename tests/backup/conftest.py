"""Backup fixtures: a real S3 endpoint on 127.0.0.1, keys, copies, repositories.

S3 is moto in server mode — an HTTP server speaking the S3 protocol, started here on a
free local port — so the code under test talks plain S3 over HTTP, as it would to AWS or
MinIO. Each test gets its own key prefix in one bucket.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serialvault.backup.copies import Copy
from serialvault.backup.crypto import generate_keys
from serialvault.backup.policy import CopySpec, Policy
from serialvault.store.capture import Capturer
from serialvault.store.repository import Repository
from tests import builders as b
from tests.accounts import make_repo
from tests.pg import pg_schema_url

BUCKET = "sv-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def s3_url(endpoint: str, prefix: str | None = None) -> str:
    return f"s3://{BUCKET}/{prefix or uuid.uuid4().hex[:12]}?endpoint={endpoint}&path_style=true"


@pytest.fixture(params=["file", "s3"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return (tmp_path / "copy").as_uri()
    return s3_url(request.getfixturevalue("s3_endpoint"))


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    return generate_keys(tmp_path / "keys")


def policy_for(keys: dict[str, str] | None, **copies: str) -> Policy:
    return Policy(
        copies={n: CopySpec(n, u) for n, u in copies.items()},
        encryption_key=Path(keys["encryption_key"]) if keys else None,
        signing_key=Path(keys["signing_key"]) if keys else None,
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_schema_url() as url:
        yield url


def new_repo(url: str, *, signed_in: bool = False) -> Repository:
    """A new repository; ``signed_in``: with a test user holding admin, qa and operator
    logged in (for the commands, which need one)."""
    if signed_in:
        return make_repo(url)
    r = Repository.open(url, must_exist=False)
    r.init("tester@test")
    return r


def capture(repo: Repository, *events: dict[str, Any], header: Any = None) -> None:
    Capturer(repo, actor="tester@test").capture_bytes(
        b.document(*events, header=header), "d.jsonld"
    )


_serial = iter(range(10**9))


def grow(repo: Repository, units: int = 40, *, products: bool = False) -> list[str]:
    """Commission ``units`` new units and pack them into a new case; returns the EPCs."""
    if products:
        b.register(repo, b.GTIN)
    n = next(_serial)
    epcs = [b.sgtin(f"G{n}X{i}") for i in range(units)]
    case = b.sscc(10_000 + n)
    capture(repo, b.commission(epcs), b.commission_containers([case]), b.pack(case, epcs))
    return epcs


def copy_of(url: str, name: str | None = None) -> Copy:
    return Copy(name or url, url)


def cli_env(keys: dict[str, str]) -> dict[str, str]:
    """The environment of a ``serialvault`` child process that uses ``keys`` and no policy."""
    env = dict(os.environ)
    env["SERIALVAULT_BACKUP_KEY"] = keys["encryption_key"]
    env["SERIALVAULT_SIGNING_KEY"] = keys["signing_key"]
    env.pop("SERIALVAULT_POLICY", None)
    return env
