"""The lifecycle and hierarchy engine on its own: pure, no database.

The engine takes a :class:`Snapshot` and applies events in order; these tests build the
snapshot by hand (empty but for master data, as for a new repository) and feed it
events built in code, so each rule is checked without the store around it — the same
rules capture and replay use (``domain.lifecycle``).
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from serialvault.domain.facts import EventFacts, extract_facts
from serialvault.domain.lifecycle import (
    ACTIVE,
    DECOMMISSIONED,
    SHIPPED,
    Engine,
    Snapshot,
)
from serialvault.epcis.hashing import event_hash
from serialvault.epcis.model import STANDARD_PREFIXES
from tests import builders as b

_seq = itertools.count(10)


def _facts(event: dict[str, Any], index: int = 0) -> EventFacts:
    ns = dict(STANDARD_PREFIXES)
    return extract_facts(event, index, event_hash(event, ns), ns)


def fresh(products: set[str] | None = None) -> Engine:
    """An engine over a repository that holds nothing but its products."""
    snap = Snapshot(
        units={},
        children={},
        complete=set(),
        products={b.GTIN} if products is None else products,
        lots={},
        next_id=1,
    )
    return Engine(snap)


def apply(engine: Engine, *events: dict[str, Any]) -> list[str]:
    """Apply events in order; return the issue codes raised (empty: all accepted)."""
    for i, ev in enumerate(events):
        engine.apply(_facts(ev, i), next(_seq), "2026-02-01T12:00:00.000000Z")
    return [i.code for i in engine.issues]


def status(engine: Engine, urn: str) -> str | None:
    return engine.units[b.dl(urn)].status


def parent_key(engine: Engine, urn: str) -> str | None:
    u = engine.units[b.dl(urn)]
    return None if u.parent_id is None else engine.by_id[u.parent_id].key


def test_commissioning_creates_active_units_with_lot_and_expiry() -> None:
    e = fresh()
    units = [b.sgtin("E1"), b.sgtin("E2")]
    assert apply(e, b.commission(units, lot="L9", expiry="2029-01-31")) == []
    for u in units:
        row = e.units[b.dl(u)]
        assert (row.status, row.lot, row.expiry, row.gtin) == (ACTIVE, "L9", "2029-01-31", b.GTIN)
    assert len(e.changes.new_units) == 2
    assert e.changes.new_lots == {(b.GTIN, "L9"): ("2029-01-31", e.changes.events[0].seq)}


def test_a_serial_is_commissioned_once() -> None:
    e = fresh()
    unit = b.sgtin("ONCE")
    assert apply(e, b.commission([unit]), b.commission([unit], lot="L2")) == [
        "already-commissioned"
    ]
    assert e.units[b.dl(unit)].lot == "LOT1"  # the refused second commissioning changed nothing


def test_an_unknown_product_is_refused() -> None:
    e = fresh(products=set())
    assert apply(e, b.commission([b.sgtin("NOPROD")])) == ["unknown-product"]


def test_nothing_happens_to_an_uncommissioned_unit() -> None:
    for event in (
        b.ship([b.sgtin("GHOST")]),
        b.decommission([b.sgtin("GHOST")]),
        b.observe([b.sgtin("GHOST")]),
    ):
        assert apply(fresh(), event) == ["not-commissioned"]


def test_packing_links_children_and_shipping_the_parent_ships_them() -> None:
    e = fresh()
    case, units = b.sscc(1), [b.sgtin(f"P{i}") for i in range(3)]
    codes = apply(
        e,
        b.commission(units),
        b.commission_containers([case]),
        b.pack(case, units),
        b.ship([case]),
    )
    assert codes == []
    assert {parent_key(e, u) for u in units} == {b.dl(case)}
    assert {status(e, u) for u in [*units, case]} == {SHIPPED}


def test_a_child_has_at_most_one_parent() -> None:
    e = fresh()
    a, c, unit = b.sscc(2), b.sscc(3), b.sgtin("ONE")
    codes = apply(
        e,
        b.commission([unit]),
        b.commission_containers([a, c]),
        b.pack(a, [unit]),
        b.pack(c, [unit]),
    )
    assert codes == ["already-packed"]
    assert parent_key(e, unit) == b.dl(a)


def test_packing_cannot_make_a_cycle() -> None:
    e = fresh()
    outer, inner = b.sscc(4), b.sscc(5)
    codes = apply(
        e,
        b.commission_containers([outer, inner]),
        b.pack(outer, [inner]),
        b.pack(inner, [outer]),
    )
    assert codes == ["cycle"]
    assert parent_key(e, outer) is None


def test_unpacking_without_children_empties_the_container() -> None:
    e = fresh()
    case, units = b.sscc(6), [b.sgtin(f"U{i}") for i in range(2)]
    apply(e, b.commission(units), b.commission_containers([case]), b.pack(case, units))
    assert apply(e, b.unpack(case)) == []
    assert [parent_key(e, u) for u in units] == [None, None]


def test_a_decommissioned_unit_takes_part_in_nothing_more() -> None:
    e = fresh()
    unit = b.sgtin("DEAD")
    apply(e, b.commission([unit]), b.decommission([unit]))
    assert status(e, unit) == DECOMMISSIONED
    assert apply(e, b.ship([unit])) == ["decommissioned"]


def test_destroying_a_container_decommissions_its_contents() -> None:
    e = fresh()
    case, units = b.sscc(7), [b.sgtin(f"D{i}") for i in range(2)]
    apply(e, b.commission(units), b.commission_containers([case]), b.pack(case, units))
    assert apply(e, b.decommission([case], disposition="destroyed")) == []
    assert {status(e, u) for u in [*units, case]} == {DECOMMISSIONED}


def test_receiving_brings_a_shipped_unit_back() -> None:
    e = fresh()
    unit = b.sgtin("BACK")
    assert apply(e, b.commission([unit]), b.ship([unit]), b.receive([unit])) == []
    assert status(e, unit) == ACTIVE


def test_the_same_event_twice_is_a_duplicate_not_an_error() -> None:
    e = fresh()
    ev = b.commission([b.sgtin("TWICE")])
    assert apply(e, ev, ev) == []
    assert len(e.changes.duplicates) == 1
    assert len(e.changes.events) == 1


def test_declaring_an_event_that_was_never_recorded_is_refused_by_name() -> None:
    """An error declaration names an event the repository holds (EPCIS 2.0 §7.4.1.2);
    the originals come from the snapshot, so one it lacks is unknown."""
    e = fresh()
    unit = b.sgtin("OOPS")
    apply(e, b.commission([unit]))
    assert apply(e, b.declare_error(b.ship([unit]))) == ["declared-unknown"]
    assert status(e, unit) == ACTIVE


# ------------------------------------------------------------------ property


STEPS = st.lists(st.sampled_from(["commission", "ship", "receive", "decommission"]), max_size=12)

#: The lifecycle as a table: (status, step) -> the status after, or None (refused).
MODEL: dict[tuple[str | None, str], str | None] = {
    (None, "commission"): ACTIVE,
    (ACTIVE, "ship"): SHIPPED,
    (SHIPPED, "ship"): SHIPPED,
    (ACTIVE, "receive"): ACTIVE,
    (SHIPPED, "receive"): ACTIVE,
    (ACTIVE, "decommission"): DECOMMISSIONED,
    (SHIPPED, "decommission"): DECOMMISSIONED,
}


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_one_unit_follows_the_lifecycle_table(steps: list[str]) -> None:
    """Any sequence of steps on one unit ends where the table says; every step the
    table refuses raises exactly one issue, and a refused step changes nothing."""
    unit = b.sgtin("PROP")
    make = {
        "commission": lambda: b.commission([unit]),
        "ship": lambda: b.ship([unit]),
        "receive": lambda: b.receive([unit]),
        "decommission": lambda: b.decommission([unit]),
    }
    e = fresh()
    expected: str | None = None
    refused = 0
    for step in steps:
        after = MODEL.get((expected, step))
        before = len(e.issues)
        apply(e, make[step]())
        if after is None:
            refused += 1
            assert len(e.issues) == before + 1, (expected, step)
        else:
            assert len(e.issues) == before, (expected, step, e.issues[before:])
            expected = after
        got = e.units[b.dl(unit)].status if b.dl(unit) in e.units else None
        assert got == expected
    assert len(e.issues) == refused
