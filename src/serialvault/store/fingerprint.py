"""The state fingerprint: an order-independent digest of every projection.

DESIGN.md "Fingerprint": per projection table, the sum modulo 2^256 of SHA-256 over
each row's canonical form; the repository fingerprint hashes the table sums (and row
counts) in a fixed order. A sum does not depend on scan order, so SQLite and
PostgreSQL, the original and a restored copy, a repository and its ``rebuild`` all
give the same value exactly when they hold the same rows.

Canonical row form: every column in schema order, each written as ``len:value`` with
the value as text, or ``~`` for NULL. The length prefix makes the concatenation
unambiguous; both engines produce the text themselves (``CAST … AS TEXT``), so the
bytes hashed are identical on both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.store import schema

FORMAT = "serialvault.fingerprint/1"
_MOD = 1 << 256
_FETCH = 20_000


def row_expression(table: sa.Table) -> str:
    """SQL text that renders a row of ``table`` in its canonical form."""
    parts = []
    for c in table.columns:
        v = f"CAST({c.name} AS TEXT)"
        parts.append(
            f"CASE WHEN {c.name} IS NULL THEN '~' ELSE CAST(length({v}) AS TEXT) || ':' || {v} END"
        )
    return " || ".join(parts)


def canonical_row(values: tuple[Any, ...]) -> str:
    """The same canonical form computed in Python (used by tests and replay checks)."""
    out = []
    for v in values:
        if v is None:
            out.append("~")
        else:
            s = str(v)
            out.append(f"{len(s)}:{s}")
    return "".join(out)


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
    """Multiset hash of one table: Σ SHA-256(row) mod 2^256."""
    sha = hashlib.sha256
    frm = int.from_bytes
    total = 0
    n = 0
    result = conn.exec_driver_sql(
        f"SELECT {row_expression(table)} FROM {table.name}",
        execution_options={"stream_results": True},
    )
    while True:
        chunk = result.fetchmany(_FETCH)
        if not chunk:
            break
        for (text,) in chunk:
            total += frm(sha(str(text).encode("utf-8")).digest(), "big")
        n += len(chunk)
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
