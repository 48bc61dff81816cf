"""Restore: plan, fetch and verify everything, then load, replay and check.

The order is the point (DESIGN.md "Restore"; EU GMP Annex 11 §7.2 — the ability to
restore is what a backup is for):

1. **plan** — the backup chain that reaches the recovery point (``--at SEQ``, ``--at
   TIMESTAMP``, ``--backup ID`` or the newest): the full whose snapshot is at or before the
   point, then its incrementals. A snapshot of another engine is not used; the log is
   replayed from genesis instead (the migration path from SQLite to PostgreSQL and back).
2. **fetch + verify** — every object is read and its SHA-256 checked against its name and
   the signed manifest *before anything is written*; the key is tried on one object. A
   damaged or missing object is looked for in the next copy.
3. **load** — the snapshot goes into the target: a SQLite file is rebuilt under a
   temporary name and renamed into place only when everything checked out; PostgreSQL is
   loaded and replayed in one transaction that also marks the database ``restore_state``,
   so an interrupted restore leaves nothing, or a database ``Repository.open`` refuses.
4. **replay** — log records after the snapshot up to the point, each chain-checked,
   appended and applied to the projections by the same code as ``rebuild``.
5. **check** — the whole chain from genesis, the head against the manifest (or the chain
   hash of the record at the point), the fingerprint against the manifest when the point
   is a backup's end.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from serialvault.backup.anchors import History, Sighting, Witness, gather
from serialvault.backup.copies import Copy
from serialvault.backup.crypto import EncryptionKey, VerifyKey, unseal
from serialvault.backup.leftovers import clean_restores
from serialvault.backup.manifest import Manifest, ObjectRef, lineage, object_path
from serialvault.backup.objects import CopyState
from serialvault.backup.segments import check_chain, decode
from serialvault.backup.targets import FileTarget, ObjectMissing
from serialvault.domain.chain import GENESIS, Anchor, LogRecord
from serialvault.errors import (
    BackupError,
    ConflictError,
    IntegrityFailure,
    OlderRecoveryPoint,
    SerialvaultError,
    StoreError,
    UsageError,
)
from serialvault.store.engine import (
    Connection,
    connect,
    make_engine,
    redact,
    resolve_url,
    sqlite_path,
)
from serialvault.store.export import PG_SNAPSHOT_TABLES
from serialvault.store.fingerprint import (
    ReadSource,
    fingerprint,
    fingerprint_pool,
    start_fingerprint,
)
from serialvault.store.integrity import replay, verify_chain
from serialvault.store.repository import (
    ExistingTarget,
    Repository,
    existing_target,
    insert_log,
    migrate_on,
    read_head,
    replacing_sqlite,
    restore_working_file,
)
from serialvault.store.restoring import (
    checkpoint_sqlite,
    clear_mark,
    drop_repository,
    mark_loading,
    meta_from_genesis,
    peek_target,
    pg_bulk_load,
    record_restored_from,
    target_is_empty,
    unmark_sqlite,
)
from serialvault.timefmt import now_utc

Phase = Callable[[str, int, int | None], None]


def _no_phase(_n: str, _d: int, _t: int | None) -> None:
    return None


@dataclass
class Plan:
    copy: str
    chain: list[Manifest]  # full first
    point_seq: int | None  # None: decided by a timestamp while replaying
    point_time: str | None
    use_snapshot: bool
    target_engine: str
    #: signed heads of this repository seen anywhere (copies, witness): the restored log
    #: must agree with each at or before its head — another timeline never passes silently
    anchors: list[Anchor] = field(default_factory=list)
    #: a named point (--at/--backup): a disagreement is a finding, not a refusal
    explicit: bool = False
    disagreements: list[str] = field(default_factory=list)

    @property
    def full(self) -> Manifest:
        return self.chain[0]

    @property
    def objects(self) -> list[ObjectRef]:
        out: list[ObjectRef] = []
        start = self.snapshot_seq + 1
        if self.use_snapshot:
            out += self.full.snapshot_objects
            if (self.full.snapshot or {}).get("engine") == "postgresql":
                start = 1  # a PostgreSQL snapshot leaves the log to the segments
        for m in self.chain:
            for seg in m.segments:
                if (seg.last_seq or 0) < start:
                    continue
                if self.point_seq is not None and (seg.first_seq or 0) > self.point_seq:
                    continue
                out.append(seg)
        return out

    @property
    def unused(self) -> list[ObjectRef]:
        """The chain's objects this restore does not load (a full's segments when its
        SQLite snapshot holds the log; what lies beyond the point): checked all the same,
        so that damage to a backup is never passed over in silence."""
        used = {o.name for o in self.objects}
        seen: set[str] = set()
        out = []
        for m in self.chain:
            for o in m.objects:
                if o.name not in used and o.name not in seen:
                    seen.add(o.name)
                    out.append(o)
        return out

    @property
    def snapshot_seq(self) -> int:
        return int(self.full.snapshot["seq"]) if self.use_snapshot and self.full.snapshot else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "copy": self.copy,
            "backups": [m.id for m in self.chain],
            "point_seq": self.point_seq,
            "point_time": self.point_time,
            "snapshot": self.full.id if self.use_snapshot else None,
            "replay_from_seq": self.snapshot_seq + 1,
            "objects": len(self.objects),
            "bytes": sum(o.size for o in self.objects),
        }


def plan_restore(
    manifests: list[Manifest],
    copy: str,
    target_engine: str,
    *,
    at_seq: int | None = None,
    at_time: str | None = None,
    backup: str | None = None,
) -> Plan:
    """Choose the chain of backups that reaches the recovery point."""
    if not manifests:
        raise BackupError(f"copy {copy} holds no backup")
    by_id = {m.id: m for m in manifests}
    repos = {m.repository_id for m in manifests}
    if backup is not None:
        end = by_id.get(backup)
        if end is None:
            raise BackupError(f"copy {copy} has no backup {backup}")
        at_seq = end.last_seq if at_seq is None else at_seq
        if at_seq > end.last_seq:
            raise BackupError(f"backup {backup} ends at seq {end.last_seq}, before seq {at_seq}")
    else:
        if len(repos) > 1:
            raise BackupError(
                f"copy {copy} holds backups of {len(repos)} repositories: name one with --backup"
            )
        ordered = sorted(manifests, key=lambda m: (m.last_seq, m.created_at))
        if at_seq is not None:
            reach = [m for m in ordered if m.last_seq >= at_seq]
            if not reach:
                raise BackupError(
                    f"no backup on {copy} reaches seq {at_seq}"
                    f" (the newest ends at seq {ordered[-1].last_seq})"
                )
            end = reach[0]
        elif at_time is not None:
            reach = [m for m in ordered if (m.last_time or "") >= at_time]
            if not reach:  # what was written until then is not known: never assume nothing
                last = ordered[-1]
                raise BackupError(
                    f"no backup on {copy} reaches {at_time}: the newest backed-up record is"
                    f" seq {last.last_seq} ({last.last_time}); records written after it are"
                    f" in no backup known here — restore it explicitly with --at"
                    f" {last.last_seq}"
                )
            # every record at or before the time: records are time-ordered, but a clock
            # that stepped back gives several the same stamp (recorded_at never
            # decreases), so the chain must reach every backup holding any of them — the
            # earliest such end, whose snapshot is the most likely to be usable
            least = max(
                (
                    m.last_seq if (m.last_time or "") <= at_time else m.first_seq
                    for m in ordered
                    if (m.first_time or "") <= at_time
                ),
                default=0,
            )
            end = next((m for m in reach if m.last_seq >= least), reach[-1])
            if ordered[0].first_time and at_time < ordered[0].first_time:
                raise BackupError(f"{at_time} is before the first record of any backup in {copy}")
        else:
            end = ordered[-1]
    chain = lineage(by_id, end)
    full = chain[0]
    point_seq = at_seq if at_seq is not None else (None if at_time else end.last_seq)
    if at_time is not None and (end.last_time or "") <= at_time:
        point_seq = end.last_seq
    snap = full.snapshot or {}
    snap_seq = int(snap.get("seq", full.last_seq))
    use_snapshot = snap.get("engine") == target_engine and (
        (point_seq is not None and snap_seq <= point_seq)
        or (point_seq is None and at_time is not None and (full.last_time or "") <= at_time)
    )
    if point_seq is not None:
        chain = [m for m in chain if m.first_seq <= point_seq]
    return Plan(copy, chain, point_seq, at_time, use_snapshot, target_engine)


# --------------------------------------------------------------------------- fetch


@dataclass
class Fetched:
    """Verified objects: where each one's bytes are (in its copy, or staged on disk)."""

    paths: dict[str, Path] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    nbytes: int = 0
    findings: list[str] = field(default_factory=list)

    def read(self, ref: ObjectRef) -> bytes:
        data = self.paths[ref.name].read_bytes()
        if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.name:
            raise IntegrityFailure(f"object {ref.name} changed after it was verified")
        return data


def fetch_objects(
    plan: Plan, copies: list[CopyState], staging: Path, on_phase: Phase = _no_phase
) -> Fetched:
    """Read every object of the plan and check it; use the next copy for a bad one."""
    out = Fetched()
    objects = plan.objects
    total = sum(o.size for o in objects)
    for ref in objects:
        found = _first_intact(ref, copies, out.findings)
        if found is None:
            raise IntegrityFailure(
                f"object {ref.name} ({ref.kind}) needed by backup chain"
                f" {', '.join(m.id for m in plan.chain)} is missing or damaged in every copy:"
                f" {'; '.join(out.findings[-len(copies) :])}"
            )
        c, data = found
        if isinstance(c.target, FileTarget):
            out.paths[ref.name] = c.target.root / object_path(ref.name)
        else:
            p = staging / ref.name
            p.write_bytes(data)
            out.paths[ref.name] = p
        out.sources[ref.name] = c.name
        out.nbytes += len(data)
        on_phase("fetch", out.nbytes, total)
    for ref in plan.unused:
        before = len(out.findings)
        if _first_intact(ref, copies, out.findings) is None:
            out.findings.append(
                f"object {ref.name} ({ref.kind}) of the backup chain is missing or damaged in"
                " every copy; this restore does not need it, but that backup is not whole"
            )
        elif len(out.findings) > before:
            out.findings[before:] = [
                f + " (not needed here; intact elsewhere)" for f in out.findings[before:]
            ]
    return out


def _first_intact(
    ref: ObjectRef, copies: list[CopyState], findings: list[str]
) -> tuple[CopyState, bytes] | None:
    """The first copy holding ``ref`` intact (size and SHA-256 as its name), and its
    bytes; every copy found lacking it or holding it damaged is a finding."""
    for c in copies:
        if c.error is not None:
            continue
        try:
            data = c.target.get(object_path(ref.name))
        except ObjectMissing:
            findings.append(f"object {ref.name} is missing from copy {c.name}")
            continue
        except SerialvaultError as exc:
            findings.append(f"copy {c.name}: {exc}")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != ref.size or digest != ref.name:
            findings.append(
                f"object {ref.name} in copy {c.name} is damaged"
                f" ({len(data)} bytes, SHA-256 {digest[:16]}…)"
            )
            continue
        return c, data
    return None


# --------------------------------------------------------------------------- result


@dataclass
class RestoreResult:
    plan: Plan
    target: str
    head_seq: int
    chain_head: str
    fingerprint: str
    expected_fingerprint: str | None
    phases: dict[str, float]
    fetched_from: dict[str, int]
    findings: list[str]
    dry_run: bool = False
    newest_known: dict[str, Any] | None = None
    projections_checked: str = "not checked"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "dry_run": self.dry_run,
            "newest_backup_known": self.newest_known,
            "projections_checked_at_backup": self.projections_checked,
            "target": self.target,
            "plan": self.plan.to_dict(),
            "head_seq": self.head_seq,
            "chain_head": self.chain_head,
            "fingerprint": self.fingerprint,
            "fingerprint_checked_against": self.expected_fingerprint,
            "phases_s": {k: round(v, 3) for k, v in self.phases.items()},
            "total_s": round(sum(self.phases.values()), 3),
            "objects_from_copy": self.fetched_from,
            "findings": self.findings,
        }


# --------------------------------------------------------------------------- restore


def _parse_at(at: str | None) -> tuple[int | None, str | None]:
    """``--at``: a seq (1 or more) or a UTC instant with offset, years 0001–9999 in UTC;
    anything else is a usage error naming the value."""
    if at is None:
        return None, None
    if at.isascii() and at.isdigit():
        if int(at) < 1:
            raise UsageError(f"--at {at}: a seq counts from 1 (the genesis record)")
        return int(at), None
    from serialvault.timefmt import parse_timestamp, utc_iso

    try:
        return None, utc_iso(parse_timestamp(at))
    except (ValueError, OverflowError) as exc:
        raise UsageError(
            f"--at {at!r} is neither a seq nor a timestamp with offset (years 0001–9999 in"
            f" UTC): {exc}"
        ) from None


class _Timer:
    def __init__(self) -> None:
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t0

    def add(self, name: str, seconds: float) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + seconds


def _older_point(
    hist: History, repo_id: str, end: Manifest, newest: Sighting, pruned: set[str]
) -> OlderRecoveryPoint:
    """Name what is missing: every backup beyond the restorable point, and where seen."""
    beyond: dict[str, list[str]] = {}
    seqs: dict[str, int] = {}
    for s in hist.sightings(repo_id):
        if s.seq > end.last_seq and s.backup not in pruned:
            beyond.setdefault(s.backup, []).append(s.where)
            seqs[s.backup] = s.seq
    listed = "; ".join(
        f"backup {b} (seq {seqs[b]}) seen in {', '.join(sorted(set(w)))}"
        for b, w in sorted(beyond.items(), key=lambda x: seqs[x[0]])[:5]
    )
    lost = newest.seq - end.last_seq
    return OlderRecoveryPoint(
        f"the newest backup known ends at seq {newest.seq}, but the reachable copies can only"
        f" restore to seq {end.last_seq} (backup {end.id}): {lost} record(s) would be lost."
        f" Missing or unusable: {listed}. Bring the missing backup back (another copy,"
        f" `backup verify` names what is wrong), or accept the older point explicitly with"
        f" --at {end.last_seq} or --backup {end.id}",
        available_seq=end.last_seq,
    )


def _plans(
    mine: list[Manifest],
    engine_name: str,
    at_seq: int | None,
    at_time: str | None,
    backup: str | None,
) -> list[Plan]:
    """Plans to try, best first: for the newest point, every chain that reaches it (a
    chain whose object is damaged everywhere gives way to another reaching the same
    point, never silently to an older one)."""
    label = "any copy"
    first = plan_restore(mine, label, engine_name, at_seq=at_seq, at_time=at_time, backup=backup)
    if at_seq is not None or at_time is not None or backup is not None:
        return [first]
    end = first.chain[-1]
    same = sorted(
        (m for m in mine if m.last_seq == end.last_seq and m.chain_head == end.chain_head),
        key=lambda m: m.created_at,
        reverse=True,
    )
    out = [first]
    for m in same:
        if m.id == end.id:
            continue
        try:
            out.append(plan_restore(mine, label, engine_name, backup=m.id))
        except BackupError:
            continue
    return out


#: Who restores: a user id, or a function naming the user from the restored repository.
Actor = str | Callable[[Repository], str]


def restore(
    copies: list[Copy],
    into: str,
    *,
    verify_key: VerifyKey,
    key: EncryptionKey | None,
    at: str | None = None,
    backup: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    actor: Actor = "restore",
    on_phase: Phase = _no_phase,
    witnesses: list[Witness] | None = None,
    state_dir: Path | None = None,
    discard_newer: bool = False,
    check_repository: Callable[[str], None] | None = None,
) -> RestoreResult:
    """Restore from what *all* reachable copies hold together.

    Every copy's signed manifests are pooled and the newest recovery point any of them
    proves is planned; objects come from whichever copy holds them intact. Without
    ``at``/``backup`` the point must be the newest backup known from every source —
    manifests, checkpoints and check records on the copies, the witness files — or the
    restore fails with :class:`OlderRecoveryPoint` naming what is missing. Restoring over
    an existing repository takes its writer lock and refuses when it holds records after
    the point (``discard_newer``: a scratch target may lose them).

    ``actor`` is who restores, or a function that names them from the restored
    repository itself (still marked, before it becomes usable) — how an admin proves who
    they are when the live repository is gone: by their account in the backup.
    """
    url = resolve_url(into)
    engine_name = "sqlite" if url.startswith("sqlite") else "postgresql"
    at_seq, at_time = _parse_at(at)
    explicit = at is not None or backup is not None
    timer = _Timer()
    findings: list[str] = clean_stale_restores(url)
    states = [c.open() for c in copies]
    with timer.phase("fetch"):
        hist = gather(states, verify_key, witnesses or [], state_dir)
    pool, holders = _pool(hist, findings)
    repo_id = _repository_of(hist, pool, backup, findings)
    if check_repository is not None:  # who may restore it: before anything is written
        check_repository(repo_id)
    mine = _candidates(hist, pool, repo_id, backup)
    plans = _plans(mine, engine_name, at_seq, at_time, backup)
    end = plans[0].chain[-1]
    newest = hist.newest_known(repo_id)
    if not explicit:
        _refuse_older(hist, states, repo_id, end, newest)
    heads = {(x.seq, x.chain_hash): x for x in hist.sightings(repo_id) if x.chain_hash}
    anchors = [
        Anchor(seq, chain, f"{x.where} (backup {x.backup})")
        for (seq, chain), x in sorted(heads.items())
    ]
    for p in plans:
        p.anchors, p.explicit = anchors, explicit
    if not force and not target_is_empty(url):
        raise ConflictError(
            f"restore target {redact(url)} is not empty: choose a new database, or --force to"
            " replace it"
        )
    staging = Path(tempfile.mkdtemp(prefix="sv-restore-"))
    try:
        plan, fetched, failures = _fetch_any(plans, states, holders, staging, timer, on_phase)
        if fetched is None:
            raise _unrestorable(end, mine, failures)
        findings += failures + fetched.findings
        with timer.phase("verify"):
            _check_key(plan, fetched, key)
        guard = TargetRule(
            plan.point_seq or plan.chain[-1].last_seq,
            keep_newer=not (explicit or discard_newer),
            same_repository=backup is None and not discard_newer,
        )
        res = _apply(
            plan, fetched, url, key, timer, force, actor, on_phase, guard, repo_id, dry_run
        )
        res.findings = (
            findings
            + guard.notes
            + [
                f"the restored history differs from a signed head (the point was named): {d}"
                for d in plan.disagreements
            ]
        )
        res.fetched_from = _count(fetched)
        res.newest_known = None if newest is None else newest.to_dict()
        res.projections_checked = (plan.chain[0].checks or {}).get("projections", "not checked")
        if not dry_run:
            _measure(res, states, engine_name, fetched)
        return res
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _apply(
    plan: Plan,
    fetched: Fetched,
    url: str,
    key: EncryptionKey | None,
    timer: _Timer,
    force: bool,
    actor: Actor,
    on_phase: Phase,
    guard: TargetRule,
    repo_id: str,
    dry_run: bool,
) -> RestoreResult:
    """Build the repository at the target (or, for a dry run, judge the target as the
    real run would and write nothing)."""
    if dry_run:
        guard.check(peek_target(url), repo_id, redact(url))
        return RestoreResult(
            plan,
            redact(url),
            plan.point_seq or plan.chain[-1].last_seq,
            plan.chain[-1].chain_head,
            "",
            None,
            timer.phases,
            _count(fetched),
            [],
            dry_run=True,
        )
    apply = _restore_sqlite if url.startswith("sqlite") else _restore_pg
    try:
        return apply(plan, fetched, url, key, timer, force, actor, on_phase, guard, repo_id)
    except OSError as exc:  # the target's folder: not writable, full, gone
        raise StoreError(
            f"cannot restore into {redact(url)}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else "")
        ) from None


def _pool(hist: History, findings: list[str]) -> tuple[dict[str, Manifest], dict[str, list[str]]]:
    """Every copy's signed manifests pooled (id → manifest, id → copies holding it); the
    copies' findings join ``findings``. No usable backup at all is an error naming the
    backups that were once written and are now missing."""
    for v in hist.views:
        findings += [str(f) for f in v.findings]
    findings += hist.problems
    pool, holders, conflicts = hist.pooled()
    findings += [str(f) for f in conflicts]
    if pool:
        return pool, holders
    known = sorted(
        {
            (c.seq, c.backup or "", f"checkpoint on copy {v.name}")
            for v in hist.views
            for c in v.checkpoints
        }
        | {(c.seq, c.backup or "", "witness file") for c in hist.witness},
        reverse=True,
    )
    lost = (
        "; backups once written and now missing: "
        + ", ".join(f"{b} (seq {q}, {w})" for q, b, w in known[:5])
        if known
        else ""
    )
    raise BackupError(
        "no copy holds a usable backup" + lost + (f" ({'; '.join(findings)})" if findings else "")
    )


def _repository_of(
    hist: History, pool: dict[str, Manifest], backup: str | None, findings: list[str]
) -> str:
    """The repository to restore: the named backup's, or the only one the copies hold."""
    repos = hist.repositories()
    if backup is not None:
        if backup not in pool:
            raise BackupError(
                f"no copy holds backup {backup}" + (f" ({'; '.join(findings)})" if findings else "")
            )
        return pool[backup].repository_id
    if len(repos) > 1:
        raise BackupError(
            "the copies hold backups of "
            + ", ".join(f"repository {r} (copies {', '.join(c)})" for r, c in repos.items())
            + ": name the backup to restore with --backup"
        )
    return next(iter(repos))


def _candidates(
    hist: History, pool: dict[str, Manifest], repo_id: str, backup: str | None
) -> list[Manifest]:
    """The repository's backups a restore may plan with: not those of a history the log
    abandoned on purpose (a new timeline), unless named."""
    gone = hist.abandoned(repo_id)
    return [
        m
        for m in pool.values()
        if m.repository_id == repo_id and ((m.last_seq, m.chain_head) not in gone or m.id == backup)
    ]


def _refuse_older(
    hist: History,
    states: list[CopyState],
    repo_id: str,
    end: Manifest,
    newest: Sighting | None,
) -> None:
    """Without a named point, the newest recovery point must be the newest known: no
    fork, no newer backup seen anywhere, no copy that could hold one left unread."""
    _refuse_fork(hist, repo_id)
    if newest is not None and newest.seq > end.last_seq:
        raise _older_point(hist, repo_id, end, newest, hist.pruned)
    _refuse_unread_copies(states, hist, end, repo_id)


def _refuse_unread_copies(
    states: list[CopyState], hist: History, end: Manifest, repo_id: str
) -> None:
    """A copy that could not be read, or that holds no backup of this repository (a share
    not mounted, a wrong prefix, junk), may hold a newer backup than the others: the
    newest recovery point cannot be established, so the point the others serve is not
    taken silently."""
    silent = [
        f"copy {st.name} ({st.target.url}) could not be read: {st.error}"
        for st in states
        if st.error
    ]
    silent += [
        f"copy {v.name} ({v.url}) holds no backup of repository {repo_id}"
        for v in hist.views
        if repo_id not in v.repositories and not v.unreadable
    ]
    if silent:
        raise OlderRecoveryPoint(
            f"{'; '.join(silent)}: it may hold backups newer than seq {end.last_seq}, which"
            f" the other copies serve (backup {end.id}); check it, or accept that point"
            f" explicitly with --at {end.last_seq} (or --backup {end.id})",
            available_seq=end.last_seq,
        )


def _refuse_fork(hist: History, repo_id: str) -> None:
    """Two histories of one repository on the copies: which is right is a person's call."""
    forks = hist.forks(repo_id)
    if forks:
        a, b = forks[0]
        raise IntegrityFailure(
            f"the copies hold two histories of repository {repo_id}: seq {a.seq} has chain"
            f" hash {a.chain_hash} in {a.where} (backup {a.backup}) and {b.chain_hash} in"
            f" {b.where} (backup {b.backup}); `backup verify` shows which, and --backup"
            " names the one to restore"
        )


def _fetch_any(
    plans: list[Plan],
    states: list[CopyState],
    holders: dict[str, list[str]],
    staging: Path,
    timer: _Timer,
    on_phase: Phase,
) -> tuple[Plan, Fetched | None, list[str]]:
    """Fetch and verify the first plan whose every object some copy holds intact (the
    copies holding its manifests first); the failures of the plans before it."""
    failures: list[str] = []
    plan = plans[0]
    for plan in plans:
        holding = {h for m in plan.chain for h in holders.get(m.id, [])}
        ordered = [s for s in states if s.name in holding] + [
            s for s in states if s.name not in holding
        ]
        with timer.phase("fetch"):
            try:
                fetched = fetch_objects(plan, ordered, staging, on_phase)
            except IntegrityFailure as exc:
                failures.append(str(exc))
                continue
        plan.copy = ", ".join(sorted(set(fetched.sources.values()))) or plan.copy
        return plan, fetched, failures
    return plan, None, failures


def _unrestorable(end: Manifest, mine: list[Manifest], failures: list[str]) -> IntegrityFailure:
    """The newest point cannot be restored from any copy: say why, and name the newest
    older backup that could be taken explicitly (never taken silently)."""
    older = sorted(
        (m for m in mine if m.last_seq < end.last_seq), key=lambda m: m.last_seq, reverse=True
    )
    hint = (
        f"; the newest older backup is {older[0].id} (seq {older[0].last_seq}):"
        f" restore it explicitly with --backup {older[0].id} if that loss is accepted"
        if older
        else ""
    )
    return IntegrityFailure(
        f"the newest recovery point, seq {end.last_seq}, cannot be restored: "
        + "; ".join(failures)
        + hint
    )


def _measure(
    res: RestoreResult, states: list[CopyState], engine_name: str, fetched: Fetched
) -> None:
    """Leave the restore's rates on the copy it read most from (for ``backup plan``)."""
    main = max(res.fetched_from, key=lambda n: res.fetched_from[n], default=None)
    if main is None:
        return
    note = record_measurement(
        next(s for s in states if s.name == main), res, engine_name, fetched.nbytes
    )
    if note:
        res.findings.append(note)


def clean_stale_restores(url: str) -> list[str]:
    """Remove what an interrupted restore left beside a SQLite target (``*.restoring-PID``
    files of processes that no longer run); returns what was removed, to say so."""
    path = sqlite_path(url)
    return [] if path is None else clean_restores(path)


MEASUREMENT_FORMAT = "serialvault.restore-measurement/1"


def record_measurement(
    state: CopyState, res: RestoreResult, engine: str, fetched_bytes: int
) -> str | None:
    """Leave the restore's measured rates on the copy it came from, for ``backup plan``.

    EU GMP Annex 11 §7.2 asks that the ability to restore be checked and monitored: the
    planner predicts restore time (RTO) from the last measured restore, not from a guess.
    Writing is best effort — a read-only copy costs the plan its figure, not the restore.
    Returns a note when the record could not be written.
    """
    plan = res.plan
    snap_bytes = sum(o.plain_size for o in plan.full.snapshot_objects) if plan.use_snapshot else 0
    at = now_utc()
    doc = {
        "format": MEASUREMENT_FORMAT,
        "at": at,
        "repository_id": plan.full.repository_id,
        "backup": plan.chain[-1].id,
        "target_engine": engine,
        "source_engine": (plan.full.source or {}).get("engine"),
        "head_seq": res.head_seq,
        "snapshot_seq": plan.snapshot_seq,
        "snapshot_plain_bytes": snap_bytes,
        "records_replayed": max(0, res.head_seq - plan.snapshot_seq),
        "fetched_bytes": fetched_bytes,
        "phases_s": {k: round(v, 4) for k, v in res.phases.items()},
        "total_s": round(sum(res.phases.values()), 4),
    }
    name = f"measurements/restore-{at.replace(':', '').replace('-', '')}-{os.getpid()}.json"
    try:
        state.target.put(name, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    except SerialvaultError as exc:
        return f"restore measurement not recorded on copy {state.name}: {exc}"
    return None


def _count(f: Fetched) -> dict[str, int]:
    out: dict[str, int] = {}
    for src in f.sources.values():
        out[src] = out.get(src, 0) + 1
    return out


def _check_key(plan: Plan, fetched: Fetched, key: EncryptionKey | None) -> None:
    enc = plan.full.encryption
    if enc is None:
        return
    if key is None:
        raise _key_missing(enc["key_id"])
    smallest = min(plan.objects, key=lambda o: o.size)
    unseal(fetched.read(smallest), key, name=f"object {smallest.name}")


def _key_missing(kid: str) -> SerialvaultError:
    from serialvault.errors import KeyProblem

    return KeyProblem(
        f"the backup is encrypted with key {kid}: name that key with --key,"
        " SERIALVAULT_BACKUP_KEY or the policy's [keys] encryption_key"
    )


def _records(
    plan: Plan, fetched: Fetched, key: EncryptionKey | None, timer: _Timer
) -> Iterator[list[LogRecord]]:
    """Chain-checked record batches after the snapshot, up to the point."""
    start = plan.snapshot_seq + 1
    prev: str | None = None
    for ref in plan.objects:
        if ref.kind != "segment":
            continue
        t0 = time.perf_counter()
        recs = decode(unseal(fetched.read(ref), key, name=f"segment {ref.name}"), ref.name)
        timer.add("verify", time.perf_counter() - t0)
        keep = [
            r
            for r in recs
            if r.seq >= start
            and (plan.point_seq is None or r.seq <= plan.point_seq)
            and (plan.point_time is None or r.recorded_at <= plan.point_time)
        ]
        if not keep:
            continue
        if prev is None:
            prev = _prev_chain(plan, keep[0].seq, recs)
        prev = check_chain(keep, prev, f"segment {ref.name}")
        yield keep
        if plan.point_time is not None and len(keep) < len([r for r in recs if r.seq >= start]):
            return


def _prev_chain(plan: Plan, first: int, recs: list[LogRecord]) -> str:
    if first == 1:
        return GENESIS
    for r in recs:
        if r.seq == first - 1:
            return r.chain_hash
    for m in plan.chain:
        if m.last_seq == first - 1:
            return m.chain_head
    if plan.use_snapshot and plan.snapshot_seq == first - 1:
        return plan.full.chain_head
    raise IntegrityFailure(f"no chain hash known for seq {first - 1}")


def _replay_into(
    conn: Connection,
    plan: Plan,
    fetched: Fetched,
    key: EncryptionKey | None,
    timer: _Timer,
    on_phase: Phase,
) -> None:
    for batch in _records(plan, fetched, key, timer):
        t0 = time.perf_counter()
        insert_log(conn, batch)
        if batch[0].seq == 1:
            meta_from_genesis(conn, batch[0])
        replay(conn, iter(batch), parallel=len(batch) > 200)
        timer.add("replay", time.perf_counter() - t0)
        on_phase("replay", batch[-1].seq, plan.point_seq)


def _expected_head(plan: Plan) -> tuple[int | None, str | None, str | None]:
    """(seq, chain hash, fingerprint) the restored repository must show, where known."""
    for m in reversed(plan.chain):
        if plan.point_seq == m.last_seq:
            return m.last_seq, m.chain_head, m.fingerprint
    return plan.point_seq, None, None


def _check(
    conn: Connection,
    plan: Plan,
    timer: _Timer,
    on_phase: Phase,
    source: ReadSource | None = None,
) -> tuple[int, str, str, str | None]:
    """Chain from genesis, head and fingerprint of the restored state.

    With ``source`` (committed data other processes can read; nothing else writes it: the
    database is still marked ``restore_state``), the fingerprint is computed by worker
    processes while this one walks the chain.
    """
    with timer.phase("check"):
        on_phase("check", 0, None)
        pool = fingerprint_pool() if source is not None else None
        try:
            pending = start_fingerprint(conn, source, pool) if source and pool else None
            # the signed heads compared as the walk passes them (a dict lookup per record);
            # those beyond the restored head belong to a later point, not to a truncation
            audit = verify_chain(conn, anchors=plan.anchors)
            fp = pending.result() if pending is not None else None
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        if audit.first_break is not None:
            raise IntegrityFailure(f"restored log does not verify: {audit.first_break}")
        report = audit.anchors
        differs = (
            f"seq {report.mismatch.seq} has chain hash {report.found},"
            f" {report.mismatch.source} recorded {report.mismatch.chain_hash}"
            if report is not None and report.mismatch is not None
            else None
        )
        if differs and not plan.explicit:
            raise IntegrityFailure(
                f"the restored history differs from a signed head: {differs}; the copies hold"
                " two histories of this repository: `backup verify` shows them, and --backup"
                " names the one to restore"
            )
        plan.disagreements = [differs] if differs else []
        seq, chain, fp_expected = _expected_head(plan)
        if seq is not None and audit.head_seq != seq:
            raise IntegrityFailure(
                f"restored head is seq {audit.head_seq}, the recovery point is seq {seq}"
            )
        if chain is not None and audit.head_chain != chain:
            raise IntegrityFailure(
                f"restored chain head {audit.head_chain} differs from the manifest's {chain}"
            )
        if fp is None:
            fp = fingerprint(conn)
        if fp_expected is not None and fp.value != fp_expected:
            raise IntegrityFailure(
                f"restored fingerprint {fp.value} differs from the manifest's {fp_expected}"
            )
        return audit.head_seq, audit.head_chain, fp.value, fp_expected


def _open_snapshot_object(
    fetched: Fetched, ref: ObjectRef, key: EncryptionKey | None, timer: _Timer
) -> bytes:
    """Decrypt + decompress one snapshot object; its time counts as "verify", not "load"
    (the caller is inside the "load" phase, so the same time is taken off it)."""
    t0 = time.perf_counter()
    plain = unseal(fetched.read(ref), key, name=f"snapshot object {ref.name}")
    spent = time.perf_counter() - t0
    timer.add("verify", spent)
    timer.add("load", -spent)
    return plain


def _restore_sqlite(
    plan: Plan,
    fetched: Fetched,
    url: str,
    key: EncryptionKey | None,
    timer: _Timer,
    force: bool,
    actor: Actor,
    on_phase: Phase,
    guard: TargetRule,
    repo_id: str,
) -> RestoreResult:
    path = sqlite_path(url)
    if path is None:
        raise StoreError("cannot restore into an in-memory SQLite database")
    if not path.parent.is_dir():
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise StoreError(f"cannot restore into {path}: folder {path.parent} {what}")
    if not os.access(path.parent, os.W_OK):
        raise StoreError(f"cannot restore into {path}: folder {path.parent} is not writable")
    tmp = restore_working_file(path, os.getpid())
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    try:
        if plan.use_snapshot:
            with timer.phase("load"), tmp.open("wb") as fh:
                parts = sorted(
                    plan.full.snapshot_objects, key=lambda o: int((o.part or "file:0")[5:])
                )
                done = 0
                for ref in parts:
                    plain = _open_snapshot_object(fetched, ref, key, timer)
                    fh.write(plain)
                    done += len(plain)
                    on_phase("load", done, None)
                fh.flush()
                os.fsync(fh.fileno())
        repo = Repository("sqlite:///" + str(tmp))
        try:
            with connect(repo.engine, write=True) as conn:
                if not plan.use_snapshot:
                    with timer.phase("load"):
                        migrate_on(conn)
                else:
                    head = read_head(conn)
                    if head.seq != plan.snapshot_seq or head.chain_hash != plan.full.chain_head:
                        raise IntegrityFailure(
                            f"snapshot of {plan.full.id} holds seq {head.seq}, manifest says"
                            f" {plan.snapshot_seq}"
                        )
                    migrate_on(conn)  # a snapshot of an earlier schema: bring it to head
                mark_loading(conn)
            with connect(repo.engine, write=True) as conn:
                _replay_into(conn, plan, fetched, key, timer, on_phase)
            # committed but still marked `loading`: the check reads the file from worker
            # processes too (the fingerprint), then the mark is cleared
            with connect(repo.engine) as conn:
                seq, chain, fp, expected = _check(
                    conn, plan, timer, on_phase, ReadSource(sqlite_file=str(tmp))
                )
            _record_restorer(repo, plan, actor)
        finally:
            repo.close()
        checkpoint_sqlite(tmp)
        # the swap, under the old file's writer lock: an active capture finishes first,
        # and one that waits for the lock meets the tombstone and records nothing
        with replacing_sqlite(path) as existing:
            guard.point = seq
            guard.check(existing, repo_id, redact(url))
            # renamed still marked, then unmarked in place: at no moment is there a
            # complete, unmarked repository anywhere but at the target path
            existing.swap(tmp)
        unmark_sqlite(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        for p in (Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            p.unlink(missing_ok=True)
    return RestoreResult(plan, redact(url), seq, chain, fp, expected, timer.phases, {}, [])


@dataclass
class TargetRule:
    """What a restore may do to a repository already at its target (``--force``).

    ``keep_newer``: refuse when the target holds records after the recovery point (they
    would be lost silently); without it — the point named with ``--at``/``--backup`` —
    the loss is accepted and counted in ``notes``. ``same_repository``: refuse when the
    target is another repository than the backup's (a restore of site B over site A's
    database replaces A's records with B's); naming the backup (``--backup``) confirms it.
    """

    point: int
    keep_newer: bool = True
    same_repository: bool = True
    notes: list[str] = field(default_factory=list)

    def check(self, existing: ExistingTarget, repo_id: str, where: str) -> None:
        if existing.head is None or existing.repository_id is None:
            return
        if existing.repository_id != repo_id:
            if self.same_repository:
                raise ConflictError(
                    f"{where} holds repository {existing.repository_id} (seq"
                    f" {existing.head.seq}); the backup is of repository {repo_id}: restoring"
                    " it there replaces one site's records with another's. Restore into a new"
                    " database, or name the backup with --backup to confirm"
                )
            self.notes.append(
                f"{where} held repository {existing.repository_id} (seq {existing.head.seq}),"
                f" replaced by repository {repo_id} as --backup named"
            )
            return
        if existing.head.seq <= self.point:
            return
        lost = existing.head.seq - self.point
        if self.keep_newer:
            raise OlderRecoveryPoint(
                f"{where} holds {lost} record(s) after the recovery point"
                f" (seq {self.point + 1}..{existing.head.seq}) that this restore would discard:"
                f" take `serialvault backup incr` first, or accept the loss explicitly with"
                f" --at {self.point}",
                available_seq=self.point,
            )
        self.notes.append(
            f"{where} held {lost} record(s) after the recovery point (seq {self.point + 1}.."
            f"{existing.head.seq}); discarded, as the recovery point was named"
        )


def _record_restorer(repo: Repository, plan: Plan, actor: Actor) -> None:
    """Name who restored in the restored log (found among the restored accounts when
    ``actor`` is a function), while the repository is still marked."""
    who = actor if isinstance(actor, str) else actor(repo)
    with connect(repo.engine, write=True) as conn:
        record_restored_from(conn, plan.chain[-1].id, who, now_utc())


def _restore_pg(
    plan: Plan,
    fetched: Fetched,
    url: str,
    key: EncryptionKey | None,
    timer: _Timer,
    force: bool,
    actor: Actor,
    on_phase: Phase,
    guard: TargetRule,
    repo_id: str,
) -> RestoreResult:
    engine = make_engine(url)
    try:
        # One transaction loads and replays, and marks the database `restore_state` as
        # it does: a restore interrupted before the commit leaves nothing, after it a
        # database that `Repository.open` refuses until the check below clears the mark.
        with connect(engine, write=True) as conn:
            with timer.phase("load"):
                if force:  # under the writer lock: no capture commits between check and drop
                    guard.check(existing_target(conn), repo_id, redact(url))
                    drop_repository(conn)
                migrate_on(conn)
                if plan.use_snapshot:
                    _load_pg_snapshot(conn, plan, fetched, key, timer, on_phase)
                mark_loading(conn)
            _replay_into(conn, plan, fetched, key, timer, on_phase)
        # committed, so worker processes can hash it while this one walks the chain
        with connect(engine) as conn:
            seq, chain, fp, expected = _check(conn, plan, timer, on_phase, ReadSource(url=url))
        who = actor if isinstance(actor, str) else actor(Repository(url))
        with connect(engine, write=True) as conn:
            record_restored_from(conn, plan.chain[-1].id, who, now_utc())
            clear_mark(conn)
    finally:
        engine.dispose()
    Repository(url).refresh_statistics()
    return RestoreResult(plan, redact(url), seq, chain, fp, expected, timer.phases, {}, [])


def _load_pg_snapshot(
    conn: Connection,
    plan: Plan,
    fetched: Fetched,
    key: EncryptionKey | None,
    timer: _Timer,
    on_phase: Phase,
) -> None:
    # As pg_restore does: load the rows into bare tables, build every index once after.
    parts: dict[str, list[tuple[int, ObjectRef]]] = {}
    for ref in plan.full.snapshot_objects:
        table, _, idx = (ref.part or "").partition(":")
        if table not in PG_SNAPSHOT_TABLES:
            raise IntegrityFailure(f"snapshot object {ref.name} names unknown table {table!r}")
        parts.setdefault(table, []).append((int(idx or 0), ref))
    done = 0

    def chunks(table: str) -> Iterator[bytes]:
        nonlocal done
        for _, ref in sorted(parts.get(table, []), key=lambda p: p[0]):
            plain = _open_snapshot_object(fetched, ref, key, timer)
            yield plain
            done += len(plain)
            on_phase("load", done, None)

    with pg_bulk_load(conn) as load:
        for table in PG_SNAPSHOT_TABLES:
            load.copy_in(table, chunks(table))
        # the log up to the snapshot travels as segments
        snap_plan = Plan(
            plan.copy, [plan.full], plan.full.last_seq, None, False, plan.target_engine
        )
        for batch in _records(snap_plan, fetched, key, timer):
            insert_log(conn, [r for r in batch if r.seq <= plan.snapshot_seq])
