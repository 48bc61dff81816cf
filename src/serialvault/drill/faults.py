"""The faults of the drill scenarios, each injected into sandboxes only.

DESIGN.md "Drills": primary lost, database corrupted, latest increment lost, on-site copy
lost, ransomware, bad change, tampered backup, rollback of a copy, tampered primary, and
writes after the last backup. The live repository and the live copies are never
touched: a fault works on clones of a copy (``clone_copy``) or on a copy of the primary
database. Each fault says which copies the restore may use, at which point, which
criteria it judged itself (a tampering that must be detected), and whether the first
restore is expected to refuse (a lost backup must not be skipped silently).

``FAULTS`` maps each scenario to its function: a new scenario is one function and one
entry.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import orjson

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
from serialvault.backup.crypto import VerifyKey
from serialvault.backup.manifest import Manifest, manifest_path, object_path
from serialvault.backup.policy import Policy
from serialvault.backup.take import full_backup
from serialvault.backup.targets import FileTarget
from serialvault.domain import reconcile as rules
from serialvault.domain.chain import Anchor
from serialvault.drill.plan import DrillPlan
from serialvault.drill.result import Criterion
from serialvault.errors import SerialvaultError
from serialvault.store import reconcile as rec
from serialvault.store import sandbox as sandbox_db
from serialvault.store.engine import sqlite_path
from serialvault.store.integrity import check_projections, verify_chain
from serialvault.store.repository import Repository
from serialvault.timefmt import parse_timestamp, utc_iso


@dataclass
class Fault:
    """What a scenario's fault left for the restore: the copies to use, the point, the
    criteria it judged itself, and whether the restore is expected to refuse first."""

    use: list[Copy]
    at: str | None
    criteria: list[Criterion] = field(default_factory=list)
    expect_refusal: str | None = None  # the criterion a refused first restore passes
    detail: str = ""


@dataclass(frozen=True)
class Setting:
    """Everything a fault may look at: the plan, the live copies (read only), the
    baseline, the sandbox folder, the live repository (read only) and the seeded dice."""

    plan: DrillPlan
    copies: list[Copy]
    at: str | None
    base: rec.Baseline
    sandbox: Path
    source: Repository
    policy: Policy
    verify_key: VerifyKey
    actor: str
    rnd: random.Random

    def clones(self) -> list[Copy]:
        """A sandbox clone of every copy, in the copies' order."""
        return [clone_copy(c, self.sandbox / "copies" / str(i)) for i, c in enumerate(self.copies)]

    def witnesses(self) -> list[Witness]:
        return live_witnesses(self.source, self.policy, self.base.repository_id)


# --------------------------------------------------------------------------- helpers


def clone_copy(copy: Copy, dest: Path) -> Copy:
    """A sandbox clone of a copy (manifests, objects, check records) as a local folder."""
    src = copy.open().target
    target = FileTarget(dest)
    for info in src.list(""):
        target.put(info.name, src.get(info.name))
    return Copy(f"{copy.name} (sandbox clone)", dest.as_uri(), origin=src.url)


def live_witnesses(source: Repository, policy: Policy, repository_id: str | None) -> list[Witness]:
    """The live repository's witness: what restores in a drill must not go behind."""
    w = witness_path(sqlite_path(source.url), repository_id or "", policy.witness, policy.state_dir)
    return [Witness(w)] if w.is_file() else []


def is_onsite(copy: Copy) -> bool:
    return copy.url.startswith("file://") or "://" not in copy.url


def flip_bit(data: bytes, rnd: random.Random) -> bytes:
    """One bit flipped at a random position (not an overwrite, which may leave the byte
    unchanged one time in 256)."""
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


def newest_of(copy: Copy, verify_key: VerifyKey, repository_id: str | None) -> Manifest | None:
    manifests, _ = read_manifests(copy.open(), verify_key)
    mine = [m for m in manifests if m.repository_id == repository_id]
    return max(mine, key=lambda m: (m.last_seq, m.created_at), default=None)


def roll_back(copy: Copy, verify_key: VerifyKey, repository_id: str | None) -> str | None:
    """Put a (sandbox) copy back to its state before its newest backup, as restoring the
    bucket or folder from an older snapshot would: that backup's manifest, checkpoint
    and the check records since are gone (objects an older backup names stay)."""
    st = copy.open()
    newest = newest_of(copy, verify_key, repository_id)
    if newest is None:
        return None
    st.target.delete(manifest_path(newest.id))
    st.target.delete(checkpoint_path(newest.id))
    for info in st.target.list(CHECKS):
        if info.name.rsplit("/", 1)[-1] >= stamp(newest.created_at):
            st.target.delete(info.name)
    return newest.id


def plant_forged_manifest(copy: Copy, rolled_back: str | None) -> str | None:
    """Write an unsigned manifest on a (sandbox) copy that claims a backup newer than the
    one removed — what someone hiding a rollback would plant. It must be reported as
    foreign and never become a recovery point (a forged claim proves nothing)."""
    if rolled_back is None:
        return None
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
    copy.open().target.put(manifest_path(forged), orjson.dumps(body))
    return forged


def detect_tampering(
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


# --------------------------------------------------------------------------- faults


def primary_lost(s: Setting) -> Fault:
    """The primary is gone; every copy is intact (also: writes after the last backup)."""
    return Fault(list(s.copies), s.at, detail="the primary is lost")


def bad_change(s: Setting) -> Fault:
    """A bad change at a known seq or time: the point is just before it."""
    f = Fault(list(s.copies), s.at)
    before_seq, before_time = s.plan.scenario.before_seq, s.plan.scenario.before_time
    if before_seq is not None:
        f.at = str(before_seq - 1)
        f.detail = f"recovery point: seq {f.at}, just before seq {before_seq}"
        return f
    when = parse_timestamp(str(before_time))
    f.at = utc_iso(when - timedelta(microseconds=1))
    f.detail = f"recovery point: {f.at}, just before {before_time}"
    return f


def onsite_lost(s: Setting) -> Fault:
    """On-site copies unreadable (ransomware: the primary too): only off-site ones serve."""
    offsite = [c for c in s.copies if not is_onsite(c)]
    lost = [c.name for c in s.copies if is_onsite(c)]
    f = Fault(offsite, s.at)
    if not offsite:
        f.criteria.append(
            Criterion(
                "off-site copy available",
                "at least one copy not on site (s3://)",
                "none: every copy is on site",
                rules.FAIL,
            )
        )
    what = "primary and " if s.plan.scenario.name == "ransomware" else ""
    f.detail = f"{what}on-site cop{'y' if len(lost) == 1 else 'ies'} {', '.join(lost)} unreadable"
    return f


def lost_latest_increment(s: Setting) -> Fault:
    """The newest incremental's manifest gone from every (cloned) copy: the restore must
    say what it cannot serve rather than quietly stop one backup short."""
    clones = s.clones()
    dropped = []
    for cl in clones:
        newest = newest_of(cl, s.verify_key, s.base.repository_id)
        if newest is not None and newest.type == "incr":
            cl.open().target.delete(manifest_path(newest.id))
            dropped.append(newest.id)
    f = Fault(clones, s.at)
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


def _named(reports: list[verify_mod.VerifyReport], code: str, backup: str | None) -> list[str]:
    return [x.message for r in reports for x in r.findings if (x.code, x.backup) == (code, backup)]


def rollback(s: Setting) -> Fault:
    """One (cloned) copy rolled back past its newest backup, with a forged newer manifest
    planted on it: ``verify`` must report both, and a restore must not be held hostage
    by the forgery nor go back in time silently."""
    clones = s.clones()
    victim_at = next(
        (i for i, c in enumerate(s.copies) if s.plan.scenario.tamper_copy in (c.name, c.url)), 0
    )
    victim = clones[victim_at]
    gone = roll_back(victim, s.verify_key, s.base.repository_id)
    forged = plant_forged_manifest(victim, gone)
    f = Fault([victim] + [c for c in clones if c is not victim], s.at)  # the victim first
    witnesses = s.witnesses()
    reports = verify_mod.verify_copies(
        f.use, s.verify_key, witnesses=witnesses, state_dir=s.policy.state_dir
    )
    lost, fake = _named(reports, "rollback", gone), _named(reports, "foreign-manifest", forged)
    f.criteria.append(
        Criterion(
            "rollback detected",
            "backup verify reports the copy that lost a backup it once held",
            lost[0][:300] if lost else f"NOT reported (backup {gone} removed)",
            rules.PASS if lost else rules.FAIL,
        )
    )
    # what a restore would plan against: the newest backup all copies and the witness prove
    history = gather([c.open() for c in f.use], s.verify_key, witnesses, s.policy.state_dir)
    known_newest = history.newest_known(s.base.repository_id or "")
    counted = known_newest is not None and known_newest.backup == forged
    if forged is None:
        measured = "not run: the copy holds no backup to hide"
    elif not fake:
        measured = f"NOT reported (manifest {forged} planted)"
    elif counted:
        measured = f"reported, but taken as the newest backup known: {fake[0][:200]}"
    else:
        known = f"backup {known_newest.backup} (seq {known_newest.seq})" if known_newest else "none"
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
        f"copy {s.copies[victim_at].name} rolled back: backup {gone} removed from it, and an"
        f" unsigned manifest {forged} claiming a newer backup planted on it"
    )
    return f


def tampered_primary(s: Setting) -> Fault:
    """A sandbox copy of the primary edited outside the log (a projection row, a log
    body, a rewritten chain, a truncation): the checks must name it and a full backup
    with --check-projections must refuse to certify it."""
    damaged = s.sandbox / "primary-tampered.db"
    sandbox_db.clone_primary(s.source, damaged)
    what = sandbox_db.tamper(damaged, s.plan.scenario.tamper, s.rnd)
    clones = s.clones()
    found, refused = detect_tampering(damaged, s.base, clones, s.policy, s.verify_key, s.actor)
    f = Fault(list(s.copies), s.at, detail=f"sandbox copy of the primary: {what}")
    checks = [x for x in found if not x.startswith("backup")]
    f.criteria.append(
        Criterion(
            "tampering of the primary detected",
            "the chain against its anchors (audit verify) or the projections against the"
            " log (R9) name the change",
            "; ".join(checks)[:400] or "NOT detected",
            rules.PASS if checks else rules.FAIL,
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
    return f


def tampered_backup(s: Setting) -> Fault:
    """One bit flipped, on a clone of a copy, in the largest object the restore will need
    (the chain it plans for the newest point): it must be found and named, and the
    object taken from another copy — or another chain reaching the same point — used."""
    from serialvault.backup.restore import plan_restore

    held: dict[str, list[Manifest]] = {}
    for c in s.copies:
        manifests, _ = read_manifests(c.open(), s.verify_key)
        held[c.url] = [m for m in manifests if m.repository_id == s.base.repository_id]
    pooled = {m.id: m for ms in held.values() for m in ms}
    engine = "postgresql" if "://" in s.plan.restore_target else "sqlite"
    needed = plan_restore(list(pooled.values()), "all copies", engine).objects
    target_ref = max(needed, key=lambda o: o.size)
    name = object_path(target_ref.name)
    holders = [c for c in s.copies if c.open().target.exists(name)]
    victim = next(
        (c for c in holders if s.plan.scenario.tamper_copy in (c.name, c.url)), holders[0]
    )
    clone = clone_copy(victim, s.sandbox / "copies" / "tampered")
    st = clone.open()
    st.target.put(name, flip_bit(st.target.get(name), s.rnd))
    return Fault(
        [clone] + [c for c in s.copies if c is not victim],
        s.at,
        detail=f"one bit flipped in object {target_ref.name} ({target_ref.kind}, needed by the"
        f" restore) of copy {victim.name}",
    )


def corruption(s: Setting) -> Fault:
    """Pages of a copy of a SQLite primary overwritten: the damage must be found before
    the file is trusted."""
    f = Fault(list(s.copies), s.at)
    path = sqlite_path(s.source.url)
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
    damaged = s.sandbox / "primary-damaged.db"
    pages = sandbox_db.corrupt_pages(path, damaged, s.plan.scenario.corrupt_pages, s.rnd)
    found_it, how = detect_corruption(damaged, s.base)
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


#: Scenario → its fault. Every scenario of ``drill.plan.SCENARIOS`` has one.
FAULTS: dict[str, Callable[[Setting], Fault]] = {
    "primary-loss": primary_lost,
    "post-backup-writes": primary_lost,
    "bad-change": bad_change,
    "onsite-copy-lost": onsite_lost,
    "ransomware": onsite_lost,
    "lost-latest-increment": lost_latest_increment,
    "rollback": rollback,
    "tampered-primary": tampered_primary,
    "tampered-backup": tampered_backup,
    "corruption": corruption,
}
