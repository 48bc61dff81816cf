"""Master data in and out: EPCIS vocabularies (JSON-LD and XML) and CSV (pure).

``masterdata import`` reads every form EPCIS carries master data in — the header of an
EPCISDocument or EPCISQueryDocument (EPCIS 2.0 §7.5, ``epcisHeader.epcisMasterData``;
EPCIS 1.2 XML ``EPCISHeader/extension/EPCISMasterData``), a query result's
``resultsBody.vocabularyList``, and the standalone ``EPCISMasterDataDocument`` (EPCIS
1.2 and 2.0 XML, ``urn:epcglobal:epcis-masterdata:xsd:1|2``) — and a CSV with the header
:data:`CSV_COLUMNS`, one row per product, location or trading partner (``kind``).
``masterdata export`` writes the same three forms, so an export imports back unchanged.

A file that holds no master data is an error that says what it did hold: an import
never reports success on nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from lxml import etree

from serialvault.canonical import canonical_json
from serialvault.epcis import jsonparse
from serialvault.epcis.jsonld_writer import EPCIS_CONTEXT_URL
from serialvault.epcis.reader import read_json, sniff_syntax
from serialvault.epcis.xml_reader import NS_MASTERDATA_2, read_xml
from serialvault.errors import InputError, Issue, SerialvaultError, ValidationError
from serialvault.masterdata.model import (
    ADDRESS_ATTRIBUTES,
    CBV_MDA,
    LICENCE_ATTRIBUTE,
    LICENCE_NAMES,
    PACKAGING_ATTRIBUTES,
    Location,
    MasterData,
    Partner,
    Product,
    attribute_local_name,
    canonical_attribute_id,
    location_key,
    master_data_from_vocabularies,
    merge,
    packaging_count,
    party_key,
    recordable,
    resolve_gtin,
)

#: The CSV header, in this order on export; on import every column but ``kind`` and
#: ``id`` may be left out, and an unknown column is an error (a typo must not drop data).
CSV_COLUMNS = (
    "kind",  # product | location | partner
    "id",  # GTIN (product), GLN or SGLN (location), GLN or PGLN (partner)
    "name",
    "ndc",
    "dosage_form",
    "strength",
    "net_content",
    "manufacturer",
    "packaging_level",
    "units_per_case",
    "cases_per_pallet",
    "markets",
    "serial_format",
    "street",
    "city",
    "state",
    "postal_code",
    "country",
    "licence",
    "attributes",  # a JSON object: every attribute no other column holds
)
_ADDRESS_COLUMNS = dict(
    zip(("street", "city", "state", "postal_code", "country"), ADDRESS_ATTRIBUTES, strict=True)
)
_PRODUCT_COLUMNS = {
    "packaging_level": "packagingLevel",
    "units_per_case": "unitsPerCase",
    "cases_per_pallet": "casesPerPallet",
    "markets": "markets",
    "serial_format": "serialFormat",
}
_INT_COLUMNS = frozenset({"units_per_case", "cases_per_pallet"})
_PLACE = frozenset({"kind", "id", "name", "attributes", *_ADDRESS_COLUMNS})
#: The columns a row of each kind may fill.
_ALLOWED = {
    "product": frozenset(
        {"kind", "id", "name", "ndc", "dosage_form", "strength", "net_content"}
        | {"manufacturer", "attributes", *_PRODUCT_COLUMNS}
    ),
    "location": _PLACE,
    "partner": _PLACE | {"licence"},
}
VOCAB = "urn:epcglobal:epcis:vtype:"
KINDS = ("product", "location", "partner")


# --------------------------------------------------------------------------- reading


def read_master_data(data: bytes, name: str) -> MasterData:
    """Master data from an EPCIS document (JSON-LD or XML, any kind that carries it) or
    a CSV; ``InputError`` for a file that is neither, or that holds no master data."""
    try:
        syntax = sniff_syntax(data)
    except InputError:
        syntax = "csv"
    if syntax != "csv":
        if syntax == "xml":
            doc = read_xml(data, name, master_data=True)
        else:
            doc = read_json(data.removeprefix(b"\xef\xbb\xbf"), name)
        md = master_data_from_vocabularies(doc.vocabularies(), "vocabularyList")
        if md.count == 0 and not md.issues:
            ignored = ", ".join(f"{n} × {k}" for k, n in md.ignored.items()) or "none"
            raise InputError(
                f"{name}: no products, locations or trading partners: the"
                f" {doc.document_type or 'document'} (EPCIS {doc.source_version}) has"
                f" {len(doc.events)} events and no vocabulary of type EPCClass, Location or"
                f" Party (other vocabulary elements: {ignored}); nothing was imported"
            )
        return md
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: neither EPCIS (JSON or XML) nor UTF-8 CSV: {exc}") from None
    return read_csv(text, name)


def read_csv(text: str, name: str) -> MasterData:
    """Master data from CSV text with the header :data:`CSV_COLUMNS` (any order).

    RFC 4180 quoting, read strictly: an unterminated quote or a stray one is an error
    naming the line, not rows swallowed into one cell. Lines end at ``\n`` only (a
    U+2028 in a name is text). Values are kept as written, but for ``kind``, ``id`` and
    the counts; a leading ``'`` that guards a spreadsheet formula (``'=…``) is removed.
    """
    rows = csv.reader([line + "\n" for line in text.split("\n")], strict=True)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(rows, [])]
        if not header or header[0].lower() not in ("kind", "id"):
            raise InputError(
                f"{name}: not master data: neither an EPCIS document nor a CSV whose header"
                f" names the columns {', '.join(CSV_COLUMNS)}"
            )
        _check_header(header, name)
        md = MasterData()
        for row in rows:
            line = rows.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                md.issues.append(
                    Issue(f"line {line}: {len(row)} cells for {len(header)} columns", "csv")
                )
                continue
            cells = {h: _unguard(row[i]) if i < len(row) else "" for i, h in enumerate(header)}
            try:
                _csv_row(md, cells, f"line {line}")
            except (SerialvaultError, ValueError) as exc:
                msg = exc.message if isinstance(exc, SerialvaultError) else str(exc)
                ident = cells.get("id", "").strip() or None
                md.issues.append(Issue(f"line {line}: {msg}", "csv", identifier=ident))
    except csv.Error as exc:
        raise InputError(f"{name}: line {rows.line_num}: not readable as CSV: {exc}") from None
    if md.count == 0 and not md.issues:
        raise InputError(f"{name}: the CSV has a header and no rows: nothing was imported")
    return md


def _check_header(header: list[str], name: str) -> None:
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [c for c in ("kind", "id") if c not in header]
    twice = sorted({h for h in header if header.count(h) > 1})
    if unknown or missing or twice:
        problems = (
            ([f"unknown column(s) {', '.join(unknown)}"] if unknown else [])
            + ([f"missing column(s) {', '.join(missing)}"] if missing else [])
            + ([f"column(s) named twice: {', '.join(twice)}"] if twice else [])
        )
        raise InputError(
            f"{name}: CSV header: {'; '.join(problems)} (the columns are {', '.join(CSV_COLUMNS)})"
        )


#: Cell starts a spreadsheet would run as a formula (OWASP "CSV injection").
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _guard(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA) else text


def _unguard(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA) else text


def _extra(cells: dict[str, str]) -> dict[str, Any]:
    """The ``attributes`` cell: a JSON object of attributes no other column holds."""
    raw = cells.get("attributes", "").strip()
    if not raw:
        return {}
    value = jsonparse.loads(raw, "the attributes cell")
    if not isinstance(value, dict):
        raise ValueError("the attributes cell must be a JSON object")
    return {canonical_attribute_id(str(k)): recordable(v) for k, v in value.items()}


def _csv_row(md: MasterData, cells: dict[str, str], where: str) -> None:
    kind, ident = cells["kind"].strip().lower(), cells["id"].strip()
    if kind not in KINDS:
        raise ValueError(f"kind {cells['kind']!r} is not one of {', '.join(KINDS)}")
    if not ident:
        raise ValueError("the id is empty")
    wrong = [c for c, v in cells.items() if v.strip() and c not in _ALLOWED[kind]]
    if wrong:
        raise ValueError(f"a {kind} has no {', '.join(wrong)}")
    extra = _extra(cells)
    address = {CBV_MDA + a: cells[c] for c, a in _ADDRESS_COLUMNS.items() if cells.get(c)}
    name = cells.get("name") or None
    if kind == "product":
        gtin, ndc = resolve_gtin(ident, cells.get("ndc", "").strip() or None)
        attrs: dict[str, Any] = {}
        for col, attr in _PRODUCT_COLUMNS.items():
            value = cells.get(col, "")
            if not value:
                continue
            if PACKAGING_ATTRIBUTES[attr] in extra:
                raise ValueError(f"{col} is given twice (its column and the attributes cell)")
            attrs[PACKAGING_ATTRIBUTES[attr]] = (
                packaging_count(col, value) if col in _INT_COLUMNS else value
            )
        p = Product(
            gtin=gtin,
            name=name,
            ndc=ndc,
            form=cells.get("dosage_form") or None,
            strength=cells.get("strength") or None,
            net_content=cells.get("net_content") or None,
            manufacturer=cells.get("manufacturer") or None,
            attributes=attrs | extra,
        )
        merge(md.products, p.gtin, p, md.issues, where)
        return
    attrs = ({CBV_MDA + "name": name} if name else {}) | address | extra
    if kind == "location":
        loc = Location(key=location_key(ident), name=name, attributes=attrs)
        merge(md.locations, loc.key, loc, md.issues, where)
        return
    licence = cells.get("licence") or None
    if licence and not any(_is_licence(k) for k in extra):
        attrs[LICENCE_ATTRIBUTE] = licence
    party = Partner(key=party_key(ident), name=name, licence=licence, attributes=attrs)
    merge(md.partners, party.key, party, md.issues, where)


def _is_licence(attr_id: str) -> bool:
    return attribute_local_name(attr_id).lower() in LICENCE_NAMES


# --------------------------------------------------------------------------- writing


def vocabularies(md: MasterData) -> list[dict[str, Any]]:
    """The EPCIS 2.0 JSON-LD ``vocabularyList`` of ``md`` (EPCIS 2.0 §7.5)."""
    out = []
    if md.products:
        elements = [_product_element(p) for p in md.products.values()]
        out.append({"type": VOCAB + "EPCClass", "vocabularyElementList": elements})
    if md.locations:
        elements = [
            _element(loc.key, loc.attributes, {"name": loc.name}) for loc in md.locations.values()
        ]
        out.append({"type": VOCAB + "Location", "vocabularyElementList": elements})
    if md.partners:
        elements = [_partner_element(p) for p in md.partners.values()]
        out.append({"type": VOCAB + "Party", "vocabularyElementList": elements})
    return out


def _product_element(p: Product) -> dict[str, Any]:
    named = {
        "regulatedProductName": p.name,
        "dosageFormType": p.form,
        "strengthDescription": p.strength,
        "netContentDescription": p.net_content,
        "manufacturerOfTradeItemPartyName": p.manufacturer,
        "additionalTradeItemIdentification": p.ndc,
        "additionalTradeItemIdentificationTypeCode": "US_FDA_NDC" if p.ndc else None,
    }
    return _element(f"https://id.gs1.org/01/{p.gtin}", p.attributes, named)


def _partner_element(p: Partner) -> dict[str, Any]:
    held = any(_is_licence(k) for k in p.attributes)  # the licence as it came, if it did
    extra = {} if held else {LICENCE_ATTRIBUTE: p.licence}
    return _element(p.key, p.attributes, {"name": p.name}, extra)


def _element(
    ident: str, attributes: Any, named: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One vocabulary element: the named fields as CBV attributes, then every recorded
    attribute not already written (recorded keys are in one spelling, so none twice)."""
    attrs = {CBV_MDA + k: v for k, v in named.items() if v is not None}
    attrs.update({k: v for k, v in (extra or {}).items() if v is not None})
    attrs.update({k: v for k, v in dict(attributes).items() if k not in attrs})
    return {"id": ident, "attributes": [{"id": k, "attribute": v} for k, v in attrs.items()]}


def to_jsonld(md: MasterData, created: str) -> dict[str, Any]:
    """An EPCIS 2.0 JSON-LD EPCISDocument whose header carries ``md`` and whose event
    list is empty: the JSON binding has no master-data-only document type, and this is
    the form the EPCIS 2.0 JSON schema accepts."""
    return {
        "@context": [EPCIS_CONTEXT_URL],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisHeader": {"epcisMasterData": {"vocabularyList": vocabularies(md)}},
        "epcisBody": {"eventList": []},
    }


_COUNT_ATTRIBUTES = frozenset(
    {PACKAGING_ATTRIBUTES["unitsPerCase"], PACKAGING_ATTRIBUTES["casesPerPallet"]}
)


def to_xml(md: MasterData, created: str) -> bytes:
    """An EPCIS 2.0 XML ``EPCISMasterDataDocument`` (XSD ``epcismd``) holding ``md``.

    The XSD's ``AttributeType`` admits no ``xsi:type`` of another type, so values are
    text; the packaging counts read back as whole numbers. A value XML cannot carry as
    recorded — any other number, a boolean, an object or list, text with surrounding
    spaces or characters XML 1.0 forbids — refuses the export, naming the object and
    attribute: a master data export that does not import back as it was is not an
    export."""
    root = etree.Element(
        f"{{{NS_MASTERDATA_2}}}EPCISMasterDataDocument",
        nsmap={"epcismd": NS_MASTERDATA_2},
    )
    root.set("schemaVersion", "2.0")
    root.set("creationDate", created)
    vlist = etree.SubElement(etree.SubElement(root, "EPCISBody"), "VocabularyList")
    for vocab in vocabularies(md):
        v = etree.SubElement(vlist, "Vocabulary", type=vocab["type"])
        elements = etree.SubElement(v, "VocabularyElementList")
        for e in vocab["vocabularyElementList"]:
            el = etree.SubElement(elements, "VocabularyElement", id=e["id"])
            for a in e["attributes"]:
                _xml_attribute(
                    etree.SubElement(el, "attribute", id=a["id"]), a["attribute"], e["id"], a["id"]
                )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _xml_attribute(node: Any, value: Any, ident: str, attr: str) -> None:
    def refuse(why: str) -> ValidationError:
        return ValidationError(
            f"{ident}: attribute {attr} {why}: EPCIS XML cannot carry it as recorded; export"
            " with --format epcis or csv instead"
        )

    if type(value) is int and attr in _COUNT_ATTRIBUTES:
        node.text = str(value)
    elif isinstance(value, str):
        if value != value.strip() or not value:
            raise refuse("is empty or has surrounding spaces")
        try:
            node.text = value
        except ValueError:
            raise refuse("holds a character XML 1.0 forbids") from None
    else:
        raise refuse(f"is a {type(value).__name__}")


def csv_rows(md: MasterData) -> Iterator[list[str]]:
    """The CSV of ``md``: the header, then one row per product, location and partner.
    Attributes no column holds go in ``attributes`` (canonical JSON); a cell a
    spreadsheet would run as a formula is guarded with a leading ``'``."""
    yield list(CSV_COLUMNS)
    packaging = {PACKAGING_ATTRIBUTES[a] for a in _PRODUCT_COLUMNS.values()}
    for p in md.products.values():
        a = dict(p.attributes)
        row = {"kind": "product", "id": p.gtin, "name": p.name, "ndc": p.ndc, "dosage_form": p.form}
        row |= {
            "strength": p.strength,
            "net_content": p.net_content,
            "manufacturer": p.manufacturer,
        }
        row |= {col: a.get(PACKAGING_ATTRIBUTES[attr]) for col, attr in _PRODUCT_COLUMNS.items()}
        row["attributes"] = _rest(a, packaging)
        yield _row(row)
    held = {CBV_MDA + "name", *(CBV_MDA + attr for attr in _ADDRESS_COLUMNS.values())}
    for loc in md.locations.values():
        yield _row(_place_row("location", loc.key, loc.name, dict(loc.attributes), held))
    for party in md.partners.values():
        a = dict(party.attributes)
        row = _place_row("partner", party.gln, party.name, a, held | {LICENCE_ATTRIBUTE})
        row["licence"] = party.licence
        yield _row(row)


def _place_row(
    kind: str, ident: str, name: str | None, a: dict[str, Any], held: set[str]
) -> dict[str, Any]:
    row: dict[str, Any] = {"kind": kind, "id": ident, "name": name}
    row |= {c: a.get(CBV_MDA + attr) for c, attr in _ADDRESS_COLUMNS.items()}
    for c, attr in _ADDRESS_COLUMNS.items():  # an address value that is not text
        if row[c] is not None and not isinstance(row[c], str):
            row[c] = None
            held = held - {CBV_MDA + attr}
    row["attributes"] = _rest(a, held)
    return row


def _rest(attributes: dict[str, Any], held: set[str]) -> str | None:
    rest = {k: v for k, v in attributes.items() if k not in held}
    return canonical_json(rest).decode("utf-8") if rest else None


def _row(values: dict[str, Any]) -> list[str]:
    return ["" if values.get(c) is None else _guard(str(values[c])) for c in CSV_COLUMNS]


class _Lines:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)


def to_csv(rows: Iterable[list[str]]) -> str:
    """CSV text (RFC 4180 quoting, ``\r\n`` line ends) of ``rows``."""
    sink = _Lines()
    writer = csv.writer(sink)
    writer.writerows(rows)
    return "".join(sink.parts)
