"""Repository fixtures: the same tests run on SQLite and on PostgreSQL.

PostgreSQL: the server at ``SERIALVAULT_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``); each test gets its own schema, dropped
afterwards. Without a reachable server the PostgreSQL variants skip — except under
``CI=true``, where they fail: CI must exercise the production engine.
"""

from __future__ import annotations

import pytest

from serialvault.store.repository import Repository


@pytest.fixture
def repo(db_url: str) -> Repository:
    """An initialised, empty repository."""
    r = Repository.open(db_url, must_exist=False)
    r.init("tester@test")
    return r
