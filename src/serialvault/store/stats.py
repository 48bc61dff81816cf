"""Sizes and growth of a repository, read with grouped scans (for ``backup inventory``
and ``backup plan``).

Capacity planning needs what is held and how fast it grows per data kind (EU GMP
Annex 11 §7.1: data secured by physical and electronic means against damage — which
starts with knowing what there is to secure). Each figure is one set-based statement
over the log or the catalogue of the engine, never a scan per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.store import schema
from serialvault.timefmt import parse_timestamp, utc_iso


def _octets(conn: Connection, col: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return sa.func.octet_length(col)
    return sa.func.length(sa.cast(col, sa.LargeBinary))


def table_bytes(conn: Connection) -> dict[str, int] | None:
    """Bytes on disk per table, indexes included (``None`` where the engine cannot say)."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            sa.text(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
        ).all()
        return {str(r[0]): int(r[1]) for r in rows}
    try:
        rows = conn.execute(
            sa.text(
                "SELECT m.tbl_name, sum(s.pgsize) FROM dbstat s"
                " JOIN sqlite_master m ON m.name = s.name GROUP BY m.tbl_name"
            )
        ).all()
    except sa.exc.OperationalError:  # SQLite built without the dbstat table
        return None
    return {str(r[0]): int(r[1]) for r in rows}


def database_bytes(conn: Connection) -> int:
    if conn.dialect.name == "postgresql":
        return int(
            conn.execute(
                sa.text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).scalar_one()
        )
    pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
    size = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())
    return pages * size


@dataclass
class LogStats:
    """Counts and bytes of log records by kind, over all time and over a window."""

    by_kind: dict[str, dict[str, Any]]
    window_by_kind: dict[str, dict[str, int]]
    window_days: float
    peak_records_per_minute: int
    first_at: str | None
    last_at: str | None
    head_seq: int


def log_stats(conn: Connection, window_days: float, now: str) -> LogStats:
    """One grouped scan of the log for all time, one for the window (set-based)."""
    lg = schema.log
    octets = _octets(conn, lg.c.body)
    rows = conn.execute(
        sa.select(
            lg.c.kind,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(octets), 0),
            sa.func.min(lg.c.recorded_at),
            sa.func.max(lg.c.recorded_at),
        ).group_by(lg.c.kind)
    ).all()
    by_kind = {
        str(r[0]): {"records": int(r[1]), "bytes": int(r[2]), "first": r[3], "last": r[4]}
        for r in rows
    }
    since = utc_iso(parse_timestamp(now) - timedelta(days=window_days))
    wrows = conn.execute(
        sa.select(lg.c.kind, sa.func.count(), sa.func.coalesce(sa.func.sum(octets), 0))
        .where(lg.c.recorded_at >= since)
        .group_by(lg.c.kind)
    ).all()
    window = {str(r[0]): {"records": int(r[1]), "bytes": int(r[2])} for r in wrows}
    minute = sa.func.substr(lg.c.recorded_at, 1, 16)
    peak = conn.execute(
        sa.select(sa.func.count())
        .where(lg.c.recorded_at >= since)
        .group_by(minute)
        .order_by(sa.func.count().desc())
        .limit(1)
    ).scalar()
    firsts = [v["first"] for v in by_kind.values() if v["first"]]
    lasts = [v["last"] for v in by_kind.values() if v["last"]]
    head = conn.execute(sa.select(sa.func.max(lg.c.seq))).scalar()
    return LogStats(
        by_kind,
        window,
        window_days,
        int(peak or 0),
        min(firsts, default=None),
        max(lasts, default=None),
        int(head or 0),
    )


def table_rows(conn: Connection) -> dict[str, int]:
    """Rows per table of the schema."""
    return {
        t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
        for t in schema.metadata.sorted_tables
    }
