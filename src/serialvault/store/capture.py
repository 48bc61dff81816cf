"""The capture pipeline: parse → validate → append + project in one transaction → ack.

DESIGN.md "Capture pipeline" and principle 5 ("nothing is lost on bad input"):

1. **Read** the bytes (JSON-LD or XML, EPCIS 2.0 or 1.2) into the one model.
2. **Validate** schema, CBV vocabulary and identifiers — no database needed.
3. In **one write transaction** (writer lock held): record new master data from the
   header, then apply the events in document order, in batches, through the pure
   lifecycle engine; append one log record per accepted event and write the
   projections. A duplicate of an event already recorded (same GS1 event hash) is a
   no-op.
4. **Commit** — only now is the capture acknowledged.

Any problem rejects the *whole* document: the transaction rolls back, so nothing of it
is recorded, and then — in its own small transaction — one ``exception`` record names
what was wrong (document, event, field, identifier). That record is the only write a
rejected document causes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from serialvault.domain.facts import EventFacts, extract_facts
from serialvault.domain.lifecycle import Engine
from serialvault.domain.records import EVENT, EXCEPTION, LOCATION, PRODUCT, Source, event_body
from serialvault.epcis.hashing import event_hash
from serialvault.epcis.model import EpcisDocument
from serialvault.epcis.reader import read_document
from serialvault.epcis.validate import validate_document
from serialvault.errors import (
    DocumentInvalid,
    DocumentRejected,
    InputError,
    Issue,
    SerialvaultError,
)
from serialvault.masterdata.model import Location, Product, master_data_from_document
from serialvault.store.projector import (
    apply_exception,
    apply_location,
    apply_product,
    load_locations,
    load_products,
    write_changes,
)
from serialvault.store.repository import LogAppender, Repository
from serialvault.store.snapshot import load_snapshot, max_unit_id

#: Events are applied in batches of about this many EPCs: large enough for set-based
#: SQL to pay off, small enough to bound memory for any document size.
BATCH_EPCS = 50_000
MAX_REPORTED_ISSUES = 1000


@dataclass(slots=True)
class CaptureResult:
    """The acknowledgement of a captured document."""

    document: str
    sha256: str
    events: int = 0
    recorded: int = 0
    duplicates: int = 0
    epcs: int = 0
    products_added: int = 0
    locations_added: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_seq: int = 0
    head_chain: str = ""
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Rejected(Exception):
    def __init__(self, error: SerialvaultError, issues: Sequence[Issue], kind: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.issues = issues
        self.kind = kind


def _batches(facts: Sequence[EventFacts], limit: int) -> Iterator[list[EventFacts]]:
    """Consecutive events of about ``limit`` EPCs; an error declaration stands alone.

    A declaration recomputes units from their history in the database, so everything
    before it must be written first and everything after it must see its result.
    """
    batch: list[EventFacts] = []
    n = 0
    for f in facts:
        if f.declaration is not None:
            if batch:
                yield batch
            yield [f]
            batch, n = [], 0
            continue
        batch.append(f)
        n += f.epc_count + 1
        if n >= limit:
            yield batch
            batch, n = [], 0
    if batch:
        yield batch


class Capturer:
    """Captures EPCIS documents into a repository on behalf of an actor."""

    def __init__(
        self,
        repo: Repository,
        *,
        actor: str,
        reason: str = "EPCIS capture",
        extra_schemas: Sequence[Any] = (),
        batch_epcs: int = BATCH_EPCS,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.repo = repo
        self.actor = actor
        self.reason = reason
        self.extra_schemas = tuple(extra_schemas)
        self.batch_epcs = batch_epcs
        self.on_progress = on_progress

    # ------------------------------------------------------------------ entry points
    def capture_bytes(self, data: bytes, name: str) -> CaptureResult:
        sha = hashlib.sha256(data).hexdigest()
        try:
            doc = read_document(data, name)
        except InputError as exc:
            self._record_exception("input", exc.message, [], name, sha)
            raise
        return self.capture_document(doc, sha)

    def capture_document(self, doc: EpcisDocument, sha256: str) -> CaptureResult:
        t0 = time.perf_counter()
        try:
            result = self._capture(doc, sha256)
        except _Rejected as rej:
            self._record_exception(rej.kind, rej.error.message, rej.issues, doc.name, sha256)
            raise rej.error from None
        result.seconds = time.perf_counter() - t0
        return result

    # ------------------------------------------------------------------ pipeline
    def _capture(self, doc: EpcisDocument, sha256: str) -> CaptureResult:
        source = Source(doc.name, sha256, doc.syntax, doc.source_version)
        issues = validate_document(doc, extra_schemas=self.extra_schemas)
        if issues:
            raise _Rejected(DocumentInvalid(doc.name, issues), issues, "validation")
        events = doc.events
        ns = doc.all_namespaces()
        facts: list[EventFacts] = []
        for i, ev in enumerate(events):
            try:
                h = event_hash(ev, ns)
                facts.append(extract_facts(ev, i, h, ns))
            except ValueError as exc:
                issues.append(
                    Issue(str(exc), "identifier", event_index=i, event_id=ev.get("eventID"))
                )
        products, locations, md_issues = master_data_from_document(doc)
        issues += md_issues
        if issues:
            raise _Rejected(DocumentInvalid(doc.name, issues), issues, "validation")

        result = CaptureResult(document=doc.name, sha256=sha256, events=len(events))
        result.epcs = sum(f.epc_count for f in facts)
        with self.repo.write() as (conn, app):
            md = self._master_data(conn, app, products, locations, source, result)
            if md:
                raise _Rejected(DocumentRejected(doc.name, md), md, "rule")
            next_id = max_unit_id(conn) + 1
            done = 0
            for batch in _batches(facts, self.batch_epcs):
                snap = load_snapshot(conn, batch, next_id)
                engine = Engine(snap)
                at = app.now()
                for f in batch:
                    if engine.apply(f, app.seq + 1, at):
                        app.append(
                            EVENT,
                            event_body(
                                events[f.index], f.event_hash, doc.namespaces, source, f.index
                            ),
                            self.actor,
                            self.reason,
                            at,
                        )
                if engine.issues:
                    found = engine.issues[:MAX_REPORTED_ISSUES]
                    raise _Rejected(DocumentRejected(doc.name, found), found, "rule")
                result.duplicates += len(engine.changes.duplicates)
                write_changes(conn, engine.changes)
                app.flush()
                next_id = engine.next_id
                done += len(batch)
                if self.on_progress:
                    self.on_progress(done)
            result.recorded = len(facts) - result.duplicates
            result.first_seq = app.first_seq
            result.last_seq = app.seq if app.first_seq is not None else None
            result.head_seq, result.head_chain = app.seq, app.chain
        return result

    def _master_data(
        self,
        conn: Connection,
        app: LogAppender,
        products: list[Product],
        locations: list[Location],
        source: Source,
        result: CaptureResult,
    ) -> list[Issue]:
        """Record master data the document brings; identical repeats are no-ops.

        A product already recorded with *different* values rejects the document: an
        inbound document must not silently change master data (change control —
        ``product add --update`` records a new version with a reason).
        """
        issues: list[Issue] = []
        origin = {"document": source.document, "sha256": source.sha256}
        known_p = load_products(conn, [p.gtin for p in products])
        for p in products:
            if p.gtin in known_p:
                diffs = known_p[p.gtin][0].differences(p)
                if diffs:
                    issues.append(
                        Issue(
                            f"product {p.gtin} is already recorded with different master data"
                            f" ({', '.join(diffs)}); change it with `serialvault product add"
                            " --update`",
                            "masterdata-conflict",
                            field="epcisHeader.epcisMasterData",
                            identifier=p.gtin,
                        )
                    )
                continue
            rec = app.append(
                PRODUCT,
                {"product": p.content(), "version": 1, "origin": origin},
                self.actor,
                self.reason,
            )
            apply_product(conn, rec.seq, p, 1)
            result.products_added += 1
        known_l = load_locations(conn, [loc.key for loc in locations])
        for loc in locations:
            if loc.key in known_l:
                if known_l[loc.key][0].differences(loc):
                    result.warnings.append(
                        f"location {loc.key}: the document's master data differs from the"
                        " recorded version, which was kept"
                    )
                continue
            rec = app.append(
                LOCATION,
                {"location": loc.content(), "version": 1, "origin": origin},
                self.actor,
                self.reason,
            )
            apply_location(conn, rec.seq, loc, 1)
            result.locations_added += 1
        return issues

    # ------------------------------------------------------------------ exceptions
    def _record_exception(
        self, kind: str, message: str, issues: Sequence[Issue], document: str, sha256: str
    ) -> None:
        """Record a rejection as an ``exception`` log record (its own transaction)."""
        identifiers = sorted({i.identifier for i in issues if i.identifier})[:MAX_REPORTED_ISSUES]
        body = {
            "source": "capture",
            "type": kind,
            "severity": "major",
            "document": document,
            "document_sha256": sha256,
            "reason": message[:4000],
            "issues": [i.to_dict() for i in issues[:MAX_REPORTED_ISSUES]],
            "identifiers": identifiers,
        }
        record_exception(self.repo, body, self.actor, f"rejected: {document}")


def record_exception(repo: Repository, body: dict[str, Any], actor: str, reason: str) -> int:
    """Append an exception record and its projection row; returns its seq."""
    with repo.write() as (conn, app):
        rec = app.append(EXCEPTION, body, actor, reason)
        app.flush()
        apply_exception(conn, rec.seq, rec.recorded_at, body)
        return rec.seq
