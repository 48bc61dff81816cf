"""Read an EPCIS document from bytes, whatever its syntax.

JSON and JSON-LD are told apart from XML by the first non-blank byte; both end in the
same :class:`~serialvault.epcis.model.EpcisDocument`. A bare event (EPCIS 2.0 REST
binding ``POST /events`` accepts one) is wrapped into a one-event document so that the
rest of the pipeline sees one shape.
"""

from __future__ import annotations

from typing import Any

from serialvault.epcis import jsonparse
from serialvault.epcis.model import (
    EVENT_TYPES,
    EpcisDocument,
    namespaces_from_context,
    wrap_event,
)
from serialvault.errors import InputError


def sniff_syntax(data: bytes) -> str:
    """Return ``"json"`` or ``"xml"`` from the first significant byte."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"{", b"["):
        return "json"
    if head == b"<":
        return "xml"
    raise InputError(
        "neither JSON nor XML: the first character is "
        + (repr(head.decode("latin-1")) if head else "missing (empty input)")
    )


def read_document(data: bytes, name: str = "<document>") -> EpcisDocument:
    """Parse ``data`` (JSON-LD or XML, EPCIS 2.0 or 1.2) into an :class:`EpcisDocument`."""
    try:
        syntax = sniff_syntax(data)
    except InputError as exc:
        raise InputError(f"{name}: cannot read: {exc.message}") from None
    if syntax == "xml":
        from serialvault.epcis.xml_reader import read_xml

        return read_xml(data, name)
    return read_json(data, name)


def read_json(data: bytes, name: str = "<document>") -> EpcisDocument:
    """Parse an EPCIS 2.0 JSON / JSON-LD document (EPCIS 2.0 §12)."""
    body: Any = jsonparse.loads(data, name)
    if not isinstance(body, dict):
        raise InputError(
            f"{name}: an EPCIS document must be a JSON object, found {type(body).__name__}"
        )
    if body.get("type") in EVENT_TYPES:
        body = wrap_event(body)
    return EpcisDocument(
        body=body,
        syntax="json",
        source_version=str(body.get("schemaVersion") or "2.0"),
        name=name,
        namespaces=namespaces_from_context(body.get("@context")),
    )
