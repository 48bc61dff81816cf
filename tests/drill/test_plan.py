"""Drill plans: templates that run as they are, refusals that name the field, and plan
versions recorded in the log (once per text, with who and why)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serialvault.drill import plan as p
from serialvault.drill.register import plan_history, record_plan
from serialvault.errors import InputError
from serialvault.store.fingerprint import fingerprint
from serialvault.store.integrity import rebuild, verify_chain
from tests.accounts import approve_all
from tests.backup.conftest import grow, new_repo

SV = [sys.executable, "-m", "serialvault.cli.main"]


@pytest.mark.parametrize("scenario", list(p.SCENARIOS))
def test_every_template_parses_as_it_is(scenario: str) -> None:
    plan = p.parse_plan(p.template(scenario), "t")
    assert plan.id == scenario
    assert plan.scenario.name == scenario
    assert plan.restore_target == f"drill-sandbox/{scenario}.db"
    extra = ("R9",) if scenario == "tampered-primary" else ()
    assert plan.rules == ("R1", "R2", "R4", "R5", "R6", "R8", *extra)
    assert plan.objectives.rto_s == 4 * 3600
    assert plan.frequency_s == 30 * 86400


def _with(scenario: str, old: str, new: str) -> str:
    text = p.template(scenario)
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("format = 'x'", "format must be"),
        ("[objectives\n", "not valid TOML"),
        (_with("primary-loss", 'id = "primary-loss"', 'id = "Bad Id"'), "id 'Bad Id'"),
        (_with("primary-loss", 'name = "primary-loss"', 'name = "fire"'), "scenario.name 'fire'"),
        (_with("primary-loss", 'rto = "4h"', 'rto = "soon"'), "objectives.rto"),
        (_with("primary-loss", "zero_loss = true", "zero_loss = 1"), "zero_loss"),
        (_with("bad-change", "before_seq = 2 ", "# "), "needs before_seq or before_time"),
        (_with("bad-change", "before_seq = 2 ", "before_seq = 1 "), "before_seq must be"),
        (_with("corruption", "corrupt_pages = 8", "corrupt_pages = 0"), "corrupt_pages"),
        (_with("primary-loss", 'recovery_point = "latest"', 'recovery_point = "seq:x"'), "seq:N"),
        (
            _with("primary-loss", 'recovery_point = "latest"', 'recovery_point = "now"'),
            "recovery_point must be",
        ),
        (_with("primary-loss", '"R8"]', '"R10"]'), "rules.check"),
        (_with("primary-loss", 'role = "qa"', 'role = "intern"'), "review.role 'intern'"),
        (_with("primary-loss", 'frequency = "30d"', 'frequency = "0s"'), "frequency"),
        (_with("primary-loss", "copies = []", 'copies = "onsite"'), "source.copies"),
        (p.template("primary-loss") + "\nextra = 1\n", "unknown key(s) in [review]: extra"),
        (
            _with("primary-loss", 'rto = "4h"', "rto_s = 60"),
            "unknown key(s) in [objectives]: rto_s",
        ),
        ("format = 'serialvault.drill-plan/1'\nid = 'x'\nbogus = 1\n", "unknown key(s) bogus"),
    ],
)
def test_bad_plans_are_refused_by_field(text: str, needle: str) -> None:
    with pytest.raises(InputError, match=re.escape(needle)):
        p.parse_plan(text, "plan.toml")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_a_plan_or_an_input_error(text: str) -> None:
    with contextlib.suppress(InputError):
        p.parse_plan(text, "fuzz")


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(list(p.SCENARIOS)),
    st.sampled_from(["1s", "90s", "15m", "4h", "2d", "1w", 30, 0.5]),
)
def test_objective_durations_round_trip(scenario: str, rto: str | int | float) -> None:
    value = f'"{rto}"' if isinstance(rto, str) else str(rto)
    plan = p.parse_plan(_with(scenario, 'rto = "4h"', f"rto = {value}"), "t")
    assert plan.objectives.rto_s == p.duration(rto, "rto")
    assert plan.to_dict()["objectives"]["rto_s"] == plan.objectives.rto_s


def test_plan_versions_are_recorded_once_per_text(tmp_path: Path) -> None:
    repo = new_repo(str(tmp_path / "r.db"))
    grow(repo, products=True)
    with repo.read() as conn:
        before = fingerprint(conn).value
    text = p.template("primary-loss")
    plan = p.parse_plan(text)
    v1, new1 = record_plan(repo, plan, text, "pl.toml", actor="qa@site", reason="created")
    again, new2 = record_plan(repo, plan, text, "pl.toml", actor="qa@site", reason="again")
    assert (new1, new2) == (True, False)
    assert again.seq == v1.seq
    edited = text.replace('rto = "4h"', 'rto = "2h"')
    v2, new3 = record_plan(
        repo, p.parse_plan(edited), edited, "pl.toml", actor="lead@site", reason="RTO tightened"
    )
    assert new3
    assert v2.version == 2
    hist = plan_history(repo, "primary-loss")
    assert [(v.version, v.actor, v.reason) for v in hist] == [
        (1, "qa@site", "created"),
        (2, "lead@site", "RTO tightened"),
    ]
    assert hist[0].sha256 == p.plan_sha256(text)
    assert hist[1].sha256 == p.plan_sha256(edited)
    # plan records are in the chain, and feed no projection
    with repo.read() as conn:
        assert verify_chain(conn).ok
        assert fingerprint(conn).value == before
    assert rebuild(repo, actor="t").identical


def test_cli_drill_new_validate_record_and_plans(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    new_repo(str(db), signed_in=True)
    env = dict(os.environ)

    def sv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SV, "drill", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    plan = tmp_path / "plans" / "pl.toml"
    made = sv("new", "--scenario", "bad-change", "--out", str(plan), "--db", str(db), "--json")
    assert made.returncode == 0, made.stderr
    assert orjson.loads(made.stdout)["version"] == 1
    assert p.parse_plan(plan.read_text()).scenario.name == "bad-change"
    again = sv("new", "--scenario", "bad-change", "--out", str(plan), "--db", str(db))
    assert again.returncode == 9
    assert "exists" in again.stdout + again.stderr
    assert sv("validate", str(plan)).returncode == 0
    plan.write_text(plan.read_text().replace('rpo = "15m"', 'rpo = "5m"'))
    # an edited text while version 1 awaits approval: refused, nothing recorded
    waiting = sv("record", str(plan), "--db", str(db), "--reason", "too early")
    assert waiting.returncode == 9, waiting.stdout
    assert "awaiting approval" in waiting.stdout + waiting.stderr
    assert approve_all(str(db))
    no_reason = sv("record", str(plan), "--db", str(db))
    assert no_reason.returncode == 2  # --reason is required
    rec = sv("record", str(plan), "--db", str(db), "--reason", "RPO 5 min", "--json")
    assert rec.returncode == 0, rec.stderr
    assert orjson.loads(rec.stdout)["version"] == 2
    listed = orjson.loads(sv("plans", "--db", str(db), "--json").stdout)
    assert [v["reason"] for v in listed] == ["plan created", "RPO 5 min"]
    plan.write_text("format = 'serialvault.drill-plan/1'\nid = 'x'\n")
    bad = sv("validate", str(plan))
    assert bad.returncode == 4 or bad.returncode == 3
    assert "title" in bad.stdout + bad.stderr
    unknown = sv("new", "--scenario", "flood", "--out", str(tmp_path / "f.toml"), "--db", str(db))
    assert unknown.returncode != 0
    assert "flood" in unknown.stdout + unknown.stderr
    assert not (tmp_path / "f.toml").exists()
