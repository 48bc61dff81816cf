"""Running a drill: baseline → backup → fault (on sandboxes) → restore → reconcile → verdict.

DESIGN.md "Drills"; EU GMP Annex 11 §7.2 (the ability to restore checked and monitored),
PIC/S PI 041 (backup and restoration of all data, metadata and audit trails). The live
repository and the live backup copies are never damaged: faults are injected into
sandbox clones (of a copy, of the database; ``drill.faults``), and the restore goes into
the plan's scratch target. What the drill adds to the live repository is its own
record: the plan version it ran under, the run and its verdict (``drill.run``), and an
exception per deviation — in the hash-chained log, like every other record.

One function per phase, each reading and extending one :class:`Run`; the scenario
decides only the fault (``faults.FAULTS``) and, for two scenarios, one extra judgement
after the restore (``AFTER_RESTORE``).

Timing: RTO is measured from the fault to the moment the restored data is verified
(restore + reconciliation); RPO is what could not be recovered — log records after the
restored head, and the time between the newest lost record and the restored head's.
"""

from __future__ import annotations

import random
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from serialvault import __version__
from serialvault.backup import restore as restore_mod
from serialvault.backup.anchors import Witness
from serialvault.backup.copies import Copy, read_manifests
from serialvault.backup.crypto import EncryptionKey, VerifyKey
from serialvault.backup.policy import Policy
from serialvault.backup.take import full_backup, incremental_backup
from serialvault.domain import reconcile as rules
from serialvault.domain.records import DRILL_RUN
from serialvault.drill.faults import FAULTS, Fault, Setting, live_witnesses
from serialvault.drill.plan import DrillPlan
from serialvault.drill.result import (
    RESULT_FORMAT,
    Clock,
    Criterion,
    DrillResult,
    PhaseRecord,
    Step,
    human,
    no_step,
)
from serialvault.errors import OlderRecoveryPoint, SerialvaultError
from serialvault.redact import redact_url
from serialvault.store import reconcile as rec
from serialvault.store import sandbox as sandbox_db
from serialvault.store.exceptions import open_exception
from serialvault.store.repository import Repository, first_seq_since
from serialvault.timefmt import now_utc, parse_timestamp, utc_iso

__all__ = [
    "RESULT_FORMAT",
    "Criterion",
    "DrillResult",
    "PhaseRecord",
    "Run",
    "run_drill",
]

RESTORE_OBJECTIVE = "the restore completes and checks"
NO_SILENT_OLDER = "the restore refuses to go back in time silently and names the missing backup"


@dataclass
class Run:
    """One drill run in progress: what it was given, and what each phase has found."""

    plan: DrillPlan
    source: Repository
    policy: Policy
    copies: list[Copy]
    verify_key: VerifyKey
    key: EncryptionKey | None
    actor: str
    result: DrillResult
    clock: Clock
    rnd: random.Random
    sandbox: Path
    base: rec.Baseline | None = None
    chosen_point: bool = False
    fault: Fault | None = None
    restored: restore_mod.RestoreResult | None = None
    witnesses: list[Witness] = field(default_factory=list)

    @property
    def scenario(self) -> str:
        return self.plan.scenario.name

    @property
    def baseline(self) -> rec.Baseline:
        assert self.base is not None, "the baseline phase runs first"
        return self.base

    def criterion(self, name: str, objective: str, measured: str, ok: bool | None) -> None:
        """Add a criterion: ``ok`` True pass, False fail, None inconclusive."""
        status = rules.INCONCLUSIVE if ok is None else rules.PASS if ok else rules.FAIL
        self.result.criteria.append(Criterion(name, objective, measured, status))


def run_drill(
    plan: DrillPlan,
    plan_sha256: str,
    *,
    source: Repository,
    policy: Policy,
    copies: list[Copy],
    verify_key: VerifyKey,
    key: EncryptionKey | None,
    workdir: Path,
    actor: str,
    seed: int | None = None,
    on_step: Step = no_step,
) -> DrillResult:
    """Run ``plan`` once; the result carries every phase, criterion and finding."""
    stamp_ = now_utc()[:19].replace(":", "").replace("-", "")
    drill_id = f"{stamp_}Z-{plan.id}-{uuid.uuid4().hex[:6]}"
    result = DrillResult(drill_id, plan, plan_sha256, now_utc(), actor=actor)
    result.environment = _environment(source, copies, plan.restore_target)
    sandbox = (workdir / drill_id).resolve()
    sandbox.mkdir(parents=True, exist_ok=True)
    run = Run(
        plan,
        source,
        policy,
        copies,
        verify_key,
        key,
        actor,
        result,
        Clock(result, on_step),
        random.Random(seed),
        sandbox,
    )
    _baseline(run)
    if run.scenario != "post-backup-writes":  # there, the point is what the last backup misses
        _backup(run)
    _fault(run, _recovery_point(run))
    _restore(run)
    if run.restored is not None:
        _reconcile(run, run.restored)
    AFTER_RESTORE.get(run.scenario, _nothing)(run)
    _objectives(result, plan, run.scenario == "bad-change" or run.chosen_point)
    result.finished_at = now_utc()
    _record(run)
    _clean(run)
    return result


# --------------------------------------------------------------------------- phases


def _baseline(run: Run) -> None:
    """1. Baseline of the live repository (read only): counts, chain head, fingerprint."""
    base: rec.Baseline = run.clock.phase("baseline", lambda: rec.take_baseline(run.source))
    run.base = base
    run.result.baseline = {
        "head_seq": base.head_seq,
        "chain_head": base.chain_head,
        "fingerprint": base.fingerprint.get("fingerprint"),
        "units": sum(base.counts.values()),
        "groups": len(base.counts),
    }


def _backup(run: Run) -> None:
    """2. Bring every copy up to the baseline: a full where the copy has none of this
    repository, then an incremental; a copy that fails is a finding, not a stop."""

    def backup() -> None:
        signer = run.policy.load_signing_key().public
        for c in run.copies:
            manifests, _ = read_manifests(c.open(), signer)
            if not [m for m in manifests if m.repository_id == run.baseline.repository_id]:
                full_backup(run.source, run.policy, [c], actor=run.actor)
        for res in incremental_backup(run.source, run.policy, run.copies, actor=run.actor):
            for st in res.copies:
                if st.error:
                    run.result.findings.append(f"backup to copy {st.name}: {st.error}")

    run.clock.phase("backup", backup)


def _recovery_point(run: Run) -> str | None:
    """The plan's recovery point: latest (None), a seq, a time, or a seeded draw among the
    records of the last ``random_window`` — restores to points not chosen for being
    convenient."""
    rp = run.plan.recovery_point
    if rp.startswith("seq:"):
        at: str | None = rp[4:]
    elif rp.startswith("time:"):
        at = rp[5:]
    elif rp == "random":
        head = run.baseline.head_seq
        since = utc_iso(
            parse_timestamp(str(run.source.time_of(head) or now_utc()))
            - timedelta(seconds=run.plan.random_window_s)
        )
        with run.source.read() as conn:
            lo = first_seq_since(conn, since)
        at = str(run.rnd.randint(int(lo or 1), head))
        run.clock.log("baseline", f"random recovery point: seq {at} (window from {since})")
    else:
        at = None
    run.chosen_point = at is not None
    return at


def _fault(run: Run, at: str | None) -> None:
    """3. The scenario's fault, on sandboxes only."""
    setting = Setting(
        run.plan,
        run.copies,
        at,
        run.baseline,
        run.sandbox,
        run.source,
        run.policy,
        run.verify_key,
        run.actor,
        run.rnd,
    )
    fault: Fault = run.clock.phase("fault", lambda: FAULTS[run.scenario](setting))
    run.result.phases[-1].detail = fault.detail
    run.result.criteria += fault.criteria
    run.fault = fault


def _restore_once(run: Run, point: str | None) -> restore_mod.RestoreResult:
    assert run.fault is not None
    return restore_mod.restore(
        run.fault.use,
        run.plan.restore_target,
        verify_key=run.verify_key,
        key=run.key,
        at=point,
        force=True,
        actor=run.actor,
        witnesses=run.witnesses,
        state_dir=run.policy.state_dir,
        discard_newer=True,
    )


def _restore(run: Run) -> None:
    """4. Timed restore into the plan's scratch target. A refusal to go back in time is
    judged (expected or not), then the older point is accepted explicitly, as an
    operator would after reading the message."""
    fault = run.fault
    assert fault is not None
    target = run.plan.restore_target
    if "://" not in target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    run.witnesses = live_witnesses(run.source, run.policy, run.baseline.repository_id)
    if not fault.use:
        run.criterion("restore completed", RESTORE_OBJECTIVE, "no copy left to restore from", False)
        return
    try:
        try:
            restored = run.clock.phase("restore", lambda: _restore_once(run, fault.at))
            run.restored = restored
            if fault.expect_refusal:
                run.criterion(
                    fault.expect_refusal,
                    NO_SILENT_OLDER,
                    f"NOT refused: restored to seq {restored.head_seq}",
                    restored.head_seq >= run.baseline.head_seq,
                )
        except OlderRecoveryPoint as exc:
            run.result.findings.append(f"restore refused: {exc}")
            run.criterion(
                fault.expect_refusal or "no silent older recovery point",
                NO_SILENT_OLDER,
                f"refused (exit {exc.exit_code}): {exc.message[:300]}",
                bool(fault.expect_refusal),
            )
            if exc.available_seq is not None:
                point = str(exc.available_seq)
                run.clock.log("restore", f"older point accepted explicitly: --at {point}")
                run.restored = run.clock.phase("restore", lambda: _restore_once(run, point))
    except SerialvaultError as exc:
        run.result.findings.append(f"restore failed: {exc}")
        run.criterion("restore completed", RESTORE_OBJECTIVE, str(exc), False)
    if run.restored is not None:
        _keep_restored(run, run.restored)


def _keep_restored(run: Run, restored: restore_mod.RestoreResult) -> None:
    """The restore's own report and the manifests it used, for the evidence."""
    assert run.fault is not None
    run.result.restore = restored.to_dict()
    run.result.findings += restored.findings
    wanted = {m.id for m in restored.plan.chain}
    seen: dict[str, dict[str, Any]] = {}
    for copy in run.fault.use:
        try:
            docs, _ = read_manifests(copy.open(), run.verify_key)
        except SerialvaultError:
            continue
        for m in docs:
            if m.id in wanted:
                seen.setdefault(m.id, m.to_dict())
    run.result.manifests = [seen[m.id] for m in restored.plan.chain if m.id in seen]


def _tampering_judged(run: Run) -> None:
    """tampered-backup: the altered object is found and named, another copy used."""
    if run.restored is not None:
        named = [f for f in run.restored.findings if "damaged" in f]
        run.criterion(
            "tampering detected",
            "an altered object is found and named before restore, another copy used",
            named[0] if named else "the altered object was not reported",
            bool(named),
        )
        return
    detected = any("damaged" in f or "hash" in f for f in run.result.findings)
    run.criterion(
        "tampering detected",
        "an altered object is found and named before restore",
        "detected; no intact copy to fall back to" if detected else "not detected",
        detected,
    )


def _point_judged(run: Run) -> None:
    """bad-change: the restore reached exactly the seq before the change."""
    at = run.fault.at if run.fault else None
    if run.restored is None or at is None or not at.isdigit():
        return
    run.criterion(
        "recovery point reached",
        f"restored to seq {at}",
        f"restored to seq {run.restored.head_seq}",
        run.restored.head_seq == int(at),
    )


def _nothing(_run: Run) -> None:
    return None


#: Scenario → what it judges after the restore, beyond reconciliation.
AFTER_RESTORE: dict[str, Callable[[Run], None]] = {
    "tampered-backup": _tampering_judged,
    "bad-change": _point_judged,
}


def _reconcile(run: Run, restored: restore_mod.RestoreResult) -> None:
    """5. Reconcile the restored data against the baseline — or, for an earlier point,
    against the live log replayed to it — rule by rule; measure RTO and RPO."""
    result, plan, clock, source, base = run.result, run.plan, run.clock, run.source, run.baseline
    expected = base
    if restored.head_seq != base.head_seq:  # an earlier point: replay the live log to it
        point = restored.head_seq
        expected = clock.phase(
            "expected state",
            lambda: rec.baseline_at(source, point, run.sandbox / "expected.db"),
            f"the live log replayed to seq {point}",
        )
        result.baseline["expected_at_recovery_point"] = {
            "head_seq": expected.head_seq,
            "fingerprint": expected.fingerprint.get("fingerprint"),
        }
    restored_repo = Repository.open(plan.restore_target)
    try:
        report: rec.Report = clock.phase(
            "reconcile",
            lambda: rec.reconcile(
                restored_repo,
                expected,
                against="baseline",
                known_fingerprint=restored.fingerprint,
                lifecycle="R3" in plan.rules,
                projections="R9" in plan.rules,
            ),
        )
    finally:
        restored_repo.close()
    # RTO: fault → restored and verified (the simulated fault itself takes no time;
    # computing the expected state is the drill's own work, not recovery)
    result.rto_s = sum(
        p.seconds for p in result.phases if p.name in ("fault", "restore", "reconcile")
    )
    results = report.results
    result.reconciliation = report.to_dict()
    result.rpo_records = base.head_seq - restored.head_seq
    t_base = source.time_of(base.head_seq)
    t_rest = source.time_of(restored.head_seq)
    result.rpo_s = (
        (parse_timestamp(t_base) - parse_timestamp(t_rest)).total_seconds()
        if t_base and t_rest and result.rpo_records > 0
        else 0.0
    )
    for r in results:
        if r.rule in plan.rules:
            result.criteria.append(
                Criterion(f"reconciliation {r.rule}", r.title, r.message or r.status, r.status)
            )
    for r_id in plan.rules:
        if r_id not in {x.rule for x in results}:
            result.criteria.append(
                Criterion(
                    f"reconciliation {r_id}",
                    rules.TITLES.get(r_id, r_id),
                    "not run by drills yet",
                    rules.INCONCLUSIVE,
                )
            )


def _objectives(result: DrillResult, plan: DrillPlan, expected_loss: bool) -> None:
    """6. The plan's objectives: RTO, RPO (time, records) and zero loss."""
    o = plan.objectives
    if result.rto_s is not None:
        result.criteria.append(
            Criterion(
                "RTO",
                f"≤ {human(o.rto_s)}",
                f"{result.rto_s:.2f} s",
                rules.PASS if result.rto_s <= o.rto_s else rules.FAIL,
            )
        )
    if result.rpo_records is None or result.rpo_s is None:
        return
    result.criteria.append(
        Criterion(
            "RPO (time)",
            f"≤ {human(o.rpo_s)}" + (" (by design: the point is chosen)" if expected_loss else ""),
            f"{result.rpo_s:.2f} s, {result.rpo_records} record(s)",
            rules.PASS if expected_loss or result.rpo_s <= o.rpo_s else rules.FAIL,
        )
    )
    if o.rpo_records is not None and not expected_loss:
        result.criteria.append(
            Criterion(
                "RPO (records)",
                f"≤ {o.rpo_records}",
                str(result.rpo_records),
                rules.PASS if result.rpo_records <= o.rpo_records else rules.FAIL,
            )
        )
    if o.zero_loss and not expected_loss:
        lost = result.rpo_records != 0
        result.criteria.append(
            Criterion(
                "zero loss",
                "every record and unit recovered",
                f"{result.rpo_records} record(s) not recovered",
                rules.FAIL if lost else rules.PASS,
            )
        )


def _record(run: Run) -> None:
    """7. The drill's own records in the live repository: an exception per failed
    criterion, and the run (``drill.run``) with its verdict, RTO and RPO."""
    result = run.result
    for crit in result.criteria:
        if crit.status == rules.FAIL:
            result.exceptions.append(
                _deviation(run.source, result.drill_id, f"{crit.name}: {crit.measured}", run.actor)
            )
    summary = {
        "drill_id": result.drill_id,
        "plan": run.plan.id,
        "plan_sha256": result.plan_sha256,
        "scenario": run.scenario,
        "verdict": result.verdict,
        "rto_s": result.rto_s,
        "rpo_records": result.rpo_records,
        "rpo_s": result.rpo_s,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
    }
    result.run_seq = run.source.append(DRILL_RUN, summary, run.actor, f"drill {run.plan.id}").seq


def _clean(run: Run) -> None:
    """Sandboxes go; the run folder keeps what the evidence needs."""
    shutil.rmtree(run.sandbox / "copies", ignore_errors=True)
    for leftover in run.sandbox.glob("primary-*.db*"):
        leftover.unlink(missing_ok=True)


# --------------------------------------------------------------------------- helpers


def _environment(source: Repository, copies: list[Copy], target: str) -> dict[str, Any]:
    """Versions, engines and host: what an inspector needs to know the run was real."""
    import platform
    import socket

    env: dict[str, Any] = {
        "serialvault": __version__,
        "host": socket.gethostname(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sandbox_db.SQLITE_VERSION,
        "source_engine": source.dialect,
        "source": source.display_url,
        "restore_target": "postgresql" if "://" in target else "sqlite",
        "copies": [redact_url(c.url.split("?", 1)[0]) for c in copies],
    }
    version = source.server_version()
    if version is not None:
        env["postgresql"] = version
    return env


def _deviation(repo: Repository, drill_id: str, message: str, actor: str) -> int:
    """A failed criterion becomes an exception (linked to an open one for the same defect)."""
    seq, _new = open_exception(
        repo,
        source="drill",
        type="drill-deviation",
        severity="major",
        reason=message,
        identifiers=[],
        actor=actor,
        why=f"deviation in drill {drill_id}",
        document=drill_id,
    )
    return seq
