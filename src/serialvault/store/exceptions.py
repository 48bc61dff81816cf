"""The exception register's writes: every rejection and deviation is a log record.

An ``exception`` record (``domain.records.EXCEPTION``) carries what was wrong, where it
came from and the identifiers it concerns; its projection row is written in the same
transaction, so the register never lacks a record the log holds (21 CFR 11.10(e)).
Capture (a rejected document), the backup guard (a fork), a backup (projections that
differ from the log) and a drill (a failed criterion) all open exceptions through here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from serialvault.domain.records import EXCEPTION
from serialvault.store import schema
from serialvault.store.projector import apply_exception
from serialvault.store.repository import Repository

#: Issues and identifiers kept in one exception record.
MAX_REPORTED_ISSUES = 1000


def record_exception(repo: Repository, body: dict[str, Any], actor: str, reason: str) -> int:
    """Append an exception record and its projection row; returns its seq."""
    with repo.write() as (conn, app):
        rec = app.append(EXCEPTION, body, actor, reason)
        app.flush()
        apply_exception(conn, rec.seq, rec.recorded_at, body)
        return rec.seq


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
) -> tuple[int, bool]:
    """Open an exception for a deviation, unless the same one is already open.

    The same defect seen again (a follower retrying a forked log every second, a drill
    run twice) links to the open exception instead of adding another: returns
    ``(seq, created)``.
    """
    ex = schema.exceptions
    with repo.read() as conn:
        seen = conn.execute(
            sa.select(ex.c.seq)
            .where(ex.c.status == "open", ex.c.type == type, ex.c.reason == reason[:4000])
            .limit(1)
        ).scalar()
    if seen is not None:
        return int(seen), False
    body: dict[str, Any] = {
        "source": source,
        "type": type,
        "severity": severity,
        "document": document,
        "document_sha256": None,
        "reason": reason[:4000],
        "identifiers": identifiers[:MAX_REPORTED_ISSUES],
    }
    return record_exception(repo, body, actor, why), True
