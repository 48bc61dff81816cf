"""Write an :class:`EpcisDocument` as an EPCIS 2.0 JSON-LD document (EPCIS 2.0 §12).

The model already has the JSON-LD data shape, so writing is serialising — with one
rewrite: the JSON binding spells CBV standard values as bare words (EPCIS 2.0 §12 and
CBV 2.0 §8: ``"bizStep": "shipping"``, ``"disposition": "in_transit"``, ``"type": "po"``),
while documents read from XML carry the URN form of EPCIS XML
(``urn:epcglobal:cbv:bizstep:shipping``) or a Web URI (``https://ref.gs1.org/cbv/…``).
Those spellings are turned into bare words here; custom vocabulary values (any other
URI) and all identifiers (EPC URNs, GS1 Digital Link URIs) are written exactly as given.

The rewrite is purely syntactic — "a standard-namespace spelling becomes the word after
the namespace prefix" — and needs no list of values, so a value that is not in the
vocabulary (``urn:epcglobal:cbv:bizstep:transforming``) stays wrong in the same way
(``transforming``) and the validator still reports it.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from serialvault.epcis.model import STANDARD_PREFIXES, EpcisDocument

#: The EPCIS 2.0 JSON-LD context (EPCIS 2.0 §12).
EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

#: Standard vocabularies → the URN prefix used by EPCIS XML (CBV 2.0 §7.1–§7.5, the
#: ``urn:epcglobal:cbv:…`` namespaces) and the Web URI prefix of the same term (CBV 2.0
#: §8, ``https://ref.gs1.org/cbv/BizStep-…``), also written as a ``cbv:`` CURIE.
CBV_VOCABULARIES: dict[str, tuple[str, str]] = {
    "bizstep": ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    "disp": ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    "btt": ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    "sdt": ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    "er": ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
    # sensor component (CBV 2.0 §7.6: x, y, z, latitude, …): Web URI / CURIE only
    "comp": ("", "https://ref.gs1.org/cbv/Comp-"),
}

#: GS1 Web Vocabulary terms used by ``sensorReport.type`` (measurement types such as
#: ``gs1:Temperature``) and ``sensorReport.exception`` (``gs1:ALARM_CONDITION``); EPCIS
#: 2.0 §7.3.9 (sensor data) and the JSON binding write them as bare words.
GS1_VOC_PREFIXES = ("gs1:", "https://gs1.org/voc/", "https://ref.gs1.org/voc/")

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")


def bare_word(vocabulary: str, value: Any) -> Any:
    """The bare-word spelling of a standard vocabulary value, else ``value`` unchanged.

    ``vocabulary`` is a key of :data:`CBV_VOCABULARIES` or ``"gs1"`` (GS1 Web
    Vocabulary terms). ``bare_word("bizstep", "urn:epcglobal:cbv:bizstep:shipping")``
    and ``bare_word("bizstep", "https://ref.gs1.org/cbv/BizStep-shipping")`` are
    ``"shipping"``; a custom URI is returned as it is.
    """
    if not isinstance(value, str):
        return value
    if vocabulary == "gs1":
        prefixes: tuple[str, ...] = GS1_VOC_PREFIXES
    else:
        urn, web = CBV_VOCABULARIES[vocabulary]
        curie = "cbv:" + web.rsplit("/", 1)[1]
        prefixes = (urn, web, curie) if urn else (web, curie)
    for prefix in prefixes:
        if value.startswith(prefix):
            word = value[len(prefix) :]
            if _WORD.fullmatch(word):
                return word
    return value


def jsonld_event(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``event`` with every CBV / GS1 Web Vocabulary value as a bare word."""
    out = dict(event)
    for key, vocabulary in (("bizStep", "bizstep"), ("disposition", "disp")):
        if key in out:
            out[key] = bare_word(vocabulary, out[key])
    pd = out.get("persistentDisposition")
    if isinstance(pd, dict):
        out["persistentDisposition"] = {
            k: [bare_word("disp", v) for v in vs]
            if k in ("set", "unset") and isinstance(vs, list)
            else vs
            for k, vs in pd.items()
        }
    for key, vocabulary in (
        ("bizTransactionList", "btt"),
        ("sourceList", "sdt"),
        ("destinationList", "sdt"),
    ):
        items = out.get(key)
        if isinstance(items, list):
            out[key] = [
                {**item, "type": bare_word(vocabulary, item["type"])}
                if isinstance(item, dict) and "type" in item
                else item
                for item in items
            ]
    error = out.get("errorDeclaration")
    if isinstance(error, dict) and "reason" in error:
        out["errorDeclaration"] = {**error, "reason": bare_word("er", error["reason"])}
    sensors = out.get("sensorElementList")
    if isinstance(sensors, list):
        out["sensorElementList"] = [_sensor_element(s) for s in sensors]
    return out


def _sensor_element(element: Any) -> Any:
    if not isinstance(element, dict) or not isinstance(element.get("sensorReport"), list):
        return element
    reports = []
    for report in element["sensorReport"]:
        if isinstance(report, dict):
            report = dict(report)
            for key in ("type", "exception"):
                if key in report:
                    report[key] = bare_word("gs1", report[key])
            if "component" in report:
                report["component"] = bare_word("comp", report["component"])
        reports.append(report)
    return {**element, "sensorReport": reports}


def jsonld_body(doc: EpcisDocument) -> dict[str, Any]:
    """The document body as EPCIS 2.0 JSON-LD (a new dict; ``doc`` is not modified).

    ``@context`` comes first and declares every prefix of ``doc.namespaces`` (a document
    built in memory may lack the declarations); the standard context is added when the
    body has none.
    """
    body = dict(doc.body)
    context = body.pop("@context", None)
    items: list[Any] = list(context) if isinstance(context, list) else [context] if context else []
    if not items:
        items.append(EPCIS_CONTEXT_URL)
    declared = {key for item in items if isinstance(item, dict) for key in item}
    added = [{p: iri} for p, iri in doc.namespaces.items() if p not in declared]
    items.extend(added)
    epcis_body = body.get("epcisBody")
    if isinstance(epcis_body, dict):
        epcis_body = dict(epcis_body)
        if isinstance(epcis_body.get("eventList"), list):
            epcis_body["eventList"] = [_event(e) for e in epcis_body["eventList"]]
        results = epcis_body.get("queryResults")
        if isinstance(results, dict) and isinstance(results.get("resultsBody"), dict):
            results_body = dict(results["resultsBody"])
            if isinstance(results_body.get("eventList"), list):
                results_body["eventList"] = [_event(e) for e in results_body["eventList"]]
            epcis_body["queryResults"] = {**results, "resultsBody": results_body}
        body["epcisBody"] = epcis_body
    keep_list = isinstance(context, list) or len(items) > 1
    return {"@context": items if keep_list else items[0], **body}


def _event(event: Any) -> Any:
    return jsonld_event(event) if isinstance(event, dict) else event


def to_jsonld(doc: EpcisDocument, *, indent: bool = False) -> bytes:
    """Serialise ``doc`` as EPCIS 2.0 JSON-LD (UTF-8 bytes; two-space indent if asked)."""
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(jsonld_body(doc), option=option)


def query_document(
    events: list[tuple[dict[str, Any], dict[str, str]]], created: str
) -> dict[str, Any]:
    """An EPCIS 2.0 query document (EPCIS 2.0 §8.2.7, SimpleEventQuery results) holding
    stored events: each ``(event, its namespace prefixes)``; the prefixes that are not
    standard ones are declared once in the ``@context``.

    >>> doc = query_document([({"type": "ObjectEvent"}, {"ex": "https://ex.org/"})], "T")
    >>> doc["@context"][1], doc["epcisBody"]["queryResults"]["queryName"]
    ({'ex': 'https://ex.org/'}, 'SimpleEventQuery')
    """
    context: list[Any] = [EPCIS_CONTEXT_URL]
    namespaces: dict[str, str] = {}
    for _, prefixes in events:
        for prefix, iri in prefixes.items():
            if prefix not in STANDARD_PREFIXES:
                namespaces.setdefault(prefix, iri)
    if namespaces:
        context.append(namespaces)
    return {
        "@context": context,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": [e for e, _ in events]},
            }
        },
    }
