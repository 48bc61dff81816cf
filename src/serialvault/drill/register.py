"""Plan versions in the log: every plan a drill uses is recorded — who, when, why, hash.

A record of kind ``drill.plan`` carries the parsed plan, the SHA-256 of the file's text
and the file's name; it feeds no projection (rebuild and restore carry it like any
record, and the hash chain protects it: 21 CFR 11.10(e), EU GMP Annex 11 §10 change
control). Recording the same text again writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from serialvault.domain.records import DRILL_PLAN, DRILL_RUN
from serialvault.drill.plan import DrillPlan, plan_sha256
from serialvault.store.repository import Repository, records_of_kind


@dataclass(frozen=True, slots=True)
class PlanVersion:
    plan_id: str
    version: int
    seq: int
    recorded_at: str
    actor: str
    reason: str
    sha256: str
    file: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan_id,
            "version": self.version,
            "seq": self.seq,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
            "reason": self.reason,
            "sha256": self.sha256,
            "file": self.file,
        }


def _versions(conn: Any, plan_id: str | None) -> list[PlanVersion]:
    out: list[PlanVersion] = []
    counts: dict[str, int] = {}
    for rec in records_of_kind(conn, DRILL_PLAN):
        doc = orjson.loads(rec.body)
        pid = str(doc["plan"]["id"])
        counts[pid] = counts.get(pid, 0) + 1
        if plan_id is None or pid == plan_id:
            out.append(
                PlanVersion(
                    pid,
                    counts[pid],
                    rec.seq,
                    rec.recorded_at,
                    rec.actor,
                    rec.reason,
                    str(doc["sha256"]),
                    str(doc.get("file", "")),
                )
            )
    return out


def plan_history(repo: Repository, plan_id: str | None = None) -> list[PlanVersion]:
    """Every recorded version of one plan (or of every plan), oldest first."""
    with repo.read() as conn:
        return _versions(conn, plan_id)


def record_plan(
    repo: Repository, plan: DrillPlan, text: str, file: str, *, actor: str, reason: str
) -> tuple[PlanVersion, bool]:
    """Record ``plan`` (parsed from ``text``) unless its newest version has the same text.

    Returns the version and whether it was new. The check and the append happen in one
    write transaction, so two runs recording at once cannot both add the same version.
    """
    sha = plan_sha256(text)
    with repo.write() as (conn, log):
        versions = _versions(conn, plan.id)
        if versions and versions[-1].sha256 == sha:
            return versions[-1], False
        rec = log.append(
            DRILL_PLAN,
            {"plan": plan.to_dict(), "sha256": sha, "file": file},
            actor,
            reason,
        )
    return (
        PlanVersion(plan.id, len(versions) + 1, rec.seq, rec.recorded_at, actor, reason, sha, file),
        True,
    )


# --------------------------------------------------------------------------- runs


def drill_runs(repo: Repository, plan_id: str | None = None) -> list[dict[str, Any]]:
    """Every drill run recorded in the log (oldest first): the register."""
    with repo.read() as conn:
        recs = records_of_kind(conn, DRILL_RUN)
    out = []
    for rec in recs:
        doc = orjson.loads(rec.body)
        if plan_id is None or doc.get("plan") == plan_id:
            out.append({"seq": rec.seq, "recorded_at": rec.recorded_at, "actor": rec.actor, **doc})
    return out


def latest_plans(repo: Repository) -> dict[str, dict[str, Any]]:
    """The newest recorded version of every plan: plan id → the plan as recorded."""
    with repo.read() as conn:
        recs = records_of_kind(conn, DRILL_PLAN)
    out: dict[str, dict[str, Any]] = {}
    for rec in recs:
        doc = orjson.loads(rec.body)
        out[str(doc["plan"]["id"])] = doc["plan"]
    return out


def due(repo: Repository, now: str) -> list[dict[str, Any]]:
    """Plans not run within their frequency (or never run), most overdue first.

    EU GMP Annex 11 §7.2: restore ability checked *periodically* — a plan's frequency is
    its period; a plan with no run is due since it was recorded.
    """
    from serialvault.timefmt import parse_timestamp

    runs = drill_runs(repo)
    last: dict[str, dict[str, Any]] = {}
    for r in runs:
        last[str(r["plan"])] = r
    versions = plan_history(repo)
    first_recorded: dict[str, str] = {}
    for v in versions:
        first_recorded.setdefault(v.plan_id, v.recorded_at)
    t_now = parse_timestamp(now)
    out = []
    for pid, plan in latest_plans(repo).items():
        every = float(plan.get("frequency_s") or 0)
        ref = last.get(pid)
        since = str(ref["finished_at"]) if ref else first_recorded[pid]
        age = (t_now - parse_timestamp(since)).total_seconds()
        overdue = age - every
        if ref is None or overdue > 0:
            out.append(
                {
                    "plan": pid,
                    "scenario": plan.get("scenario", {}).get("name"),
                    "frequency_s": every,
                    "last_run": ref["drill_id"] if ref else None,
                    "last_verdict": ref["verdict"] if ref else None,
                    "last_run_at": ref["finished_at"] if ref else None,
                    "overdue_s": round(max(0.0, overdue), 1) if ref else None,
                    "never_run": ref is None,
                }
            )
    out.sort(key=lambda d: (not d["never_run"], -(d["overdue_s"] or 0)))
    return out
