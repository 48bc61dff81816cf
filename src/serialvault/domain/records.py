"""Bodies of the log records the domain writes, and reading them back.

Each accepted EPCIS event is one log record of kind ``epcis.event`` whose body keeps the
event exactly as received (ALCOA+ "original") together with what is needed to
interpret it again without the source document: the namespace prefixes it uses, its
GS1 event hash, and where it came from (document name, SHA-256 of the document bytes,
position in the document, syntax and EPCIS version). Replaying these bodies is how
``rebuild`` and a point-in-time restore recreate every projection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from serialvault.domain.facts import EventFacts, extract_facts

EVENT = "epcis.event"
PRODUCT = "masterdata.product"
LOCATION = "masterdata.location"
EXCEPTION = "exception"
INIT = "repository.init"


@dataclass(frozen=True, slots=True)
class Source:
    """Where an event came from."""

    document: str
    sha256: str
    syntax: str
    version: str

    def as_dict(self, index: int) -> dict[str, Any]:
        return {
            "document": self.document,
            "sha256": self.sha256,
            "index": index,
            "syntax": self.syntax,
            "epcis_version": self.version,
        }


def event_body(
    event: Mapping[str, Any],
    event_hash: str,
    namespaces: Mapping[str, str],
    source: Source,
    index: int,
) -> dict[str, Any]:
    return {
        "event": event,
        "event_hash": event_hash,
        "namespaces": dict(namespaces),
        "source": source.as_dict(index),
    }


def facts_from_body(body: bytes | str, index: int = 0) -> tuple[EventFacts, dict[str, Any]]:
    """Re-derive the facts of an ``epcis.event`` record (for replay and history)."""
    data = orjson.loads(body)
    facts = extract_facts(data["event"], index, data["event_hash"], data.get("namespaces") or {})
    return facts, data
