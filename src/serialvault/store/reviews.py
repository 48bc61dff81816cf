"""What the audit-trail and access reviews read from the database.

The audit-trail review reads every record of a period: :func:`stream_log` yields the
rows in seq order, chunk by chunk (one primary-key range query per chunk, on both
engines), so a review of millions of records holds one chunk in memory at a time. The
other functions are the few aggregate questions the access review asks of the log, each
answered by an index (``kind``, ``recorded_at``) or one grouped scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.domain.records import LOGIN
from serialvault.store import schema
from serialvault.store.repository import records_of_kind

#: Rows per query: large enough that the round trips do not count, small enough that a
#: chunk of bodies stays a few MiB.
CHUNK = 20_000


def _first_at_or_after(conn: Connection, at: str) -> int | None:
    lg = schema.log
    value = conn.execute(
        sa.select(lg.c.seq)
        .where(lg.c.recorded_at >= at)
        .order_by(lg.c.recorded_at, lg.c.seq)
        .limit(1)
    ).scalar()
    return None if value is None else int(value)


def seq_before(conn: Connection, at: str) -> int:
    """The last seq recorded before ``at`` (0 when none is)."""
    after = _first_at_or_after(conn, at)
    if after is not None:
        return after - 1
    lg = schema.log
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(lg.c.seq), 0))).scalar_one())


def period_bounds(conn: Connection, start: str, end: str) -> tuple[int | None, int]:
    """The first seq recorded in ``[start, end)`` (``None`` when it holds no record) and
    the last seq recorded before ``end``. ``recorded_at`` never decreases, so a period
    is one seq range, found by look-ups in the ``recorded_at`` index."""
    last = seq_before(conn, end)
    first = _first_at_or_after(conn, start)
    if first is None or first > last:
        return None, last
    return first, last


def stream_log(
    conn: Connection, first: int, last: int, chunk: int = CHUNK
) -> Iterator[tuple[Any, ...]]:
    """Rows ``(seq, recorded_at, kind, actor, reason, body, body_hash, chain_hash)`` with
    ``first <= seq <= last``, in seq order, read ``chunk`` rows per query."""
    lg = schema.log
    cols = (
        lg.c.seq,
        lg.c.recorded_at,
        lg.c.kind,
        lg.c.actor,
        lg.c.reason,
        lg.c.body,
        lg.c.body_hash,
        lg.c.chain_hash,
    )
    nxt = first
    while nxt <= last:
        stop = min(last, nxt + chunk - 1)
        rows = conn.execute(
            sa.select(*cols).where(lg.c.seq >= nxt, lg.c.seq <= stop).order_by(lg.c.seq)
        ).all()
        yield from rows
        nxt = stop + 1


def bodies_of_kind(
    conn: Connection, kind: str, before: int | None = None
) -> list[tuple[int, str, str, dict[str, Any]]]:
    """``(seq, recorded_at, actor, body)`` of every record of ``kind`` (below seq
    ``before`` if given), in log order."""
    return [
        (r.seq, r.recorded_at, r.actor, orjson.loads(r.body))
        for r in records_of_kind(conn, kind)
        if before is None or r.seq < before
    ]


def last_logins(conn: Connection) -> dict[str, str]:
    """Each user's last log-in time (the ``auth.login`` records, by the kind index)."""
    lg = schema.log
    rows = conn.execute(
        sa.select(lg.c.actor, sa.func.max(lg.c.recorded_at))
        .where(lg.c.kind == LOGIN)
        .group_by(lg.c.actor)
    )
    return {str(a): str(t) for a, t in rows}


def last_activity(conn: Connection) -> dict[str, str]:
    """Each actor's last record time (one grouped scan of the log: a service account
    never logs in, its tokens act)."""
    lg = schema.log
    rows = conn.execute(sa.select(lg.c.actor, sa.func.max(lg.c.recorded_at)).group_by(lg.c.actor))
    return {str(a): str(t) for a, t in rows}
