"""What a drill run produces: phases with their timing, criteria with their verdicts,
findings, and the measured RTO and RPO (DESIGN.md "Drills": verdict per criterion).

The result is the single source of the evidence package, the ``drill.run`` record and
``result.json``: nothing is judged twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from serialvault.domain import reconcile as rules
from serialvault.drill.plan import DrillPlan
from serialvault.timefmt import now_utc

RESULT_FORMAT = "serialvault.drill-result/1"

Step = Callable[[str, str], None]


def no_step(_phase: str, _message: str) -> None:
    """The step callback of a drill nobody watches."""
    return


def human(seconds: float) -> str:
    """``14400`` → ``4 h``; ``900`` → ``15 min``; ``0.5`` → ``0.5 s``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


@dataclass
class PhaseRecord:
    name: str
    started_at: str
    seconds: float
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.name,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


@dataclass
class Criterion:
    name: str
    objective: str
    measured: str
    status: str  # pass | fail | inconclusive

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.name,
            "objective": self.objective,
            "measured": self.measured,
            "status": self.status,
        }


@dataclass
class DrillResult:
    drill_id: str
    plan: DrillPlan
    plan_sha256: str
    started_at: str
    finished_at: str = ""
    phases: list[PhaseRecord] = field(default_factory=list)
    criteria: list[Criterion] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    baseline: dict[str, Any] = field(default_factory=dict)
    restore: dict[str, Any] = field(default_factory=dict)
    reconciliation: dict[str, Any] = field(default_factory=dict)
    rto_s: float | None = None
    rpo_records: int | None = None
    rpo_s: float | None = None
    actor: str = ""
    #: The full name of the authenticated user who ran it (the actor is their user id).
    actor_name: str = ""
    environment: dict[str, Any] = field(default_factory=dict)
    exceptions: list[int] = field(default_factory=list)
    run_seq: int | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    manifests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        statuses = {c.status for c in self.criteria}
        if rules.FAIL in statuses or not self.criteria:
            return rules.FAIL
        return rules.INCONCLUSIVE if rules.INCONCLUSIVE in statuses else rules.PASS

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RESULT_FORMAT,
            "drill_id": self.drill_id,
            "verdict": self.verdict,
            "plan": {"id": self.plan.id, "sha256": self.plan_sha256, **self.plan.to_dict()},
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "actor": self.actor,
            "actor_name": self.actor_name,
            "measured": {
                "rto_s": None if self.rto_s is None else round(self.rto_s, 3),
                "rpo_records": self.rpo_records,
                "rpo_s": None if self.rpo_s is None else round(self.rpo_s, 3),
            },
            "criteria": [c.to_dict() for c in self.criteria],
            "phases": [p.to_dict() for p in self.phases],
            "findings": self.findings,
            "baseline": self.baseline,
            "restore": self.restore,
            "reconciliation": self.reconciliation,
            "environment": self.environment,
            "exceptions": self.exceptions,
            "run_seq": self.run_seq,
        }


class Clock:
    """Times the phases of a run and keeps its step log."""

    def __init__(self, result: DrillResult, step: Step) -> None:
        self.result = result
        self.step = step

    def log(self, phase: str, message: str) -> None:
        """One line of the step log (JSON lines in the evidence), stamped when it happens."""
        self.result.steps.append({"at": now_utc(), "phase": phase, "message": message})
        self.step(phase, message)

    def phase(self, name: str, fn: Callable[[], Any], detail: str = "") -> Any:
        started = now_utc()
        self.log(name, "started")
        t0 = time.perf_counter()
        ok = False
        try:
            value = fn()
            ok = True
            return value
        finally:
            seconds = time.perf_counter() - t0
            self.result.phases.append(PhaseRecord(name, started, seconds, detail))
            self.log(name, f"{'done' if ok else 'FAILED'} in {seconds:.2f} s")
