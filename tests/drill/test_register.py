"""The drill register: runs recorded in the log, plans due by their frequency."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import orjson

from serialvault.backup.copies import Copy
from serialvault.drill import plan as p
from serialvault.drill.register import drill_runs, due, record_plan
from serialvault.timefmt import now_utc, parse_timestamp, utc_iso
from tests.backup.conftest import grow, new_repo
from tests.drill.conftest import run_plan, scratch_plan

SV = [sys.executable, "-m", "serialvault.cli.main"]


def test_runs_are_registered_and_plans_fall_due(tmp_path: Path, keys: dict[str, str]) -> None:
    db = tmp_path / "live.db"
    repo = new_repo(str(db), signed_in=True)
    grow(repo, 10, products=True)
    plan, ran = scratch_plan("primary-loss", tmp_path / "sb.db")
    never = p.template("bad-change")
    record_plan(repo, p.parse_plan(never), never, "bc.toml", actor="qa", reason="created")
    record_plan(repo, plan, ran, "pl.toml", actor="qa", reason="created")
    res = run_plan(
        plan, ran, repo, keys, [Copy("onsite", (tmp_path / "onsite").as_uri())], tmp_path / "runs"
    )
    runs = drill_runs(repo)
    assert [(r["drill_id"], r["verdict"], r["actor"]) for r in runs] == [
        (res.drill_id, "pass", "qa@site")
    ]
    assert runs[0]["seq"] == res.run_seq
    now = now_utc()
    rows = due(repo, now)
    assert [(r["plan"], r["never_run"]) for r in rows] == [("bad-change", True)]
    later = utc_iso(parse_timestamp(now) + timedelta(days=31))
    rows = {r["plan"]: r for r in due(repo, later)}
    assert set(rows) == {"bad-change", "primary-loss"}
    assert rows["primary-loss"]["last_run"] == res.drill_id
    assert 86_000 < rows["primary-loss"]["overdue_s"] < 87_000  # one day past 30

    env = dict(os.environ)

    def sv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SV, "drill", *args, "--db", str(db)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = orjson.loads(sv("list", "--json").stdout)
    assert [r["drill_id"] for r in listed] == [res.drill_id]
    (tmp_path / "runs" / res.drill_id).mkdir(parents=True, exist_ok=True)
    (tmp_path / "runs" / res.drill_id / "result.json").write_bytes(orjson.dumps(res.to_dict()))
    shown = orjson.loads(
        sv("show", res.drill_id, "--workdir", str(tmp_path / "runs"), "--json").stdout
    )
    assert shown["result"]["verdict"] == "pass"
    missing = sv("show", "no-such-drill")
    assert missing.returncode == 6
    assert "no-such-drill" in missing.stdout + missing.stderr
    due_now = orjson.loads(sv("due", "--json").stdout)
    assert [r["plan"] for r in due_now] == ["bad-change"]
    chart = sv("trend", "--out", str(tmp_path / "t.png"), "--plan", "primary-loss", "--json")
    assert chart.returncode == 0, chart.stderr
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    none = sv("trend", "--out", str(tmp_path / "n.png"), "--plan", "bad-change")
    assert none.returncode == 6
    assert not (tmp_path / "n.png").exists()
