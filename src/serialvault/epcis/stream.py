"""Read a large EPCIS 2.0 JSON-LD document as a stream of event chunks.

A whole-document parse holds every event in memory at once (a 100 MB document with a
million EPCs needs gigabytes as Python objects). For large documents capture streams
instead, with two passes over the bytes (``ijson``, C backend):

1. :func:`scan_skeleton` builds everything *except* the events — ``@context``, header
   and master data, top-level fields — and counts the events;
2. :func:`iter_event_chunks` yields the events in document order, in chunks of about
   ``max_epcs`` EPC references.

Each chunk is then validated and prepared as a small document made of the skeleton
and that chunk, so the rules and messages are exactly those of a whole-document
capture, with event numbers counted from the start of the document.

Pure with respect to storage: the caller opens the file and hands over a binary stream.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import ijson

from serialvault.epcis.jsonparse import DuplicateKey, UniqueKeys, duplicate_in, plain
from serialvault.epcis.model import EpcisDocument, namespaces_from_context
from serialvault.errors import InputError

#: Documents larger than this are captured as a stream.
LARGE_DOCUMENT = 32 * 1024 * 1024

_EVENT_LISTS = ("epcisBody.eventList", "epcisBody.queryResults.resultsBody.eventList")
_EPC_FIELDS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")


@dataclass(slots=True)
class Skeleton:
    """The document without its events, and where the events are."""

    body: dict[str, Any]
    events_path: str
    event_count: int
    name: str

    def document(self, events: list[dict[str, Any]]) -> EpcisDocument:
        """A document made of the skeleton and ``events`` (validated as a unit)."""
        body = copy.copy(self.body)
        epcis_body = copy.deepcopy(body.get("epcisBody") or {})
        if self.events_path == _EVENT_LISTS[0]:
            epcis_body["eventList"] = events
        else:
            epcis_body.setdefault("queryResults", {}).setdefault("resultsBody", {})["eventList"] = (
                events
            )
        body["epcisBody"] = epcis_body
        return EpcisDocument(
            body=body,
            syntax="json",
            source_version=str(body.get("schemaVersion") or "2.0"),
            name=self.name,
            namespaces=namespaces_from_context(body.get("@context")),
        )


def scan_skeleton(stream: IO[bytes], name: str) -> Skeleton:
    """Pass 1: everything but the events (their list left empty), and how many there are."""
    root = ijson.ObjectBuilder(map_type=UniqueKeys)
    skipping: str | None = None
    item = ""
    count = 0
    events_path = _EVENT_LISTS[0]
    try:
        for prefix, event, value in ijson.parse(stream, use_float=True):
            if skipping is not None:
                if prefix == skipping and event == "end_array":
                    skipping = None
                    root.event("end_array", None)
                elif prefix == item and event not in ("end_map", "end_array", "map_key"):
                    count += 1
                continue
            if prefix in _EVENT_LISTS and event == "start_array":
                skipping, item, events_path = prefix, prefix + ".item", prefix
                root.event("start_array", None)
                continue
            root.event(event, value)
    except ijson.JSONError as exc:
        raise InputError(f"{name}: malformed JSON: {exc}") from None
    except DuplicateKey as exc:
        raise InputError(f"{name}: {exc}") from None
    body = plain(root.value)
    if not isinstance(body, dict):
        raise InputError(f"{name}: an EPCIS document must be a JSON object")
    return Skeleton(body, events_path, count, name)


def iter_event_chunks(
    stream: IO[bytes], skeleton: Skeleton, max_epcs: int
) -> Iterator[list[dict[str, Any]]]:
    """Pass 2: the events in document order, in chunks of about ``max_epcs`` EPCs."""
    chunk: list[dict[str, Any]] = []
    n = 0
    try:
        for ev in ijson.items(
            stream, skeleton.events_path + ".item", use_float=True, map_type=UniqueKeys
        ):
            ev = plain(ev)
            chunk.append(ev)
            if isinstance(ev, dict):
                n += 1 + sum(len(ev.get(k) or ()) for k in _EPC_FIELDS)
            if n >= max_epcs:
                yield chunk
                chunk, n = [], 0
    except ijson.JSONError as exc:
        raise InputError(f"{skeleton.name}: malformed JSON: {exc}") from None
    except (SystemError, DuplicateKey) as exc:  # the C backend wraps what map_type raised
        dup = duplicate_in(exc)
        if dup is None:
            raise
        raise InputError(f"{skeleton.name}: {dup}") from None
    if chunk:
        yield chunk
