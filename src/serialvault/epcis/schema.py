"""Our own JSON Schema for EPCIS 2.0 documents, and the compiled validators.

Written from the normative text of EPCIS 2.0 (§7 data definition, §8.2 query operations,
§12 JSON/JSON-LD binding) and CBV 2.0 — not transcribed from GS1's draft
``EPCIS-JSON-Schema.json``, whose licence does not let us ship it or anything derived
from it, and which rejects documents the ratified standard allows (persistentDisposition
on AggregationEvent, newer GS1 Web Vocabulary measurement types).

Division of labour with :mod:`serialvault.epcis.validate`: the schema checks *shape* —
required fields per event type, types, formats (RFC 3339 date-times, absolute URIs,
``±hh:mm`` offsets), cardinality rules, and that every unknown property is a namespaced
extension. Vocabulary values, declared prefixes, ranges and identifiers need context the
schema cannot see (the document's ``@context``, the CBV tables, GS1 check digits) and are
field checks in Python.

Vocabulary-valued fields (``bizStep``, ``disposition``, …) are plain non-empty strings
here on purpose: the CBV values live in one place (:mod:`serialvault.epcis.vocab`) and the
field checks give a specific message with a suggestion, which an ``enum`` cannot.

Two non-standard keywords, ignored by JSON Schema (2020-12 §6.5 allows unknown keywords),
carry our messages: ``x-message`` (what the rule means, quoted when it fails) and
``x-field`` (which field an issue is about when the failing keyword sits on the event).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jsonschema_rs
import orjson

from serialvault.epcis.model import EVENT_TYPES
from serialvault.errors import InputError

# --------------------------------------------------------------------------- building blocks

#: A user extension property name (EPCIS 2.0 §6.3, §12): ``prefix:localName`` (the
#: prefix declared in @context — checked in validate.py) or a full IRI. Anything without
#: a colon is a standard field or an error.
EXTENSION_NAME = r"^(?:[A-Za-z_][A-Za-z0-9_.\-]*:[^\s]+|[A-Za-z][A-Za-z0-9+.\-]*://[^\s]+)$"

_EXT: dict[str, Any] = {EXTENSION_NAME: {}}

#: RFC 3339 date-time with an offset (EPCIS 2.0 §7.4.1: event times carry a time zone).
DATE_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
#: An absolute URI (RFC 3986 §4.3); every identifier in EPCIS 2.0 is one (§7.3.3).
URI: dict[str, Any] = {"type": "string", "format": "uri"}
#: A vocabulary value: bare word, CURIE or URI — the value itself is checked in vocab.py.
VOCAB: dict[str, Any] = {"type": "string", "minLength": 1}
#: EPCIS 2.0 §7.4.1: eventTimeZoneOffset is ``+hh:mm`` / ``-hh:mm``; range in validate.py.
TZ_OFFSET: dict[str, Any] = {"type": "string", "pattern": r"^[+-][0-9]{2}:[0-9]{2}$"}
#: UN/ECE Recommendation 20 unit codes: two or three upper-case letters or digits
#: (EPCIS 2.0 §7.3.3.3 quantity uom and the sensorReport uom).
UOM: dict[str, Any] = {"type": "string", "pattern": r"^[A-Z0-9]{2,3}$"}
NUMBER: dict[str, Any] = {"type": "number"}
STRING: dict[str, Any] = {"type": "string"}


def _list_of(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": dict(item)}


def _closed(
    properties: Mapping[str, Any],
    *,
    required: tuple[str, ...] = (),
    extensible: bool = True,
    **more: Any,
) -> dict[str, Any]:
    """An object with exactly ``properties`` (plus namespaced extensions if extensible)."""
    schema: dict[str, Any] = {"type": "object", "properties": dict(properties)}
    if required:
        schema["required"] = list(required)
    if extensible:
        schema["patternProperties"] = dict(_EXT)
    schema["additionalProperties"] = False
    schema.update(more)
    return schema


def _nonempty(name: str) -> dict[str, Any]:
    """``name`` is present and holds at least one element."""
    return {"required": [name], "properties": {name: {"minItems": 1}}}


def _when_action(actions: tuple[str, ...], then: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "if": {"required": ["action"], "properties": {"action": {"enum": list(actions)}}},
        "then": dict(then),
    }


# The JSON-LD @context: an IRI, a context object, or a list of those (JSON-LD 1.1 §3.1).
_CONTEXT: dict[str, Any] = {
    "anyOf": [
        URI,
        {"type": "object"},
        {"type": "array", "minItems": 1, "items": {"anyOf": [URI, {"type": "object"}]}},
    ],
    "x-message": "@context must be an IRI, a context object, or a list of them "
    "(JSON-LD 1.1 §3.1, EPCIS 2.0 §12)",
}

# EPCIS 2.0 §7.3.3.3 QuantityElement: class, optional quantity, uom only with a quantity.
_QUANTITY_ELEMENT = _closed(
    {"epcClass": URI, "quantity": NUMBER, "uom": UOM},
    required=("epcClass",),
    extensible=False,
    dependentRequired={"uom": ["quantity"]},
)

# EPCIS 2.0 §7.3.4 ReadPointID / BusinessLocationID (both extensible).
_LOCATION = _closed({"id": URI}, required=("id",))

# EPCIS 2.0 §7.3.5 BusinessTransaction: optional type, the transaction URI.
_BIZ_TRANSACTION = _closed(
    {"type": VOCAB, "bizTransaction": URI}, required=("bizTransaction",), extensible=False
)

# EPCIS 2.0 §7.3.5 Source / Destination.
_SOURCE = _closed({"type": VOCAB, "source": URI}, required=("type", "source"), extensible=False)
_DESTINATION = _closed(
    {"type": VOCAB, "destination": URI}, required=("type", "destination"), extensible=False
)

# EPCIS 2.0 §7.3 sensor data ('how'): SensorMetadata.
_SENSOR_METADATA = _closed(
    {
        "time": DATE_TIME,
        "startTime": DATE_TIME,
        "endTime": DATE_TIME,
        "deviceID": URI,
        "deviceMetadata": URI,
        "rawData": URI,
        "dataProcessingMethod": URI,
        "bizRules": URI,
    }
)

# EPCIS 2.0 §7.3 sensor data: SensorReport.
_SENSOR_REPORT = _closed(
    {
        "type": VOCAB,
        "exception": VOCAB,
        "deviceID": URI,
        "deviceMetadata": URI,
        "rawData": URI,
        "dataProcessingMethod": URI,
        "time": DATE_TIME,
        "microorganism": URI,
        "chemicalSubstance": URI,
        "value": NUMBER,
        "component": VOCAB,
        "stringValue": STRING,
        "booleanValue": {"type": "boolean"},
        "hexBinaryValue": {"type": "string", "pattern": r"^(?:[0-9A-Fa-f]{2})*$"},
        "uriValue": URI,
        "minValue": NUMBER,
        "maxValue": NUMBER,
        "meanValue": NUMBER,
        "sDev": NUMBER,
        "percRank": NUMBER,
        "percValue": NUMBER,
        "uom": UOM,
        "coordinateReferenceSystem": URI,
        # Not in the standard's SensorReport table, but GS1's own EPCIS 2.0 sensor examples put the
        # business rules reference on a report as well as on the metadata.
        "bizRules": URI,
    }
)

# EPCIS 2.0 §7.3 sensor data: SensorElement, metadata plus one or more reports.
_SENSOR_ELEMENT = _closed(
    {
        "sensorMetadata": _SENSOR_METADATA,
        "sensorReport": {"type": "array", "minItems": 1, "items": _SENSOR_REPORT},
    },
    required=("sensorReport",),
)

# EPCIS 2.0 §7.4.1.2 ErrorDeclaration.
_ERROR_DECLARATION = _closed(
    {"declarationTime": DATE_TIME, "reason": VOCAB, "correctiveEventIDs": _list_of(URI)},
    required=("declarationTime",),
)

# EPCIS 2.0 §7.3.5 persistentDisposition: dispositions set and/or unset.
_PERSISTENT_DISPOSITION = _closed(
    {
        "set": {"type": "array", "minItems": 1, "items": VOCAB},
        "unset": {"type": "array", "minItems": 1, "items": VOCAB},
    },
    extensible=False,
    minProperties=1,
)

# EPCIS 2.0 §7.3 ILMD (instance/lot master data): namespaced attributes only.
_ILMD = _closed({}, extensible=True)

# Fields every event type has (EPCIS 2.0 §7.4.1 EPCISEvent and the what/where/why
# dimensions that §7.4.2–§7.4.6 give all five event types in 2.0).
_COMMON: dict[str, Any] = {
    "type": {"enum": list(EVENT_TYPES)},
    "@context": _CONTEXT,
    "eventTime": DATE_TIME,
    "eventTimeZoneOffset": TZ_OFFSET,
    "recordTime": DATE_TIME,
    "eventID": URI,
    "errorDeclaration": _ERROR_DECLARATION,
    "certificationInfo": {
        "anyOf": [URI, _list_of(URI)],
        "x-message": "certificationInfo must be a URI or a list of URIs (EPCIS 2.0 §7.4.1)",
    },
    "bizStep": VOCAB,
    "disposition": VOCAB,
    "persistentDisposition": _PERSISTENT_DISPOSITION,
    "readPoint": _LOCATION,
    "bizLocation": _LOCATION,
    "bizTransactionList": _list_of(_BIZ_TRANSACTION),
    "sourceList": _list_of(_SOURCE),
    "destinationList": _list_of(_DESTINATION),
    "sensorElementList": _list_of(_SENSOR_ELEMENT),
}
_COMMON_REQUIRED = ("type", "eventTime", "eventTimeZoneOffset")
_ACTION = {"enum": ["ADD", "OBSERVE", "DELETE"]}
_EPCS = _list_of(URI)
_QUANTITIES = _list_of(_QUANTITY_ELEMENT)


def _event(
    name: str, specific: Mapping[str, Any], required: tuple[str, ...], rules: list[dict[str, Any]]
) -> dict[str, Any]:
    schema = _closed({**_COMMON, **specific}, required=_COMMON_REQUIRED + required)
    schema["properties"]["type"] = {"const": name}
    if rules:
        schema["allOf"] = rules
    return schema


_OBJECT_EVENT = _event(
    "ObjectEvent",
    {"action": _ACTION, "epcList": _EPCS, "quantityList": _QUANTITIES, "ilmd": _ILMD},
    ("action",),
    [
        {
            # EPCIS 2.0 §7.4.2: an ObjectEvent is about objects — at least one EPC or
            # quantity element — or, for sensor-only observations, a place with sensor data.
            "anyOf": [
                _nonempty("epcList"),
                _nonempty("quantityList"),
                {"allOf": [_nonempty("sensorElementList"), {"required": ["readPoint"]}]},
            ],
            "x-field": "epcList",
            "x-message": "an ObjectEvent must list at least one EPC in epcList or one "
            "element in quantityList (or carry sensor data with a readPoint), "
            "EPCIS 2.0 §7.4.2",
        },
        {
            # EPCIS 2.0 §7.4.2: ILMD describes objects coming into existence — ADD only.
            "if": {"not": {"properties": {"action": {"const": "ADD"}}, "required": ["action"]}},
            "then": {
                "not": {"required": ["ilmd"]},
                "x-field": "ilmd",
                "x-message": "ilmd is only allowed on an ObjectEvent with action ADD "
                "(EPCIS 2.0 §7.4.2)",
            },
        },
    ],
)

_CHILDREN_RULE = {
    "anyOf": [_nonempty("childEPCs"), _nonempty("childQuantityList")],
    "x-field": "childEPCs",
}

_AGGREGATION_EVENT = _event(
    "AggregationEvent",
    {"action": _ACTION, "parentID": URI, "childEPCs": _EPCS, "childQuantityList": _QUANTITIES},
    ("action",),
    [
        # EPCIS 2.0 §7.4.3: parentID required for ADD and DELETE, optional for OBSERVE.
        _when_action(
            ("ADD", "DELETE"),
            {
                "required": ["parentID"],
                "x-message": "an AggregationEvent with action ADD or DELETE must name its "
                "parentID (EPCIS 2.0 §7.4.3)",
            },
        ),
        # EPCIS 2.0 §7.4.3: ADD and OBSERVE list the children; DELETE may omit them.
        _when_action(
            ("ADD", "OBSERVE"),
            {
                **_CHILDREN_RULE,
                "x-message": "an AggregationEvent with action ADD or OBSERVE must list at "
                "least one child in childEPCs or childQuantityList (EPCIS 2.0 §7.4.3)",
            },
        ),
    ],
)

_TRANSACTION_EVENT = _event(
    "TransactionEvent",
    {
        "action": _ACTION,
        "parentID": URI,
        "epcList": _EPCS,
        "quantityList": _QUANTITIES,
        # EPCIS 2.0 §7.4.4: the business transaction is the point of the event.
        "bizTransactionList": {
            **_list_of(_BIZ_TRANSACTION),
            "minItems": 1,
            "x-message": "a TransactionEvent must list at least one business transaction "
            "(EPCIS 2.0 §7.4.4)",
        },
    },
    ("action", "bizTransactionList"),
    [
        {
            # EPCIS 2.0 §7.4.4: the objects taking part — EPCs or quantities.
            "anyOf": [_nonempty("epcList"), _nonempty("quantityList")],
            "x-field": "epcList",
            "x-message": "a TransactionEvent must list at least one EPC in epcList or one "
            "element in quantityList (EPCIS 2.0 §7.4.4)",
        },
    ],
)

_INPUTS = [_nonempty("inputEPCList"), _nonempty("inputQuantityList")]
_OUTPUTS = [_nonempty("outputEPCList"), _nonempty("outputQuantityList")]

_TRANSFORMATION_EVENT = _event(
    "TransformationEvent",
    {
        "inputEPCList": _EPCS,
        "inputQuantityList": _QUANTITIES,
        "outputEPCList": _EPCS,
        "outputQuantityList": _QUANTITIES,
        "transformationID": URI,
        "ilmd": _ILMD,
    },
    (),
    [
        {
            # EPCIS 2.0 §7.4.5: a transformation has at least one input or output ...
            "anyOf": [*_INPUTS, *_OUTPUTS],
            "x-field": "inputEPCList",
            "x-message": "a TransformationEvent must list at least one input or output "
            "(EPCIS 2.0 §7.4.5)",
        },
        {
            # ... and, unless a transformationID ties several events together, both.
            "if": {"not": {"required": ["transformationID"]}},
            "then": {
                "allOf": [
                    {
                        "anyOf": _INPUTS,
                        "x-field": "inputEPCList",
                        "x-message": "a TransformationEvent without transformationID must "
                        "list at least one input (EPCIS 2.0 §7.4.5)",
                    },
                    {
                        "anyOf": _OUTPUTS,
                        "x-field": "outputEPCList",
                        "x-message": "a TransformationEvent without transformationID must "
                        "list at least one output (EPCIS 2.0 §7.4.5)",
                    },
                ]
            },
        },
    ],
)

_ASSOCIATION_EVENT = _event(
    "AssociationEvent",
    {"action": _ACTION, "parentID": URI, "childEPCs": _EPCS, "childQuantityList": _QUANTITIES},
    ("action", "parentID"),
    [
        # EPCIS 2.0 §7.4.6: as for aggregation, ADD and OBSERVE name the children.
        _when_action(
            ("ADD", "OBSERVE"),
            {
                **_CHILDREN_RULE,
                "x-message": "an AssociationEvent with action ADD or OBSERVE must list at "
                "least one child in childEPCs or childQuantityList (EPCIS 2.0 §7.4.6)",
            },
        ),
    ],
)


def _dispatch(name: str) -> dict[str, Any]:
    return {
        "if": {"required": ["type"], "properties": {"type": {"const": name}}},
        "then": {"$ref": f"#/$defs/{name}"},
    }


# Master data in the header (EPCIS 2.0 §12: epcisHeader.epcisMasterData).
_ATTRIBUTE = _closed({"id": STRING, "attribute": {}}, required=("id",))
_VOCABULARY_ELEMENT = _closed(
    {"id": URI, "attributes": _list_of(_ATTRIBUTE), "children": _list_of(URI)},
    required=("id",),
)
_VOCABULARY = _closed(
    {"type": STRING, "vocabularyElementList": _list_of(_VOCABULARY_ELEMENT)},
    required=("type",),
)
_VOCABULARY_LIST = _list_of(_VOCABULARY)

_HEADER = _closed({"epcisMasterData": _closed({"vocabularyList": _VOCABULARY_LIST})})

_EVENT_LIST: dict[str, Any] = {"type": "array", "items": {"$ref": "#/$defs/event"}}

# EPCIS 2.0 §12 document properties shared by capture and query documents (the
# sender/receiver/instanceIdentifier trio is the JSON binding's stand-in for the SBDH).
_DOCUMENT_PROPERTIES: dict[str, Any] = {
    "@context": _CONTEXT,
    "id": URI,
    "schemaVersion": {"type": "string", "minLength": 1},
    "creationDate": DATE_TIME,
    "instanceIdentifier": STRING,
    "sender": STRING,
    "receiver": STRING,
    "epcisHeader": _HEADER,
}
_DOCUMENT_REQUIRED = ("@context", "type", "schemaVersion", "creationDate", "epcisBody")

_CAPTURE_DOCUMENT = _closed(
    {
        **_DOCUMENT_PROPERTIES,
        "type": {"const": "EPCISDocument"},
        "epcisBody": _closed({"eventList": _EVENT_LIST}, required=("eventList",)),
    },
    required=_DOCUMENT_REQUIRED,
)

# EPCIS 2.0 §8.2 / §12: query results carry the query name, an optional subscription
# ID and the results (events, or master data for a master-data query).
_QUERY_DOCUMENT = _closed(
    {
        **_DOCUMENT_PROPERTIES,
        "type": {"const": "EPCISQueryDocument"},
        "epcisBody": _closed(
            {
                "queryResults": _closed(
                    {
                        "queryName": {"type": "string", "minLength": 1},
                        "subscriptionID": STRING,
                        "resultsBody": _closed(
                            {"eventList": _EVENT_LIST, "vocabularyList": _VOCABULARY_LIST},
                            extensible=False,
                        ),
                    },
                    required=("queryName", "resultsBody"),
                )
            },
            required=("queryResults",),
        ),
    },
    required=_DOCUMENT_REQUIRED,
)

#: The serialvault EPCIS 2.0 document schema (JSON Schema draft 2020-12).
EPCIS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:serialvault:schema:epcis-2.0-document",
    "title": "EPCIS 2.0 capture or query document (serialvault)",
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": ["EPCISDocument", "EPCISQueryDocument"]}},
    "allOf": [
        {
            # Without a type, check as a capture document (the common case) so that the
            # other problems are reported too, not only the missing type.
            "if": {"properties": {"type": {"const": "EPCISDocument"}}},
            "then": {"$ref": "#/$defs/EPCISDocument"},
        },
        {
            "if": {
                "required": ["type"],
                "properties": {"type": {"const": "EPCISQueryDocument"}},
            },
            "then": {"$ref": "#/$defs/EPCISQueryDocument"},
        },
    ],
    "$defs": {
        "EPCISDocument": _CAPTURE_DOCUMENT,
        "EPCISQueryDocument": _QUERY_DOCUMENT,
        "event": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": list(EVENT_TYPES)}},
            "allOf": [_dispatch(name) for name in EVENT_TYPES],
        },
        "ObjectEvent": _OBJECT_EVENT,
        "AggregationEvent": _AGGREGATION_EVENT,
        "TransactionEvent": _TRANSACTION_EVENT,
        "TransformationEvent": _TRANSFORMATION_EVENT,
        "AssociationEvent": _ASSOCIATION_EVENT,
    },
}


# --------------------------------------------------------------------------- compiled form


@dataclass(frozen=True, slots=True)
class SchemaError:
    """One schema violation, located by JSON pointer segments (instance and schema)."""

    message: str
    kind: str
    instance_path: tuple[str | int, ...]
    schema_path: tuple[str | int, ...]
    details: dict[str, Any]
    #: the failing value (the property's value, or the object missing a property)
    instance: Any = None
    #: our ``x-message`` / ``x-field`` for this violation, when the schema has one
    rule_message: str | None = None
    rule_field: str | None = None


@dataclass(frozen=True, slots=True)
class CompiledSchema:
    """A JSON schema compiled once with ``jsonschema_rs`` (Rust: fast on large documents).

    ``name`` labels issues from this schema ("serialvault", "GS1 draft schema"), so that
    an operator can tell our rules from an optional official schema's.
    """

    name: str
    schema: dict[str, Any] = field(repr=False)
    validator: Any = field(repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its source: the compiled validator cannot cross to the process
        that prepares documents, so that process compiles it again (once, cached)."""
        return (_recompile, (orjson.dumps(self.schema, option=orjson.OPT_SORT_KEYS), self.name))

    def is_valid(self, instance: Any) -> bool:
        return bool(self.validator.is_valid(instance))

    def errors(self, instance: Any) -> Iterator[SchemaError]:
        """Every violation in ``instance``, in the validator's order."""
        for err in self.validator.iter_errors(instance):
            schema_path = tuple(err.schema_path)
            rule_message, rule_field = _rule_annotation(self.schema, schema_path)
            kind = err.kind
            yield SchemaError(
                message=err.message,
                kind=type(kind).__name__,
                instance_path=tuple(err.instance_path),
                schema_path=schema_path,
                details=dict(kind.as_dict()),
                instance=err.instance,
                rule_message=rule_message,
                rule_field=rule_field,
            )


def _rule_annotation(
    schema: Mapping[str, Any], path: tuple[str | int, ...]
) -> tuple[str | None, str | None]:
    """Find the ``x-message`` / ``x-field`` of the rule whose keyword failed.

    Starts at the schema node holding the failing keyword and climbs only through
    combinators (``then``, ``else``, ``not``, ``allOf/n``, ``anyOf/n``), so a message
    never leaks from an unrelated enclosing object schema.
    """
    nodes: list[Any] = [schema]
    for segment in path[:-1]:
        try:
            nodes.append(nodes[-1][segment])
        except (KeyError, IndexError, TypeError):
            return None, None
    message: str | None = None
    field_name: str | None = None
    i = len(path) - 1  # nodes[i] holds the failing keyword path[i]
    while True:
        node = nodes[i]
        if isinstance(node, Mapping):
            message = message or node.get("x-message")
            field_name = field_name or node.get("x-field")
        if i >= 1 and path[i - 1] in ("then", "else", "not"):
            i -= 1
        elif i >= 2 and isinstance(path[i - 1], int) and path[i - 2] in _COMBINATORS:
            i -= 2
        else:
            return message, field_name


_COMBINATORS = ("allOf", "anyOf", "oneOf")


def compile_schema(schema: Mapping[str, Any], *, name: str = "schema") -> CompiledSchema:
    """Compile ``schema`` (any draft ``jsonschema_rs`` knows, from ``$schema``).

    Formats are asserted (``date-time``, ``uri``, …), not merely annotated: EPCIS
    requires them. The caller reads the schema file; this function does no I/O and
    never fetches remote references (``offline``).
    """
    try:
        validator = jsonschema_rs.validator_for(
            dict(schema), validate_formats=True, ignore_unknown_formats=True
        )
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError) as exc:
        raise InputError(f"{name}: not a usable JSON schema: {exc}") from None
    return CompiledSchema(name=name, schema=dict(schema), validator=validator)


@lru_cache(maxsize=8)
def _recompile(source: bytes, name: str) -> CompiledSchema:
    return compile_schema(orjson.loads(source), name=name)


@lru_cache(maxsize=1)
def builtin_schema() -> CompiledSchema:
    """Our EPCIS 2.0 schema, compiled once per process."""
    return compile_schema(EPCIS_SCHEMA, name="serialvault EPCIS 2.0 schema")
