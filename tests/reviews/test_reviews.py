"""Audit-trail and access reviews, as a QA reviewer runs them: written, recorded, due,
signed, verified — on both engines — and every refusal (a non-qa signer, a signer whose
own privileged actions are listed, a report altered before or after signing, no
password re-entered) says why, exits non-zero and changes nothing.

Record times are set by a test clock (``LogAppender`` reads ``now_utc`` of the store's
repository module): January 2030, with weekday, night and weekend entries, so working
hours are checked deterministically.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from serialvault.app import identity as id_ops
from serialvault.cli.main import app
from serialvault.domain import review as rv
from serialvault.domain.records import DRILL_RUN, EXCEPTION
from serialvault.settings import Settings
from serialvault.store import repository as repository_mod
from serialvault.store.project import record
from serialvault.store.repository import Repository
from serialvault.timefmt import utc_iso
from tests import builders as b
from tests.accounts import add_user, approve_all, home, make_repo, password_file, sign_in

runner = CliRunner()


class Clock:
    """The log's clock, moved by the test."""

    def __init__(self, at: str) -> None:
        self.at = datetime.fromisoformat(at)

    def set(self, at: str) -> None:
        self.at = datetime.fromisoformat(at)

    def __call__(self) -> str:
        self.at += timedelta(milliseconds=1)
        return utc_iso(self.at)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    c = Clock("2030-01-07T08:00:00+00:00")  # a Monday
    monkeypatch.setattr(repository_mod, "now_utc", c)
    return c


def _home(user: str, url: str) -> Path:
    return home().parent / f"{user}-{abs(hash(url))}"


def cli(user: str, url: str, *args: str, password: bool = False) -> Any:
    env = {"SERIALVAULT_HOME": str(_home(user, url)), "SERIALVAULT_DB": url}
    argv = list(args)
    if password:
        argv += ["--password-file", str(password_file(_home(user, url))), "--user", user]
    return runner.invoke(app, argv, env=env, catch_exceptions=False)


def _head(url: str) -> int:
    return Repository.open(url).head().seq


def _site(url: str, clock: Clock) -> Repository:
    """A site's January 2030: accounts made (privileged), a failed log-in, a rejected
    capture, a failed drill, a weekend log-in, a review policy approved."""
    repo = make_repo(url, "tester", ["admin"])  # tester: the admin
    for user, roles in (("quinn", ["qa"]), ("rita", ["qa"]), ("ada", ["admin", "qa"])):
        add_user(repo, user, roles)
        sign_in(repo, user, roles, at=_home(user, url))
    add_user(repo, "oscar", ["operator"])
    sign_in(repo, "oscar", ["operator"], at=_home("oscar", url))
    # ada (admin and qa) issues a token for a line: a privileged action of a qa user
    add_user(repo, "line1", ["service"], kind="service")
    settings = Settings(db=url, home=_home("ada", url))
    id_ops.create_token(settings, url, "line1", label="line 1", reason="line set-up")
    # quinn proposes working hours in Berlin; "reviewer" (qa) approves
    r = cli(
        "quinn",
        url,
        "audit",
        "review",
        "policy",
        "set",
        "timezone=Europe/Berlin",
        "work_start=07:00",
        "work_end=19:00",
        "--json",
    )
    assert r.exit_code == 0, r.stdout
    approve_all(repo)
    clock.set("2030-01-08T10:00:00+00:00")
    with pytest.raises(Exception, match="wrong password"):
        id_ops.log_in(Settings(db=url, home=_home("x", url)), url, "oscar", "not-the-password")
    doc = b.document(b.commission([b.sgtin("900001")]))  # a product nobody registered
    src = _home("oscar", url) / "bad.jsonld"
    src.write_bytes(doc)
    rejected = cli("oscar", url, "capture", str(src), "--json")
    assert rejected.exit_code != 0
    record(repo, DRILL_RUN, {"drill_id": "D-1", "plan": "p", "verdict": "fail"}, "ada", "drill p")
    body = {"source": "drill", "type": "drill-deviation", "severity": "major", "reason": "RTO"}
    record(repo, EXCEPTION, body, "system", "drill D-1 deviation")
    clock.set("2030-01-12T03:00:00+00:00")  # a Saturday night in Berlin
    sign_in(repo, "oscar", ["operator"], at=_home("oscar", url))
    clock.set("2030-02-03T09:00:00+00:00")  # the period is over
    for user in ("quinn", "rita", "ada", "tester"):
        sign_in(repo, user, at=_home(user, url))
    return repo


def test_audit_review_written_due_signed_verified(
    db_url: str, clock: Clock, tmp_path: Path
) -> None:
    _site(db_url, clock)
    before = cli("quinn", db_url, "audit", "review", "due", "--json")
    assert before.exit_code == 0, before.stdout
    assert [p["period"] for p in json.loads(before.stdout)["due"]] == ["2030-01"]

    out = tmp_path / "review-2030-01"
    r = cli(
        "quinn",
        db_url,
        "audit",
        "review",
        "--from",
        "2030-01-01",
        "--to",
        "2030-02-01",
        "--out",
        str(out),
        "--json",
    )
    assert r.exit_code == 0, r.stdout
    res = json.loads(r.stdout)
    doc = json.loads((out / "review.json").read_text())
    # the period is Berlin's January (policy approved), bound to the log
    assert doc["period"]["from"] == "2029-12-31T23:00:00.000000Z"
    assert doc["period"]["label"] == "2030-01"
    assert doc["covered"]["first_seq"] == 1
    assert doc["covered"]["chain_verified"]
    repo = Repository.open(db_url)
    with repo.read() as conn:
        assert (
            repository_mod.chain_hash_at(conn, doc["covered"]["last_seq"])
            == doc["covered"]["chain_hash"]
        )
    flags = doc["counts"]["by_flag"]
    for f in (
        "login-failure",
        "rejected-capture",
        "drill-deviation",
        "privileged",
        "access-change",
        "change-control",
        "outside-hours",
    ):
        assert flags.get(f), (f, flags)
    night = [e for e in doc["flagged"] if "outside-hours" in e["flags"]]
    assert any(e["actor"] == "oscar" and e["local_time"].startswith("Sat") for e in night)
    assert all(e["actor"] != "line1" for e in night)  # a line works nights: not flagged
    assert {"tester", "ada"} <= set(doc["excluded_signers"])
    assert "quinn" not in doc["excluded_signers"]
    assert sum(u["records"] for u in doc["counts"]["users"]) == doc["covered"]["records"]
    assert doc["counts"]["by_role"]["qa"] > 0
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    html = (out / "report.html").read_text()
    assert html.index('id="flagged"') < html.index('id="counts"')
    assert res["files"]["report.html"] in json.dumps(res)

    due = json.loads(cli("quinn", db_url, "audit", "review", "due", "--json").stdout)
    assert due["due"][0]["unsigned_reviews"] == [doc["review_id"]]  # recorded, not signed

    signed = cli(
        "quinn",
        db_url,
        "audit",
        "review",
        "sign",
        str(out / "review.json"),
        "--json",
        password=True,
    )
    assert signed.exit_code == 0, signed.stdout
    s = json.loads(signed.stdout)
    assert s["signer"] == "quinn"
    assert s["meaning"] == "reviewed"
    after = json.loads(cli("quinn", db_url, "audit", "review", "due", "--json").stdout)
    assert after["due"] == []
    assert after["reviews"][0]["signed_by"] == ["quinn"]
    v = cli("rita", db_url, "audit", "review", "verify", str(out), "--json")
    assert v.exit_code == 0, v.stdout
    assert json.loads(v.stdout)["signed"] is True

    twice = cli("quinn", db_url, "audit", "review", "sign", str(out), password=True)
    assert twice.exit_code == 9
    assert "already" in twice.stderr


def _reviewed(url: str, clock: Clock, tmp_path: Path) -> Path:
    _site(url, clock)
    out = tmp_path / "rev"
    r = cli(
        "quinn",
        url,
        "audit",
        "review",
        "--from",
        "2030-01-01",
        "--to",
        "2030-02-01",
        "--out",
        str(out),
    )
    assert r.exit_code == 0, r.stdout + r.stderr
    return out


def test_refusals_change_nothing(db_url: str, clock: Clock, tmp_path: Path) -> None:
    out = _reviewed(db_url, clock, tmp_path)
    head = _head(db_url)
    # a signer who is not qa
    r = cli("tester", db_url, "audit", "review", "sign", str(out), password=True)
    assert r.exit_code == 16
    assert "may not sign off" in r.stderr
    # a qa signer whose own privileged actions the review lists
    r = cli("ada", db_url, "audit", "review", "sign", str(out), password=True)
    assert r.exit_code == 16
    assert "ada's own privileged actions" in r.stderr
    # no password re-entered
    r = cli("quinn", db_url, "audit", "review", "sign", str(out), "--user", "quinn")
    assert r.exit_code == 2
    assert "password" in r.stderr
    # the report altered after it was recorded
    html = out / "report.html"
    original = html.read_bytes()
    html.write_bytes(original.replace(b"Flagged entries", b"Nothing to see"))
    r = cli("quinn", db_url, "audit", "review", "sign", str(out), password=True)
    assert r.exit_code == 8
    assert "report.html was altered" in r.stderr
    v = cli("quinn", db_url, "audit", "review", "verify", str(out))
    assert v.exit_code == 8
    assert "report.html was altered" in v.stderr
    assert _head(db_url) == head  # nothing was recorded by any refusal
    # a review of a period that is not over, and an --out already used
    r = cli(
        "quinn",
        db_url,
        "audit",
        "review",
        "--from",
        "2030-02-01",
        "--to",
        "2099-01-01",
        "--out",
        str(tmp_path / "x"),
    )
    assert r.exit_code == 2
    assert "in the future" in r.stderr
    html.write_bytes(original)
    r = cli(
        "quinn",
        db_url,
        "audit",
        "review",
        "--from",
        "2030-01-01",
        "--to",
        "2030-02-01",
        "--out",
        str(out),
    )
    assert r.exit_code == 9
    assert "already holds a review" in r.stderr
    assert _head(db_url) == head


def test_a_report_altered_after_signing_does_not_verify(
    db_url: str, clock: Clock, tmp_path: Path
) -> None:
    out = _reviewed(db_url, clock, tmp_path)
    assert cli("quinn", db_url, "audit", "review", "sign", str(out), password=True).exit_code == 0
    (out / "report.pdf").write_bytes((out / "report.pdf").read_bytes() + b"\n% edited")
    v = cli("rita", db_url, "audit", "review", "verify", str(out), "--json")
    assert v.exit_code == 8
    found = json.loads(v.stdout)
    assert found["signed"] is False
    assert any("report.pdf was altered" in f for f in found["findings"])
    assert any("altered after it was signed" in f for f in found["findings"])


def test_access_review_written_signed_and_due(db_url: str, clock: Clock, tmp_path: Path) -> None:
    _site(db_url, clock)
    due = json.loads(cli("quinn", db_url, "user", "review", "due", "--json").stdout)
    assert due["due"] is True
    assert due["last_signed"] is None
    # oscar leaves: disabled; line1 idles; the dormant threshold is 90 days
    id_ops.set_enabled(
        Settings(db=db_url, home=_home("tester", db_url)),
        db_url,
        "oscar",
        enabled=False,
        reason="left the company",
    )
    clock.set("2030-06-01T09:00:00+00:00")
    sign_in(db_url, "quinn", at=_home("quinn", db_url))
    out = tmp_path / "access"
    r = cli("quinn", db_url, "user", "review", "--out", str(out), "--json")
    assert r.exit_code == 0, r.stdout
    doc = json.loads((out / "review.json").read_text())
    by = {a["user"]: a for a in doc["accounts"]}
    assert by["oscar"]["status"] == "disabled"
    assert any(f.startswith("dormant") for f in by["rita"]["findings"])
    assert "holds admin and qa" in by["ada"]["findings"]
    assert by["line1"]["active_tokens"]
    changes = [c["change"] for c in doc["changes"]]
    assert "account disabled" in changes
    assert any(c.startswith("token") for c in changes)
    assert "tester" in doc["excluded_signers"]
    assert "ada" in doc["excluded_signers"]
    assert doc["since"] is None
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    refused = cli("ada", db_url, "user", "review", "sign", str(out), password=True)
    assert refused.exit_code == 16
    ok = cli("quinn", db_url, "user", "review", "sign", str(out), "--json", password=True)
    assert ok.exit_code == 0, ok.stdout
    assert cli("rita", db_url, "user", "review", "verify", str(out)).exit_code == 0
    due = json.loads(cli("rita", db_url, "user", "review", "due", "--json").stdout)
    assert due["due"] is False
    assert due["last_signed"]["review_id"] == doc["review_id"]
    # the next review lists only what changed since the signed one
    id_ops.change_roles(
        Settings(db=db_url, home=_home("tester", db_url)),
        db_url,
        "rita",
        add=["auditor"],
        remove=[],
        reason="audit duty",
    )
    out2 = tmp_path / "access-2"
    assert cli("quinn", db_url, "user", "review", "--out", str(out2)).exit_code == 0
    doc2 = json.loads((out2 / "review.json").read_text())
    assert doc2["since"]["review_id"] == doc["review_id"]
    assert [c["change"] for c in doc2["changes"]] == ["roles +auditor"]
    # an audit review's JSON is not an access review
    wrong = cli("quinn", db_url, "audit", "review", "sign", str(out2), password=True)
    assert wrong.exit_code == 2
    assert "user review" in wrong.stderr


def test_the_review_policy_is_under_change_control(db_url: str, clock: Clock) -> None:
    make_repo(db_url, "tester", ["admin"])
    add_user(db_url, "quinn", ["qa"])
    sign_in(db_url, "quinn", ["qa"], at=_home("quinn", db_url))
    shown = json.loads(cli("quinn", db_url, "audit", "review", "policy", "show", "--json").stdout)
    assert shown["change"] is None
    assert shown["audit_interval"] == "monthly"
    bad = cli("quinn", db_url, "audit", "review", "policy", "set", "timezone=Mars/Olympus")
    assert bad.exit_code == 2
    assert "IANA" in bad.stderr
    ok = cli(
        "quinn",
        db_url,
        "audit",
        "review",
        "policy",
        "set",
        "audit_interval=weekly",
        "dormant_days=30",
        "--json",
    )
    assert ok.exit_code == 0, ok.stdout
    still = json.loads(cli("quinn", db_url, "audit", "review", "policy", "show", "--json").stdout)
    assert still["audit_interval"] == "monthly"  # a draft is not in force
    approve_all(db_url)
    now = json.loads(cli("quinn", db_url, "audit", "review", "policy", "show", "--json").stdout)
    assert now["audit_interval"] == "weekly"
    assert now["dormant_days"] == 30
    assert now["change"] is not None


# --------------------------------------------------------------------------- pure rules


def _row(
    seq: int, prev: str, at: str, kind: str, actor: str, body: dict[str, Any]
) -> tuple[Any, ...]:
    from serialvault.canonical import canonical_json
    from serialvault.domain.chain import body_hash, chain_hash

    raw = canonical_json(body).decode()
    bh = body_hash(raw.encode())
    return (seq, at, kind, actor, "r", raw, bh, chain_hash(prev, seq, at, kind, actor, "r", bh))


def test_the_tally_flags_by_name_and_checks_the_chain() -> None:
    from serialvault.domain.chain import GENESIS

    rows: list[tuple[Any, ...]] = []
    prev = GENESIS
    bodies = [
        (
            "user.account",
            "ada",
            {
                "user": "oscar",
                "kind": "person",
                "status": "disabled",
                "roles": ["operator"],
                "change": "disabled",
            },
        ),
        ("epcis.event", "oscar", {"event": 1}),
        ("exception.action", "quinn", {"exception": 5, "action": "close"}),
        ("exception.action", "quinn", {"exception": 5, "action": "comment"}),
        ("capa.version", "quinn", {"capa": "CAPA-1"}),
        ("serials.pool", "ada", {"pool": 1}),
        ("serials.allocation", "line1", {"n": 10}),
    ]
    for i, (kind, actor, body) in enumerate(bodies, 1):
        row = _row(i, prev, f"2026-01-05T10:00:0{i}.000000Z", kind, actor, body)
        rows.append(row)
        prev = row[7]
    t = rv.AuditTally(rv.ReviewPolicy(), {})
    t.feed(rows)
    assert t.broken is None
    assert t.records == len(rows)
    assert t.last_chain == prev
    flags = {e[0]: e[5] for e in t.flagged}
    assert flags[2] == ("disabled-account",)
    assert flags[3] == ("exception-closed",)
    assert 4 not in flags
    assert flags[5] == ("capa",)
    assert flags[6] == ("serials",)
    assert flags[7] == ("serials",)
    assert "privileged" in flags[1]
    tampered = list(rows)
    tampered[3] = (*rows[3][:5], rows[3][5].replace("comment", "close"), *rows[3][6:])
    t2 = rv.AuditTally(rv.ReviewPolicy(), {})
    t2.feed(tampered)
    assert t2.broken is not None
    assert t2.broken.seq == 4


def test_periods_follow_the_site_time_zone_and_dst() -> None:
    pol = rv.ReviewPolicy(timezone="Europe/Berlin")
    ps = rv.periods(pol, "2030-03-05T00:00:00Z", "2030-05-01T00:00:00Z")
    assert [(p.label, p.start) for p in ps] == [
        ("2030-03", "2030-02-28T23:00:00.000000Z"),
        ("2030-04", "2030-03-31T22:00:00.000000Z"),  # summer time
    ]
    q = rv.periods(
        rv.ReviewPolicy(audit_interval="quarterly"),
        "2030-02-01T00:00:00Z",
        datetime(2031, 1, 1, tzinfo=UTC).isoformat(),
    )
    assert [p.label for p in q] == ["2030-Q1", "2030-Q2", "2030-Q3", "2030-Q4"]
    hours = rv.WorkingHours(pol)
    assert not hours.outside("2030-07-01T05:30:00.000000Z")  # 07:30 in Berlin
    assert hours.outside("2030-07-01T03:30:00.000000Z")  # 05:30 in Berlin
