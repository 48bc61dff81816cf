"""The first, pure stage of capture: bytes in, everything the writer needs out.

Capture is two stages (``store.capture``):

1. **prepare** (this module, no database, no I/O): read the document, validate it
   (schema, CBV vocabulary, identifiers), compute every event's GS1 event hash, draw the
   typed facts the rules need, take master data from the header, and serialise each
   event's log-record body as canonical JSON;
2. **apply** (``store.capture.Capturer``): in one write transaction, run the lifecycle
   rules and write log records and projections.

Only stage 2 needs the writer lock. Stage 1 is the larger part of the CPU work and
depends on nothing but the bytes, so while the writer applies one document another
process prepares the next (two cores, twice the work in flight).
:class:`Prepared` is a plain, picklable value for that hand-over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from serialvault.canonical import canonical_json
from serialvault.domain.facts import EventFacts, extract_facts
from serialvault.domain.records import Source, event_body
from serialvault.epcis.hashing import event_hash
from serialvault.epcis.limits import DEFAULT_LIMITS, Limits, check_document_size
from serialvault.epcis.model import EpcisDocument
from serialvault.epcis.reader import read_document
from serialvault.epcis.validate import validate_document
from serialvault.errors import InputError, Issue
from serialvault.masterdata.model import Location, Product, master_data_from_document


@dataclass(slots=True)
class Prepared:
    """A document ready to apply — or the reason it cannot be.

    ``problem`` is ``"input"`` (unreadable) or ``"validation"`` (invalid) when the
    document must be rejected; then ``message``/``issues`` say why and nothing else is
    filled in.
    """

    name: str
    sha256: str
    syntax: str = "json"
    version: str = "2.0"
    events: int = 0
    facts: list[EventFacts] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    #: position of the first event in the whole document (streamed chunks)
    offset: int = 0
    problem: str | None = None
    message: str = ""
    issues: list[Issue] = field(default_factory=list)
    #: what the header's master data could not say (never a reason to refuse: capture
    #: does not record a header's master data, it compares it)
    warnings: list[str] = field(default_factory=list)

    @property
    def source(self) -> Source:
        return Source(self.name, self.sha256, self.syntax, self.version)

    @property
    def epcs(self) -> int:
        return sum(f.epc_count for f in self.facts)


def prepare_bytes(
    data: bytes, name: str, extra_schemas: Sequence[Any] = (), limits: Limits = DEFAULT_LIMITS
) -> Prepared:
    """Stage 1 for a document given as bytes (JSON-LD or XML, EPCIS 2.0 or 1.2)."""
    sha = hashlib.sha256(data).hexdigest()
    try:
        check_document_size(len(data), name, limits)
        doc = read_document(data, name)
    except InputError as exc:
        return Prepared(name, sha, problem="input", message=exc.message)
    return prepare_document(doc, sha, extra_schemas, limits=limits)


def prepare_document(
    doc: EpcisDocument,
    sha256: str,
    extra_schemas: Sequence[Any] = (),
    offset: int = 0,
    limits: Limits = DEFAULT_LIMITS,
) -> Prepared:
    """Stage 1 for a document already read.

    ``offset`` is the position of ``doc``'s first event in the whole document when
    ``doc`` is one chunk of a streamed document: event numbers in facts, bodies and
    issues count from the start of the whole document.
    """
    p = Prepared(doc.name, sha256, doc.syntax, doc.source_version, len(doc.events), offset=offset)
    issues = validate_document(doc, extra_schemas=extra_schemas, limits=limits)
    if offset:
        issues = [
            replace(i, event_index=i.event_index + offset) if i.event_index is not None else i
            for i in issues
        ]
    if issues:
        p.problem, p.issues = "validation", issues
        return p
    ns = doc.all_namespaces()
    source = p.source
    for i, ev in enumerate(doc.events, start=offset):
        try:
            h = event_hash(ev, ns)
            f = extract_facts(ev, i, h, ns)
            body = canonical_json(event_body(ev, h, doc.namespaces, source, i))
        except UnicodeError as exc:  # a lone surrogate: text no record can hold
            issues.append(Issue(f"not Unicode text: {exc}", "input", event_index=i, event_id=None))
            continue
        except ValueError as exc:
            issues.append(Issue(str(exc), "identifier", event_index=i, event_id=ev.get("eventID")))
            continue
        except TypeError as exc:  # a value with no canonical JSON form
            issues.append(Issue(f"cannot be recorded: {exc}", "input", event_index=i))
            continue
        p.facts.append(f)
        p.bodies.append(body)
    products, locations, md_issues = master_data_from_document(doc)
    p.warnings = [f"the header's master data: {i}" for i in md_issues]
    if issues:
        p.problem, p.issues = "validation", issues
        p.facts, p.bodies = [], []
        return p
    p.products, p.locations = products, locations
    return p
