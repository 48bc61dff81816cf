"""What a backup checks before it certifies anything: the log it ships is intact.

A backup is a statement — signed — that the repository held this history. It must never
certify a broken or a forked log (DESIGN.md "Security", trust anchors; 21 CFR 11.10(a):
the ability to discern altered records). So, while a backup reads the records it ships:

* the **hash chain** is recomputed from the last point already proven: from genesis for
  a full (it reads the whole log anyway), from the parent's chain head for an
  incremental — so the check costs what the shipment costs, not the repository;
* every **anchor** — a chain head an earlier backup recorded (manifests on the copies,
  checkpoints in the witness file) — is compared as the walk passes its seq; one the log
  disagrees with is a fork (history rewritten with fresh hashes), one beyond the log's
  end a truncation.

Either refuses the backup before its manifest is written, names the first seq where the
log and the backup differ (found by reading the backup's own segments), and opens an
exception in the repository. An operator who *meant* to abandon a history (a restore to a
point before a bad change) says so once: ``backup full --new-timeline --reason …`` writes
a ``backup.timeline`` record listing the anchors it abandons, and later checks skip them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from serialvault.backup.anchors import Checkpoint, CopyView, Witness, heads_of
from serialvault.backup.crypto import EncryptionKey, VerifyKey, unseal
from serialvault.backup.manifest import Manifest, lineage, object_path
from serialvault.backup.objects import CopyState
from serialvault.backup.segments import decode
from serialvault.domain.chain import GENESIS, Anchor, AnchorCheck, ChainVerifier, LogRecord
from serialvault.domain.records import TIMELINE
from serialvault.errors import IntegrityFailure, SerialvaultError
from serialvault.store.exceptions import open_exception
from serialvault.store.repository import Repository, iter_log, records_of_kind


@dataclass
class Anchors:
    """Chain heads recorded outside the database, with the backup each came from."""

    anchors: list[Anchor] = field(default_factory=list)
    backup_of: dict[tuple[int, str], str] = field(default_factory=dict)

    def add(self, seq: int, chain: str, source: str, backup: str | None) -> None:
        if (seq, chain) in self.backup_of:
            return
        self.anchors.append(Anchor(seq, chain, source))
        self.backup_of[(seq, chain)] = backup or ""

    def without(self, abandoned: set[tuple[int, str]]) -> Anchors:
        out = Anchors()
        for a in self.anchors:
            if (a.seq, a.chain_hash) not in abandoned:
                out.add(a.seq, a.chain_hash, a.source, self.backup_of.get((a.seq, a.chain_hash)))
        return out


def abandoned(conn: Any, verify: VerifyKey | None) -> tuple[set[tuple[int, str]], list[str]]:
    """Anchors that ``backup.timeline`` records in this log abandoned on purpose, and the
    records not honoured. A record abandons anchors only when it is signed with the
    trusted key: write access to the database alone must not switch the anchors off."""
    out: set[tuple[int, str]] = set()
    refused: list[str] = []
    for rec in records_of_kind(conn, TIMELINE):
        body = orjson.loads(rec.body)
        problem = "no key to check it with" if verify is None else verify.check(body)
        if problem is not None:
            refused.append(
                f"the backup.timeline record at seq {rec.seq} is not honoured ({problem}):"
                " only a new timeline signed with the backup signing key abandons anchors"
            )
            continue
        for a in body.get("abandoned", []):
            out.add((int(a["seq"]), str(a["chain_hash"])))
    return out, refused


def collect(
    manifests: dict[str, list[Manifest]],
    repository_id: str,
    witness: Witness | None,
    verify: VerifyKey,
    *,
    whole_witness: bool,
    checkpoints: dict[str, list[Checkpoint]] | None = None,
    heads: Iterable[tuple[int, str, str, str]] = (),
) -> tuple[Anchors, list[str]]:
    """Anchors of one repository: every manifest and checkpoint of the copies (copy name
    → manifests, checkpoints) and the witness (whole for a full, its newest line for an
    incremental). A checkpoint counts where its backup's manifest is gone or damaged."""
    out = Anchors()
    problems: list[str] = []
    for copy, ms in manifests.items():
        for m in ms:
            if m.repository_id == repository_id:
                out.add(m.last_seq, m.chain_head, f"backup {m.id} on copy {copy}", m.id)
    for copy, cps in (checkpoints or {}).items():
        for c in cps:
            if c.repository_id == repository_id:
                out.add(c.seq, c.chain_hash, f"checkpoint of {c.backup} on copy {copy}", c.backup)
    for seq, head, where, backup in heads:  # signed check records (already filtered)
        out.add(seq, head, f"backup {backup} in the {where}", backup)
    if witness is not None:
        try:
            if whole_witness:
                entries, bad = witness.entries(verify, {repository_id})
                problems += bad
            else:
                newest = witness.newest(verify, repository_id)
                entries = [newest] if newest else []
        except SerialvaultError as exc:
            problems.append(str(exc))
            entries = []
        for c in entries:
            if c.repository_id == repository_id:
                out.add(
                    c.seq, c.chain_hash, f"the witness checkpoint of backup {c.backup}", c.backup
                )
    return out, problems


class Refused(Exception):
    """The log a backup was reading does not verify (raised inside the read)."""

    def __init__(
        self, kind: str, seq: int, message: str, anchor: Anchor | None = None, since: int = 0
    ) -> None:
        super().__init__(message)
        self.kind = kind  # chain-break | fork | truncated
        self.seq = seq
        self.message = message
        self.anchor = anchor
        self.since = since


class LogGuard:
    """Fed each record a backup ships; raises :class:`Refused` at the first problem."""

    def __init__(self, prev_seq: int, prev_chain: str, anchors: Anchors) -> None:
        self.chain = ChainVerifier(prev_seq, prev_chain)
        self.check = AnchorCheck(anchors.anchors)
        self.start = prev_seq

    def feed(self, rec: LogRecord) -> None:
        brk = self.chain.feed(rec)
        if brk is not None:
            raise Refused("chain-break", brk.seq, f"the log's hash chain is broken at {brk}")
        self.check.feed(rec.seq, rec.chain_hash)
        if self.check.mismatch is not None:
            report = self.check.finish(rec.seq)
            since = report.newest_agreeing.seq if report.newest_agreeing else 0
            raise Refused("fork", rec.seq, str(report.problem(rec.seq)), self.check.mismatch, since)

    def finish(self, head_seq: int) -> None:
        report = self.check.finish(head_seq)
        if report.truncated is not None:
            raise Refused(
                "truncated",
                head_seq + 1,
                str(report.problem(head_seq)),
                report.truncated,
                head_seq,
            )


def _segment_records(
    states: list[CopyState],
    backup: str,
    lo: int,
    hi: int,
    key: EncryptionKey | None,
    verify: VerifyKey,
) -> dict[int, LogRecord]:
    """Records ``lo < seq <= hi`` as backup ``backup`` holds them (from any copy)."""
    from serialvault.backup.copies import read_manifests

    for st in states:
        try:
            ms, _ = read_manifests(st, verify)
            by_id = {m.id: m for m in ms}
            if backup not in by_id:
                continue
            out: dict[int, LogRecord] = {}
            for m in lineage(by_id, by_id[backup]):
                for seg in m.segments:
                    if (seg.last_seq or 0) <= lo or (seg.first_seq or 0) > hi:
                        continue
                    data = st.target.get(object_path(seg.name))
                    if hashlib.sha256(data).hexdigest() != seg.name:
                        raise IntegrityFailure(f"segment {seg.name} is damaged")
                    for r in decode(unseal(data, key, name=f"segment {seg.name}"), seg.name):
                        if lo < r.seq <= hi:
                            out[r.seq] = r
            return out
        except SerialvaultError:
            continue
    return {}


def first_difference(
    repo: Repository,
    states: list[CopyState],
    backup: str,
    lo: int,
    hi: int,
    key: EncryptionKey | None,
    verify: VerifyKey,
) -> str | None:
    """The first record after ``lo`` where the live log and backup ``backup`` differ,
    with what differs; ``None`` when the backup's records cannot be read."""
    theirs = _segment_records(states, backup, lo, hi, key, verify)
    if not theirs:
        return None
    with repo.read() as conn:
        for ours in iter_log(conn, lo + 1, hi):
            b = theirs.get(ours.seq)
            if b is None:
                return None
            fields = [
                f
                for f in ("recorded_at", "kind", "actor", "reason", "body_hash")
                if getattr(ours, f) != getattr(b, f)
            ]
            if fields:
                detail = ", ".join(
                    f"{f} {getattr(b, f)!r} in the backup, {getattr(ours, f)!r} in the log"
                    for f in fields
                    if f != "body_hash"
                )
                if "body_hash" in fields:
                    detail = (detail + ", " if detail else "") + "the body differs"
                return f"seq {ours.seq}: {detail}"
            if ours.chain_hash != b.chain_hash:
                return f"seq {ours.seq}: the chain hash differs"
    return None


def refuse(
    repo: Repository,
    refused: Refused,
    anchors: Anchors,
    *,
    states: list[CopyState],
    key: EncryptionKey | None,
    verify: VerifyKey,
    actor: str,
    what: str,
) -> IntegrityFailure:
    """Name the first differing record, open (or link to) an exception, and return the
    error the backup is refused with."""
    located = None
    if refused.kind in ("fork", "truncated") and refused.anchor is not None:
        backup = anchors.backup_of.get((refused.anchor.seq, refused.anchor.chain_hash))
        if backup:
            located = first_difference(
                repo, states, backup, refused.since, refused.anchor.seq, key, verify
            )
    message = f"{what} refused: {refused.message}"
    if located:
        message += f"; first difference at {located}"
    if refused.kind != "chain-break":
        message += (
            ". If a restore to an earlier point replaced this history on purpose, take"
            " `serialvault backup full --new-timeline --reason …` once"
        )
    try:
        seq, _new = open_exception(
            repo,
            source="backup",
            type="log-integrity",
            severity="critical",
            reason=message,
            identifiers=[f"seq {refused.seq}"],
            actor=actor,
            why=f"{what} refused: the log does not verify",
        )
        message += f" (exception seq {seq})"
    except SerialvaultError as exc:
        message += f" (the exception could not be recorded: {exc})"
    return IntegrityFailure(message)


def timeline_body(repo: Repository, anchors: Anchors) -> dict[str, Any] | None:
    """The anchors the live log disagrees with or ends before — what a new timeline
    abandons — or ``None`` when it agrees with all of them."""
    from serialvault.store.repository import chain_hash_at, read_head

    gone: list[dict[str, Any]] = []
    with repo.read() as conn:
        head = read_head(conn)
        agree = 0
        for a in sorted(anchors.anchors, key=lambda x: x.seq):
            here = chain_hash_at(conn, a.seq) if a.seq <= head.seq else None
            if here == a.chain_hash:
                agree = max(agree, a.seq)
            else:
                gone.append({"seq": a.seq, "chain_hash": a.chain_hash, "source": a.source})
    if not gone:
        return None
    return {
        "abandoned": gone,
        "agrees_up_to_seq": agree,
        "head_seq": head.seq,
        "head_chain": head.chain_hash if head.seq else GENESIS,
    }


@dataclass
class AnchoredAudit:
    """``audit verify``: the chain from genesis and the anchors it was compared with."""

    audit: Any  # store.integrity.AuditResult
    sources: list[str]
    problems: list[str]  # a bad witness line, an unsigned timeline record: findings
    unanchored_reason: str | None
    first_difference: str | None = None
    #: what is wrong on the copies (unreachable, junk or damaged files): `backup verify`'s
    #: findings, shown here, but not a verdict on the audit trail
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.audit.ok) and not self.problems

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.audit.to_dict())
        d.update(
            {
                "ok": self.ok,
                "anchor_sources": self.sources,
                "anchor_problems": self.problems,
                "copy_notes": self.notes,
                "unanchored_reason": self.unanchored_reason,
                "first_difference": self.first_difference,
            }
        )
        return d


def _copy_anchors(v: CopyView, rid: str, anchors: Anchors) -> int:
    """Add the heads a copy records for repository ``rid`` — manifests, checkpoints,
    signed check records — to ``anchors``; how many."""
    n = 0
    for m in v.manifests:
        if m.repository_id == rid:
            anchors.add(m.last_seq, m.chain_head, f"backup {m.id} on copy {v.name}", m.id)
            n += 1
    for c in v.checkpoints:
        if c.repository_id == rid:
            anchors.add(c.seq, c.chain_hash, f"checkpoint of {c.backup} on copy {v.name}", c.backup)
            n += 1
    for seq, head, where, held in heads_of(v.check_records, f"check record of copy {v.name}", rid):
        anchors.add(seq, head, f"backup {held} in the {where}", held)
        n += 1
    return n


def audit_log(
    repo: Repository,
    *,
    verify: VerifyKey | None,
    witness: Witness | None,
    states: list[CopyState],
    key: EncryptionKey | None = None,
    on_progress: Any = None,
) -> AnchoredAudit:
    """Walk the chain from genesis and compare it with every reachable anchor: the
    witness file beside the repository and the manifests and checkpoints on the copies.

    Without a public key nothing outside the database can be trusted, and the result
    says so (``unanchored_reason``) rather than implying a check that did not happen.
    """
    from serialvault.backup.anchors import gather
    from serialvault.store.integrity import verify_chain

    rid = repo.meta().get("repository_id", "")
    sources: list[str] = []
    problems: list[str] = []
    notes: list[str] = []
    anchors = Anchors()
    reason: str | None = None
    if verify is None:
        reason = (
            "no public key to check checkpoints with (--public-key or the policy's keys):"
            " truncation or a rewrite with recomputed hashes cannot be excluded"
        )
    else:
        hist = gather(states, verify, [witness] if witness and witness.path.is_file() else [])
        notes += [p for p in hist.problems if p.startswith("copy ")]
        problems += [p for p in hist.problems if not p.startswith("copy ")]  # the witness
        for v in hist.views:
            notes += [str(f) for f in v.findings]
            if v.empty:
                notes.append(f"copy {v.name} holds nothing: no anchor could be read from it")
            sources.append(f"copy {v.name}: {_copy_anchors(v, rid, anchors)} anchor(s)")
        w = [c for c in hist.witness if c.repository_id == rid]
        for c in w:
            anchors.add(
                c.seq, c.chain_hash, f"the witness checkpoint of backup {c.backup}", c.backup
            )
        if witness is not None:
            sources.append(f"witness {witness.path}: {len(w)} checkpoint(s)")
        with repo.read() as conn:
            gone, refused = abandoned(conn, verify)
        anchors = anchors.without(gone)
        problems += refused
        if not anchors.anchors:
            reason = (
                "no checkpoint reachable (no backup yet, no witness file, no copy): truncation"
                " or a rewrite with recomputed hashes cannot be excluded"
            )
    with repo.read() as conn:
        res = verify_chain(conn, on_progress, anchors.anchors if verify is not None else None)
    out = AnchoredAudit(res, sources, problems, reason, notes=notes)
    report = res.anchors
    if report is not None and report.mismatch is not None:
        backup = anchors.backup_of.get((report.mismatch.seq, report.mismatch.chain_hash))
        since = report.newest_agreeing.seq if report.newest_agreeing else 0
        if backup:
            out.first_difference = first_difference(
                repo,
                states,
                backup,
                since,
                report.mismatch.seq,
                key,
                verify,  # type: ignore[arg-type]
            )
    return out
