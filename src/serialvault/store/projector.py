"""Write projections from log records — the one place projection rows are produced.

Capture and ``rebuild`` both go through these functions, which is what makes
"projections can be rebuilt from the log, bit for bit" true by construction: there is
no second code path that could drift.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.canonical import canonical_json
from serialvault.domain.lifecycle import UNIT_MUTABLE, UNIT_UPDATE_ROW, Changes
from serialvault.masterdata.model import Location, Partner, Product
from serialvault.store import schema
from serialvault.store.bulk import bulk_insert, bulk_update, select_in, update_where_in


def write_changes(conn: Connection, changes: Changes) -> None:
    """Persist what the lifecycle engine computed for a batch (set-based)."""
    new = changes.new_units
    bulk_insert(conn, schema.units, [new[k].row() for k in sorted(new)])
    for values, ids in changes.group_updates:
        update_where_in(conn, schema.units, values, "id", ids)
    dirty = changes.dirty_units
    bulk_update(
        conn,
        schema.units,
        "id",
        list(UNIT_MUTABLE),
        [UNIT_UPDATE_ROW(u) for k, u in sorted(dirty.items()) if k not in new],
    )
    bulk_insert(
        conn,
        schema.events,
        [
            (
                r.seq,
                r.facts.event_hash,
                r.facts.event_id,
                r.facts.event_type,
                r.facts.action,
                r.facts.biz_step,
                r.facts.disposition,
                r.facts.event_time,
                r.facts.event_time_offset,
                r.record_time,
                r.facts.read_point,
                r.facts.biz_location,
                r.facts.epc_count,
                r.declares_seq,
                None,
            )
            for r in changes.events
        ],
    )
    for original, declaration in sorted(changes.declared.items()):
        conn.execute(
            sa.update(schema.events)
            .where(schema.events.c.seq == original)
            .values(declared_by_seq=declaration)
        )
    bulk_insert(conn, schema.event_epcs, list(dict.fromkeys(changes.event_epcs)))
    bulk_insert(
        conn,
        schema.lots,
        [(g, lot, exp, seq) for (g, lot), (exp, seq) in sorted(changes.new_lots.items())],
    )


def _json(value: Any) -> str:
    return canonical_json(value).decode("utf-8")


def _version_row(
    conn: Connection, table: Any, key: str, seq: int, version: int, values: dict[str, Any]
) -> None:
    """A master-data version's row: the first version inserts it, later ones replace it
    (the log keeps every version; the table holds the latest)."""
    column = table.c.gtin if table is schema.products else table.c.key
    values = {**values, "version": version, "last_seq": seq}
    if version == 1:
        conn.execute(table.insert().values({column.name: key, "first_seq": seq, **values}))
    else:
        conn.execute(table.update().where(column == key).values(**values))


def apply_product(conn: Connection, seq: int, product: Product, version: int) -> None:
    """Insert or replace the products row from a ``masterdata.product`` record."""
    c = product.content()
    values = {k: c[k] for k in ("ndc", "name", "form", "strength", "net_content", "manufacturer")}
    values["attributes"] = _json(product.attributes)
    _version_row(conn, schema.products, product.gtin, seq, version, values)


def apply_location(conn: Connection, seq: int, loc: Location, version: int) -> None:
    """Insert or replace the locations row from a ``masterdata.location`` record."""
    values = {"name": loc.name, "attributes": _json(loc.attributes)}
    _version_row(conn, schema.locations, loc.key, seq, version, values)


def apply_partner(conn: Connection, seq: int, partner: Partner, version: int) -> None:
    """Insert or replace the partners row from a ``masterdata.partner`` record."""
    values = {"name": partner.name, "licence": partner.licence}
    values["attributes"] = _json(partner.attributes)
    _version_row(conn, schema.partners, partner.key, seq, version, values)


def apply_exception(conn: Connection, seq: int, recorded_at: str, body: dict[str, Any]) -> None:
    conn.execute(
        schema.exceptions.insert().values(
            seq=seq,
            recorded_at=recorded_at,
            source=body["source"],
            type=body["type"],
            severity=body["severity"],
            status="open",
            document=body.get("document"),
            document_sha256=body.get("document_sha256"),
            reason=body["reason"],
            identifiers=_json(body.get("identifiers") or []),
        )
    )


def load_products(conn: Connection, gtins: list[str]) -> dict[str, tuple[Product, int]]:
    """Current products (with their version) for ``gtins``."""
    out: dict[str, tuple[Product, int]] = {}
    cols = "gtin, name, ndc, form, strength, net_content, manufacturer, attributes, version"
    for r in select_in(conn, f"SELECT {cols} FROM products", "gtin", gtins):
        p = Product(r[0], r[1], r[2], r[3], r[4], r[5], r[6], orjson.loads(r[7]))
        out[p.gtin] = (p, int(r[8]))
    return out


def load_locations(conn: Connection, keys: list[str]) -> dict[str, tuple[Location, int]]:
    out: dict[str, tuple[Location, int]] = {}
    for r in select_in(conn, "SELECT key, name, attributes, version FROM locations", "key", keys):
        loc = Location(r[0], r[1], orjson.loads(r[2]))
        out[loc.key] = (loc, int(r[3]))
    return out


def load_partners(conn: Connection, keys: list[str]) -> dict[str, tuple[Partner, int]]:
    """Current trading partners (with their version) for ``keys``."""
    out: dict[str, tuple[Partner, int]] = {}
    q = "SELECT key, name, licence, attributes, version FROM partners"
    for r in select_in(conn, q, "key", keys):
        p = Partner(r[0], r[1], r[2], orjson.loads(r[3]))
        out[p.key] = (p, int(r[4]))
    return out
