"""Serial number pools on both engines: create, allocate, return, status, the capture
check of commissioned serials under each policy, replay, and the attacks — a serial
handed out twice, a returned serial reused, two allocations racing, a projection row
edited (EU FMD Delegated Regulation (EU) 2016/161 Art. 4)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from serialvault.app import serials as ops
from serialvault.domain import serials as rules
from serialvault.errors import (
    ConflictError,
    DocumentRejected,
    InputError,
    NotFound,
    NotPermitted,
    RuleViolation,
    UsageError,
)
from serialvault.settings import Settings
from serialvault.store import schema
from serialvault.store.capture import Capturer, CaptureResult
from serialvault.store.fingerprint import fingerprint
from serialvault.store.integrity import check_projections, rebuild
from serialvault.store.repository import Repository
from tests import builders as b
from tests.accounts import approve_all, home, make_repo, sign_in

GTIN = b.GTIN
DL = f"https://id.gs1.org/01/{GTIN}/21/"


@pytest.fixture
def site(db_url: str) -> tuple[Repository, Settings]:
    repo = make_repo(db_url)
    b.register(repo, GTIN)
    return repo, Settings(db=db_url, home=home())


def _capture(repo: Repository, *events: dict[str, Any]) -> CaptureResult:
    return Capturer(repo, actor="tester").capture_bytes(b.document(*events), "line.jsonld")


def _exceptions(repo: Repository) -> list[dict[str, Any]]:
    t = schema.exceptions
    with repo.read() as conn:
        rows = conn.execute(sa.select(t.c.type, t.c.reason, t.c.identifiers)).all()
    return [{"type": r[0], "reason": r[1], "identifiers": orjson.loads(r[2])} for r in rows]


def _rows(repo: Repository) -> dict[str, tuple[str, Any, Any, Any]]:
    t = schema.serial_numbers
    with repo.read() as conn:
        return {
            r.serial: (r.status, r.allocation_seq, r.commissioned_seq, r.returned_seq)
            for r in conn.execute(sa.select(t))
        }


def test_a_pool_is_created_and_refused_when_it_cannot_meet_the_bound(
    site: tuple[Repository, Settings],
) -> None:
    repo, s = site
    head = repo.head().seq
    with pytest.raises(RuleViolation) as refused:
        ops.create_pool(s, None, GTIN, expected=1_000_000, length=6, alphabet="0123456789")
    msg = refused.value.message
    assert "10^6 = 1,000,000 serials for an expected 1,000,000" in msg
    assert "1 in 10,000" in msg
    assert "at least 11 characters" in msg
    assert "nothing was recorded" in msg
    assert refused.value.exit_code == 5
    with pytest.raises(UsageError, match="'/' is not allowed"):
        ops.create_pool(s, None, GTIN, expected=10, alphabet="AB/CDEFG")
    assert repo.head().seq == head  # nothing changed
    made = ops.create_pool(s, None, GTIN, expected=1_000)
    assert made.pool.version == 1
    assert made.pool.low_stock == 100
    assert made.to_dict()["guess_odds"].startswith("1 in ")
    with pytest.raises(ConflictError, match="already has a serial number pool"):
        ops.create_pool(s, None, GTIN, expected=2_000)
    with pytest.raises(ConflictError, match="keeps them"):
        ops.create_pool(s, None, GTIN, expected=2_000, length=14, update=True)
    bigger = ops.create_pool(s, None, GTIN, expected=2_000, low_stock=5, update=True)
    assert bigger.pool.version == 2
    assert ops.create_pool(s, None, GTIN, expected=2_000, low_stock=5, update=True).seq is None
    (listed,) = ops.list_pools(s, None)
    assert listed["pool"]["expected"] == 2_000
    assert listed["remaining"] == 2_000


def test_allocate_writes_the_lines_list_and_the_pool_counts_it(
    site: tuple[Repository, Settings], tmp_path: Path
) -> None:
    repo, s = site
    ops.create_pool(s, None, GTIN, expected=500, low_stock=50)
    csv_path, json_path = tmp_path / "line1.csv", tmp_path / "line1.json"
    done = ops.allocate(s, None, GTIN, 200, to="line-1", out=[csv_path, json_path])
    assert len(set(done.serials)) == 200
    assert done.remaining == 300
    for serial in done.serials:
        assert len(serial) == rules.DEFAULT_LENGTH
        assert set(serial) <= set(rules.DEFAULT_ALPHABET)
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "serial,gtin,element_string,digital_link,epc_urn"
    first = lines[1].split(",")
    serial = first[0]
    assert first[2] == f"(01){GTIN}(21){serial}"
    assert first[3] == DL + serial
    assert b.dl(first[4]) == DL + serial  # the EPC URN is the same unit
    doc = json.loads(json_path.read_text())
    assert doc["format"] == "serialvault.serials/1"
    assert doc["allocation"] == done.allocation_id
    assert [b.dl(e) for e in doc["epcList"]] == [DL + x for x in done.serials]
    # the allocation record holds every serial: replay rebuilds the rows from it
    with repo.read() as conn:
        body = conn.execute(
            sa.select(schema.log.c.body).where(schema.log.c.seq == done.seq)
        ).scalar_one()
    assert sorted(orjson.loads(body)["serials"]) == sorted(done.serials)
    st = ops.status(s, None, GTIN)
    assert (st["allocated"], st["issued"], st["remaining"], st["low_stock"]) == (
        200,
        200,
        300,
        False,
    )
    (a,) = st["allocations"]
    assert (a["id"], a["to"], a["count"], a["allocated"]) == (
        done.allocation_id,
        "line-1",
        200,
        200,
    )
    # a file that cannot be written allocates nothing
    head = repo.head().seq
    with pytest.raises(InputError, match="does not exist"):
        ops.allocate(s, None, GTIN, 10, to="line-1", out=[tmp_path / "no" / "x.csv"])
    with pytest.raises(UsageError, match="the extension names the format"):
        ops.allocate(s, None, GTIN, 10, to="line-1", out=[tmp_path / "x.txt"])
    assert repo.head().seq == head
    assert ops.status(s, None, GTIN)["issued"] == 200
    assert not list((tmp_path).glob(".*tmp-*"))


def test_an_exhausted_pool_refuses_and_changes_nothing(site: tuple[Repository, Settings]) -> None:
    repo, s = site
    ops.create_pool(s, None, GTIN, expected=10, length=6, low_stock=3)
    first = ops.allocate(s, None, GTIN, 8, to="order-1")
    assert first.warning()
    assert "is low: 2 of 10" in (first.warning() or "")
    head = repo.head().seq
    with pytest.raises(RuleViolation) as refused:
        ops.allocate(s, None, GTIN, 3, to="order-2")
    msg = refused.value.message
    assert "cannot hand out 3 serials: 2 of its expected volume of 10 remain" in msg
    assert "nothing was allocated" in msg
    assert refused.value.exit_code == 5
    assert repo.head().seq == head
    assert ops.status(s, None, GTIN)["issued"] == 8
    with pytest.raises(NotFound, match="has no serial number pool"):
        ops.allocate(s, None, b.OTHER_GTIN, 1, to="x")
    with pytest.raises(UsageError, match="--count 0"):
        ops.allocate(s, None, GTIN, 0, to="x")


def _propose_first(monkeypatch: pytest.MonkeyPatch, serials: list[str]) -> None:
    """The generator's next draw starts with ``serials`` (an attacker's wish, or a very
    unlucky draw): the pool must still never hand them out."""
    real = rules.generate
    calls = {"n": 0}

    def rigged(count: int, alphabet: str, length: int, *a: Any) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 1:
            return (serials + real(count, alphabet, length))[:count]
        return real(count, alphabet, length)

    monkeypatch.setattr(rules, "generate", rigged)


def test_a_returned_serial_is_never_handed_out_again(
    site: tuple[Repository, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, s = site
    ops.create_pool(s, None, GTIN, expected=100, length=8)
    a = ops.allocate(s, None, GTIN, 10, to="line-1")
    back = a.serials[:3]
    done = ops.return_serials(s, None, a.allocation_id, serials=back, reason="batch stopped")
    assert done.to_dict()["never_reused"]
    assert len(done.serials) == 3
    rows = _rows(repo)
    assert all(rows[x][0] == "returned" and rows[x][3] == done.seq for x in back)
    _propose_first(monkeypatch, back + a.serials[5:7])
    again = ops.allocate(s, None, GTIN, 5, to="line-2")
    assert not set(again.serials) & set(a.serials)
    st = ops.status(s, None, GTIN)
    assert (st["allocated"], st["returned"], st["issued"]) == (12, 3, 15)
    # refusals name the serial, change nothing
    head = repo.head().seq
    with pytest.raises(ConflictError, match=f"{back[0]} \\(returned\\)"):
        ops.return_serials(s, None, a.allocation_id, serials=back[:1], reason="again")
    with pytest.raises(NotFound, match="not of"):
        ops.return_serials(s, None, a.allocation_id, serials=again.serials[:1], reason="x")
    with pytest.raises(NotFound, match="no allocation"):
        ops.return_serials(s, None, "AL-999999", all_unused=True, reason="x")
    with pytest.raises(UsageError, match="--reason"):
        ops.return_serials(s, None, a.allocation_id, all_unused=True, reason=" ")
    assert repo.head().seq == head
    rest = ops.return_serials(s, None, a.allocation_id, all_unused=True, reason="line closed")
    assert len(rest.serials) == 7
    with pytest.raises(ConflictError, match="no unused serial"):
        ops.return_serials(s, None, a.allocation_id, all_unused=True, reason="again")


def test_serials_commissioned_before_the_pool_are_never_made(
    site: tuple[Repository, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, s = site
    old = ["OLD00001", "OLD00002"]
    _capture(repo, b.commission([b.sgtin(x) for x in old]))
    ops.create_pool(s, None, GTIN, expected=100, length=8, alphabet=rules.DEFAULT_ALPHABET + "O")
    assert {k: v[0] for k, v in _rows(repo).items()} == dict.fromkeys(old, "unallocated")
    _propose_first(monkeypatch, old)
    a = ops.allocate(s, None, GTIN, 4, to="line-1")
    assert not set(a.serials) & set(old)
    assert ops.status(s, None, GTIN)["unallocated"] == 2


def test_commissioning_marks_serials_and_flags_those_never_allocated(
    site: tuple[Repository, Settings],
) -> None:
    """Default policy (no approved version): capture-and-flag — the document is captured
    and ONE exception, in the same transaction, names every such serial."""
    repo, s = site
    ops.create_pool(s, None, GTIN, expected=100)
    a = ops.allocate(s, None, GTIN, 6, to="line-1")
    back = ops.return_serials(s, None, a.allocation_id, serials=a.serials[4:5], reason="torn")
    rogue = "ROGUE0001"
    epcs = [b.sgtin(x) for x in a.serials[:4]] + [b.sgtin(rogue), b.sgtin(back.serials[0])]
    res = _capture(repo, b.commission(epcs))
    assert res.recorded == 1
    (exc,) = _exceptions(repo)
    assert exc["type"] == "unallocated-serial"
    assert exc["identifiers"] == sorted([DL + rogue, DL + back.serials[0]])
    assert "2 commissioned serial(s)" in exc["reason"]
    assert "returned" in exc["reason"]
    assert res.last_seq == repo.head().seq  # the exception is in the capture's commit
    assert any("never allocated" in w for w in res.warnings)
    st = ops.status(s, None, GTIN)
    assert (st["allocated"], st["commissioned"], st["unallocated"]) == (1, 5, 1)
    rows = _rows(repo)
    assert rows[rogue][0] == "unallocated"
    assert rows[rogue][2] == res.first_seq
    assert rows[back.serials[0]][0] == "commissioned"
    assert rows[back.serials[0]][3] == back.seq
    # a GTIN without a pool is not looked at; re-capturing the same event is a no-op
    b.register(repo, b.OTHER_GTIN)
    _capture(repo, b.commission([b.sgtin("FREE1", ("0999", "99"))]))
    assert len(_exceptions(repo)) == 1
    # the allocation's unused serial can still be returned; a commissioned one cannot
    with pytest.raises(ConflictError, match="commissioned"):
        ops.return_serials(s, None, a.allocation_id, serials=a.serials[:1], reason="x")


def test_under_the_reject_policy_an_unallocated_serial_rejects_the_document(
    site: tuple[Repository, Settings],
) -> None:
    repo, s = site
    assert ops.policy(s, None)["policy"] == {"unallocated": "flag"}
    drafted = ops.set_policy(s, None, "reject", reason="EU FMD: only pool serials")
    assert ops.policy(s, None)["drafts"] == [drafted.change_id]
    assert ops.policy(s, None)["policy"]["unallocated"] == "flag"  # a draft changes nothing
    approve_all(repo)
    shown = ops.policy(s, None)
    assert shown["policy"] == {"unallocated": "reject"}
    assert shown["change"] == drafted.change_id
    ops.create_pool(s, None, GTIN, expected=100)
    a = ops.allocate(s, None, GTIN, 3, to="line-1")
    urn = b.sgtin("NOTFROMPOOL")
    event = b.commission([b.sgtin(a.serials[0]), urn], eventID="urn:uuid:0b3c5d1e-1")
    head = repo.head().seq
    with pytest.raises(DocumentRejected) as refused:
        _capture(repo, event)
    (issue,) = refused.value.issues
    assert issue.code == "unallocated-serial"
    assert issue.field == "epcList[1]"
    assert issue.identifier == urn
    assert issue.event_id == "urn:uuid:0b3c5d1e-1"
    assert "never allocated from its pool" in issue.message
    # nothing of the document: only the rejection's exception record
    assert repo.head().seq == head + 1
    assert _exceptions(repo)[-1]["type"] == "rule-violation"
    assert ops.status(s, None, GTIN)["commissioned"] == 0
    # the allocated serials alone are accepted
    _capture(repo, b.commission([b.sgtin(x) for x in a.serials]))
    assert ops.status(s, None, GTIN)["commissioned"] == 3
    with pytest.raises(UsageError, match="one of reject, flag"):
        ops.set_policy(s, None, "warn", reason=None)


def test_replay_rebuilds_the_pools_and_catches_an_edited_row(
    site: tuple[Repository, Settings],
) -> None:
    repo, s = site
    _capture(repo, b.commission([b.sgtin("EARLY1")]))
    ops.create_pool(s, None, GTIN, expected=1_000)
    a = ops.allocate(s, None, GTIN, 50, to="line-1")
    ops.return_serials(s, None, a.allocation_id, serials=a.serials[40:], reason="stopped")
    _capture(repo, b.commission([b.sgtin(x) for x in a.serials[:30]] + [b.sgtin("LATE1")]))
    with repo.read() as conn:
        before = fingerprint(conn)
        assert before.tables["serial_numbers"].rows == 52
        assert check_projections(conn).ok
    done = rebuild(repo, actor="tester")
    assert done.identical
    assert done.after.tables["serial_numbers"] == before.tables["serial_numbers"]
    # someone sets a commissioned serial back to allocated in the database
    t = schema.serial_numbers
    with repo.write() as (conn, _log):
        conn.execute(t.update().where(t.c.serial == a.serials[0]).values(status="allocated"))
    with repo.read() as conn:
        found = check_projections(conn)
    assert not found.ok
    assert found.tables_differing == ["serial_numbers"]
    assert a.serials[0] in " ".join(found.examples)


def test_two_racing_allocations_never_share_a_serial(site: tuple[Repository, Settings]) -> None:
    _repo, s = site
    ops.create_pool(s, None, GTIN, expected=100_000, length=6)
    results: list[Any] = []

    def draw() -> None:
        for _ in range(3):
            results.append(ops.allocate(s, None, GTIN, 2_000, to="line").serials)

    workers = [threading.Thread(target=draw) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(results) == 6
    every = [x for r in results for x in r]
    assert len(every) == len(set(every)) == 12_000
    assert ops.status(s, None, GTIN)["issued"] == 12_000


def test_who_may_do_what(site: tuple[Repository, Settings], tmp_path: Path) -> None:
    repo, s = site
    ops.create_pool(s, None, GTIN, expected=100)
    checks: list[tuple[str, list[str], Callable[[Settings], Any]]] = [
        ("oscar", ["operator"], lambda u: ops.create_pool(u, None, GTIN, expected=5, update=True)),
        ("audrey", ["auditor"], lambda u: ops.allocate(u, None, GTIN, 1, to="x")),
        ("quinn", ["qa"], lambda u: ops.set_policy(u, None, "reject", reason=None)),
    ]
    for user, roles, act in checks:
        at = tmp_path / user
        sign_in(repo, user, roles, at=at)
        with pytest.raises(NotPermitted):
            act(Settings(db=repo.url, home=at))
    oscar = Settings(db=repo.url, home=tmp_path / "oscar")
    assert len(ops.allocate(oscar, None, GTIN, 2, to="line-9").serials) == 2
