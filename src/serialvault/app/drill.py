"""Backup/restore drills and their evidence (DESIGN.md "Drills"; EU GMP Annex 11 §7.2:
the ability to restore checked periodically; 21 CFR 11.50/11.70: a sign-off shows who,
when and what it means, and is bound to what it signs).

Plans are files under change control: every version used is recorded in the log. A run
leaves its verdict (``drill.run``), its deviations (exceptions) and a sign-off its own
record (``drill.signoff``) — all appended here or below, never by an edge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from serialvault.app.context import Backups, open_as, open_to_read
from serialvault.app.files import make_folder, read_text, write_file
from serialvault.app.identity import show_account, who_label
from serialvault.app.signatures import signatures_of
from serialvault.backup.crypto import load_verify_key
from serialvault.backup.policy import load_policy
from serialvault.domain.access import Action
from serialvault.domain.records import DRILL_SIGNOFF
from serialvault.drill import plan as plan_mod
from serialvault.drill.register import PlanVersion, drill_runs, plan_history, record_plan
from serialvault.drill.register import due as due_plans
from serialvault.errors import (
    ConflictError,
    DrillInconclusive,
    IntegrityFailure,
    KeyProblem,
    NotFound,
    NotPermitted,
    SerialvaultError,
)
from serialvault.identity.auth import Principal
from serialvault.settings import Settings
from serialvault.store.repository import Repository
from serialvault.timefmt import now_utc

if TYPE_CHECKING:  # the runner, evidence and chart modules load when a drill runs
    from serialvault.drill.evidence import PackageCheck, RunOutputs
    from serialvault.drill.runner import DrillResult

#: Where runs keep their sandboxes, results and evidence by default.
DEFAULT_WORKDIR = Path("drill-runs")


def _quiet(_phase: str, _message: str) -> None:
    return None


def _parse(path: Path) -> tuple[str, plan_mod.DrillPlan]:
    text = read_text(path, "plan")
    return text, plan_mod.parse_plan(text, str(path))


def _plan_change(
    repo: Repository, who: Principal, version: PlanVersion, new: bool, reason: str
) -> str | None:
    """Put a recorded plan version under change control: a draft whose approval makes
    it the version drills may run (Annex 11 §10). ``None`` when this text is already
    the approved version or already awaits approval."""
    from serialvault.app.changes import list_of, propose

    history = list_of(repo, "drill-plan", version.plan_id)
    approved = [c for c in history if c.status == "approved"]
    if approved and approved[-1].after.get("sha256") == version.sha256:
        return None
    for c in history:
        if c.status == "draft" and c.after.get("sha256") == version.sha256:
            return c.change_id
    after = {"sha256": version.sha256, "file": version.file, "plan_version": version.version}
    return propose(repo, who, "drill-plan", version.plan_id, after, reason=reason).change_id


def _check_no_other_draft(repo: Repository, plan_id: str, sha: str) -> None:
    """Refuse, before anything is recorded, a new plan text while another text of the
    same plan awaits approval (two drafts of one object would race)."""
    from serialvault.app.changes import list_of

    for c in list_of(repo, "drill-plan", plan_id):
        if c.status == "draft" and c.after.get("sha256") != sha:
            raise ConflictError(
                f"plan {plan_id} already has a version awaiting approval ({c.change_id}, by"
                f" {c.author}): approve or reject it first; nothing was recorded"
            )


def _refuse_live_target(repo: Repository, plan: plan_mod.DrillPlan) -> None:
    """A drill restores into a scratch target only: never into the repository it drills
    (the same URL, or the same file by another path), which it would roll back. (A
    scratch target may hold the same repository id: an earlier drill restored it.)"""
    from serialvault.store.engine import resolve_url, sqlite_path

    target = resolve_url(plan.restore_target)
    live_path, target_path = sqlite_path(repo.url), sqlite_path(target)
    same = target == repo.url
    if live_path is not None and target_path is not None and target_path.exists():
        same = same or target_path.resolve() == live_path.resolve()
    if same:
        raise NotPermitted(
            f"plan {plan.id} restores into {plan.restore_target}, which is the repository it"
            " drills: a drill restores into a scratch target only; nothing was run"
        )


def _require_effective(repo: Repository, plan: plan_mod.DrillPlan, sha: str) -> None:
    """Refuse to run a plan whose text is not the effective approved version."""
    from serialvault.app.changes import effective_now, list_of

    live = effective_now(repo, "drill-plan", plan.id)
    if live is not None and live.after.get("sha256") == sha:
        return
    pending = [c for c in list_of(repo, "drill-plan", plan.id) if c.after.get("sha256") == sha]
    if pending:
        c = pending[-1]
        state = c.state(now_utc())
        how = (
            f"a qa user other than {c.author} approves it: `serialvault change approve"
            f" {c.change_id}`"
            if state == "draft"
            else f"it is {state}" + (f" from {c.effective_from}" if c.effective_from else "")
        )
        raise NotPermitted(
            f"plan {plan.id} (SHA-256 {sha[:16]}…) is {c.change_id}, not the effective"
            f" version: {how}; nothing was run"
        )
    raise NotPermitted(
        f"plan {plan.id} (SHA-256 {sha[:16]}…) is not an approved version: record it"
        " (`serialvault drill record PLAN --reason R`) and have a qa user approve the"
        " change; nothing was run"
    )


@dataclass(frozen=True)
class PlanRecorded:
    plan: plan_mod.DrillPlan
    version: PlanVersion
    new: bool
    path: Path
    change_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": str(self.path),
            "recorded": self.new,
            "change_id": self.change_id,
            **self.version.to_dict(),
        }


def new_plan(
    settings: Settings,
    db: str | None,
    scenario: str,
    out: Path,
    *,
    plan_id: str | None = None,
    force: bool = False,
    reason: str | None = None,
) -> PlanRecorded:
    """Write a commented plan for ``scenario`` that is valid as it is, and record it."""
    text = plan_mod.template(scenario, plan_id)
    plan = plan_mod.parse_plan(text, str(out))
    if out.exists() and not force:
        raise ConflictError(f"{out} exists: choose another --out, or --force")
    repo, who = open_as(settings, db, Action.DRILL)
    _check_no_other_draft(repo, plan.id, plan_mod.plan_sha256(text))
    make_folder(out.parent)
    write_file(out, text.encode("utf-8"))
    why = reason or "plan created"
    version, new = record_plan(repo, plan, text, out.name, actor=who.actor, reason=why)
    return PlanRecorded(plan, version, new, out, _plan_change(repo, who, version, new, why))


def validate_plan(path: Path) -> plan_mod.DrillPlan:
    """The plan, parsed and checked: every problem names its field."""
    return _parse(path)[1]


def record(settings: Settings, db: str | None, path: Path, *, reason: str) -> PlanRecorded:
    """Record the plan's current text (nothing new when it did not change)."""
    text, plan = _parse(path)
    repo, who = open_as(settings, db, Action.DRILL)
    _check_no_other_draft(repo, plan.id, plan_mod.plan_sha256(text))
    version, new = record_plan(repo, plan, text, path.name, actor=who.actor, reason=reason)
    return PlanRecorded(plan, version, new, path, _plan_change(repo, who, version, new, reason))


def plans(settings: Settings, db: str | None, plan_id: str | None = None) -> list[PlanVersion]:
    """Every recorded version of the plans (or of one)."""
    repo = open_to_read(settings, db)
    label = who_label(repo)
    return [replace(v, actor=label(v.actor)) for v in plan_history(repo, plan_id)]


@dataclass(frozen=True)
class DrillRun:
    """A finished drill and where its evidence is."""

    result: DrillResult
    outputs: RunOutputs

    @property
    def exit_code(self) -> int:
        """0 when every criterion passed, 8 when one failed, 13 when none failed but one
        could not be judged."""
        return {"pass": 0, "fail": IntegrityFailure.exit_code}.get(
            self.result.verdict, DrillInconclusive.exit_code
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.result.to_dict(),
            "result_file": str(self.outputs.result_file),
            "evidence": self.outputs.to_dict(),
        }


def run(
    settings: Settings,
    db: str | None,
    path: Path,
    *,
    policy: str | None = None,
    copies: Sequence[str] = (),
    key: str | None = None,
    signing_key: str | None = None,
    workdir: Path = DEFAULT_WORKDIR,
    seed: int | None = None,
    on_step: Callable[[str, str], None] | None = None,
) -> DrillRun:
    """Run a drill on sandboxes: baseline, backup, fault, timed restore, reconciliation,
    verdict; record the plan version and the run, write the signed evidence package."""
    from serialvault.drill.evidence import write_run
    from serialvault.drill.runner import run_drill

    text, plan = _parse(path)
    make_folder(workdir, "drill work folder")
    ctx = Backups.load(
        settings,
        policy=policy,
        copies=[*plan.copies, *copies],
        key=key,
        signing_key=signing_key,
    )
    repo, who = open_as(settings, plan.source or db, Action.DRILL)
    _require_effective(repo, plan, plan_mod.plan_sha256(text))
    _refuse_live_target(repo, plan)
    result = run_drill(
        plan,
        plan_mod.plan_sha256(text),
        source=repo,
        policy=ctx.policy,
        copies=ctx.copies,
        verify_key=ctx.verify_key(),
        key=ctx.encryption_key(),
        workdir=workdir,
        actor=who.actor,
        seed=seed,
        on_step=on_step or _quiet,
    )
    result.actor_name = who.name
    outputs = write_run(
        result,
        (workdir / result.drill_id).resolve(),
        ctx.signing_key(),
        drill_runs(repo, plan.id)[-50:],
    )
    return DrillRun(result, outputs)


def register(settings: Settings, db: str | None, plan_id: str | None = None) -> list[Any]:
    """The drill register: every run with its plan, verdict, RTO, RPO, when, by whom."""
    repo = open_to_read(settings, db)
    label = who_label(repo)
    return [{**r, "by": label(r["actor"])} for r in drill_runs(repo, plan_id)]


def show(
    settings: Settings, db: str | None, drill_id: str, workdir: Path = DEFAULT_WORKDIR
) -> dict[str, Any]:
    """One run: its log record and, where its result file is, the full result."""
    repo = open_to_read(settings, db)
    found = [r for r in drill_runs(repo) if r["drill_id"] == drill_id]
    if not found:
        raise NotFound(f"no drill {drill_id!r} in the register (see drill list)")
    doc: dict[str, Any] = {
        "record": found[0],
        # 21 CFR 11.50: the signatures show with what they sign (name, time, meaning)
        "signatures": [s.to_dict() for s in signatures_of(repo, f"drill-evidence:{drill_id}")],
    }
    result = workdir / drill_id / "result.json"  # written next to evidence/
    if result.is_file():
        doc["result"] = orjson.loads(result.read_bytes())
        doc["result_file"] = str(result.resolve())
    return doc


def due(settings: Settings, db: str | None) -> list[dict[str, Any]]:
    """Plans not run within their frequency, or never run (Annex 11 §7.2: periodically)."""
    return due_plans(open_to_read(settings, db), now_utc())


def trend(
    settings: Settings, db: str | None, out: Path, plan_id: str | None = None
) -> dict[str, Any]:
    """Chart RTO and RPO per drill over time (PNG) from the register."""
    from serialvault.drill.chart import trend_png

    runs = drill_runs(open_to_read(settings, db), plan_id)
    if not runs:
        raise NotFound(f"no drill{' of plan ' + plan_id if plan_id else ''} in the register")
    write_file(out, trend_png(runs, f"{plan_id or 'all plans'}: RTO and RPO per drill"))
    return {"chart": str(out), "drills": len(runs)}


def verify_evidence(
    settings: Settings,
    package: Path,
    *,
    public_key: Path | None = None,
    reviewer_keys: Sequence[Path] = (),
) -> PackageCheck:
    """Check a package with the public key alone (no repository): every file against the
    signed checksums, ``evidence.json`` against its schema; a sign-off counts only when
    its signature verifies with one of the reviewer keys given."""
    from serialvault.drill.evidence import verify_package

    vk = (
        load_verify_key(public_key)
        if public_key
        else load_policy(None, settings=settings).load_verify_key()
    )
    return verify_package(package, vk, [load_verify_key(r) for r in reviewer_keys])


def reviewer_key(out: Path, passphrase: bytes) -> dict[str, Any]:
    """Create a reviewer's own Ed25519 key, encrypted with their passphrase (0600)."""
    from serialvault.drill.evidence import generate_reviewer_key

    pub = generate_reviewer_key(out, passphrase)
    return {"key": str(out), "public_key": str(out.with_suffix(".pub")), "key_id": pub.key_id}


def _signable(settings: Settings, repo: Repository, who: Principal, package: Path) -> str:
    """The drill id of a package that may be signed: in this repository's register, run
    by someone other than the signer, and verifying with the policy's key (earlier
    sign-offs aside: their reviewers' keys are not at hand, and a second person signs
    after a first). Anything else is refused before anything is signed."""
    from serialvault.drill.evidence import package_drill_id, verify_package

    drill_id = package_drill_id(package)
    runs = [r for r in drill_runs(repo) if r["drill_id"] == drill_id]
    if drill_id is None or not runs:
        raise NotFound(
            f"drill {drill_id} of {package} is not in this repository's register: not signing"
        )
    if runs[-1]["actor"] == who.user_id:
        raise NotPermitted(
            f"{who.user_id} ran drill {drill_id}: its evidence is signed off by someone else"
            " (separation of duties); nothing was signed"
        )
    try:
        vk = load_policy(None, settings=settings).load_verify_key()
    except SerialvaultError as exc:
        raise KeyProblem(
            f"the package cannot be verified before it is signed ({exc}): name the policy or"
            " its public key (SERIALVAULT_POLICY); nothing was signed"
        ) from None
    problems = [f for f in verify_package(package, vk).findings if not f.startswith("signoff-")]
    if problems:
        raise IntegrityFailure(f"{package} does not verify: {'; '.join(problems)}; not signing it")
    return drill_id


def sign_off_evidence(
    settings: Settings,
    db: str | None,
    package: Path,
    *,
    key_file: Path,
    passphrase: bytes,
    password: str | None,
    meaning: str = "reviewed",
    user_entered: str | None = None,
) -> dict[str, Any]:
    """A QA reviewer's electronic signature on a drill's evidence (21 CFR 11.50, 11.70,
    11.200): an authenticated ``qa`` user re-enters their password, the ``signature``
    record binds their id, full name, meaning and time to the SHA-256 of the package's
    checksums, and their own Ed25519 key — registered to their account — countersigns
    the package so that it verifies offline. A package that does not verify is not
    signed. The signature record and the sign-off record are one commit: a sign-off file
    that cannot be written leaves no signature behind."""
    from serialvault.app.signatures import authenticate_signer
    from serialvault.drill.evidence import load_reviewer_key, package_sums_sha256, sign_off

    repo, who = open_as(settings, db, Action.SIGN_OFF)
    key = load_reviewer_key(key_file, passphrase)
    if key.public.key_id not in show_account(repo, who.user_id).reviewer_keys:
        raise NotPermitted(
            f"reviewer key {key.public.key_id} is not registered to {who.user_id}: register"
            " your own key first (`serialvault user key add --public-key FILE.pub`)"
        )
    drill_id = _signable(settings, repo, who, package)
    sums = package_sums_sha256(package)
    act = authenticate_signer(
        repo, who, meaning=meaning, password=password, user_entered=user_entered
    )
    why = f"{meaning} drill evidence {drill_id}"
    with repo.write() as (conn, log):
        (signature,) = act.write(conn, log, [(f"drill-evidence:{drill_id}", sums)], why)
        doc, path = sign_off(
            package,
            key,
            signer=who.user_id,
            name=who.name,
            meaning=meaning,
            signed_at=signature.signed_at,
            signature_seq=signature.seq,
        )
        body = {
            "drill_id": drill_id,
            "signer": who.user_id,
            "name": who.name,
            "meaning": meaning,
            "signed_at": doc["signed_at"],
            "signature_seq": signature.seq,
            "key_id": doc["signature"]["key_id"],
            "checksums_sha256": doc["checksums_sha256"],
        }
        rec = log.append(DRILL_SIGNOFF, body, who.actor, why)
    return {
        "signoff": str(path),
        "seq": rec.seq,
        "signature_seq": signature.seq,
        **{k: doc[k] for k in ("signer", "name", "meaning", "signed_at")},
    }
