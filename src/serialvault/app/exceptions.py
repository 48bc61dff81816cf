"""The exception register's use cases: list, show, open, assign, comment, resolve, close, reopen.

Every step is an ``exception.action`` log record made by an authenticated user whose
role grants it (21 CFR 11.10(d), (g)); the workflow rules are ``domain.exceptions``.
Closing is a ``qa`` decision made with an electronic signature (password re-entered,
meaning ``approved``) over the SHA-256 of the exception as closed, written in the same
transaction as the closing record (``SigningAct``), by someone other than whoever
resolved it; a ``major`` or ``critical`` exception also needs a linked CAPA or a
justification the signature covers. ``exception show`` recomputes that SHA-256, so an
exception edited after its closure shows its signature as not verifying.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from serialvault.app.context import open_as, open_to_read
from serialvault.app.files import write_file
from serialvault.app.signatures import authenticate_signer, signatures_of
from serialvault.domain import exceptions as rules
from serialvault.domain.access import GRANTS, Action
from serialvault.errors import (
    ConflictError,
    IntegrityFailure,
    NotFound,
    NotPermitted,
    UsageError,
)
from serialvault.identity.auth import Principal
from serialvault.settings import Settings
from serialvault.store import exceptions as store
from serialvault.store import identity as ids
from serialvault.store.repository import Repository
from serialvault.timefmt import normalize_timestamp

#: The most of a comment, resolution or justification one action keeps.
MAX_TEXT = 4000


def _seq(text: str) -> int:
    seq = rules.parse_exception_id(text)
    if seq is None:
        raise UsageError(f"{text!r} is not an exception id: EX-n (as `exception list` shows)")
    return seq


def _text(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise UsageError(f"{what} is empty: say it in words; nothing was changed")
    if len(value) > MAX_TEXT:
        raise UsageError(
            f"{what} is {len(value):,} characters long; at most {MAX_TEXT:,}; nothing was changed"
        )
    return value.strip()


def list_exceptions(
    settings: Settings,
    db: str | None,
    *,
    status: str | None = None,
    type: str | None = None,
    severity: str | None = None,
    since: str | None = None,
) -> list[dict[str, Any]]:
    """``exception list``: the register, oldest first, filtered."""
    if status is not None and status not in rules.STATUSES:
        raise UsageError(f"--status {status!r}: one of {', '.join(rules.STATUSES)}")
    if severity is not None and severity not in rules.SEVERITIES:
        raise UsageError(f"--severity {severity!r}: one of {', '.join(rules.SEVERITIES)}")
    if type is not None:
        type = rules.LEGACY_TYPES.get(type, type)
        if type not in rules.TYPES:
            raise UsageError(f"--type {type!r}: one of {', '.join(rules.TYPES)}")
    when = None
    if since is not None:
        try:
            when = normalize_timestamp(since if "T" in since else since + "T00:00:00Z")
        except ValueError as exc:
            raise UsageError(f"--since {since!r}: {exc}") from None
    repo = open_to_read(settings, db)
    with repo.read() as conn:
        return store.list_exceptions(
            conn, store.Filter(status=status, type=type, severity=severity, since=when)
        )


@dataclass(frozen=True)
class ExceptionView:
    """``exception show``: the exception, where it came from, what was wrong (event,
    field, identifier), every step of its workflow and the signatures on it, each
    verified against the SHA-256 of the exception's content as closed."""

    detail: store.ExceptionDetail
    signatures: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        d = self.detail
        body = d.body
        return {
            **d.row,
            "about": rules.type_of(d.row["type"]).about,
            "owner_role": body.get("owner_role") or rules.type_of(d.row["type"]).owner,
            "origin": body.get("origin") or {"kind": body.get("source"), "id": d.row["document"]},
            "opened_by": d.actor,
            "why_opened": d.why,
            "issues": body.get("issues") or [],
            "quarantine": {k: v for k, v in (body.get("quarantine") or {}).items() if k != "data"}
            or None,
            "assignee": d.assignee,
            "resolution": d.resolution,
            "capas": d.capas,
            "actions": d.actions,
            "signatures": self.signatures,
        }


def stored_document(settings: Settings, db: str | None, ex_id: str, out: Path) -> int:
    """``exception document``: write the rejected document's bytes, as received, to
    ``out`` — after checking them against the SHA-256 recorded when they were refused.
    Returns the number of bytes written."""
    repo = open_to_read(settings, db)
    seq = _seq(ex_id)
    with repo.read() as conn:
        detail = store.exception_detail(conn, seq)
    kept = detail.body.get("quarantine") or {}
    eid = rules.exception_id(seq)
    if not kept.get("kept"):
        why = kept.get("why") or "it was not opened for a rejected document"
        raise NotFound(f"{eid} holds no stored document: {why}")
    data = zstandard.ZstdDecompressor().decompress(
        base64.b64decode(kept["data"]), max_output_size=int(kept["size"])
    )
    if hashlib.sha256(data).hexdigest() != detail.row["document_sha256"]:
        raise IntegrityFailure(
            f"{eid}: the stored document does not match the SHA-256 recorded when it was"
            " refused; nothing was written"
        )
    write_file(out, data)
    return len(data)


def _verified(detail: store.ExceptionDetail, sigs: list[ids.SignatureRow]) -> list[dict[str, Any]]:
    """Each signature with ``verified``: whether it is over the content its closing
    record says was closed (recomputed from the record, not trusted from it)."""
    closes = {
        int(a["detail"]["signature_seq"]): a
        for a in detail.actions
        if a["action"] == "close" and a["detail"].get("signature_seq") is not None
    }
    out = []
    for s in sigs:
        d = s.to_dict()
        close = closes.get(s.seq)
        d["verified"] = (
            close is not None
            and s.sha256 == rules.content_sha256(close["detail"]["content"])
            and _content_matches(detail, close)
        )
        out.append(d)
    return out


def _content_matches(detail: store.ExceptionDetail, close: dict[str, Any]) -> bool:
    """Whether the content a closing record claims matches the exception as recorded."""
    c = close["detail"]["content"]
    row = detail.row
    return bool(
        c.get("exception") == rules.exception_id(detail.seq)
        and c.get("type") == row["type"]
        and c.get("severity") == row["severity"]
        and c.get("reason") == row["reason"]
        and c.get("identifiers") == list(row["identifiers"])
    )


def show(settings: Settings, db: str | None, ex_id: str) -> ExceptionView:
    repo = open_to_read(settings, db)
    seq = _seq(ex_id)
    with repo.read() as conn:
        detail = store.exception_detail(conn, seq)
    sigs = signatures_of(repo, f"exception:{rules.exception_id(seq)}")
    return ExceptionView(detail, _verified(detail, sigs))


def _act(
    repo: Repository,
    who: Principal,
    seq: int,
    action: str,
    *,
    text: str | None,
    reason: str,
    extra: dict[str, Any] | None = None,
) -> int:
    """Append one workflow step, checked against the exception's status as it is inside
    the write transaction (two people acting at once cannot both pass a stale check)."""
    with repo.write() as (conn, log):
        detail = store.exception_detail(conn, seq)
        problem = rules.transition_problem(action, detail.status)
        if problem:
            raise ConflictError(
                f"{rules.exception_id(seq)} cannot be {_PAST[action]}: {problem}; nothing was"
                " changed"
            )
        body = {
            "exception": seq,
            "action": action,
            "status": rules.status_after(action, detail.status),
            "text": text,
            **(extra or {}),
        }
        return store.append_action(conn, log, body, who.actor, reason).seq


_PAST = {
    "assign": "assigned",
    "investigate": "taken up",
    "comment": "commented on",
    "rework": "linked to rework",
    "resolve": "resolved",
    "close": "closed",
    "reopen": "reopened",
}


def open_exception(
    settings: Settings,
    db: str | None,
    *,
    type: str,
    reason: str,
    severity: str | None = None,
    identifiers: list[str] | None = None,
    origin: str | None = None,
) -> int:
    """``exception open``: a deviation someone saw (a damaged case on the line, a label
    that does not scan) entered by hand; returns its seq."""
    if type not in rules.TYPES:
        raise UsageError(f"--type {type!r}: one of {', '.join(rules.TYPES)}")
    kind = rules.TYPES[type]
    severity = severity or kind.severity
    if severity not in rules.SEVERITIES:
        raise UsageError(f"--severity {severity!r}: one of {', '.join(rules.SEVERITIES)}")
    text = _text(reason, "--reason")
    origin_kind, _, origin_id = (origin or "person:").partition(":")
    if origin_kind not in ("line", "partner", "document", "drill", "person"):
        raise UsageError(
            f"--origin {origin!r}: line:NAME, partner:GLN, document:NAME, drill:ID or person"
        )
    repo, who = open_as(settings, db, Action.EXCEPTIONS)
    body = {
        "source": "person",
        "type": type,
        "severity": severity,
        "document": None,
        "document_sha256": None,
        "reason": text,
        "identifiers": list(dict.fromkeys(identifiers or []))[: store.MAX_REPORTED_ISSUES],
        "owner_role": kind.owner,
        "origin": {"kind": origin_kind, "id": origin_id or who.user_id},
        "issues": [],
    }
    return store.record_exception(repo, body, who.actor, f"opened by {who.user_id}")


def assign(settings: Settings, db: str | None, ex_id: str, to: str, *, note: str | None) -> int:
    """``exception assign``: name who investigates; the exception becomes
    ``investigating``. The assignee must be an active person who may work on it."""
    seq = _seq(ex_id)
    repo, who = open_as(settings, db, Action.EXCEPTIONS)
    user = to.strip().casefold()
    with repo.read() as conn:
        acct = ids.account(conn, user)
    if acct is None or acct.kind != "person":
        raise NotFound(f"--to {to!r}: no such person in this repository; nothing was changed")
    if acct.status != "active":
        raise ConflictError(f"--to {user}: the account is {acct.status}; nothing was changed")
    if not set(acct.roles) & GRANTS[Action.EXCEPTIONS]:
        raise NotPermitted(
            f"--to {user}: their roles ({', '.join(acct.roles)}) do not let them work on"
            " exceptions; nothing was changed"
        )
    return _act(
        repo,
        who,
        seq,
        "assign",
        text=note.strip() if note else None,
        reason=f"assigned to {user}",
        extra={"assignee": user},
    )


def comment(settings: Settings, db: str | None, ex_id: str, text: str) -> int:
    """``exception comment``: a note in the record; the status stays."""
    seq = _seq(ex_id)
    body = _text(text, "the comment")
    repo, who = open_as(settings, db, Action.EXCEPTIONS)
    return _act(repo, who, seq, "comment", text=body, reason="comment")


def resolve(settings: Settings, db: str | None, ex_id: str, resolution: str) -> int:
    """``exception resolve``: say what was done about it; it waits for a qa closure."""
    seq = _seq(ex_id)
    text = _text(resolution, "--resolution")
    repo, who = open_as(settings, db, Action.EXCEPTIONS)
    return _act(repo, who, seq, "resolve", text=text, reason="resolved")


def reopen(settings: Settings, db: str | None, ex_id: str, reason: str) -> int:
    """``exception reopen``: a resolved or closed exception goes back to ``open``; its
    earlier resolution and closure stay in the record."""
    seq = _seq(ex_id)
    text = _text(reason, "--reason")
    repo, who = open_as(settings, db, Action.CLOSE_EXCEPTIONS)
    return _act(repo, who, seq, "reopen", text=text, reason="reopened")


def link_rework(repo: Repository, who: Principal, ex_id: str, what: str, events: list[str]) -> int:
    """Record that a rework's events answer this exception (after the capture committed)."""
    return _act(
        repo,
        who,
        _seq(ex_id),
        "rework",
        text=what,
        reason="rework",
        extra={"events": events},
    )


def check_open(repo: Repository, ex_id: str) -> None:
    """Refuse a rework for an exception that does not exist or cannot take one, before
    anything is captured."""
    seq = _seq(ex_id)
    with repo.read() as conn:
        detail = store.exception_detail(conn, seq)
    problem = rules.transition_problem("rework", detail.status)
    if problem:
        raise ConflictError(
            f"{rules.exception_id(seq)} cannot be linked to rework: {problem}; nothing was changed"
        )


@dataclass(frozen=True)
class Closed:
    exception: str
    action_seq: int
    signature: ids.SignatureRow

    def to_dict(self) -> dict[str, Any]:
        return {
            "exception": self.exception,
            "status": rules.CLOSED,
            "action_seq": self.action_seq,
            "signature": self.signature.to_dict(),
        }


def close(
    settings: Settings,
    db: str | None,
    ex_id: str,
    *,
    password: str | None,
    user_entered: str | None = None,
    justification: str | None = None,
) -> Closed:
    """``exception close``: a ``qa`` user other than the resolver signs the closure
    (meaning ``approved``); ``major`` and ``critical`` need a CAPA link or a
    justification. The signature and the closing record are one commit."""
    seq = _seq(ex_id)
    if justification is not None:
        justification = _text(justification, "--justification")
    repo, who = open_as(settings, db, Action.CLOSE_EXCEPTIONS)
    eid = rules.exception_id(seq)

    def checked(conn: Any) -> tuple[store.ExceptionDetail, dict[str, Any]]:
        detail = store.exception_detail(conn, seq)
        problem = rules.transition_problem("close", detail.status) or rules.closure_problem(
            detail.row["severity"],
            resolution=detail.resolution,
            capas=detail.capas,
            justification=justification,
        )
        if problem:
            raise ConflictError(f"{eid} cannot be closed: {problem}; nothing was changed")
        resolved = detail.last("resolve")
        if resolved is not None and resolved["actor"] == who.user_id:
            raise NotPermitted(
                f"{who.user_id} resolved {eid}: it is closed by another qa user (separation"
                " of duties); nothing was changed"
            )
        content = rules.closure_content(
            detail.row,
            resolution=str(detail.resolution),
            capas=detail.capas,
            justification=justification,
            history=[int(a["seq"]) for a in detail.actions],
        )
        return detail, content

    with repo.read() as conn:
        checked(conn)  # refuse before asking for the password
    act = authenticate_signer(
        repo, who, meaning="approved", password=password, user_entered=user_entered
    )
    with repo.write() as (conn, log):  # the check again, the signature and the closure: one commit
        _detail, content = checked(conn)
        digest = rules.content_sha256(content)
        [signature] = act.write(conn, log, [(f"exception:{eid}", digest)], f"{eid} closed")
        body = {
            "exception": seq,
            "action": "close",
            "status": rules.CLOSED,
            "text": justification,
            "signature_seq": signature.seq,
            "content": content,
        }
        rec = store.append_action(conn, log, body, who.actor, f"{eid} closed")
    return Closed(eid, rec.seq, signature)
