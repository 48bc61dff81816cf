"""Rework writes the EPCIS events a line would, through every capture rule."""

from __future__ import annotations

import pytest

from serialvault.app import exceptions as ex
from serialvault.app import rework
from serialvault.errors import ConflictError, DocumentRejected, NotPermitted
from serialvault.store import queries
from tests import builders as b
from tests.quality.conftest import Site

U = [b.sgtin(f"RW{i}") for i in range(4)]
CASE1, CASE2, CASE3 = b.sscc(701), b.sscc(702), b.sscc(703)


def _state(site: Site, epc: str) -> dict[str, object]:
    with site.repo.read() as conn:
        return queries.unit_state(conn, b.dl(epc))


def _packed(site: Site) -> None:
    site.capture(
        b.commission(U, lot="L7", expiry="2028-01-31"),
        b.commission_containers([CASE1, CASE2]),
        b.pack(CASE1, U[:2]),
        b.pack(CASE2, U[2:3]),
    )


def test_unpack_repack_replace_decommission(site: Site) -> None:
    _packed(site)
    o = site.as_("olga")
    seq = ex.open_exception(
        o, None, type="line-deviation", reason="case 701 crushed", identifiers=[b.dl(CASE1)]
    )
    eid = f"EX-{seq}"
    done = rework.unpack(o, None, CASE1, children=[U[0]], exception=eid)
    assert [(e["type"], e["action"], e["bizStep"]) for e in done.to_dict()["events"]] == [
        ("AggregationEvent", "DELETE", "unpacking")
    ]
    assert _state(site, U[0])["parent"] is None
    rework.repack(o, None, CASE2, [U[0]], exception=eid)
    assert _state(site, U[0])["parent"] == b.dl(CASE2)
    # a new case is commissioned by the repack that fills it
    rework.repack(o, None, CASE3, [U[3]], exception=eid)
    assert _state(site, U[3])["parent"] == b.dl(CASE3)

    new = b.sgtin("RW-NEW")
    swap = rework.replace(o, None, U[1], new, exception=eid)
    assert [(e["action"], e["bizStep"], e["disposition"]) for e in swap.to_dict()["events"]] == [
        ("DELETE", "unpacking", None),
        ("DELETE", "decommissioning", "damaged"),
        ("ADD", "commissioning", "active"),
        ("ADD", "packing", "in_progress"),
    ]
    old, fresh = _state(site, U[1]), _state(site, new)
    assert (old["status"], old["disposition"], old["parent"]) == ("decommissioned", "damaged", None)
    assert (fresh["parent"], fresh["lot"], fresh["expiry"]) == (b.dl(CASE1), "L7", "2028-01-31")

    # destroying a case takes its contents with it (CBV destroying)
    rework.decommission(o, None, CASE2, reason="destroyed", exception=eid)
    assert _state(site, U[2])["status"] == "decommissioned"
    assert _state(site, U[0])["status"] == "decommissioned"

    view = ex.show(o, None, eid).to_dict()
    reworks = [a for a in view["actions"] if a["action"] == "rework"]
    assert [a["text"] for a in reworks] == [
        "unpack",
        "repack",
        "repack",
        "replace",
        "decommission (destroyed)",
    ]
    assert view["status"] == "investigating"
    # each event names its rework in the log: the link survives even without the action
    with site.repo.read() as conn:
        hist = queries.unit_history(conn, b.dl(CASE2))
    assert hist[-1]["biz_step"] == "destroying"


def test_a_rework_that_would_create_a_second_parent_is_refused(site: Site) -> None:
    _packed(site)
    head = site.head()
    with pytest.raises(DocumentRejected, match="packed in"):
        rework.repack(site.as_("olga"), None, CASE1, [U[2]])  # U[2] is in CASE2
    assert _state(site, U[2])["parent"] == b.dl(CASE2)
    rows = ex.list_exceptions(site.as_("olga"), None)
    assert rows[-1]["type"] == "rule-violation"
    assert "rework repack" in rows[-1]["document"]
    assert site.head() == head + 1  # the exception record, nothing else


def test_rework_is_for_operators_and_open_exceptions(site: Site) -> None:
    _packed(site)
    head = site.head()
    with pytest.raises(NotPermitted):
        rework.unpack(site.as_("quinn"), None, CASE1)
    with pytest.raises(ConflictError, match="a replacement is the same product"):
        rework.replace(site.as_("olga"), None, U[0], b.sgtin("X1", ("0102", "12")))
    with pytest.raises(Exception, match="EX-424242"):
        rework.unpack(site.as_("olga"), None, CASE1, exception="EX-424242")
    assert site.head() == head
    assert _state(site, U[0])["parent"] == b.dl(CASE1)


def test_an_exception_closed_during_a_rework_leaves_the_events_and_says_so(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.accounts import PASSWORD

    _packed(site)
    o = site.as_("olga")
    eid = f"EX-{ex.open_exception(o, None, type='line-deviation', reason='dent')}"
    ex.resolve(o, None, eid, "nothing to do")
    ex.close(site.as_("quinn"), None, eid, password=PASSWORD, user_entered="quinn")
    monkeypatch.setattr(ex, "check_open", lambda _repo, _eid: None)  # closed after the check
    done = rework.unpack(o, None, CASE1, children=[U[0]], exception=eid)
    assert _state(site, U[0])["parent"] is None  # the rework is recorded
    assert done.link_seq is None
    assert any("could not be linked" in w for w in done.warnings)
