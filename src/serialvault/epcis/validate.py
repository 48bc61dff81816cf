"""Validate an EPCIS document: schema, CBV vocabulary, field checks.

Validation answers one question before anything is recorded: *is this a well-formed
EPCIS 2.0 document?* (no business rules — lifecycle and hierarchy come later). It runs
on the EPCIS 2.0 JSON-LD data shape every reader produces and returns **every** problem
found (bounded by ``max_issues``) as :class:`~serialvault.errors.Issue` values that
name the event (index and eventID), the field path (``epcList[3]``,
``ilmd.cbvmda:itemExpirationDate``) and the offending identifier — DESIGN.md principle
5: the caller must be able to find and fix the input without guessing.

Layers, cheapest first:

1. our JSON schema (:mod:`serialvault.epcis.schema`, compiled Rust validator) — shape,
   required fields per event type, types, formats, unknown unprefixed fields;
2. optional extra schemas (e.g. GS1's official schema, loaded by the CLI from a
   setting) — their issues are labelled with the schema's name;
3. field checks in Python — CBV 2.0 vocabulary values (:mod:`serialvault.epcis.vocab`),
   declared namespace prefixes, RFC 3339 timestamps, time zone offset range,
   non-negative quantities, CBV master-data attributes in ILMD (expiry date, lot), and
   the syntax of GS1 identifiers (EPC URNs and GS1 Digital Link URIs).

An issue the schema already reported for a field is not repeated by a field check.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from serialvault.epcis import vocab
from serialvault.epcis.hashing import document_ignore_fields, event_hash
from serialvault.epcis.limits import DEFAULT_LIMITS, KB, Limits, oversized
from serialvault.epcis.model import EVENT_TYPES, EpcisDocument, namespaces_from_context
from serialvault.epcis.schema import CompiledSchema, SchemaError, builtin_schema
from serialvault.errors import DocumentInvalid, Issue
from serialvault.gs1.charset import CS82, first_outside
from serialvault.gs1.epc import canonical_key

#: Default bound on the issues reported for one document: enough to see every kind of
#: problem, small enough that a 100k-EPC document of bad identifiers stays readable.
MAX_ISSUES = 1000

# Issue codes (stable: the API and exception records expose them).
MISSING_FIELD = "missing-field"
UNKNOWN_FIELD = "unknown-field"
WRONG_TYPE = "wrong-type"
BAD_FORMAT = "bad-format"
SCHEMA = "schema"
EXTRA_SCHEMA = "extra-schema"
VOCABULARY = "vocabulary"
NAMESPACE = "namespace"
TIMESTAMP = "timestamp"
TIME_ZONE = "time-zone"
QUANTITY = "quantity"
ILMD = "ilmd"
IDENTIFIER = "identifier"
TRUNCATED = "truncated"

#: EPCIS 2.0 section defining each event type (for messages).
EVENT_SECTIONS: dict[str, str] = {
    "ObjectEvent": "EPCIS 2.0 §7.4.2",
    "AggregationEvent": "EPCIS 2.0 §7.4.3",
    "TransactionEvent": "EPCIS 2.0 §7.4.4",
    "TransformationEvent": "EPCIS 2.0 §7.4.5",
    "AssociationEvent": "EPCIS 2.0 §7.4.6",
}

_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
#: Objects inside an event whose own keys may carry namespaced extensions (EPCIS 2.0 §6.3).
_EXTENSIBLE = ("readPoint", "bizLocation", "errorDeclaration", "ilmd")
_CBV_MDA = "urn:epcglobal:cbv:mda"
#: CBV 2.0 ILMD attributes (instance/lot master data) whose value is an xsd:date.
_ILMD_DATES = ("itemExpirationDate", "bestBeforeDate", "sellByDate")

# RFC 3339 §5.6 date-time: full-date "T" full-time, with a mandatory offset.
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$"
)
# XML Schema 1.1 Part 2 §3.3.9 xsd:date, with the optional time zone.
_XSD_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:Z|[+-](\d{2}):(\d{2}))?$")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_FULL_IRI_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
#: URIs that may be GS1 identifiers: EPC URIs (TDS §6) and GS1 Digital Link URIs (any
#: host, GS1 Digital Link 1.2 §4); the identifier parser decides the rest.
_CHECKED_SCHEMES = ("urn:epc:", "https://", "http://")


def validate_document(
    doc: EpcisDocument,
    *,
    extra_schemas: Iterable[CompiledSchema | Any] = (),
    max_issues: int = MAX_ISSUES,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Issue]:
    """Every problem in ``doc`` (at most ``max_issues``, then one "truncated" issue).

    A name or value longer than ``limits.field_bytes`` is reported first and alone
    (``field-too-large``, naming the event and the field): the schema's messages quote
    the values they refuse, and a megabyte of one sender's text belongs neither in a
    message nor in the exception register.

    ``extra_schemas`` are further compiled schemas (:func:`~serialvault.epcis.schema.
    compile_schema`, or a raw ``jsonschema_rs`` validator) checked after ours; an issue
    they raise on a field we already reported is not repeated.

    An empty list means the document is valid EPCIS 2.0 as far as the standard's data
    definition and CBV go; business rules are checked elsewhere.
    """
    out = _Issues(doc, max_issues)
    if _too_large(doc, limits.field_bytes, out):
        return out.result()
    _schema_issues(builtin_schema(), doc, out, extra=False)
    for extra in extra_schemas:
        if out.truncated:
            break
        _schema_issues(_as_compiled(extra), doc, out, extra=True)
    if not out.truncated:
        _check_document(doc, out)
    namespaces = document_namespaces(doc)
    for index, event in enumerate(doc.events):
        if out.truncated:
            break
        if isinstance(event, dict):
            _check_event(index, event, namespaces, out)
    return out.result()


def _too_large(doc: EpcisDocument, limit: int, out: _Issues) -> bool:
    """Add a ``field-too-large`` issue per oversized name or value; whether any was."""
    rest = {k: v for k, v in doc.body.items() if k != "epcisBody"}
    found: list[tuple[int | None, str, int]] = [(None, p, n) for p, n in oversized(rest, "", limit)]
    for i, event in enumerate(doc.events):
        found += [(i, p, n) for p, n in oversized(event, "", limit)]
        if len(found) > out.capacity:
            break
    for index, path, size in found:
        out.add(
            f"{path} is {size:,} bytes, more than the limit of {limit:,} bytes"
            f" ({limit / KB:g} KB) for a single name or value; raise SERIALVAULT_MAX_FIELD_KB"
            " if such values are genuine",
            "field-too-large",
            index,
            path,
        )
    return bool(found)


def require_valid(
    doc: EpcisDocument, *, extra_schemas: Iterable[CompiledSchema | Any] = ()
) -> None:
    """Raise :class:`~serialvault.errors.DocumentInvalid` listing every issue, if any."""
    issues = validate_document(doc, extra_schemas=extra_schemas)
    if issues:
        raise DocumentInvalid(doc.name, issues)


# --------------------------------------------------------------------------- collector


class _Issues:
    """Collects issues: bounded, de-duplicated by (event, field), ordered by event.

    Once ``max_issues`` are held, the next issue offered sets ``truncated`` and callers
    stop looking: the report then says truthfully that there was more.
    """

    __slots__ = ("_doc", "_events", "_items", "_located", "_max", "full", "truncated")

    def __init__(self, doc: EpcisDocument, max_issues: int) -> None:
        self._doc = doc
        self._events = doc.events
        self._items: list[Issue] = []
        self._located: set[tuple[int | None, str | None]] = set()
        self._max = max(1, max_issues)
        self.full = False
        self.truncated = False

    @property
    def capacity(self) -> int:
        """How many issues the collector holds before it reports truncation."""
        return self._max

    def event_id(self, index: int | None) -> str | None:
        if index is None or index >= len(self._events):
            return None
        event = self._events[index]
        eid = event.get("eventID") if isinstance(event, dict) else None
        return eid if isinstance(eid, str) else None

    def add(
        self,
        message: str,
        code: str,
        index: int | None = None,
        field: str | None = None,
        identifier: str | None = None,
    ) -> None:
        """Record one issue unless one is already recorded for the same location."""
        if self.full:
            self.truncated = True
            return
        key = (index, field)
        if key in self._located:
            return
        self._located.add(key)
        self._items.append(
            Issue(
                message=message,
                code=code,
                event_index=index,
                event_id=self.event_id(index),
                field=field,
                identifier=identifier,
            )
        )
        if len(self._items) >= self._max:
            self.full = True

    def result(self) -> list[Issue]:
        items = sorted(self._items, key=lambda i: -1 if i.event_index is None else i.event_index)
        hashes = self._event_hashes({i.event_index for i in items if i.event_index is not None})
        if hashes:
            items = [
                replace(i, event_hash=hashes.get(i.event_index)) if i.event_index is not None else i
                for i in items
            ]
        if self.truncated:
            items.append(
                Issue(
                    message=f"more than {self._max} problems: validation stopped after the "
                    f"first {self._max}",
                    code=TRUNCATED,
                )
            )
        return items

    def _event_hashes(self, indexes: set[int]) -> dict[int, str]:
        """GS1 event hash IDs (CBV 2.0 §8.9) of the events with issues, when computable.

        The hash names an event even when it has no eventID, so an operator can find it
        in the source system. Best effort: the event is invalid, and a field the hash
        needs may be missing or of the wrong type — then the issue simply has no hash.
        """
        if not indexes:
            return {}
        namespaces = self._doc.all_namespaces()
        try:
            ignore = document_ignore_fields(self._doc)
        except Exception:  # a label on a report about bad input must never fail it
            ignore = frozenset()
        found: dict[int, str] = {}
        for index in indexes:
            event = self._events[index] if index < len(self._events) else None
            if not isinstance(event, dict):
                continue
            try:
                found[index] = event_hash(event, namespaces, ignore_fields=ignore)
            except Exception:  # same: best effort on an event already known to be bad
                continue
        return found


# --------------------------------------------------------------------------- schema issues


def _as_compiled(schema: CompiledSchema | Any) -> CompiledSchema:
    if isinstance(schema, CompiledSchema):
        return schema
    if hasattr(schema, "iter_errors"):
        return CompiledSchema(name="extra schema", schema={}, validator=schema)
    raise TypeError(f"not a compiled schema: {schema!r}")


def _schema_issues(
    schema: CompiledSchema, doc: EpcisDocument, out: _Issues, *, extra: bool
) -> None:
    xml = doc.syntax != "json"
    for err in schema.errors(doc.body):
        if out.truncated:
            return
        for index, field, message, code, identifier in _describe(err, doc, schema.schema):
            # XML has namespaces instead of a JSON-LD @context (EPCIS 2.0 XML binding).
            if xml and field == "@context" and code == MISSING_FIELD:
                continue
            if extra:
                message = f"{schema.name}: {message}"
                code = EXTRA_SCHEMA
            out.add(message, code, index, field, identifier)


def _locate(path: Sequence[str | int]) -> tuple[int | None, list[str | int]]:
    """Split an instance path into (event index, path inside the event)."""
    for i in range(len(path) - 1):
        if path[i] == "eventList" and isinstance(path[i + 1], int):
            return int(path[i + 1]), list(path[i + 2 :])
    return None, list(path)


def field_path(segments: Iterable[str | int]) -> str:
    """``["quantityList", 0, "quantity"]`` → ``quantityList[0].quantity``."""
    text = ""
    for seg in segments:
        if isinstance(seg, int):
            text += f"[{seg}]"
        else:
            text += f".{seg}" if text else str(seg)
    return text


def _join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


def _schema_node(schema: Mapping[str, Any], path: Sequence[str | int]) -> Any:
    node: Any = schema
    for seg in path:
        try:
            node = node[seg]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _describe_required(
    err: SchemaError,
    index: int | None,
    base: str,
    inner: list[str | int],
    where: str,
    node: Any,
) -> tuple[int | None, str | None, str, str, str | None]:
    """A missing field, with the field that made it required (``dependentRequired``)."""
    prop = str(err.details.get("property", "?"))
    keyword = err.schema_path[-1] if err.schema_path else ""
    value = err.instance
    if keyword == "dependentRequired" and isinstance(node, Mapping):
        deps = node.get("dependentRequired", {})
        given = [
            k for k, req in deps.items() if prop in req and isinstance(value, dict) and k in value
        ]
        cause = f" because {given[0]!r} is given" if given else ""
        return index, _join(base, prop), f"{prop!r} is required{cause}", MISSING_FIELD, None
    message = err.rule_message or f"required field {prop!r} is missing from {where}"
    if prop == "@context" and not inner:
        message = (
            "required field '@context' is missing: an EPCIS 2.0 JSON-LD document must "
            "declare its JSON-LD context (EPCIS 2.0 §12)"
        )
    return index, _join(base, prop), message, MISSING_FIELD, None


def _describe(
    err: SchemaError, doc: EpcisDocument, schema: Mapping[str, Any]
) -> Iterator[tuple[int | None, str | None, str, str, str | None]]:
    """Turn one schema error into issues: (event index, field, message, code, identifier)."""
    index, inner = _locate(err.instance_path)
    base = field_path(inner)
    where = _owner(doc, index, inner)
    value = err.instance
    kind = err.kind
    node = _schema_node(schema, err.schema_path[:-1])

    if kind == "Required":
        yield _describe_required(err, index, base, inner, where, node)
        return
    if kind in ("AdditionalProperties", "UnevaluatedProperties"):
        allowed = sorted(node.get("properties", {})) if isinstance(node, Mapping) else []
        extensible = isinstance(node, Mapping) and bool(node.get("patternProperties"))
        for name in err.details.get("unexpected", []):
            message = _unknown_field_message(str(name), where, allowed, extensible, base)
            yield index, _join(base, str(name)), message, UNKNOWN_FIELD, None
        return

    field = _join(base, err.rule_field) if err.rule_field else base or None
    label = field or where
    if err.rule_message:
        yield index, field, err.rule_message, SCHEMA, None
    elif kind == "Type":
        types = " or ".join(_TYPE_NAMES.get(t, t) for t in err.details.get("types", []))
        yield (
            index,
            field,
            f"{label} must be {types}, found {_describe_value(value)}",
            WRONG_TYPE,
            None,
        )
    elif kind == "Format":
        fmt = str(err.details.get("format", ""))
        ident = value if fmt in ("uri", "iri") and isinstance(value, str) else None
        yield index, field, _format_message(label, fmt, value), BAD_FORMAT, ident
    elif kind == "Pattern":
        yield (
            index,
            field,
            _pattern_message(label, inner, value, str(err.details.get("pattern"))),
            BAD_FORMAT,
            None,
        )
    elif kind in ("Enum", "Constant"):
        yield index, field, _enum_message(label, index, inner, value, err), SCHEMA, None
    elif kind == "MinItems":
        yield index, field, f"{label} must not be empty", SCHEMA, None
    elif kind == "MinLength":
        yield index, field, f"{label} must not be an empty string", SCHEMA, None
    elif kind == "MinProperties" and inner and inner[-1] == "persistentDisposition":
        yield (
            index,
            field,
            "persistentDisposition must set or unset at least one disposition (EPCIS 2.0 §7.3.5)",
            SCHEMA,
            None,
        )
    else:
        # Generic wording (mostly an extra schema's rules); the validator's own message
        # can quote a whole event, so it is cut to a readable length.
        text = err.message if len(err.message) <= 300 else err.message[:297] + "..."
        yield index, field, f"{label}: {text}", SCHEMA, None


_TYPE_NAMES = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "array": "a list",
    "object": "an object",
    "boolean": "true or false",
    "null": "null",
}


def _owner(doc: EpcisDocument, index: int | None, inner: list[str | int]) -> str:
    """Words for the object an issue is about ("this ObjectEvent", "the EPCISDocument")."""
    if index is None:
        if not inner:
            return f"the {doc.document_type or 'document'}"
        return field_path(inner)
    if not inner:
        events = doc.events
        etype = (
            events[index].get("type")
            if index < len(events) and isinstance(events[index], dict)
            else None
        )
        if isinstance(etype, str) and etype in EVENT_SECTIONS:
            return f"this {etype} ({EVENT_SECTIONS[etype]})"
        return "this event"
    return field_path(inner)


def _describe_value(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


def _unknown_field_message(
    name: str, where: str, allowed: list[str], extensible: bool, base: str
) -> str:
    if base.endswith("ilmd") and base.split(".")[-1] == "ilmd":
        return (
            f"ILMD field {name!r} has no namespace: ILMD holds only namespaced attributes "
            f"('prefix:{name}' with the prefix declared in @context, or CBV master data "
            "such as 'cbvmda:lotNumber'), EPCIS 2.0 §7.3"
        )
    msg = f"unknown field {name!r} in {where}: EPCIS 2.0 defines no such field here"
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.75)
    if close:
        msg += f"; did you mean {close[0]!r}?"
    elif extensible:
        msg += (
            f"; a user extension must be namespaced ('prefix:{name}' with the prefix"
            " declared in @context, EPCIS 2.0 §6.3)"
        )
    elif allowed:
        msg += f"; allowed: {', '.join(allowed)}"
    return msg


def _format_message(label: str, fmt: str, value: Any) -> str:
    if fmt == "date-time":
        return (
            f"{label} {value!r} is not an RFC 3339 date-time with a time zone offset "
            "(e.g. 2026-07-22T06:45:00.000+02:00), EPCIS 2.0 §7.4.1"
        )
    if fmt in ("uri", "iri"):
        return (
            f"{label} {value!r} is not an absolute URI (RFC 3986 §4.3); EPCIS 2.0"
            " identifiers are URIs"
        )
    if fmt == "date":
        return f"{label} {value!r} is not a date (YYYY-MM-DD)"
    return f"{label} {value!r} is not a valid {fmt}"


def _pattern_message(label: str, inner: list[str | int], value: Any, pattern: str) -> str:
    last = inner[-1] if inner else ""
    if last == "eventTimeZoneOffset":
        return (
            f"eventTimeZoneOffset {value!r} is not of the form +hh:mm or -hh:mm (EPCIS 2.0 §7.4.1)"
        )
    if last == "uom":
        return (
            f"uom {value!r} is not a UN/ECE Recommendation 20 unit code (2–3 upper-case"
            " letters or digits, e.g. KGM)"
        )
    if last == "hexBinaryValue":
        return f"hexBinaryValue {value!r} is not hexadecimal bytes (pairs of 0-9, A-F)"
    return f"{label} {value!r} does not match the pattern {pattern}"


def _enum_message(
    label: str, index: int | None, inner: list[str | int], value: Any, err: SchemaError
) -> str:
    last = inner[-1] if inner else ""
    if last == "action":
        return vocab.action_message(value)
    options = err.details.get("options") or [err.details.get("expected_value")]
    options = [str(o) for o in options if o is not None]
    if last == "type" and set(options) <= set(EVENT_TYPES) | {
        "EPCISDocument",
        "EPCISQueryDocument",
    }:
        what = "an EPCIS 2.0 event type" if index is not None else "an EPCIS 2.0 document type"
        msg = f"{value!r} is not {what} ({', '.join(options)})"
    else:
        msg = f"{label} {value!r} is not one of {', '.join(options)}"
    if isinstance(value, str):
        close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
        if close:
            msg += f"; did you mean {close[0]!r}?"
    return msg


# --------------------------------------------------------------------------- field checks


def timestamp_problem(value: str) -> str | None:
    """Why ``value`` is not an RFC 3339 date-time with offset (EPCIS 2.0 §7.4.1), or None.

    Checks the calendar too (no 30 February, hour ≤ 23, offset hour ≤ 23). A leap second
    (``:60``), which RFC 3339 §5.6 allows, is refused by name: EPCIS 2.0 §7.3.1 defines
    eventTime as an xsd:dateTime, whose seconds are below 60 (XSD 1.1 Part 2 §3.3.7), and
    the instant could not be stored or hashed (CBV 2.0 §8.9) the same on every system.
    So is an instant outside years 0001–9999 once in UTC.

    >>> timestamp_problem("2026-07-22T06:45:00+02:00") is None
    True
    >>> timestamp_problem("2026-02-30T06:45:00Z")
    'day 30 does not exist in 2026-02'
    """
    m = _RFC3339.match(value)
    if m is None:
        if re.match(r"^\d{4}-\d{2}-\d{2}[Tt][0-9:.]+$", value):
            return "it has no time zone offset (Z or ±hh:mm)"
        return "it is not of the form YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)"
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    problem = _date_problem(year, month, day)
    if problem:
        return problem
    if hour > 23 or minute > 59 or second > 60:
        return f"time {m.group(4)}:{m.group(5)}:{m.group(6)} does not exist"
    if second == 60:
        return "a leap second (:60) is not an xsd:dateTime (EPCIS 2.0 §7.3.1)"
    if m.group(8) is not None and (int(m.group(8)) > 23 or int(m.group(9)) > 59):
        return f"offset {m.group(7)}{m.group(8)}:{m.group(9)} does not exist"
    if m.group(8) is not None:  # in UTC it must stay within years 0001-9999 (xsd:dateTime
        # allows more; no engine, report or the CBV §8.9 hash form can hold it)
        shift = (int(m.group(8)) * 60 + int(m.group(9))) * (-1 if m.group(7) == "+" else 1)
        minutes = hour * 60 + minute + shift
        if (year, month, day) == (1, 1, 1) and minutes < 0:
            return "in UTC it falls before 0001-01-01T00:00:00Z"
        if (year, month, day) == (9999, 12, 31) and minutes >= 24 * 60:
            return "in UTC it falls after 9999-12-31T23:59:59Z"
    return None


def xsd_date_problem(value: str) -> str | None:
    """Why ``value`` is not an xsd:date (``YYYY-MM-DD``, optional zone), or None."""
    m = _XSD_DATE.match(value)
    if m is None:
        return "it is not of the form YYYY-MM-DD"
    return _date_problem(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def _date_problem(year: int, month: int, day: int) -> str | None:
    if year < 1:  # XSD 1.1 allows year 0000 (1 BCE); no engine, report or hash form can
        return "year 0000 is outside years 0001–9999, the dates serialvault can record"
    if not 1 <= month <= 12:
        return f"month {month:02d} does not exist"
    try:
        date(year, month, day)
    except ValueError:
        return f"day {day:02d} does not exist in {year:04d}-{month:02d}"
    return None


def offset_problem(value: str) -> str | None:
    """EPCIS 2.0 §7.4.1: eventTimeZoneOffset between -14:00 and +14:00, minutes < 60."""
    m = _OFFSET.match(value)
    if m is None:
        return None  # the schema reports the form
    hours, minutes = int(m.group(2)), int(m.group(3))
    if minutes > 59 or hours * 60 + minutes > 14 * 60:
        return f"eventTimeZoneOffset {value!r} is outside -14:00..+14:00 (EPCIS 2.0 §7.4.1)"
    return None


def lot_problem(value: str) -> str | None:
    """GS1 General Specifications §3.4.1 AI (10): 1–20 characters of set 82 (§7.11)."""
    if not 1 <= len(value) <= 20:
        return (
            f"lot number {value!r} has {len(value)} characters; a GS1 batch/lot (AI 10)"
            " has 1 to 20 (GS1 General Specifications §3.4.1)"
        )
    bad = first_outside(value, CS82)
    if bad is not None:
        return (
            f"lot number {value!r} contains {bad!r}, which is not in GS1 AI encodable"
            " character set 82 (GS1 General Specifications §7.11)"
        )
    return None


def _check_document(doc: EpcisDocument, out: _Issues) -> None:
    body = doc.body
    created = body.get("creationDate")
    if isinstance(created, str):
        problem = timestamp_problem(created)
        if problem:
            out.add(
                f"creationDate {created!r} is not a valid date-time: {problem}",
                TIMESTAMP,
                None,
                "creationDate",
            )
    namespaces = document_namespaces(doc)
    for key in body:
        _check_key(key, namespaces, None, "", out)
    header = body.get("epcisHeader")
    if isinstance(header, dict):
        _check_extension_keys(header, namespaces, None, "epcisHeader", out)


def _check_event(
    index: int, event: dict[str, Any], namespaces: Mapping[str, str], out: _Issues
) -> None:
    """Every field check of one event, in the order of EPCIS 2.0 §7.4: times,
    vocabulary, quantities, identifiers, extensions and ILMD."""
    context = event.get("@context")
    if context is not None:
        namespaces = {**namespaces, **namespaces_from_context(context)}
    for check in (_check_times, _check_event_vocab, _check_quantities, _check_event_ids):
        check(index, event, namespaces, out)
        if out.truncated:
            return
    _check_extensions(index, event, namespaces, out)


def _check_times(
    index: int, event: dict[str, Any], namespaces: Mapping[str, str], out: _Issues
) -> None:
    """Times and the time zone offset (EPCIS 2.0 §7.4.1)."""
    for name in ("eventTime", "recordTime"):
        value = event.get(name)
        if isinstance(value, str):
            _check_time(value, index, name, out)
    offset = event.get("eventTimeZoneOffset")
    if isinstance(offset, str):
        problem = offset_problem(offset)
        if problem:
            out.add(problem, TIME_ZONE, index, "eventTimeZoneOffset")


def _check_event_vocab(
    index: int, event: dict[str, Any], namespaces: Mapping[str, str], out: _Issues
) -> None:
    """CBV 2.0 §7 vocabulary: bizStep, disposition, business transaction, source and
    destination types, error reasons, sensor data."""
    _check_vocab("bizstep", event.get("bizStep"), namespaces, index, "bizStep", out)
    _check_vocab("disposition", event.get("disposition"), namespaces, index, "disposition", out)
    persistent = event.get("persistentDisposition")
    if isinstance(persistent, dict):
        for part in ("set", "unset"):
            for i, value in _items(persistent.get(part)):
                _check_vocab(
                    "disposition",
                    value,
                    namespaces,
                    index,
                    f"persistentDisposition.{part}[{i}]",
                    out,
                )
    for i, bt in _items(event.get("bizTransactionList")):
        if isinstance(bt, dict):
            _check_vocab(
                "btt", bt.get("type"), namespaces, index, f"bizTransactionList[{i}].type", out
            )
            _check_identifier(
                bt.get("bizTransaction"), index, f"bizTransactionList[{i}].bizTransaction", out
            )
    for list_name, id_name in (("sourceList", "source"), ("destinationList", "destination")):
        for i, sd in _items(event.get(list_name)):
            if isinstance(sd, dict):
                _check_vocab(
                    "sdt", sd.get("type"), namespaces, index, f"{list_name}[{i}].type", out
                )
                _check_identifier(sd.get(id_name), index, f"{list_name}[{i}].{id_name}", out)
    declaration = event.get("errorDeclaration")
    if isinstance(declaration, dict):
        _check_vocab(
            "error_reason",
            declaration.get("reason"),
            namespaces,
            index,
            "errorDeclaration.reason",
            out,
        )
        when = declaration.get("declarationTime")
        if isinstance(when, str):
            _check_time(when, index, "errorDeclaration.declarationTime", out)
    for i, element in _items(event.get("sensorElementList")):
        if isinstance(element, dict):
            _check_sensor_element(element, namespaces, index, f"sensorElementList[{i}]", out)


def _check_quantities(
    index: int, event: dict[str, Any], namespaces: Mapping[str, str], out: _Issues
) -> None:
    """Quantity lists (EPCIS 2.0 §7.3.3.3): no negative quantity, a valid class."""
    for list_name in _QUANTITY_LISTS:
        for i, element in _items(event.get(list_name)):
            if not isinstance(element, dict):
                continue
            quantity = element.get("quantity")
            if (
                isinstance(quantity, int | float)
                and not isinstance(quantity, bool)
                and quantity < 0
            ):
                out.add(
                    f"quantity {quantity!r} is negative; a quantity counts or measures objects "
                    "and cannot be below zero (EPCIS 2.0 §7.3.3.3)",
                    QUANTITY,
                    index,
                    f"{list_name}[{i}].quantity",
                )
            _check_identifier(element.get("epcClass"), index, f"{list_name}[{i}].epcClass", out)


def _check_event_ids(
    index: int, event: dict[str, Any], namespaces: Mapping[str, str], out: _Issues
) -> None:
    """Identifiers (EPC Tag Data Standard §6, GS1 Digital Link §4): every EPC list, the
    parent, read point and business location."""
    for list_name in _EPC_LISTS:
        epcs = event.get(list_name)
        if not isinstance(epcs, list):
            continue
        # The hot loop (100k EPCs per document): the parser inline, no helper calls.
        for i, epc in enumerate(epcs):
            if isinstance(epc, str) and epc.startswith(_CHECKED_SCHEMES):
                try:
                    canonical_key(epc)
                except ValueError as exc:
                    out.add(str(exc), IDENTIFIER, index, f"{list_name}[{i}]", epc)
                    if out.truncated:
                        return
    _check_identifier(event.get("parentID"), index, "parentID", out)
    for place in ("readPoint", "bizLocation"):
        loc = event.get(place)
        if isinstance(loc, dict):
            _check_identifier(loc.get("id"), index, f"{place}.id", out)


def _check_extensions(
    index: int, event: dict[str, Any], namespaces: Mapping[str, str], out: _Issues
) -> None:
    """Extensions (EPCIS 2.0 §6.3) and ILMD (EPCIS 2.0 §7.3, CBV 2.0 ILMD attributes)."""
    _check_extension_keys(event, namespaces, index, "", out)
    for name in _EXTENSIBLE:
        sub = event.get(name)
        if isinstance(sub, dict):
            _check_extension_keys(sub, namespaces, index, name, out)
    ilmd = event.get("ilmd")
    if isinstance(ilmd, dict):
        _check_ilmd(ilmd, namespaces, index, out)


def document_namespaces(doc: EpcisDocument) -> dict[str, str]:
    """Every prefix the document declares (and the standard ones), mapped to its IRI."""
    return doc.all_namespaces()


def _items(value: Any) -> Iterator[tuple[int, Any]]:
    if isinstance(value, list):
        yield from enumerate(value)


def _check_time(value: str, index: int | None, field: str, out: _Issues) -> None:
    problem = timestamp_problem(value)
    if problem:
        out.add(
            f"{field.split('.')[-1]} {value!r} is not a valid date-time: {problem}"
            " (RFC 3339, EPCIS 2.0 §7.4.1)",
            TIMESTAMP,
            index,
            field,
        )


def _check_vocab(
    kind: str, value: Any, namespaces: Mapping[str, str], index: int, field: str, out: _Issues
) -> None:
    if value is None or not isinstance(value, str):
        return  # absent, or a type error the schema reports
    problem = vocab.problem(kind, value, namespaces)
    if problem:
        out.add(problem, VOCABULARY, index, field, value)


def _check_sensor_element(
    element: dict[str, Any], namespaces: Mapping[str, str], index: int, base: str, out: _Issues
) -> None:
    _check_extension_keys(element, namespaces, index, base, out)
    metadata = element.get("sensorMetadata")
    if isinstance(metadata, dict):
        _check_extension_keys(metadata, namespaces, index, f"{base}.sensorMetadata", out)
        for name in ("time", "startTime", "endTime"):
            value = metadata.get(name)
            if isinstance(value, str):
                _check_time(value, index, f"{base}.sensorMetadata.{name}", out)
    for j, report in _items(element.get("sensorReport")):
        if not isinstance(report, dict):
            continue
        where = f"{base}.sensorReport[{j}]"
        _check_extension_keys(report, namespaces, index, where, out)
        _check_vocab(
            "measurement_type", report.get("type"), namespaces, index, f"{where}.type", out
        )
        _check_vocab(
            "sensor_alert_type",
            report.get("exception"),
            namespaces,
            index,
            f"{where}.exception",
            out,
        )
        value = report.get("time")
        if isinstance(value, str):
            _check_time(value, index, f"{where}.time", out)


def _check_key(
    key: str, namespaces: Mapping[str, str], index: int | None, field: str, out: _Issues
) -> None:
    """A namespaced key's prefix must be declared (EPCIS 2.0 §6.3; JSON-LD 1.1 compact IRIs)."""
    if ":" not in key or key.startswith("@") or _FULL_IRI_KEY.match(key):
        return
    prefix = key.split(":", 1)[0]
    if prefix in namespaces or prefix.lower() in vocab.URI_SCHEMES:
        return
    out.add(
        f"extension field {key!r} uses the prefix {prefix!r}, which is not declared in @context "
        "(EPCIS 2.0 §6.3: an extension is namespaced by a declared prefix or written as a"
        " full IRI)",
        NAMESPACE,
        index,
        _join(field, key),
    )


def _check_extension_keys(
    obj: Mapping[str, Any],
    namespaces: Mapping[str, str],
    index: int | None,
    base: str,
    out: _Issues,
) -> None:
    """Check the prefixes of ``obj``'s namespaced keys and of keys nested in their values."""
    for key, value in obj.items():
        if ":" in key and not key.startswith("@"):
            _check_key(key, namespaces, index, base, out)
            _check_nested(value, namespaces, index, _join(base, key), out, depth=0)


def _check_nested(
    value: Any,
    namespaces: Mapping[str, str],
    index: int | None,
    base: str,
    out: _Issues,
    depth: int,
) -> None:
    # Inside an extension the content is the user's own; prefixed keys there must still
    # resolve, unprefixed ones are plain JSON members. Depth is bounded against abuse.
    if depth > 32:
        return
    if isinstance(value, dict):
        for key, sub in value.items():
            _check_key(key, namespaces, index, base, out)
            _check_nested(sub, namespaces, index, _join(base, key), out, depth + 1)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            _check_nested(sub, namespaces, index, f"{base}[{i}]", out, depth + 1)


def _mda_name(key: str, namespaces: Mapping[str, str]) -> str | None:
    """The CBV master-data attribute a key names (``cbvmda:lotNumber`` → ``lotNumber``)."""
    if key.startswith(_CBV_MDA + ":"):
        return key[len(_CBV_MDA) + 1 :]
    if ":" not in key:
        return None
    prefix, local = key.split(":", 1)
    ns = namespaces.get(prefix)
    if ns is not None and ns.rstrip(":#/") == _CBV_MDA:
        return local
    return None


def _check_ilmd(
    ilmd: Mapping[str, Any], namespaces: Mapping[str, str], index: int, out: _Issues
) -> None:
    """CBV 2.0 ILMD attributes with a defined type: dates and the lot number."""
    for key, value in ilmd.items():
        name = _mda_name(key, namespaces)
        if name is None:
            continue
        field = f"ilmd.{key}"
        if name in _ILMD_DATES:
            if not isinstance(value, str):
                out.add(
                    f"{key} must be a date string YYYY-MM-DD, found {_describe_value(value)}",
                    ILMD,
                    index,
                    field,
                )
                continue
            problem = xsd_date_problem(value)
            if problem:
                out.add(
                    f"{key} {value!r} is not a valid xsd:date: {problem} (CBV 2.0 ILMD attributes)",
                    ILMD,
                    index,
                    field,
                    value,
                )
        elif name == "lotNumber":
            if not isinstance(value, str):
                out.add(
                    f"{key} must be a string, found {_describe_value(value)}", ILMD, index, field
                )
                continue
            problem = lot_problem(value)
            if problem:
                out.add(problem, ILMD, index, field, value)


# --------------------------------------------------------------------------- identifiers


def identifier_problem(value: str) -> str | None:
    """Why ``value`` is not a valid GS1 identifier URI, or None.

    Only URIs that claim to be GS1 keys are judged — EPC URIs (``urn:epc:…``, EPC Tag
    Data Standard §6, §8) and GS1 Digital Link URIs on any domain (GS1 Digital Link:
    URI Syntax 1.2 §4) — using the same parser the capture pipeline keys objects with
    (:func:`serialvault.gs1.epc.canonical_key`), so a document that validates can be
    stored. Any other URI (``urn:uuid:…``, a partner's own scheme) is allowed by EPCIS
    2.0 §7.3.3 and passes.

    >>> print(identifier_problem("https://id.gs1.org/01/09521141012344"))  # doctest: +ELLIPSIS
    Invalid GS1 Digital Link URI 'https://id.gs1.org/01/09521141012344': ... check digit ...
    >>> identifier_problem("urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8") is None
    True
    """
    if not value.startswith(_CHECKED_SCHEMES):
        return None
    try:
        canonical_key(value)
    except ValueError as exc:  # IdentifierError is a ValueError
        return str(exc)
    return None


def _check_identifier(value: Any, index: int, field: str, out: _Issues) -> None:
    if not isinstance(value, str):
        return  # absent, or a type error the schema reports
    problem = identifier_problem(value)
    if problem:
        out.add(problem, IDENTIFIER, index, field, value)
