"""The GS1 EPCIS event hash ID (CBV 2.0 §8.9): a content identity for every event.

Why: the same event may reach us twice — re-sent by a partner, once as XML and once as
JSON-LD, with its fields in another order or its EPCs written as EPC URIs instead of
GS1 Digital Link URIs. The event hash ID is defined so that all of these give one
value, and any change of content gives another; capture uses it to make re-sending a
no-op and to name events in error messages.

The algorithm (CBV 2.0 §8.9; the reference description and test vectors live in
``../shared/data/event-hash``): build a *pre-hash string* from the event's fields in the
canonical property order, ``key=value`` pairs concatenated without separators, then
hash it and wrap the digest as ``ni:///sha-256;<hex>?ver=CBV2.0`` (RFC 6920). The
normalisation rules, in the order this module applies them:

* ``eventID``, ``recordTime``, ``errorDeclaration`` and comments (``rdfs:comment``)
  are not part of the event's content and are left out; so are fields a document
  lists under a ``…:ignoreFields`` property (see :func:`document_ignore_fields`);
* values are trimmed; numbers lose trailing zeros (``452.0`` → ``452``) — also when
  written as strings, because XML carries every number as text and both syntaxes
  must give one hash;
* timestamps are converted to UTC with exactly three decimals, the third rounded up
  when the fourth is 5–9 (``…03.1415Z`` → ``…03.142Z``);
* CURIEs are expanded with the document's prefixes (``cbv:Comp-x`` →
  ``https://ref.gs1.org/cbv/Comp-x``); CBV URNs become CBV Web URIs
  (``urn:epcglobal:cbv:bizstep:receiving`` → ``https://ref.gs1.org/cbv/BizStep-receiving``);
  bare CBV words of the JSON binding are expanded per field (``in_transit`` →
  ``https://ref.gs1.org/cbv/Disp-in_transit``, sensor ``Temperature`` →
  ``https://gs1.org/voc/Temperature``);
* every GS1 key URI becomes its canonical GS1 Digital Link URI
  (:func:`serialvault.gs1.epc.canonical_key`); URIs that merely look like one but are
  invalid are hashed as written (validation rejects them elsewhere);
* list members (EPCs, quantity elements, business transactions, sensor reports, …)
  are sorted by their complete sub-string; a ``type`` is written before the value it
  qualifies; an empty list is left out;
* user extensions and ILMD fields are written ``{namespace}localName=value``; a nested
  extension object is its name followed by its children; these sub-strings are
  sorted. Extensions inside ``readPoint``, ``bizLocation``, ``sensorElement``,
  ``sensorMetadata`` and ``sensorReport`` follow that element's standard fields.

One deviation from the published property order, forced by the conformance vectors:
``destinationList`` is written *before* ``sourceList`` (the table lists ``sourceList``
first; every vector with both — produced by the reference implementation — has them
the other way round).

Pure and deterministic: no I/O, no clock, no global state besides caches of
identifier conversions.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from serialvault.epcis.model import EpcisDocument, namespaces_from_context
from serialvault.errors import IdentifierError, ValidationError
from serialvault.gs1.epc import canonical_key

__all__ = [
    "CBV_VERSION",
    "HASH_ALGORITHMS",
    "document_hashes",
    "document_ignore_fields",
    "document_prehashes",
    "event_hash",
    "hash_prehash",
    "prehash_string",
]

#: Version tag of the pre-hash rules implemented here (CBV 2.0 §8.9).
CBV_VERSION = "CBV2.0"

#: Digest algorithms by their name in the IANA "Named Information Hash Algorithm
#: Registry" (RFC 6920 §9.4), as the ``ni`` URI carries them.
HASH_ALGORITHMS: dict[str, Callable[[bytes], Any]] = {
    "sha-256": hashlib.sha256,
    "sha-384": hashlib.sha384,
    "sha-512": hashlib.sha512,
    "sha3-256": hashlib.sha3_256,
    "sha3-384": hashlib.sha3_384,
    "sha3-512": hashlib.sha3_512,
}

_CBV = "https://ref.gs1.org/cbv/"
_GS1_VOC = "https://gs1.org/voc/"

#: CBV 1.2 URN vocabulary prefixes and their CBV 2.0 Web URI equivalents (CBV 2.0 §8.9
#: step "URN-based standard vocabulary" and CBV 2.0 §6 for the term names).
_CBV_URNS: tuple[tuple[str, str], ...] = (
    ("urn:epcglobal:cbv:bizstep:", _CBV + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", _CBV + "Disp-"),
    ("urn:epcglobal:cbv:btt:", _CBV + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", _CBV + "SDT-"),
    ("urn:epcglobal:cbv:er:", _CBV + "ER-"),
)

#: Prefixes that are URI schemes, never CURIE prefixes of a value.
_NOT_CURIE = frozenset({"urn", "http", "https"})

#: Top-level fields that are not event content (CBV 2.0 §8.9) or are written first.
_EXCLUDED_TOP = frozenset({"type", "eventID", "recordTime", "errorDeclaration"})
_COMMENT_KEYS = frozenset(
    {"comment", "rdfs:comment", "{http://www.w3.org/2000/01/rdf-schema#}comment"}
)

_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)?")
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_NUMBER_START = frozenset("+-.0123456789")


def _format_float(value: float) -> str:
    """Shortest round-trip form without trailing zeros (CBV 2.0 §8.9: ``1.0`` → ``1``)."""
    if math.isfinite(value) and value.is_integer():
        return str(int(value))
    return repr(value)


def _numeric(text: str) -> str | None:
    """Canonical form of a numeric string, None when ``text`` is not a number."""
    if text[0] not in _NUMBER_START or len(text) > 1000:
        return None
    if _INTEGER.fullmatch(text):
        return str(int(text))
    if _DECIMAL.fullmatch(text):
        return _format_float(float(text))
    return None


def _timestamp(value: Any) -> str:
    """UTC, millisecond precision, ``Z`` (CBV 2.0 §8.9); unparsable text is kept."""
    text = str(value).strip()
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return text
    date, hh, mi, ss, frac, zone = m.groups()
    try:
        moment = datetime.fromisoformat(f"{date}T{hh}:{mi}:{ss}")
    except ValueError:
        return text
    digits = (frac or "") + "0000"
    millis = int(digits[:3]) + (1 if digits[3] >= "5" else 0)
    try:
        moment += timedelta(milliseconds=millis)
        if zone and zone not in ("Z", "z"):
            sign = -1 if zone[0] == "+" else 1
            moment += sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    except OverflowError:  # beyond year 9999 in UTC: validation refuses it by name
        return text
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
        f"{moment.microsecond // 1000:03d}Z"
    )


class _Writer:
    """Value and key normalisation bound to one document's namespace prefixes."""

    __slots__ = ("_namespaces",)

    def __init__(self, namespaces: Mapping[str, str]) -> None:
        self._namespaces = namespaces

    def key(self, key: str) -> str:
        """``prefix:local`` → ``{namespace}local``; full IRIs split at the last / or #."""
        prefix, sep, local = key.partition(":")
        if sep:
            namespace = self._namespaces.get(prefix)
            if namespace is not None and prefix not in _NOT_CURIE:
                return "{" + namespace + "}" + local
            if local.startswith("//"):
                cut = max(key.rfind("/"), key.rfind("#")) + 1
                return "{" + key[:cut] + "}" + key[cut:]
        return key

    def text(self, value: Any) -> str:
        """Canonical text of a field value (see the module docstring for the rules)."""
        if isinstance(value, str):
            return self._string(value.strip())
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return _format_float(value)
        if value is None:
            return ""
        return self._string(str(value).strip())

    def _string(self, text: str) -> str:
        if not text:
            return text
        prefix, sep, rest = text.partition(":")
        if sep:
            namespace = self._namespaces.get(prefix)
            if namespace is not None and prefix not in _NOT_CURIE:
                text = namespace + rest
            elif prefix == "urn" and rest.startswith("epcglobal:cbv:"):
                for urn, web in _CBV_URNS:
                    if text.startswith(urn):
                        text = web + text[len(urn) :]
                        break
        else:
            number = _numeric(text)
            if number is not None:
                return number
        if text.startswith("urn:epc:") or text[:4].lower() == "http":
            try:
                return canonical_key(text)
            except IdentifierError:
                return text  # not a valid GS1 key: hashed as written
        return text

    def vocab(self, value: Any, web_prefix: str) -> str:
        """A CBV vocabulary field: bare words of the JSON binding get ``web_prefix``."""
        if isinstance(value, str):
            word = value.strip()
            if word and ":" not in word:
                return web_prefix + word
        return self.text(value)

    # -- user extensions ------------------------------------------------------------

    def extension(self, key: str, value: Any, out: list[str]) -> None:
        """Append the ``{ns}local=value`` sub-strings of one extension field to ``out``."""
        if isinstance(value, list):
            for item in value:
                self.extension(key, item, out)
            return
        name = self.key(key)
        if name in _COMMENT_KEYS or key in _COMMENT_KEYS:
            return
        if isinstance(value, dict):
            own = value.get("@value", value.get("#text", value.get("@id")))
            children = self.extensions(value)
            text = self.text(own) if own is not None else ""
            out.append(name + ("=" + text if text else "") + "".join(children))
            return
        text = self.text(value)
        out.append(name + "=" + text if text else name)

    def extensions(self, obj: Mapping[str, Any], skip: Collection[str] = ()) -> list[str]:
        """Sorted extension sub-strings of every field of ``obj`` not in ``skip``."""
        out: list[str] = []
        for key, value in obj.items():
            if key in skip or key.startswith("@") or key == "#text":
                continue
            self.extension(key, value, out)
        out.sort()
        return out


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- field writers

_Field = Callable[[_Writer, str, Any], str]


def _simple(w: _Writer, name: str, value: Any) -> str:
    texts = sorted(t for t in (w.text(v) for v in _as_list(value)) if t)
    return "".join(f"{name}={t}" for t in texts)


def _time(w: _Writer, name: str, value: Any) -> str:
    text = _timestamp(value)
    return f"{name}={text}" if text else ""


def _vocab_field(web_prefix: str) -> _Field:
    def write(w: _Writer, name: str, value: Any) -> str:
        text = w.vocab(value, web_prefix)
        return f"{name}={text}" if text else ""

    return write


def _epc_list(w: _Writer, name: str, value: Any) -> str:
    items = sorted(t for t in (w.text(v) for v in _as_list(value)) if t)
    if not items:
        return ""
    return name + "".join("epc=" + t for t in items)


_QUANTITY_FIELDS: tuple[tuple[str, _Field], ...] = (
    ("epcClass", _simple),
    ("quantity", _simple),
    ("uom", _simple),
)


def _ordered(w: _Writer, obj: Mapping[str, Any], fields: tuple[tuple[str, _Field], ...]) -> str:
    """Standard fields of ``obj`` in order, then its extensions (sorted)."""
    parts = [write(w, name, obj[name]) for name, write in fields if name in obj]
    parts.extend(w.extensions(obj, skip=_field_names(fields)))
    return "".join(parts)


@cache
def _field_names(fields: tuple[tuple[str, _Field], ...]) -> frozenset[str]:
    """Names of the standard fields of an element (the rest are its extensions)."""
    return frozenset(name for name, _ in fields)


def _element_list(element: str, fields: tuple[tuple[str, _Field], ...]) -> _Field:
    """A list of objects: ``name`` + sorted(``element`` + fields) (CBV 2.0 §8.9)."""

    def write(w: _Writer, name: str, value: Any) -> str:
        items = sorted(
            s
            for s in (
                _ordered(w, item, fields) for item in _as_list(value) if isinstance(item, dict)
            )
            if s
        )
        if not items:
            return ""
        return name + "".join(element + s for s in items)

    return write


def _typed_list(value_name: str, type_prefix: str) -> _Field:
    """bizTransactionList / sourceList / destinationList: type first, then the value."""
    fields: tuple[tuple[str, _Field], ...] = (
        ("type", _vocab_field(type_prefix)),
        (value_name, _simple),
    )

    def write(w: _Writer, name: str, value: Any) -> str:
        items = sorted(
            s
            for s in (
                _ordered(w, item, fields) for item in _as_list(value) if isinstance(item, dict)
            )
            if s
        )
        return name + "".join(items) if items else ""

    return write


def _persistent_disposition(w: _Writer, name: str, value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    parts: list[str] = []
    for part in ("set", "unset"):
        texts = sorted(
            t for t in (w.vocab(v, _CBV + "Disp-") for v in _as_list(value.get(part))) if t
        )
        parts.extend(f"{part}={t}" for t in texts)
    parts.extend(w.extensions(value, skip=("set", "unset")))
    return name + "".join(parts) if parts else ""


_ID_FIELDS: tuple[tuple[str, _Field], ...] = (("id", _simple),)


def _location(w: _Writer, name: str, value: Any) -> str:
    # a bare URI instead of {"id": …} is tolerated
    body = _ordered(w, value, _ID_FIELDS) if isinstance(value, dict) else _simple(w, "id", value)
    return name + body if body else ""


_SENSOR_METADATA: tuple[tuple[str, _Field], ...] = (
    ("time", _time),
    ("startTime", _time),
    ("endTime", _time),
    ("deviceID", _simple),
    ("deviceMetadata", _simple),
    ("rawData", _simple),
    ("dataProcessingMethod", _simple),
    ("bizRules", _simple),
)

_SENSOR_REPORT: tuple[tuple[str, _Field], ...] = (
    ("type", _vocab_field(_GS1_VOC)),
    ("exception", _vocab_field(_GS1_VOC)),
    ("deviceID", _simple),
    ("deviceMetadata", _simple),
    ("rawData", _simple),
    ("dataProcessingMethod", _simple),
    ("time", _time),
    ("microorganism", _simple),
    ("chemicalSubstance", _simple),
    ("value", _simple),
    ("component", _vocab_field(_CBV + "Comp-")),
    ("stringValue", _simple),
    ("booleanValue", _simple),
    ("hexBinaryValue", _simple),
    ("uriValue", _simple),
    ("minValue", _simple),
    ("maxValue", _simple),
    ("meanValue", _simple),
    ("sDev", _simple),
    ("percRank", _simple),
    ("percValue", _simple),
    ("uom", _simple),
    ("coordinateReferenceSystem", _simple),
)


def _sensor_metadata(w: _Writer, name: str, value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    body = _ordered(w, value, _SENSOR_METADATA)
    return name + body if body else ""


_SENSOR_ELEMENT: tuple[tuple[str, _Field], ...] = (
    ("sensorMetadata", _sensor_metadata),
    ("sensorReport", _element_list("sensorReport", _SENSOR_REPORT)),
)


def _sensor_element_list(w: _Writer, name: str, value: Any) -> str:
    items: list[str] = []
    for element in _as_list(value):
        if not isinstance(element, dict):
            continue
        meta = element.get("sensorMetadata")
        parts = [_sensor_metadata(w, "sensorMetadata", meta)] if meta is not None else []
        reports = _element_list("sensorReport", _SENSOR_REPORT)(w, "", element.get("sensorReport"))
        parts.append(reports)
        parts.extend(w.extensions(element, skip=("sensorMetadata", "sensorReport")))
        body = "".join(parts)
        if body:
            items.append("sensorElement" + body)
    items.sort()
    return name + "".join(items) if items else ""


def _ilmd(w: _Writer, name: str, value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    parts = w.extensions(value)
    return name + "".join(parts) if parts else ""


_QUANTITY_LIST = _element_list("quantityElement", _QUANTITY_FIELDS)

#: The canonical property order (CBV 2.0 §8.9), with ``certificationInfo`` (an EPCIS 2.0
#: event field the table does not list) after the time zone offset as the vectors have
#: it, and ``destinationList``
#: before ``sourceList`` (see the module docstring).
_ORDER: tuple[tuple[str, _Field], ...] = (
    ("eventTime", _time),
    ("eventTimeZoneOffset", _simple),
    ("certificationInfo", _simple),
    ("epcList", _epc_list),
    ("parentID", _simple),
    ("inputEPCList", _epc_list),
    ("childEPCs", _epc_list),
    ("quantityList", _QUANTITY_LIST),
    ("childQuantityList", _QUANTITY_LIST),
    ("inputQuantityList", _QUANTITY_LIST),
    ("outputEPCList", _epc_list),
    ("outputQuantityList", _QUANTITY_LIST),
    ("action", _simple),
    ("transformationID", _simple),
    ("bizStep", _vocab_field(_CBV + "BizStep-")),
    ("disposition", _vocab_field(_CBV + "Disp-")),
    ("persistentDisposition", _persistent_disposition),
    ("readPoint", _location),
    ("bizLocation", _location),
    ("bizTransactionList", _typed_list("bizTransaction", _CBV + "BTT-")),
    ("destinationList", _typed_list("destination", _CBV + "SDT-")),
    ("sourceList", _typed_list("source", _CBV + "SDT-")),
    ("sensorElementList", _sensor_element_list),
    ("ilmd", _ilmd),
)
_STANDARD_TOP = frozenset(name for name, _ in _ORDER) | _EXCLUDED_TOP


# --------------------------------------------------------------------- public API


def prehash_string(
    event: Mapping[str, Any],
    namespaces: Mapping[str, str],
    *,
    ignore_fields: Collection[str] = (),
) -> str:
    """The CBV 2.0 §8.9 pre-hash string of one event (a JSON-LD event dict).

    ``namespaces`` maps CURIE prefixes to namespace IRIs (``EpcisDocument.all_namespaces()``);
    an ``@context`` inside the event adds its own terms for that event.
    ``ignore_fields`` names top-level extension fields to leave out, as written
    (``repository-x:hash``) or expanded (``{https://repository-x.example.com/}hash``).

    >>> prehash_string({"type": "ObjectEvent", "eventTime": "2020-03-04T11:00:30+01:00",
    ...     "eventTimeZoneOffset": "+01:00", "action": "OBSERVE",
    ...     "epcList": ["urn:epc:id:sscc:4012345.0000000333"], "bizStep": "departing"}, {})
    'eventType=ObjectEventeventTime=2020-03-04T10:00:30.000ZeventTimeZoneOffset=+01:00epcListepc=https://id.gs1.org/00/040123450000003338action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-departing'
    """
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ValidationError("cannot compute the event hash: the event has no 'type'")
    local = event.get("@context")
    if local is not None:  # JSON-LD scoping: an event's own prefixes apply to it
        namespaces = {**namespaces, **namespaces_from_context(local)}
    w = _Writer(namespaces)
    parts = ["eventType=", event_type.strip()]
    for name, write in _ORDER:
        if name in event:
            parts.append(write(w, name, event[name]))
    extensions: list[str] = []
    for key, value in event.items():
        if key in _STANDARD_TOP or key.startswith("@"):
            continue
        if ignore_fields and (key in ignore_fields or w.key(key) in ignore_fields):
            continue
        w.extension(key, value, extensions)
    extensions.sort()
    parts.extend(extensions)
    return "".join(parts)


def hash_prehash(prehash: str, algorithm: str = "sha-256") -> str:
    """Wrap the digest of a pre-hash string as an RFC 6920 ``ni`` URI (CBV 2.0 §8.9)."""
    digest = HASH_ALGORITHMS.get(algorithm)
    if digest is None:
        known = ", ".join(HASH_ALGORITHMS)
        raise ValidationError(f"unsupported event hash algorithm {algorithm!r}: use one of {known}")
    return f"ni:///{algorithm};{digest(prehash.encode('utf-8')).hexdigest()}?ver={CBV_VERSION}"


def event_hash(
    event: Mapping[str, Any],
    namespaces: Mapping[str, str],
    algorithm: str = "sha-256",
    *,
    ignore_fields: Collection[str] = (),
) -> str:
    """The event hash ID ``ni:///sha-256;<hex>?ver=CBV2.0`` of one event."""
    return hash_prehash(prehash_string(event, namespaces, ignore_fields=ignore_fields), algorithm)


def document_ignore_fields(doc: EpcisDocument) -> frozenset[str]:
    """Fields a document asks to leave out of its events' hashes.

    Not part of CBV 2.0: the reference implementation (event-hash vectors
    ``*IgnoreFields*``) lets a document carry ``<prefix>:ignoreFields`` — a list of
    repository-specific top-level event fields, such as a repository's own copy of the
    hash — on the document, its header, or the query results. Returned in both
    written and expanded (``{namespace}local``) form.
    """
    w = _Writer(doc.all_namespaces())
    places: list[Any] = [doc.body, doc.header]
    body = doc.body.get("epcisBody")
    if isinstance(body, dict):
        places.append(body.get("queryResults"))
    found: set[str] = set()
    for place in places:
        if not isinstance(place, dict):
            continue
        for key, value in place.items():
            if key.rpartition(":")[2] != "ignoreFields" and not w.key(key).endswith(
                "}ignoreFields"
            ):
                continue
            for name in _as_list(value):
                if isinstance(name, str) and name.strip():
                    found.add(name.strip())
                    found.add(w.key(name.strip()))
    return frozenset(found)


def _document_events(
    doc: EpcisDocument, honour_ignore_fields: bool
) -> Iterable[tuple[dict[str, Any], Mapping[str, str], frozenset[str]]]:
    namespaces = doc.all_namespaces()
    ignore = document_ignore_fields(doc) if honour_ignore_fields else frozenset()
    for event in doc.events:
        yield event, namespaces, ignore


def document_prehashes(doc: EpcisDocument, *, honour_ignore_fields: bool = True) -> list[str]:
    """Pre-hash strings of every event of ``doc``, in document order."""
    return [
        prehash_string(event, ns, ignore_fields=ignore)
        for event, ns, ignore in _document_events(doc, honour_ignore_fields)
    ]


def document_hashes(
    doc: EpcisDocument, algorithm: str = "sha-256", *, honour_ignore_fields: bool = True
) -> list[str]:
    """Event hash IDs of every event of ``doc``, in document order.

    CURIEs and extension keys are expanded with ``doc.all_namespaces()`` (standard
    prefixes and every IRI-valued ``@context`` term or ``xmlns`` declaration).
    ``honour_ignore_fields=False`` hashes every field even when the document declares
    ``ignoreFields`` (see :func:`document_ignore_fields`).
    """
    return [
        hash_prehash(prehash, algorithm)
        for prehash in document_prehashes(doc, honour_ignore_fields=honour_ignore_fields)
    ]
