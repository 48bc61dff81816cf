"""Serial number pools in the database: their projections, and what capture asks of them.

The ``serials.pool``, ``serials.allocation`` and ``serials.return`` records are
replayed through :func:`apply_serials` like every other record; an allocation record
lists every serial it handed out, so replaying it rebuilds the rows exactly (EU FMD
Delegated Regulation (EU) 2016/161 Art. 4; DESIGN.md principle 1).

Commissioning (an ObjectEvent ``ADD`` — whatever its bizStep, as the lifecycle rules
commission on it — or a TransformationEvent's outputs) of SGTINs whose GTIN has a pool
is checked and recorded by :class:`SerialCheck`, set-based per batch of events, in the
capture's transaction and in replay alike: a handed-out serial becomes
``commissioned``; one the pool never handed out (or took back) is reported and, when
the capture goes ahead, kept as ``unallocated`` so that the pool never makes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.domain import serials as rules
from serialvault.domain.chain import LogRecord
from serialvault.domain.change import effective_version
from serialvault.domain.facts import EventFacts, classify_key
from serialvault.domain.records import SERIAL_ALLOCATION, SERIAL_POOL, SERIAL_RETURN
from serialvault.errors import Issue
from serialvault.store import schema
from serialvault.store.bulk import bulk_insert
from serialvault.store.changes import changes

_PG_CHUNK = 200_000
#: ``https://id.gs1.org/01/`` + GTIN-14 + ``/21/``: where the serial starts in a key.
_SERIAL_AT = 40


# --------------------------------------------------------------------------- projection


def apply_serials(conn: Connection, rec: LogRecord) -> bool:
    """Write the projection of a ``serials.*`` record; ``False`` if ``rec`` is not one."""
    if rec.kind == SERIAL_POOL:
        _apply_pool(conn, rec.seq, orjson.loads(rec.body))
    elif rec.kind == SERIAL_ALLOCATION:
        body = orjson.loads(rec.body)
        gtin = body["gtin"]
        conn.execute(
            schema.serial_allocations.insert().values(
                seq=rec.seq,
                gtin=gtin,
                target=body["to"],
                quantity=len(body["serials"]),
                recorded_at=rec.recorded_at,
            )
        )
        insert_allocated(conn, gtin, rec.seq, body["serials"], rec.body)
    elif rec.kind == SERIAL_RETURN:
        body = orjson.loads(rec.body)
        _update_in(
            conn,
            body["gtin"],
            body["serials"],
            {"status": rules.RETURNED, "returned_seq": rec.seq},
        )
    else:
        return False
    return True


def _apply_pool(conn: Connection, seq: int, body: dict[str, Any]) -> None:
    """A pool's first version also takes in the serials of its GTIN commissioned before
    it existed (``unallocated``): the pool must never make one of them. Replay reaches
    this record with the units table as it was when the record was written, so the rows
    come back the same."""
    t = schema.serial_pools
    values = {
        "alphabet": body["alphabet"],
        "length": int(body["length"]),
        "expected": int(body["expected"]),
        "low_stock": int(body["low_stock"]),
        "version": int(body["version"]),
        "last_seq": seq,
    }
    gtin = body["gtin"]
    if conn.execute(sa.select(t.c.gtin).where(t.c.gtin == gtin)).first() is not None:
        conn.execute(t.update().where(t.c.gtin == gtin).values(**values))
        return
    conn.execute(t.insert().values(gtin=gtin, first_seq=seq, **values))
    u = schema.units
    conn.execute(
        schema.serial_numbers.insert().from_select(
            ["gtin", "serial", "status", "allocation_seq", "commissioned_seq", "returned_seq"],
            sa.select(
                u.c.gtin,
                sa.func.substr(u.c.key, _SERIAL_AT + 1),
                sa.literal(rules.UNALLOCATED),
                sa.null(),
                u.c.commissioned_seq,
                sa.null(),
            ).where(u.c.kind == "sgtin", u.c.gtin == gtin),
        )
    )


# --------------------------------------------------------------------------- reading


def _pool(r: Any) -> rules.Pool:
    return rules.Pool(
        r.gtin, r.alphabet, int(r.length), int(r.expected), int(r.low_stock), int(r.version)
    )


def pools(conn: Connection, gtins: Iterable[str] | None = None) -> dict[str, rules.Pool]:
    """The pools of ``gtins`` (all pools when ``None``), by GTIN."""
    t = schema.serial_pools
    q = sa.select(t).order_by(t.c.gtin)
    if gtins is not None:
        wanted = sorted(set(gtins))
        if not wanted:
            return {}
        q = q.where(t.c.gtin.in_(wanted))
    return {r.gtin: _pool(r) for r in conn.execute(q)}


def stock(conn: Connection, pool: rules.Pool) -> rules.Stock:
    """How many of the pool's serials are in each state (one range scan of its GTIN)."""
    t = schema.serial_numbers
    counts: dict[str, int] = dict(
        conn.execute(
            sa.select(t.c.status, sa.func.count()).where(t.c.gtin == pool.gtin).group_by(t.c.status)
        ).all()
    )
    return rules.Stock(
        pool,
        int(counts.get(rules.ALLOCATED, 0)),
        int(counts.get(rules.COMMISSIONED, 0)),
        int(counts.get(rules.RETURNED, 0)),
        int(counts.get(rules.UNALLOCATED, 0)),
    )


def allocations(conn: Connection, gtin: str) -> list[dict[str, Any]]:
    """Every allocation of a GTIN, oldest first, with its serials counted by state."""
    a, n = schema.serial_allocations, schema.serial_numbers
    per: dict[int, dict[str, int]] = {}
    q = (
        sa.select(n.c.allocation_seq, n.c.status, sa.func.count())
        .where(n.c.gtin == gtin, n.c.allocation_seq.is_not(None))
        .group_by(n.c.allocation_seq, n.c.status)
    )
    for row in conn.execute(q):
        per.setdefault(int(row[0]), {})[str(row[1])] = int(row[2])
    out = []
    for r in conn.execute(sa.select(a).where(a.c.gtin == gtin).order_by(a.c.seq)):
        c = per.get(int(r.seq), {})
        out.append(
            {
                "id": rules.allocation_id(int(r.seq)),
                "seq": int(r.seq),
                "to": r.target,
                "count": int(r.quantity),
                "at": r.recorded_at,
                "allocated": c.get(rules.ALLOCATED, 0),
                "commissioned": c.get(rules.COMMISSIONED, 0),
                "returned": c.get(rules.RETURNED, 0),
            }
        )
    return out


def allocation(conn: Connection, seq: int) -> dict[str, Any] | None:
    """One allocation: its GTIN, target, time and count."""
    a = schema.serial_allocations
    r = conn.execute(sa.select(a).where(a.c.seq == seq)).first()
    if r is None:
        return None
    return {"seq": int(r.seq), "gtin": r.gtin, "to": r.target, "count": int(r.quantity)}


def allocation_serials(
    conn: Connection, gtin: str, seq: int, status: str | None = None
) -> list[str]:
    """The serials of one allocation (in one state), sorted."""
    t = schema.serial_numbers
    q = sa.select(t.c.serial).where(t.c.gtin == gtin, t.c.allocation_seq == seq)
    if status is not None:
        q = q.where(t.c.status == status)
    return sorted(r[0] for r in conn.execute(q))


State = tuple[str, int | None]


def states(conn: Connection, gtin: str, serials: Sequence[str]) -> dict[str, State]:
    """``serial -> (status, allocation seq)`` for those of ``serials`` the GTIN's pool
    knows (set-based: one query per few thousand serials on SQLite, one on PostgreSQL)."""
    out: dict[str, State] = {}
    sql = "SELECT serial, status, allocation_seq FROM serial_numbers WHERE gtin = "
    for serial, status, seq in _select_in(conn, sql, gtin, serials):
        out[serial] = (status, None if seq is None else int(seq))
    return out


def known(conn: Connection, gtin: str, serials: Sequence[str]) -> set[str]:
    """Those of ``serials`` the GTIN's pool already knows, in any state (sorted input
    probes the primary key in order: the pages each probe needs are the last one's)."""
    if conn.dialect.name == "postgresql":
        sql = "SELECT serial FROM serial_numbers WHERE gtin = "
        return {r[0] for r in _select_in(conn, sql, gtin, serials)}
    if not serials:
        return set()
    rows = conn.exec_driver_sql(
        "SELECT j.value FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM serial_numbers s"
        " WHERE s.gtin = ? AND s.serial = j.value)",
        (_json_list(serials), gtin),
    ).all()
    return {r[0] for r in rows}


def issued(conn: Connection, gtin: str) -> int:
    """How many serials the GTIN's pool has handed out, ever (from its allocations,
    not from a scan of its serials)."""
    a = schema.serial_allocations
    total: Any = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(a.c.quantity), 0)).where(a.c.gtin == gtin)
    ).scalar_one()
    return int(total)


def _select_in(
    conn: Connection, sql: str, gtin: str, serials: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (ending in ``gtin = ``) for ``serial IN serials``, in one
    statement per engine chunk, on the driver's cursor inside the caller's transaction.

    PostgreSQL splits one text parameter server-side (as ``bulk.select_in``); SQLite
    reads one JSON array with ``json_each`` — a million serials bound one by one cost
    seconds, the array a fraction of one. Serials never contain U+001F, quotes or
    backslashes (GS1 character set 82 as a pool or a key writes it)."""
    if not serials:
        return []
    raw: Any = conn.connection.driver_connection
    cur = raw.cursor()
    out: list[tuple[Any, ...]] = []
    try:
        if conn.dialect.name == "postgresql":
            for i in range(0, len(serials), _PG_CHUNK):
                text = "\x1f".join(serials[i : i + _PG_CHUNK])
                cur.execute(sql + "%s AND serial = ANY(string_to_array(%s, chr(31)))", (gtin, text))
                out += cur.fetchall()
            return out
        cur.execute(
            sql + "? AND serial IN (SELECT value FROM json_each(?))", (gtin, _json_list(serials))
        )
        return list(cur.fetchall())
    finally:
        cur.close()


def _json_list(values: Sequence[str]) -> str:
    return orjson.dumps(list(values)).decode("utf-8")


def insert_allocated(
    conn: Connection, gtin: str, seq: int, serials: Sequence[str], body: bytes
) -> None:
    """The rows of an allocation's serials: ``COPY`` on PostgreSQL; on SQLite one
    statement reading them straight out of the record's body (``json_each`` over
    ``$.serials``), so a million serials are not bound one by one."""
    if conn.dialect.name == "postgresql":
        rows = [(gtin, s, rules.ALLOCATED, seq, None, None) for s in serials]
        bulk_insert(conn, schema.serial_numbers, rows)
        return
    conn.exec_driver_sql(
        "INSERT INTO serial_numbers (gtin, serial, status, allocation_seq, commissioned_seq,"
        " returned_seq) SELECT ?, value, ?, ?, NULL, NULL FROM json_each(?, '$.serials')",
        (gtin, rules.ALLOCATED, seq, body.decode("utf-8")),
    )


def _update_in(conn: Connection, gtin: str, serials: Sequence[str], values: dict[str, Any]) -> None:
    """``UPDATE serial_numbers SET values WHERE gtin = … AND serial IN serials``."""
    if not serials:
        return
    cols = list(values)
    if conn.dialect.name == "postgresql":
        sets = ", ".join(f"{c} = %s" for c in cols)
        sql = (
            f"UPDATE serial_numbers SET {sets} WHERE gtin = %s"
            " AND serial = ANY(string_to_array(%s, chr(31)))"
        )
        for i in range(0, len(serials), _PG_CHUNK):
            text = "\x1f".join(serials[i : i + _PG_CHUNK])
            conn.exec_driver_sql(sql, (*values.values(), gtin, text))
        return
    sets = ", ".join(f"{c} = ?" for c in cols)
    conn.exec_driver_sql(
        f"UPDATE serial_numbers SET {sets} WHERE gtin = ?"
        " AND serial IN (SELECT value FROM json_each(?))",
        (*values.values(), gtin, _json_list(serials)),
    )


def policy_in_force(conn: Connection, at: str) -> dict[str, Any]:
    """The serial policy effective at ``at`` (``capture-and-flag`` before any approved
    version: a site that has not decided yet loses no document, and sees every case)."""
    history = changes(conn, object_type="serial-policy", object_key="serials")
    v = effective_version(history, at)
    return dict(v.after) if v is not None and isinstance(v.after, dict) else rules.DEFAULT_POLICY


# --------------------------------------------------------------------------- capture


@dataclass(frozen=True, slots=True)
class Unallocated:
    """A commissioned serial its GTIN's pool did not hand out, or took back."""

    fact: EventFacts
    field: str
    key: str
    gtin: str
    returned: bool

    def issue(self) -> Issue:
        why = (
            "was returned to its pool, and returned serials are never used again"
            if self.returned
            else "was never allocated from its pool"
        )
        return Issue(
            f"serial {self.key} of GTIN {self.gtin} {why} (EU FMD Art. 4)",
            rules.UNALLOCATED_SERIAL,
            event_index=self.fact.index,
            event_id=self.fact.event_id,
            event_hash=self.fact.event_hash,
            field=self.field,
            identifier=self.key,
        )


@dataclass
class SerialCheck:
    """What a batch of recorded commissioning events does to the pools: serials to mark
    ``commissioned`` (per event seq), serials never handed out to record as
    ``unallocated``, and those to report."""

    commissioned: dict[tuple[int, str], list[str]] = field(default_factory=dict)
    new: list[tuple[str, str, int]] = field(default_factory=list)
    unallocated: list[Unallocated] = field(default_factory=list)

    def write(self, conn: Connection) -> None:
        """Record the batch's effect, set-based: one UPDATE per event and GTIN (per few
        thousand serials), one bulk INSERT."""
        for (seq, gtin), serials in self.commissioned.items():
            _update_in(conn, gtin, serials, {"status": rules.COMMISSIONED, "commissioned_seq": seq})
        rows = [(g, s, rules.UNALLOCATED, None, seq, None) for g, s, seq in self.new]
        bulk_insert(conn, schema.serial_numbers, rows)


def _commissioned_keys(f: EventFacts) -> Iterable[tuple[str, str]]:
    """``(field, key)`` of every key an event commissions."""
    if f.event_type == "ObjectEvent" and f.action == "ADD":
        return ((f"epcList[{i}]", k) for i, k in enumerate(f.epcs))
    if f.event_type == "TransformationEvent":
        return ((f"outputEPCList[{i}]", k) for i, k in enumerate(f.outputs))
    return ()


def check_commissioning(
    conn: Connection, recorded: Sequence[tuple[EventFacts, int]]
) -> SerialCheck:
    """The pools' view of a batch of recorded events (``(facts, seq)``): no query at
    all when nothing is commissioned, one for the pools of the GTINs commissioned, and
    one per few thousand serials of pooled GTINs."""
    check = SerialCheck()
    wanted: dict[str, list[tuple[EventFacts, int, str, str]]] = {}
    for f, seq in recorded:
        for fld, key in _commissioned_keys(f):
            kind, gtin = classify_key(key)
            if kind == "sgtin" and gtin:
                wanted.setdefault(gtin, []).append((f, seq, fld, key))
    if not wanted:
        return check
    pooled = pools(conn, wanted)
    for gtin in sorted(pooled):
        found = states(conn, gtin, [key[_SERIAL_AT:] for _f, _s, _fld, key in wanted[gtin]])
        for f, seq, fld, key in wanted[gtin]:
            serial = key[_SERIAL_AT:]
            status, _alloc = found.get(serial, (None, None))
            if status == rules.ALLOCATED or status == rules.RETURNED:
                check.commissioned.setdefault((seq, gtin), []).append(serial)
            elif status is None:
                check.new.append((gtin, serial, seq))
            if status is None or status == rules.RETURNED:
                check.unallocated.append(Unallocated(f, fld, key, gtin, status is not None))
    return check
