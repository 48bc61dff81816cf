"""Where the benchmark writes: a fresh database per run, on SQLite or PostgreSQL.

Every measured run starts from an empty database so runs are comparable: SQLite deletes
the file with its WAL and shared-memory companions; PostgreSQL drops and recreates a
database of its own (``sv_bench`` and ``sv_bench_raw`` by default — never one it did not
create).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def pg_server(url: str) -> str:
    """The server part of a PostgreSQL URL (any database path removed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"--pg-url {url!r}: expected postgresql://user@host:port")
    return urlunsplit((parts.scheme, parts.netloc, "", parts.query, ""))


def _with_db(server: str, db: str) -> str:
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, "/" + db, parts.query, ""))


def pg_version(server: str) -> str:
    with psycopg.connect(_with_db(server, "postgres"), connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


@dataclass(frozen=True, slots=True)
class SqliteTarget:
    """A SQLite database file (the embedded default engine)."""

    path: Path
    engine: str = "sqlite"

    @property
    def url(self) -> str:
        """What ``--db`` gets: a plain path means SQLite."""
        return str(self.path)

    @property
    def display(self) -> str:
        return str(self.path)

    def _files(self) -> list[Path]:
        return [self.path, *(Path(f"{self.path}{s}") for s in ("-wal", "-shm", "-journal"))]

    def reset(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.drop()

    def drop(self) -> None:
        for f in self._files():
            f.unlink(missing_ok=True)

    def exists(self) -> bool:
        return self.path.is_file()

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self._files() if f.is_file())


@dataclass(frozen=True, slots=True)
class PgTarget:
    """A PostgreSQL database this harness creates and drops."""

    server: str
    name: str
    engine: str = "postgresql"

    def __post_init__(self) -> None:
        if not _DB_NAME.fullmatch(self.name):
            raise ValueError(f"database name {self.name!r}: use lower-case letters, digits, _")

    @property
    def url(self) -> str:
        return _with_db(self.server, self.name)

    @property
    def display(self) -> str:
        return self.url

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(_with_db(self.server, "postgres"), autocommit=True)

    def reset(self) -> None:
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )

    def exists(self) -> bool:
        with self._admin() as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.name,))
            return row.fetchone() is not None

    def size_bytes(self) -> int:
        with self._admin() as conn:
            row = conn.execute("SELECT pg_database_size(%s)", (self.name,)).fetchone()
        return int(str(row[0])) if row else 0


Target = SqliteTarget | PgTarget
