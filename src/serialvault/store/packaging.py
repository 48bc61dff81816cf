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
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.engine import Connection

from serialvault.domain.change import Change, in_force
from serialvault.domain.facts import classify_key
from serialvault.domain.packaging import Config, Contents, Mismatch, config_of, mismatches
from serialvault.store.bulk import select_in
from serialvault.store.changes import changes as change_records
from serialvault.store.projector import load_products

_SSCC = "https://id.gs1.org/00/"


def _ends(conn: Connection, parent_ids: Iterable[int]) -> list[tuple[Any, ...]]:
    """``(parent_id, children, smallest key, largest key)`` per container: one covering
    index scan (``ix_units_parent`` holds parent_id and key), no table row read."""
    return select_in(
        conn,
        "SELECT parent_id, COUNT(*), MIN(key), MAX(key) FROM units",
        "parent_id",
        parent_ids,
        group_by="parent_id",
    )


def _span(low: str, high: str) -> tuple[frozenset[str], frozenset[str | None]]:
    """The kinds and GTINs of a container's children from its smallest and largest key.
    Keys sort as text, so every key between two keys shares their common prefix: when
    both ends are SGTINs of one GTIN (one ``…/01/<GTIN>/21/`` prefix), all children
    are; when both are SSCCs, all children are SSCCs. Two GTINs, or two kinds, at the
    ends: a mixed container, which the rule does not check."""
    ends = (classify_key(low), classify_key(high))
    return frozenset(k for k, _ in ends), frozenset(g for _, g in ends)


def _contents(conn: Connection, parents: list[str]) -> dict[str, Contents]:
    ids = {
        int(r[0]): str(r[1]) for r in select_in(conn, "SELECT id, key FROM units", "key", parents)
    }
    out: dict[str, Contents] = {}
    pallets: list[int] = []
    for parent_id, n, low, high in _ends(conn, ids):
        kinds, gtins = _span(str(low), str(high))
        out[ids[int(parent_id)]] = Contents(int(n), kinds, gtins)
        if kinds == {"sscc"}:
            pallets.append(int(parent_id))
    if pallets:  # the GTINs of a pallet are those of the units in its cases
        case_of = {
            int(case): int(pallet)
            for pallet, case in select_in(
                conn, "SELECT parent_id, id FROM units", "parent_id", pallets
            )
        }
        inner: dict[int, set[str | None]] = defaultdict(set)
        for case, _n, low, high in _ends(conn, case_of):
            kinds, gtins = _span(str(low), str(high))
            inner[case_of[int(case)]] |= gtins if kinds == {"sgtin"} else {None}
        for p in pallets:
            c = out[ids[p]]
            out[ids[p]] = Contents(c.count, c.kinds, frozenset(inner.get(p, {None})))
    return out


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
