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
import sqlalchemy as sa

from serialvault.drill.plan import RECORD_KIND, DrillPlan, plan_sha256
from serialvault.store import schema
from serialvault.store.repository import Repository


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
    lg = schema.log
    rows = conn.execute(
        sa.select(lg.c.seq, lg.c.recorded_at, lg.c.actor, lg.c.reason, lg.c.body)
        .where(lg.c.kind == RECORD_KIND)
        .order_by(lg.c.seq)
    ).all()
    out: list[PlanVersion] = []
    counts: dict[str, int] = {}
    for seq, at, actor, reason, body in rows:
        doc = orjson.loads(body)
        pid = str(doc["plan"]["id"])
        counts[pid] = counts.get(pid, 0) + 1
        if plan_id is None or pid == plan_id:
            out.append(
                PlanVersion(
                    pid,
                    counts[pid],
                    int(seq),
                    str(at),
                    str(actor),
                    str(reason),
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
            RECORD_KIND,
            {"plan": plan.to_dict(), "sha256": sha, "file": file},
            actor,
            reason,
        )
    return (
        PlanVersion(plan.id, len(versions) + 1, rec.seq, rec.recorded_at, actor, reason, sha, file),
        True,
    )
