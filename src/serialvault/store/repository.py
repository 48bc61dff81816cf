"""The repository: a database holding the log and its projections.

``Repository`` opens a database by URL, creates or migrates its schema (Alembic), and
hands out transactions; the writer transaction comes with a :class:`LogAppender` that
continues the hash chain from the current head. Services (capture, master data,
queries, integrity) take a repository and do one job each.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from serialvault import __version__
from serialvault.canonical import canonical_json
from serialvault.domain.chain import GENESIS, LogRecord, body_hash, chain_hash
from serialvault.domain.records import INIT, record_kind
from serialvault.errors import StoreError
from serialvault.store import schema
from serialvault.store.bulk import bulk_insert
from serialvault.store.engine import (
    check_same_file,
    connect,
    connection_error,
    make_engine,
    redact,
    resolve_url,
    sqlite_path,
)
from serialvault.timefmt import now_utc

if TYPE_CHECKING:  # Alembic is imported only to migrate: it costs ~0.1 s of every start-up
    from alembic.config import Config

LOG_FORMAT = "serialvault.log/1"
#: meta key of the restore mark (see :func:`restore_state`).
RESTORE_STATE = "restore_state"

#: A restore into a SQLite file builds it beside the target under this name and renames
#: it into place only when every check has passed. Until the restore mark is written the
#: file can be a whole, unmarked snapshot of an older point, so the name itself is the
#: mark for that window: ``Repository.open`` refuses it (Annex 11 §7.2: a restore that
#: has not been checked is not a repository).
RESTORE_WORKING = re.compile(r"(?P<target>.+)\.restoring-(?P<pid>\d+)")


def restore_working_file(target: Path, pid: int) -> Path:
    """The name a restore into ``target`` by process ``pid`` builds its file under."""
    return target.with_name(f"{target.name}.restoring-{pid}")


@dataclass(frozen=True, slots=True)
class Head:
    """The newest log record: its ``seq`` and chain hash (``GENESIS`` when empty)."""

    seq: int
    chain_hash: str
    recorded_at: str | None


class LogAppender:
    """Continues the hash chain inside one write transaction.

    Records are buffered and inserted in batches (``flush``) — capture appends tens of
    thousands of records per transaction and one round trip per record would dominate.
    ``recorded_at`` never goes backwards, even if the system clock does, so that a
    point-in-time restore by timestamp is well defined.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        head = read_head(conn)
        self.seq = head.seq
        self.chain = head.chain_hash
        self.last_time = head.recorded_at or ""
        self.pending: list[tuple[Any, ...]] = []
        self.first_seq: int | None = None

    def now(self) -> str:
        t = now_utc()
        if t < self.last_time:
            t = self.last_time
        self.last_time = t
        return t

    def append(
        self, kind: str, body: Any, actor: str, reason: str, recorded_at: str | None = None
    ) -> LogRecord:
        if record_kind(kind) is None:  # one catalogue: domain.records.CATALOGUE
            raise StoreError(
                f"log record kind {kind!r} is not in the catalogue of record kinds:"
                " nothing was recorded"
            )
        raw = body if isinstance(body, bytes) else canonical_json(body)
        at = recorded_at or self.now()
        seq = self.seq + 1
        bh = body_hash(raw)
        ch = chain_hash(self.chain, seq, at, kind, actor, reason, bh)
        self.pending.append((seq, at, kind, actor, reason, raw.decode("utf-8"), bh, ch))
        self.seq, self.chain = seq, ch
        if self.first_seq is None:
            self.first_seq = seq
        return LogRecord(seq, at, kind, actor, reason, raw, bh, ch)

    def flush(self) -> None:
        if self.pending:
            bulk_insert(self.conn, schema.log, self.pending)
            self.pending = []


def read_head(conn: Connection) -> Head:
    row = conn.execute(
        sa.select(schema.log.c.seq, schema.log.c.chain_hash, schema.log.c.recorded_at)
        .order_by(schema.log.c.seq.desc())
        .limit(1)
    ).first()
    if row is None:
        return Head(0, GENESIS, None)
    return Head(int(row.seq), str(row.chain_hash), str(row.recorded_at))


def first_seq_since(conn: Connection, since: str) -> int | None:
    """The first log record recorded at or after ``since`` (UTC text)."""
    lg = schema.log
    value = conn.execute(sa.select(sa.func.min(lg.c.seq)).where(lg.c.recorded_at >= since)).scalar()
    return None if value is None else int(value)


def chain_hash_at(conn: Connection, seq: int) -> str | None:
    """Chain hash of log record ``seq`` (``GENESIS`` for 0; ``None`` if there is none)."""
    if seq == 0:
        return GENESIS
    row = conn.execute(sa.select(schema.log.c.chain_hash).where(schema.log.c.seq == seq)).first()
    return None if row is None else str(row[0])


def records_of_kind(conn: Connection, kind: str) -> list[LogRecord]:
    """Every log record of one kind, in order (the kind column is indexed)."""
    lg = schema.log
    return [
        LogRecord(
            int(r.seq),
            r.recorded_at,
            r.kind,
            r.actor,
            r.reason,
            r.body.encode("utf-8"),
            r.body_hash,
            r.chain_hash,
        )
        for r in conn.execute(sa.select(lg).where(lg.c.kind == kind).order_by(lg.c.seq))
    ]


def restore_state(conn: Connection) -> str | None:
    """The ``restore_state`` mark: set while a restore builds the database, and left as
    ``replaced`` in a SQLite file a restore has renamed another file over."""
    value = conn.execute(
        sa.select(schema.meta.c.value).where(schema.meta.c.key == RESTORE_STATE)
    ).scalar()
    return None if value is None else str(value)


def set_restore_state(conn: Connection, value: str | None) -> None:
    conn.execute(sa.delete(schema.meta).where(schema.meta.c.key == RESTORE_STATE))
    if value is not None:
        conn.execute(schema.meta.insert(), [{"key": RESTORE_STATE, "value": value}])


def time_at(conn: Connection, seq: int) -> str | None:
    """``recorded_at`` of log record ``seq`` in ``conn``'s view (``None`` if there is none)."""
    row = conn.execute(sa.select(schema.log.c.recorded_at).where(schema.log.c.seq == seq)).first()
    return None if row is None else str(row[0])


def iter_log(
    conn: Connection, start: int = 1, stop: int | None = None, batch: int = 5000
) -> Iterator[LogRecord]:
    """Log records with ``start <= seq <= stop`` in order, read in batches."""
    lg = schema.log
    nxt = start
    while True:
        q = sa.select(lg).where(lg.c.seq >= nxt).order_by(lg.c.seq).limit(batch)
        if stop is not None:
            q = q.where(lg.c.seq <= stop)
        rows = conn.execute(q).all()
        if not rows:
            return
        for r in rows:
            yield LogRecord(
                int(r.seq),
                r.recorded_at,
                r.kind,
                r.actor,
                r.reason,
                r.body.encode("utf-8"),
                r.body_hash,
                r.chain_hash,
            )
        nxt = int(rows[-1].seq) + 1


def insert_log(conn: Connection, records: Iterable[LogRecord]) -> None:
    """Insert log records exactly as they were written (their seq, times and hashes).

    For restore and engine migration: the chain is carried over, never recomputed.
    """
    bulk_insert(
        conn,
        schema.log,
        [
            (
                r.seq,
                r.recorded_at,
                r.kind,
                r.actor,
                r.reason,
                r.body.decode("utf-8"),
                r.body_hash,
                r.chain_hash,
            )
            for r in records
        ],
    )


def _alembic_config(conn: Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("serialvault.store") / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def migrate_on(conn: Connection) -> None:
    """Bring the schema to head inside the caller's transaction (restore builds a
    repository in one transaction on PostgreSQL, so a failed restore leaves nothing)."""
    from alembic import command

    command.upgrade(_alembic_config(conn), "head")


class Repository:
    """A serialvault database (SQLite file or PostgreSQL database)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    @classmethod
    def open(cls, db: str | None = None, *, must_exist: bool = True) -> Repository:
        """Open the repository at ``db`` (path or URL); check it is initialised."""
        url = resolve_url(db)
        if must_exist:
            path = sqlite_path(url)
            if path is not None and not path.exists():  # connecting would create it
                raise StoreError(
                    f"no repository at {path}: the file does not exist (check the path, or"
                    " run `serialvault init`)"
                )
            working = None if path is None else RESTORE_WORKING.fullmatch(path.name)
            if working is not None:
                raise StoreError(
                    f"{path} is the working file of a restore into {working['target']}"
                    f" (process {working['pid']}), running or interrupted, not a repository:"
                    " run the restore again"
                )
        repo = cls(url)
        if must_exist:
            repo.check_initialised()
        return repo

    @property
    def display_url(self) -> str:
        return redact(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with connect(self.engine) as conn:
            yield conn

    @contextmanager
    def write_raw(self) -> Iterator[Connection]:
        """A write transaction holding the writer lock, for building a database (restore,
        scratch replays): no appender, no restore-mark check."""
        with connect(self.engine, write=True) as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[tuple[Connection, LogAppender]]:
        """A write transaction holding the writer lock, with the log appender ready."""
        with connect(self.engine, write=True) as conn:
            state = restore_state(conn)
            if state is not None:  # read under the writer lock: no restore can race it
                raise StoreError(
                    f"{self.display_url} is being restored or was replaced by a restore"
                    f" ({state}): nothing was recorded; run the command again"
                )
            appender = LogAppender(conn)
            yield conn, appender
            appender.flush()
            check_same_file(conn)

    # ------------------------------------------------------------------ schema
    def schema_revision(self, conn: Connection) -> str | None:
        """The Alembic revision the schema is at (``None`` before ``init``)."""
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        return str(rows[0][0]) if rows else None

    def revision(self) -> str | None:
        """The schema revision, ``None`` where there is no repository yet (a SQLite file
        that does not exist is not created by asking)."""
        path = sqlite_path(self.url)
        if path is not None and not path.exists():
            return None
        try:
            with self.read() as conn:
                return self.schema_revision(conn)
        except (OperationalError, DBAPIError) as exc:
            raise connection_error(self.url, exc) from None

    @staticmethod
    def head_revision() -> str:
        """The schema revision this version of serialvault reads and writes."""
        return schema.SCHEMA_VERSION

    def account_count(self) -> int:
        """How many user accounts the repository has (0 before the accounts schema)."""
        with self.read() as conn:
            if not sa.inspect(conn).has_table("users"):
                return 0
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(schema.users)).scalar_one()
            )

    def check_initialised(self) -> None:
        try:
            with self.read() as conn:
                rev = self.schema_revision(conn)
                state = None
                if rev is not None:
                    state = restore_state(conn)
        except StoreError:
            raise
        except (OperationalError, DBAPIError) as exc:
            raise connection_error(self.url, exc) from None
        if rev is None:
            raise StoreError(
                f"{self.display_url} is not a serialvault repository (no schema):"
                " run `serialvault init` first — or, if a restore into it is running, wait"
                " for it to finish (nothing was recorded)"
            )
        if state is not None:
            raise StoreError(
                f"{self.display_url} holds a restore in progress or interrupted ({state}),"
                " not a usable repository yet: nothing was recorded. Wait for a running"
                " restore to finish; if none is running, run the restore again with --force"
            )
        if rev != schema.SCHEMA_VERSION:
            raise StoreError(
                f"{self.display_url} has schema revision {rev}; this version of serialvault"
                f" uses {schema.SCHEMA_VERSION}: run `serialvault init` to migrate"
            )

    def migrate(self) -> None:
        """Create or upgrade the schema only — no records (e.g. before loading a log)."""
        try:
            with connect(self.engine, write=True) as conn:
                migrate_on(conn)
        except (OperationalError, DBAPIError) as exc:
            raise connection_error(self.url, exc) from None

    def init(self, actor: str, reason: str = "repository initialised") -> tuple[bool, Head]:
        """Create or migrate the schema; the first time, write the genesis record.

        Idempotent: on an initialised repository it only brings the schema to head.
        Returns ``(created, head)``.
        """
        try:
            with connect(self.engine, write=True) as conn:
                migrate_on(conn)
                appender = LogAppender(conn)
                if appender.seq > 0:
                    return False, read_head(conn)
                repo_id = str(uuid.uuid4())
                at = appender.now()
                conn.execute(
                    schema.meta.insert(),
                    [
                        {"key": "format", "value": LOG_FORMAT},
                        {"key": "repository_id", "value": repo_id},
                        {"key": "created_at", "value": at},
                    ],
                )
                appender.append(
                    INIT,
                    {
                        "format": LOG_FORMAT,
                        "repository_id": repo_id,
                        "schema_version": schema.SCHEMA_VERSION,
                        "tool_version": __version__,
                        "engine": conn.dialect.name,
                    },
                    actor,
                    reason,
                    at,
                )
                appender.flush()
                return True, read_head(conn)
        except (OperationalError, DBAPIError) as exc:
            raise connection_error(self.url, exc) from None

    def refresh_statistics(
        self, tables: tuple[str, ...] | None = None, threshold: float = 0.2
    ) -> list[str]:
        """Give the PostgreSQL planner fresh statistics on tables that changed a lot.

        Capture grows tables by millions of rows in long transactions, faster than
        auto-analyze follows; with statistics of a nearly empty table the planner turns
        index lookups of many keys into sequential scans. Any of ``tables`` (default: the
        log and every projection) whose modifications since its last ANALYZE exceed
        ``threshold`` of its rows is analysed. Capture calls it for ``units`` with
        ``threshold=1.0`` before each document (the table doubled: ~20 ANALYZEs on the way
        to a million units), and for everything after a capture command or a rebuild.
        A no-op on SQLite, whose planner has no such statistics here. Returns the tables
        analysed.
        """
        if self.dialect != "postgresql":
            return []
        names = (
            list(tables) if tables is not None else [t.name for t in schema.PROJECTIONS] + ["log"]
        )
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            rows = conn.exec_driver_sql(
                "SELECT relname, n_live_tup, n_mod_since_analyze FROM pg_stat_user_tables"
                " WHERE schemaname = current_schema() AND relname = ANY(%s)",
                (names,),
            ).all()
            stale = [
                str(name)
                for name, live, mods in rows
                if int(str(mods)) > max(1000, threshold * int(str(live)))
            ]
            for name in stale:
                conn.exec_driver_sql(f"ANALYZE {name}")
        return stale

    def append(self, kind: str, body: Any, actor: str, reason: str) -> LogRecord:
        """Append one record in a transaction of its own (a drill's run, a sign-off, a
        timeline): the one helper for records that are not part of a larger write."""
        with self.write() as (_conn, log):
            return log.append(kind, body, actor, reason)

    def close(self) -> None:
        """Close every pooled connection (before a file under it is renamed or removed)."""
        self.engine.dispose()

    def server_version(self) -> str | None:
        """The PostgreSQL server's version (``None`` on SQLite), for drill evidence."""
        if self.dialect != "postgresql":
            return None
        with self.read() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar_one())

    def head(self) -> Head:
        with self.read() as conn:
            return read_head(conn)

    def time_of(self, seq: int) -> str | None:
        """``recorded_at`` of log record ``seq`` (``None`` if there is none)."""
        with self.read() as conn:
            return time_at(conn, seq)

    def meta(self) -> dict[str, str]:
        with self.read() as conn:
            return {r.key: r.value for r in conn.execute(sa.select(schema.meta))}


@dataclass(frozen=True, slots=True)
class ExistingTarget:
    """What a restore target held when its writer lock was taken."""

    repository_id: str | None
    head: Head | None
    path: Path | None = None

    def swap(self, new_file: Path) -> None:
        """Rename ``new_file`` over the target (call only after checking what it holds).

        The old file's ``-wal`` and ``-shm`` go first: they belong to the old database
        and would otherwise be read as the new one's (connections still open on the old
        file keep their descriptors, so nothing of theirs reaches the new file).
        """
        assert self.path is not None
        for p in (Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
            p.unlink(missing_ok=True)
        os.replace(new_file, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def replacing_sqlite(path: Path, timeout_s: float = 60.0) -> Iterator[ExistingTarget]:
    """Hold the writer lock of the SQLite repository at ``path`` while the caller renames
    another file over it; leave a ``replaced`` tombstone in the old file.

    Order (DESIGN.md "one writer"): ``BEGIN IMMEDIATE`` waits for an active writer to
    commit (or gives up after ``timeout_s``, refusing the restore rather than cutting a
    capture off); the caller checks what the target holds, then renames; the tombstone
    commits last, so a writer that was waiting on the old file's lock finds it and
    refuses — it never acknowledges into a file that is no longer the repository. An
    existing file that is not a readable repository is replaced without ceremony.
    """
    import sqlite3

    if not path.exists():
        yield ExistingTarget(None, None, path)
        return
    try:
        con = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
    except sqlite3.Error:
        yield ExistingTarget(None, None, path)
        return
    try:
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(
                    f"cannot replace {path}: a writer has held it for more than"
                    f" {timeout_s:g} s; stop the captures (or `backup follow`) and run the"
                    " restore again"
                ) from None
            yield ExistingTarget(None, None, path)
            return
        except sqlite3.DatabaseError:
            yield ExistingTarget(None, None, path)
            return
        try:
            rid = con.execute("SELECT value FROM meta WHERE key = 'repository_id'").fetchone()
            row = con.execute(
                "SELECT seq, chain_hash, recorded_at FROM log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            existing = ExistingTarget(
                None if rid is None else str(rid[0]),
                Head(0, GENESIS, None) if row is None else Head(int(row[0]), row[1], row[2]),
                path,
            )
            usable = True
        except sqlite3.DatabaseError:  # damaged, or not a repository: nothing to protect
            existing = ExistingTarget(None, None, path)
            usable = False
        yield existing
        if usable:
            try:
                con.execute(f"DELETE FROM meta WHERE key = '{RESTORE_STATE}'")
                con.execute(f"INSERT INTO meta(key, value) VALUES ('{RESTORE_STATE}', 'replaced')")
                con.execute("COMMIT")
            except sqlite3.DatabaseError:
                pass
    finally:
        with suppress(Exception):
            con.close()


def existing_target(conn: Connection) -> ExistingTarget:
    """The repository id and head a database holds (inside the caller's transaction),
    or nothing when it holds no serialvault schema."""
    if not sa.inspect(conn).has_table("log") or not sa.inspect(conn).has_table("meta"):
        return ExistingTarget(None, None)
    rid = conn.execute(
        sa.select(schema.meta.c.value).where(schema.meta.c.key == "repository_id")
    ).scalar()
    return ExistingTarget(None if rid is None else str(rid), read_head(conn))
