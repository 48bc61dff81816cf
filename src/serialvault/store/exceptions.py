"""The exception register in the database: opening records, the workflow, the queries.

An ``exception`` record (``domain.records.EXCEPTION``) carries what was wrong, where it
came from and the identifiers it concerns; ``exception.action`` records work it through
``open → investigating → resolved → closed``. Each record's projection row is written
in the same transaction as the record (``project.apply_record`` on replay), so the
register never lacks a record the log holds (21 CFR 11.10(e)). Capture (a rejected
document, a count mismatch), the backup guard (a fork), a backup (projections that
differ from the log), reconciliation and drills open exceptions through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.canonical import canonical_json
from serialvault.domain import exceptions as rules
from serialvault.domain.chain import LogRecord
from serialvault.domain.records import EXCEPTION, EXCEPTION_ACTION
from serialvault.errors import NotFound
from serialvault.store import schema
from serialvault.store.projector import apply_exception
from serialvault.store.repository import LogAppender, Repository
from serialvault.timefmt import parse_timestamp

#: Issues and identifiers kept in one exception record.
MAX_REPORTED_ISSUES = 1000
#: The most of a reason an exception record keeps.
MAX_REASON = 4000


def record_exception(repo: Repository, body: dict[str, Any], actor: str, reason: str) -> int:
    """Append an exception record and its projection row; returns its seq."""
    with repo.write() as (conn, app):
        return _append_exception(conn, app, body, actor, reason)


def _append_exception(
    conn: Connection, app: LogAppender, body: dict[str, Any], actor: str, reason: str
) -> int:
    rec = app.append(EXCEPTION, body, actor, reason)
    app.flush()
    apply_exception(conn, rec.seq, rec.recorded_at, body)
    return rec.seq


#: Fields of an ``exception.action`` body that have columns of their own (the rest,
#: the exception's seq included, is the ``detail`` column).
_FIELDS = frozenset({"action", "status", "text"})


def apply_action(conn: Connection, rec: LogRecord) -> bool:
    """Project an ``exception.action`` record; ``False`` if ``rec`` is not one."""
    if rec.kind != EXCEPTION_ACTION:
        return False
    body = orjson.loads(rec.body)
    target = int(body["exception"])
    rest = {k: v for k, v in body.items() if k not in _FIELDS}
    conn.execute(
        schema.exception_actions.insert().values(
            seq=rec.seq,
            exception_seq=target,
            action=body["action"],
            actor=rec.actor,
            at=rec.recorded_at,
            status=body["status"],
            text=body.get("text"),
            detail=canonical_json(rest).decode("utf-8"),
        )
    )
    ex = schema.exceptions
    conn.execute(ex.update().where(ex.c.seq == target).values(status=body["status"]))
    return True


def append_action(
    conn: Connection, app: LogAppender, body: dict[str, Any], actor: str, reason: str
) -> LogRecord:
    """Append an ``exception.action`` record and project it, in the caller's transaction."""
    rec = app.append(EXCEPTION_ACTION, body, actor, reason)
    app.flush()
    apply_action(conn, rec)
    return rec


def _still_open(conn: Connection, type: str, *, sha256: str | None, reason: str) -> int | None:
    """The newest exception of ``type`` for the same defect that is not closed: the same
    reason, and — for a document — the same bytes."""
    ex = schema.exceptions
    names = [type, *(old for old, new in rules.LEGACY_TYPES.items() if new == type)]
    stmt = sa.select(ex.c.seq).where(
        ex.c.type.in_(names), ex.c.status != rules.CLOSED, ex.c.reason == reason[:MAX_REASON]
    )
    if sha256 is not None:
        stmt = stmt.where(ex.c.document_sha256 == sha256)
    seen = conn.execute(stmt.order_by(ex.c.seq.desc()).limit(1)).scalar()
    return None if seen is None else int(seen)


def _last_touched(conn: Connection, seq: int) -> str | None:
    a = schema.exception_actions
    at = conn.execute(
        sa.select(sa.func.max(a.c.at)).where(a.c.exception_seq == seq, a.c.action == "seen-again")
    ).scalar()
    if at is None:
        at = conn.execute(
            sa.select(schema.exceptions.c.recorded_at).where(schema.exceptions.c.seq == seq)
        ).scalar()
    return None if at is None else str(at)


def open_or_link(
    conn: Connection,
    app: LogAppender,
    body: dict[str, Any],
    actor: str,
    why: str,
    *,
    relink_after_s: float = 0.0,
) -> tuple[int, bool]:
    """Open an exception — or, when the same defect is already open, link this sighting
    to it with a ``seen-again`` action instead of a second exception (at most one such
    action per ``relink_after_s``, so a follower retrying every second does not fill
    the log). Returns ``(seq, created)``; runs in the caller's transaction."""
    seen = _still_open(
        conn, body["type"], sha256=body.get("document_sha256"), reason=body["reason"]
    )
    if seen is None:
        return _append_exception(conn, app, body, actor, why), True
    if relink_after_s > 0:
        last = _last_touched(conn, seen)
        if last is not None:
            age = (parse_timestamp(app.now()) - parse_timestamp(last)).total_seconds()
            if age < relink_after_s:
                return seen, False
    status = str(
        conn.execute(
            sa.select(schema.exceptions.c.status).where(schema.exceptions.c.seq == seen)
        ).scalar_one()
    )
    action = {
        "exception": seen,
        "action": "seen-again",
        "status": rules.status_after("seen-again", status),
        "text": None,
        "document": body.get("document"),
        "document_sha256": body.get("document_sha256"),
        "origin": body.get("origin"),
    }
    append_action(conn, app, action, actor, why)
    return seen, False


def open_exception(
    repo: Repository,
    *,
    source: str,
    type: str,
    severity: str,
    reason: str,
    identifiers: list[str],
    actor: str,
    why: str,
    document: str | None = None,
    origin: dict[str, Any] | None = None,
    relink_after_s: float = 3600.0,
) -> tuple[int, bool]:
    """Open an exception for a deviation, unless the same one is already open.

    The same defect seen again (a follower retrying a forked log every second, a drill
    run twice) links to the open exception instead of adding another: returns
    ``(seq, created)``.
    """
    body: dict[str, Any] = {
        "source": source,
        "type": type,
        "severity": severity,
        "document": document,
        "document_sha256": None,
        "reason": reason[:MAX_REASON],
        "identifiers": identifiers[:MAX_REPORTED_ISSUES],
        "owner_role": rules.type_of(type).owner,
        "origin": origin or {"kind": source, "id": document},
    }
    with repo.write() as (conn, app):
        return open_or_link(conn, app, body, actor, why, relink_after_s=relink_after_s)


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class Filter:
    """``exception list`` filters; ``None`` matches everything."""

    status: str | None = None
    type: str | None = None
    severity: str | None = None
    since: str | None = None
    open_only: bool = False


def _row(r: Any) -> dict[str, Any]:
    d = dict(r)
    d["identifiers"] = orjson.loads(d["identifiers"])
    d["id"] = rules.exception_id(int(d["seq"]))
    d["type"] = rules.type_of(d["type"]).name
    return d


def list_exceptions(conn: Connection, f: Filter = Filter()) -> list[dict[str, Any]]:
    """Exceptions matching ``f``, oldest first; types written by earlier versions are
    reported under their current names (and matched by them)."""
    ex = schema.exceptions
    stmt = sa.select(ex).order_by(ex.c.seq)
    if f.status:
        stmt = stmt.where(ex.c.status == f.status)
    if f.open_only:
        stmt = stmt.where(ex.c.status != rules.CLOSED)
    if f.type:
        names = [f.type, *(old for old, new in rules.LEGACY_TYPES.items() if new == f.type)]
        stmt = stmt.where(ex.c.type.in_(names))
    if f.severity:
        stmt = stmt.where(ex.c.severity == f.severity)
    if f.since:
        stmt = stmt.where(ex.c.recorded_at >= f.since)
    return [_row(r) for r in conn.execute(stmt).mappings()]


@dataclass(slots=True)
class ExceptionDetail:
    """One exception as the register holds it: the row, the opening record's body (the
    issues with event, field and identifier; origin; owner role), every action, and the
    CAPAs that name it."""

    row: dict[str, Any]
    body: dict[str, Any]
    actor: str
    why: str
    actions: list[dict[str, Any]] = field(default_factory=list)
    capas: list[str] = field(default_factory=list)

    @property
    def seq(self) -> int:
        return int(self.row["seq"])

    @property
    def status(self) -> str:
        return str(self.row["status"])

    def last(self, action: str) -> dict[str, Any] | None:
        """The newest action of this name since the exception was last reopened."""
        for a in reversed(self.actions):
            if a["action"] == "reopen":
                return None
            if a["action"] == action:
                return a
        return None

    @property
    def assignee(self) -> str | None:
        for a in reversed(self.actions):
            if a["action"] == "assign":
                return str(a["detail"].get("assignee"))
        return None

    @property
    def resolution(self) -> str | None:
        a = self.last("resolve")
        return None if a is None else a["text"]


def exception_detail(conn: Connection, seq: int) -> ExceptionDetail:
    """The exception opened by record ``seq`` (``NotFound`` when there is none)."""
    ex = schema.exceptions
    row = conn.execute(sa.select(ex).where(ex.c.seq == seq)).mappings().first()
    if row is None:
        raise NotFound(f"{rules.exception_id(seq)}: no such exception in this repository")
    log = schema.log
    rec = conn.execute(
        sa.select(log.c.body, log.c.actor, log.c.reason).where(log.c.seq == seq)
    ).first()
    body = orjson.loads(rec.body) if rec is not None else {}
    a = schema.exception_actions
    actions = []
    for r in conn.execute(
        sa.select(a).where(a.c.exception_seq == seq).order_by(a.c.seq)
    ).mappings():
        d = dict(r)
        d["detail"] = orjson.loads(d["detail"])
        actions.append(d)
    capas = capas_linked(conn, "exception_id", [rules.exception_id(seq)])
    return ExceptionDetail(
        _row(row),
        body,
        "" if rec is None else rec.actor,
        "" if rec is None else rec.reason,
        actions,
        capas.get(rules.exception_id(seq), []),
    )


def capas_linked(conn: Connection, kind: str, targets: Sequence[str]) -> dict[str, list[str]]:
    """The CAPAs whose latest version names each target (an exception id, a drill id)."""
    t = schema.capa_links
    out: dict[str, list[str]] = {}
    if not targets:
        return out
    rows = conn.execute(
        sa.select(t.c.target, t.c.capa_id)
        .where(t.c.kind == kind, t.c.target.in_(list(targets)))
        .order_by(t.c.target, t.c.capa_id)
    ).all()
    for target, capa in rows:
        out.setdefault(str(target), []).append(str(capa))
    return out
