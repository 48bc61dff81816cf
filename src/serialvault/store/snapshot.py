"""Load the state a batch of events needs — set-based, a few queries per batch.

The lifecycle engine is pure, so before it runs the store loads everything the events
can reach: the identifiers they name, the complete subtree under each of them
(shipping or destroying a pallet reaches every unit inside), the ancestors of each
(cycle check), the products and lots involved, and prior events with the same hash or
eventID (duplicates, error declarations). Each step is one query per few thousand
keys (``IN`` lists on SQLite, ``= ANY(array)`` on PostgreSQL), never one per EPC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from serialvault.domain.facts import EventFacts
from serialvault.domain.lifecycle import (
    EventRef,
    HistoryItem,
    Snapshot,
    Unit,
    gtins_of,
    referenced_keys,
)
from serialvault.domain.records import facts_from_body
from serialvault.store import schema
from serialvault.store.bulk import select_in

UNIT_COLUMNS = ", ".join(c.name for c in schema.units.columns)


def _unit(row: Sequence[Any]) -> Unit:
    return Unit(*row)


def max_unit_id(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM units").scalar_one())


def load_snapshot(
    conn: Connection,
    facts: Sequence[EventFacts],
    next_id: int,
    extra_products: Iterable[str] = (),
) -> Snapshot:
    """Everything ``facts`` can touch, ready for the lifecycle engine."""
    sel = f"SELECT {UNIT_COLUMNS} FROM units"
    keys = referenced_keys(facts)
    units: dict[str, Unit] = {}
    by_id: dict[int, Unit] = {}
    for row in select_in(conn, sel, "key", keys):
        u = _unit(row)
        units[u.key] = u
        by_id[u.id] = u

    children, complete = _load_subtrees(conn, sel, units, by_id)
    _load_ancestors(conn, sel, units, by_id, children)
    gtins = gtins_of(facts) | set(extra_products)
    products = {r[0] for r in select_in(conn, "SELECT gtin FROM products", "gtin", gtins)}
    lots = _load_lots(conn, facts)
    snap = Snapshot(
        units=units,
        children=children,
        complete=complete,
        products=products,
        lots=lots,
        next_id=next_id,
    )
    _load_event_refs(conn, facts, snap)
    if any(f.declaration is not None for f in facts):
        _load_histories(conn, facts, snap)
    return snap


def _load_subtrees(
    conn: Connection, sel: str, units: dict[str, Unit], by_id: dict[int, Unit]
) -> tuple[dict[int, set[int]], set[int]]:
    """Complete subtrees below every named identifier, level by level. Only containers
    (``is_container``) can have children: the others' (empty) subtrees are complete
    without asking — a pallet's 4,800 units are never probed for children."""
    children: dict[int, set[int]] = {}
    complete: set[int] = set()
    frontier = list(by_id)
    while frontier:
        complete.update(frontier)
        for uid in frontier:
            children.setdefault(uid, set())
        nxt: list[int] = []
        parents = [uid for uid in frontier if by_id[uid].is_container]
        for row in select_in(conn, sel, "parent_id", parents):
            u = by_id.get(row[0]) or _unit(row)
            if u.id not in by_id:
                units[u.key] = u
                by_id[u.id] = u
            assert u.parent_id is not None
            children.setdefault(u.parent_id, set()).add(u.id)
            if u.id not in complete:
                nxt.append(u.id)
        frontier = nxt
    return children, complete


def _load_ancestors(
    conn: Connection,
    sel: str,
    units: dict[str, Unit],
    by_id: dict[int, Unit],
    children: dict[int, set[int]],
) -> None:
    """Every ancestor of what is loaded (their own children sets stay incomplete: they
    are never walked downwards)."""
    missing = {u.parent_id for u in by_id.values() if u.parent_id is not None} - by_id.keys()
    while missing:
        found = select_in(conn, sel, "id", missing)
        missing = set()
        for row in found:
            u = _unit(row)
            units[u.key] = u
            by_id[u.id] = u
            children.setdefault(u.id, set())
        for u in by_id.values():
            if u.parent_id is not None and u.parent_id not in by_id:
                missing.add(u.parent_id)
        if not found:
            break
    for u in by_id.values():
        if u.parent_id is not None:
            children.setdefault(u.parent_id, set()).add(u.id)


def _load_lots(conn: Connection, facts: Sequence[EventFacts]) -> dict[tuple[str, str], str | None]:
    """The known expiry of every (GTIN, lot) the events commission."""
    lot_keys = {
        (k[22:36], f.lot) for f in facts if f.lot for k in (*f.epcs, *f.outputs) if k[22:36]
    }
    lots: dict[tuple[str, str], str | None] = {}
    lot_gtins = {g for g, _ in lot_keys}
    for gtin, lot, expiry in select_in(
        conn, "SELECT gtin, lot, expiry FROM lots", "gtin", lot_gtins
    ):
        if (gtin, lot) in lot_keys:
            lots[(gtin, lot)] = expiry
    return lots


_EVENT_REF_SQL = "SELECT seq, event_hash, event_id, declares_seq, declared_by_seq FROM events"


def _ref(row: Sequence[Any]) -> EventRef:
    return EventRef(int(row[0]), row[1], row[2], row[3] is not None, row[4])


def _load_event_refs(conn: Connection, facts: Sequence[EventFacts], snap: Snapshot) -> None:
    hashes = {f.event_hash for f in facts}
    for row in select_in(conn, _EVENT_REF_SQL, "event_hash", hashes):
        snap.events_by_hash.setdefault(row[1], []).append(_ref(row))
    ids = {f.event_id for f in facts if f.event_id}
    for row in select_in(conn, _EVENT_REF_SQL, "event_id", ids):
        snap.events_by_id.setdefault(row[2], []).append(_ref(row))


def _load_declaration(conn: Connection, seq: int, snap: Snapshot) -> None:
    for _, body in select_in(conn, "SELECT seq, body FROM log", "seq", [seq]):
        decl = orjson.loads(body)["event"].get("errorDeclaration")
        if isinstance(decl, dict):
            snap.declarations[seq] = decl


def _load_histories(conn: Connection, facts: Sequence[EventFacts], snap: Snapshot) -> None:
    """For each declared original, the complete effect history of every unit it touched."""
    originals: set[int] = set()
    for f in facts:
        if f.declaration is None:
            continue
        refs = [r for r in snap.events_by_id.get(f.event_id or "", ()) if not r.is_declaration]
        refs = refs or [
            r for r in snap.events_by_hash.get(f.event_hash, ()) if not r.is_declaration
        ]
        originals.update(r.seq for r in refs)
        for r in refs:
            if r.declared_by_seq is not None:
                _load_declaration(conn, r.declared_by_seq, snap)
    if not originals:
        return
    affected = {r[0] for r in select_in(conn, "SELECT unit_id FROM event_epcs", "seq", originals)}
    if not affected:
        return
    rows = select_in(conn, "SELECT unit_id, seq, role FROM event_epcs", "unit_id", affected)
    seqs = {r[1] for r in rows}
    bodies = {int(r[0]): r[1] for r in select_in(conn, "SELECT seq, body FROM log", "seq", seqs)}
    declared = {
        int(r[0])
        for r in select_in(conn, "SELECT seq, declared_by_seq FROM events", "seq", seqs)
        if r[1] is not None
    }
    facts_by_seq = {seq: facts_from_body(body)[0] for seq, body in bodies.items()}
    parent_keys = {f.parent for f in facts_by_seq.values() if f.parent}
    sel = f"SELECT {UNIT_COLUMNS} FROM units"
    for row in select_in(conn, sel, "key", parent_keys - snap.units.keys()):
        u = _unit(row)
        snap.units[u.key] = u
        snap.children.setdefault(u.id, set())
    key_to_id = {k: u.id for k, u in snap.units.items()}
    missing_units = affected - {u.id for u in snap.units.values()}
    for row in select_in(conn, sel, "id", missing_units):
        u = _unit(row)
        snap.units[u.key] = u
        snap.children.setdefault(u.id, set())
    for unit_id, seq, role in rows:
        f = facts_by_seq[seq]
        pid = key_to_id.get(f.parent) if role == "child" and f.parent else None
        snap.histories.setdefault(int(unit_id), []).append(
            HistoryItem(int(seq), role, f, pid, int(seq) in declared)
        )
