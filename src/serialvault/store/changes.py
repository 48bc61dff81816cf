"""Change records in the database: the ``changes`` projection and its queries.

A ``change.draft`` record holds the object, its new version, the content before and
after and (as the record's actor and reason) who proposed it and why; a
``change.decision`` record approves it (with the seq of the approver's signature and
the time it takes effect) or rejects it. Both are replayed by rebuild and restore like
every other record, so the history of every controlled object comes back exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from serialvault.canonical import canonical_json
from serialvault.domain.chain import LogRecord
from serialvault.domain.change import Change, change_id, product_problem
from serialvault.domain.facts import EventFacts, classify_key
from serialvault.domain.records import CHANGE_DECISION, CHANGE_DRAFT
from serialvault.errors import Issue
from serialvault.store import schema


def _json(value: Any) -> str:
    return canonical_json(value).decode("utf-8")


def apply_change(conn: Connection, rec: LogRecord) -> bool:
    """Write the projection of a change record; ``False`` if ``rec`` is not one."""
    t = schema.changes
    if rec.kind == CHANGE_DRAFT:
        body = orjson.loads(rec.body)
        conn.execute(
            t.insert().values(
                change_id=change_id(rec.seq),
                seq=rec.seq,
                object_type=body["object"]["type"],
                object_key=body["object"]["key"],
                version=int(body["version"]),
                author=rec.actor,
                reason=rec.reason,
                created_at=rec.recorded_at,
                before_json=_json(body.get("before")),
                after_json=_json(body["after"]),
                status="draft",
            )
        )
        return True
    if rec.kind == CHANGE_DECISION:
        body = orjson.loads(rec.body)
        conn.execute(
            t.update()
            .where(t.c.change_id == body["change"])
            .values(
                status=body["decision"],
                decided_by=rec.actor,
                decided_at=rec.recorded_at,
                decision_reason=rec.reason,
                signature_seq=body.get("signature_seq"),
                effective_from=body.get("effective_from"),
            )
        )
        return True
    return False


def _change(r: Any) -> Change:
    return Change(
        r.change_id,
        int(r.seq),
        r.object_type,
        r.object_key,
        int(r.version),
        r.author,
        r.reason,
        orjson.loads(r.before_json),
        orjson.loads(r.after_json),
        r.status,
        r.created_at,
        r.decided_by,
        r.decided_at,
        r.decision_reason,
        None if r.signature_seq is None else int(r.signature_seq),
        r.effective_from,
    )


def changes(
    conn: Connection,
    *,
    object_type: str | None = None,
    object_key: str | None = None,
    keys: list[str] | None = None,
) -> list[Change]:
    """Change records in log order, of one object type (and key, or keys) or all."""
    t = schema.changes
    q = sa.select(t).order_by(t.c.seq)
    if object_type is not None:
        q = q.where(t.c.object_type == object_type)
    if object_key is not None:
        q = q.where(t.c.object_key == object_key)
    if keys is not None:
        if not keys:
            return []
        q = q.where(t.c.object_key.in_(sorted(set(keys))))
    return [_change(r) for r in conn.execute(q)]


def change(conn: Connection, cid: str) -> Change | None:
    t = schema.changes
    r = conn.execute(sa.select(t).where(t.c.change_id == cid)).first()
    return None if r is None else _change(r)


def product_issues(conn: Connection, facts: Sequence[EventFacts]) -> list[Issue]:
    """Commissioning (ObjectEvent ADD, TransformationEvent outputs) of units whose
    product is under change control but has no version effective at the event time:
    one issue per event and GTIN, naming the GTIN, the version and the change. One
    query per batch, for the GTINs it creates; products never put under change
    control (recorded before it existed) are not checked here."""
    created: dict[str, list[EventFacts]] = {}
    for f in facts:
        if f.event_type == "ObjectEvent" and f.action == "ADD":
            keys = f.epcs
        elif f.event_type == "TransformationEvent":
            keys = f.outputs
        else:
            continue
        for g in {gtin for kind, gtin in map(classify_key, keys) if kind == "sgtin" and gtin}:
            created.setdefault(g, []).append(f)
    if not created:
        return []
    by_gtin: dict[str, list[Change]] = {}
    for c in changes(conn, object_type="product", keys=list(created)):
        by_gtin.setdefault(c.object_key, []).append(c)
    issues: list[Issue] = []
    for gtin, events in sorted(created.items()):
        if gtin not in by_gtin:
            continue
        for f in events:
            problem = product_problem(gtin, by_gtin[gtin], f.event_time)
            if problem:
                issues.append(
                    Issue(
                        problem,
                        "masterdata-not-effective",
                        event_index=f.index,
                        event_id=f.event_id,
                        event_hash=f.event_hash,
                        field="epcList" if f.event_type == "ObjectEvent" else "outputEPCList",
                        identifier=gtin,
                    )
                )
    return issues
