"""Drill tests use the backup fixtures (keys, a real S3 endpoint on 127.0.0.1) and a
drill evidence package made from a real run."""

from __future__ import annotations

from pathlib import Path

import pytest

from serialvault.backup.copies import Copy
from serialvault.backup.crypto import load_encryption_key, load_signing_key, load_verify_key
from serialvault.drill import evidence as ev
from serialvault.drill import plan as p
from serialvault.drill.runner import DrillResult, run_drill
from serialvault.store.repository import Repository
from tests.backup.conftest import grow, keys, new_repo, policy_for, s3_endpoint  # noqa: F401


@pytest.fixture
def package(tmp_path: Path, keys: dict[str, str]) -> tuple[Path, DrillResult]:  # noqa: F811
    repo = new_repo(str(tmp_path / "live.db"))
    grow(repo, 20, products=True)
    plan, text = scratch_plan("primary-loss", tmp_path / "sb.db")
    res = run_plan(
        plan, text, repo, keys, [Copy("onsite", (tmp_path / "onsite").as_uri())], tmp_path / "runs"
    )
    from serialvault.drill.register import drill_runs

    folder, _ = ev.write_package(
        res,
        tmp_path / "runs" / res.drill_id / "evidence",
        load_signing_key(keys["signing_key"]),
        drill_runs(repo, plan.id),
    )
    return folder, res


def scratch_plan(scenario: str, target: Path, **edits: str) -> tuple[p.DrillPlan, str]:
    """The ``drill new`` template of ``scenario`` restoring into ``target``, edited."""
    text = p.template(scenario).replace(
        f'target = "drill-sandbox/{scenario}.db"', f'target = "{target}"'
    )
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    return p.parse_plan(text), text


def run_plan(
    plan: p.DrillPlan,
    text: str,
    repo: Repository,
    keys: dict[str, str],  # noqa: F811
    copies: list[Copy],
    workdir: Path,
    seed: int | None = 7,
) -> DrillResult:
    """``run_drill`` as ``drill run`` calls it, with the test keys and no policy file."""
    return run_drill(
        plan,
        p.plan_sha256(text),
        source=repo,
        policy=policy_for(keys),
        copies=copies,
        verify_key=load_verify_key(keys["signing_key"]),
        key=load_encryption_key(keys["encryption_key"]),
        workdir=workdir,
        actor="qa@site",
        seed=seed,
    )


def approved_plan(db: str, plan_file: Path) -> None:
    """Record ``plan_file`` as the test user and have a second person (qa) approve it:
    ``drill run`` runs only the effective version of a plan (change control)."""
    from serialvault.app.drill import record
    from serialvault.settings import Settings
    from tests.accounts import approve_all, home

    record(Settings(db=db, home=home()), db, plan_file, reason="test plan")
    approve_all(db)
