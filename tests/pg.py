"""PostgreSQL for tests: a private schema per test on the CI server.

The server is ``SERIALVAULT_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``,
trust authentication as in CI). A test gets a schema of its own through the
connection's ``search_path`` and the schema is dropped afterwards, so tests never see
each other's data. Without a reachable server the test is skipped — except with
``CI=true``, where it fails: CI must exercise the production engine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from tests.conftest import IN_CI

PG_URL = os.environ.get("SERIALVAULT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _admin() -> sa.Engine:
    return sa.create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
        connect_args={"connect_timeout": 5},
    )


def require_pg() -> None:
    try:
        with _admin().connect() as c:
            c.exec_driver_sql("SELECT 1")
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL at {PG_URL} is not reachable: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable")


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A URL whose connections work in a fresh schema; the schema is dropped on exit."""
    require_pg()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()
