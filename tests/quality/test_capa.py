"""CAPA: opened by qa, actions with owners and due dates, effectiveness, signed closure."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from serialvault.app import capa
from serialvault.errors import ConflictError, NotPermitted, UsageError
from serialvault.store import schema
from serialvault.store.integrity import rebuild
from tests.accounts import PASSWORD
from tests.quality.conftest import Site


def _capa(site: Site) -> str:
    c = capa.new(
        site.as_("quinn"),
        None,
        title="short cases on line 2",
        problem="cases packed with 11 units instead of 12",
    )
    return str(c["capa"])


def _close(site: Site, cid: str, user: str = "quinn") -> dict[str, object]:
    return capa.close(site.as_(user), None, cid, password=PASSWORD, user_entered=user)


def test_a_capa_from_problem_to_signed_closure(site: Site) -> None:
    cid = _capa(site)
    q = site.as_("quinn")
    capa.update(q, None, cid, capa.Update(root_cause="the case counter skipped on a jam"))
    capa.update(
        q, None, cid, capa.Update(corrective=[("recount open cases", "olga", "2026-01-15")])
    )
    capa.update(
        q, None, cid, capa.Update(preventive=[("counter self-test at start", "olga", "2027-03-01")])
    )
    capa.update(
        q,
        None,
        cid,
        capa.Update(effectiveness_plan="no short case in 4 weeks", effectiveness_due="2027-04-01"),
    )
    late = capa.overdue(site.as_("adam"), None)
    assert [r["capa"] for r in late] == [cid]
    assert late[0]["overdue"][0].startswith("CA-1 (recount open cases) was due 2026-01-15")
    with pytest.raises(ConflictError, match="actions not done: CA-1, PA-1"):
        _close(site, cid)
    # the owner marks their own action done; another operator may not
    capa.update(site.as_("olga"), None, cid, capa.Update(done=["CA-1"], note="all recounted"))
    with pytest.raises(ConflictError, match="every action is done"):
        capa.update(q, None, cid, capa.Update(effectiveness_result="fine", effective=True))
    capa.update(q, None, cid, capa.Update(done=["PA-1"]))
    assert capa.show(q, None, cid)["phase"] == "effectiveness-check"
    capa.update(
        q, None, cid, capa.Update(effectiveness_result="no short case since", effective=False)
    )
    with pytest.raises(ConflictError, match="not effective"):
        _close(site, cid)
    capa.update(q, None, cid, capa.Update(effectiveness_result="none in 6 weeks", effective=True))
    closed = _close(site, cid)
    assert closed["status"] == "closed"
    shown = capa.show(site.as_("olga"), None, cid)
    assert shown["phase"] == "closed"
    assert [s["verified"] for s in shown["signatures"]] == [True]
    assert [v["version"] for v in shown["versions"]] == list(range(1, 11))
    assert capa.overdue(q, None) == []
    with pytest.raises(ConflictError, match="closed CAPA is locked"):
        capa.update(q, None, cid, capa.Update(root_cause="changed afterwards"))
    result = rebuild(site.repo, actor="tester")
    assert result.identical


def test_who_may_change_a_capa(site: Site) -> None:
    cid = _capa(site)
    q = site.as_("quinn")
    capa.update(q, None, cid, capa.Update(corrective=[("fix", "olga", "2027-01-01")]))
    head = site.head()
    with pytest.raises(NotPermitted):
        capa.new(site.as_("olga"), None, title="t", problem="p")
    with pytest.raises(NotPermitted):
        capa.update(site.as_("olga"), None, cid, capa.Update(root_cause="mine"))
    with pytest.raises(NotPermitted, match="only their own actions"):
        capa.update(site.as_("adam"), None, cid, capa.Update(done=["CA-1"]))
    with pytest.raises(UsageError, match="a date as YYYY-MM-DD"):
        capa.update(q, None, cid, capa.Update(preventive=[("train", "olga", "next week")]))
    with pytest.raises(Exception, match="no such person"):
        capa.update(q, None, cid, capa.Update(preventive=[("train", "nobody", "2027-01-01")]))
    with pytest.raises(UsageError, match="changes nothing"):
        capa.update(q, None, cid, capa.Update())
    with pytest.raises(Exception, match="EX-999"):
        capa.update(q, None, cid, capa.Update(exceptions=["EX-999"]))
    assert site.head() == head  # nothing was recorded


def test_closing_needs_root_cause_actions_and_a_qa_signature(site: Site) -> None:
    cid = _capa(site)
    with pytest.raises(ConflictError, match="no root cause"):
        _close(site, cid)
    capa.update(site.as_("quinn"), None, cid, capa.Update(root_cause="jam"))
    with pytest.raises(ConflictError, match="no corrective or preventive action"):
        _close(site, cid)
    with pytest.raises(NotPermitted):
        _close(site, cid, user="olga")


def test_a_closed_capa_edited_in_the_database_no_longer_verifies(site: Site) -> None:
    cid = _capa(site)
    q = site.as_("quinn")
    capa.update(q, None, cid, capa.Update(root_cause="jam"))
    capa.update(q, None, cid, capa.Update(corrective=[("fix", "quinn", "2027-01-01")]))
    capa.update(q, None, cid, capa.Update(done=["CA-1"]))
    capa.update(q, None, cid, capa.Update(effectiveness_result="ok", effective=True))
    _close(site, cid)
    with site.repo.write_raw() as conn:
        content = conn.execute(sa.select(schema.capas.c.content)).scalar_one()
        conn.execute(sa.update(schema.capas).values(content=content.replace('"jam"', '"weather"')))
    assert [s["verified"] for s in capa.show(q, None, cid)["signatures"]] == [False]
