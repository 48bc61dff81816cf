"""``inspection pack``: a period's quality records in one signed package.

What an inspector asks for first (EU GMP Annex 11 §7.1 backups checked, §9 audit trails
reviewed, §10 change control, §11 periodic review of access, §13 incidents; 21 CFR
11.10(b) complete copies): the drill register with each drill's signed evidence, the
audit-trail and access reviews with their signatures verified, the exceptions and CAPAs
(opened in the period, and any still open), the master-data change history, the backup
catalog with a verification run now, and the hash chain checked from genesis. Every
signature in it is verified while the pack is written and the result is in the pack;
what could not be verified or found is listed first, as a finding, never left out.

The pack is signed with the backup signing key like a drill's evidence, so whoever has
only the zip and the public key checks it with ``evidence verify``; its making is a log
record (``inspection.pack``) with the SHA-256 of its checksums.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from serialvault.app import capa as capa_app
from serialvault.app import changes as changes_app
from serialvault.app import exceptions as ex_app
from serialvault.app.backup import BackupOptions, catalog, verify_copies
from serialvault.app.context import open_as
from serialvault.app.repository import audit_verify
from serialvault.app.reviews import verify_review
from serialvault.app.signatures import signatures_of
from serialvault.backup.crypto import VerifyKey, load_verify_key
from serialvault.domain import capa as capa_rules
from serialvault.domain import exceptions as ex_rules
from serialvault.domain.access import Action
from serialvault.domain.records import INSPECTION_PACK, REVIEW_ACCESS, REVIEW_AUDIT
from serialvault.drill.evidence import verify_package
from serialvault.drill.register import drill_runs
from serialvault.errors import ConflictError, SerialvaultError, UsageError
from serialvault.redact import redact_url
from serialvault.settings import Settings
from serialvault.store import identity as ids
from serialvault.store.repository import Repository, records_of_kind
from serialvault.timefmt import normalize_timestamp, now_utc, parse_timestamp, utc_iso

#: What the index page lists of a section (the section's JSON file holds every item).
SHOWN = 200


def period(start: str, end: str) -> tuple[str, str]:
    """``--from``/``--to`` as UTC times; a date alone is its whole day (``--to`` the
    end of it), so ``--from 2026-12-01 --to 2026-12-31`` is December."""

    def when(text: str, what: str, end_of_day: bool) -> str:
        value = text.strip()
        try:
            if "T" not in value:
                t = parse_timestamp(value + "T00:00:00Z")
                return utc_iso(t + timedelta(days=1) if end_of_day else t)
            return normalize_timestamp(value)
        except ValueError as exc:
            raise UsageError(f"{what} {text!r}: a UTC date (YYYY-MM-DD) or time: {exc}") from None

    a, b = when(start, "--from", False), when(end, "--to", True)
    if a >= b:
        raise UsageError(f"--from {start} is not before --to {end}")
    return a, b


@dataclass(frozen=True)
class PackWritten:
    path: Path
    pack_id: str
    seq: int
    files: int
    checksums_sha256: str
    summary: dict[str, Any]
    findings: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pack": str(self.path),
            "pack_id": self.pack_id,
            "seq": self.seq,
            "files": self.files,
            "checksums_sha256": self.checksums_sha256,
            "summary": self.summary,
            "findings": self.findings,
        }


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)


class _Builder:
    """The sections of one pack, gathered in order; each adds its files and findings."""

    def __init__(self, settings: Settings, db: str | None, start: str, end: str) -> None:
        self.settings, self.db, self.start, self.end = settings, db, start, end
        self.files: dict[str, bytes] = {}
        self.copies: dict[str, Path] = {}
        self.sections: list[dict[str, Any]] = []
        self.findings: list[str] = []
        self.summary: dict[str, Any] = {}

    def in_period(self, at: str | None) -> bool:
        return at is not None and self.start <= at < self.end

    def section(
        self, name: str, title: str, items: list[dict[str, Any]], columns: list[str], **extra: Any
    ) -> None:
        self.files[f"{name}.json"] = _json({"period": [self.start, self.end], name: items, **extra})
        shown = [{c: _cell(i.get(c)) for c in columns} for i in items[:SHOWN]]
        self.sections.append(
            {
                "name": name,
                "title": title,
                "file": f"{name}.json",
                "count": len(items),
                "columns": columns,
                "rows": shown,
                "more": max(0, len(items) - SHOWN),
            }
        )


def _cell(value: Any) -> str:
    if value is None or value == [] or value == "":
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _drills(
    b: _Builder,
    repo: Repository,
    drills_dir: Path,
    options: BackupOptions,
    reviewers: Sequence[VerifyKey],
) -> None:
    ctx = options.load(b.settings)
    vk = ctx.verify_key_if_any()
    items = []
    for run in drill_runs(repo):
        if not b.in_period(run.get("finished_at") or run["recorded_at"]):
            continue
        did = str(run["drill_id"])
        sigs = [s.to_dict() for s in signatures_of(repo, f"drill-evidence:{did}")]
        zipped = drills_dir / did / "evidence.zip"
        evidence = "not found"
        if zipped.is_file():
            if vk is None:
                evidence = "included, not verified (no public key)"
            else:
                check = verify_package(zipped, vk, reviewers)
                evidence = "included, verified" if check.ok else "included, DOES NOT VERIFY"
                if not check.ok:
                    b.findings.append(
                        f"drill {did}: its evidence does not verify: {check.findings[0]}"
                    )
            b.copies[f"drills/{did}.zip"] = zipped
        else:
            b.findings.append(f"drill {did}: no evidence package at {zipped} (--drills DIR)")
        if run["verdict"] != "pass":
            b.findings.append(f"drill {did} ({run['scenario']}): verdict {run['verdict']}")
        items.append(
            {
                "drill_id": did,
                "plan": run["plan"],
                "scenario": run["scenario"],
                "verdict": run["verdict"],
                "rto_s": run["rto_s"],
                "rpo_records": run["rpo_records"],
                "finished_at": run.get("finished_at"),
                "by": run["actor"],
                "log_seq": run["seq"],
                "evidence": evidence,
                "signed_off_by": [s["signer"] for s in sigs],
                "signatures": sigs,
            }
        )
    b.summary["drills"] = len(items)
    cols = ["drill_id", "scenario", "verdict", "rto_s", "rpo_records", "evidence", "signed_off_by"]
    b.section("drills", "Drill register", items, cols)


def _reviews(b: _Builder, repo: Repository, folders: Sequence[Path]) -> None:
    supplied: dict[str, tuple[Path, Any]] = {}
    for folder in folders:
        try:
            check = verify_review(b.settings, b.db, folder)
        except SerialvaultError as exc:
            b.findings.append(f"review folder {folder}: {exc.message}")
            continue
        supplied[check.review_id] = (folder, check)
    items = []
    with repo.read() as conn:
        recs = records_of_kind(conn, REVIEW_AUDIT) + records_of_kind(conn, REVIEW_ACCESS)
    for rec in sorted(recs, key=lambda r: r.seq):
        body = orjson.loads(rec.body)
        per = body.get("period") or {}
        covers = (
            per.get("from", "") < b.end and per.get("to", "") > b.start
            if rec.kind == REVIEW_AUDIT
            else b.in_period(rec.recorded_at)
        )
        if not covers:
            continue
        rid = str(body["review_id"])
        kind = "audit trail" if rec.kind == REVIEW_AUDIT else "access"
        sigs = [s.to_dict() for s in signatures_of(repo, f"review:{rid}")]
        status = "files not supplied (--review DIR)"
        if rid in supplied:
            folder, check = supplied[rid]
            status = "included, verified" if check.ok else "included, DOES NOT VERIFY"
            for name in body["files"]:
                b.copies[f"reviews/{rid}/{name}"] = folder / name
            if not check.ok:
                b.findings.append(f"review {rid}: {check.findings[0]}")
            sigs = check.signatures
        else:
            b.findings.append(f"{kind} review {rid}: its files were not supplied (--review DIR)")
        if not any(s.get("verified", True) for s in sigs) or not sigs:
            b.findings.append(f"{kind} review {rid} is not signed")
        items.append(
            {
                "review": rid,
                "kind": kind,
                "period": f"{per.get('from', '')} – {per.get('to', '')}"
                if per
                else rec.recorded_at,
                "records": body.get("records"),
                "flagged": body.get("flagged"),
                "log_seq": rec.seq,
                "files": status,
                "signed_by": [s["signer"] for s in sigs],
                "signatures": sigs,
                "record": body,
            }
        )
    b.summary["reviews"] = len(items)
    b.summary["reviews_signed"] = sum(1 for i in items if i["signed_by"])
    if not any(i["kind"] == "audit trail" for i in items):
        b.findings.append("no audit-trail review covers any part of the period")
    cols = ["review", "kind", "period", "records", "flagged", "files", "signed_by"]
    b.section("reviews", "Audit-trail and access reviews", items, cols)


def _exceptions(b: _Builder) -> None:
    items = []
    for row in ex_app.list_exceptions(b.settings, b.db):
        if not (b.in_period(row["recorded_at"]) or row["status"] != ex_rules.CLOSED):
            continue
        view = ex_app.show(b.settings, b.db, row["id"]).to_dict()
        if any(not s["verified"] for s in view["signatures"]):
            b.findings.append(f"{row['id']}: a closing signature does not verify")
        if row["status"] != ex_rules.CLOSED and row["severity"] == "critical":
            b.findings.append(f"{row['id']}: critical and {row['status']}")
        view.pop("actions_detail", None)
        items.append(view)
    b.summary["exceptions"] = len(items)
    b.summary["exceptions_open"] = sum(1 for i in items if i["status"] != ex_rules.CLOSED)
    cols = ["id", "type", "severity", "status", "recorded_at", "assignee", "capas", "resolution"]
    b.section("exceptions", "Exceptions (opened in the period, or not closed)", items, cols)


def _capas(b: _Builder) -> None:
    items = []
    for row in capa_app.list_capas(b.settings, b.db):
        if not (b.in_period(row["opened_at"]) or row["status"] != capa_rules.CLOSED):
            continue
        shown = capa_app.show(b.settings, b.db, row["capa"])
        if any(not s["verified"] for s in shown["signatures"]):
            b.findings.append(f"{row['capa']}: its closing signature does not verify")
        for item in shown["overdue"]:
            b.findings.append(f"{row['capa']}: {item}")
        items.append({**shown, "status": shown["phase"]})
    b.summary["capas"] = len(items)
    b.summary["capas_open"] = sum(1 for i in items if i["status"] != capa_rules.CLOSED)
    cols = ["capa", "title", "status", "owner", "exceptions", "drills"]
    b.section("capa", "Corrective and preventive actions", items, cols)


def _changes(b: _Builder) -> None:
    items = []
    for row in changes_app.list_changes(b.settings, b.db):
        if not b.in_period(row.get("created_at")):
            continue
        view = changes_app.show(b.settings, b.db, row["id"]).to_dict()
        if any(not s["verified"] for s in view["signatures"]):
            b.findings.append(f"{row['id']}: an approval signature does not verify")
        items.append(view)
    b.summary["changes"] = len(items)
    cols = ["id", "object", "version", "status", "author", "decided_by", "effective_from"]
    b.section("changes", "Master-data and configuration change history", items, cols)


def _backups(b: _Builder, options: BackupOptions, full: bool) -> None:
    try:
        listed = catalog(b.settings, b.db, options).to_dict()
        checked = verify_copies(b.settings, b.db, options, full=full).to_dict()
    except SerialvaultError as exc:
        b.findings.append(f"backups: {exc.message}")
        b.summary["backup_copies"] = 0
        b.section("backups", "Backup catalog and verification", [], ["copy"], error=exc.message)
        return
    items = []
    for copy in checked["copies"]:
        if copy["findings"]:
            b.findings.append(
                f"backup copy {copy['copy']}: {len(copy['findings'])} finding(s) on verification"
            )
        items.append(
            {
                "copy": copy["copy"],
                "url": redact_url(copy["url"]),
                "mode": copy["mode"],
                "backups": copy["backups"],
                "objects": copy["objects"],
                "findings": len(copy["findings"]),
                "verification": copy,
            }
        )
    b.summary["backup_copies"] = len(items)
    cols = ["copy", "url", "mode", "backups", "objects", "findings"]
    b.section("backups", "Backup catalog and verification", items, cols, catalog=listed)


def _reviewer_keys(
    repo: Repository, paths: Sequence[Path], b: _Builder
) -> tuple[list[dict[str, str]], list[VerifyKey]]:
    """Each reviewer key given, refused unless its id is registered to an account (the
    pack would otherwise vouch for a key nobody here owns); copied into the pack."""
    with repo.read() as conn:
        owners = {k: a.user_id for a in ids.accounts(conn) for k in a.reviewer_keys}
    out, keys = [], []
    for path in paths:
        key = load_verify_key(path)
        keys.append(key)
        owner = owners.get(key.key_id)
        if owner is None:
            raise UsageError(
                f"--reviewer-key {path}: key {key.key_id} is not registered to any account"
                " here (user key add); the pack vouches only for registered keys"
            )
        name = f"reviewer-keys/{owner}-{key.key_id[:16]}.pub"
        b.copies[name] = path
        out.append({"user": owner, "key_id": key.key_id, "file": name})
    return out, keys


def pack(
    settings: Settings,
    db: str | None,
    *,
    start: str,
    end: str,
    out: Path,
    options: BackupOptions,
    drills_dir: Path = Path("drill-runs"),
    reviews: Sequence[Path] = (),
    full_verify: bool = False,
    reviewer_keys: Sequence[Path] = (),
    on_step: Callable[[str], None] | None = None,
) -> PackWritten:
    """Write the inspection pack for ``[start, end)`` to the zip ``out`` and record it.

    ``reviewer_keys``: public keys of reviewers whose countersignatures are in the
    drills' evidence; each must be registered to an account here, and the pack carries
    it (``reviewer-keys/``) so that its signature vouches for it to an offline verifier.
    """
    a, z = period(start, end)
    if out.exists():
        raise ConflictError(f"{out} exists: an inspection pack is never overwritten")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: the folder {out.parent} does not exist")
    step = on_step or (lambda _s: None)
    repo, who = open_as(settings, db, Action.INSPECT)
    signer = options.load(settings).signing_key()  # before any work: no key, no pack
    b = _Builder(settings, db, a, z)
    vouched, reviewers = _reviewer_keys(repo, reviewer_keys, b)
    step("audit trail")
    audit = audit_verify(settings, db, policy=options.policy, public_key=options.public_key)
    if not audit.ok:
        b.findings.append("the audit trail does not verify: see audit.json")
    b.files["audit.json"] = _json(audit.to_dict())
    step("drills")
    _drills(b, repo, drills_dir, options, reviewers)
    step("reviews")
    _reviews(b, repo, reviews)
    step("exceptions")
    _exceptions(b)
    step("capa")
    _capas(b)
    step("changes")
    _changes(b)
    step("backups")
    _backups(b, options, full_verify)
    head = repo.head()
    now = now_utc()
    pack_id = f"INSP-{now[:10].replace('-', '')}-{secrets.token_hex(4)}"
    doc = {
        "format": "serialvault.inspection/1",
        "pack_id": pack_id,
        "period": {"from": a, "to": z},
        "repository": {
            "id": repo.meta().get("repository_id", ""),
            "url": repo.display_url,
            "head_seq": head.seq,
            "chain_hash": head.chain_hash,
            "chain_verified": bool(audit.ok),
        },
        "made_by": {"user": who.user_id, "name": who.name, "at": now},
        "summary": b.summary,
        "findings": b.findings,
        "sections": b.sections,
        "reviewer_keys": vouched,
    }
    from serialvault.inspection.pack import write_pack, zip_to

    step("signing")
    with tempfile.TemporaryDirectory(prefix="sv-inspection-", dir=out.parent) as tmp:
        folder = Path(tmp) / pack_id
        digest, n = write_pack(folder, doc, b.files, b.copies, signer)
        body = {
            "pack_id": pack_id,
            "period": {"from": a, "to": z},
            "checksums_sha256": digest,
            "files": n,
            "findings": len(b.findings),
            "summary": b.summary,
        }
        with repo.write() as (_conn, log):
            rec = log.append(INSPECTION_PACK, body, who.actor, f"inspection pack {a} to {z}")
        zip_to(folder, out)
    return PackWritten(out, pack_id, rec.seq, n, digest, b.summary, b.findings)
