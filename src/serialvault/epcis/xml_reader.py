"""Read EPCIS XML — 2.0 and 1.2 — into the EPCIS 2.0 JSON-LD data shape.

Why one shape: the validator, the event hash and the repository only ever see the data
shape of the EPCIS 2.0 JSON/JSON-LD binding (EPCIS 2.0 §12, see ``epcis/model.py``), so
an XML document is converted here, once, and nothing downstream needs to know about XML.

What is read (XSDs ``EPCglobal-epcis-2_0.xsd`` / ``EPCglobal-epcis-query-2_0.xsd`` and
their 1.2 counterparts; EPCIS 1.2 §9 "XML bindings for data definition modules"):

* ``EPCISDocument`` (namespace ``urn:epcglobal:epcis:xsd:2`` or ``…:xsd:1``),
  ``EPCISQueryDocument`` holding ``QueryResults`` (``urn:epcglobal:epcis-query:xsd:2`` or
  ``…:xsd:1``) → ``epcisBody.queryResults.resultsBody.eventList``, and a bare event as the
  root element (the EPCIS 2.0 REST binding accepts one) → a one-event document.
* Every event type. EPCIS 1.2 carried later additions in ``<extension>`` wrappers
  (``quantityList``, ``childQuantityList``, ``sourceList``, ``destinationList``, ``ilmd``,
  the ``TransformationEvent`` itself inside ``EventList/extension``) and ``eventID`` /
  ``errorDeclaration`` in ``<baseExtension>``; EPCIS 2.0 moved them all to the event
  root. Wrappers named ``extension`` or ``baseExtension`` in the EPCIS namespace are
  therefore transparent: their children are read as if they were the parent's.
* ``bizTransaction`` / ``source`` / ``destination`` → ``{"type": …, "bizTransaction": …}``
  and so on; ``readPoint`` / ``bizLocation`` → ``{"id": …}`` plus extensions;
  ``sensorMetadata`` / ``sensorReport`` attributes → keys, typed as the 2.0 XSD types them
  (``xsd:double`` → number, ``xsd:boolean`` → boolean; URIs and CURIEs such as
  ``gs1:Temperature`` are kept exactly as given); ``persistentDisposition``;
  ``certificationInfo``; ``quantity`` → a number.
* Header: the SBDH and any header extension are kept as namespaced keys;
  ``EPCISMasterData`` (also 1.2's ``extension/EPCISMasterData``) →
  ``epcisHeader.epcisMasterData.vocabularyList`` with
  ``{"type", "vocabularyElementList": [{"id", "attributes": [{"id", "attribute"}],
  "children": […]}]}``.

Values are kept as written, apart from surrounding white space (every EPCIS simple type —
anyURI, dateTime, decimal — collapses white space in XML Schema). CBV values stay in the
form the document used (URN, Web URI or bare word): the JSON-LD writer produces the bare
words of the JSON binding; the validator and the event hash accept every spelling.
EPCIS 1.2 §9.5: an optional element or attribute whose value is the empty string is
treated "in exactly the same way as if it were omitted", so it is left out.

User extensions and ILMD (elements in any namespace other than the EPCIS ones) become
``prefix:localName`` keys. The prefix is the document's own when it has one and it is
free; otherwise one is generated (``ns1``, ``ns2`` …) — for a default namespace, or when
two namespaces use one prefix in different scopes. Each such prefix is added to the
``@context`` (one ``{prefix: namespace}`` object each) and to
``EpcisDocument.namespaces``; namespaces that the standard EPCIS context already names
(``cbvmda`` — whose XML spelling is ``urn:epcglobal:cbv:mda`` without the colon —,
``gs1``, ``cbv`` …) use the standard prefix and need no declaration.

Extension content maps as follows (this is the documented convention; the XML writer
inverts it exactly):

* an element with child elements → an object, one key per child; repeated siblings → a
  list, in document order;
* a leaf → its text as a **string**. Numbers stay strings: XML gives an untyped
  extension no type, and guessing (``"00123"`` a number? ``"1e3"``? ``"true"``?) would
  change lot numbers, serials and codes that only look numeric, and would make the event
  hash depend on the guess;
* a leaf whose only attribute is ``xsi:type`` is typed as declared, following the way
  JSON-LD maps its native types to XML Schema (JSON-LD 1.1 §8.6, data round tripping):
  ``xsd:integer`` (and its derived integer types) → JSON integer, ``xsd:double`` /
  ``xsd:float`` → JSON number, ``xsd:boolean`` → JSON boolean, ``xsd:string`` → string;
  any other type → a JSON-LD value object ``{"@value": text, "@type": "xsd:dateTime"}``
  (JSON-LD 1.1 §4.2.1 typed values), which keeps, e.g., an ``xsd:decimal`` exact;
* a leaf whose only attribute is ``xsi:nil="true"`` → ``null``; one whose only
  attribute is ``xml:lang`` → ``{"@value": text, "@language": lang}``;
* otherwise the element is an object: an attribute in a user namespace is a property
  of that namespace just like a child element, so ``ext:unit="kg"`` becomes the key
  ``"ext:unit"`` (the same rule EPCIS 2.0 §12 applies to the extension attributes of
  ``sensorMetadata`` and ``sensorReport``, and what the OpenEPCIS JSON twins show); an
  unqualified (or ``xsi:`` / ``xml:``) attribute becomes ``"@" + name``
  (``"@Authority"`` on an SBDH ``Identifier``); the element's own text goes under
  ``"#text"``, which is also present (empty) when only ``"@"`` keys would remain, so the
  object can never be mistaken for a JSON-LD value object. The same attribute rule
  holds for attributes that EPCIS does not define on its own elements.

Elements in no namespace or in an EPCIS namespace that EPCIS does not define at that
place (``<madeUpField>``) are kept as unprefixed keys, so that the validator rejects
them by name; nothing is dropped silently. ``xsi:schemaLocation`` on the root is the
only thing not carried over: it is a hint for XML validators, not document content.

Security: the parser never touches the network, never expands entities and never loads
a DTD; a document with a ``DOCTYPE`` is refused (EPCIS needs none, and entity
declarations are the vector of "billion laughs" attacks). ``huge_tree`` stays off:
libxml2's default limits (10 MB per text node, depth 256) are far beyond any EPCIS
document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, cast

from lxml import etree

from serialvault.epcis.jsonld_writer import EPCIS_CONTEXT_URL
from serialvault.epcis.model import EVENT_TYPES, STANDARD_PREFIXES, EpcisDocument, wrap_event
from serialvault.errors import InputError

NS_EPCIS_1 = "urn:epcglobal:epcis:xsd:1"
NS_EPCIS_2 = "urn:epcglobal:epcis:xsd:2"
NS_QUERY_1 = "urn:epcglobal:epcis-query:xsd:1"
NS_QUERY_2 = "urn:epcglobal:epcis-query:xsd:2"
NS_MASTERDATA_1 = "urn:epcglobal:epcis-masterdata:xsd:1"
NS_MASTERDATA_2 = "urn:epcglobal:epcis-masterdata:xsd:2"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_XSD = "http://www.w3.org/2001/XMLSchema"
NS_XML = "http://www.w3.org/XML/1998/namespace"
#: CBV master data attributes as XML element namespace (CBV 2.0 §10: ILMD elements such
#: as ``cbvmda:lotNumber``); the JSON-LD context spells it with a trailing colon.
NS_CBVMDA_XML = "urn:epcglobal:cbv:mda"

#: Namespaces whose elements EPCIS itself defines ("" = no namespace: EPCIS XML elements
#: below the root are unqualified, ``elementFormDefault="unqualified"``).
EPCIS_NAMESPACES = frozenset(
    {"", NS_EPCIS_1, NS_EPCIS_2, NS_QUERY_1, NS_QUERY_2, NS_MASTERDATA_1, NS_MASTERDATA_2}
)

#: Event element names: the EPCIS 2.0 types plus 1.2's deprecated ``QuantityEvent``, which
#: is read (not dropped) so that the validator can reject it by name.
EVENT_ELEMENTS = (*EVENT_TYPES, "QuantityEvent")

_WRAPPERS = frozenset({"extension", "baseExtension"})
_XSI_TYPE = f"{{{NS_XSI}}}type"
_XSI_NIL = f"{{{NS_XSI}}}nil"
_XML_LANG = f"{{{NS_XML}}}lang"
_XSI_SCHEMA_LOCATIONS = frozenset(
    {f"{{{NS_XSI}}}schemaLocation", f"{{{NS_XSI}}}noNamespaceSchemaLocation"}
)

#: Namespace IRI → standard prefix of the EPCIS context (no declaration needed).
_STANDARD_BY_URI: dict[str, str] = {iri: p for p, iri in STANDARD_PREFIXES.items()}
_STANDARD_BY_URI[NS_CBVMDA_XML] = "cbvmda"
_STANDARD_BY_URI[NS_XSD] = "xsd"

#: ``sensorReport`` attributes typed xsd:double / xsd:boolean in the 2.0 XSD
#: (``SensorReportType``); every other sensor attribute is a string (URI, CURIE, time).
_SENSOR_NUMBERS = frozenset(
    {"value", "minValue", "maxValue", "sDev", "meanValue", "percRank", "percValue"}
)
_SENSOR_BOOLEANS = frozenset({"booleanValue"})

_XSD_INTEGER_TYPES = frozenset(
    {
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    }
)
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_INT_RE = re.compile(r"[+-]?[0-9]+")
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_LIBXML_POSITION = re.compile(r", line \d+, column \d+$")
_DOCTYPE = re.compile(rb"<!DOCTYPE\s+[^\s\[>]+")
_XMLNS_PREFIX = re.compile(rb"xmlns:([A-Za-z_][\w.\-]*)\s*=")

#: Returned by a field reader for "leave the key out" (empty optional value).
_OMIT: Any = object()

Handler = Callable[[etree._Element], Any]
Fields = dict[str, tuple[str, Handler]]


def read_xml(data: bytes, name: str = "<document>", *, master_data: bool = False) -> EpcisDocument:
    """Parse EPCIS XML (2.0 or 1.2) into an :class:`EpcisDocument`.

    Raises :class:`~serialvault.errors.InputError` naming ``name``, the line and column
    and what was found when the bytes are not well-formed XML or not an EPCIS document.
    ``master_data`` also admits the standalone ``EPCISMasterDataDocument`` (EPCIS 1.2
    §9.5 / 2.0 XSD ``epcismd``), whose vocabularies land in ``epcisBody.vocabularyList``;
    it carries no events, so only master-data import asks for it.
    """
    return _Reader(data, name).read(master_data=master_data)


def _split(tag: str) -> tuple[str, str]:
    if tag[:1] == "{":
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _number(text: str) -> Any:
    """An ``xsd:decimal`` / ``xsd:double`` lexical value as a JSON number, else the text.

    Text that is not a number is returned unchanged so that the validator reports it
    with the event and field; NaN and infinities have no JSON form and stay text too.
    """
    if _INT_RE.fullmatch(text):
        return int(text)
    if _DECIMAL_RE.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return number
    return text


def _items(el: etree._Element) -> list[tuple[str, str]]:
    """The element's attributes as ``(name, value)`` (lxml gives ``str`` for both)."""
    return cast("list[tuple[str, str]]", el.items())


def _put(out: dict[str, Any], key: str, value: Any, repeated: set[str]) -> None:
    """Add ``key: value``; a repeated key becomes a list in document order.

    ``repeated`` remembers which keys were turned into lists here, so that a field whose
    own value is a list (``epcList``) is still told apart from a repetition.
    """
    if key not in out:
        out[key] = value
    elif key in repeated:
        out[key].append(value)
    else:
        out[key] = [out[key], value]
        repeated.add(key)


class _Reader:
    """One conversion: holds the input (for error positions) and the prefix registry."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.name = name
        self._lines: list[bytes] | None = None
        #: document-level prefix → namespace (non-standard prefixes only), in first-use order
        self.namespaces: dict[str, str] = {}
        self._prefix_of: dict[str, str] = {}
        self._declared: set[str] | None = None
        self._key_cache: dict[str, str] = {}
        text: Handler = self._text
        required: Handler = self._text_required
        self._event_fields = self._event_table()
        self._quantity_fields: Fields = {
            "epcClass": ("epcClass", required),
            "quantity": ("quantity", self._quantity),
            "uom": ("uom", text),
        }
        self._location_fields: Fields = {"id": ("id", required)}
        self._error_fields: Fields = {
            "declarationTime": ("declarationTime", required),
            "reason": ("reason", text),
            "correctiveEventIDs": ("correctiveEventIDs", self._corrective_ids),
        }
        self._sensor_element_fields: Fields = {
            "sensorMetadata": ("sensorMetadata", self._sensor_metadata),
            "sensorReport": ("sensorReport", self._sensor_report),
        }
        self._header_fields: Fields = {
            "EPCISMasterData": ("epcisMasterData", self._master_data),
        }
        self._master_data_fields: Fields = {
            "VocabularyList": ("vocabularyList", self._vocabulary_list),
        }
        self._vocabulary_fields: Fields = {
            "VocabularyElementList": ("vocabularyElementList", self._vocabulary_elements),
        }
        self._vocabulary_element_fields: Fields = {
            "attribute": ("attributes", self._md_attribute),
            "children": ("children", self._children_ids),
        }
        self._body_fields: Fields = {
            "EventList": ("eventList", self._event_list),
            "QueryResults": ("queryResults", self._query_results),
            "VocabularyList": ("vocabularyList", self._vocabulary_list),  # master data doc
        }
        self._query_results_fields: Fields = {
            "queryName": ("queryName", required),
            "subscriptionID": ("subscriptionID", text),
            "resultsBody": ("resultsBody", self._results_body),
        }
        self._results_body_fields: Fields = {
            "EventList": ("eventList", self._event_list),
            "VocabularyList": ("vocabularyList", self._vocabulary_list),
        }
        #: keys that are lists even with one element (JSON binding arrays of objects)
        self._always_list = frozenset({"sensorReport", "attributes"})

    def _event_table(self) -> Fields:
        """Every child element an event may have (EPCIS 2.0 XSD, and 1.2's
        QuantityEvent), with the JSON key it becomes and its handler."""
        text: Handler = self._text
        required: Handler = self._text_required
        return {
            "eventTime": ("eventTime", required),
            "recordTime": ("recordTime", text),
            "eventTimeZoneOffset": ("eventTimeZoneOffset", required),
            "eventID": ("eventID", text),
            "certificationInfo": ("certificationInfo", text),
            "errorDeclaration": ("errorDeclaration", self._error_declaration),
            "parentID": ("parentID", text),
            "epcList": ("epcList", self._epcs),
            "childEPCs": ("childEPCs", self._epcs),
            "inputEPCList": ("inputEPCList", self._epcs),
            "outputEPCList": ("outputEPCList", self._epcs),
            "quantityList": ("quantityList", self._quantities),
            "childQuantityList": ("childQuantityList", self._quantities),
            "inputQuantityList": ("inputQuantityList", self._quantities),
            "outputQuantityList": ("outputQuantityList", self._quantities),
            "action": ("action", required),
            "transformationID": ("transformationID", text),
            "bizStep": ("bizStep", text),
            "disposition": ("disposition", text),
            "persistentDisposition": ("persistentDisposition", self._persistent_disposition),
            "readPoint": ("readPoint", self._location),
            "bizLocation": ("bizLocation", self._location),
            "bizTransactionList": ("bizTransactionList", self._biz_transactions),
            "sourceList": ("sourceList", self._sources),
            "destinationList": ("destinationList", self._destinations),
            "sensorElementList": ("sensorElementList", self._sensor_elements),
            "ilmd": ("ilmd", self._ilmd),
            # EPCIS 1.2 QuantityEvent (deprecated in 1.1, removed in 2.0)
            "epcClass": ("epcClass", required),
            "quantity": ("quantity", self._quantity),
        }

    # ------------------------------------------------------------------ parsing

    def read(self, *, master_data: bool = False) -> EpcisDocument:
        root = self._parse()
        ns, local = _split(root.tag)
        is_md = local == "EPCISMasterDataDocument" and ns in (NS_MASTERDATA_1, NS_MASTERDATA_2)
        if is_md and not master_data:
            raise InputError(
                f"{self.name}: {self._where(root)}: an EPCIS master data document carries"
                " master data and no events; `serialvault masterdata import` reads it"
            )
        if is_md:
            body = self._document(root, "EPCISMasterDataDocument")
        elif local == "EPCISDocument" and ns in (NS_EPCIS_1, NS_EPCIS_2):
            body = self._document(root, "EPCISDocument")
        elif local == "EPCISQueryDocument" and ns in (NS_QUERY_1, NS_QUERY_2):
            body = self._document(root, "EPCISQueryDocument")
        elif local in EVENT_ELEMENTS and ns in ("", NS_EPCIS_1, NS_EPCIS_2):
            body = self._bare_event(root, local)
        else:
            where = f" (namespace {ns})" if ns else " (no namespace)"
            raise InputError(
                f"{self.name}: {self._where(root)}: not an EPCIS document: the root element"
                f" is <{self._qname(root)}>{where}; expected EPCISDocument,"
                f" EPCISQueryDocument or an event ({', '.join(EVENT_TYPES)})"
            )
        if ns in (NS_EPCIS_1, NS_QUERY_1, NS_MASTERDATA_1):
            version = "1.2"
        elif ns == "":
            version = "1.2" if (root.get("schemaVersion") or "").strip()[:2] == "1." else "2.0"
        else:
            version = "2.0"
        context: list[Any] = [EPCIS_CONTEXT_URL]
        context.extend({p: iri} for p, iri in self.namespaces.items())
        return EpcisDocument(
            body={"@context": context, **body},
            syntax="xml",
            source_version=version,
            name=self.name,
            namespaces=dict(self.namespaces),
        )

    def _parse(self) -> etree._Element:
        if not self.data.strip():
            raise InputError(f"{self.name}: malformed XML at line 1, column 1: the input is empty")
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        try:
            root = etree.fromstring(self.data, parser)
        except etree.XMLSyntaxError as exc:
            line, column = exc.position
            message = _LIBXML_POSITION.sub("", exc.msg or str(exc))
            raise InputError(
                f"{self.name}: malformed XML at line {line}, column {column}: {message}"
            ) from None
        docinfo = root.getroottree().docinfo
        doctype: object = getattr(docinfo, "doctype", None)
        if docinfo.internalDTD is not None or doctype:
            offset = max(self.data.find(b"<!DOCTYPE"), 0)
            found = _DOCTYPE.match(self.data, offset)
            line, column = self._position(offset)
            declared = found.group(0).decode("utf-8", "replace") if found else "<!DOCTYPE"
            raise InputError(
                f"{self.name}: line {line}, column {column}: a DOCTYPE declaration is not"
                f" accepted in EPCIS XML (found {declared}>): EPCIS needs no DTD, and entity"
                " declarations can expand without bound"
            )
        return root

    # ------------------------------------------------------------------ positions

    def _position(self, offset: int) -> tuple[int, int]:
        before = self.data[:offset]
        line = before.count(b"\n") + 1
        start = before.rfind(b"\n") + 1
        column = len(self.data[start:offset].decode("utf-8", "replace")) + 1
        return line, column

    def _where(self, el: etree._Element) -> str:
        """``line L, column C`` where ``el``'s start tag begins.

        libxml2 records only the line on which the start tag *ends*; the tag begins on
        that line or, when its attributes span several lines, on an earlier one.
        """
        end_line: int = getattr(el, "sourceline", None) or 1
        if self._lines is None:
            self._lines = self.data.split(b"\n")
        start = re.compile("<" + re.escape(self._qname(el)) + r"(?=[\s/>]|$)")
        for line in range(min(end_line, len(self._lines)), 0, -1):
            text = self._lines[line - 1].decode("utf-8", "replace")
            found = [m.start() for m in start.finditer(text)]
            if found:
                return f"line {line}, column {found[-1] + 1}"
        return f"line {end_line}, column 1"

    @staticmethod
    def _qname(el: etree._Element) -> str:
        local = _split(el.tag)[1]
        return f"{el.prefix}:{local}" if el.prefix else local

    # ------------------------------------------------------------------ prefixes

    def _prefix(self, ns: str, hint: str | None) -> str:
        """The JSON-LD prefix for namespace ``ns`` (registered on first use)."""
        prefix = self._prefix_of.get(ns)
        if prefix is not None:
            return prefix
        standard = _STANDARD_BY_URI.get(ns)
        if standard is not None:
            prefix = standard
        else:
            if hint and hint not in self.namespaces and hint not in STANDARD_PREFIXES:
                prefix = hint
            else:
                if self._declared is None:  # prefixes the document declares anywhere
                    self._declared = {m.decode("ascii") for m in _XMLNS_PREFIX.findall(self.data)}
                n = 1
                while (
                    f"ns{n}" in self.namespaces
                    or f"ns{n}" in STANDARD_PREFIXES
                    or f"ns{n}" in self._declared
                ):
                    n += 1
                prefix = f"ns{n}"
            self.namespaces[prefix] = ns
        self._prefix_of[ns] = prefix
        return prefix

    def _key(self, el: etree._Element) -> str:
        """The JSON key of an element: ``prefix:local``, or ``local`` in EPCIS/no namespace."""
        tag = el.tag
        key = self._key_cache.get(tag)
        if key is None:
            ns, local = _split(tag)
            key = local if ns in EPCIS_NAMESPACES else f"{self._prefix(ns, el.prefix)}:{local}"
            self._key_cache[tag] = key
        return key

    def _attribute_name(self, el: etree._Element, name: str) -> str:
        """``prefix:local`` for a namespaced attribute, the bare name otherwise."""
        if name[:1] != "{":
            return name
        ns, local = _split(name)
        if ns == NS_XSI:
            return "xsi:" + local
        if ns == NS_XML:
            return "xml:" + local
        if ns in EPCIS_NAMESPACES:
            return local
        hint = next((p for p, iri in el.nsmap.items() if iri == ns and p), None)
        return f"{self._prefix(ns, hint)}:{local}"

    def _attribute_key(self, el: etree._Element, name: str) -> str:
        """The JSON key of an attribute EPCIS does not define on this element.

        An attribute in a user namespace is a property in that namespace exactly like a
        child element (``ext:unit="kg"`` ≡ ``<ext:unit>kg</ext:unit>``), so it gets the
        same ``prefix:local`` key — as EPCIS 2.0 §12 does for the extension attributes of
        ``sensorMetadata`` / ``sensorReport``. Unqualified, ``xsi:`` and ``xml:``
        attributes have no namespace of their own and become ``"@name"`` keys.
        """
        key = self._attribute_name(el, name)
        if ":" in key and not key.startswith(("xsi:", "xml:")):
            return key
        return "@" + key

    # ------------------------------------------------------------------ generic content

    def _fill(
        self,
        el: etree._Element,
        out: dict[str, Any],
        fields: Fields,
        repeated: set[str] | None = None,
    ) -> dict[str, Any]:
        """Read ``el``'s children into ``out``: known fields, wrappers, extensions."""
        if repeated is None:
            repeated = set()
        for child in el:
            ns, local = _split(child.tag)
            if ns in EPCIS_NAMESPACES:
                if local in _WRAPPERS:
                    self._attributes_into(child, out)
                    self._fill(child, out, fields, repeated)
                    continue
                field = fields.get(local)
                if field is None:
                    key, value = local, self._generic(child)
                else:
                    key, value = field[0], field[1](child)
                    if value is _OMIT:
                        continue
                    if key in self._always_list:
                        out.setdefault(key, []).append(value)
                        continue
            else:
                key, value = self._key(child), self._generic(child)
            _put(out, key, value, repeated)
        return out

    def _attributes_into(
        self, el: etree._Element, out: dict[str, Any], skip: frozenset[str] = frozenset()
    ) -> None:
        """Attributes EPCIS does not define on this element → keys (see ``_attribute_key``)."""
        for name, value in _items(el):
            if name not in skip:
                out[self._attribute_key(el, name)] = value

    def _generic(self, el: etree._Element) -> Any:
        """An extension element (or an element EPCIS does not define) → JSON value."""
        attributes = _items(el)
        if not len(el):
            text = (el.text or "").strip()
            if not attributes:
                return text
            if len(attributes) == 1:
                name, value = attributes[0]
                if name == _XSI_TYPE:
                    return self._typed(el, value.strip(), text)
                if name == _XSI_NIL and value.strip() in ("true", "1") and not text:
                    return None
                if name == _XML_LANG:
                    return {"@value": text, "@language": value.strip()}
        out: dict[str, Any] = {}
        repeated: set[str] = set()
        for name, value in attributes:
            _put(out, self._attribute_key(el, name), value, repeated)
        return self._content_into(el, out, repeated)

    def _content_into(
        self, el: etree._Element, out: dict[str, Any], repeated: set[str] | None = None
    ) -> dict[str, Any]:
        """Children of ``el`` as keys of ``out``, plus its text under ``#text``.

        ``#text`` is also written (empty) when nothing but ``"@name"`` keys would be left,
        so that the object can never be mistaken for a JSON-LD value object or for an
        empty element.
        """
        if repeated is None:
            repeated = set()
        parts = [el.text or ""]
        for child in el:
            _put(out, self._key(child), self._generic(child), repeated)
            parts.append(child.tail or "")
        text = "".join(parts).strip()
        if text or all(key.startswith("@") for key in out):
            out["#text"] = text
        return out

    def _typed(self, el: etree._Element, qname: str, text: str) -> Any:
        """A leaf with ``xsi:type``: JSON-LD native value or typed value object."""
        prefix, _, local = qname.rpartition(":")
        ns = el.nsmap.get(prefix or None)
        if ns is None and prefix in ("xsd", "xs"):
            # Producers often write xsi:type="xsd:integer" without declaring xsd; the
            # EPCIS JSON-LD context defines the xsd prefix as XML Schema, so read it so.
            ns = NS_XSD
        if ns == NS_XSD:
            if local in _XSD_INTEGER_TYPES and _INT_RE.fullmatch(text):
                return int(text)
            if local == "boolean" and text in _BOOLEANS:
                return _BOOLEANS[text]
            if local in ("double", "float") and _DECIMAL_RE.fullmatch(text):
                number = float(text)
                if math.isfinite(number):
                    return number
            if local == "string":
                return text
            return {"@value": text, "@type": "xsd:" + local}
        if ns:
            return {"@value": text, "@type": f"{self._prefix(ns, prefix or None)}:{local}"}
        return {"@value": text, "@type": qname}

    # ------------------------------------------------------------------ simple fields

    def _text(self, el: etree._Element) -> Any:
        """An optional simple field; empty → omitted (EPCIS 1.2 §9.5)."""
        if len(el) or el.keys():
            return self._generic(el)
        return (el.text or "").strip() or _OMIT

    def _text_required(self, el: etree._Element) -> Any:
        """A mandatory simple field: kept even when empty, so the validator names it."""
        if len(el) or el.keys():
            return self._generic(el)
        return (el.text or "").strip()

    def _quantity(self, el: etree._Element) -> Any:
        """``quantity`` (xsd:decimal, nillable) → number; nil or empty → omitted."""
        if el.get(_XSI_NIL) in ("true", "1") and not len(el):
            return _OMIT
        if len(el) or el.keys():
            return self._generic(el)
        text = (el.text or "").strip()
        return _number(text) if text else _OMIT

    def _epcs(self, el: etree._Element) -> list[Any]:
        """``epcList``-like lists of ``<epc>``: the hot loop of large documents."""
        out: list[Any] = []
        append = out.append
        for e in el:
            tag = e.tag
            if tag == "epc" or (tag[:1] == "{" and _split(tag)[1] == "epc"):
                append((e.text or "").strip())
            else:
                append({self._key(e): self._generic(e)})
        return out

    # ------------------------------------------------------------------ event parts

    def _object(self, el: etree._Element, fields: Fields) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self._attributes_into(el, out)
        return self._fill(el, out, fields)

    def _quantities(self, el: etree._Element) -> list[Any]:
        return [
            self._object(e, self._quantity_fields)
            if _split(e.tag)[1] == "quantityElement"
            else {self._key(e): self._generic(e)}
            for e in el
        ]

    def _location(self, el: etree._Element) -> dict[str, Any]:
        return self._object(el, self._location_fields)

    def _error_declaration(self, el: etree._Element) -> dict[str, Any]:
        return self._object(el, self._error_fields)

    def _corrective_ids(self, el: etree._Element) -> list[Any]:
        return self._id_list(el, "correctiveEventID")

    def _children_ids(self, el: etree._Element) -> list[Any]:
        return self._id_list(el, "id")

    def _id_list(self, el: etree._Element, item: str) -> list[Any]:
        return [
            (e.text or "").strip() if _split(e.tag)[1] == item else {self._key(e): self._generic(e)}
            for e in el
        ]

    def _typed_list(self, el: etree._Element, item: str) -> list[Any]:
        """``bizTransactionList`` / ``sourceList`` / ``destinationList`` (EPCIS 2.0 §12)."""
        out: list[Any] = []
        for e in el:
            if _split(e.tag)[1] != item:
                out.append({self._key(e): self._generic(e)})
                continue
            entry: dict[str, Any] = {}
            kind = (e.get("type") or "").strip()
            if kind:
                entry["type"] = kind
            entry[item] = (e.text or "").strip()
            self._attributes_into(e, entry, skip=frozenset({"type"}))
            if len(e):
                self._fill(e, entry, {})
            out.append(entry)
        return out

    def _biz_transactions(self, el: etree._Element) -> list[Any]:
        return self._typed_list(el, "bizTransaction")

    def _sources(self, el: etree._Element) -> list[Any]:
        return self._typed_list(el, "source")

    def _destinations(self, el: etree._Element) -> list[Any]:
        return self._typed_list(el, "destination")

    def _persistent_disposition(self, el: etree._Element) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self._attributes_into(el, out)
        repeated: set[str] = set()
        for e in el:
            ns, local = _split(e.tag)
            if ns in EPCIS_NAMESPACES and local in ("set", "unset"):
                out.setdefault(local, []).append((e.text or "").strip())
            else:
                _put(out, self._key(e), self._generic(e), repeated)
        return out

    def _ilmd(self, el: etree._Element) -> dict[str, Any]:
        return self._object(el, {})

    def _sensor_elements(self, el: etree._Element) -> list[Any]:
        out: list[Any] = []
        for e in el:
            if _split(e.tag)[1] == "sensorElement":
                out.append(self._object(e, self._sensor_element_fields))
            else:
                out.append({self._key(e): self._generic(e)})
        return out

    def _sensor_attributes(self, el: etree._Element, report: bool) -> dict[str, Any]:
        """``sensorMetadata`` / ``sensorReport``: attributes are the JSON keys."""
        out: dict[str, Any] = {}
        for name, raw in _items(el):
            value = raw.strip()
            if not value:
                continue  # empty optional attribute = omitted (EPCIS 1.2 §9.5)
            key = self._attribute_name(el, name)
            if report and key in _SENSOR_NUMBERS:
                out[key] = _number(value)
            elif report and key in _SENSOR_BOOLEANS:
                out[key] = _BOOLEANS.get(value, value)
            else:
                out[key] = value
        if len(el) or (el.text or "").strip():
            self._content_into(el, out)
        return out

    def _sensor_metadata(self, el: etree._Element) -> dict[str, Any]:
        return self._sensor_attributes(el, report=False)

    def _sensor_report(self, el: etree._Element) -> dict[str, Any]:
        return self._sensor_attributes(el, report=True)

    # ------------------------------------------------------------------ events

    def _event(
        self, el: etree._Element, event_type: str, skip: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        event: dict[str, Any] = {"type": event_type}
        self._attributes_into(el, event, skip)
        return self._fill(el, event, self._event_fields)

    def _event_list(self, el: etree._Element) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for child in el:
            ns, local = _split(child.tag)
            if ns in EPCIS_NAMESPACES and local in _WRAPPERS:
                # EPCIS 1.2: TransformationEvent (and later types) inside EventList/extension
                events.extend(self._event_list(child))
            else:
                # an unknown element is read as an event of that type, for the validator
                event_type = local if ns in EPCIS_NAMESPACES else self._key(child)
                events.append(self._event(child, event_type))
        return events

    def _bare_event(self, root: etree._Element, event_type: str) -> dict[str, Any]:
        skip = frozenset({"schemaVersion", "creationDate"} | _XSI_SCHEMA_LOCATIONS)
        body = wrap_event(self._event(root, event_type, skip))
        created = (root.get("creationDate") or "").strip()
        if created:
            body["creationDate"] = created
        return body

    # ------------------------------------------------------------------ document

    def _document(self, root: etree._Element, document_type: str) -> dict[str, Any]:
        body: dict[str, Any] = {"type": document_type, "schemaVersion": "2.0"}
        created = (root.get("creationDate") or "").strip()
        if created:
            body["creationDate"] = created
        skip = frozenset({"schemaVersion", "creationDate"} | _XSI_SCHEMA_LOCATIONS)
        self._attributes_into(root, body, skip)
        fields: Fields = {
            "EPCISHeader": ("epcisHeader", self._header),
            "EPCISBody": ("epcisBody", self._body),
        }
        self._fill(root, body, fields)
        epcis_body = body.get("epcisBody")
        if document_type == "EPCISDocument" and isinstance(epcis_body, dict):
            if "eventList" not in epcis_body:
                # EventList is optional in the XSD; absent means no events.
                body["epcisBody"] = {"eventList": [], **epcis_body}
        elif (
            document_type == "EPCISQueryDocument"
            and isinstance(epcis_body, dict)
            and "queryResults" not in epcis_body
        ):
            self._not_query_results(root)
        return body

    def _not_query_results(self, root: etree._Element) -> None:
        for part in root:
            if _split(part.tag)[1] == "EPCISBody":
                content = next(iter(part), None)
                if content is not None:
                    raise InputError(
                        f"{self.name}: {self._where(content)}: the EPCISQueryDocument holds"
                        f" <{self._qname(content)}>, not QueryResults: a query message"
                        " without query results carries no EPCIS events to read"
                    )
                raise InputError(
                    f"{self.name}: {self._where(part)}: the EPCISQueryDocument has an empty"
                    " EPCISBody: QueryResults expected"
                )

    def _header(self, el: etree._Element) -> dict[str, Any]:
        return self._object(el, self._header_fields)

    def _body(self, el: etree._Element) -> dict[str, Any]:
        return self._object(el, self._body_fields)

    def _query_results(self, el: etree._Element) -> dict[str, Any]:
        return self._object(el, self._query_results_fields)

    def _results_body(self, el: etree._Element) -> dict[str, Any]:
        return self._object(el, self._results_body_fields)

    # ------------------------------------------------------------------ master data

    def _master_data(self, el: etree._Element) -> dict[str, Any]:
        return self._object(el, self._master_data_fields)

    def _vocabulary_list(self, el: etree._Element) -> list[Any]:
        return [
            self._vocabulary(e)
            if _split(e.tag)[1] == "Vocabulary"
            else {self._key(e): self._generic(e)}
            for e in el
        ]

    def _vocabulary(self, el: etree._Element) -> dict[str, Any]:
        out: dict[str, Any] = {}
        kind = el.get("type")
        if kind is not None:
            out["type"] = kind.strip()
        self._attributes_into(el, out, skip=frozenset({"type"}))
        return self._fill(el, out, self._vocabulary_fields)

    def _vocabulary_elements(self, el: etree._Element) -> list[Any]:
        return [
            self._vocabulary_element(e)
            if _split(e.tag)[1] == "VocabularyElement"
            else {self._key(e): self._generic(e)}
            for e in el
        ]

    def _vocabulary_element(self, el: etree._Element) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ident = el.get("id")
        if ident is not None:
            out["id"] = ident.strip()
        self._attributes_into(el, out, skip=frozenset({"id"}))
        return self._fill(el, out, self._vocabulary_element_fields)

    def _md_attribute(self, el: etree._Element) -> dict[str, Any]:
        """``<attribute id="…">value</attribute>`` → ``{"id", "attribute"}``.

        The value is the text, or an object when the attribute has element content
        (EPCIS 2.0 XSD ``AttributeType`` is ``xsd:anyType``); an ``xsi:type`` alone types
        it as for extensions; other XML attributes become ``"@name"`` keys.
        """
        out: dict[str, Any] = {}
        ident = el.get("id")
        if ident is not None:
            out["id"] = ident.strip()
        extra = [(n, v) for n, v in _items(el) if n != "id"]
        text = (el.text or "").strip()
        if len(el):
            for name, value in extra:
                out[self._attribute_key(el, name)] = value
            out["attribute"] = self._content_into(el, {})
        elif len(extra) == 1 and extra[0][0] == _XSI_TYPE:
            out["attribute"] = self._typed(el, extra[0][1].strip(), text)
        else:
            for name, value in extra:
                out[self._attribute_key(el, name)] = value
            if text:
                out["attribute"] = text
        return out
