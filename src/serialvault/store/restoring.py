"""The database side of a restore: an empty target, the restore mark, a fast bulk load.

A restore builds the repository in a target that nothing else may use meanwhile
(DESIGN.md "Restore"; EU GMP Annex 11 §7.2). The ``restore_state`` mark
(``repository.RESTORE_STATE``) is set while the target is built and cleared only when
every check has passed, so an interrupted restore leaves a database that
``Repository.open`` refuses rather than a partial one that looks whole. On PostgreSQL
the snapshot's rows go into bare tables and every index and key is built once after,
as ``pg_restore`` does. ``backup.restore`` plans, fetches and checks; it reaches the
database only through these functions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.domain.chain import LogRecord
from serialvault.store import schema
from serialvault.store.engine import connect, make_engine, sqlite_path
from serialvault.store.export import PG_SNAPSHOT_TABLES
from serialvault.store.identity import clear_sessions
from serialvault.store.repository import (
    RESTORE_STATE,
    ExistingTarget,
    existing_target,
    set_restore_state,
)

#: The mark's value while a restore loads and checks.
LOADING = "loading"


def target_is_empty(url: str) -> bool:
    """Whether ``url`` holds nothing a restore would overwrite (no file, an empty file,
    or a PostgreSQL schema without tables)."""
    path = sqlite_path(url)
    if url.startswith("sqlite"):
        return path is None or not path.exists() or path.stat().st_size == 0
    engine = make_engine(url)
    try:
        with connect(engine) as conn:
            n: Any = conn.execute(
                sa.text(
                    "SELECT count(*) FROM information_schema.tables"
                    " WHERE table_schema = current_schema()"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return int(n) == 0


def peek_target(url: str) -> ExistingTarget:
    """The repository id and head a restore target holds, read without writing (a dry
    run judges the target as the real run would)."""
    if target_is_empty(url):
        return ExistingTarget(None, None)
    engine = make_engine(url)
    try:
        with connect(engine) as conn:
            return existing_target(conn)
    finally:
        engine.dispose()


def mark_loading(conn: Connection) -> None:
    """Set the restore mark (inside the transaction that loads), and end every session a
    snapshot may have carried: nobody is logged in to a restored repository."""
    set_restore_state(conn, LOADING)
    clear_sessions(conn)


def clear_mark(conn: Connection) -> None:
    """Clear the restore mark: the repository is usable from this commit on."""
    set_restore_state(conn, None)


def _set_meta(conn: Connection, rows: dict[str, str]) -> None:
    meta = schema.meta
    conn.execute(sa.delete(meta).where(meta.c.key.in_(list(rows))))
    conn.execute(meta.insert(), [{"key": k, "value": v} for k, v in rows.items()])


def meta_from_genesis(conn: Connection, genesis: LogRecord) -> None:
    """The repository's identity (format, id, creation time) as its genesis record
    states it — a restore replayed from genesis recreates the same ``meta`` rows."""
    body = orjson.loads(genesis.body)
    _set_meta(
        conn,
        {
            "format": str(body.get("format", "")),
            "repository_id": str(body.get("repository_id", "")),
            "created_at": genesis.recorded_at,
        },
    )


def record_restored_from(conn: Connection, backup_id: str, actor: str, at: str) -> None:
    """Which backup the repository was restored from, when and by whom (ALCOA+
    attributable: the restored database says how it came to be)."""
    _set_meta(conn, {"restored_from": backup_id, "restored_at": at, "restored_by": actor})


def drop_repository(conn: Connection) -> None:
    """Drop every table of a PostgreSQL repository (``--force`` over an existing one),
    inside the caller's transaction: nothing is gone unless the restore commits."""
    for t in reversed(schema.metadata.sorted_tables):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t.name} CASCADE")
    conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def _constraint_defs(conn: Connection, tables: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Primary-key and unique constraints of ``tables``: (table, name, definition)."""
    rows = conn.exec_driver_sql(
        "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
        " JOIN pg_class t ON t.oid = c.conrelid"
        " JOIN pg_namespace n ON n.oid = t.relnamespace"
        " WHERE n.nspname = current_schema() AND c.contype IN ('p', 'u')"
    ).all()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows if str(r[0]) in tables]


def _index_defs(conn: Connection) -> list[tuple[str, str]]:
    rows = conn.exec_driver_sql(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        " WHERE i.schemaname = current_schema() AND NOT EXISTS ("
        "  SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
    ).all()
    return [(str(r[0]), str(r[1])) for r in rows]


class BulkLoad:
    """Rows copied into bare snapshot tables (see :func:`pg_bulk_load`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def copy_in(self, table: str, chunks: Iterable[bytes]) -> None:
        """Load ``table`` from binary COPY data (``meta`` is emptied first: the snapshot's
        rows replace what the migration wrote)."""
        if table not in PG_SNAPSHOT_TABLES:
            raise ValueError(f"{table!r} is not a snapshot table")
        if table == "meta":
            self.conn.exec_driver_sql("DELETE FROM meta")
        raw: Any = self.conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as cp:
            for chunk in chunks:
                cp.write(chunk)


@contextmanager
def pg_bulk_load(conn: Connection) -> Iterator[BulkLoad]:
    """Drop the indexes and keys of a freshly migrated PostgreSQL schema, let the caller
    load the snapshot tables (and the log), then build every index and key once, with
    memory for sorted builds — instead of maintaining each one row by row."""
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    indexes = _index_defs(conn)
    for name, _ in indexes:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    keyed = tuple(t for t in PG_SNAPSHOT_TABLES if t != "meta")
    constraints = _constraint_defs(conn, keyed)
    for table, name, _ in constraints:
        conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    yield BulkLoad(conn)
    for table, name, definition in constraints:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for _, ddl in indexes:
        conn.exec_driver_sql(ddl)


def checkpoint_sqlite(path: Path) -> None:
    """Fold a SQLite file's WAL into the file, so it can be renamed as one file."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def unmark_sqlite(path: Path) -> None:
    """Clear the restore mark of the SQLite file renamed into place, and fold its WAL."""
    con = sqlite3.connect(path)
    try:
        with con:
            con.execute(f"DELETE FROM meta WHERE key = '{RESTORE_STATE}'")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
