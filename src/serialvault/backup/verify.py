"""Verifying a copy, and what it holds (the catalog).

Layers, as in Borg's ``check``, each reported as findings, never a bare bool, and never
repairing anything:

* **quick** — every manifest parses and carries a good signature; segments tile each
  backup's range; parents exist and continue the chain hash (no gap, no overlap); every
  object a manifest names is listed on the target with the size the manifest says.
* **full** — in addition, every object (or the ``--subset n/t`` share of them: objects
  whose name modulo ``t`` is ``n-1``) is read and hashed against its name; with the key,
  decrypted, decompressed, and each segment's records chain-checked.

Each run leaves a signed check record on the copy (``checks/…``: when, which subset,
which objects, which backups the copy held), so that ``--subset 1/7 … 7/7`` run on seven
days provably covers every object (EU GMP Annex 11 §7.2: integrity of backup data
monitored periodically).

Across copies and time (:func:`verify_copies`), as borg's ``check`` compares a repository
with its cached manifest: a copy lacking a backup that some signed source says it held —
its own checkpoints, its earlier check records, another copy's checkpoint naming it, the
witness file — and that no signed prune record removed, has been **rolled back** (or
damaged); a copy holding backups of two repositories **mixes** them; two copies whose
backups disagree on the chain hash of one seq hold two **histories** (a fork).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from serialvault.backup.anchors import (
    CHECK_FORMAT,
    CHECKS,
    CopyView,
    History,
    Witness,
    gather,
    read_view,
    stamp,
)
from serialvault.backup.copies import Copy, read_manifests
from serialvault.backup.crypto import EncryptionKey, SigningKey, VerifyKey, unseal
from serialvault.backup.manifest import Finding, Manifest, ObjectRef, analyse, object_path
from serialvault.backup.objects import CopyState
from serialvault.backup.segments import check_chain, decode
from serialvault.epcis.jsonparse import unique
from serialvault.errors import BackupError, IntegrityFailure, KeyProblem, SerialvaultError
from serialvault.store.repository import Head
from serialvault.timefmt import now_utc, parse_timestamp


def parse_subset(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        n, t = (int(x) for x in text.split("/"))
    except ValueError:
        raise BackupError(f"--subset {text!r}: use n/t, e.g. 1/7") from None
    if not 1 <= n <= t:
        raise BackupError(f"--subset {text!r}: n must be between 1 and t")
    return n, t


def in_subset(name: str, subset: tuple[int, int] | None) -> bool:
    return subset is None or int(name[:15], 16) % subset[1] == subset[0] - 1


@dataclass
class VerifyReport:
    copy: str
    url: str
    mode: str
    subset: tuple[int, int] | None
    backups: int = 0
    objects: int = 0
    objects_read: int = 0
    bytes_read: int = 0
    decrypted: bool = False
    findings: list[Finding] = field(default_factory=list)
    coverage: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    check_record: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "copy": self.copy,
            "url": self.url,
            "ok": self.ok,
            "mode": self.mode,
            "subset": f"{self.subset[0]}/{self.subset[1]}" if self.subset else None,
            "backups": self.backups,
            "objects": self.objects,
            "objects_read": self.objects_read,
            "bytes_read": self.bytes_read,
            "contents_checked": self.decrypted,
            "findings": [f.to_dict() for f in self.findings],
            "coverage": self.coverage,
            "check_record": self.check_record,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }


def verify_copies(
    copies: list[Copy],
    verify_key: VerifyKey,
    *,
    key: EncryptionKey | None = None,
    signer: SigningKey | None = None,
    full: bool = False,
    subset: tuple[int, int] | None = None,
    witnesses: list[Witness] | None = None,
    state_dir: Path | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> list[VerifyReport]:
    """Verify each copy, then compare the copies with each other, with their own earlier
    check records and checkpoints, and with the witness: rollback, mixing, forks."""
    states = [c.open() for c in copies]
    history = gather(states, verify_key, witnesses or [], state_dir)
    views = {v.name: v for v in history.views}
    reports: list[VerifyReport] = []
    for c, st in zip(copies, states, strict=True):
        view = views.get(st.name)
        if view is None:
            rep = VerifyReport(c.name, st.target.url, "full" if full or subset else "quick", subset)
            rep.findings.append(
                Finding("unreachable", st.error or "the copy cannot be read", c.name)
            )
            reports.append(rep)
            continue

        def tick(done: int, total: int, name: str = c.name) -> None:
            if on_progress:
                on_progress(name, done, total)

        rep = _verify_view(
            view,
            verify_key,
            key=key,
            signer=signer,
            full=full,
            subset=subset,
            on_progress=tick,
            history=history,
        )
        if view.empty:
            rep.findings.append(
                Finding(
                    "empty-copy",
                    "the copy holds no backup, checkpoint or check record at all: a folder"
                    " not mounted or a wrong prefix? It proves nothing",
                    c.name,
                )
            )
        reports.append(rep)
    for p in history.problems:
        if p.startswith("witness"):
            for r in reports:
                r.findings.append(Finding("bad-witness", p, r.copy))
    return reports


#: Findings that say a copy could not be used at all (exit 10), not that it is damaged.
UNUSABLE = frozenset({"unreachable", "empty-copy"})


def exit_code(reports: list[VerifyReport]) -> int:
    """8 when any copy shows damage, a rollback or a fork; else 10 when a copy could not
    be used at all; else 0."""
    codes = {f.code for r in reports for f in r.findings}
    if codes - UNUSABLE:
        return IntegrityFailure.exit_code
    return BackupError.exit_code if codes else 0


def cross_findings(view: CopyView, history: History) -> tuple[list[Finding], list[str]]:
    """What comparing this copy with the others, its past and the witness shows."""
    out: list[Finding] = []
    notes: list[str] = []
    for s in history.lost(view):
        out.append(
            Finding(
                "rollback",
                f"backup {s.backup} (seq {s.seq}) is no longer on this copy, but {s.where}"
                " shows it was written here and no prune record removed it: the copy was"
                " rolled back or lost objects",
                view.name,
                s.backup,
            )
        )
    repos = sorted(view.repositories)
    if len(repos) > 1:
        out.append(
            Finding(
                "mixed-repositories",
                f"this copy holds backups of {len(repos)} repositories ({', '.join(repos)}):"
                " a restore must name one with --backup",
                view.name,
            )
        )
    for repo in repos:
        for a, b in history.forks(repo):
            if view.name in (a.where + b.where):
                out.append(
                    Finding(
                        "fork",
                        f"seq {a.seq} has chain hash {a.chain_hash} in {a.where}"
                        f" (backup {a.backup}) but {b.chain_hash} in {b.where}"
                        f" (backup {b.backup}): two histories of one repository",
                        view.name,
                        b.backup,
                    )
                )
        newest_here = max(
            (m.last_seq for m in view.manifests if m.repository_id == repo), default=0
        )
        best = history.newest_known(repo)
        if (
            best is not None
            and best.seq > newest_here
            and not any(f.code == "rollback" for f in out)
        ):
            notes.append(
                f"behind: the newest backup of repository {repo} here ends at seq"
                f" {newest_here}; {best.where} has seq {best.seq}"
            )
    return out, notes


def verify_copy(
    copy: Copy,
    verify_key: VerifyKey,
    *,
    key: EncryptionKey | None = None,
    signer: SigningKey | None = None,
    full: bool = False,
    subset: tuple[int, int] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """One copy on its own (its own checkpoints and check records included)."""
    state = copy.open()
    view = read_view(state, verify_key)
    return _verify_view(
        view,
        verify_key,
        key=key,
        signer=signer,
        full=full,
        subset=subset,
        on_progress=on_progress,
        history=History([view]),
    )


def _verify_view(
    view: CopyView,
    verify_key: VerifyKey,
    *,
    key: EncryptionKey | None,
    signer: SigningKey | None,
    full: bool,
    subset: tuple[int, int] | None,
    on_progress: Callable[[int, int], None] | None,
    history: History,
) -> VerifyReport:
    t0 = time.perf_counter()
    state = view.state
    copy = view
    report = VerifyReport(
        view.name, state.target.url, "full" if full or subset else "quick", subset
    )
    manifests = view.manifests
    report.findings += view.findings
    report.findings += analyse(manifests, copy.name)
    cross, notes = cross_findings(view, history)
    report.findings += cross
    report.notes += notes
    report.backups = len(manifests)
    listed = {o.name: o.size for o in state.target.list("objects/")}
    needed: dict[str, tuple[int, Manifest]] = {}
    for m in manifests:
        for o in m.objects:
            needed.setdefault(o.name, (o.size, m))
            where = object_path(o.name)
            if where not in listed:
                report.findings.append(
                    Finding(
                        "missing-object",
                        f"object {o.name} ({o.kind}) is missing",
                        copy.name,
                        m.id,
                        o.name,
                    )
                )
            elif listed[where] != o.size:
                report.findings.append(
                    Finding(
                        "size-mismatch",
                        f"object {o.name} has {listed[where]} bytes, the manifest says {o.size}",
                        copy.name,
                        m.id,
                        o.name,
                    )
                )
    report.objects = len(needed)
    checked: set[str] = set()
    if full or subset:
        report.decrypted = key is not None or all(m.encryption is None for m in manifests)
        todo = list(manifests)
        total = sum(1 for n in needed if in_subset(n, subset))
        for m in todo:
            _verify_backup(state, m, key, subset, report, checked, listed, on_progress, total)
    report.seconds = time.perf_counter() - t0
    if view.manifests or view.unreadable:
        report.check_record = _record_check(state, report, checked, signer, manifests)
    else:  # a copy holding no backup: a check record would make an unmounted share look used
        report.notes.append("no check record left: the copy holds no backup")
    if full or subset:
        report.coverage = coverage(state, verify_key, set(needed), subset)
    return report


def _verify_backup(
    state: CopyState,
    m: Manifest,
    key: EncryptionKey | None,
    subset: tuple[int, int] | None,
    report: VerifyReport,
    checked: set[str],
    listed: dict[str, int],
    on_progress: Callable[[int, int], None] | None,
    total: int,
) -> None:
    """Read, hash, size-check, decrypt and chain-check the objects of one backup that
    fall in ``subset`` (each object once per run: ``checked``); findings, never a stop."""
    prev: str | None = m.prev_chain
    can_open = m.encryption is None or key is not None
    for o in [*m.snapshot_objects, *m.segments]:
        if not in_subset(o.name, subset) or object_path(o.name) not in listed:
            prev = None
            continue
        if o.name in checked:
            continue
        try:
            data = state.target.get(object_path(o.name))
        except SerialvaultError as exc:
            report.findings.append(Finding("unreadable-object", str(exc), state.name, m.id, o.name))
            prev = None
            continue
        checked.add(o.name)
        report.objects_read += 1
        report.bytes_read += len(data)
        if on_progress:
            on_progress(report.objects_read, total)
        digest = hashlib.sha256(data).hexdigest()
        if digest != o.name:
            report.findings.append(
                Finding(
                    "hash-mismatch",
                    f"object {o.name} ({o.kind}) hashes to {digest} ({len(data)} bytes):"
                    " its content was altered",
                    state.name,
                    m.id,
                    o.name,
                )
            )
            prev = None
            continue
        if len(data) != o.size:  # the bytes are what the name says; the manifest is not
            report.findings.append(
                Finding(
                    "size-mismatch",
                    f"object {o.name} ({o.kind}) is intact ({len(data)} bytes, its SHA-256"
                    f" is its name) but backup {m.id} says {o.size} bytes",
                    state.name,
                    m.id,
                    o.name,
                )
            )
        if not can_open:
            continue
        try:
            plain = unseal(data, key, name=f"object {o.name}")
            if o.kind == "segment":
                prev = _segment_chain(plain, o, m, prev)
        except KeyProblem as exc:
            report.findings.append(Finding("wrong-key", str(exc), state.name, m.id, o.name))
            can_open = False
        except IntegrityFailure as exc:
            report.findings.append(Finding("bad-content", str(exc), state.name, m.id, o.name))
            prev = None


def _segment_chain(plain: bytes, o: ObjectRef, m: Manifest, prev: str | None) -> str:
    """Decode a segment and check its records continue the chain from ``prev`` (from its
    own first record when the object before it was not read); its chain hash at the end."""
    recs = decode(plain, f"segment {o.name}")
    if recs[0].seq != o.first_seq or recs[-1].seq != o.last_seq:
        raise IntegrityFailure(
            f"segment {o.name} holds seq {recs[0].seq}..{recs[-1].seq},"
            f" the manifest says {o.first_seq}..{o.last_seq}"
        )
    if prev is None:
        check_chain(recs[1:], recs[0].chain_hash, f"segment {o.name}")
    else:
        check_chain(recs, prev, f"segment {o.name}")
    end = recs[-1].chain_hash
    if o.last_seq == m.last_seq and end != m.chain_head:
        raise IntegrityFailure(
            f"segment {o.name} ends with chain hash {end}, the manifest with {m.chain_head}"
        )
    return end


def _record_check(
    state: CopyState,
    report: VerifyReport,
    checked: set[str],
    signer: SigningKey | None,
    manifests: list[Manifest],
) -> str | None:
    """The signed check record: what was read, what was found, which backups were here
    (so a later run can tell a backup that disappeared)."""
    if signer is None:
        return None  # an unsigned record would prove nothing and could be forged
    at = now_utc()
    doc: dict[str, Any] = {
        "format": CHECK_FORMAT,
        "copy": state.name,
        "checked_at": at,
        "mode": report.mode,
        "subset": list(report.subset) if report.subset else None,
        "contents_checked": report.decrypted,
        "objects": sorted(checked),
        "findings": [f.to_dict() for f in report.findings],
        "backups": {
            m.id: {"repository_id": m.repository_id, "seq": m.last_seq, "chain_head": m.chain_head}
            for m in manifests
        },
    }
    doc = signer.sign(doc)
    sub = f"{report.subset[0]}of{report.subset[1]}" if report.subset else "all"
    if report.mode == "quick":
        sub = "quick"
    name = f"{CHECKS}{stamp(at)}-{sub}.json"
    try:
        state.target.put(name, orjson.dumps(doc))
    except SerialvaultError:
        return None
    return name


def coverage(
    state: CopyState, verify_key: VerifyKey, objects: set[str], subset: tuple[int, int] | None
) -> dict[str, Any]:
    """Which objects the newest clean check of each share has read, and since when."""
    t = subset[1] if subset else 1
    latest: dict[int, dict[str, Any]] = {}
    for info in state.target.list("checks/"):
        try:
            doc = unique(state.target.get(info.name))
        except (ValueError, SerialvaultError):
            continue
        if not isinstance(doc, dict) or doc.get("format") != CHECK_FORMAT:
            continue
        if doc.get("mode") == "quick":
            continue  # a quick check reads no object
        if verify_key.check(doc) is not None or doc.get("findings"):
            continue
        sub = doc.get("subset") or [1, 1]
        if sub[1] != t and not (t == 1 and doc.get("subset") is None):
            continue
        n = int(sub[0])
        if n not in latest or doc["checked_at"] > latest[n]["checked_at"]:
            latest[n] = doc
    seen: set[str] = set()
    for doc in latest.values():
        seen.update(doc.get("objects", []))
    missing_shares = [n for n in range(1, t + 1) if n not in latest]
    unverified = objects - seen
    oldest = min((d["checked_at"] for d in latest.values()), default=None)
    return {
        "shares": t,
        "shares_checked": sorted(latest),
        "shares_missing": missing_shares,
        "objects": len(objects),
        "objects_unverified": len(unverified),
        "complete": not missing_shares and not unverified,
        "all_verified_since": oldest if not missing_shares and not unverified else None,
    }


# --------------------------------------------------------------------------- catalog


def _age_s(stamp: str | None, now: str) -> float | None:
    if not stamp:
        return None
    return (parse_timestamp(now) - parse_timestamp(stamp)).total_seconds()


def catalog(
    copy: Copy,
    verify_key: VerifyKey | None,
    head: Head | None,
    time_of: Callable[[int], str | None] | None = None,
) -> dict[str, Any]:
    """Chains, sizes and ages of one copy, and the RPO exposure against ``head``.

    The exposure is what losing the repository now would lose: the records after the
    copy's newest backed-up one, and (with ``time_of``, the repository's record times)
    the age of the oldest of them — the lag of the copy.
    """
    state = copy.open()
    manifests, bad = read_manifests(state, verify_key)
    now = now_utc()
    chains: dict[str, list[Manifest]] = {}
    for m in manifests:
        chains.setdefault(m.chain, []).append(m)
    newest = max(manifests, key=lambda m: (m.last_seq, m.created_at), default=None)
    exposure: dict[str, Any] | None = None
    if head is not None:
        if newest is None:
            exposure = {"records": head.seq, "seconds": None, "newest_backed_up_seq": 0}
        else:
            lag_s = 0.0
            if head.seq > newest.last_seq:
                first = time_of(newest.last_seq + 1) if time_of else newest.last_time
                lag_s = max(0.0, _age_s(first, now) or 0.0)
            exposure = {
                "records": max(0, head.seq - newest.last_seq),
                "seconds": round(lag_s, 3),
                "newest_backed_up_seq": newest.last_seq,
                "newest_backed_up_at": newest.last_time,
                "head_seq": head.seq,
            }
    problems = [f.to_dict() for f in bad]
    if not manifests:
        problems.append(
            Finding(
                "empty-copy",
                "the copy holds no usable backup (a folder not mounted, a wrong prefix?)",
                copy.name,
            ).to_dict()
        )
    return {
        "copy": copy.name,
        "url": state.target.url,
        "backups": len(manifests),
        "bytes_stored": sum(m.stored_bytes for m in manifests),
        "problems": problems,
        "rpo_exposure": exposure,
        "chains": [
            {
                "full": ms[0].id,
                "backups": [
                    {
                        "id": m.id,
                        "type": m.type,
                        "parent": m.parent,
                        "seq": [m.first_seq, m.last_seq],
                        "time": [m.first_time, m.last_time],
                        "records": m.records,
                        "bytes_stored": m.stored_bytes,
                        "created_at": m.created_at,
                        "age_s": round(_age_s(m.created_at, now) or 0.0, 1),
                        "encrypted": m.encryption is not None,
                    }
                    for m in sorted(ms, key=lambda x: x.first_seq)
                ],
                "bytes_stored": sum(m.stored_bytes for m in ms),
            }
            for _, ms in sorted(chains.items())
        ],
    }
