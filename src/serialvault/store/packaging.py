"""The packaging check on the rows a capture just wrote (set-based, grouped in SQL).

See :mod:`serialvault.domain.packaging` for the rule; this module counts, in the
capture's own transaction, the children of the containers a document packed into —
one grouped row per container, kind and GTIN, not a row per unit — and, for pallets,
the GTINs inside their cases. The configuration compared is the product version in
force at the packing event's time (:func:`serialvault.domain.change.in_force`): a
version approved to take effect later does not count yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy.engine import Connection

from serialvault.domain.change import Change, in_force
from serialvault.domain.packaging import Config, Contents, Mismatch, config_of, mismatches
from serialvault.store.bulk import select_in
from serialvault.store.changes import changes as change_records
from serialvault.store.projector import load_products

_SSCC = "https://id.gs1.org/00/"


def _contents(conn: Connection, parents: list[str]) -> dict[str, Contents]:
    ids = {
        int(r[0]): str(r[1]) for r in select_in(conn, "SELECT id, key FROM units", "key", parents)
    }
    # the GTIN from the key (https://id.gs1.org/01/<GTIN>/21/…): the parent index holds
    # parent_id, key and kind, so the count never reads a table row
    gtin_of_key = "substr(key, 23, 14)"
    grouped = select_in(
        conn,
        f"SELECT parent_id, kind, {gtin_of_key}, COUNT(*) FROM units",
        "parent_id",
        ids,
        group_by=f"parent_id, kind, {gtin_of_key}",
    )
    count: dict[int, int] = defaultdict(int)
    kinds: dict[int, set[str]] = defaultdict(set)
    gtins: dict[int, set[str | None]] = defaultdict(set)
    for parent_id, kind, gtin, n in grouped:
        count[parent_id] += int(n)
        kinds[parent_id].add(str(kind))
        gtins[parent_id].add(gtin if kind == "sgtin" else None)
    pallets = [p for p, k in kinds.items() if k == {"sscc"}]
    if pallets:  # the GTINs of a pallet are those of the units in its cases
        cases = {
            int(case): int(pallet)
            for pallet, case in select_in(
                conn, "SELECT parent_id, id FROM units", "parent_id", pallets
            )
        }
        for p in pallets:
            gtins[p] = set()
        inner = select_in(
            conn,
            f"SELECT parent_id, kind, {gtin_of_key} FROM units",
            "parent_id",
            cases,
            group_by=f"parent_id, kind, {gtin_of_key}",
        )
        for case, kind, gtin in inner:
            gtins[cases[int(case)]].add(gtin if kind == "sgtin" else None)
    return {ids[p]: Contents(count[p], frozenset(kinds[p]), frozenset(gtins[p])) for p in count}


def packaging_mismatches(conn: Connection, packed: Mapping[str, str]) -> list[Mismatch]:
    """The containers in ``packed`` (SSCC → time of the last event that packed into it)
    whose child count differs from their product's packaging configuration then."""
    parents = sorted(k for k in packed if k.startswith(_SSCC))
    if not parents:
        return []
    contents = _contents(conn, parents)
    gtins = sorted({g for c in contents.values() for g in c.gtins if g})
    history: dict[str, list[Change]] = defaultdict(list)
    for change in change_records(conn, object_type="product", keys=gtins):
        history[change.object_key].append(change)
    recorded = load_products(conn, [g for g in gtins if g not in history])
    base = {g: config_of(p.attributes, v) for g, (p, v) in recorded.items()}
    by_time: dict[str, dict[str, Contents]] = defaultdict(dict)
    for key, c in contents.items():
        by_time[packed[key]][key] = c
    out: list[Mismatch] = []
    for at, group in sorted(by_time.items()):
        config: dict[str, Config] = dict(base)
        for g, hist in history.items():
            found = in_force(hist, at)
            if found is not None and isinstance(found[0], dict):
                attrs = (found[0].get("product") or {}).get("attributes") or {}
                config[g] = config_of(attrs, found[1])
        out += mismatches(group, config)
    return sorted(out, key=lambda m: m.container)
