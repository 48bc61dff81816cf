"""Typed facts drawn from an EPCIS event: what the business rules look at.

An event stays a JSON-LD dict (``epcis.model``); the rules need a handful of its fields
in normalised form — identifiers as canonical keys, CBV values as bare words, times in
UTC, lot and expiry out of the ILMD. ``EventFacts`` is that view, built once per event.

Canonical keys (DESIGN.md "Identifiers"): EPCIS 2.0 allows an EPC as a pure-identity
URN or as a GS1 Digital Link URI; both become one key, the canonical GS1 Digital Link
URI (GS1 Digital Link URI Syntax 1.2 §4.11 as constrained by CBV 2.0 §8.9), so the
same unit is one row whichever form a line or a partner sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from serialvault.epcis.vocab import normalize_bizstep, normalize_disposition
from serialvault.gs1.epc import canonical_key
from serialvault.timefmt import normalize_timestamp

#: Namespace of the CBV master data attributes used in ILMD (CBV 2.0 §10), in the spellings
#: documents use (XML namespace without separator, JSON-LD prefix with one).
_CBVMDA = frozenset({"urn:epcglobal:cbv:mda", "https://ref.gs1.org/cbv/mda", "cbvmda"})

DL_PREFIX = "https://id.gs1.org/"
_SGTIN_PREFIX = "https://id.gs1.org/01/"
_SSCC_PREFIX = "https://id.gs1.org/00/"


def classify_key(key: str) -> tuple[str, str | None]:
    """Return ``(kind, gtin)`` of a canonical key: ``sgtin``, ``sscc`` or ``other``.

    SGTINs and SSCCs are the lifecycle-managed objects of a pharmaceutical site
    (serialised saleable units and cases, logistic units); anything else an event names
    (GRAI, GIAI, non-GS1 URIs) is recorded with the event but has no lifecycle.
    """
    if key.startswith(_SGTIN_PREFIX) and key[36:40] == "/21/":
        return "sgtin", key[22:36]
    if key.startswith(_SSCC_PREFIX) and len(key) == 40:
        return "sscc", None
    return "other", None


def ilmd_value(ilmd: Mapping[str, Any] | None, local: str, namespaces: Mapping[str, str]) -> Any:
    """Find a CBV master-data attribute (e.g. ``lotNumber``) among ILMD keys.

    ILMD keys are namespaced: ``cbvmda:lotNumber`` with the prefix declared in the
    context, or the full IRI. The prefix may be bound to the XML-style namespace
    ``urn:epcglobal:cbv:mda`` or to the JSON-LD one ``urn:epcglobal:cbv:mda:``.
    """
    if not ilmd:
        return None
    for key, value in ilmd.items():
        if not key.endswith(local):
            continue
        head = key[: -len(local)]
        if not head:
            continue
        sep = head[-1]
        if sep not in ":#/":
            continue
        ns = head[:-1]
        resolved = namespaces.get(ns, ns)
        if resolved.rstrip(":#/") in _CBVMDA or ns in _CBVMDA:
            return value
    return None


@dataclass(frozen=True, slots=True)
class EventFacts:
    """The normalised facts of one event (see module docstring)."""

    index: int
    event_type: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    event_time: str
    event_time_offset: str
    event_id: str | None
    event_hash: str
    epcs: tuple[str, ...]
    parent: str | None
    children: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    read_point: str | None
    biz_location: str | None
    lot: str | None
    expiry: str | None
    quantity_classes: tuple[str, ...]
    declaration: Mapping[str, Any] | None

    @property
    def epc_count(self) -> int:
        return (
            len(self.epcs)
            + (1 if self.parent else 0)
            + len(self.children)
            + len(self.inputs)
            + len(self.outputs)
        )

    def label(self) -> str:
        """How messages name this event: position, eventID, hash."""
        ids = ", ".join(x for x in (self.event_id, self.event_hash) if x)
        return f"event #{self.index + 1}" + (f" ({ids})" if ids else "")


def _keys(values: Any, key: Callable[[str], str]) -> tuple[str, ...]:
    if not values:
        return ()
    return tuple(map(key, values))


def _location(value: Any) -> str | None:
    if isinstance(value, dict):
        loc = value.get("id")
        return canonical_key(loc) if isinstance(loc, str) else None
    return None


def extract_facts(
    event: Mapping[str, Any],
    index: int,
    event_hash: str,
    namespaces: Mapping[str, str],
    key: Callable[[str], str] = canonical_key,
) -> EventFacts:
    """Build :class:`EventFacts` from a *validated* event dict.

    Validation (``epcis.validate``) has already checked syntax and vocabulary; an
    identifier that cannot be made canonical still raises ``IdentifierError`` here.
    """
    ilmd = event.get("ilmd")
    lot = ilmd_value(ilmd, "lotNumber", namespaces)
    expiry = ilmd_value(ilmd, "itemExpirationDate", namespaces)
    quantity_classes: list[str] = []
    for list_name in ("quantityList", "childQuantityList", "outputQuantityList"):
        for q in event.get(list_name) or ():
            cls = q.get("epcClass") if isinstance(q, dict) else None
            if isinstance(cls, str):
                quantity_classes.append(cls)
    parent = event.get("parentID")
    decl = event.get("errorDeclaration")
    return EventFacts(
        index=index,
        event_type=str(event.get("type")),
        action=event.get("action"),
        biz_step=normalize_bizstep(event["bizStep"], namespaces) if event.get("bizStep") else None,
        disposition=(
            normalize_disposition(event["disposition"], namespaces)
            if event.get("disposition")
            else None
        ),
        event_time=normalize_timestamp(str(event["eventTime"])),
        event_time_offset=str(event.get("eventTimeZoneOffset", "")),
        event_id=event.get("eventID"),
        event_hash=event_hash,
        epcs=_keys(event.get("epcList"), key),
        parent=key(parent) if isinstance(parent, str) else None,
        children=_keys(event.get("childEPCs"), key),
        inputs=_keys(event.get("inputEPCList"), key),
        outputs=_keys(event.get("outputEPCList"), key),
        read_point=_location(event.get("readPoint")),
        biz_location=_location(event.get("bizLocation")),
        lot=str(lot) if lot is not None else None,
        expiry=str(expiry) if expiry is not None else None,
        quantity_classes=tuple(quantity_classes),
        declaration=decl if isinstance(decl, dict) else None,
    )
