"""CAPA records in the database: the ``capas`` and ``capa_links`` projections and queries.

Each ``capa.version`` record holds the whole CAPA as it is after a change; the
projection keeps the latest version, and ``capa_links`` the exceptions and drills that
version names — so "which CAPA answers EX-12" is one indexed lookup, and the links are
exactly what the log's newest version says after any rebuild or restore.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.canonical import canonical_json
from serialvault.domain import capa as rules
from serialvault.domain.chain import LogRecord
from serialvault.domain.records import CAPA
from serialvault.errors import NotFound
from serialvault.store import schema
from serialvault.store.repository import LogAppender


def apply_capa(conn: Connection, rec: LogRecord) -> bool:
    """Project a ``capa.version`` record; ``False`` if ``rec`` is not one."""
    if rec.kind != CAPA:
        return False
    body = orjson.loads(rec.body)
    content = body["capa"]
    cid, version = content["capa"], int(body["version"])
    t = schema.capas
    values = {
        "version": version,
        "status": rules.phase(content),
        "title": content["title"],
        "next_due": rules.next_due(content),
        "content": canonical_json(content).decode("utf-8"),
        "last_seq": rec.seq,
    }
    if version == 1:
        conn.execute(
            t.insert().values(
                capa_id=cid,
                opened_by=rec.actor,
                opened_at=rec.recorded_at,
                first_seq=rec.seq,
                **values,
            )
        )
    else:
        conn.execute(t.update().where(t.c.capa_id == cid).values(**values))
    links = schema.capa_links
    conn.execute(links.delete().where(links.c.capa_id == cid))
    rows = [{"capa_id": cid, "kind": "exception_id", "target": x} for x in content["exceptions"]]
    rows += [{"capa_id": cid, "kind": "drill_id", "target": x} for x in content["drills"]]
    if rows:
        conn.execute(links.insert(), rows)
    return True


def append_capa(
    conn: Connection,
    app: LogAppender,
    content: dict[str, Any],
    version: int,
    actor: str,
    reason: str,
    **extra: Any,
) -> LogRecord:
    """Append and project one version of a CAPA, in the caller's transaction."""
    body = {"capa": content, "version": version, **extra}
    rec = app.append(CAPA, body, actor, reason)
    app.flush()
    apply_capa(conn, rec)
    return rec


def capa_row(conn: Connection, cid: str) -> dict[str, Any]:
    """The latest version of a CAPA (``NotFound`` when there is none)."""
    t = schema.capas
    row = conn.execute(sa.select(t).where(t.c.capa_id == cid)).mappings().first()
    if row is None:
        raise NotFound(f"{cid}: no such CAPA in this repository")
    d = dict(row)
    d["content"] = orjson.loads(d["content"])
    return d


def capa_rows(conn: Connection, status: str | None = None) -> list[dict[str, Any]]:
    """Every CAPA's latest version (optionally of one phase), oldest first."""
    t = schema.capas
    stmt = sa.select(t).order_by(t.c.first_seq)
    if status:
        stmt = stmt.where(t.c.status == status)
    out = []
    for r in conn.execute(stmt).mappings():
        d = dict(r)
        d["content"] = orjson.loads(d["content"])
        out.append(d)
    return out


def capa_versions(conn: Connection, cid: str) -> list[dict[str, Any]]:
    """Every version of a CAPA from the log (who changed what, when), oldest first."""
    row = capa_row(conn, cid)
    log = schema.log
    out = []
    for r in conn.execute(
        sa.select(log.c.seq, log.c.recorded_at, log.c.actor, log.c.reason, log.c.body)
        .where(
            log.c.kind == CAPA,
            log.c.seq >= row["first_seq"],
            log.c.seq <= row["last_seq"],
        )
        .order_by(log.c.seq)
    ):
        body = orjson.loads(r.body)
        if body["capa"]["capa"] == cid:
            out.append(
                {
                    "seq": int(r.seq),
                    "version": int(body["version"]),
                    "at": r.recorded_at,
                    "by": r.actor,
                    "reason": r.reason,
                    "signature_seq": body.get("signature_seq"),
                }
            )
    return out
