"""Master data in the store: products, locations and trading partners, read and listed.

Every version is a ``masterdata.product`` / ``.location`` / ``.partner`` log record
carrying the whole object, its version and who recorded it why, so the tables are
projections like any other. Versions are written by the approval of a change
(``app.changes``); ``add_product`` records one directly, below change control, for the
scratch repository of a cross-system reconciliation (R7), which copies the live
repository's approved products.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from serialvault.domain.records import PRODUCT
from serialvault.errors import ConflictError, NotFound
from serialvault.masterdata.model import MasterData, Product
from serialvault.store import schema
from serialvault.store.projector import (
    apply_product,
    load_locations,
    load_partners,
    load_products,
)
from serialvault.store.repository import Repository


@dataclass(frozen=True, slots=True)
class ProductChange:
    """What ``add_product`` did: ``added``, ``updated`` or ``unchanged``."""

    outcome: str
    gtin: str
    version: int
    seq: int | None
    changed_fields: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "gtin": self.gtin,
            "version": self.version,
            "seq": self.seq,
            "changed_fields": list(self.changed_fields),
        }


def add_product(
    repo: Repository, product: Product, *, actor: str, reason: str, update: bool = False
) -> ProductChange:
    """Record a product; a different existing version needs ``update=True``."""
    with repo.write() as (conn, app):
        known = load_products(conn, [product.gtin]).get(product.gtin)
        if known is not None:
            old, version = known
            diffs = tuple(old.differences(product))
            if not diffs:
                return ProductChange("unchanged", product.gtin, version, None)
            if not update:
                raise ConflictError(
                    f"product {product.gtin} is already recorded (version {version}) with"
                    f" different {', '.join(diffs)}; use --update with --reason to record a"
                    " new version"
                )
            version += 1
            outcome = "updated"
        else:
            version, diffs, outcome = 1, (), "added"
        rec = app.append(
            PRODUCT,
            {
                "product": product.content(),
                "version": version,
                "origin": {"command": "product add"},
            },
            actor,
            reason,
        )
        apply_product(conn, rec.seq, product, version)
        return ProductChange(outcome, product.gtin, version, rec.seq, diffs)


def _product_rows(repo: Repository, gtin: str | None = None) -> list[dict[str, Any]]:
    t = schema.products
    q = sa.select(t).order_by(t.c.gtin)
    if gtin is not None:
        q = q.where(t.c.gtin == gtin)
    with repo.read() as conn:
        rows = conn.execute(q).mappings().all()
    return [{**r, "attributes": orjson.loads(r["attributes"])} for r in rows]


def list_products(repo: Repository) -> list[dict[str, Any]]:
    return _product_rows(repo)


def get_product(repo: Repository, gtin: str) -> dict[str, Any]:
    rows = _product_rows(repo, gtin)
    if not rows:
        raise NotFound(f"product {gtin} is not in master data")
    return rows[0]


def product_versions(repo: Repository, gtin: str, changes: list[Any]) -> list[dict[str, Any]]:
    """A product's history: each ``masterdata.product`` record (a document's master data
    or an approved change) and each change record, in log order."""
    t = schema.log
    out: list[dict[str, Any]] = []
    with repo.read() as conn:
        rows = conn.execute(
            sa.select(t.c.seq, t.c.recorded_at, t.c.actor, t.c.reason, t.c.body)
            .where(t.c.kind == PRODUCT)
            .order_by(t.c.seq)
        )
        for r in rows:
            body = orjson.loads(r.body)
            if body["product"]["gtin"] != gtin:
                continue
            out.append(
                {
                    "seq": r.seq,
                    "recorded_at": r.recorded_at,
                    "what": f"version {body['version']} recorded",
                    "by": r.actor,
                    "reason": r.reason,
                    "origin": body.get("origin"),
                    "status": body.get("status", "active"),
                }
            )
    for c in changes:
        out.append(
            {
                "seq": c.seq,
                "recorded_at": c.created_at,
                "what": f"{c.change_id}: version {c.version} {c.status}",
                "by": c.author,
                "reason": c.reason,
                "decided_by": c.decided_by,
                "effective_from": c.effective_from,
                "status": (c.after or {}).get("status"),
            }
        )
    return sorted(out, key=lambda x: int(x["seq"]))


def all_master_data(repo: Repository) -> MasterData:
    """Every product, location and trading partner in its latest approved version."""
    md = MasterData()
    with repo.read() as conn:
        for r in conn.execute(sa.select(schema.products.c.gtin).order_by("gtin")):
            md.products[r.gtin] = load_products(conn, [r.gtin])[r.gtin][0]
        keys = [r.key for r in conn.execute(sa.select(schema.locations.c.key).order_by("key"))]
        md.locations = {k: v[0] for k, v in sorted(load_locations(conn, keys).items())}
        keys = [r.key for r in conn.execute(sa.select(schema.partners.c.key).order_by("key"))]
        md.partners = {k: v[0] for k, v in sorted(load_partners(conn, keys).items())}
    return md


def known_master_data(
    repo: Repository, md: MasterData
) -> tuple[dict[str, tuple[Any, int]], dict[str, tuple[Any, int]], dict[str, tuple[Any, int]]]:
    """The recorded version of each product, location and partner ``md`` names."""
    with repo.read() as conn:
        return (
            dict(load_products(conn, list(md.products))),
            dict(load_locations(conn, list(md.locations))),
            dict(load_partners(conn, list(md.partners))),
        )


def master_data_rows(repo: Repository) -> list[dict[str, Any]]:
    """One row per product, location and trading partner: kind, key, name, version."""
    out: list[dict[str, Any]] = []
    with repo.read() as conn:
        for kind, t, key in (
            ("product", schema.products, schema.products.c.gtin),
            ("location", schema.locations, schema.locations.c.key),
            ("partner", schema.partners, schema.partners.c.key),
        ):
            for r in conn.execute(sa.select(key, t.c.name, t.c.version).order_by(key)):
                out.append({"kind": kind, "key": r[0], "name": r[1], "version": r[2]})
    return out
