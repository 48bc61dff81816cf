"""Write an :class:`EpcisDocument` as EPCIS 2.0 XML (namespace ``urn:epcglobal:epcis:xsd:2``).

Why: partners and older systems (EPCIS 1.2-era L4 platforms, DSCSA trading partners)
still exchange XML; an export must be the standard XML binding, in the element order
the EPCIS 2.0 XSD (``EPCglobal-epcis-2_0.xsd``) prescribes, not "JSON with angle
brackets".

The writer inverts :mod:`serialvault.epcis.xml_reader`: reading what it writes gives the
same model again (tested). Specifically:

* Elements below the root are unqualified (``elementFormDefault="unqualified"``);
  the root is ``epcis:EPCISDocument`` or ``epcisq:EPCISQueryDocument``.
* Each event's fields follow the XSD sequence of its type (``EPCISEventType`` first:
  eventTime, recordTime, eventTimeZoneOffset, eventID, errorDeclaration,
  certificationInfo; then the type's own sequence); EPCIS 2.0 has no ``<extension>``
  wrappers around standard fields any more.
* CBV values written as bare words (the JSON binding's spelling) become the URN form
  that EPCIS XML uses (CBV 2.0 §7: ``shipping`` → ``urn:epcglobal:cbv:bizstep:shipping``;
  dispositions, business transaction types, source/destination types, error reasons
  likewise). GS1 Web Vocabulary words in sensor reports become ``gs1:`` CURIEs
  (``Temperature`` → ``gs1:Temperature``) and sensor components ``cbv:Comp-x``, as in the
  GS1 XML examples. Any value that already is a URI is written as given.
* ``prefix:localName`` keys become elements in the prefix's namespace, declared with
  ``xmlns`` on the root. ``cbvmda`` is written in its XML namespace
  ``urn:epcglobal:cbv:mda`` (CBV 2.0 §10). Unprefixed keys that EPCIS does not define
  are written as unqualified elements, so nothing is lost (the validator rejects such
  documents before they are accepted, so this matters only for faithful conversion).
* Extension values follow the reader's convention: a string is the element's text; an
  object its children (``"@name"`` keys → XML attributes, ``"#text"`` → text); a list
  repeated sibling elements; ``null`` → ``xsi:nil="true"``; JSON numbers and booleans →
  text with ``xsi:type="xsd:integer"`` / ``"xsd:double"`` / ``"xsd:boolean"`` and a
  JSON-LD value object ``{"@value", "@type"}`` → text with that ``xsi:type``, which is
  how the reader gives them back as the same JSON values.
* The master data header (``epcisHeader.epcisMasterData``) is written as
  ``EPCISHeader/extension/EPCISMasterData/VocabularyList`` (2.0 XSD
  ``EPCISHeaderExtensionType``); the SBDH first, other header extensions after it.
* JSON-only document properties (``instanceIdentifier``, ``sender``, ``receiver``) have
  no element in the 2.0 XML binding; they go into the document's ``<extension>``
  (``##local`` content), from which the reader restores them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from lxml import etree

from serialvault.epcis.jsonld_writer import CBV_VOCABULARIES
from serialvault.epcis.model import STANDARD_PREFIXES, EpcisDocument, namespaces_from_context
from serialvault.errors import ValidationError

NS_EPCIS = "urn:epcglobal:epcis:xsd:2"
NS_QUERY = "urn:epcglobal:epcis-query:xsd:2"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_XSD = "http://www.w3.org/2001/XMLSchema"
NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_SBDH = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"

#: Standard prefixes whose XML namespace differs from the JSON-LD one: ILMD elements
#: in the ``cbvmda`` vocabulary live in ``urn:epcglobal:cbv:mda`` in XML (no colon), and
#: ``xsd:`` QNames in ``xsi:type`` refer to the XML Schema namespace (no ``#``).
_XML_NAMESPACE_OF = {"cbvmda": "urn:epcglobal:cbv:mda", "xsd": NS_XSD}

_COMMON = (
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "errorDeclaration",
    "certificationInfo",
)
_TAIL = ("sourceList", "destinationList", "sensorElementList", "persistentDisposition")
_WHERE = ("readPoint", "bizLocation")
#: Field order per event type, from the EPCIS 2.0 XSD complex types.
EVENT_FIELD_ORDER: dict[str, tuple[str, ...]] = {
    "ObjectEvent": (
        *_COMMON,
        "epcList",
        "action",
        "bizStep",
        "disposition",
        *_WHERE,
        "bizTransactionList",
        "quantityList",
        *_TAIL,
        "ilmd",
    ),
    "AggregationEvent": (
        *_COMMON,
        "parentID",
        "childEPCs",
        "action",
        "bizStep",
        "disposition",
        *_WHERE,
        "bizTransactionList",
        "childQuantityList",
        *_TAIL,
    ),
    "TransactionEvent": (
        *_COMMON,
        "bizTransactionList",
        "parentID",
        "epcList",
        "action",
        "bizStep",
        "disposition",
        *_WHERE,
        "quantityList",
        *_TAIL,
    ),
    "TransformationEvent": (
        *_COMMON,
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
        "bizStep",
        "disposition",
        *_WHERE,
        "bizTransactionList",
        *_TAIL,
        "ilmd",
    ),
    "AssociationEvent": (
        *_COMMON,
        "parentID",
        "childEPCs",
        "childQuantityList",
        "action",
        "bizStep",
        "disposition",
        *_WHERE,
        "bizTransactionList",
        *_TAIL,
    ),
}
#: Every standard field, in a sensible order for event types outside the table above.
_ALL_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(
        f
        for order in (
            EVENT_FIELD_ORDER["TransformationEvent"],
            EVENT_FIELD_ORDER["AssociationEvent"],
            EVENT_FIELD_ORDER["ObjectEvent"],
            ("epcClass", "quantity"),
        )
        for f in order
    )
)
_STANDARD_FIELDS = frozenset(_ALL_FIELDS) | {"epcList", "epcClass", "quantity"}

_EPC_LISTS = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_NCNAME = re.compile(r"[A-Za-z_][\w.\-]*")


def to_xml(doc: EpcisDocument) -> bytes:
    """Serialise ``doc`` as an EPCIS 2.0 XML document (UTF-8, with XML declaration).

    Raises :class:`~serialvault.errors.ValidationError` when a key cannot be an XML
    name (an undeclared prefix, a key that is not an XML name) or a value holds
    characters XML cannot carry.
    """
    return _Writer(doc).write()


def _decimal_text(value: float) -> str:
    """A float in ``xsd:decimal`` lexical form (no exponent), shortest round-trip digits."""
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _decimal_text(value)
    if value is None:
        return ""
    return str(value)


def _to_urn(vocabulary: str, value: Any) -> Any:
    """A bare CBV word → its URN form (CBV 2.0 §7); anything else unchanged."""
    if isinstance(value, str) and value and ":" not in value:
        return CBV_VOCABULARIES[vocabulary][0] + value
    return value


class _Writer:
    def __init__(self, doc: EpcisDocument) -> None:
        self.doc = doc
        declared = dict(STANDARD_PREFIXES)
        declared.update(namespaces_from_context(doc.body.get("@context")))
        declared.update(doc.namespaces)
        self.namespaces: dict[str, str] = {
            p: _XML_NAMESPACE_OF.get(p, iri) if iri == STANDARD_PREFIXES.get(p) else iri
            for p, iri in declared.items()
        }
        #: prefixes used inside attribute values (xsi:type QNames, gs1:/cbv: CURIEs);
        #: their declarations must survive the final namespace clean-up
        self.value_prefixes: set[str] = set()
        self._overlay: dict[str, str] = {}

    # ------------------------------------------------------------------ names

    def _fail(self, message: str) -> ValidationError:
        return ValidationError(f"{self.doc.name}: cannot write as EPCIS XML: {message}")

    def _namespace(self, prefix: str, key: str) -> str:
        ns = self._overlay.get(prefix) or self.namespaces.get(prefix)
        if ns is None:
            raise self._fail(
                f"the key '{key}' uses the prefix '{prefix}', which the document's"
                " @context does not declare"
            )
        return ns

    def _tag(self, key: str) -> str:
        """Clark notation ``{namespace}local`` for a JSON key."""
        if "://" in key or key.startswith("urn:"):
            cut = max(key.rfind("/"), key.rfind("#"), key.rfind(":"))
            ns, local = key[: cut + 1], key[cut + 1 :]
        elif ":" in key:
            prefix, _, local = key.partition(":")
            ns = self._namespace(prefix, key)
        else:
            ns, local = "", key
        if not _NCNAME.fullmatch(local):
            raise self._fail(f"the key '{key}' is not a valid XML element name")
        return f"{{{ns}}}{local}" if ns else local

    def _attribute_tag(self, name: str) -> str:
        if name.startswith("xsi:"):
            return f"{{{NS_XSI}}}{name[4:]}"
        if name.startswith("xml:"):
            return f"{{{NS_XML}}}{name[4:]}"
        return self._tag(name)

    def _qname_value(self, curie: str) -> str:
        """An ``xsi:type`` QName for a JSON-LD ``@type`` CURIE (prefix kept declared)."""
        xsd_iri = STANDARD_PREFIXES["xsd"]
        if curie.startswith(xsd_iri):  # a datatype IRI written in full
            curie = "xsd:" + curie[len(xsd_iri) :]
        prefix, sep, _local = curie.partition(":")
        if sep and "/" not in curie:
            self._namespace(prefix, curie)
            self.value_prefixes.add(prefix)
        return curie

    # ------------------------------------------------------------------ generic

    def _generic(self, parent: etree._Element, key: str, value: Any) -> None:
        """An extension (or unknown) key → element(s) under ``parent``."""
        if isinstance(value, list):
            for item in value:
                self._generic(parent, key, item)
            return
        self._value_into(etree.SubElement(parent, self._tag(key)), value)

    def _value_into(self, el: etree._Element, value: Any) -> None:
        if value is None:
            el.set(f"{{{NS_XSI}}}nil", "true")
        elif isinstance(value, str):
            el.text = value
        elif isinstance(value, bool):
            el.text = _scalar(value)
            el.set(f"{{{NS_XSI}}}type", self._qname_value("xsd:boolean"))
        elif isinstance(value, int):
            el.text = str(value)
            el.set(f"{{{NS_XSI}}}type", self._qname_value("xsd:integer"))
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise self._fail(f"the number {value} has no XML Schema lexical form")
            el.text = repr(value)
            el.set(f"{{{NS_XSI}}}type", self._qname_value("xsd:double"))
        elif isinstance(value, dict):
            if "@value" in value and set(value) <= {"@value", "@type", "@language"}:
                el.text = _scalar(value["@value"])
                if isinstance(value.get("@type"), str):
                    el.set(f"{{{NS_XSI}}}type", self._qname_value(value["@type"]))
                if isinstance(value.get("@language"), str):
                    el.set(f"{{{NS_XML}}}lang", value["@language"])
                return
            self._object_into(el, value)
        else:
            el.text = _scalar(value)

    def _object_into(self, el: etree._Element, value: dict[str, Any]) -> None:
        for key, item in value.items():
            if key == "#text":
                el.text = _scalar(item)
            elif key.startswith("@"):
                el.set(self._attribute_tag(key[1:]), _scalar(item))
            else:
                self._generic(el, key, item)

    def _extras(self, el: etree._Element, obj: dict[str, Any], known: Iterable[str] = ()) -> None:
        """Keys of ``obj`` not in ``known``: ``@`` → attributes, the rest → elements."""
        skip = set(known)
        for key, value in obj.items():
            if key in skip or key == "@context":
                continue
            if key.startswith("@"):
                el.set(self._attribute_tag(key[1:]), _scalar(value))
            else:
                self._generic(el, key, value)

    def _text(self, parent: etree._Element, name: str, value: Any) -> None:
        if isinstance(value, (dict, list)):
            self._generic(parent, name, value)
        else:
            etree.SubElement(parent, name).text = _scalar(value)

    # ------------------------------------------------------------------ event fields

    def _field(self, parent: etree._Element, name: str, value: Any) -> None:
        if name in _EPC_LISTS and isinstance(value, list):
            el = etree.SubElement(parent, name)
            for epc in value:
                if isinstance(epc, dict):
                    self._extras(el, epc)
                else:
                    etree.SubElement(el, "epc").text = _scalar(epc)
        elif name in _QUANTITY_LISTS and isinstance(value, list):
            el = etree.SubElement(parent, name)
            for q in value:
                if isinstance(q, dict) and "epcClass" in q:
                    qe = etree.SubElement(el, "quantityElement")
                    for part in ("epcClass", "quantity", "uom"):
                        if part in q:
                            self._text(qe, part, q[part])
                    self._extras(qe, q, ("epcClass", "quantity", "uom"))
                elif isinstance(q, dict):
                    self._extras(el, q)
        elif name in ("readPoint", "bizLocation") and isinstance(value, dict):
            el = etree.SubElement(parent, name)
            if "id" in value:
                self._text(el, "id", value["id"])
            self._extras(el, value, ("id",))
        elif name == "bizTransactionList" and isinstance(value, list):
            self._typed_list(parent, name, "bizTransaction", "btt", value)
        elif name == "sourceList" and isinstance(value, list):
            self._typed_list(parent, name, "source", "sdt", value)
        elif name == "destinationList" and isinstance(value, list):
            self._typed_list(parent, name, "destination", "sdt", value)
        elif name == "sensorElementList" and isinstance(value, list):
            self._sensor_elements(parent, value)
        elif name == "persistentDisposition" and isinstance(value, dict):
            el = etree.SubElement(parent, name)
            for part in ("unset", "set"):
                items = value.get(part)
                for item in items if isinstance(items, list) else []:
                    etree.SubElement(el, part).text = _scalar(_to_urn("disp", item))
            self._extras(el, value, ("set", "unset"))
        elif name == "errorDeclaration" and isinstance(value, dict):
            el = etree.SubElement(parent, name)
            if "declarationTime" in value:
                self._text(el, "declarationTime", value["declarationTime"])
            if "reason" in value:
                self._text(el, "reason", _to_urn("er", value["reason"]))
            ids = value.get("correctiveEventIDs")
            if isinstance(ids, list):
                ce = etree.SubElement(el, "correctiveEventIDs")
                for ident in ids:
                    if isinstance(ident, dict):
                        self._extras(ce, ident)
                    else:
                        etree.SubElement(ce, "correctiveEventID").text = _scalar(ident)
            known = ["declarationTime", "reason"]
            if isinstance(ids, list):
                known.append("correctiveEventIDs")
            self._extras(el, value, known)
        elif name == "ilmd" and isinstance(value, dict):
            self._extras(etree.SubElement(parent, name), value)
        elif name == "bizStep":
            self._text(parent, name, _to_urn("bizstep", value))
        elif name == "disposition":
            self._text(parent, name, _to_urn("disp", value))
        else:
            self._text(parent, name, value)

    def _typed_list(
        self,
        parent: etree._Element,
        name: str,
        item_name: str,
        vocabulary: str,
        items: list[Any],
    ) -> None:
        el = etree.SubElement(parent, name)
        for item in items:
            if not isinstance(item, dict) or item_name not in item:
                if isinstance(item, dict):
                    self._extras(el, item)
                continue
            entry = etree.SubElement(el, item_name)
            entry.text = _scalar(item[item_name])
            if "type" in item:
                entry.set("type", _scalar(_to_urn(vocabulary, item["type"])))
            rest = {k: v for k, v in item.items() if k not in ("type", item_name)}
            for key, value in list(rest.items()):
                if ":" in key and not isinstance(value, (dict, list)):
                    # simple content (2.0 XSD): extension properties as attributes
                    entry.set(self._attribute_tag(key), _scalar(value))
                    del rest[key]
            self._extras(entry, rest)

    def _sensor_elements(self, parent: etree._Element, elements: list[Any]) -> None:
        el = etree.SubElement(parent, "sensorElementList")
        for element in elements:
            if not isinstance(element, dict):
                continue
            if not ("sensorMetadata" in element or "sensorReport" in element):
                self._extras(el, element)
                continue
            se = etree.SubElement(el, "sensorElement")
            metadata = element.get("sensorMetadata")
            if isinstance(metadata, dict):
                self._sensor_part(etree.SubElement(se, "sensorMetadata"), metadata)
            elif "sensorMetadata" in element:
                self._generic(se, "sensorMetadata", metadata)
            reports = element.get("sensorReport")
            for report in reports if isinstance(reports, list) else [reports]:
                if isinstance(report, dict):
                    self._sensor_part(etree.SubElement(se, "sensorReport"), report)
                elif report is not None:
                    self._generic(se, "sensorReport", report)
            self._extras(se, element, ("sensorMetadata", "sensorReport"))

    def _sensor_part(self, el: etree._Element, part: dict[str, Any]) -> None:
        """``sensorMetadata`` / ``sensorReport``: fields are XML attributes (2.0 XSD)."""
        for key, value in part.items():
            if key == "#text":
                el.text = _scalar(value)
            elif isinstance(value, (dict, list)) and not key.startswith("@"):
                self._generic(el, key, value)
            else:
                if key in ("type", "exception") and isinstance(value, str) and ":" not in value:
                    value = "gs1:" + value
                    self.value_prefixes.add("gs1")
                elif key == "component" and isinstance(value, str) and ":" not in value:
                    value = "cbv:Comp-" + value
                    self.value_prefixes.add("cbv")
                name = key[1:] if key.startswith("@") else key
                el.set(self._attribute_tag(name), _scalar(value))

    # ------------------------------------------------------------------ events

    def _event(self, parent: etree._Element, event: dict[str, Any]) -> None:
        event_type = event.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise self._fail(f"an event has no type: {sorted(event)}")
        overlay = namespaces_from_context(event.get("@context"))
        self._overlay = overlay
        try:
            el = etree.SubElement(
                parent,
                self._tag(event_type),
                nsmap={p: iri for p, iri in overlay.items() if p not in self.namespaces} or None,
            )
            order = EVENT_FIELD_ORDER.get(event_type, _ALL_FIELDS)
            for name in order:
                if name in event:
                    self._field(el, name, event[name])
            rest = [k for k in event if k not in order and k not in ("type", "@context")]
            for name in rest:  # standard fields out of place, then unknown unprefixed ones
                if name in _STANDARD_FIELDS:
                    self._field(el, name, event[name])
            for name in rest:
                if name not in _STANDARD_FIELDS and ":" not in name and not name.startswith("@"):
                    self._generic(el, name, event[name])
            for name in rest:
                if name.startswith("@"):
                    el.set(self._attribute_tag(name[1:]), _scalar(event[name]))
                elif ":" in name:
                    self._generic(el, name, event[name])
        finally:
            self._overlay = {}

    def _event_list(self, parent: etree._Element, events: Any) -> None:
        el = etree.SubElement(parent, "EventList")
        for event in events if isinstance(events, list) else []:
            if isinstance(event, dict):
                self._event(el, event)

    # ------------------------------------------------------------------ header

    def _header(self, parent: etree._Element, header: dict[str, Any]) -> None:
        el = etree.SubElement(parent, "EPCISHeader")
        sbdh = [k for k in header if self._is_sbdh(k)]
        for key in sbdh:
            self._generic(el, key, header[key])
        master = header.get("epcisMasterData")
        if isinstance(master, dict):
            md = etree.SubElement(etree.SubElement(el, "extension"), "EPCISMasterData")
            self._vocabulary_list(md, master.get("vocabularyList"))
            self._extras(md, master, ("vocabularyList",))
        written = [*sbdh, "epcisMasterData"] if isinstance(master, dict) else sbdh
        self._extras(el, header, written)

    def _is_sbdh(self, key: str) -> bool:
        prefix, sep, local = key.partition(":")
        return (
            bool(sep)
            and local == "StandardBusinessDocumentHeader"
            and self.namespaces.get(prefix) == NS_SBDH
        )

    def _vocabulary_list(self, parent: etree._Element, vocabularies: Any) -> None:
        el = etree.SubElement(parent, "VocabularyList")
        for vocabulary in vocabularies if isinstance(vocabularies, list) else []:
            if not isinstance(vocabulary, dict):
                continue
            v = etree.SubElement(el, "Vocabulary")
            if "type" in vocabulary:
                v.set("type", _scalar(vocabulary["type"]))
            elements = vocabulary.get("vocabularyElementList")
            if isinstance(elements, list):
                vel = etree.SubElement(v, "VocabularyElementList")
                for element in elements:
                    if isinstance(element, dict):
                        self._vocabulary_element(vel, element)
            self._extras(v, vocabulary, ("type", "vocabularyElementList"))

    def _vocabulary_element(self, parent: etree._Element, element: dict[str, Any]) -> None:
        ve = etree.SubElement(parent, "VocabularyElement")
        if "id" in element:
            ve.set("id", _scalar(element["id"]))
        attributes = element.get("attributes")
        for attribute in attributes if isinstance(attributes, list) else []:
            if not isinstance(attribute, dict):
                continue
            a = etree.SubElement(ve, "attribute")
            if "id" in attribute:
                a.set("id", _scalar(attribute["id"]))
            for key, value in attribute.items():
                if key.startswith("@"):
                    a.set(self._attribute_tag(key[1:]), _scalar(value))
                elif ":" in key:  # a namespaced XML attribute of <attribute>
                    a.set(self._tag(key), _scalar(value))
            if "attribute" in attribute:
                value = attribute["attribute"]
                if isinstance(value, dict) and not (
                    "@value" in value and set(value) <= {"@value", "@type", "@language"}
                ):
                    self._object_into(a, value)
                else:
                    self._value_into(a, value)
        children = element.get("children")
        if isinstance(children, list):
            ch = etree.SubElement(ve, "children")
            for child in children:
                etree.SubElement(ch, "id").text = _scalar(child)
        self._extras(ve, element, ("id", "attributes", "children"))

    # ------------------------------------------------------------------ document

    def write(self) -> bytes:
        body = self.doc.body
        is_query = body.get("type") == "EPCISQueryDocument"
        nsmap: dict[str, str] = {"epcisq": NS_QUERY} if is_query else {"epcis": NS_EPCIS}
        for prefix, ns in self.namespaces.items():
            if prefix not in nsmap and ns not in (NS_EPCIS, NS_QUERY):
                nsmap[prefix] = ns
        nsmap.setdefault("xsi", NS_XSI)
        root_tag = (
            f"{{{NS_QUERY}}}EPCISQueryDocument" if is_query else f"{{{NS_EPCIS}}}EPCISDocument"
        )
        try:
            root = etree.Element(root_tag, nsmap=nsmap)
            root.set("schemaVersion", "2.0")
            if "creationDate" in body:
                root.set("creationDate", _scalar(body["creationDate"]))
            header = body.get("epcisHeader")
            if isinstance(header, dict):
                self._header(root, header)
            self._body(root, body.get("epcisBody"), is_query)
            known = ("@context", "type", "schemaVersion", "creationDate", "epcisHeader")
            local = [k for k in body if k not in known and k != "epcisBody"]
            plain = [k for k in local if ":" not in k and not k.startswith("@")]
            if plain:  # JSON-only properties → the document's ##local extension
                ext = etree.SubElement(root, "extension")
                for key in plain:
                    self._generic(ext, key, body[key])
            for key in local:
                if key.startswith("@"):
                    root.set(self._attribute_tag(key[1:]), _scalar(body[key]))
                elif ":" in key:
                    self._generic(root, key, body[key])
        except ValueError as exc:  # lxml: text or name XML cannot carry
            raise self._fail(str(exc)) from None
        keep = sorted(p for p in self.value_prefixes if p in nsmap)
        etree.cleanup_namespaces(root, keep_ns_prefixes=keep)
        return bytes(
            etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        )

    def _body(self, root: etree._Element, epcis_body: Any, is_query: bool) -> None:
        el = etree.SubElement(root, "EPCISBody")
        if not isinstance(epcis_body, dict):
            return
        if is_query:
            results = epcis_body.get("queryResults")
            if isinstance(results, dict):
                qr = etree.SubElement(el, f"{{{NS_QUERY}}}QueryResults")
                for part in ("queryName", "subscriptionID"):
                    if part in results:
                        self._text(qr, part, results[part])
                rb = results.get("resultsBody")
                if isinstance(rb, dict):
                    rbe = etree.SubElement(qr, "resultsBody")
                    if "eventList" in rb:
                        self._event_list(rbe, rb["eventList"])
                    if "vocabularyList" in rb:
                        self._vocabulary_list(rbe, rb["vocabularyList"])
                    self._extras(rbe, rb, ("eventList", "vocabularyList"))
                self._extras(qr, results, ("queryName", "subscriptionID", "resultsBody"))
            self._extras(el, epcis_body, ("queryResults",))
        else:
            self._event_list(el, epcis_body.get("eventList"))
            self._extras(el, epcis_body, ("eventList",))
