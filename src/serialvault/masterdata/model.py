"""Product and location master data, and reading it from EPCIS headers.

EPCIS carries master data in the document header (EPCIS 2.0 §7.5 / §12:
``epcisHeader.epcisMasterData.vocabularyList``; EPCIS 1.2 XML under
``EPCISHeader/extension/EPCISMasterData``). For a pharmaceutical site the relevant
vocabularies are

* ``urn:epcglobal:epcis:vtype:EPCClass`` — one element per product, identified by a GTIN
  class (``urn:epc:idpat:sgtin:030001.0012345.*``, an LGTIN class, or a Digital Link
  ``https://id.gs1.org/01/…``), with CBV master-data attributes (CBV 2.0 §10 / GS1 US
  DSCSA guideline): ``regulatedProductName``, ``additionalTradeItemIdentification`` (the
  NDC when its type code is ``US_FDA_NDC``), ``dosageFormType``, ``strengthDescription``,
  ``netContentDescription``, ``manufacturerOfTradeItemPartyName``;
* ``urn:epcglobal:epcis:vtype:Location`` (and ``ReadPoint``, ``BusinessLocation``) —
  SGLNs with ``name`` and the address attributes of CBV 2.0 §10 (``streetAddressOne``,
  ``city``, ``state``, ``postalCode``, ``countryCode``);
* ``urn:epcglobal:epcis:vtype:Party`` — trading partners by PGLN (or a GLN), with
  ``name``, the same address attributes, and their licence (DSCSA: a trading partner is
  licensed, 21 U.S.C. 360eee(23)); CBV has no licence attribute, so it is
  ``urn:serialvault:mda:licence``.

Pure: turns vocabulary elements into values; the store decides what is new.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self

from serialvault.canonical import canonical_json
from serialvault.epcis.model import EpcisDocument
from serialvault.errors import IdentifierError, Issue, SerialvaultError, ValidationError
from serialvault.gs1.epc import canonical_key
from serialvault.gs1.gln import Gln
from serialvault.gs1.gtin import Gtin
from serialvault.gs1.ndc import Ndc

#: CBV master-data attribute local names -> our product fields.
_PRODUCT_FIELDS = {
    "regulatedProductName": "name",
    "tradeItemDescription": "name",
    "descriptionShort": "name",
    "dosageFormType": "form",
    "strengthDescription": "strength",
    "netContentDescription": "net_content",
    "manufacturerOfTradeItemPartyName": "manufacturer",
}
_NAME_PRIORITY = ("regulatedProductName", "tradeItemDescription", "descriptionShort")

#: Packaging configuration, markets and serial format of a product. CBV has no standard
#: attribute for them, so these are serialvault's own master-data attribute URIs (EPCIS
#: 2.0 §7.5 allows any URI). ``markets`` is a comma-separated list of ISO 3166 country
#: codes; ``serialFormat`` describes the serials (e.g. ``alphanumeric 1-20``, EU FMD
#: Delegated Regulation 2016/161 Art. 4).
PACKAGING_ATTRIBUTES = {
    "packagingLevel": "urn:serialvault:mda:packagingLevel",
    "unitsPerCase": "urn:serialvault:mda:unitsPerCase",
    "casesPerPallet": "urn:serialvault:mda:casesPerPallet",
    "markets": "urn:serialvault:mda:markets",
    "serialFormat": "urn:serialvault:mda:serialFormat",
}
#: A trading partner's licence (no CBV attribute exists for it), and the local names a
#: partner's own master data may give it.
LICENCE_ATTRIBUTE = "urn:serialvault:mda:licence"
LICENCE_NAMES = ("licence", "license", "licensenumber")
#: CBV 2.0 §10 location and party master-data attributes for a postal address.
CBV_MDA = "urn:epcglobal:cbv:mda#"
ADDRESS_ATTRIBUTES = ("streetAddressOne", "city", "state", "postalCode", "countryCode")
LOCATION_VOCABULARIES = ("Location", "ReadPoint", "BusinessLocation")
PARTY_VOCABULARY = "Party"


def attribute_local_name(attr_id: str) -> str:
    """``urn:epcglobal:cbv:mda#regulatedProductName`` / ``cbvmda:x`` -> the local name."""
    if "#" in attr_id:
        return attr_id.rsplit("#", 1)[1]
    return attr_id.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


class _Versioned:
    """What every master-data object does: its content as recorded (what a change is
    compared on, and what a version's record carries), read back, and compared."""

    __slots__ = ()

    def content(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        out["attributes"] = dict(out["attributes"])
        return out

    @classmethod
    def from_content(cls, c: Mapping[str, Any]) -> Self:
        values = {f.name: c.get(f.name) for f in fields(cls)}  # type: ignore[arg-type]
        values["attributes"] = dict(c.get("attributes") or {})
        return cls(**values)

    def differences(self, other: Any) -> list[str]:
        """Field names whose values differ (empty when the two are the same)."""
        a, b = self.content(), other.content()
        return [k for k in a if a[k] != b[k]]


@dataclass(frozen=True, slots=True)
class Product(_Versioned):
    """A product (trade item) identified by its GTIN-14."""

    gtin: str
    name: str | None = None
    ndc: str | None = None
    form: str | None = None
    strength: str | None = None
    net_content: str | None = None
    manufacturer: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Location(_Versioned):
    """A location (SGLN / GLN) with its name and attributes."""

    key: str
    name: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Partner(_Versioned):
    """A trading partner: the party's GLN as its Digital Link key (``/417/``), its name,
    its licence, and its other attributes as received."""

    key: str
    name: str | None = None
    licence: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def gln(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def location_key(text: str) -> str:
    """The Digital Link key of a location: a 13-digit GLN, an SGLN URN or a Digital Link.

    >>> location_key("0614141000005")
    'https://id.gs1.org/414/0614141000005'
    """
    text = text.strip()
    if text.isdigit():
        return canonical_key(f"https://id.gs1.org/414/{Gln.parse(text)}")
    key = canonical_key(text)
    if not key.startswith("https://id.gs1.org/414/"):
        raise ValueError(f"{text!r} is not a location (a GLN, an SGLN or a /414/ Digital Link)")
    return key


def party_key(text: str) -> str:
    """The Digital Link key (``/417/``) of a party: a GLN, a PGLN, or an SGLN without an
    extension (EPCIS 1.2 documents name parties by SGLN, CBV 1.2 §7.4).

    >>> party_key("urn:epc:id:sgln:0614141.00000.0")
    'https://id.gs1.org/417/0614141000005'
    """
    text = text.strip()
    if text.isdigit():
        return f"https://id.gs1.org/417/{Gln.parse(text)}"
    key = canonical_key(text)
    if key.startswith("https://id.gs1.org/414/") and "/254/" not in key:
        return "https://id.gs1.org/417/" + key.rsplit("/", 1)[-1]
    if not key.startswith("https://id.gs1.org/417/"):
        raise ValueError(f"{text!r} is not a party (a GLN, a PGLN or an SGLN without extension)")
    return key


#: The spellings of the CBV master-data attribute namespace: ``cbvmda:`` (the EPCIS 2.0
#: JSON-LD context, which expands it to ``urn:epcglobal:cbv:mda:``) and the ``#`` form of
#: CBV 1.2 §8 and the GS1 US DSCSA guideline. One attribute, one key: the ``#`` form.
_CBV_SPELLINGS = ("cbvmda:", "urn:epcglobal:cbv:mda:", "urn:epcglobal:cbv:mda#")


def canonical_attribute_id(attr_id: str) -> str:
    """The key an attribute is recorded under: CBV attributes in one spelling.

    >>> canonical_attribute_id("cbvmda:name")
    'urn:epcglobal:cbv:mda#name'
    """
    for spelling in _CBV_SPELLINGS:
        if attr_id.startswith(spelling):
            return "urn:epcglobal:cbv:mda#" + attr_id[len(spelling) :]
    return attr_id


def _attributes(element: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in element.get("attributes") or ():
        if isinstance(attr, dict) and isinstance(attr.get("id"), str):
            out[canonical_attribute_id(attr["id"].strip())] = attr.get("attribute")
    return out


#: Attribute local names that become named product fields (not kept as attributes).
_NAMED = frozenset(
    set(_PRODUCT_FIELDS)
    | {"additionalTradeItemIdentification", "additionalTradeItemIdentificationTypeCode"}
)
_COUNTS = frozenset({PACKAGING_ATTRIBUTES["unitsPerCase"], PACKAGING_ATTRIBUTES["casesPerPallet"]})


def product_from_element(element: Mapping[str, Any]) -> Product | None:
    """A Product from an EPCClass vocabulary element, or None if not a GTIN class.

    Attributes that name a product field (CBV 2.0 §10 ``regulatedProductName``,
    ``dosageFormType`` …, and the NDC as ``additionalTradeItemIdentification`` of type
    ``US_FDA_NDC``) become that field; the rest stay attributes, so the same product
    read from JSON-LD, XML or CSV compares equal. Packaging counts become integers
    (XML carries them as text)."""
    ident = element.get("id")
    if not isinstance(ident, str):
        return None
    key = canonical_key(ident)
    if not (key.startswith("https://id.gs1.org/01/") and len(key) == 36):
        return None  # a lot (LGTIN) or an instance: master data of a class within it
    gtin = key[22:36]
    attrs = _attributes(element)
    by_local = {attribute_local_name(k): v for k, v in attrs.items()}
    values: dict[str, str | None] = {}
    for local, fld in _PRODUCT_FIELDS.items():
        if fld == "name":
            continue
        if local in by_local and by_local[local] is not None:
            values[fld] = str(by_local[local])
    name = next((str(by_local[n]) for n in _NAME_PRIORITY if by_local.get(n) is not None), None)
    ndc = None
    code = by_local.get("additionalTradeItemIdentificationTypeCode")
    ndc_named = by_local.get("additionalTradeItemIdentification") is not None and (
        code is None or str(code).upper() == "US_FDA_NDC"
    )
    if ndc_named:
        ndc = resolve_gtin(gtin, str(by_local["additionalTradeItemIdentification"]))[1]
    kept = {}
    for k, v in attrs.items():
        local = attribute_local_name(k)
        if local in _NAMED and (ndc_named or not local.startswith("additionalTradeItem")):
            continue
        if k in _COUNTS:
            v = packaging_count(local, v)
        kept[k] = recordable(v)
    return Product(gtin=gtin, name=name, ndc=ndc, attributes=kept, **values)


def packaging_count(name: str, value: Any) -> int:
    """A packaging count: a positive whole number (XML and CSV carry it as text)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} {value!r} is not a positive whole number")
    return int(value)


def recordable(value: Any) -> Any:
    """``value`` if master data can record it — it becomes canonical JSON (RFC 8785) in
    the log: no infinity, no NaN, no integer beyond 64 bits — else ``ValueError``."""
    try:
        canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"the value {str(value)[:60]!r} cannot be recorded (not finite, or a whole number"
            f" beyond 64 bits): {exc}"
        ) from None
    return value


def resolve_gtin(gtin: str | None, ndc: str | None, indicator: int = 0) -> tuple[str, str | None]:
    """The product's GTIN-14 from ``gtin`` and/or ``ndc``, checking that they agree (a US
    NDC is embedded in its GTIN as ``03`` + NDC10 + check digit; GS1 US guideline)."""
    parsed_ndc = Ndc.parse(ndc) if ndc else None
    if gtin is None:
        if parsed_ndc is None:
            raise ValidationError("give a GTIN, or an NDC to derive the NDC-based GTIN")
        return parsed_ndc.to_gtin14(indicator), str(parsed_ndc)
    g = Gtin.parse(gtin)
    if parsed_ndc is not None:
        embedded = Ndc.from_gtin(g.gtin14, configuration=parsed_ndc.configuration)
        if embedded.digits != parsed_ndc.digits:
            raise IdentifierError(
                f"GTIN {g.gtin14} embeds NDC {embedded} but the NDC is {parsed_ndc}"
            )
    return g.gtin14, str(parsed_ndc) if parsed_ndc else None


def location_from_element(element: Mapping[str, Any]) -> Location | None:
    ident = element.get("id")
    if not isinstance(ident, str):
        return None
    attrs = {k: recordable(v) for k, v in _attributes(element).items()}
    by_local = {attribute_local_name(k): v for k, v in attrs.items()}
    name = by_local.get("name")
    return Location(
        key=location_key(ident), name=str(name) if name is not None else None, attributes=attrs
    )


def partner_from_element(element: Mapping[str, Any]) -> Partner | None:
    """A Partner from a Party vocabulary element (``None`` without an id)."""
    ident = element.get("id")
    if not isinstance(ident, str):
        return None
    attrs = {k: recordable(v) for k, v in _attributes(element).items()}
    by_local = {attribute_local_name(k).lower(): v for k, v in attrs.items()}
    name = by_local.get("name")
    licence = next((by_local[k] for k in LICENCE_NAMES if by_local.get(k)), None)
    return Partner(
        key=party_key(ident),
        name=str(name) if name is not None else None,
        licence=str(licence) if licence is not None else None,
        attributes=attrs,
    )


@dataclass
class MasterData:
    """What a set of vocabularies declares, by kind, and the problems found reading it."""

    products: dict[str, Product] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    partners: dict[str, Partner] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)  # vocabulary type -> elements

    @property
    def count(self) -> int:
        return len(self.products) + len(self.locations) + len(self.partners)

    def by_kind(self) -> list[tuple[str, dict[str, Any]]]:
        """``(kind, objects by key)`` for products, locations and partners, in order."""
        return [
            ("product", self.products),
            ("location", self.locations),
            ("partner", self.partners),
        ]


def master_data_from_vocabularies(
    vocabularies: Iterable[tuple[str, list[dict[str, Any]]]], where: str, *, parties: bool = True
) -> MasterData:
    """Products, locations and partners in EPCIS vocabularies (``where`` names the list
    in messages); an element declared twice with different values is an issue, and a
    vocabulary of another type is counted as ignored, not silently dropped."""
    md = MasterData()
    for vtype, elements in vocabularies:
        kind = vtype.rsplit(":", 1)[-1].rsplit("/", 1)[-1].rsplit("#", 1)[-1]
        for i, element in enumerate(elements):
            fld = f"{where}.{kind}[{i}]"
            try:
                if kind == "EPCClass":
                    p = product_from_element(element)
                    if p is not None:
                        merge(md.products, p.gtin, p, md.issues, fld)
                    else:
                        md.ignored["EPCClass (not a GTIN class)"] = (
                            md.ignored.get("EPCClass (not a GTIN class)", 0) + 1
                        )
                elif kind in LOCATION_VOCABULARIES:
                    loc = location_from_element(element)
                    if loc is not None:
                        merge(md.locations, loc.key, loc, md.issues, fld)
                elif kind == PARTY_VOCABULARY and parties:
                    party = partner_from_element(element)
                    if party is not None:
                        merge(md.partners, party.key, party, md.issues, fld)
                else:
                    md.ignored[vtype] = md.ignored.get(vtype, 0) + 1
            except (ValueError, SerialvaultError) as exc:
                msg = exc.message if isinstance(exc, SerialvaultError) else str(exc)
                ident = element.get("id")
                md.issues.append(
                    Issue(
                        msg,
                        "identifier",
                        field=fld,
                        identifier=ident if isinstance(ident, str) else None,
                    )
                )
    return md


def master_data_from_document(
    doc: EpcisDocument,
) -> tuple[list[Product], list[Location], list[Issue]]:
    """Products and locations declared in a document's header, and any problems."""
    md = master_data_from_vocabularies(
        doc.vocabularies(), "epcisHeader.epcisMasterData", parties=False
    )
    return list(md.products.values()), list(md.locations.values()), md.issues


def merge(
    into: dict[str, Any],
    key: str,
    value: Product | Location | Partner,
    issues: list[Issue],
    fld: str,
) -> None:
    """Add ``value`` under ``key``; the same key again with other values is an issue
    (``fld`` names where), so a file that says two things of one object is refused."""
    prior = into.get(key)
    if prior is None:
        into[key] = value
    elif prior.differences(value):
        issues.append(
            Issue(
                f"{key} is declared twice with different master data",
                "masterdata-conflict",
                field=fld,
                identifier=key,
            )
        )
