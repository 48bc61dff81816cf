"""The capture pipeline: parse → validate → append + project in one transaction → ack.

DESIGN.md "Capture pipeline" and principle 5 ("nothing is lost on bad input"):

1. **Read** the bytes (JSON-LD or XML, EPCIS 2.0 or 1.2) into the one model.
2. **Validate** schema, CBV vocabulary and identifiers — no database needed
   (steps 1–2, with event hashes and facts, are ``domain.prepare``; for a folder they
   run in a second process, one document ahead of the writer).
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

import base64
import hashlib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import zstandard
from sqlalchemy.engine import Connection

from serialvault.domain.exceptions import type_of
from serialvault.domain.facts import EventFacts
from serialvault.domain.lifecycle import Engine
from serialvault.domain.prepare import Prepared, prepare_bytes, prepare_document
from serialvault.domain.records import EVENT, EXCEPTION
from serialvault.domain.serials import REJECT, UNALLOCATED_SERIAL
from serialvault.epcis.limits import (
    DEFAULT_LIMITS,
    Limits,
    check_document_size,
    document_too_large,
)
from serialvault.epcis.model import EpcisDocument
from serialvault.epcis.reader import sniff_syntax
from serialvault.epcis.stream import LARGE_DOCUMENT, iter_event_chunks, scan_skeleton
from serialvault.errors import (
    DocumentInvalid,
    DocumentRejected,
    InputError,
    Issue,
    SerialvaultError,
)
from serialvault.masterdata.model import Location, Product
from serialvault.store.changes import product_issues
from serialvault.store.exceptions import MAX_REPORTED_ISSUES, open_or_link
from serialvault.store.packaging import packaging_mismatches
from serialvault.store.project import append_projected
from serialvault.store.projector import (
    load_locations,
    load_products,
    write_changes,
)
from serialvault.store.repository import LogAppender, Repository
from serialvault.store.serials import Unallocated, check_commissioning, policy_in_force
from serialvault.store.snapshot import load_snapshot, max_unit_id
from serialvault.store.workers import worker_pool

#: Events are applied in batches of about this many EPCs: large enough for set-based
#: SQL to pay off, small enough to bound memory for any document size.
BATCH_EPCS = 50_000


@dataclass(slots=True)
class CaptureResult:
    """The acknowledgement of a captured document."""

    document: str
    sha256: str
    events: int = 0
    recorded: int = 0
    duplicates: int = 0
    epcs: int = 0
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


def is_large_json(path: Path) -> bool:
    """Whether a file is a JSON document big enough to be captured as a stream."""
    try:
        if path.stat().st_size <= LARGE_DOCUMENT:
            return False
        with path.open("rb") as fh:
            return sniff_syntax(fh.read(64)) == "json"
    except (OSError, InputError):
        return False


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _prepare_file(
    path: str, limits: Limits = DEFAULT_LIMITS, extra_schemas: Sequence[Any] = ()
) -> Prepared:
    """Worker entry: read and prepare one file (runs in the preparing process), with the
    caller's limits and extra schemas — the worker reads no settings of its own.

    The size is checked before the file is read, so an oversized document costs no
    memory; its SHA-256 is still taken (streamed) for the exception record.
    """
    try:
        check_document_size(Path(path).stat().st_size, path, limits)
        data = Path(path).read_bytes()
    except OSError as exc:
        return Prepared(path, "", problem="input", message=f"{path}: cannot read: {exc.strerror}")
    except InputError as exc:
        return Prepared(path, _file_sha256(Path(path)), problem="input", message=exc.message)
    return prepare_bytes(data, path, extra_schemas, limits)


_FIELD = re.compile(r"^(\w+)(?:\[(\d+)\])?$")


def _as_written(issues: list[Issue], bodies: list[bytes], offset: int) -> list[Issue]:
    """Name identifiers in rule issues as the document wrote them.

    The rules work on canonical keys (GS1 Digital Link); the person fixing the input has
    the document, which may use EPC URNs. Where an issue points at one list entry
    (``childEPCs[3]``) or ``parentID``, its identifier and message use the original text.
    """
    out: list[Issue] = []
    cache: dict[int, dict[str, Any]] = {}
    for issue in issues:
        m = _FIELD.match(issue.field or "")
        idx = issue.event_index
        if (
            m is None
            or idx is None
            or issue.identifier is None
            or not 0 <= idx - offset < len(bodies)
        ):
            out.append(issue)
            continue
        if idx not in cache:
            cache[idx] = orjson.loads(bodies[idx - offset])["event"]
        value = cache[idx].get(m.group(1))
        if m.group(2) is not None and isinstance(value, list):
            value = value[int(m.group(2))] if int(m.group(2)) < len(value) else None
        if isinstance(value, str) and value != issue.identifier:
            out.append(
                replace(
                    issue, identifier=value, message=issue.message.replace(issue.identifier, value)
                )
            )
        else:
            out.append(issue)
    return out


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
        limits: Limits = DEFAULT_LIMITS,
        origin: str | None = None,
    ) -> None:
        self.repo = repo
        self.actor = actor
        #: ``line:NAME`` or ``partner:GLN`` — who sent the documents, for the exceptions
        self.origin = origin
        self.reason = reason
        self.extra_schemas = tuple(extra_schemas)
        self.batch_epcs = batch_epcs
        self.on_progress = on_progress
        self.limits = limits

    # ------------------------------------------------------------------ entry points
    def capture_bytes(self, data: bytes, name: str) -> CaptureResult:
        """Capture one document given as bytes; raises the rejection, if any."""
        return self.capture_prepared(
            prepare_bytes(data, name, self.extra_schemas, self.limits), data=data
        )

    def capture_stream(self, fh: BinaryIO, name: str) -> CaptureResult:
        """Capture one document read from a stream (stdin), never holding more than the limit.

        Past the document limit the rest is read only to be counted and hashed, so the
        refusal (and its exception record) names the true size and SHA-256.
        """
        limit = self.limits.document_bytes
        data = fh.read(limit + 1)
        if len(data) <= limit:
            return self.capture_bytes(data, name)
        h, size = hashlib.sha256(data), len(data)
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
        refusal = document_too_large(size, name, self.limits)
        self._record_exception("input", refusal.message, [], name, h.hexdigest())
        raise refusal

    def capture_document(self, doc: EpcisDocument, sha256: str) -> CaptureResult:
        return self.capture_prepared(
            prepare_document(doc, sha256, self.extra_schemas, limits=self.limits)
        )

    def capture_files(
        self, paths: Sequence[Path], *, parallel: bool = True
    ) -> Iterator[tuple[Path, CaptureResult | SerialvaultError]]:
        """Capture files in order, yielding each outcome as soon as it is committed.

        With ``parallel``, a second process prepares document *n+1* (read, validate,
        hash, facts, canonical bodies) while this one applies document *n*; the writer
        still commits strictly in order. At most one prepared document waits, so memory
        stays bounded by two documents.
        """
        large = {p for p in paths if is_large_json(p)}
        if not parallel or len(paths) - len(large) < 2:
            for path in paths:
                yield path, self._one(path, large)
            return
        made = worker_pool()
        if made is None:
            for path in paths:
                yield path, self._one(path, large)
            return
        with made as pool:

            def submit(i: int) -> Future[Prepared] | None:
                if i < len(paths) and paths[i] not in large:
                    return pool.submit(
                        _prepare_file, str(paths[i]), self.limits, self.extra_schemas
                    )
                return None

            pending = submit(0)
            for i, path in enumerate(paths):
                current, pending = pending, submit(i + 1)
                if current is None:
                    yield path, self._one(path, large)
                else:
                    yield path, self._outcome(current.result)

    def _one(self, path: Path, large: set[Path]) -> CaptureResult | SerialvaultError:
        if path in large:
            try:
                return self.capture_large(path)
            except SerialvaultError as exc:
                return exc
        return self._outcome(partial(_prepare_file, str(path), self.limits, self.extra_schemas))

    def _outcome(self, get: Callable[[], Prepared]) -> CaptureResult | SerialvaultError:
        try:
            return self.capture_prepared(get())
        except SerialvaultError as exc:
            return exc

    def capture_prepared(self, p: Prepared, data: bytes | None = None) -> CaptureResult:
        """Stage 2: apply a prepared document, or record and raise its rejection (with
        the document's bytes, ``data`` or read back from its file, kept in quarantine)."""
        t0 = time.perf_counter()
        try:
            if p.problem == "input":
                raise _Rejected(InputError(p.message), [], "input")
            if p.problem is not None:
                raise _Rejected(DocumentInvalid(p.name, p.issues), p.issues, "validation")
            result = self._apply(p)
        except _Rejected as rej:
            self._record_exception(rej.kind, rej.error.message, rej.issues, p.name, p.sha256, data)
            raise rej.error from None
        result.seconds = time.perf_counter() - t0
        return result

    # ------------------------------------------------------------------ pipeline
    def _apply(self, p: Prepared) -> CaptureResult:
        result = CaptureResult(document=p.name, sha256=p.sha256, events=p.events)
        self.repo.refresh_statistics(("units",), threshold=1.0)
        with self.repo.write() as (conn, app):
            differ = self._compare_master_data(conn, p.products, p.locations, result)
            result.warnings += p.warnings
            packed: dict[str, str] = {}
            flagged: list[Unallocated] = []
            self._apply_events(conn, app, p, result, max_unit_id(conn) + 1, packed, flagged)
            self._check_packaging(conn, app, packed, p.name, p.sha256, result)
            self._master_data_exception(conn, app, differ, p.name, p.sha256)
            self._flag_serials(conn, app, flagged, p.name, p.sha256, result)
            self._finish(app, result)
        return result

    def _apply_events(
        self,
        conn: Connection,
        app: LogAppender,
        p: Prepared,
        result: CaptureResult,
        next_id: int,
        packed: dict[str, str],
        flagged: list[Unallocated],
    ) -> int:
        """Apply prepared events in batches inside the open transaction; returns next id.
        ``packed`` collects the containers that recorded (not duplicate) aggregation ADD
        events packed into, with the time of the last such event; ``flagged`` the
        commissioned serials no pool handed out, when the serial policy captures them."""
        bodies, offset = p.bodies, p.offset
        result.epcs += p.epcs
        for batch in _batches(p.facts, self.batch_epcs):
            controlled = product_issues(conn, batch)
            if controlled:
                found = controlled[:MAX_REPORTED_ISSUES]
                raise _Rejected(DocumentRejected(p.name, found), found, "rule")
            engine = Engine(load_snapshot(conn, batch, next_id))
            at = app.now()
            recorded: list[tuple[EventFacts, int]] = []
            for f in batch:
                if engine.apply(f, app.seq + 1, at):
                    app.append(EVENT, bodies[f.index - offset], self.actor, self.reason, at)
                    recorded.append((f, app.seq))
                    if f.parent and f.event_type == "AggregationEvent" and f.action == "ADD":
                        packed[f.parent] = max(f.event_time, packed.get(f.parent, ""))
            if engine.issues:
                found = _as_written(engine.issues[:MAX_REPORTED_ISSUES], bodies, offset)
                raise _Rejected(DocumentRejected(p.name, found), found, "rule")
            serials = check_commissioning(conn, recorded)
            if serials.unallocated:
                if policy_in_force(conn, at)["unallocated"] == REJECT:
                    found = [u.issue() for u in serials.unallocated[:MAX_REPORTED_ISSUES]]
                    found = _as_written(found, bodies, offset)
                    raise _Rejected(DocumentRejected(p.name, found), found, "rule")
                flagged += serials.unallocated
            result.duplicates += len(engine.changes.duplicates)
            result.recorded += len(batch) - len(engine.changes.duplicates)
            write_changes(conn, engine.changes)
            serials.write(conn)
            app.flush()
            next_id = engine.next_id
            if self.on_progress:
                self.on_progress(result.recorded + result.duplicates)
        return next_id

    @staticmethod
    def _finish(app: LogAppender, result: CaptureResult) -> None:
        result.first_seq = app.first_seq
        result.last_seq = app.seq if app.first_seq is not None else None
        result.head_seq, result.head_chain = app.seq, app.chain

    def capture_large(self, path: Path) -> CaptureResult:
        """Capture a large JSON-LD document as a stream, in bounded memory.

        Two passes over the file (``epcis.stream``): the skeleton (context, header,
        master data), then the events chunk by chunk — each chunk validated, prepared and
        applied inside ONE write transaction, so the document stays all-or-nothing.
        """
        t0 = time.perf_counter()
        name = str(path)
        sha = _file_sha256(path)
        try:
            check_document_size(path.stat().st_size, name, self.limits)
            with path.open("rb") as fh:
                skeleton = scan_skeleton(fh, name)
        except InputError as exc:
            self._record_exception("input", exc.message, [], name, sha)
            raise
        result = CaptureResult(document=name, sha256=sha, events=skeleton.event_count)
        try:
            head = prepare_document(
                skeleton.document([]), sha, self.extra_schemas, limits=self.limits
            )
            self.repo.refresh_statistics(("units",), threshold=1.0)
            if head.problem is not None:
                raise _Rejected(DocumentInvalid(name, head.issues), head.issues, "validation")
            with self.repo.write() as (conn, app):
                differ = self._compare_master_data(conn, head.products, head.locations, result)
                result.warnings += head.warnings
                next_id = max_unit_id(conn) + 1
                offset = 0
                packed: dict[str, str] = {}
                flagged: list[Unallocated] = []
                with path.open("rb") as fh:
                    for chunk in iter_event_chunks(fh, skeleton, self.batch_epcs):
                        p = prepare_document(
                            skeleton.document(chunk), sha, self.extra_schemas, offset, self.limits
                        )
                        if p.problem is not None:
                            raise _Rejected(DocumentInvalid(name, p.issues), p.issues, "validation")
                        next_id = self._apply_events(conn, app, p, result, next_id, packed, flagged)
                        offset += len(chunk)
                self._check_packaging(conn, app, packed, name, sha, result)
                self._master_data_exception(conn, app, differ, name, sha)
                self._flag_serials(conn, app, flagged, name, sha, result)
                self._finish(app, result)
        except InputError as exc:
            self._record_exception("input", exc.message, [], name, sha)
            raise
        except _Rejected as rej:
            self._record_exception(rej.kind, rej.error.message, rej.issues, name, sha)
            raise rej.error from None
        result.seconds = time.perf_counter() - t0
        return result

    def _check_packaging(
        self,
        conn: Connection,
        app: LogAppender,
        packed: dict[str, str],
        document: str,
        sha256: str,
        result: CaptureResult,
    ) -> None:
        """Cases and pallets whose child count differs from their product's packaging
        configuration: the document is captured, and one exception record — in the same
        transaction, so never one without the other — names every such container."""
        found = packaging_mismatches(conn, packed) if packed else []
        if not found:
            return
        shown = "; ".join(str(m) for m in found[:MAX_REPORTED_ISSUES])
        extra = len(found) - MAX_REPORTED_ISSUES
        reason = (
            f"{len(found)} container(s) differ from their packaging configuration: {shown}"
            + (f" (and {extra} more)" if extra > 0 else "")
        )[:4000]
        body = {
            "source": "capture",
            "type": "count-mismatch",
            "severity": "minor",
            "document": document,
            "document_sha256": sha256,
            "reason": reason,
            "issues": [],
            "identifiers": [m.container for m in found[:MAX_REPORTED_ISSUES]],
            "owner_role": type_of("count-mismatch").owner,
            "origin": self.origin_of(document),
        }
        append_projected(conn, app, EXCEPTION, body, self.actor, f"packaging check: {document}")
        result.warnings.append(reason[:500])

    def _master_data_exception(
        self,
        conn: Connection,
        app: LogAppender,
        differ: list[tuple[str, list[str]]],
        document: str,
        sha256: str,
    ) -> None:
        """A document whose master data differs from the recorded versions is captured,
        and one ``master-data-mismatch`` exception — in the same transaction — names
        every product and location that differs and in what, for someone to decide
        whether the partner or the repository is right (and draft a change if it is
        the repository)."""
        if not differ:
            return
        shown = "; ".join(f"{k} ({', '.join(d) or 'attributes'})" for k, d in differ[:50])
        reason = (
            f"{len(differ)} master-data element(s) in the document differ from the recorded"
            f" version, which is kept: {shown}"
        )[:4000]
        body = {
            "source": "capture",
            "type": "master-data-mismatch",
            "severity": "minor",
            "document": document,
            "document_sha256": sha256,
            "reason": reason,
            "issues": [],
            "identifiers": [k for k, _d in differ[:MAX_REPORTED_ISSUES]],
            "owner_role": type_of("master-data-mismatch").owner,
            "origin": self.origin_of(document),
        }
        append_projected(conn, app, EXCEPTION, body, self.actor, f"master data: {document}")

    def _flag_serials(
        self,
        conn: Connection,
        app: LogAppender,
        flagged: list[Unallocated],
        document: str,
        sha256: str,
        result: CaptureResult,
    ) -> None:
        """Serials of pooled GTINs commissioned without being handed out (or after being
        returned), captured under the capture-and-flag serial policy: one
        ``unallocated-serial`` exception, in the same transaction as the events, naming
        each serial with its event (EU FMD Art. 4: a serial not from its randomised pool
        no longer carries the guessing bound the pool was sized for)."""
        if not flagged:
            return
        shown = "; ".join(
            f"{u.key} ({u.fact.label()}{', returned' if u.returned else ''})" for u in flagged[:20]
        )
        more = len(flagged) - 20
        reason = (
            f"{len(flagged)} commissioned serial(s) were never allocated from their GTIN's"
            f" pool or had been returned to it: {shown}"
            + (f" (and {more} more)" if more > 0 else "")
            + "; captured under the serial policy (capture-and-flag)"
        )[:4000]
        body = {
            "source": "capture",
            "type": UNALLOCATED_SERIAL,
            "severity": "major",
            "document": document,
            "document_sha256": sha256,
            "reason": reason,
            "issues": [u.issue().to_dict() for u in flagged[:MAX_REPORTED_ISSUES]],
            "identifiers": sorted({u.key for u in flagged})[:MAX_REPORTED_ISSUES],
            "owner_role": type_of(UNALLOCATED_SERIAL).owner,
            "origin": self.origin_of(document),
        }
        append_projected(conn, app, EXCEPTION, body, self.actor, f"serial pool check: {document}")
        result.warnings.append(reason[:500])

    @staticmethod
    def _compare_master_data(
        conn: Connection,
        products: list[Product],
        locations: list[Location],
        result: CaptureResult,
    ) -> list[tuple[str, list[str]]]:
        """Compare the master data a document declares with the repository's; record none.

        Master data changes only under change control (EU GMP Annex 11 §10; DESIGN.md
        "Master data"): a line system or partner cannot bring a product into being, or
        change one, by putting it in a document's header (EPCIS 2.0 §7.5 makes the
        header's vocabulary informative, not authoritative). What is new or differs is
        reported as a warning; ``serialvault masterdata import FILE`` drafts it for a qa
        user's approval. A unit of a product not in master data is refused by the
        lifecycle rules, as without a header. Nothing here refuses the document; what
        differs is returned, for one ``master-data-mismatch`` exception.
        """
        differ: list[tuple[str, list[str]]] = []
        known_p = load_products(conn, [p.gtin for p in products])
        new_p = [p.gtin for p in products if p.gtin not in known_p]
        for p in products:
            if p.gtin in known_p and (diffs := known_p[p.gtin][0].differences(p)):
                differ.append((p.gtin, list(diffs)))
                result.warnings.append(
                    f"product {p.gtin}: the document's master data differs from version"
                    f" {known_p[p.gtin][1]} ({', '.join(diffs)}), which is kept; a new"
                    " version comes in through `serialvault masterdata import` and approval"
                )
        known_l = load_locations(conn, [loc.key for loc in locations])
        new_l = [loc.key for loc in locations if loc.key not in known_l]
        for loc in locations:
            if loc.key in known_l and (ldiffs := known_l[loc.key][0].differences(loc)):
                differ.append((loc.key, list(ldiffs)))
                result.warnings.append(
                    f"location {loc.key}: the document's master data differs from version"
                    f" {known_l[loc.key][1]}, which is kept"
                )
        if new_p or new_l:
            named = ", ".join((new_p + new_l)[:5]) + (" …" if len(new_p) + len(new_l) > 5 else "")
            result.warnings.append(
                f"the document declares master data not recorded here ({len(new_p)} products,"
                f" {len(new_l)} locations: {named}); master data changes only under change"
                " control: `serialvault masterdata import FILE` drafts it for approval"
            )
        return differ

    # ------------------------------------------------------------------ exceptions
    def _record_exception(
        self,
        kind: str,
        message: str,
        issues: Sequence[Issue],
        document: str,
        sha256: str,
        data: bytes | None = None,
    ) -> None:
        """Record a rejection as an ``exception`` log record (its own transaction) — or,
        when the same document was refused for the same reason and that exception is not
        closed yet, link this attempt to it (``seen-again``) instead of a second one."""
        identifiers = sorted({i.identifier for i in issues if i.identifier})[:MAX_REPORTED_ISSUES]
        type_ = _REJECTION_TYPES[kind]
        body = {
            "source": "capture",
            "type": type_,
            "severity": "major",
            "document": document,
            "document_sha256": sha256,
            "reason": message[:4000],
            "issues": [i.to_dict() for i in issues[:MAX_REPORTED_ISSUES]],
            "identifiers": identifiers,
            "owner_role": type_of(type_).owner,
            "origin": self.origin_of(document),
            "quarantine": quarantine(data, document, sha256),
        }
        with self.repo.write() as (conn, app):
            open_or_link(conn, app, body, self.actor, f"rejected: {document}")

    def origin_of(self, document: str) -> dict[str, Any]:
        """Where a document came from: the line or partner the capture names, else the
        document itself."""
        if self.origin is not None:
            kind, _, ident = self.origin.partition(":")
            return {"kind": kind, "id": ident, "document": document}
        return {"kind": "document", "id": document}


#: Rejected documents up to this size are kept whole in their exception record.
QUARANTINE_BYTES = 8 << 20


def quarantine(data: bytes | None, document: str, sha256: str) -> dict[str, Any]:
    """A rejected document's bytes, kept (zstd, base64) in its exception record so that
    the input is preserved as received (ALCOA+ "original") and can be handed back with
    ``exception document``: from ``data``, else read back from the file it was captured
    from — only when that file still has the SHA-256 that was refused."""
    if data is None:
        try:
            path = Path(document)
            if path.is_file() and path.stat().st_size <= QUARANTINE_BYTES:
                data = path.read_bytes()
        except OSError:
            data = None
    if data is None or hashlib.sha256(data).hexdigest() != sha256:
        return {"kept": False, "why": "the document's bytes were not at hand"}
    if len(data) > QUARANTINE_BYTES:
        return {"kept": False, "why": f"larger than {QUARANTINE_BYTES >> 20} MiB"}
    packed = zstandard.ZstdCompressor(level=9).compress(data)
    return {
        "kept": True,
        "size": len(data),
        "encoding": "zstd+base64",
        "data": base64.b64encode(packed).decode("ascii"),
    }


#: A rejection's stage → its exception type (``domain.exceptions.TYPES``): input that
#: could not be read at all is an interface failure; schema, vocabulary and identifier
#: problems reject the document; lifecycle and hierarchy rules are rule violations.
_REJECTION_TYPES = {
    "input": "interface-rejection",
    "validation": "rejected-document",
    "rule": "rule-violation",
}
