"""The packaging check on the rows a capture just wrote (set-based, one query per level).

See :mod:`serialvault.domain.packaging` for the rule; this module reads the containers a
document packed, their children, and the cases of its pallets, in the capture's own
transaction, so the check sees exactly what the document produced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy.engine import Connection

from serialvault.domain.packaging import Config, Mismatch, config_of, gtin_of, mismatches
from serialvault.store.bulk import select_in
from serialvault.store.projector import load_products

_SSCC = "https://id.gs1.org/00/"


def _children(conn: Connection, keys: Iterable[str]) -> dict[str, list[str]]:
    ids = {int(r[0]): str(r[1]) for r in select_in(conn, "SELECT id, key FROM units", "key", keys)}
    out: dict[str, list[str]] = defaultdict(list)
    for parent_id, key in select_in(conn, "SELECT parent_id, key FROM units", "parent_id", ids):
        out[ids[int(parent_id)]].append(str(key))
    return out


def packaging_mismatches(conn: Connection, containers: Iterable[str]) -> list[Mismatch]:
    """The containers among ``containers`` (SSCCs a document packed into) whose child
    count differs from their product's packaging configuration."""
    parents = sorted({k for k in containers if k.startswith(_SSCC)})
    if not parents:
        return []
    children = _children(conn, parents)
    inner = {k for kids in children.values() for k in kids if k.startswith(_SSCC)} - set(children)
    if inner:
        children.update(_children(conn, inner))
    gtins = {g for kids in children.values() for k in kids if (g := gtin_of(k))}
    config: dict[str, Config] = {
        g: config_of(p.attributes, v) for g, (p, v) in load_products(conn, sorted(gtins)).items()
    }
    return mismatches(parents, children, config)
