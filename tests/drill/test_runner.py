"""Drills run for real: every scenario passes on a healthy system (an on-site file copy
and an S3 copy over HTTP), and a drill FAILS when it should — a backup missing records
(R1), an altered log record (chain), a restore slower than the objective (RTO), a
tampered object with no intact copy, no off-site copy for onsite-copy-lost. The live
repository and copies are never damaged; each deviation becomes an exception."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from serialvault.backup.copies import Copy
from serialvault.backup.crypto import load_verify_key
from serialvault.backup.take import full_backup
from serialvault.domain import reconcile as rules
from serialvault.domain.records import DRILL_RUN as RUN_KIND
from serialvault.drill import plan as p
from serialvault.drill.runner import DrillResult
from serialvault.errors import IntegrityFailure
from serialvault.store import schema
from serialvault.store.fingerprint import fingerprint
from serialvault.store.repository import Repository
from tests.backup.conftest import cli_env, grow, new_repo, policy_for, s3_url
from tests.drill.conftest import approved_plan, run_plan, scratch_plan
from tests.pg import pg_schema_url

SV = [sys.executable, "-m", "serialvault.cli.main"]


def _plan(scenario: str, tmp: Path, **edits: str) -> tuple[p.DrillPlan, str]:
    return scratch_plan(scenario, tmp / "sandbox" / "r.db", **edits)


def _run(
    plan: p.DrillPlan,
    text: str,
    repo: Repository,
    keys: dict[str, str],
    copies: list[Copy],
    tmp: Path,
    seed: int = 7,
) -> DrillResult:
    return run_plan(plan, text, repo, keys, copies, tmp / "runs", seed)


def _crit(result: DrillResult) -> dict[str, str]:
    return {c.name: c.status for c in result.criteria}


@pytest.fixture
def site(tmp_path: Path, keys: dict[str, str], s3_endpoint: str):  # type: ignore[no-untyped-def]
    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, 30, products=True)
    grow(repo, 30)
    copies = [
        Copy("onsite", (tmp_path / "onsite").as_uri()),
        Copy("cloud", s3_url(s3_endpoint)),
    ]
    pol = policy_for(keys)
    full_backup(repo, pol, copies, actor="t")
    grow(repo, 30)  # after the full: the drill's own backup step ships it
    return repo, copies


def _live_state(repo: Repository, copies: list[Copy]) -> tuple[str, list[list[str]]]:
    with repo.read() as conn:
        fp = fingerprint(conn).value
    listing = [[i.name for i in c.open().target.list("")] for c in copies]
    return fp, listing


@pytest.mark.parametrize("scenario", list(p.SCENARIOS))
def test_every_scenario_passes_on_a_healthy_system(
    scenario: str,
    site,
    keys: dict[str, str],
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    repo, copies = site
    edits = {"before_seq = 2 ": "before_seq = 6 "} if scenario == "bad-change" else {}
    plan, text = _plan(scenario, tmp_path, **edits)
    if scenario == "post-backup-writes":
        grow(repo, 5)  # written after the newest backup: what the drill must measure
    fp_before, _ = _live_state(repo, copies)
    head_before = repo.head().seq
    res = _run(plan, text, repo, keys, copies, tmp_path)
    assert res.verdict == rules.PASS, [c.to_dict() for c in res.criteria] + res.findings
    assert res.rto_s is not None
    assert res.rto_s > 0
    statuses = _crit(res)
    for rule in ("R1", "R2", "R4", "R5", "R6"):
        assert statuses[f"reconciliation {rule}"] == rules.PASS
    # the live projections were not touched (the drill only appends its own records)
    with repo.read() as conn:
        assert fingerprint(conn).value == fp_before
        kinds = [
            r[0]
            for r in conn.execute(
                sa.select(schema.log.c.kind).order_by(schema.log.c.seq.desc()).limit(1)
            )
        ]
    assert kinds == [RUN_KIND]
    if scenario == "post-backup-writes":  # the full's point: two captures (6 records) later
        assert res.restore["head_seq"] == head_before - 6
        assert res.rpo_records == 6
        assert res.rpo_s is not None
    if scenario == "bad-change":
        assert res.restore["head_seq"] == 5
        assert statuses["recovery point reached"] == rules.PASS
    if scenario == "tampered-backup":
        assert statuses["tampering detected"] == rules.PASS
    if scenario == "corruption":
        assert statuses["corruption detected"] == rules.PASS
    if scenario in ("onsite-copy-lost", "ransomware"):
        assert (
            res.restore["plan"]["copy"] == copies[1].url or "cloud" in res.restore["plan"]["copy"]
        )
    if scenario == "lost-latest-increment":
        assert res.rpo_records
        assert res.rpo_records > 0
        # the first restore refused to go back silently, naming the lost backup
        assert statuses["loss detected"] == rules.PASS
        assert any("restore refused" in f and "Missing or unusable" in f for f in res.findings)
    if scenario == "rollback":
        assert statuses["rollback detected"] == rules.PASS
        assert statuses["forged newer manifest refused"] == rules.PASS
        measured = {c.name: c.measured for c in res.criteria}
        assert "newest backup known: backup " in measured["forged newer manifest refused"]
        assert res.rpo_records == 0, "the other copy still has the newest backup"
    if scenario == "tampered-primary":
        assert statuses["tampering of the primary detected"] == rules.PASS
        assert statuses["backup refuses the tampered primary"] == rules.PASS
        assert statuses["reconciliation R9"] == rules.PASS  # the restore is the intact one
    doc = orjson.loads(orjson.dumps(res.to_dict()))
    assert doc["verdict"] == "pass"
    assert [ph["phase"] for ph in doc["phases"]][:2] == ["baseline"] + (
        [] if scenario == "post-backup-writes" else ["backup"]
    ) or scenario == "post-backup-writes"


@pytest.mark.parametrize("kind", ["projection", "log-body", "log-rewrite", "truncate"])
def test_tampered_primary_is_caught_whatever_was_changed(
    kind: str,
    site,
    keys: dict[str, str],
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    repo, copies = site
    plan, text = _plan(
        "tampered-primary", tmp_path, **{'tamper = "projection"': f'tamper = "{kind}"'}
    )
    res = _run(plan, text, repo, keys, copies, tmp_path, seed=3)
    statuses = _crit(res)
    assert statuses["tampering of the primary detected"] == rules.PASS, res.criteria
    assert statuses["backup refuses the tampered primary"] == rules.PASS, res.criteria
    measured = {c.name: c.measured for c in res.criteria}
    found = measured["tampering of the primary detected"]
    if kind == "projection":
        assert "R9" in found
        assert "units" in found
        assert "status" in found
    elif kind == "log-body":
        assert "body does not match" in found
    elif kind == "log-rewrite":
        assert "history rewritten" in found
    else:
        assert "log truncated" in found
    assert res.verdict == rules.PASS


def test_rollback_of_the_only_copy_is_caught_by_the_witness(
    site,
    keys: dict[str, str],
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    repo, copies = site
    plan, text = _plan("rollback", tmp_path)
    res = _run(plan, text, repo, keys, copies[:1], tmp_path)
    statuses = _crit(res)
    assert statuses["rollback detected"] == rules.PASS
    assert statuses["forged newer manifest refused"] == rules.PASS
    assert statuses["no silent older recovery point"] == rules.PASS
    assert res.rpo_records
    assert res.rpo_records > 0
    assert statuses["zero loss"] == rules.FAIL


def _bad_backup(repo: Repository, copy: Copy, keys: dict[str, str], tmp: Path, damage: str) -> None:
    """A newest full whose snapshot lost a unit row (R1) or altered a log record (chain)."""
    src = Path(str(repo.url).removeprefix("sqlite:///"))
    bad = tmp / "bad.db"
    s, d = sqlite3.connect(src), sqlite3.connect(bad)
    s.backup(d)
    s.close()
    if damage == "unit":
        d.execute("DELETE FROM units WHERE id = (SELECT max(id) FROM units WHERE kind = 'sgtin')")
    else:
        d.execute("UPDATE log SET actor = 'mallory' WHERE seq = 3")
    d.commit()
    d.close()
    bad_repo = Repository.open(str(bad))
    if damage == "log":  # a chain that does not verify is never certified
        with pytest.raises(IntegrityFailure, match=r"hash chain is broken at seq 3"):
            full_backup(bad_repo, policy_for(keys), [copy], actor="buggy tool")
        return
    full_backup(bad_repo, policy_for(keys), [copy], actor="buggy tool")
    # what --check-projections would have said (R9 sees the missing row)
    other = Copy("elsewhere", (tmp / "elsewhere").as_uri())
    with pytest.raises(IntegrityFailure, match=r"projections differ from the log .* units"):
        full_backup(bad_repo, policy_for(keys), [other], actor="t", check_projections=True)


@pytest.mark.parametrize("damage", ["unit", "log"])
def test_a_bad_backup_fails_the_drill_and_opens_an_exception(
    damage: str, tmp_path: Path, keys: dict[str, str]
) -> None:
    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, 30, products=True)
    copy = Copy("onsite", (tmp_path / "onsite").as_uri())
    _bad_backup(repo, copy, keys, tmp_path, damage)
    plan, text = _plan("primary-loss", tmp_path)
    res = _run(plan, text, repo, keys, [copy], tmp_path)
    statuses = _crit(res)
    if damage == "log":  # refused at backup time: the drill backs up the intact live one
        assert res.verdict == rules.PASS, statuses
        return
    assert res.verdict == rules.FAIL
    assert statuses["reconciliation R1"] == rules.FAIL
    assert statuses["reconciliation R6"] == rules.FAIL
    with repo.read() as conn:
        opened = conn.execute(
            sa.select(schema.exceptions.c.reason).where(schema.exceptions.c.source == "drill")
        ).all()
    assert len(opened) == len(res.exceptions) >= 1


def test_a_restore_slower_than_the_objective_fails_rto(
    site,
    keys: dict[str, str],
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    repo, copies = site
    plan, text = _plan("primary-loss", tmp_path, **{'rto = "4h"': 'rto = "1ms"'})
    res = _run(plan, text, repo, keys, copies, tmp_path)
    assert _crit(res)["RTO"] == rules.FAIL
    assert res.verdict == rules.FAIL


def test_tampering_with_no_intact_copy_is_detected_and_fails(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, 30, products=True)
    copy = Copy("onsite", (tmp_path / "onsite").as_uri())
    plan, text = _plan("tampered-backup", tmp_path)
    before = (
        sorted(x.name for x in copy.open().target.list(""))
        if (tmp_path / "onsite").exists()
        else []
    )
    res = _run(plan, text, repo, keys, [copy], tmp_path)
    statuses = _crit(res)
    assert statuses["tampering detected"] == rules.PASS
    assert statuses["restore completed"] == rules.FAIL
    assert res.verdict == rules.FAIL
    # the live copy itself was not altered: verify it
    from serialvault.backup import verify

    rep = verify.verify_copy(copy, load_verify_key(keys["signing_key"]), full=True)
    assert rep.ok, rep.findings
    assert before == [] or set(before) <= {x.name for x in copy.open().target.list("")}


def test_onsite_copy_lost_without_an_offsite_copy_fails(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, 10, products=True)
    copy = Copy("onsite", (tmp_path / "onsite").as_uri())
    plan, text = _plan("onsite-copy-lost", tmp_path)
    res = _run(plan, text, repo, keys, [copy], tmp_path)
    assert _crit(res)["off-site copy available"] == rules.FAIL
    assert res.verdict == rules.FAIL


@pytest.mark.postgres
def test_a_postgresql_primary_drills_into_a_sqlite_sandbox(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    with pg_schema_url() as url:
        repo = new_repo(url)
        grow(repo, 20, products=True)
        copy = Copy("onsite", (tmp_path / "onsite").as_uri())
        plan, text = _plan("primary-loss", tmp_path)
        res = _run(plan, text, repo, keys, [copy], tmp_path)
        assert res.verdict == rules.PASS, [c.to_dict() for c in res.criteria] + res.findings
        corrupt, ctext = _plan("corruption", tmp_path)
        res2 = _run(corrupt, ctext, repo, keys, [copy], tmp_path)
        assert _crit(res2)["corruption detected"] == rules.INCONCLUSIVE
        assert res2.verdict == rules.INCONCLUSIVE


def test_cli_drill_run_exit_codes_and_result_file(tmp_path: Path, keys: dict[str, str]) -> None:
    db = tmp_path / "live.db"
    repo = new_repo(str(db), signed_in=True)
    grow(repo, 10, products=True)
    env = cli_env(keys)
    plan_file = tmp_path / "pl.toml"
    plan_file.write_text(_plan("primary-loss", tmp_path)[1])
    url = (tmp_path / "onsite").as_uri()

    def sv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SV, "drill", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )

    # not yet an approved version: refused by name, nothing run
    unapproved = sv("run", str(plan_file), "--db", str(db), "--to", url, "--json")
    assert unapproved.returncode == 16, unapproved.stdout
    assert "not an approved version" in unapproved.stdout
    assert not (tmp_path / "runs").exists()
    approved_plan(str(db), plan_file)
    ok = sv("run", str(plan_file), "--db", str(db), "--to", url, "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    doc = orjson.loads(ok.stdout)
    assert doc["verdict"] == "pass"
    assert Path(doc["result_file"]).is_file()
    plan_file.write_text(plan_file.read_text().replace('rto = "4h"', 'rto = "1ms"'))
    edited = sv("run", str(plan_file), "--db", str(db), "--to", url, "--json")
    assert edited.returncode == 16  # an edited plan is a new version: approved first
    approved_plan(str(db), plan_file)
    slow = sv("run", str(plan_file), "--db", str(db), "--to", url, "--json")
    assert slow.returncode == 8
    assert orjson.loads(slow.stdout)["verdict"] == "fail"
    versions = orjson.loads(sv("plans", "--db", str(db), "--json").stdout)
    assert len(versions) == 2  # both versions recorded, each approved before it ran
    shutil.rmtree(tmp_path / "runs", ignore_errors=True)


def test_a_plan_with_r3_checks_the_lifecycle_of_the_restored_units(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, 10, products=True)
    plan, text = _plan(
        "primary-loss",
        tmp_path,
        **{'check = ["R1", "R2", "R4", "R5", "R6", "R8"]': 'check = ["R1", "R3", "R5"]'},
    )
    res = _run(plan, text, repo, keys, [Copy("onsite", (tmp_path / "c").as_uri())], tmp_path)
    statuses = _crit(res)
    assert statuses["reconciliation R3"] == rules.PASS
    assert "reconciliation R2" not in statuses  # only the plan's rules are criteria
    assert res.verdict == rules.PASS


def test_a_random_recovery_point_is_drawn_within_the_window_and_reconciled(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, 10, products=True)
    for _ in range(4):
        grow(repo, 5)
    plan, text = _plan(
        "primary-loss", tmp_path, **{'recovery_point = "latest"': 'recovery_point = "random"'}
    )
    seen = set()
    for seed in (1, 2, 3):
        res = run_plan(
            plan,
            text,
            repo,
            keys,
            [Copy("onsite", (tmp_path / "c").as_uri())],
            tmp_path / "runs",
            seed=seed,
        )
        assert res.verdict == rules.PASS, [c.to_dict() for c in res.criteria] + res.findings
        point = res.restore["head_seq"]
        assert 1 <= point <= res.baseline["head_seq"]
        assert res.rpo_records == res.baseline["head_seq"] - point
        assert any("random recovery point" in s["message"] for s in res.steps)
        statuses = _crit(res)
        assert "zero loss" not in statuses  # a chosen point loses records by design
        if point < res.baseline["head_seq"]:
            assert res.baseline["expected_at_recovery_point"]["head_seq"] == point
        seen.add(point)
    assert len(seen) > 1, "three seeds drew the same point"


@pytest.mark.parametrize("order", ["first-copy-newer", "second-copy-newer"])
def test_a_tampered_object_is_one_the_restore_reads_whatever_chain_it_takes(
    tmp_path: Path, keys: dict[str, str], order: str
) -> None:
    """Two copies with chains of their own (separate fulls, as `make demo` makes them):
    whichever chain the restore plans, the flipped bit is in an object it reads, so the
    drill proves detection instead of passing over an object nobody reads."""
    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, 30, products=True)
    a = Copy("a", (tmp_path / "a").as_uri())
    b_ = Copy("b", (tmp_path / "b").as_uri())
    first, second = (a, b_) if order == "second-copy-newer" else (b_, a)
    full_backup(repo, policy_for(keys), [first], actor="t")
    grow(repo, 10)
    full_backup(repo, policy_for(keys), [second], actor="t")
    plan, text = _plan("tampered-backup", tmp_path)
    res = _run(plan, text, repo, keys, [a, b_], tmp_path)
    crit = {c.name: c for c in res.criteria}
    assert crit["tampering detected"].status == rules.PASS, crit["tampering detected"]
    assert res.verdict == rules.PASS, [c.to_dict() for c in res.criteria]


def test_a_plan_whose_target_is_the_live_repository_is_refused(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    """A drill restores into a scratch target: a plan pointing at the live repository
    (even by another path to the same file) would roll it back, and is refused."""
    db = tmp_path / "live.db"
    repo = new_repo(str(db), signed_in=True)
    grow(repo, 5, products=True)
    alias = tmp_path / "sub" / ".." / "live.db"
    (tmp_path / "sub").mkdir()
    plan_file = tmp_path / "pl.toml"
    plan_file.write_text(
        p.template("primary-loss").replace(
            'target = "drill-sandbox/primary-loss.db"', f'target = "{alias}"'
        )
    )
    approved_plan(str(db), plan_file)
    head = repo.head()
    r = subprocess.run(
        [*SV, "drill", "run", str(plan_file), "--db", str(db), "--to", (tmp_path / "c").as_uri()],
        env=cli_env(keys),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 16, r.stdout + r.stderr
    assert "the repository it drills" in r.stderr
    assert repo.head() == head


def test_every_flipped_data_byte_is_found(tmp_path: Path) -> None:
    """The corruption scenario's damage is a byte of the record's data (a row, an index
    entry, a tree pointer), never unused space: across seeds, every single-page flip is
    found by the checks the drill relies on — a check reporting success on damage it
    never saw would be the worst defect."""
    import random

    from serialvault.drill.faults import detect_corruption
    from serialvault.store import sandbox
    from serialvault.store.reconcile import take_baseline

    repo = new_repo(str(tmp_path / "src.db"))
    grow(repo, 60, products=True)
    grow(repo, 60)
    base = take_baseline(repo)
    missed = []
    for seed in range(24):
        damaged = tmp_path / f"d{seed}.db"
        pages = sandbox.corrupt_pages(tmp_path / "src.db", damaged, 1, random.Random(seed))
        found, how = detect_corruption(damaged, base)
        if not found:
            missed.append((seed, pages, how))
    assert missed == []
