"""One record, one projection: the dispatcher replay uses, and the live writes too.

``apply_record`` writes the projection rows of any log record that is not an EPCIS event
(events go through the lifecycle engine in batches). ``rebuild`` and restore replay the
log through it; ``append_projected`` appends a record and projects it through the same
function, so a record written now and the same record replayed later produce the same
rows — projections can be rebuilt bit for bit because there is no second code path.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.engine import Connection

from serialvault.domain.chain import LogRecord
from serialvault.domain.records import EXCEPTION, LOCATION, PARTNER, PRODUCT
from serialvault.masterdata.model import Location, Partner, Product
from serialvault.store.capa import apply_capa
from serialvault.store.changes import apply_change
from serialvault.store.exceptions import apply_action
from serialvault.store.identity import apply_identity
from serialvault.store.projector import (
    apply_exception,
    apply_location,
    apply_partner,
    apply_product,
)
from serialvault.store.repository import LogAppender, Repository
from serialvault.store.serials import apply_serials


def apply_record(conn: Connection, rec: LogRecord) -> None:
    """Write the projection rows of ``rec`` (nothing for kinds without a projection)."""
    if rec.kind == PRODUCT:
        body = orjson.loads(rec.body)
        apply_product(conn, rec.seq, Product.from_content(body["product"]), int(body["version"]))
    elif rec.kind == LOCATION:
        body = orjson.loads(rec.body)
        apply_location(conn, rec.seq, Location.from_content(body["location"]), int(body["version"]))
    elif rec.kind == PARTNER:
        body = orjson.loads(rec.body)
        apply_partner(conn, rec.seq, Partner.from_content(body["partner"]), int(body["version"]))
    elif rec.kind == EXCEPTION:
        apply_exception(conn, rec.seq, rec.recorded_at, orjson.loads(rec.body))
    elif apply_identity(conn, rec) or apply_action(conn, rec) or apply_capa(conn, rec):
        return  # accounts, signatures; the exception workflow; CAPA
    elif not apply_serials(conn, rec):
        apply_change(conn, rec)  # repository.init, maintenance.* … feed nothing


def append_projected(
    conn: Connection, log: LogAppender, kind: str, body: Any, actor: str, reason: str
) -> LogRecord:
    """Append one record inside the caller's write transaction and project it."""
    rec = log.append(kind, body, actor, reason)
    log.flush()
    apply_record(conn, rec)
    return rec


def record(repo: Repository, kind: str, body: Any, actor: str, reason: str) -> LogRecord:
    """Append and project one record in a write transaction of its own."""
    with repo.write() as (conn, log):
        return append_projected(conn, log, kind, body, actor, reason)
