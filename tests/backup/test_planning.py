"""``backup inventory`` and ``backup plan``: figures from the repository, advice that holds.

The recommendation is a pure function of measured figures, so its promises are checked
as properties (hypothesis): the recommended interval plus an incremental's duration never
exceeds the RPO; a restore predicted at the end of the recommended chain fits the RTO
share unless a warning says it cannot; warnings appear exactly when the configured
schedule loses more than the RPO.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from serialvault.backup import planning, restore
from serialvault.backup.copies import Copy
from serialvault.backup.crypto import load_encryption_key, load_verify_key
from serialvault.backup.planning import Figures, RestoreRates, recommend
from serialvault.backup.take import full_backup
from serialvault.errors import BackupError
from serialvault.store import schema
from tests.backup.conftest import cli_env, copy_of, grow, new_repo, policy_for

SV = [sys.executable, "-m", "serialvault.cli.main"]


def test_inventory_counts_every_kind_and_averages_growth_over_the_window(db_url: str) -> None:
    repo = new_repo(db_url)
    grow(repo, 30, products=True)
    grow(repo, 30)
    head = repo.head().seq
    # the first records are made 30 days old: outside a 7-day window
    with repo.write() as (conn, _log):
        conn.execute(
            schema.log.update()
            .where(schema.log.c.seq <= 2)
            .values(recorded_at="2000-01-01T00:00:00.000000Z")
        )
    inv = planning.inventory(repo, None, 7.0)
    kinds = {k["kind"]: k for k in inv["kinds"]}
    assert inv["head_seq"] == head
    assert kinds["audit"]["log_records"] == head
    assert sum(kinds[k]["log_records"] for k in kinds if k != "audit") == head
    with repo.read() as conn:
        n_events = conn.execute(sa.select(sa.func.count()).select_from(schema.events)).scalar()
        n_units = conn.execute(sa.select(sa.func.count()).select_from(schema.units)).scalar()
    assert kinds["events"]["log_records"] == n_events
    assert kinds["events"]["tables"]["units"] == n_units == inv["units"]
    assert kinds["master data"]["tables"]["products"] >= 1
    assert kinds["configuration"]["log_records"] == 1
    assert kinds["events"]["log_bytes"] > 0
    assert inv["database_bytes"] > 0
    assert kinds["events"]["stored_bytes"] is None or kinds["events"]["stored_bytes"] > 0
    # the window is 7 days but the log is 'older': growth counts only the recent records
    assert inv["window_days"] == 7.0
    recent = head - 2
    assert inv["growth_per_day"]["records"] == pytest.approx(recent / 7, abs=0.1)


def test_every_record_of_a_governed_repository_is_in_a_kind(tmp_path: Path) -> None:
    """Accounts, log-ins, signatures, change records and master data versions each
    count in a data kind: the inventory a backup plan is sized on misses nothing."""
    from serialvault.app.products import ProductInput, add
    from serialvault.settings import Settings
    from tests import builders as b
    from tests.accounts import approve_all, home, make_repo

    repo = make_repo(str(tmp_path / "gov.db"))
    add(Settings(db=repo.url, home=home()), repo.url, ProductInput(name="P", gtin=b.GTIN))
    approve_all(repo)
    inv = planning.inventory(repo, None, 7.0)
    kinds = {k["kind"]: k for k in inv["kinds"]}
    head = repo.head().seq
    assert sum(kinds[k]["log_records"] for k in kinds if k != "audit") == head
    assert kinds["governance"]["tables"]["signatures"] == 1
    assert kinds["master data"]["tables"]["products"] == 1


def test_inventory_refuses_an_empty_window(tmp_path: Path) -> None:
    repo = new_repo(str(tmp_path / "r.db"))
    with pytest.raises(BackupError, match="window"):
        planning.inventory(repo, None, 0)


def _figures(**over: object) -> Figures:
    base: dict[str, object] = {
        "rpo_s": 900.0,
        "rto_s": 4 * 3600.0,
        "records_per_day": 50_000.0,
        "log_bytes_per_day": 200e6,
        "peak_records_per_minute": 200,
        "head_seq": 1_000_000,
        "database_bytes": 2_000_000_000,
        "full_stored_bytes": 400_000_000,
        "full_plain_bytes": 2_000_000_000,
        "segment_ratio": 0.2,
        "incr_seconds": 3.0,
        "copies": 2,
        "policy_incremental_s": 600.0,
        "policy_full_every_s": 7 * 86400.0,
        "keep_fulls": 4,
        "keep_days": 35.0,
        "follow_interval_s": 1.0,
        "follow_running": False,
        "restore": RestoreRates(
            at="2026-01-01T00:00:00.000000Z",
            backup="b",
            target_engine="sqlite",
            fetch_bytes_s=200e6,
            load_bytes_s=400e6,
            replay_records_s=5_000.0,
            check_records_s=200_000.0,
            total_s=30.0,
        ),
    }
    base.update(over)
    return Figures(**base)  # type: ignore[arg-type]


def test_a_schedule_that_meets_both_objectives_has_no_warning() -> None:
    plan = recommend(_figures())
    assert plan["ok"], plan["warnings"]
    assert plan["recommended"]["mode"] == "scheduled"
    end = plan["restore_prediction"]["end_of_recommended_chain"]
    assert end["complete"]
    assert end["total_s"] <= 4 * 3600 * planning.RTO_SHARE


def test_a_slow_measured_restore_warns_against_the_rto() -> None:
    slow = _figures(
        rto_s=600.0,
        restore=RestoreRates("2026-01-01T00:00:00.000000Z", "b", "sqlite", 1e6, 1e6, 50, 1e4, 9),
    )
    plan = recommend(slow)
    assert not plan["ok"]
    assert any("predicted to take" in w and "RTO" in w for w in plan["warnings"])


def test_no_measured_restore_leaves_the_rto_unassessed() -> None:
    plan = recommend(_figures(restore=None))
    assert any(w.startswith("RTO not assessed") for w in plan["warnings"])
    assert plan["restore_prediction"]["right_after_full"] is None


def test_a_short_rpo_recommends_continuous_mode_and_one_copy_warns() -> None:
    plan = recommend(_figures(rpo_s=20.0, copies=1))
    assert plan["recommended"]["mode"] == "continuous"
    assert plan["recommended"]["command"].startswith("serialvault backup follow --interval")
    assert any("loses up to" in w for w in plan["warnings"])
    assert any("at least two" in w for w in plan["warnings"])
    # a running follower at 1 s meets the 20 s RPO: no schedule warning
    run = recommend(_figures(rpo_s=20.0, follow_running=True))
    assert not any("loses up to" in w for w in run["warnings"])


def test_bad_objectives_are_refused() -> None:
    with pytest.raises(BackupError, match="rpo"):
        recommend(_figures(rpo_s=0.0))


@settings(max_examples=300, deadline=None)
@given(
    rpo=st.floats(1, 7 * 86400),
    rto=st.floats(60, 7 * 86400),
    rate=st.floats(0, 5e6),
    incr=st.floats(0, 600),
    policy_incr=st.floats(1, 86400),
    replay=st.floats(10, 1e6),
)
def test_recommendation_properties(
    rpo: float, rto: float, rate: float, incr: float, policy_incr: float, replay: float
) -> None:
    f = _figures(
        rpo_s=rpo,
        rto_s=rto,
        records_per_day=rate,
        log_bytes_per_day=rate * 2000,
        incr_seconds=incr,
        policy_incremental_s=policy_incr,
        restore=RestoreRates("t", "b", "sqlite", 1e8, 2e8, replay, 1e5, 10),
    )
    plan = recommend(f)
    rec = plan["recommended"]
    interval = rec["incremental_interval_s"]
    assert interval >= 1
    if incr < rpo:
        assert interval + incr <= rpo + 1e-9 or interval == 1.0
    schedule_warned = any("loses up to" in w for w in plan["warnings"])
    assert schedule_warned == (policy_incr + incr > rpo)
    end = plan["restore_prediction"]["end_of_recommended_chain"]
    rto_warned = any("predicted to take" in w for w in plan["warnings"])
    if end["total_s"] > rto * planning.RTO_SHARE + 0.1:
        assert rto_warned
    assert plan["storage_per_copy"]["held_bytes"] >= 0
    assert plan["ok"] == (not plan["warnings"])


def test_a_restore_leaves_its_measurement_and_the_plan_uses_it(
    tmp_path: Path, keys: dict[str, str], target_url: str
) -> None:
    repo = new_repo(str(tmp_path / "r.db"))
    grow(repo, 50, products=True)
    pol = policy_for(keys, main=target_url)
    full_backup(repo, pol, [Copy("main", target_url)], actor="t")
    before = planning.gather(repo, pol, [Copy("main", target_url)], rpo_s=900, rto_s=3600)
    assert before.restore is None
    assert (before.full_stored_bytes or 0) > 0
    restore.restore(
        [copy_of(target_url)],
        str(tmp_path / "back.db"),
        verify_key=load_verify_key(keys["signing_key"]),
        key=load_encryption_key(keys["encryption_key"]),
        actor="t",
    )
    after = planning.gather(repo, pol, [Copy("main", target_url)], rpo_s=900, rto_s=3600)
    assert after.restore is not None
    assert after.restore.target_engine == "sqlite"
    assert (after.restore.load_bytes_s or 0) > 0
    plan = recommend(after)
    assert plan["measured"]["restore"]["backup"] == after.restore.backup
    assert not any(w.startswith("RTO not assessed") for w in plan["warnings"])


def test_cli_inventory_and_plan(tmp_path: Path, keys: dict[str, str]) -> None:
    db = tmp_path / "r.db"
    repo = new_repo(str(db), signed_in=True)
    grow(repo, 20, products=True)
    url = (tmp_path / "c").as_uri()

    def sv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SV, *args, "--db", str(db)],
            env=cli_env(keys),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    inv = sv("backup", "inventory", "--json")
    assert inv.returncode == 0, inv.stderr
    doc = orjson.loads(inv.stdout)
    assert [k["kind"] for k in doc["kinds"]] == list(planning.KINDS)
    text = sv("backup", "inventory")
    assert "master data" in text.stdout
    plan = sv("backup", "plan", "--rpo", "15m", "--rto", "4h", "--to", url, "--json")
    assert plan.returncode == 0, plan.stderr
    p = orjson.loads(plan.stdout)
    assert p["objectives"] == {"rpo_s": 900.0, "rto_s": 14400.0}
    checked = sv("backup", "plan", "--rpo", "15m", "--rto", "4h", "--to", url, "--check")
    assert checked.returncode == 12, "one copy and no measured restore: warnings stand"
    assert "[schedule]" in checked.stdout or "at least two" in checked.stdout
    bad = sv("backup", "plan", "--rpo", "soon", "--rto", "4h", "--to", url)
    assert bad.returncode == 2
    assert "--rpo 'soon' is not a duration" in bad.stdout + bad.stderr


def test_cli_incremental_records_the_fingerprint_only_when_asked(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    db = tmp_path / "r.db"
    repo = new_repo(str(db), signed_in=True)
    grow(repo, 20, products=True)
    url = (tmp_path / "c").as_uri()

    def sv(*args: str) -> dict:
        res = subprocess.run(
            [*SV, "backup", *args, "--db", str(db), "--to", url, "--json"],
            env=cli_env(keys),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, res.stderr
        return orjson.loads(res.stdout)

    assert sv("full")["fingerprint"]
    grow(repo)
    assert sv("incr")["fingerprint"] is None
    grow(repo)
    with repo.read() as conn:
        from serialvault.store.fingerprint import fingerprint

        live = fingerprint(conn).value
    assert sv("incr", "--fingerprint")["fingerprint"] == live
