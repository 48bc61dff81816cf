"""Running a drill: baseline → backup → fault (on sandboxes) → restore → reconcile → verdict.

DESIGN.md "Drills"; EU GMP Annex 11 §7.2 (the ability to restore checked and monitored),
PIC/S PI 041 (backup and restoration of all data, metadata and audit trails). The live
repository and the live backup copies are never damaged: faults are injected into
sandbox clones (of a copy, of the database), and the restore goes into the plan's
scratch target. What the drill adds to the live repository is its own record: the plan
version it ran under, the run and its verdict (``drill.run``), and an exception per
deviation — in the hash-chained log, like every other record.

Timing: RTO is measured from the fault to the moment the restored data is verified
(restore + reconciliation); RPO is what could not be recovered — log records after the
restored head, and the time between the newest lost record and the restored head's.
"""

from __future__ import annotations

import random
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from serialvault import __version__
from serialvault.backup import restore as restore_mod
from serialvault.backup import verify as verify_mod
from serialvault.backup.anchors import (
    CHECKS,
    Witness,
    checkpoint_path,
    gather,
    parse_backup_id,
    stamp,
    witness_path,
)
from serialvault.backup.copies import Copy, read_manifests
from serialvault.backup.crypto import EncryptionKey, VerifyKey
from serialvault.backup.manifest import Manifest, manifest_path, object_path
from serialvault.backup.policy import Policy
from serialvault.backup.take import full_backup, incremental_backup
from serialvault.backup.targets import FileTarget
from serialvault.domain import reconcile as rules
from serialvault.domain.chain import Anchor
from serialvault.domain.records import DRILL_RUN
from serialvault.drill.plan import DrillPlan
from serialvault.errors import OlderRecoveryPoint, SerialvaultError
from serialvault.redact import redact_url
from serialvault.store import reconcile as rec
from serialvault.store import sandbox as sandbox_db
from serialvault.store.engine import sqlite_path
from serialvault.store.exceptions import open_exception
from serialvault.store.repository import Repository, first_seq_since
from serialvault.timefmt import now_utc, parse_timestamp, utc_iso

RESULT_FORMAT = "serialvault.drill-result/1"

Step = Callable[[str, str], None]


def _no_step(_phase: str, _message: str) -> None:
    return None


def _human(seconds: float) -> str:
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


class _Clock:
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


# --------------------------------------------------------------------------- sandboxes


def clone_copy(copy: Copy, dest: Path) -> Copy:
    """A sandbox clone of a copy (manifests, objects, check records) as a local folder."""
    src = copy.open().target
    target = FileTarget(dest)
    for info in src.list(""):
        target.put(info.name, src.get(info.name))
    return Copy(f"{copy.name} (sandbox clone)", dest.as_uri(), origin=src.url)


def _is_onsite(copy: Copy) -> bool:
    return copy.url.startswith("file://") or "://" not in copy.url


def _flip_bit(data: bytes, rnd: random.Random) -> bytes:
    buf = bytearray(data)
    pos = rnd.randrange(len(buf) * 8)
    buf[pos // 8] ^= 1 << (pos % 8)
    return bytes(buf)


def detect_corruption(path: Path, baseline: rec.Baseline) -> tuple[bool, str]:
    """Whether the damage is found: the file refuses to open or read, or its chain or its
    fingerprint disagrees with the baseline."""
    try:
        problem = sandbox_db.integrity_check(path)
        if problem is not None:
            return True, f"PRAGMA integrity_check: {problem}"
        repo = Repository.open(str(path))
        report = rec.reconcile(repo, baseline, against="baseline")
        repo.close()
        bad = [r for r in report.results if r.status == rules.FAIL]
        if bad:
            return True, "; ".join(f"{r.rule}: {r.message}" for r in bad)
        return False, "no check found the damage"
    except (sandbox_db.DatabaseError, SerialvaultError, sandbox_db.StoreFailure) as exc:
        return True, f"the damaged copy cannot be read: {str(exc).splitlines()[0]}"


# --------------------------------------------------------------------------- run


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


@dataclass
class _Fault:
    """What a scenario's fault left for the restore: the copies to use, the point, the
    criteria it judged itself, and whether the restore is expected to refuse first."""

    use: list[Copy]
    at: str | None
    criteria: list[Criterion] = field(default_factory=list)
    expect_refusal: str | None = None  # the criterion a refused first restore passes
    detail: str = ""


def _newest_of(copy: Copy, verify_key: VerifyKey, repository_id: str | None) -> Manifest | None:
    manifests, _ = read_manifests(copy.open(), verify_key)
    mine = [m for m in manifests if m.repository_id == repository_id]
    return max(mine, key=lambda m: (m.last_seq, m.created_at), default=None)


def _roll_back(copy: Copy, verify_key: VerifyKey, repository_id: str | None) -> str | None:
    """Put a (sandbox) copy back to its state before its newest backup, as restoring the
    bucket or folder from an older snapshot would: that backup's manifest, checkpoint
    and the check records since are gone (objects an older backup names stay)."""
    st = copy.open()
    newest = _newest_of(copy, verify_key, repository_id)
    if newest is None:
        return None
    st.target.delete(manifest_path(newest.id))
    st.target.delete(checkpoint_path(newest.id))
    for info in st.target.list(CHECKS):
        if info.name.rsplit("/", 1)[-1] >= stamp(newest.created_at):
            st.target.delete(info.name)
    return newest.id


def _plant_forged_manifest(copy: Copy, rolled_back: str | None) -> str | None:
    """Write an unsigned manifest on a (sandbox) copy that claims a backup newer than the
    one removed — what someone hiding a rollback would plant. It must be reported as
    foreign and never become a recovery point (a forged claim proves nothing)."""
    if rolled_back is None:
        return None
    st = copy.open()
    parsed = parse_backup_id(rolled_back)
    if parsed is None:
        return None
    seq = parsed[1] + 1000
    forged = f"29991231T235959000000Z-incr-{seq:012d}"
    body = {
        "format": "serialvault.manifest/1",
        "id": forged,
        "type": "incr",
        "parent": rolled_back,
        "seq": {"first": parsed[1] + 1, "last": seq},
        "note": "planted by a drill: unsigned",
    }
    st.target.put(manifest_path(forged), orjson.dumps(body))
    return forged


def _detect_tampering(
    path: Path,
    base: rec.Baseline,
    clones: list[Copy],
    policy: Policy,
    verify_key: VerifyKey,
    actor: str,
) -> tuple[list[str], str | None]:
    """Every check that should see a tampered primary: the chain against the anchors on
    the copies (``audit verify``), the projections against the log (R9), and a full
    backup with --check-projections, which must refuse. Returns what each found."""
    from serialvault.backup.take import full_backup
    from serialvault.store.integrity import check_projections, verify_chain

    found: list[str] = []
    repo = Repository.open(str(path))
    try:
        anchors = []
        for c in clones:
            for m in read_manifests(c.open(), verify_key)[0]:
                if m.repository_id == base.repository_id:
                    anchors.append(Anchor(m.last_seq, m.chain_head, f"backup {m.id}"))
        with repo.read() as conn:
            audit = verify_chain(conn, anchors=anchors)
            if not audit.ok:
                found.append(f"audit verify: {audit.problem}")
            proj = check_projections(conn, path.parent)
            if not proj.ok:
                found.append(f"R9: {proj.message}")
        refused = None
        try:
            full_backup(repo, policy, clones, actor=actor, check_projections=True)
        except SerialvaultError as exc:
            refused = str(exc)
            found.append(f"backup full --check-projections refused: {exc}")
        return found, refused
    finally:
        repo.close()


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
    on_step: Step = _no_step,
) -> DrillResult:
    """Run ``plan`` once; the result carries every phase, criterion and finding."""
    stamp_ = now_utc()[:19].replace(":", "").replace("-", "")
    drill_id = f"{stamp_}Z-{plan.id}-{uuid.uuid4().hex[:6]}"
    result = DrillResult(drill_id, plan, plan_sha256, now_utc(), actor=actor)
    result.environment = _environment(source, copies, plan.restore_target)
    clock = _Clock(result, on_step)
    rnd = random.Random(seed)
    sandbox = (workdir / drill_id).resolve()
    sandbox.mkdir(parents=True, exist_ok=True)
    scenario = plan.scenario.name

    # 1. baseline of the live repository (read-only)
    base: rec.Baseline = clock.phase("baseline", lambda: rec.take_baseline(source))
    result.baseline = {
        "head_seq": base.head_seq,
        "chain_head": base.chain_head,
        "fingerprint": base.fingerprint.get("fingerprint"),
        "units": sum(base.counts.values()),
        "groups": len(base.counts),
    }

    # 2. bring the copies up to the baseline (not in post-backup-writes: the point is
    # what the newest existing backup misses)
    if scenario != "post-backup-writes":

        def backup() -> None:
            signer = policy.load_signing_key().public
            for c in copies:
                manifests, _ = read_manifests(c.open(), signer)
                if not [m for m in manifests if m.repository_id == base.repository_id]:
                    full_backup(source, policy, [c], actor=actor)
            for res in incremental_backup(source, policy, copies, actor=actor):
                for st in res.copies:
                    if st.error:
                        result.findings.append(f"backup to copy {st.name}: {st.error}")

        clock.phase("backup", backup)

    # 3. fault, on sandboxes only
    at: str | None = None
    if plan.recovery_point.startswith("seq:"):
        at = plan.recovery_point[4:]
    elif plan.recovery_point.startswith("time:"):
        at = plan.recovery_point[5:]
    elif plan.recovery_point == "random":
        # a point drawn among the records of the last `random_window` (seeded: --seed):
        # proves restores to points that were not chosen for being convenient
        since = utc_iso(
            parse_timestamp(str(source.time_of(base.head_seq) or now_utc()))
            - timedelta(seconds=plan.random_window_s)
        )
        with source.read() as conn:
            lo = first_seq_since(conn, since)
        at = str(rnd.randint(int(lo or 1), base.head_seq))
        clock.log("baseline", f"random recovery point: seq {at} (window from {since})")
    chosen_point = at is not None

    fault: _Fault = clock.phase(
        "fault",
        lambda: _inject(
            scenario, plan, copies, at, base, sandbox, source, policy, verify_key, actor, rnd
        ),
    )
    result.phases[-1].detail = fault.detail
    result.criteria += fault.criteria
    at = fault.at

    # 4. restore into the scratch target
    target = plan.restore_target
    if "://" not in target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    witnesses = _live_witnesses(source, policy, base.repository_id)
    restored: restore_mod.RestoreResult | None = None

    def do_restore(point: str | None) -> restore_mod.RestoreResult:
        return restore_mod.restore(
            fault.use,
            target,
            verify_key=verify_key,
            key=key,
            at=point,
            force=True,
            actor=actor,
            witnesses=witnesses,
            state_dir=policy.state_dir,
            discard_newer=True,
        )

    if not fault.use:
        result.criteria.append(
            Criterion(
                "restore completed",
                "the restore completes and checks",
                "no copy left to restore from",
                rules.FAIL,
            )
        )
    else:
        try:
            try:
                restored = clock.phase("restore", lambda: do_restore(at))
                if fault.expect_refusal:
                    result.criteria.append(
                        Criterion(
                            fault.expect_refusal,
                            "the restore refuses to go back in time silently and names the"
                            " missing backup",
                            f"NOT refused: restored to seq {restored.head_seq}",
                            rules.FAIL if restored.head_seq < base.head_seq else rules.PASS,
                        )
                    )
            except OlderRecoveryPoint as exc:
                # refused, naming what is missing: then the point is accepted explicitly,
                # as an operator would after reading the message
                result.findings.append(f"restore refused: {exc}")
                result.criteria.append(
                    Criterion(
                        fault.expect_refusal or "no silent older recovery point",
                        "the restore refuses to go back in time silently and names the"
                        " missing backup",
                        f"refused (exit {exc.exit_code}): {exc.message[:300]}",
                        rules.PASS if fault.expect_refusal else rules.FAIL,
                    )
                )
                if exc.available_seq is not None:
                    point = str(exc.available_seq)
                    clock.log("restore", f"older point accepted explicitly: --at {point}")
                    restored = clock.phase("restore", lambda: do_restore(point))
        except SerialvaultError as exc:
            result.findings.append(f"restore failed: {exc}")
            result.criteria.append(
                Criterion(
                    "restore completed", "the restore completes and checks", str(exc), rules.FAIL
                )
            )
    if restored is not None:
        result.restore = restored.to_dict()
        result.findings += restored.findings
        wanted = {m.id for m in restored.plan.chain}
        seen: dict[str, dict[str, Any]] = {}
        for copy in fault.use:
            try:
                docs, _ = read_manifests(copy.open(), verify_key)
            except SerialvaultError:
                continue
            for m in docs:
                if m.id in wanted:
                    seen.setdefault(m.id, m.to_dict())
        result.manifests = [seen[m.id] for m in restored.plan.chain if m.id in seen]
        if scenario == "tampered-backup":
            named = [f for f in restored.findings if "damaged" in f]
            result.criteria.append(
                Criterion(
                    "tampering detected",
                    "an altered object is found and named before restore, another copy used",
                    named[0] if named else "the altered object was not reported",
                    rules.PASS if named else rules.FAIL,
                )
            )
    elif scenario == "tampered-backup":
        detected = any("damaged" in f or "hash" in f for f in result.findings)
        result.criteria.append(
            Criterion(
                "tampering detected",
                "an altered object is found and named before restore",
                "detected; no intact copy to fall back to" if detected else "not detected",
                rules.PASS if detected else rules.FAIL,
            )
        )

    # 5. reconcile the restored data
    if restored is not None:
        _reconcile(result, plan, clock, source, base, restored, target, sandbox)
        if scenario == "bad-change" and at is not None and at.isdigit():
            result.criteria.append(
                Criterion(
                    "recovery point reached",
                    f"restored to seq {at}",
                    f"restored to seq {restored.head_seq}",
                    rules.PASS if restored.head_seq == int(at) else rules.FAIL,
                )
            )
    # 6. objectives
    _objectives(result, plan, scenario == "bad-change" or chosen_point)
    result.finished_at = now_utc()
    # 7. the drill's own records in the live repository: deviations and the run
    for crit in result.criteria:
        if crit.status == rules.FAIL:
            result.exceptions.append(
                _deviation(source, drill_id, f"{crit.name}: {crit.measured}", actor)
            )
    summary = {
        "drill_id": drill_id,
        "plan": plan.id,
        "plan_sha256": plan_sha256,
        "scenario": scenario,
        "verdict": result.verdict,
        "rto_s": result.rto_s,
        "rpo_records": result.rpo_records,
        "rpo_s": result.rpo_s,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
    }
    result.run_seq = source.append(DRILL_RUN, summary, actor, f"drill {plan.id}").seq
    shutil.rmtree(sandbox / "copies", ignore_errors=True)
    for leftover in sandbox.glob("primary-*.db*"):
        leftover.unlink(missing_ok=True)
    return result


def _live_witnesses(source: Repository, policy: Policy, repository_id: str | None) -> list[Witness]:
    """The live repository's witness: what restores in a drill must not go behind."""
    w = witness_path(sqlite_path(source.url), repository_id or "", policy.witness, policy.state_dir)
    return [Witness(w)] if w.is_file() else []


def _inject(
    scenario: str,
    plan: DrillPlan,
    copies: list[Copy],
    at: str | None,
    base: rec.Baseline,
    sandbox: Path,
    source: Repository,
    policy: Policy,
    verify_key: VerifyKey,
    actor: str,
    rnd: random.Random,
) -> _Fault:
    """The scenario's fault, on sandboxes only (clones of copies, copies of the primary)."""
    f = _Fault(list(copies), at)
    if scenario == "bad-change":
        if plan.scenario.before_seq is not None:
            f.at = str(plan.scenario.before_seq - 1)
            f.detail = f"recovery point: seq {f.at}, just before seq {plan.scenario.before_seq}"
            return f
        when = parse_timestamp(str(plan.scenario.before_time))
        f.at = utc_iso(when - timedelta(microseconds=1))
        f.detail = f"recovery point: {f.at}, just before {plan.scenario.before_time}"
        return f
    if scenario in ("onsite-copy-lost", "ransomware"):
        offsite = [c for c in copies if not _is_onsite(c)]
        lost = [c.name for c in copies if _is_onsite(c)]
        if not offsite:
            f.criteria.append(
                Criterion(
                    "off-site copy available",
                    "at least one copy not on site (s3://)",
                    "none: every copy is on site",
                    rules.FAIL,
                )
            )
        f.use = offsite
        what = "primary and " if scenario == "ransomware" else ""
        f.detail = (
            f"{what}on-site cop{'y' if len(lost) == 1 else 'ies'} {', '.join(lost)} unreadable"
        )
        return f
    if scenario == "lost-latest-increment":
        clones = [clone_copy(c, sandbox / "copies" / str(i)) for i, c in enumerate(copies)]
        dropped = []
        for cl in clones:
            newest = _newest_of(cl, verify_key, base.repository_id)
            if newest is not None and newest.type == "incr":
                cl.open().target.delete(manifest_path(newest.id))
                dropped.append(newest.id)
        f.use = clones
        if not dropped:
            f.criteria.append(
                Criterion(
                    "latest increment lost",
                    "the newest backup is an incremental",
                    "the newest backup is a full: nothing to lose",
                    rules.INCONCLUSIVE,
                )
            )
        else:
            f.expect_refusal = "loss detected"
        f.detail = f"newest incremental {', '.join(sorted(set(dropped))) or '(none)'} lost"
        return f
    if scenario == "rollback":
        clones = [clone_copy(c, sandbox / "copies" / str(i)) for i, c in enumerate(copies)]
        victim_at = next(
            (i for i, c in enumerate(copies) if plan.scenario.tamper_copy in (c.name, c.url)), 0
        )
        victim = clones[victim_at]
        gone = _roll_back(victim, verify_key, base.repository_id)
        forged = _plant_forged_manifest(victim, gone)
        f.use = [victim] + [c for c in clones if c is not victim]  # the rolled-back one first
        witnesses = _live_witnesses(source, policy, base.repository_id)
        reports = verify_mod.verify_copies(
            f.use, verify_key, witnesses=witnesses, state_dir=policy.state_dir
        )

        def named(code: str, backup: str | None) -> list[str]:
            return [
                x.message
                for r in reports
                for x in r.findings
                if (x.code, x.backup) == (code, backup)
            ]

        lost, fake = named("rollback", gone), named("foreign-manifest", forged)
        f.criteria.append(
            Criterion(
                "rollback detected",
                "backup verify reports the copy that lost a backup it once held",
                lost[0][:300] if lost else f"NOT reported (backup {gone} removed)",
                rules.PASS if lost else rules.FAIL,
            )
        )
        # what a restore would plan against: the newest backup all copies and the witness prove
        known_newest = gather(
            [c.open() for c in f.use], verify_key, witnesses, policy.state_dir
        ).newest_known(base.repository_id or "")
        counted = known_newest is not None and known_newest.backup == forged
        if forged is None:
            measured = "not run: the copy holds no backup to hide"
        elif not fake:
            measured = f"NOT reported (manifest {forged} planted)"
        elif counted:
            measured = f"reported, but taken as the newest backup known: {fake[0][:200]}"
        else:
            known = (
                f"backup {known_newest.backup} (seq {known_newest.seq})" if known_newest else "none"
            )
            measured = f"{fake[0][:240]}; newest backup known: {known}"
        f.criteria.append(
            Criterion(
                "forged newer manifest refused",
                "an unsigned manifest claiming a newer backup is reported as foreign and is"
                " not counted as the newest backup known",
                measured,
                rules.PASS if fake and not counted else rules.FAIL,
            )
        )
        if len(clones) == 1:
            f.expect_refusal = "no silent older recovery point"
        f.detail = (
            f"copy {copies[victim_at].name} rolled back: backup {gone} removed from it, and an"
            f" unsigned manifest {forged} claiming a newer backup planted on it"
        )
        return f
    if scenario == "tampered-primary":
        damaged = sandbox / "primary-tampered.db"
        sandbox_db.clone_primary(source, damaged)
        what = sandbox_db.tamper(damaged, plan.scenario.tamper, rnd)
        clones = [clone_copy(c, sandbox / "copies" / str(i)) for i, c in enumerate(copies)]
        found, refused = _detect_tampering(damaged, base, clones, policy, verify_key, actor)
        f.criteria.append(
            Criterion(
                "tampering of the primary detected",
                "the chain against its anchors (audit verify) or the projections against the"
                " log (R9) name the change",
                "; ".join(x for x in found if not x.startswith("backup"))[:400] or "NOT detected",
                rules.PASS if any(not x.startswith("backup") for x in found) else rules.FAIL,
            )
        )
        f.criteria.append(
            Criterion(
                "backup refuses the tampered primary",
                "backup full --check-projections certifies nothing and opens an exception",
                (refused or "NOT refused: the tampered state was backed up")[:400],
                rules.PASS if refused else rules.FAIL,
            )
        )
        f.detail = f"sandbox copy of the primary: {what}"
        return f
    if scenario == "tampered-backup":
        victim = next(
            (c for c in copies if plan.scenario.tamper_copy in (c.name, c.url)), copies[0]
        )
        clone = clone_copy(victim, sandbox / "copies" / "tampered")
        st = clone.open()
        manifests, _ = read_manifests(st, verify_key)
        mine = [m for m in manifests if m.repository_id == base.repository_id]
        newest = max(mine, key=lambda m: (m.last_seq, m.created_at))
        chain = [m for m in mine if m.chain == newest.chain]
        refs = [o for m in chain for o in m.objects]
        target_ref = max(refs, key=lambda o: o.size)
        name = object_path(target_ref.name)
        st.target.put(name, _flip_bit(st.target.get(name), rnd))
        f.use = [clone] + [c for c in copies if c is not victim]
        f.detail = f"one bit flipped in object {target_ref.name} of copy {victim.name}"
        return f
    if scenario == "corruption":
        path = sqlite_path(source.url)
        if path is None:
            f.criteria.append(
                Criterion(
                    "corruption detected",
                    "damage to the database is found before it is trusted",
                    "not run: the scenario damages a copy of a SQLite primary",
                    rules.INCONCLUSIVE,
                )
            )
            f.detail = "not applicable to a PostgreSQL primary"
            return f
        damaged = sandbox / "primary-damaged.db"
        pages = sandbox_db.corrupt_pages(path, damaged, plan.scenario.corrupt_pages, rnd)
        found_it, how = detect_corruption(damaged, base)
        f.criteria.append(
            Criterion(
                "corruption detected",
                "damage to the database is found before it is trusted",
                f"{'found' if found_it else 'NOT found'}: {how}",
                rules.PASS if found_it else rules.FAIL,
            )
        )
        f.detail = f"{len(pages)} page(s) of a copy of the primary damaged: {pages[:10]}"
        return f
    f.detail = "the primary is lost"
    return f


def _reconcile(
    result: DrillResult,
    plan: DrillPlan,
    clock: _Clock,
    source: Repository,
    base: rec.Baseline,
    restored: restore_mod.RestoreResult,
    target: str,
    sandbox: Path,
) -> None:
    expected = base
    if restored.head_seq != base.head_seq:  # an earlier point: replay the live log to it
        point = restored.head_seq
        expected = clock.phase(
            "expected state",
            lambda: rec.baseline_at(source, point, sandbox / "expected.db"),
            f"the live log replayed to seq {point}",
        )
        result.baseline["expected_at_recovery_point"] = {
            "head_seq": expected.head_seq,
            "fingerprint": expected.fingerprint.get("fingerprint"),
        }
    restored_repo = Repository.open(target)
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
    o = plan.objectives
    if result.rto_s is not None:
        result.criteria.append(
            Criterion(
                "RTO",
                f"≤ {_human(o.rto_s)}",
                f"{result.rto_s:.2f} s",
                rules.PASS if result.rto_s <= o.rto_s else rules.FAIL,
            )
        )
    if result.rpo_records is None or result.rpo_s is None:
        return
    result.criteria.append(
        Criterion(
            "RPO (time)",
            f"≤ {_human(o.rpo_s)}" + (" (by design: the point is chosen)" if expected_loss else ""),
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
