"""The peer: the fastest plain way to put the same unit rows into the same engine.

Capture does far more than insert rows (parse, validate, hash every event, run the
lifecycle engine, append to the hash-chained log, keep the hierarchy), so its rate is
judged against a floor that does nothing but insert: the *same* ``units`` rows, read back
from the captured repository before the clock starts, into a table created from the same
SQLAlchemy definition (``serialvault.store.schema.units``, so with the same primary key,
unique key and indexes) in a fresh database:

* SQLite — one prepared INSERT through ``executemany`` in one transaction, on a
  connection made by ``serialvault.store.engine.make_engine`` (so the same PRAGMAs: WAL,
  ``synchronous=FULL``, cache size …);
* PostgreSQL — ``COPY units FROM STDIN`` through psycopg 3, in one transaction.

The time includes the commit (and so the fsync), as capture's does.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from targets import PgTarget, SqliteTarget, Target

from serialvault.store import schema
from serialvault.store.engine import make_engine, resolve_url

#: Columns whose values repeat a lot; interning them keeps a million rows in memory small.
_LOW_CARDINALITY = {
    "kind",
    "gtin",
    "status",
    "disposition",
    "lot",
    "expiry",
    "biz_location",
    "read_point",
    "last_event_time",
}


#: ``PRAGMA synchronous`` answers a number (SQLite docs, "PRAGMA synchronous").
_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


@dataclass(frozen=True, slots=True)
class PeerRun:
    run: int
    method: str
    rows: int
    seconds: float
    settings: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": self.rows / self.seconds}


def unit_columns() -> list[str]:
    return [c.name for c in schema.units.columns]


def read_unit_rows(url: str) -> list[tuple[Any, ...]]:
    """Every ``units`` row of the repository at ``url``, in id order (untimed)."""
    cols = unit_columns()
    interned = [c in _LOW_CARDINALITY for c in cols]
    engine = make_engine(resolve_url(url))
    try:
        with engine.connect() as conn:
            result = conn.exec_driver_sql(f"SELECT {', '.join(cols)} FROM units ORDER BY id")
            rows = [
                tuple(
                    sys.intern(v) if flag and isinstance(v, str) else v
                    for v, flag in zip(r, interned, strict=True)
                )
                for r in result
            ]
    finally:
        engine.dispose()
    return rows


def index_signature(url: str) -> list[str]:
    """The ``units`` table's keys and indexes, as comparable text (names ignored)."""
    engine = make_engine(resolve_url(url))
    try:
        insp = sa.inspect(engine)
        sig = [f"primary key ({', '.join(insp.get_pk_constraint('units')['constrained_columns'])})"]
        for uc in insp.get_unique_constraints("units"):
            sig.append(f"unique ({', '.join(str(c) for c in uc['column_names'])})")
        for ix in insp.get_indexes("units"):
            cols = ", ".join(str(c) for c in ix["column_names"])
            sig.append(f"{'unique ' if ix['unique'] else ''}index ({cols})")
        return sorted(set(sig))
    finally:
        engine.dispose()


def _create_table(url: str) -> None:
    engine = make_engine(resolve_url(url))
    try:
        schema.metadata.create_all(engine, tables=[schema.units])
    finally:
        engine.dispose()


def _sqlite_insert(target: SqliteTarget, rows: list[tuple[Any, ...]], run: int) -> PeerRun:
    cols = unit_columns()
    engine = make_engine(resolve_url(target.url))
    try:
        raw = engine.raw_connection()
        try:
            db = raw.driver_connection
            assert db is not None
            journal = db.execute("PRAGMA journal_mode").fetchone()[0]
            sync = db.execute("PRAGMA synchronous").fetchone()[0]
            cache = db.execute("PRAGMA cache_size").fetchone()[0]
            settings = (
                f"journal_mode={journal}, synchronous={_SYNCHRONOUS.get(sync, sync)},"
                f" cache_size={cache}"
            )
            insert = f"INSERT INTO units ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            t0 = time.perf_counter_ns()
            db.execute("BEGIN IMMEDIATE")
            db.executemany(insert, rows)
            db.execute("COMMIT")
            seconds = (time.perf_counter_ns() - t0) / 1e9
        finally:
            raw.close()
    finally:
        engine.dispose()
    return PeerRun(
        run, "executemany, one prepared INSERT, one transaction", len(rows), seconds, settings
    )


def _pg_copy(target: PgTarget, rows: list[tuple[Any, ...]], run: int) -> PeerRun:
    cols = unit_columns()
    with psycopg.connect(target.url) as conn:
        setting = conn.execute("SHOW synchronous_commit").fetchone()
        settings = f"synchronous_commit={setting[0] if setting else '?'}"
        t0 = time.perf_counter_ns()
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY units ({', '.join(cols)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.commit()
        seconds = (time.perf_counter_ns() - t0) / 1e9
    return PeerRun(
        run, "COPY units FROM STDIN (psycopg 3), one transaction", len(rows), seconds, settings
    )


def raw_insert(target: Target, rows: list[tuple[Any, ...]], run: int) -> PeerRun:
    """Insert ``rows`` into a fresh database's ``units`` table; time the insert + commit."""
    target.reset()
    _create_table(target.url)
    if isinstance(target, SqliteTarget):
        return _sqlite_insert(target, rows, run)
    return _pg_copy(target, rows, run)
