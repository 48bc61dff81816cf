"""GS1 EPCIS event hash ID (CBV 2.0 §8.9): conformance vectors and normalisation rules."""

from __future__ import annotations

import copy
import functools
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.epcis.hashing import (
    document_hashes,
    document_ignore_fields,
    document_prehashes,
    event_hash,
    hash_prehash,
    prehash_string,
)
from serialvault.epcis.model import STANDARD_PREFIXES
from serialvault.epcis.reader import read_document
from serialvault.errors import ValidationError
from tests.conftest import SHARED_DATA

# ------------------------------------------------------------------ conformance vectors

_EXAMPLES = SHARED_DATA / "event-hash" / "examples"


def _vector_files() -> list[Any]:
    if not _EXAMPLES.is_dir():
        return [pytest.param(None, id="event-hash-vectors-absent")]
    return [pytest.param(p, id=p.stem) for p in sorted(_EXAMPLES.glob("*.jsonld"))]


def _lines(path: Path) -> list[str]:
    """One entry per event: the files are newline-separated, the last newline optional."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _read(path: Path) -> Any:
    return read_document(path.read_bytes(), path.name)


@pytest.mark.conformance
@pytest.mark.parametrize("path", _vector_files())
def test_vector_hashes(shared_data: Path, path: Path) -> None:
    doc = _read(path)
    expected = _lines(path.with_suffix(".hashes"))
    got = document_hashes(doc)
    assert len(got) == len(doc.events) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, f"{path.name} event #{i + 1}"


def _prehash_cases() -> list[Any]:
    """One case per (vector file, event) that has an expected pre-hash line.

    A few published ``.prehashes`` lines are not the pre-hash of their own ``.hashes``
    line (sha-256 of the expected pre-hash differs from the expected hash: a scrambled
    line, a truncated line, a line copied from the previous event). They cannot be
    reproduced together with the hash, which is what the standard defines; such cases
    are strict xfails — the hash is still asserted, and a fixed vector would XPASS.
    """
    if not _EXAMPLES.is_dir():
        return [pytest.param(None, 0, id="event-hash-vectors-absent")]
    cases = []
    for path in sorted(_EXAMPLES.glob("*.jsonld")):
        pre_path = path.with_suffix(".prehashes")
        if not pre_path.exists():
            continue
        hashes = _lines(path.with_suffix(".hashes"))
        for i, line in enumerate(_lines(pre_path)):
            marks = []
            if i < len(hashes) and hash_prehash(line) != hashes[i]:
                marks.append(
                    pytest.mark.xfail(
                        strict=True,
                        reason="published pre-hash line does not hash to its .hashes line",
                    )
                )
            cases.append(pytest.param(path, i, id=f"{path.stem}#{i + 1}", marks=marks))
    return cases


@functools.lru_cache(maxsize=64)
def _document_prehashes(path: Path) -> list[str]:
    return document_prehashes(_read(path))


@pytest.mark.conformance
@pytest.mark.parametrize(("path", "index"), _prehash_cases())
def test_vector_prehash(shared_data: Path, path: Path, index: int) -> None:
    """Each event's pre-hash equals its line in ``.prehashes`` (one line per event)."""
    got = _document_prehashes(path)
    expected = _lines(path.with_suffix(".prehashes"))
    hashes = _lines(path.with_suffix(".hashes"))
    assert len(got) == len(expected) == len(hashes)
    assert hash_prehash(got[index]) == hashes[index]
    assert got[index] == expected[index]


# ----------------------------------------------------------------------- unit behaviour

NS = {**STANDARD_PREFIXES, "example": "https://ns.example.com/epcis/"}


def _event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2020-03-04T11:00:30.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
        "action": "OBSERVE",
    }
    base.update(fields)
    return base


HEAD = (
    "eventType=ObjectEventeventTime=2020-03-04T10:00:30.000ZeventTimeZoneOffset=+01:00"
    "epcListepc=https://id.gs1.org/01/10614141073464/21/2017action=OBSERVE"
)


def test_minimal_event_prehash_and_hash() -> None:
    pre = prehash_string(_event(), NS)
    assert pre == HEAD
    digest = hashlib.sha256(HEAD.encode()).hexdigest()
    assert event_hash(_event(), NS) == f"ni:///sha-256;{digest}?ver=CBV2.0"


@pytest.mark.parametrize(
    ("given_time", "canonical"),
    [
        ("2023-02-02T11:04:03.1415Z", "2023-02-02T11:04:03.142Z"),
        ("2023-02-02T11:04:03.1414999Z", "2023-02-02T11:04:03.141Z"),
        ("2023-02-02T11:04:03Z", "2023-02-02T11:04:03.000Z"),
        ("2023-02-02T11:04:03.5Z", "2023-02-02T11:04:03.500Z"),
        ("2023-12-31T23:59:59.9995Z", "2024-01-01T00:00:00.000Z"),
        ("2005-04-03T20:33:31.116000-06:00", "2005-04-04T02:33:31.116Z"),
        ("2020-01-01T00:30:00+01:00", "2019-12-31T23:30:00.000Z"),
        ("2020-01-01T00:30:00", "2020-01-01T00:30:00.000Z"),
        ("not a time", "not a time"),
    ],
)
def test_timestamps_are_utc_with_rounded_milliseconds(given_time: str, canonical: str) -> None:
    pre = prehash_string({"type": "ObjectEvent", "eventTime": given_time}, NS)
    assert pre == f"eventType=ObjectEventeventTime={canonical}"


@pytest.mark.parametrize(
    ("quantity", "text"),
    [(452.0, "452"), ("452.0", "452"), (0.05, "0.05"), ("1.50", "1.5"), (12, "12"), ("+7", "7")],
)
def test_quantities_lose_trailing_zeros(quantity: Any, text: str) -> None:
    event = _event(
        quantityList=[
            {
                "epcClass": "urn:epc:class:lgtin:4012345.012345.L1",
                "quantity": quantity,
                "uom": "KGM",
            }
        ]
    )
    pre = prehash_string(event, NS)
    assert (
        "quantityListquantityElementepcClass=https://id.gs1.org/01/04012345123456/10/L1"
        f"quantity={text}uom=KGM"
    ) in pre


def test_vocabulary_forms_are_equivalent() -> None:
    """Bare word, CBV URN, CURIE and Web URI of one CBV term give one pre-hash."""
    forms = [
        {"bizStep": "shipping", "disposition": "in_transit"},
        {
            "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
            "disposition": "urn:epcglobal:cbv:disp:in_transit",
        },
        {"bizStep": "cbv:BizStep-shipping", "disposition": "cbv:Disp-in_transit"},
        {
            "bizStep": "https://ref.gs1.org/cbv/BizStep-shipping",
            "disposition": "https://ref.gs1.org/cbv/Disp-in_transit",
        },
    ]
    pres = {prehash_string(_event(**f), NS) for f in forms}
    assert pres == {
        HEAD + "bizStep=https://ref.gs1.org/cbv/BizStep-shippingdisposition="
        "https://ref.gs1.org/cbv/Disp-in_transit"
    }


def test_typed_lists_write_type_first_and_destination_before_source() -> None:
    event = _event(
        sourceList=[{"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"}],
        destinationList=[{"type": "location", "destination": "urn:epc:id:sgln:4012345.00012.0"}],
        bizTransactionList=[
            {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:B"},
            {"bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:A"},
        ],
    )
    assert prehash_string(event, NS) == (
        HEAD + "bizTransactionListbizTransaction=urn:epcglobal:cbv:bt:4012345000009:A"
        "type=https://ref.gs1.org/cbv/BTT-pobizTransaction=urn:epcglobal:cbv:bt:4012345000009:B"
        "destinationListtype=https://ref.gs1.org/cbv/SDT-locationdestination="
        "https://id.gs1.org/414/4012345000122"
        "sourceListtype=https://ref.gs1.org/cbv/SDT-owning_partysource="
        "https://id.gs1.org/417/4012345000009"
    )


def test_sensor_data_order_and_vocabulary() -> None:
    event = _event(
        sensorElementList=[
            {
                "sensorMetadata": {"time": "2023-01-11T12:05:00+01:00", "example:m": "x"},
                "sensorReport": [
                    {"type": "Temperature", "value": 26.0, "uom": "CEL"},
                    {
                        "type": "gs1:Angle",
                        "component": "latitude",
                        "booleanValue": True,
                        "exception": "ALARM_CONDITION",
                    },
                ],
                "example:element": "e",
            }
        ]
    )
    assert prehash_string(event, NS) == (
        HEAD + "sensorElementListsensorElement"
        "sensorMetadatatime=2023-01-11T11:05:00.000Z{https://ns.example.com/epcis/}m=x"
        "sensorReporttype=https://gs1.org/voc/Angleexception=https://gs1.org/voc/ALARM_CONDITION"
        "component=https://ref.gs1.org/cbv/Comp-latitudebooleanValue=true"
        "sensorReporttype=https://gs1.org/voc/Temperaturevalue=26uom=CEL"
        "{https://ns.example.com/epcis/}element=e"
    )


def test_extensions_nested_sorted_and_after_ilmd() -> None:
    event = _event(
        **{
            "example:z": "last",
            "example:nested": {"example:b": ["3", "1"], "example:a": "2"},
            "ilmd": {"cbvmda:lotNumber": "LOT1", "cbvmda:itemExpirationDate": "2026-01-31"},
            "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0", "example:rp": "r"},
            "example:empty": "",
        }
    )
    assert prehash_string(event, NS) == (
        HEAD + "readPointid=https://id.gs1.org/414/0614141007776{https://ns.example.com/epcis/}rp=r"
        "ilmd{urn:epcglobal:cbv:mda:}itemExpirationDate=2026-01-31"
        "{urn:epcglobal:cbv:mda:}lotNumber=LOT1"
        "{https://ns.example.com/epcis/}empty"
        "{https://ns.example.com/epcis/}nested{https://ns.example.com/epcis/}a=2"
        "{https://ns.example.com/epcis/}b=1{https://ns.example.com/epcis/}b=3"
        "{https://ns.example.com/epcis/}z=last"
    )


def test_extension_keys_and_value_objects() -> None:
    """Full-IRI keys split like CURIEs; JSON-LD value/node objects give their value."""
    event = _event(
        **{
            "https://ns.example.com/epcis/asset": {"@id": "urn:epc:id:giai:4012345.A1"},
            "example:made": {"@value": "2024-01-01", "@type": "xsd:date"},
            "undeclared:x": 1.0,
        }
    )
    assert prehash_string(event, NS) == (
        HEAD + "undeclared:x=1"
        "{https://ns.example.com/epcis/}asset=https://id.gs1.org/8004/4012345A1"
        "{https://ns.example.com/epcis/}made=2024-01-01"
    )


def test_non_content_fields_are_left_out() -> None:
    plain = prehash_string(_event(), NS)
    decorated = _event(
        eventID="urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        recordTime="2024-01-01T00:00:00Z",
        errorDeclaration={"declarationTime": "2024-01-02T00:00:00Z", "reason": "incorrect_data"},
        **{"rdfs:comment": "a note", "@id": "_:b0"},
    )
    assert prehash_string(decorated, NS) == plain


def test_empty_lists_count_as_absent() -> None:
    assert prehash_string(_event(childEPCs=[], quantityList=[]), NS) == HEAD


def test_invalid_identifiers_are_hashed_as_written() -> None:
    event = _event(epcList=["urn:epc:id:sgtin:0614141.10734.1", "https://id.gs1.org/01/1/21/2"])
    assert "epc=https://id.gs1.org/01/1/21/2epc=urn:epc:id:sgtin:0614141.10734.1" in (
        prehash_string(event, NS)
    )


def test_ignore_fields_by_written_or_expanded_name() -> None:
    event = _event(**{"example:hash": "h", "example:captureID": "c"})
    plain = prehash_string(_event(), NS)
    assert prehash_string(event, NS, ignore_fields={"example:hash", "example:captureID"}) == plain
    expanded = {"{https://ns.example.com/epcis/}hash", "{https://ns.example.com/epcis/}captureID"}
    assert prehash_string(event, NS, ignore_fields=expanded) == plain
    assert prehash_string(event, NS) != plain


def test_document_ignore_fields_and_opt_out() -> None:
    body = {
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {"rx": "https://repository-x.example.com/"},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-01-01T00:00:00Z",
        "rx:ignoreFields": ["rx:hash"],
        "epcisBody": {"eventList": [_event(**{"rx:hash": "x"})]},
    }
    doc = read_document(orjson.dumps(body))
    assert document_ignore_fields(doc) == {"rx:hash", "{https://repository-x.example.com/}hash"}
    assert document_hashes(doc) == [event_hash(_event(), NS)]
    assert document_hashes(doc, honour_ignore_fields=False) != [event_hash(_event(), NS)]


def _doc_with(context_extra: dict[str, Any], event: dict[str, Any]) -> Any:
    body = {
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            context_extra,
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-01-01T00:00:00Z",
        "epcisBody": {"eventList": [event]},
    }
    return read_document(orjson.dumps(body))


def test_undelimited_context_namespace_is_used_like_xmlns() -> None:
    """``"ex": "https://ns.example.com/epcis"`` (no trailing /) as its XML twin writes it."""
    doc = _doc_with({"ex": "https://ns.example.com/epcis"}, _event(**{"ex:f": "v"}))
    assert document_prehashes(doc) == [HEAD + "{https://ns.example.com/epcis}f=v"]


def test_event_level_context_applies_to_its_event() -> None:
    event = _event(**{"@context": [{"e2": "https://ns.e2.example/"}], "e2:f": "v"})
    assert prehash_string(event, NS) == HEAD + "{https://ns.e2.example/}f=v"
    doc = _doc_with({}, event)
    assert document_prehashes(doc) == [HEAD + "{https://ns.e2.example/}f=v"]


@pytest.mark.parametrize(
    ("algorithm", "length"),
    [("sha-256", 64), ("sha-384", 96), ("sha-512", 128), ("sha3-256", 64)],
)
def test_named_information_algorithms(algorithm: str, length: int) -> None:
    ni = event_hash(_event(), NS, algorithm)
    prefix = f"ni:///{algorithm};"
    assert ni.startswith(prefix)
    assert ni.endswith("?ver=CBV2.0")
    assert len(ni) == len(prefix) + length + len("?ver=CBV2.0")


def test_unknown_algorithm_and_missing_type() -> None:
    with pytest.raises(ValidationError) as info:
        event_hash(_event(), NS, "md5")
    assert info.value.message == (
        "unsupported event hash algorithm 'md5': use one of sha-256, sha-384, sha-512, "
        "sha3-256, sha3-384, sha3-512"
    )
    with pytest.raises(ValidationError) as info:
        prehash_string({"eventTime": "2020-01-01T00:00:00Z"}, NS)
    assert info.value.message == "cannot compute the event hash: the event has no 'type'"


def test_input_is_not_modified() -> None:
    event = _event(bizTransactionList=[{"type": "po", "bizTransaction": "urn:x:1"}])
    before = copy.deepcopy(event)
    prehash_string(event, NS)
    assert event == before


# ---------------------------------------------------------------- invariance (hypothesis)

SGTINS = [f"urn:epc:id:sgtin:0614141.107346.{n}" for n in range(40)]


@given(
    epcs=st.lists(st.sampled_from(SGTINS), min_size=1, max_size=15, unique=True),
    data=st.data(),
)
def test_same_event_in_other_shapes_hashes_the_same(epcs: list[str], data: st.DataObject) -> None:
    """Field order, list order and EPC URI vs Digital Link do not change the hash."""
    event = _event(
        epcList=epcs,
        bizStep="shipping",
        bizTransactionList=[
            {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:1"},
            {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:2"},
        ],
        ilmd={"example:a": "1", "example:b": "2"},
    )
    reference = event_hash(event, NS)
    keys = data.draw(st.permutations(list(event)))
    shuffled = {k: event[k] for k in keys}
    shuffled["epcList"] = [
        data.draw(
            st.sampled_from(
                [
                    e,
                    e.replace(
                        "urn:epc:id:sgtin:0614141.107346.",
                        "https://example.com/01/10614141073464/21/",
                    ),
                ]
            )
        )
        for e in data.draw(st.permutations(epcs))
    ]
    shuffled["bizTransactionList"] = list(reversed(event["bizTransactionList"]))
    shuffled["ilmd"] = {"example:b": "2", "example:a": "1"}
    assert event_hash(shuffled, NS) == reference


@given(st.sampled_from(["bizStep", "disposition", "action", "readPoint", "epcList"]), st.data())
def test_any_content_change_changes_the_hash(field: str, data: st.DataObject) -> None:
    event = _event(
        bizStep="shipping",
        disposition="in_transit",
        readPoint={"id": "urn:epc:id:sgln:0614141.00777.0"},
    )
    changed = copy.deepcopy(event)
    replacement: Any = {
        "bizStep": "receiving",
        "disposition": "in_progress",
        "action": "ADD",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.1"},
        "epcList": [*event["epcList"], data.draw(st.sampled_from(SGTINS[1:]))],
    }[field]
    changed[field] = replacement
    assert event_hash(changed, NS) != event_hash(event, NS)
