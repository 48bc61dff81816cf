"""Upgrading a new database to the Alembic head gives exactly the tables ``schema.py``
declares (no drift between the migration and the code), on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from serialvault.store import schema
from serialvault.store.repository import Repository


def test_migration_head_matches_the_declared_schema(repo: Repository) -> None:
    with repo.read() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_revision() == schema.SCHEMA_VERSION
        diff = compare_metadata(ctx, schema.metadata)
    diff = [
        d
        for d in diff
        if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")
    ]
    assert diff == []
