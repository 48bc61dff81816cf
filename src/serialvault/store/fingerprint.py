"""The state fingerprint: an order-independent digest of every projection.

DESIGN.md "Fingerprint": per projection table, the sum modulo 2^256 of SHA-256 over
each row's canonical form; the repository fingerprint hashes the table sums (and row
counts) in a fixed order. A sum does not depend on scan order, so SQLite and
PostgreSQL, the original and a restored copy, a repository and its ``rebuild`` all
give the same value exactly when they hold the same rows.

Canonical row form: the row's values in schema order as a compact JSON array
(``[17,"https://id.gs1.org/…","sgtin",null,…]``, serialised by ``orjson``). JSON keeps
what a delimited string would blur — NULL vs the text "None", 1 vs "1" — and every
projection column is TEXT or INTEGER, which both drivers return as the same Python
``str``/``int``, so the bytes hashed are identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.store import schema

FORMAT = "serialvault.fingerprint/1"
_MOD = 1 << 256
_FETCH = 20_000


def canonical_row(values: tuple[Any, ...] | list[Any]) -> bytes:
    """The bytes a row contributes to its table's sum (a tuple dumps as a JSON array)."""
    return orjson.dumps(values)


@dataclass(frozen=True, slots=True)
class TableSum:
    rows: int
    sum: str


@dataclass(slots=True)
class Fingerprint:
    """The repository fingerprint, with the per-table sums it is made of."""

    value: str
    tables: dict[str, TableSum] = field(default_factory=dict)
    head_seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "fingerprint": self.value,
            "head_seq": self.head_seq,
            "tables": {str(k): {"rows": v.rows, "sum": v.sum} for k, v in self.tables.items()},
        }


def table_sum(
    conn: Connection, table: sa.Table, key_range: tuple[str, int, int] | None = None
) -> TableSum:
    """Multiset hash of one table: Σ SHA-256(canonical row) mod 2^256.

    ``key_range`` (column, low, high) limits it to ``low <= column < high``: the sums of
    disjoint ranges add up to the table's (the sum is of a multiset), which is what lets
    :func:`fingerprint_parallel` split a table across processes.
    """
    sha = hashlib.sha256
    frm = int.from_bytes
    dumps = orjson.dumps
    total = 0
    n = 0
    cols = ", ".join(c.name for c in table.columns)
    # The driver's own cursor (server-side on PostgreSQL), inside the caller's
    # transaction: rows come as plain tuples, in bounded memory.
    raw: Any = conn.connection.driver_connection
    pg = conn.dialect.name == "postgresql"
    cur = raw.cursor(name=f"fp_{table.name}") if pg else raw.cursor()
    try:
        if key_range is None:
            cur.execute(f"SELECT {cols} FROM {table.name}")
        else:
            col, lo, hi = key_range
            ph = "%s" if conn.dialect.name == "postgresql" else "?"
            cur.execute(
                f"SELECT {cols} FROM {table.name} WHERE {col} >= {ph} AND {col} < {ph}", (lo, hi)
            )
        while True:
            chunk = cur.fetchmany(_FETCH)
            if not chunk:
                break
            total += sum(frm(sha(dumps(row)).digest(), "big") for row in chunk)
            n += len(chunk)
    finally:
        cur.close()
    return TableSum(n, format(total % _MOD, "064x"))


# --------------------------------------------------------------------------- parallel

#: Integer column each large projection is split on (its primary key's first column).
SPLIT_ON = {"units": "id", "events": "seq", "event_epcs": "unit_id", "exceptions": "seq"}
#: Ranges per splittable table per worker (more pieces than workers balance the load).
PIECES_PER_WORKER = 2


@dataclass(frozen=True, slots=True)
class ReadSource:
    """Where a worker process reads the same state from.

    ``sqlite_file``: a database file nobody writes while the fingerprint runs (a backup's
    temporary copy, a restored file), opened read-only. ``url`` + ``snapshot``: a
    PostgreSQL database and a snapshot exported by the caller's ``REPEATABLE READ``
    transaction (``pg_export_snapshot()``), so every worker sees exactly the caller's state.
    """

    sqlite_file: str | None = None
    url: str | None = None
    snapshot: str | None = None


def _range_task(
    source: ReadSource, table_name: str, key_range: tuple[str, int, int] | None
) -> tuple[str, int, int]:
    table = schema.metadata.tables[table_name]
    if source.sqlite_file is not None:
        import sqlite3

        uri = f"file:{source.sqlite_file}?mode=ro"
        engine = sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
        try:
            with engine.connect() as conn:
                ts = table_sum(conn, table, key_range)
        finally:
            engine.dispose()
    else:
        from serialvault.store.engine import connect, make_engine

        assert source.url is not None
        engine = make_engine(source.url)
        try:
            with connect(engine) as conn:
                if source.snapshot:
                    conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{source.snapshot}'")
                ts = table_sum(conn, table, key_range)
        finally:
            engine.dispose()
    return table_name, ts.rows, int(ts.sum, 16)


def fingerprint_pool(workers: int = 2) -> Any:
    """Worker processes for :func:`start_fingerprint`, forked *now*.

    Call it before starting threads (sealing, feeding): a process forked while another
    thread holds a library lock could inherit that lock held. ``None`` without fork.
    """
    from serialvault.store.workers import worker_pool

    pool = worker_pool(workers)
    if pool is not None:
        pool.submit(int).result()  # with fork, every worker starts at the first submit
    return pool


@dataclass
class PendingFingerprint:
    """A fingerprint being computed by worker processes; :meth:`result` collects it."""

    futures: list[Any]
    head: int

    def result(self) -> Fingerprint:
        sums: dict[str, list[int]] = {t.name: [0, 0] for t in schema.PROJECTIONS}
        for fut in self.futures:
            name, rows, total = fut.result()
            sums[name][0] += rows
            sums[name][1] += total
        tables = {k: TableSum(v[0], format(v[1] % _MOD, "064x")) for k, v in sums.items()}
        return Fingerprint(combine(tables), tables, self.head)


def start_fingerprint(conn: Connection, source: ReadSource, pool: Any) -> PendingFingerprint:
    """Start :func:`fingerprint` in ``pool``'s processes, reading ``source``.

    ``conn`` must see the same state as ``source``: it plans the key ranges and reads the
    head. Hashing is Python per row, so threads would share one core; processes use them
    all, and the caller's thread is free meanwhile (a backup seals or copies the snapshot).
    """
    workers = max(1, getattr(pool, "_max_workers", 2))
    tasks: list[tuple[str, tuple[str, int, int] | None]] = []
    for t in schema.PROJECTIONS:
        col = SPLIT_ON.get(t.name)
        row = (
            conn.execute(sa.select(sa.func.min(t.c[col]), sa.func.max(t.c[col]))).one()
            if col
            else None
        )
        if col is None or row is None or row[0] is None:
            tasks.append((t.name, None))
            continue
        lo, hi = int(row[0]), int(row[1])
        pieces = workers * PIECES_PER_WORKER
        step = max(1, (hi - lo + pieces) // pieces)
        start = lo
        while start <= hi:
            tasks.append((t.name, (col, start, start + step)))
            start += step
    head: int = conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(schema.log.c.seq), 0))
    ).scalar_one()
    futures = [pool.submit(_range_task, source, name, rng) for name, rng in tasks]
    return PendingFingerprint(futures, int(head))


def fingerprint_parallel(conn: Connection, source: ReadSource, workers: int = 2) -> Fingerprint:
    """:func:`fingerprint` computed by ``workers`` processes (serially without fork)."""
    pool = fingerprint_pool(workers)
    if pool is None:
        return fingerprint(conn)
    with pool:
        return start_fingerprint(conn, source, pool).result()


def combine(tables: dict[str, TableSum]) -> str:
    h = hashlib.sha256(FORMAT.encode() + b"\n")
    for name in (t.name for t in schema.PROJECTIONS):
        ts = tables[name]
        if ts.rows == 0 and name in schema.LATER_PROJECTIONS:
            continue
        h.update(f"{name}:{ts.rows}:{ts.sum}\n".encode())
    return h.hexdigest()


def fingerprint(conn: Connection, on_table: Callable[[str], None] | None = None) -> Fingerprint:
    """Fingerprint of the projections as seen by ``conn``'s transaction."""
    tables: dict[str, TableSum] = {}
    for t in schema.PROJECTIONS:
        if on_table:
            on_table(t.name)
        tables[t.name] = table_sum(conn, t)
    head: int = conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(schema.log.c.seq), 0))
    ).scalar_one()
    return Fingerprint(combine(tables), tables, int(head))
