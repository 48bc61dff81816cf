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
            "tables": {k: {"rows": v.rows, "sum": v.sum} for k, v in self.tables.items()},
        }


def table_sum(conn: Connection, table: sa.Table) -> TableSum:
    """Multiset hash of one table: Σ SHA-256(canonical row) mod 2^256."""
    sha = hashlib.sha256
    frm = int.from_bytes
    dumps = orjson.dumps
    total = 0
    n = 0
    cols = ", ".join(c.name for c in table.columns)
    # The driver's own cursor (server-side on PostgreSQL), inside the caller's
    # transaction: rows come as plain tuples, in bounded memory.
    raw: Any = conn.connection.driver_connection
    cur = raw.cursor(name=f"fp_{table.name}") if conn.dialect.name == "postgresql" else raw.cursor()
    try:
        cur.execute(f"SELECT {cols} FROM {table.name}")
        while True:
            chunk = cur.fetchmany(_FETCH)
            if not chunk:
                break
            total += sum(frm(sha(dumps(row)).digest(), "big") for row in chunk)
            n += len(chunk)
    finally:
        cur.close()
    return TableSum(n, format(total % _MOD, "064x"))


def combine(tables: dict[str, TableSum]) -> str:
    h = hashlib.sha256(FORMAT.encode() + b"\n")
    for name in (t.name for t in schema.PROJECTIONS):
        ts = tables[name]
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
