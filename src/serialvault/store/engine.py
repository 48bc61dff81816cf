"""Database URLs, engines, and the one-writer rule.

One code path for SQLite (the embedded default) and PostgreSQL (production). The
differences live here and only here:

* **Writer serialisation.** ``seq`` must be gap-free and the chain must never fork, so
  exactly one transaction may append at a time. SQLite: write transactions start with
  ``BEGIN IMMEDIATE`` (the database write lock is taken *before* the head is read).
  PostgreSQL: the write transaction takes a transaction-level advisory lock
  (``pg_advisory_xact_lock``) before reading the head (DESIGN.md "Chain").
* **Consistent reads.** A read transaction is one snapshot on both engines (SQLite's
  deferred ``BEGIN`` in WAL mode; PostgreSQL ``REPEATABLE READ``), so a verification,
  fingerprint or backup running beside a capture never sees half of it.
* **Durability.** SQLite runs in WAL mode with ``synchronous=FULL``: an acknowledged
  capture survives a crash of the process or of the machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from serialvault.errors import StoreError
from serialvault.redact import redact_text, redact_url

__all__ = [
    "DATABASE_ERRORS",
    "DEFAULT_DB",
    "WRITER_LOCK_KEY",
    "Connection",
    "Engine",
    "check_same_file",
    "connect",
    "connection_error",
    "is_sqlite",
    "make_engine",
    "redact",
    "resolve_url",
    "sqlite_path",
    "store_error",
]

DEFAULT_DB = "serialvault.db"
#: Advisory lock key of the log writer (any fixed 64-bit value; "svlog" in ASCII).
WRITER_LOCK_KEY = 0x7376_6C6F_67


def resolve_url(db: str | None) -> str:
    """Turn ``--db`` (the edge fills in ``SERIALVAULT_DB``) or the default into an
    SQLAlchemy URL.

    A plain path means SQLite; ``postgresql://`` and ``postgres://`` use psycopg 3.
    """
    value = db or DEFAULT_DB
    if value.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if value.startswith(("postgresql+psycopg://", "sqlite://")):
        return value
    if "://" in value:
        scheme = value.split("://", 1)[0]
        raise StoreError(
            f"unsupported database URL scheme {scheme!r} in {redact(value)}: use a file path"
            " (SQLite) or postgresql://user@host:port/database"
        )
    return "sqlite:///" + str(Path(value).expanduser().resolve())


def redact(url: str) -> str:
    """The URL without its password — in the user info or as a query parameter
    (``?password=…``) — for messages and logs."""
    try:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        shown = url.split("@", 1)[-1] if "@" in url else url
    return redact_url(shown)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    if not is_sqlite(url):
        return None
    database = sa.engine.make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit at the driver level: we issue BEGIN ourselves (see _begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=FULL",
        "busy_timeout=60000",
        "cache_size=-262144",
        "temp_store=MEMORY",
        "foreign_keys=OFF",
    ):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get("sv_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _pg_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return
    if options.get("sv_write", False):
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")
    else:
        # A read sees one snapshot for all its statements (head and log, a backup's
        # snapshot and its records), as a SQLite read transaction does; READ COMMITTED
        # would let a capture committing meanwhile show half its work to a later query.
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with our connection settings."""
    try:
        sa.engine.make_url(url).port  # noqa: B018 — a port that is not a number fails here
    except (ValueError, sa.exc.ArgumentError) as exc:
        raise StoreError(f"cannot use database {redact(url)}: not a valid URL ({exc})") from None
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None and not path.parent.is_dir():
            what = "is not a folder" if path.parent.exists() else "does not exist"
            raise StoreError(f"cannot open SQLite database {path}: folder {path.parent} {what}")
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        event.listen(engine, "connect", _sqlite_connect)
        if path is not None:
            opened: Path = path

            def remember_file(_dbapi_conn: Any, record: Any, path: Path = opened) -> None:
                # which file this connection opened (device, inode): a writer checks it
                # before committing, so it never acknowledges into a file that a restore
                # (or an operator's mv) has replaced under it
                record.info["sv_file"] = _file_id(path)

            event.listen(engine, "connect", remember_file)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 10})
    event.listen(engine, "begin", _pg_begin, retval=False)
    return engine


def check_same_file(conn: Connection) -> None:
    """Refuse to commit into a SQLite file that is no longer the one at its path.

    Called by the writer under its lock just before commit. A restore replaces the file
    by rename while holding the writer lock of the old one and leaves a tombstone in it,
    so a writer that waited for that lock sees the tombstone; this check also catches a
    replacement by hand (``mv``, ``cp``) between a writer's open and its commit.
    """
    path = sqlite_path(str(conn.engine.url))
    if path is None:
        return
    opened = conn.connection.info.get("sv_file")
    if opened is not None and _file_id(path) != opened:
        raise StoreError(
            f"{path} was replaced while this command had it open (a restore, or the file"
            " moved): nothing was recorded; run the command again"
        )


def connection_error(url: str, exc: BaseException) -> StoreError:
    """A clear message for a database that cannot be reached or used."""
    detail = str(getattr(exc, "orig", exc)).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    return StoreError(f"cannot use database {redact(url)}: {redact_text(first, (url,))}")


@contextmanager
def connect(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """A connection inside one transaction; ``write`` takes the writer lock first."""
    url = str(engine.url)
    try:
        conn = engine.connect()
    except (OperationalError, DBAPIError) as exc:
        raise connection_error(url, exc) from None
    try:
        if write:
            conn.execution_options(sv_write=True)
        with conn.begin():
            yield conn
    finally:
        conn.close()


#: The database library's own errors: an edge turns any that escapes into a
#: :class:`StoreError` (exit 7) with :func:`store_error`, so no edge imports the library.
DATABASE_ERRORS: tuple[type[Exception], ...] = (sa.exc.SQLAlchemyError,)


def store_error(exc: Exception) -> StoreError:
    """A database library error as the one-line :class:`StoreError` a user sees."""
    return StoreError(f"database error: {str(getattr(exc, 'orig', exc)).strip()}")
