"""The one in-memory model of an EPCIS document.

Every syntax we read — EPCIS 2.0 JSON / JSON-LD, EPCIS 2.0 XML, EPCIS 1.2 XML — is
brought into the data shape of the EPCIS 2.0 JSON/JSON-LD binding (EPCIS 2.0 §12):
an ``EPCISDocument`` object with ``@context``, ``schemaVersion``, ``creationDate``,
optional ``epcisHeader`` (with ``epcisMasterData.vocabularyList``) and
``epcisBody.eventList``. Events are plain dicts keyed exactly as the JSON binding
names them (``epcList``, ``childEPCs``, ``bizStep``, ``readPoint: {"id": …}``,
``ilmd``, user extensions as ``prefix:localName`` with the prefix declared in
``@context``).

Why dicts rather than a class per event type: the JSON binding *is* the standard's
data model serialised, the official JSON schema validates exactly this shape, the GS1
event hash (CBV 2.0 §8.9) is defined over it, and user extensions are open-ended. Typed
views (``serialvault.domain.facts``) are derived where the rules need them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)

#: Prefixes every EPCIS 2.0 JSON-LD document may use without declaring them, because the
#: standard context (https://ref.gs1.org/standards/epcis/epcis-context.jsonld) defines them.
STANDARD_PREFIXES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": "https://ref.gs1.org/cbv/",
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": "https://gs1.org/voc/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "dcterms": "http://purl.org/dc/terms/",
    "dc": "http://purl.org/dc/elements/1.1/",
}

Syntax = Literal["json", "xml"]


@dataclass(slots=True)
class EpcisDocument:
    """An EPCIS document in the EPCIS 2.0 JSON-LD data shape.

    ``body`` is the whole document as JSON-LD (what ``epcis convert --to jsonld``
    writes). ``syntax`` and ``source_version`` record what it was read from, because an
    inspector asking "what did the partner send?" deserves the true answer. ``name`` is
    the file name (or ``-``) used in every message about the document.
    """

    body: dict[str, Any]
    syntax: Syntax = "json"
    source_version: str = "2.0"
    name: str = "<document>"
    #: prefix -> namespace IRI, from the document's ``@context`` objects (JSON-LD) or
    #: ``xmlns`` declarations (XML), on top of the standard prefixes.
    namespaces: dict[str, str] = field(default_factory=dict)

    @property
    def document_type(self) -> str:
        return str(self.body.get("type", ""))

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events in document order (capture or query document)."""
        body = self.body.get("epcisBody")
        if not isinstance(body, dict):
            return []
        if "eventList" in body:
            lst = body.get("eventList")
        else:
            qr = body.get("queryResults")
            rb = qr.get("resultsBody") if isinstance(qr, dict) else None
            lst = rb.get("eventList") if isinstance(rb, dict) else None
        return lst if isinstance(lst, list) else []

    @property
    def header(self) -> dict[str, Any] | None:
        h = self.body.get("epcisHeader")
        return h if isinstance(h, dict) else None

    def vocabularies(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Yield ``(vocabulary type, elements)`` from every place EPCIS carries master
        data: the header's ``epcisMasterData`` (EPCIS 2.0 §7.5), a standalone master data
        document's body, and a query result's ``resultsBody.vocabularyList``."""
        header = self.header or {}
        md = header.get("epcisMasterData")
        lists = [md.get("vocabularyList") if isinstance(md, dict) else None]
        body = self.body.get("epcisBody")
        if isinstance(body, dict):
            lists.append(body.get("vocabularyList"))
            qr = body.get("queryResults")
            rb = qr.get("resultsBody") if isinstance(qr, dict) else None
            lists.append(rb.get("vocabularyList") if isinstance(rb, dict) else None)
        for vocabs in lists:
            for vocab in vocabs if isinstance(vocabs, list) else ():
                if isinstance(vocab, dict):
                    elements = vocab.get("vocabularyElementList") or []
                    kind = str(vocab.get("type", ""))
                    yield kind, [e for e in elements if isinstance(e, dict)]

    def all_namespaces(self) -> dict[str, str]:
        """Standard prefixes overlaid with the document's own declarations."""
        ns = dict(STANDARD_PREFIXES)
        ns.update(self.namespaces)
        return ns


def namespaces_from_context(context: Any) -> dict[str, str]:
    """Collect ``prefix -> IRI`` pairs from a JSON-LD ``@context`` value.

    Every term defined as an absolute IRI (a string, or ``{"@id": IRI}``) counts as a
    prefix: JSON-LD 1.1 only guarantees prefix expansion for IRIs ending in ``/``, ``#``
    or ``:``, but the GS1 and OpenEPCIS examples bind extension prefixes such as
    ``"example": "https://ns.example.com/epcis"`` and use ``example:myField``; the
    event hash (CBV 2.0 §8.9) names those extensions by that namespace. Remote context
    URLs are not fetched — the standard EPCIS context is known (``STANDARD_PREFIXES``)
    and nothing else may be required to read a document offline.
    """
    found: dict[str, str] = {}
    items = context if isinstance(context, list) else [context]
    for item in items:
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            if key.startswith("@"):
                continue
            iri = value.get("@id") if isinstance(value, dict) else value
            if isinstance(iri, str) and ":" in iri:
                found[key] = iri
    return found


def wrap_event(event: dict[str, Any]) -> dict[str, Any]:
    """Wrap a bare event into an EPCISDocument, moving its ``@context`` up (the REST
    binding's ``POST /events`` takes one event; the readers of both syntaxes give the
    rest of the pipeline one shape)."""
    event = dict(event)
    context = event.pop("@context", None)
    doc: dict[str, Any] = {}
    if context is not None:
        doc["@context"] = context
    doc.update(
        {
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": event.get("recordTime") or event.get("eventTime"),
            "epcisBody": {"eventList": [event]},
        }
    )
    return doc
