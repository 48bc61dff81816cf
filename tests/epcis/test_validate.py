"""Validation rules, one by one, on small inline documents (good and bad)."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema_rs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.epcis.model import EpcisDocument
from serialvault.epcis.reader import read_json
from serialvault.epcis.schema import EPCIS_SCHEMA, builtin_schema, compile_schema
from serialvault.epcis.validate import (
    MAX_ISSUES,
    offset_problem,
    require_valid,
    timestamp_problem,
    validate_document,
    xsd_date_problem,
)
from serialvault.errors import DocumentInvalid, InputError, Issue

CONTEXT: list[Any] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"example": "https://ns.example.com/epcis/"},
]
SGTIN = "urn:epc:id:sgtin:0614141.107346.2017"
SSCC = "urn:epc:id:sscc:0614141.1234567890"
LGTIN = "urn:epc:class:lgtin:4012345.012345.998877"
SGLN = "urn:epc:id:sgln:0614141.07346.1234"
WHEN = {"eventTime": "2026-07-22T06:45:00.000+02:00", "eventTimeZoneOffset": "+02:00"}


def object_event(**fields: Any) -> dict[str, Any]:
    return {"type": "ObjectEvent", **WHEN, "action": "OBSERVE", "epcList": [SGTIN], **fields}


def document(*events: dict[str, Any], context: Any = CONTEXT, **top: Any) -> EpcisDocument:
    """Build a document the way the reader does (bytes in, namespaces collected)."""
    body: dict[str, Any] = {
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-07-22T10:30:00Z",
        "epcisBody": {"eventList": list(events)},
        **top,
    }
    if context is None:
        del body["@context"]
    return read_json(orjson.dumps(body), "test.jsonld")


def issues_of(*events: dict[str, Any], **kw: Any) -> list[Issue]:
    return validate_document(document(*events, **kw))


def only(issues: list[Issue]) -> Issue:
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


# --------------------------------------------------------------------------- good documents

GOOD_EVENTS: dict[str, dict[str, Any]] = {
    "object-add-ilmd": object_event(
        action="ADD",
        bizStep="commissioning",
        disposition="active",
        readPoint={"id": SGLN},
        ilmd={"cbvmda:lotNumber": "L0T-42", "cbvmda:itemExpirationDate": "2027-02-28"},
    ),
    "object-quantity-only": object_event(
        epcList=[], quantityList=[{"epcClass": LGTIN, "quantity": 2.5, "uom": "KGM"}]
    ),
    "object-sensor-only": {
        "type": "ObjectEvent",
        **WHEN,
        "action": "OBSERVE",
        "readPoint": {"id": SGLN},
        "sensorElementList": [
            {"sensorReport": [{"type": "gs1:Temperature", "value": 4.5, "uom": "CEL"}]}
        ],
    },
    "aggregation-add": {
        "type": "AggregationEvent",
        **WHEN,
        "action": "ADD",
        "parentID": SSCC,
        "childEPCs": [SGTIN],
        "bizStep": "urn:epcglobal:cbv:bizstep:packing",
    },
    "aggregation-delete-all": {
        "type": "AggregationEvent",
        **WHEN,
        "action": "DELETE",
        "parentID": SSCC,
    },
    "aggregation-observe-no-parent": {
        "type": "AggregationEvent",
        **WHEN,
        "action": "OBSERVE",
        "childQuantityList": [{"epcClass": LGTIN, "quantity": 10}],
    },
    "transaction": {
        "type": "TransactionEvent",
        **WHEN,
        "action": "ADD",
        "epcList": [SGTIN],
        "bizTransactionList": [
            {"type": "po", "bizTransaction": "urn:epc:id:gdti:0614141.00001.1618034"}
        ],
    },
    "transformation": {
        "type": "TransformationEvent",
        **WHEN,
        "inputQuantityList": [{"epcClass": LGTIN, "quantity": 1}],
        "outputEPCList": [SGTIN],
        "ilmd": {"cbvmda:lotNumber": "B1"},
    },
    "transformation-id-input-only": {
        "type": "TransformationEvent",
        **WHEN,
        "transformationID": "urn:uuid:8d7b4c02-2b6f-4f7e-9e29-1c3a7d8e1f00",
        "inputEPCList": [SGTIN],
    },
    "association": {
        "type": "AssociationEvent",
        **WHEN,
        "action": "ADD",
        "parentID": "urn:epc:id:grai:4012345.55555.987",
        "childEPCs": ["urn:epc:id:giai:4000001.12345"],
    },
    "extensions-and-everything": object_event(
        eventID="urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        recordTime="2026-07-22T06:45:01Z",
        certificationInfo=["https://cert.example.org/c/1"],
        errorDeclaration={
            "declarationTime": "2026-07-23T08:00:00Z",
            "reason": "incorrect_data",
            "correctiveEventIDs": ["urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a9"],
            "example:ticket": "T-1",
        },
        bizStep="https://ref.gs1.org/cbv/BizStep-shipping",
        disposition="cbv:Disp-in_transit",
        persistentDisposition={
            "set": ["completeness_verified"],
            "unset": ["completeness_inferred"],
        },
        readPoint={"id": SGLN, "example:dock": "7"},
        bizLocation={"id": "https://id.gs1.org/414/9521141123454/254/1"},
        bizTransactionList=[{"bizTransaction": "http://transaction.example.com/po/1"}],
        sourceList=[{"type": "possessing_party", "source": "urn:epc:id:pgln:4012345.00225"}],
        destinationList=[{"type": "https://example.com/sdt/carrier", "destination": SGLN}],
        sensorElementList=[
            {
                "sensorMetadata": {
                    "time": "2026-07-22T06:40:00Z",
                    "deviceID": "urn:epc:id:giai:4000001.111",
                },
                "sensorReport": [
                    {"type": "Molar_concentration", "value": 1, "uom": "C35"},
                    {"exception": "gs1:ALARM_CONDITION", "booleanValue": True},
                    {"type": "example:Brightness", "hexBinaryValue": "f0F0"},
                ],
                "example:note": {"example:nested": [1, {"plain": 2}]},
            }
        ],
        **{"example:myField": "x", "https://ns.example.com/full/iri": 1, "rdfs:comment": "ok"},
    ),
}


@pytest.mark.parametrize("name", sorted(GOOD_EVENTS))
def test_good_events_have_no_issue(name: str) -> None:
    assert issues_of(GOOD_EVENTS[name]) == []


def test_a_document_with_every_good_event_has_no_issue() -> None:
    assert issues_of(*GOOD_EVENTS.values()) == []


def test_query_document_validates_and_locates_events() -> None:
    body = {
        "@context": CONTEXT,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-07-22T10:30:00Z",
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "subscriptionID": "s-1",
                "resultsBody": {"eventList": [object_event(), object_event(bizStep="shiping")]},
            }
        },
    }
    doc = read_json(orjson.dumps(body))
    issue = only(validate_document(doc))
    assert (issue.event_index, issue.field, issue.code) == (1, "bizStep", "vocabulary")
    assert "did you mean 'shipping'?" in issue.message

    del body["epcisBody"]["queryResults"]["queryName"]
    body["epcisBody"]["queryResults"]["resultsBody"]["eventList"].pop()
    issue = only(validate_document(read_json(orjson.dumps(body))))
    assert issue.field == "epcisBody.queryResults.queryName"
    assert issue.code == "missing-field"


# --------------------------------------------------------------------------- document level


def test_context_is_required_on_json_documents() -> None:
    issue = only(issues_of(object_event(), context=None))
    assert issue.event_index is None
    assert issue.field == "@context"
    assert issue.message == (
        "required field '@context' is missing: an EPCIS 2.0 JSON-LD document must declare "
        "its JSON-LD context (EPCIS 2.0 §12)"
    )


def test_context_is_not_required_on_documents_read_from_xml() -> None:
    doc = document(object_event(), context=None)
    doc.syntax = "xml"
    assert validate_document(doc) == []


def test_unknown_document_type_and_bad_creation_date() -> None:
    doc = document(object_event(), creationDate="yesterday")
    issue = only(validate_document(doc))
    assert issue.field == "creationDate"
    assert "'yesterday' is not an RFC 3339 date-time" in issue.message
    doc = document(object_event(), type="EPCISDocumnt")
    issue = only(validate_document(doc))
    assert issue.field == "type"
    assert issue.message.startswith("'EPCISDocumnt' is not an EPCIS 2.0 document type")
    assert "did you mean 'EPCISDocument'?" in issue.message


def test_a_document_without_type_is_still_checked_as_a_capture_document() -> None:
    body = {"@context": CONTEXT, "schemaVersion": 2.0, "epcisBody": {"eventList": [object_event()]}}
    found = {(i.field, i.code) for i in validate_document(EpcisDocument(body=body))}
    assert found == {
        ("type", "missing-field"),
        ("creationDate", "missing-field"),
        ("schemaVersion", "wrong-type"),
    }


def test_events_that_are_not_objects() -> None:
    doc = document(object_event())
    doc.body["epcisBody"]["eventList"].append("ObjectEvent")
    issue = only(validate_document(doc))
    assert (issue.event_index, issue.field, issue.code) == (1, None, "wrong-type")
    assert issue.message == "this event must be an object, found the string 'ObjectEvent'"


def test_unknown_top_level_field_is_rejected() -> None:
    issue = only(issues_of(object_event(), schemaversion="2.0"))
    assert issue.field == "schemaversion"
    assert issue.code == "unknown-field"
    assert "did you mean 'schemaVersion'?" in issue.message


# --------------------------------------------------------------------------- required fields


@pytest.mark.parametrize("name", ["eventTime", "eventTimeZoneOffset", "action", "type"])
def test_required_event_fields(name: str) -> None:
    event = object_event()
    del event[name]
    issue = only(issues_of(event))
    assert (issue.event_index, issue.field, issue.code) == (0, name, "missing-field")
    if name != "type":
        assert issue.message == (
            f"required field {name!r} is missing from this ObjectEvent (EPCIS 2.0 §7.4.2)"
        )


def test_every_problem_of_every_event_is_collected_in_order() -> None:
    bad1 = object_event()
    del bad1["action"]
    bad3 = object_event(bizStep="transforming", eventID="urn:uuid:0000-3")
    del bad3["eventTimeZoneOffset"]
    found = [(i.event_index, i.field) for i in issues_of(bad1, object_event(), bad3)]
    assert found == [(0, "action"), (2, "eventTimeZoneOffset"), (2, "bizStep")]
    issue = issues_of(bad3)[-1]
    assert issue.event_id == "urn:uuid:0000-3"
    assert issue.event_hash is not None
    assert issue.event_hash.startswith("ni:///sha-256;")
    assert str(issue).startswith(
        f"event #1 (urn:uuid:0000-3, {issue.event_hash}), field bizStep, identifier transforming:"
    )


def test_unknown_event_type() -> None:
    issue = only(issues_of({**object_event(), "type": "ObjectEvnt"}))
    assert issue.field == "type"
    assert issue.message.startswith("'ObjectEvnt' is not an EPCIS 2.0 event type (ObjectEvent,")
    assert issue.message.endswith("did you mean 'ObjectEvent'?")


def test_action_near_miss_and_action_on_transformation() -> None:
    issue = only(issues_of(object_event(action="OBSERV")))
    assert issue.field == "action"
    assert issue.message == (
        "'OBSERV' is not an EPCIS action (ADD, OBSERVE or DELETE, EPCIS 2.0 §7.3.2); "
        "did you mean 'OBSERVE'?"
    )
    transformation = {**GOOD_EVENTS["transformation"], "action": "ADD"}
    issue = only(issues_of(transformation))
    assert (issue.field, issue.code) == ("action", "unknown-field")


# --------------------------------------------------------------------------- unknown fields


def test_unknown_unprefixed_event_field_is_rejected_with_a_hint() -> None:
    issue = only(issues_of(object_event(madeUpField="x")))
    assert (issue.field, issue.code) == ("madeUpField", "unknown-field")
    assert issue.message == (
        "unknown field 'madeUpField' in this ObjectEvent (EPCIS 2.0 §7.4.2): EPCIS 2.0 defines "
        "no such field here; a user extension must be namespaced ('prefix:madeUpField' with "
        "the prefix declared in @context, EPCIS 2.0 §6.3)"
    )
    issue = only(issues_of(object_event(bizstep="shipping")))
    assert issue.message.endswith("did you mean 'bizStep'?")


def test_unknown_field_in_a_closed_object_lists_the_allowed_ones() -> None:
    issue = only(issues_of(object_event(quantityList=[{"epcClass": LGTIN, "weight": 5}])))
    assert issue.field == "quantityList[0].weight"
    assert issue.message.endswith("allowed: epcClass, quantity, uom")


def test_extension_prefix_must_be_declared() -> None:
    issue = only(issues_of(object_event(**{"acme:batch": "1"})))
    assert (issue.field, issue.code) == ("acme:batch", "namespace")
    assert issue.message.startswith(
        "extension field 'acme:batch' uses the prefix 'acme', which is not declared in @context"
    )
    # nested prefixed keys resolve too; an event-level @context may declare the prefix
    issue = only(issues_of(object_event(**{"example:x": {"acme:y": 1}})))
    assert issue.field == "example:x.acme:y"
    event = object_event(**{"@context": [{"acme": "https://acme.example/"}], "acme:batch": "1"})
    assert issues_of(event) == []


def test_terms_without_trailing_delimiter_count_as_declared_prefixes() -> None:
    # JSON-LD 1.0 style, as in the GS1 and OpenEPCIS examples.
    ctx = [CONTEXT[0], {"acme": "https://ns.acme.example/epcis"}]
    assert issues_of(object_event(**{"acme:batch": "1"}), context=ctx) == []


def test_ilmd_fields_must_be_namespaced() -> None:
    issue = only(issues_of(object_event(action="ADD", ilmd={"materialType": "soil"})))
    assert (issue.field, issue.code) == ("ilmd.materialType", "unknown-field")
    assert issue.message.startswith("ILMD field 'materialType' has no namespace")


# --------------------------------------------------------------------------- event-type rules


def test_object_event_must_carry_objects() -> None:
    event = object_event()
    del event["epcList"]
    issue = only(issues_of(event))
    assert (issue.field, issue.code) == ("epcList", "schema")
    assert issue.message == (
        "an ObjectEvent must list at least one EPC in epcList or one element in quantityList "
        "(or carry sensor data with a readPoint), EPCIS 2.0 §7.4.2"
    )
    assert only(issues_of(object_event(epcList=[]))).field == "epcList"
    sensor_no_place = copy.deepcopy(GOOD_EVENTS["object-sensor-only"])
    del sensor_no_place["readPoint"]
    assert only(issues_of(sensor_no_place)).field == "epcList"


@pytest.mark.parametrize("action", ["OBSERVE", "DELETE"])
def test_ilmd_only_with_add(action: str) -> None:
    issue = only(issues_of(object_event(action=action, ilmd={"cbvmda:lotNumber": "L1"})))
    assert issue.field == "ilmd"
    assert (
        issue.message == "ilmd is only allowed on an ObjectEvent with action ADD (EPCIS 2.0 §7.4.2)"
    )


@pytest.mark.parametrize("action", ["ADD", "DELETE"])
def test_aggregation_needs_parent_for_add_and_delete(action: str) -> None:
    event = {"type": "AggregationEvent", **WHEN, "action": action, "childEPCs": [SGTIN]}
    issue = only(issues_of(event))
    assert issue.field == "parentID"
    assert "must name its parentID (EPCIS 2.0 §7.4.3)" in issue.message


@pytest.mark.parametrize("kind", ["AggregationEvent", "AssociationEvent"])
@pytest.mark.parametrize("action", ["ADD", "OBSERVE"])
def test_add_and_observe_need_children(kind: str, action: str) -> None:
    event = {"type": kind, **WHEN, "action": action, "parentID": SSCC, "childEPCs": []}
    issue = only(issues_of(event))
    assert issue.field == "childEPCs"
    assert f"an {kind} with action ADD or OBSERVE must list at least one child" in issue.message


def test_association_always_needs_a_parent() -> None:
    event = {"type": "AssociationEvent", **WHEN, "action": "DELETE"}
    issue = only(issues_of(event))
    assert (issue.field, issue.code) == ("parentID", "missing-field")


def test_transaction_needs_transactions_and_objects() -> None:
    event = copy.deepcopy(GOOD_EVENTS["transaction"])
    del event["bizTransactionList"]
    assert only(issues_of(event)).field == "bizTransactionList"
    event["bizTransactionList"] = []
    issue = only(issues_of(event))
    assert issue.message == (
        "a TransactionEvent must list at least one business transaction (EPCIS 2.0 §7.4.4)"
    )
    event = copy.deepcopy(GOOD_EVENTS["transaction"])
    event["epcList"] = []
    assert only(issues_of(event)).field == "epcList"


def test_transformation_inputs_and_outputs() -> None:
    bare = {"type": "TransformationEvent", **WHEN}
    found = {(i.field, i.message) for i in issues_of(bare)}
    assert (
        "inputEPCList",
        "a TransformationEvent must list at least one input or output (EPCIS 2.0 §7.4.5)",
    ) in found
    only_input = {**bare, "inputEPCList": [SGTIN]}
    issue = only(issues_of(only_input))
    assert issue.field == "outputEPCList"
    assert "without transformationID must list at least one output" in issue.message


# --------------------------------------------------------------------------- types, formats


def test_quantity_must_be_a_non_negative_number() -> None:
    issue = only(issues_of(object_event(quantityList=[{"epcClass": LGTIN, "quantity": "twenty"}])))
    assert (issue.field, issue.code) == ("quantityList[0].quantity", "wrong-type")
    assert issue.message == "quantityList[0].quantity must be a number, found the string 'twenty'"
    issue = only(issues_of(object_event(quantityList=[{"epcClass": LGTIN, "quantity": -5}])))
    assert (issue.field, issue.code) == ("quantityList[0].quantity", "quantity")
    assert issue.message.startswith("quantity -5 is negative")
    aggregation = {
        "type": "AggregationEvent",
        **WHEN,
        "action": "ADD",
        "parentID": SSCC,
        "childQuantityList": [{"epcClass": LGTIN, "quantity": -0.5}],
    }
    assert only(issues_of(aggregation)).field == "childQuantityList[0].quantity"
    assert issues_of(object_event(quantityList=[{"epcClass": LGTIN, "quantity": 0}])) == []


def test_uom_needs_a_quantity_and_a_rec20_code() -> None:
    issue = only(issues_of(object_event(quantityList=[{"epcClass": LGTIN, "uom": "KGM"}])))
    assert issue.field == "quantityList[0].quantity"
    assert issue.message == "'quantity' is required because 'uom' is given"
    issue = only(
        issues_of(object_event(quantityList=[{"epcClass": LGTIN, "quantity": 1, "uom": "kg"}]))
    )
    assert issue.field == "quantityList[0].uom"
    assert "not a UN/ECE Recommendation 20 unit code" in issue.message


@pytest.mark.parametrize(
    "value",
    ["22-07-2026", "2026-07-22T06:45:00", "2026-07-22 06:45:00+02:00", "2026-02-30T06:45:00Z"],
)
def test_event_time_must_be_rfc3339_with_offset(value: str) -> None:
    issue = only(issues_of(object_event(eventTime=value)))
    assert issue.field == "eventTime"
    assert issue.code in ("bad-format", "timestamp")
    assert repr(value) in issue.message


BAD_DL = "https://id.gs1.org/01/09521141012344/21/2017"  # GTIN check digit should be 5
BAD_URN = "urn:epc:id:sgtin:0614141.10734.2017"  # company prefix + item ref: 12 digits


def test_gs1_identifiers_are_checked_and_located() -> None:
    event = object_event(epcList=[SGTIN, BAD_DL, BAD_URN], eventID="urn:uuid:e-2")
    found = issues_of(object_event(), event)
    assert [(i.event_index, i.event_id, i.field, i.identifier, i.code) for i in found] == [
        (1, "urn:uuid:e-2", "epcList[1]", BAD_DL, "identifier"),
        (1, "urn:uuid:e-2", "epcList[2]", BAD_URN, "identifier"),
    ]
    assert found[0].message.startswith(f"Invalid GS1 Digital Link URI {BAD_DL!r}")
    assert "check digit" in found[0].message
    assert found[1].message.startswith(f"Invalid EPC URI {BAD_URN!r}")


def test_identifiers_are_checked_in_every_identifier_field() -> None:
    aggregation = {
        "type": "AggregationEvent",
        **WHEN,
        "action": "ADD",
        "parentID": "urn:epc:id:sscc:0614141.123456789",
        "childEPCs": [BAD_URN],
        "childQuantityList": [{"epcClass": "https://id.gs1.org/01/09521141012344/10/L1"}],
        "readPoint": {"id": "urn:epc:id:sgln:0614141.0734.1"},
        "bizTransactionList": [{"bizTransaction": "urn:epc:id:gdti:0614141.00001"}],
        "sourceList": [{"type": "location", "source": "https://id.gs1.org/414/9521141123455"}],
    }
    found = {(i.field, i.code) for i in issues_of(aggregation)}
    assert found == {
        ("parentID", "identifier"),
        ("childEPCs[0]", "identifier"),
        ("childQuantityList[0].epcClass", "identifier"),
        ("readPoint.id", "identifier"),
        ("bizTransactionList[0].bizTransaction", "identifier"),
        ("sourceList[0].source", "identifier"),
    }


@pytest.mark.parametrize(
    "uri",
    [
        "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        "urn:epc:id:gid:95100000.12345.400",
        "https://example.com/assets/4711",
        "urn:example:pallet:17",
    ],
)
def test_non_gs1_identifiers_are_allowed(uri: str) -> None:
    assert issues_of(object_event(epcList=[uri])) == []


def test_non_uri_identifier_is_reported_with_the_identifier() -> None:
    issue = only(issues_of(object_event(epcList=[SGTIN, "not a uri"])))
    assert (issue.field, issue.identifier, issue.code) == ("epcList[1]", "not a uri", "bad-format")


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        ("+14:00", True),
        ("-14:00", True),
        ("+05:45", True),
        ("+14:30", False),
        ("-15:00", False),
        ("+05:60", False),
    ],
)
def test_time_zone_offset_range(offset: str, ok: bool) -> None:
    found = issues_of(object_event(eventTimeZoneOffset=offset))
    if ok:
        assert found == []
    else:
        issue = only(found)
        assert (issue.field, issue.code) == ("eventTimeZoneOffset", "time-zone")
        assert (
            issue.message
            == f"eventTimeZoneOffset {offset!r} is outside -14:00..+14:00 (EPCIS 2.0 §7.4.1)"
        )


def test_time_zone_offset_form() -> None:
    issue = only(issues_of(object_event(eventTimeZoneOffset="+2:00")))
    assert (
        issue.message
        == "eventTimeZoneOffset '+2:00' is not of the form +hh:mm or -hh:mm (EPCIS 2.0 §7.4.1)"
    )


def test_sensor_report_value_types() -> None:
    event = copy.deepcopy(GOOD_EVENTS["object-sensor-only"])
    event["sensorElementList"][0]["sensorReport"][0]["value"] = "4.5"
    event["sensorElementList"][0]["sensorReport"].append({"hexBinaryValue": "xyz"})
    found = {(i.field, i.code) for i in issues_of(event)}
    assert found == {
        ("sensorElementList[0].sensorReport[0].value", "wrong-type"),
        ("sensorElementList[0].sensorReport[1].hexBinaryValue", "bad-format"),
    }


# --------------------------------------------------------------------------- vocabulary


@pytest.mark.parametrize(
    ("fields", "where", "word"),
    [
        ({"bizStep": "transforming"}, "bizStep", "transforming"),
        ({"disposition": "in_transport"}, "disposition", "in_transport"),
        (
            {"bizTransactionList": [{"type": "purchase_order", "bizTransaction": "urn:x:1"}]},
            "bizTransactionList[0].type",
            "purchase_order",
        ),
        ({"sourceList": [{"type": "owner", "source": SGLN}]}, "sourceList[0].type", "owner"),
        (
            {"destinationList": [{"type": "locaton", "destination": SGLN}]},
            "destinationList[0].type",
            "locaton",
        ),
        (
            {"persistentDisposition": {"set": ["active", "broken"]}},
            "persistentDisposition.set[1]",
            "broken",
        ),
        (
            {"errorDeclaration": {"declarationTime": "2026-07-23T08:00:00Z", "reason": "typo"}},
            "errorDeclaration.reason",
            "typo",
        ),
        (
            {"sensorElementList": [{"sensorReport": [{"type": "Temp"}]}]},
            "sensorElementList[0].sensorReport[0].type",
            "Temp",
        ),
        (
            {"sensorElementList": [{"sensorReport": [{"exception": "ALARM"}]}]},
            "sensorElementList[0].sensorReport[0].exception",
            "ALARM",
        ),
        (
            {"bizStep": "urn:epcglobal:cbv:bizstep:transforming"},
            "bizStep",
            "urn:epcglobal:cbv:bizstep:transforming",
        ),
        (
            {"bizStep": "https://ref.gs1.org/cbv/BizStep-transforming"},
            "bizStep",
            "https://ref.gs1.org/cbv/BizStep-transforming",
        ),
    ],
)
def test_non_standard_vocabulary_values_are_rejected(
    fields: dict[str, Any], where: str, word: str
) -> None:
    issue = only(issues_of(object_event(**fields)))
    assert (issue.field, issue.code, issue.identifier) == (where, "vocabulary", word)
    assert repr(word) in issue.message


def test_bizstep_message_word_for_word() -> None:
    issue = only(issues_of(object_event(bizStep="transforming")))
    assert issue.message == (
        "'transforming' is not a CBV 2.0 business step (CBV 2.0 §7.1); did you mean 'transporting'?"
    )


@pytest.mark.parametrize(
    "bizstep",
    [
        "shipping",
        "urn:epcglobal:cbv:bizstep:shipping",
        "https://ref.gs1.org/cbv/BizStep-shipping",
        "cbv:BizStep-shipping",
        "https://example.com/bizstep/custom",
        "example:custom_step",
    ],
)
def test_standard_and_custom_vocabulary_values_are_accepted(bizstep: str) -> None:
    assert issues_of(object_event(bizStep=bizstep)) == []


# --------------------------------------------------------------------------- ILMD


@pytest.mark.parametrize(
    ("ilmd", "field", "fragment"),
    [
        (
            {"cbvmda:itemExpirationDate": "2027-02-30"},
            "ilmd.cbvmda:itemExpirationDate",
            "day 30 does not exist in 2027-02",
        ),
        (
            {"cbvmda:itemExpirationDate": "270228"},
            "ilmd.cbvmda:itemExpirationDate",
            "not of the form YYYY-MM-DD",
        ),
        (
            {"cbvmda:itemExpirationDate": 20270228},
            "ilmd.cbvmda:itemExpirationDate",
            "found the number 20270228",
        ),
        (
            {"cbvmda:bestBeforeDate": "2027-13-01"},
            "ilmd.cbvmda:bestBeforeDate",
            "month 13 does not exist",
        ),
        (
            {"cbvmda:lotNumber": "L 1"},
            "ilmd.cbvmda:lotNumber",
            "contains ' ', which is not in GS1 AI encodable character set 82",
        ),
        (
            {"cbvmda:lotNumber": "A" * 21},
            "ilmd.cbvmda:lotNumber",
            "has 21 characters; a GS1 batch/lot (AI 10) has 1 to 20",
        ),
        ({"cbvmda:lotNumber": ""}, "ilmd.cbvmda:lotNumber", "has 0 characters"),
        ({"cbvmda:lotNumber": 42}, "ilmd.cbvmda:lotNumber", "must be a string"),
    ],
)
def test_ilmd_master_data_attributes(ilmd: dict[str, Any], field: str, fragment: str) -> None:
    issue = only(issues_of(object_event(action="ADD", ilmd=ilmd)))
    assert (issue.field, issue.code) == (field, "ilmd")
    assert fragment in issue.message


def test_ilmd_cbvmda_under_another_prefix_or_full_iri() -> None:
    ctx = [CONTEXT[0], {"mda": "urn:epcglobal:cbv:mda:"}]
    issue = only(
        issues_of(
            object_event(action="ADD", ilmd={"mda:itemExpirationDate": "2027-02-30"}), context=ctx
        )
    )
    assert issue.field == "ilmd.mda:itemExpirationDate"
    event = object_event(action="ADD", ilmd={"urn:epcglobal:cbv:mda:lotNumber": "L 2"})
    assert only(issues_of(event)).field == "ilmd.urn:epcglobal:cbv:mda:lotNumber"
    # XML declares the namespace without the trailing colon
    doc = document(
        object_event(action="ADD", ilmd={"cbvmda:itemExpirationDate": "2027-02-30"}),
        context=[CONTEXT[0]],
    )
    doc.namespaces = {"cbvmda": "urn:epcglobal:cbv:mda"}
    assert only(validate_document(doc)).field == "ilmd.cbvmda:itemExpirationDate"


# --------------------------------------------------------------------------- bounds, extra schemas


def test_issues_are_bounded() -> None:
    events = [object_event(bizStep=f"nonsense{i}") for i in range(30)]
    found = validate_document(document(*events), max_issues=10)
    assert len(found) == 11
    assert found[-1].code == "truncated"
    assert found[-1].message == "more than 10 problems: validation stopped after the first 10"
    assert [i.event_index for i in found[:10]] == list(range(10))
    assert MAX_ISSUES == 1000


def test_extra_schema_issues_are_labelled_and_not_duplicated() -> None:
    extra = compile_schema(
        {
            "type": "object",
            "required": ["id"],
            "properties": {
                "epcisBody": {
                    "properties": {
                        "eventList": {"items": {"properties": {"bizStep": {"const": "shipping"}}}}
                    }
                }
            },
        },
        name="partner schema",
    )
    doc = document(object_event(bizStep="receiving"), object_event(bizStep="transforming"))
    found = validate_document(doc, extra_schemas=[extra])
    assert [(i.event_index, i.field, i.code) for i in found] == [
        (None, "id", "extra-schema"),
        (0, "bizStep", "extra-schema"),
        (1, "bizStep", "extra-schema"),
    ]
    assert found[0].message.startswith("partner schema: ")
    # a raw jsonschema_rs validator is accepted too
    raw = jsonschema_rs.validator_for({"required": ["id"]})
    assert [i.field for i in validate_document(document(object_event()), extra_schemas=[raw])] == [
        "id"
    ]


def test_builtin_issue_wins_over_an_extra_schema_issue_on_the_same_field() -> None:
    extra = compile_schema({"properties": {"creationDate": {"type": "integer"}}}, name="x")
    doc = document(object_event(), creationDate="soon")
    issue = only(validate_document(doc, extra_schemas=[extra]))
    assert issue.code == "bad-format"


def test_compile_schema_refuses_a_broken_schema() -> None:
    with pytest.raises(InputError, match=r"^official: not a usable JSON schema"):
        compile_schema({"type": "no-such-type"}, name="official")


def test_our_schema_is_a_valid_2020_12_schema() -> None:
    jsonschema_rs.meta.validate(EPCIS_SCHEMA)
    assert builtin_schema() is builtin_schema()


def test_require_valid_raises_document_invalid() -> None:
    require_valid(document(object_event()))
    with pytest.raises(DocumentInvalid) as exc:
        require_valid(document(object_event(bizStep="transforming")))
    assert exc.value.source == "test.jsonld"
    assert len(exc.value.issues) == 1
    assert exc.value.exit_code == 4


# --------------------------------------------------------------------------- helpers


def test_timestamp_problem_examples() -> None:
    # RFC 3339 §5.6 has leap seconds, xsd:dateTime (EPCIS 2.0 §7.3.1) does not
    assert timestamp_problem("2016-12-31T23:59:60Z") == (
        "a leap second (:60) is not an xsd:dateTime (EPCIS 2.0 §7.3.1)"
    )
    assert timestamp_problem("9999-12-31T23:59:59.000-05:00") == (
        "in UTC it falls after 9999-12-31T23:59:59Z"
    )
    assert timestamp_problem("0001-01-01T00:30:00+01:00") == (
        "in UTC it falls before 0001-01-01T00:00:00Z"
    )
    assert timestamp_problem("9999-12-31T23:59:59+05:00") is None
    assert timestamp_problem("2005-04-03T20:33:31.116000-06:00") is None
    assert timestamp_problem("2026-07-22T24:00:00Z") == "time 24:00:00 does not exist"
    assert timestamp_problem("2026-07-22T06:45:00+24:00") == "offset +24:00 does not exist"
    assert timestamp_problem("2026-07-22T06:45:00") == "it has no time zone offset (Z or ±hh:mm)"
    assert timestamp_problem("2024-02-29T00:00:00Z") is None
    assert timestamp_problem("2023-02-29T00:00:00Z") == "day 29 does not exist in 2023-02"


@given(st.datetimes(timezones=st.timezones()))
def test_timestamp_problem_accepts_every_real_aware_datetime(dt: Any) -> None:
    text = dt.isoformat()
    if dt.utcoffset().seconds % 60 or abs(dt.utcoffset().total_seconds()) >= 24 * 3600:
        return  # RFC 3339 offsets have minute resolution
    assert timestamp_problem(text) is None, text


@given(st.dates())
def test_xsd_date_problem_accepts_every_real_date(d: Any) -> None:
    text = d.isoformat()
    if len(text) == 10:
        assert xsd_date_problem(text) is None


def test_offset_problem_ignores_malformed_offsets() -> None:
    assert offset_problem("+2:00") is None  # the schema reports the form
    assert offset_problem("-14:01") is not None


# --------------------------------------------------------------------------- speed


def test_100k_epcs_validate_cleanly() -> None:
    """A large valid document has no issue (its speed is measured in bench/micro.py)."""
    events = [
        object_event(
            action="ADD",
            bizStep="commissioning",
            disposition="active",
            readPoint={"id": SGLN},
            epcList=[f"urn:epc:id:sgtin:0614141.107346.{e * 100 + i}" for i in range(100)],
            ilmd={"cbvmda:lotNumber": "L1", "cbvmda:itemExpirationDate": "2027-01-31"},
        )
        for e in range(1000)
    ]
    doc = document(*events)
    assert validate_document(doc) == []


# --------------------------------------------------------------------------- robustness

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = st.sampled_from(
    [
        "type",
        "action",
        "eventTime",
        "eventTimeZoneOffset",
        "epcList",
        "quantityList",
        "bizStep",
        "disposition",
        "readPoint",
        "ilmd",
        "sensorElementList",
        "errorDeclaration",
        "persistentDisposition",
        "bizTransactionList",
        "sourceList",
        "@context",
        "example:ext",
        "unknown",
    ]
)


@given(st.sampled_from(sorted(GOOD_EVENTS)), _FIELDS | st.text(max_size=12), _JSON)
def test_any_mutation_gives_issues_not_exceptions(name: str, key: str, value: Any) -> None:
    event = copy.deepcopy(GOOD_EVENTS[name])
    event[key] = value
    for issue in validate_document(document(event, event)):
        assert isinstance(issue, Issue)
        assert issue.message
        assert issue.event_index in (None, 0, 1)
