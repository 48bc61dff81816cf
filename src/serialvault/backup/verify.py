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
which objects), so that ``--subset 1/7 … 7/7`` run on seven days provably covers every
object (EU GMP Annex 11 §7.2: integrity of backup data monitored periodically).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from serialvault.backup.crypto import EncryptionKey, SigningKey, VerifyKey, unseal
from serialvault.backup.manifest import Finding, Manifest, analyse, object_path
from serialvault.backup.objects import CopyState
from serialvault.backup.segments import check_chain, decode
from serialvault.backup.service import Copy, read_manifests
from serialvault.errors import BackupError, IntegrityFailure, KeyProblem, SerialvaultError
from serialvault.store.repository import Head
from serialvault.timefmt import now_utc, parse_timestamp

CHECK_FORMAT = "serialvault.check/1"


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
            "seconds": round(self.seconds, 3),
        }


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
    t0 = time.perf_counter()
    state = copy.open()
    report = VerifyReport(
        copy.name, state.target.url, "full" if full or subset else "quick", subset
    )
    manifests, bad = read_manifests(state, verify_key)
    report.findings += bad
    report.findings += analyse(manifests, copy.name)
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
    if full or subset:
        report.check_record = _record_check(state, report, checked, signer)
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
        if digest != o.name or len(data) != o.size:
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
        if not can_open:
            continue
        try:
            plain = unseal(data, key, name=f"object {o.name}")
            if o.kind == "segment":
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
                prev = recs[-1].chain_hash
                if o.last_seq == m.last_seq and prev != m.chain_head:
                    raise IntegrityFailure(
                        f"segment {o.name} ends with chain hash {prev}, the manifest with"
                        f" {m.chain_head}"
                    )
        except KeyProblem as exc:
            report.findings.append(Finding("wrong-key", str(exc), state.name, m.id, o.name))
            can_open = False
        except IntegrityFailure as exc:
            report.findings.append(Finding("bad-content", str(exc), state.name, m.id, o.name))
            prev = None


def _record_check(
    state: CopyState, report: VerifyReport, checked: set[str], signer: SigningKey | None
) -> str | None:
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
    }
    if signer is not None:
        doc = signer.sign(doc)
    sub = f"{report.subset[0]}of{report.subset[1]}" if report.subset else "all"
    name = f"checks/{at.replace(':', '').replace('-', '').replace('.', '')}-{sub}.json"
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
            doc = orjson.loads(state.target.get(info.name))
        except (orjson.JSONDecodeError, SerialvaultError):
            continue
        if not isinstance(doc, dict) or doc.get("format") != CHECK_FORMAT:
            continue
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
    return {
        "copy": copy.name,
        "url": state.target.url,
        "backups": len(manifests),
        "bytes_stored": sum(m.stored_bytes for m in manifests),
        "problems": [f.to_dict() for f in bad],
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
