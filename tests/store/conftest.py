"""Repository fixtures: the same tests run on SQLite and on PostgreSQL.

PostgreSQL: the server at ``SERIALVAULT_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``); each test gets its own schema, dropped
afterwards. Without a reachable server the PostgreSQL variants skip — except under
``CI=true``, where they fail: CI must exercise the production engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from serialvault.store.repository import Repository
from tests.pg import pg_schema_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each engine."""
    if request.param == "sqlite":
        yield str(tmp_path / "repo.db")
        return
    with pg_schema_url() as url:
        yield url


@pytest.fixture
def repo(db_url: str) -> Repository:
    """An initialised, empty repository."""
    r = Repository.open(db_url, must_exist=False)
    r.init("tester@test")
    return r
