"""Consistent exports of a repository for backups: a SQLite file copy, a PostgreSQL
snapshot and its tables in COPY binary form.

A full backup must be of *one* state of the database (EU GMP Annex 11 §7.1: data
secured; DESIGN.md "Backup"): SQLite's online backup API copies the file in a single
read transaction; on PostgreSQL one ``REPEATABLE READ`` transaction reads every table,
and ``pg_export_snapshot()`` lets worker processes read the very same snapshot (the
fingerprint is computed by them in parallel). Backups work through these functions;
only the store talks to the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.store import schema

#: The schema revision a backup records, so a restore knows what it loads.
SCHEMA_VERSION = schema.SCHEMA_VERSION
#: Tables a PostgreSQL snapshot copies (the log travels as segments; Alembic's own
#: version table is recreated by the migration at restore).
PG_SNAPSHOT_TABLES = ("meta", *(t.name for t in schema.PROJECTIONS))


def copy_sqlite(src: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite repository (online backup API), one file.

    One ``backup`` step is a single read transaction; the copy carries the source's WAL
    flag, so it is switched to a rollback journal: one self-contained file.
    """
    dest.unlink(missing_ok=True)
    s, d = sqlite3.connect(src), sqlite3.connect(dest)
    try:
        s.backup(d)
        d.execute("PRAGMA journal_mode=DELETE")
    finally:
        d.close()
        s.close()


class SqliteSnapshot:
    """A copied SQLite file opened read-only (``mode=ro``): what a full backup reads
    its log, fingerprint and projections from while the live file goes on."""

    def __init__(self, path: Path) -> None:
        uri = f"file:{path}?mode=ro"
        self.path = path
        self._engine = sa.create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
        )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self._engine.dispose()


def pg_export_snapshot(conn: Connection) -> str:
    """The id of the caller's snapshot, for other sessions to ``SET TRANSACTION
    SNAPSHOT`` to (valid while the caller's transaction is open)."""
    return str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())


def pg_copy_out(conn: Connection, table: str) -> Iterator[bytes | memoryview]:
    """The rows of ``table`` in PostgreSQL's binary COPY format, as the server sends
    them (chunks of a few KiB), inside the caller's transaction."""
    if table not in PG_SNAPSHOT_TABLES:
        raise ValueError(f"{table!r} is not a snapshot table")
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} TO STDOUT (FORMAT binary)") as cp:
        yield from cp
