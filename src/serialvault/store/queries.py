"""Read side: a unit's state and history, container contents and ancestors, and events
filtered like the EPCIS 2.0 query interface (EPCIS 2.0 §8.2.7.1, SimpleEventQuery).

Every query is a handful of indexed statements, independent of the repository size:
contents and ancestors are one recursive CTE over ``units.parent_id``; a unit's history
is one join over ``event_epcs`` (primary key ``(unit_id, seq, role)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.domain.facts import classify_key
from serialvault.domain.lifecycle import UNIT_MUTABLE
from serialvault.epcis.vocab import normalize_bizstep, normalize_disposition
from serialvault.errors import NotFound, ValidationError
from serialvault.gs1.convert import element_string_to_digital_link
from serialvault.gs1.epc import canonical_key
from serialvault.store import schema
from serialvault.store.bulk import select_in
from serialvault.timefmt import normalize_timestamp

#: What ``unit_state`` shows: identity, then every column events change.
_UNIT_FIELDS = ("key", "kind", "gtin", *(c for c in UNIT_MUTABLE if c != "parent_id"))


def resolve_key(text: str) -> str:
    """The canonical key of an identifier typed by a user.

    Accepts an EPC URN, a GS1 Digital Link URI, or a GS1 element string / scan in
    parentheses or FNC1 form (``(01)…(21)…``, ``(00)…``) — what an operator has in hand.
    """
    value = text.strip()
    if ":" not in value:
        year = datetime.now(UTC).year
        return canonical_key(element_string_to_digital_link(value, reference_year=year))
    return canonical_key(value)


def _unit_id(conn: Connection, key: str) -> int:
    uid = conn.execute(sa.select(schema.units.c.id).where(schema.units.c.key == key)).scalar()
    if uid is None:
        raise NotFound(f"{key} is not recorded in this repository")
    return int(uid)


def unit_state(conn: Connection, key: str) -> dict[str, Any]:
    """Current state of one identifier, with its parent, product and number of children."""
    u, p = schema.units.alias("u"), schema.units.alias("p")
    row = (
        conn.execute(
            sa.select(*(u.c[f] for f in _UNIT_FIELDS), u.c.id, p.c.key.label("parent"))
            .select_from(u.outerjoin(p, p.c.id == u.c.parent_id))
            .where(u.c.key == key)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"{key} is not recorded in this repository")
    out = dict(row)
    uid = out.pop("id")
    out["children"] = conn.execute(
        sa.select(sa.func.count()).where(schema.units.c.parent_id == uid)
    ).scalar_one()
    if out["gtin"]:
        prod = conn.execute(
            sa.select(schema.products.c.name, schema.products.c.ndc).where(
                schema.products.c.gtin == out["gtin"]
            )
        ).first()
        out["product"] = {"name": prod.name, "ndc": prod.ndc} if prod else None
    return out


_HISTORY_SQL = (
    "SELECT e.seq, ee.role, e.event_type, e.action, e.biz_step, e.disposition, e.event_time,"
    " e.event_time_offset, e.record_time, e.read_point, e.biz_location, e.event_id,"
    " e.event_hash, e.declares_seq, e.declared_by_seq"
    " FROM event_epcs ee JOIN events e ON e.seq = ee.seq WHERE ee.unit_id = {p} ORDER BY e.seq"
)
_HISTORY_COLS = (
    "seq",
    "role",
    "event_type",
    "action",
    "biz_step",
    "disposition",
    "event_time",
    "event_time_offset",
    "record_time",
    "read_point",
    "biz_location",
    "event_id",
    "event_hash",
    "declares_seq",
    "declared_by_seq",
)


def _param(conn: Connection) -> str:
    return "%s" if conn.dialect.name == "postgresql" else "?"


def unit_history(conn: Connection, key: str) -> list[dict[str, Any]]:
    """Every event that touched the unit, oldest first, with how it was touched.

    ``role`` says how: ``epc`` (named in epcList), ``parent``/``child`` (aggregation),
    ``input``/``output`` (transformation), or ``via`` (reached through its container —
    a shipment of the pallet it sits on).
    """
    uid = _unit_id(conn, key)
    rows = conn.exec_driver_sql(_HISTORY_SQL.format(p=_param(conn)), (uid,)).all()
    return [dict(zip(_HISTORY_COLS, r, strict=True)) for r in rows]


@dataclass(slots=True)
class Contents:
    """What a container holds, at any depth, as columns.

    Row *i* is ``depths[i]`` (1 = directly inside), ``keys[i]``, ``kinds[i]``,
    ``parents[i]``, in level order and, within a level, by parent and key (the index
    order). Columns rather than one object per row because a pallet holds thousands of
    units and this query has a latency budget: each column is built by C-level list
    operations. :attr:`rows` and :meth:`as_dicts` give the row-wise forms.
    """

    container: str
    depths: list[int]
    keys: list[str]
    kinds: list[str]
    parents: list[str]

    columns = ("depth", "key", "kind", "parent")

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def rows(self) -> list[tuple[int, str, str, str]]:
        return list(zip(self.depths, self.keys, self.kinds, self.parents, strict=True))

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]


_LEVEL_SQL = "SELECT id, key, kind, parent_id, is_container FROM units"


def contents(conn: Connection, key: str, max_depth: int | None = None) -> Contents:
    """Everything inside a container, at any depth (or down to ``max_depth``).

    One query per level of the hierarchy (``parent_id IN`` the containers of the
    previous level), answered from the covering index ``(parent_id, key, kind,
    is_container)`` alone: a pallet is two index range scans however many units it
    holds, and leaves are never probed for children; rows come in index order, so no
    sort. (A recursive CTE was measured slower: it probes the index once per row through
    a queue.)
    """
    root = _unit_id(conn, key)
    out = Contents(key, [], [], [], [])
    names: dict[int, str] = {root: key}
    frontier = [root]
    depth = 0
    while frontier and (max_depth is None or depth < max_depth):
        depth += 1
        found = select_in(conn, _LEVEL_SQL, "parent_id", frontier, order_by="parent_id, key")
        if not found:
            break
        ids, keys, kinds, parent_ids, containers = zip(*found, strict=True)
        out.depths.extend([depth] * len(ids))
        out.keys.extend(keys)
        out.kinds.extend(kinds)
        out.parents.extend(map(names.__getitem__, parent_ids))
        frontier = list(compress(ids, containers))
        names = dict(zip(frontier, compress(keys, containers), strict=True))
    return out


_DETAIL_COLS = ("key", "gtin", "status", "disposition", "lot", "expiry")


def contents_detail(
    conn: Connection, key: str, max_depth: int | None = None
) -> list[dict[str, Any]]:
    """:func:`contents` with each identifier's current state (GTIN, status, lot, expiry)."""
    found = contents(conn, key, max_depth)
    state = {
        r[0]: r
        for r in select_in(conn, f"SELECT {', '.join(_DETAIL_COLS)} FROM units", "key", found.keys)
    }
    out = []
    for depth, ukey, kind, parent in found.rows:
        s = state[ukey]
        out.append(
            {
                "depth": depth,
                "key": ukey,
                "kind": kind,
                "gtin": s[1],
                "status": s[2],
                "disposition": s[3],
                "lot": s[4],
                "expiry": s[5],
                "parent": parent,
            }
        )
    return out


_ANCESTORS_SQL = (
    "WITH RECURSIVE up(id, parent_id, depth) AS ("
    " SELECT id, parent_id, 0 FROM units WHERE key = {p}"
    " UNION ALL SELECT u.id, u.parent_id, a.depth + 1 FROM units u JOIN up a ON u.id = a.parent_id"
    " WHERE a.depth < 64)"
    " SELECT a.depth, u.key, u.kind, u.gtin, u.status FROM up a JOIN units u ON u.id = a.id"
    " WHERE a.depth > 0 ORDER BY a.depth"
)


def ancestors(conn: Connection, key: str) -> list[dict[str, Any]]:
    """The containers around a unit, innermost first."""
    _unit_id(conn, key)
    rows = conn.exec_driver_sql(_ANCESTORS_SQL.format(p=_param(conn)), (key,)).all()
    return [dict(zip(("depth", "key", "kind", "gtin", "status"), r, strict=True)) for r in rows]


# ---------------------------------------------------------------------------- events

#: EPCIS 2.0 §8.2.7.1 MATCH_* parameters and the roles they match in ``event_epcs``.
MATCH_ROLES: Mapping[str, tuple[str, ...]] = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "parent", "child", "input", "output"),
}


@dataclass(slots=True)
class EventQuery:
    """SimpleEventQuery parameters (EPCIS 2.0 §8.2.7.1) that serialvault supports."""

    event_types: Sequence[str] = ()
    ge_event_time: str | None = None
    lt_event_time: str | None = None
    ge_record_time: str | None = None
    lt_record_time: str | None = None
    actions: Sequence[str] = ()
    biz_steps: Sequence[str] = ()
    dispositions: Sequence[str] = ()
    biz_locations: Sequence[str] = ()
    read_points: Sequence[str] = ()
    event_ids: Sequence[str] = ()
    #: parameter name (MATCH_epc, …) -> identifiers or patterns
    match: dict[str, list[str]] = field(default_factory=dict)
    #: also match events that reached the EPC through a container (shipping a pallet)
    include_via: bool = False
    order_desc: bool = False
    order_by: str = "event_time"
    limit: int | None = None


def _match_units(conn: Connection, values: Iterable[str]) -> tuple[list[int], list[str]]:
    """Unit ids for identifiers, and GTINs for class patterns (``…/01/{gtin}`` or ``.*``)."""
    ids: list[int] = []
    gtins: list[str] = []
    for v in values:
        key = resolve_key(v)
        kind, _ = classify_key(key)
        if kind == "other" and key.startswith("https://id.gs1.org/01/") and len(key) == 36:
            gtins.append(key[22:36])
            continue
        uid = conn.execute(sa.select(schema.units.c.id).where(schema.units.c.key == key)).scalar()
        if uid is not None:
            ids.append(int(uid))
    return ids, gtins


def query_events(conn: Connection, q: EventQuery) -> list[dict[str, Any]]:
    """Events matching every given parameter (AND across, OR within one parameter)."""
    e = schema.events
    ee = schema.event_epcs
    stmt = sa.select(e)
    conds: list[Any] = []
    if q.event_types:
        conds.append(e.c.event_type.in_(list(q.event_types)))
    for col, value, op in (
        (e.c.event_time, q.ge_event_time, "ge"),
        (e.c.event_time, q.lt_event_time, "lt"),
        (e.c.record_time, q.ge_record_time, "ge"),
        (e.c.record_time, q.lt_record_time, "lt"),
    ):
        if value:
            try:
                t = normalize_timestamp(value)
            except ValueError as exc:
                raise ValidationError(f"time filter {value!r}: {exc}") from None
            conds.append(col >= t if op == "ge" else col < t)
    if q.actions:
        conds.append(e.c.action.in_([a.upper() for a in q.actions]))
    if q.biz_steps:
        conds.append(e.c.biz_step.in_([normalize_bizstep(b) for b in q.biz_steps]))
    if q.dispositions:
        conds.append(e.c.disposition.in_([normalize_disposition(d) for d in q.dispositions]))
    if q.biz_locations:
        conds.append(e.c.biz_location.in_([canonical_key(x) for x in q.biz_locations]))
    if q.read_points:
        conds.append(e.c.read_point.in_([canonical_key(x) for x in q.read_points]))
    if q.event_ids:
        conds.append(e.c.event_id.in_(list(q.event_ids)))
    for param, values in q.match.items():
        roles = MATCH_ROLES.get(param)
        if roles is None:
            raise ValidationError(
                f"unknown query parameter {param}: use one of {', '.join(MATCH_ROLES)}"
            )
        if q.include_via:
            roles = (*roles, "via")
        ids, gtins = _match_units(conn, values)
        sub = sa.select(ee.c.seq).where(ee.c.role.in_(roles))
        if gtins:
            unit_ids = sa.select(schema.units.c.id).where(schema.units.c.gtin.in_(gtins))
            if ids:
                sub = sub.where(sa.or_(ee.c.unit_id.in_(ids), ee.c.unit_id.in_(unit_ids)))
            else:
                sub = sub.where(ee.c.unit_id.in_(unit_ids))
        else:
            sub = sub.where(ee.c.unit_id.in_(ids or [-1]))
        conds.append(e.c.seq.in_(sub))
    if conds:
        stmt = stmt.where(sa.and_(*conds))
    order_col = e.c.record_time if q.order_by == "record_time" else e.c.event_time
    stmt = stmt.order_by(order_col.desc() if q.order_desc else order_col, e.c.seq)
    if q.limit is not None:
        stmt = stmt.limit(q.limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def event_bodies(conn: Connection, seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The stored event bodies (as received) for ``seqs``."""
    out: dict[int, dict[str, Any]] = {}
    for seq, body in select_in(conn, "SELECT seq, body FROM log", "seq", seqs):
        out[int(seq)] = orjson.loads(body)
    return out


def counts(conn: Connection) -> dict[str, int]:
    """Row counts of the log and every projection."""
    out = {
        "log": int(conn.execute(sa.select(sa.func.count()).select_from(schema.log)).scalar_one())
    }
    for t in schema.PROJECTIONS:
        out[t.name] = int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
    return out


def unit_summary(conn: Connection) -> dict[str, dict[str, int]]:
    """Units by kind and status (for the demo summary and drills)."""
    rows = conn.execute(
        sa.select(schema.units.c.kind, schema.units.c.status, sa.func.count())
        .group_by(schema.units.c.kind, schema.units.c.status)
        .order_by(schema.units.c.kind, schema.units.c.status)
    ).all()
    out: dict[str, dict[str, int]] = {}
    for kind, status, n in rows:
        out.setdefault(str(kind), {})[str(status or "-")] = int(str(n))
    return out
