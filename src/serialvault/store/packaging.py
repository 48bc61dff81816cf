"""The packaging check on the rows a capture just wrote (set-based, one query per level).

See :mod:`serialvault.domain.packaging` for the rule; this module reads the containers a
document packed, their children, and the cases of its pallets, in the capture's own
transaction, so the check sees exactly what the document produced. The configuration
compared is the product version in force at the packing event's time
(:func:`serialvault.domain.change.in_force`): a version approved to take effect later
does not count yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy.engine import Connection

from serialvault.domain.change import Change, in_force
from serialvault.domain.packaging import Mismatch, config_of, gtin_of, mismatches
from serialvault.store.bulk import select_in
from serialvault.store.changes import changes as change_records
from serialvault.store.projector import load_products

_SSCC = "https://id.gs1.org/00/"


def _children(conn: Connection, keys: Iterable[str]) -> dict[str, list[str]]:
    ids = {int(r[0]): str(r[1]) for r in select_in(conn, "SELECT id, key FROM units", "key", keys)}
    out: dict[str, list[str]] = defaultdict(list)
    for parent_id, key in select_in(conn, "SELECT parent_id, key FROM units", "parent_id", ids):
        out[ids[int(parent_id)]].append(str(key))
    return out


def packaging_mismatches(conn: Connection, packed: Mapping[str, str]) -> list[Mismatch]:
    """The containers in ``packed`` (SSCC → time of the last event that packed into it)
    whose child count differs from their product's packaging configuration then."""
    parents = sorted(k for k in packed if k.startswith(_SSCC))
    if not parents:
        return []
    children = _children(conn, parents)
    inner = {k for kids in children.values() for k in kids if k.startswith(_SSCC)} - set(children)
    if inner:
        children.update(_children(conn, inner))
    gtins = sorted({g for kids in children.values() for k in kids if (g := gtin_of(k))})
    history: dict[str, list[Change]] = defaultdict(list)
    for c in change_records(conn, object_type="product", keys=gtins):
        history[c.object_key].append(c)
    recorded = load_products(conn, [g for g in gtins if g not in history])
    base = {g: config_of(p.attributes, v) for g, (p, v) in recorded.items()}
    by_time: dict[str, list[str]] = defaultdict(list)
    for p in parents:
        by_time[packed[p]].append(p)
    out: list[Mismatch] = []
    for at, group in sorted(by_time.items()):
        config = dict(base)
        for g, hist in history.items():
            found = in_force(hist, at)
            if found is not None and isinstance(found[0], dict):
                attrs = (found[0].get("product") or {}).get("attributes") or {}
                config[g] = config_of(attrs, found[1])
        out += mismatches(group, children, config)
    return out
