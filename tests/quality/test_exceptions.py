"""The exception register's workflow, and every refusal the issue names: each refusal
is a named error, changes nothing, and a signature that does not cover what it claims
does not verify."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
import zstandard

from serialvault.app import exceptions as ex
from serialvault.errors import (
    ConflictError,
    DocumentRejected,
    IntegrityFailure,
    NotAuthenticated,
    NotPermitted,
    UsageError,
)
from serialvault.store import schema
from serialvault.store.integrity import rebuild
from tests import builders as b
from tests.accounts import PASSWORD
from tests.quality.conftest import Site


def _reject(site: Site, name: str = "line.jsonld", data: bytes | None = None) -> str:
    """A document that breaks a rule (an uncommissioned unit observed): its exception id."""
    from serialvault.store.capture import Capturer

    data = data or b.document(b.observe([b.sgtin("NEVER")]))
    with pytest.raises(DocumentRejected):
        Capturer(site.repo, actor="olga").capture_bytes(data, name)
    rows = ex.list_exceptions(site.as_("olga"), None)
    return str(rows[-1]["id"])


def _close(site: Site, eid: str, user: str = "quinn", **kw: object) -> ex.Closed:
    return ex.close(site.as_(user), None, eid, password=PASSWORD, user_entered=user, **kw)  # type: ignore[arg-type]


def test_a_rejection_is_worked_through_to_a_signed_closure(site: Site) -> None:
    eid = _reject(site)
    view = ex.show(site.as_("olga"), None, eid).to_dict()
    assert (view["type"], view["severity"], view["status"]) == ("rule-violation", "major", "open")
    assert view["owner_role"] == "operator"
    assert view["origin"] == {"kind": "document", "id": "line.jsonld"}
    assert view["document_sha256"]
    assert len(view["document_sha256"]) == 64
    (issue,) = view["issues"]  # the event, field and identifier of what was wrong
    assert (issue["event_index"], issue["field"]) == (0, "epcList[0]")
    assert issue["identifier"] == b.sgtin("NEVER")  # as the document wrote it

    ex.assign(site.as_("quinn"), None, eid, "olga", note="please look")
    ex.comment(site.as_("olga"), None, eid, "the line sent a unit it never commissioned")
    ex.resolve(site.as_("olga"), None, eid, "line L1 re-sent the commissioning first")
    ex.comment(site.as_("olga"), None, eid, "justified below")
    done = _close(site, eid, justification="a one-off operator error; no systemic cause")

    view = ex.show(site.as_("adam"), None, eid).to_dict()
    assert view["status"] == "closed"
    assert view["assignee"] == "olga"
    assert view["resolution"] == "line L1 re-sent the commissioning first"
    assert [a["action"] for a in view["actions"]] == [
        "assign",
        "comment",
        "resolve",
        "comment",
        "close",
    ]
    (sig,) = view["signatures"]
    assert (sig["signer"], sig["meaning"], sig["verified"]) == ("quinn", "approved", True)
    assert sig["seq"] == done.signature.seq
    assert ex.list_exceptions(site.as_("olga"), None, status="closed")[0]["id"] == eid
    assert ex.list_exceptions(site.as_("olga"), None, status="open") == []


def test_list_filters(site: Site) -> None:
    _reject(site)
    seq = ex.open_exception(
        site.as_("olga"),
        None,
        type="line-deviation",
        reason="case crushed on the conveyor",
        identifiers=[b.dl(b.sscc(9))],
        origin="line:L1",
    )
    o = site.as_("olga")
    assert [r["seq"] for r in ex.list_exceptions(o, None, type="line-deviation")] == [seq]
    assert [r["type"] for r in ex.list_exceptions(o, None, severity="minor")] == ["line-deviation"]
    assert len(ex.list_exceptions(o, None, since="2000-01-01")) == 2
    assert ex.list_exceptions(o, None, since="2999-01-01") == []
    with pytest.raises(UsageError, match="--status 'done'"):
        ex.list_exceptions(o, None, status="done")
    with pytest.raises(UsageError, match="--type 'oops'"):
        ex.list_exceptions(o, None, type="oops")


def _unchanged(site: Site) -> tuple[int, list[tuple[object, ...]]]:
    with site.repo.read() as conn:
        rows = conn.execute(sa.select(schema.exceptions.c.seq, schema.exceptions.c.status)).all()
    return site.head(), [tuple(r) for r in rows]


def test_closing_without_a_resolution_is_refused_and_changes_nothing(site: Site) -> None:
    eid = _reject(site)
    before = _unchanged(site)
    with pytest.raises(ConflictError, match="only a resolved exception can be closed"):
        _close(site, eid, justification="x")
    assert _unchanged(site) == before


def test_closing_needs_a_signature_by_qa(site: Site) -> None:
    eid = _reject(site)
    ex.resolve(site.as_("olga"), None, eid, "re-sent")
    before = _unchanged(site)
    with pytest.raises(NotPermitted, match="close or reopen exceptions"):
        _close(site, eid, user="olga", justification="x")
    with pytest.raises(UsageError, match="password re-entered"):
        ex.close(site.as_("quinn"), None, eid, password=None, justification="x")
    assert _unchanged(site) == before
    with pytest.raises(NotAuthenticated):
        ex.close(
            site.as_("quinn"), None, eid, password="wrong", user_entered="quinn", justification="x"
        )
    with site.repo.read() as conn:  # the failed re-entry is on record; the exception is not closed
        status = conn.execute(sa.select(schema.exceptions.c.status)).scalar()
    assert status == "resolved"


def test_a_major_exception_needs_a_capa_or_a_justification(site: Site) -> None:
    from serialvault.app import capa

    eid = _reject(site)
    ex.resolve(site.as_("olga"), None, eid, "re-sent")
    before = _unchanged(site)
    with pytest.raises(ConflictError, match="it is major: closing needs a linked CAPA"):
        _close(site, eid)
    assert _unchanged(site) == before
    c = capa.new(
        site.as_("rita"),
        None,
        title="line master data",
        problem="units sent uncommissioned",
        exceptions=[eid],
    )
    done = _close(site, eid)
    view = ex.show(site.as_("olga"), None, eid).to_dict()
    assert view["capas"] == [c["capa"]]
    assert view["signatures"][0]["verified"]
    assert done.exception == eid


def test_the_resolver_does_not_close(site: Site) -> None:
    eid = _reject(site)
    ex.resolve(site.as_("quinn"), None, eid, "fixed the line setting")
    before = _unchanged(site)
    with pytest.raises(NotPermitted, match="separation of duties"):
        _close(site, eid, justification="none needed")
    assert _unchanged(site) == before
    _close(site, eid, user="rita", justification="none needed")


def test_a_closed_exception_is_locked_until_reopened(site: Site) -> None:
    eid = _reject(site)
    ex.resolve(site.as_("olga"), None, eid, "re-sent")
    _close(site, eid, justification="one-off")
    with pytest.raises(ConflictError, match="closed exception is locked"):
        ex.comment(site.as_("olga"), None, eid, "one more thing")
    with pytest.raises(NotPermitted):
        ex.reopen(site.as_("olga"), None, eid, "it came back")
    ex.reopen(site.as_("rita"), None, eid, "it came back")
    with pytest.raises(ConflictError, match="only a resolved exception"):
        _close(site, eid, justification="one-off")  # the old resolution does not carry over
    ex.resolve(site.as_("olga"), None, eid, "line re-trained")
    _close(site, eid, user="rita", justification="one-off")
    view = ex.show(site.as_("olga"), None, eid).to_dict()
    assert [s["verified"] for s in view["signatures"]] == [True, True]


def test_the_same_rejection_again_is_linked_not_duplicated(site: Site) -> None:
    data = b.document(b.observe([b.sgtin("NEVER")]))
    eid = _reject(site, data=data)
    assert _reject(site, data=data) == eid
    assert _reject(site, data=b.document(b.observe([b.sgtin("NEVER")]))) != eid  # other bytes
    view = ex.show(site.as_("olga"), None, eid).to_dict()
    assert [a["action"] for a in view["actions"]] == ["seen-again"]
    assert len(ex.list_exceptions(site.as_("olga"), None)) == 2


def test_an_exception_edited_after_closure_no_longer_verifies(site: Site) -> None:
    eid = _reject(site)
    ex.resolve(site.as_("olga"), None, eid, "re-sent")
    _close(site, eid, justification="one-off")
    with site.repo.write_raw() as conn:  # someone with database access rewrites the reason
        conn.execute(sa.update(schema.exceptions).values(reason="nothing to see"))
    view = ex.show(site.as_("olga"), None, eid).to_dict()
    assert view["signatures"][0]["verified"] is False


def test_the_workflow_replays_bit_for_bit(site: Site) -> None:
    eid = _reject(site)
    ex.assign(site.as_("quinn"), None, eid, "olga", note=None)
    ex.resolve(site.as_("olga"), None, eid, "re-sent")
    _close(site, eid, justification="one-off")
    result = rebuild(site.repo, actor="tester")
    assert result.identical
    assert result.before.tables["exception_actions"].rows == 3


def test_assigning_to_someone_who_cannot_work_on_it_is_refused(site: Site) -> None:
    from tests.accounts import add_user

    eid = _reject(site)
    add_user(site.repo, "audrey", ["auditor"])
    before = _unchanged(site)
    with pytest.raises(NotPermitted, match="do not let them work on exceptions"):
        ex.assign(site.as_("quinn"), None, eid, "audrey", note=None)
    with pytest.raises(Exception, match="no such person"):
        ex.assign(site.as_("quinn"), None, eid, "nobody", note=None)
    assert _unchanged(site) == before


def test_the_rejected_document_is_kept_as_received(site: Site, tmp_path: Path) -> None:
    data = b.document(b.observe([b.sgtin("NEVER")]))
    eid = _reject(site, data=data)
    view = ex.show(site.as_("olga"), None, eid).to_dict()
    assert view["quarantine"] == {"kept": True, "size": len(data), "encoding": "zstd+base64"}
    out = tmp_path / "back.jsonld"
    assert ex.stored_document(site.as_("olga"), None, eid, out) == len(data)
    assert out.read_bytes() == data
    # bytes swapped in the database do not come back as the refused document
    other = b.document(b.observe([b.sgtin("OTHER")]))
    packed = base64.b64encode(zstandard.ZstdCompressor().compress(other)).decode()
    with site.repo.write_raw() as conn:
        body = conn.execute(sa.select(schema.log.c.body).where(schema.log.c.seq == int(eid[3:])))
        text = body.scalar_one()
        doc = orjson.loads(text)
        doc["quarantine"].update(data=packed, size=len(other))
        conn.execute(
            sa.update(schema.log)
            .where(schema.log.c.seq == int(eid[3:]))
            .values(body=orjson.dumps(doc).decode() if isinstance(text, str) else orjson.dumps(doc))
        )
    with pytest.raises(IntegrityFailure, match="does not match the SHA-256"):
        ex.stored_document(site.as_("olga"), None, eid, tmp_path / "forged.jsonld")
    assert not (tmp_path / "forged.jsonld").exists()
