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
* ``urn:epcglobal:epcis:vtype:Location`` — SGLNs with ``name`` and address attributes.

Pure: turns vocabulary elements into values; the store decides what is new.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from serialvault.epcis.model import EpcisDocument
from serialvault.errors import Issue
from serialvault.gs1.epc import canonical_key

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

#: Packaging configuration of a product. CBV has no standard attribute for it, so these
#: are serialvault's own master-data attribute URIs (EPCIS 2.0 §7.5 allows any URI).
PACKAGING_ATTRIBUTES = {
    "packagingLevel": "urn:serialvault:mda:packagingLevel",
    "unitsPerCase": "urn:serialvault:mda:unitsPerCase",
    "casesPerPallet": "urn:serialvault:mda:casesPerPallet",
}


def attribute_local_name(attr_id: str) -> str:
    """``urn:epcglobal:cbv:mda#regulatedProductName`` / ``cbvmda:x`` -> the local name."""
    if "#" in attr_id:
        return attr_id.rsplit("#", 1)[1]
    return attr_id.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Product:
    """A product (trade item) identified by its GTIN-14."""

    gtin: str
    name: str | None = None
    ndc: str | None = None
    form: str | None = None
    strength: str | None = None
    net_content: str | None = None
    manufacturer: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def content(self) -> dict[str, Any]:
        """The product's master data as recorded (what a change is compared on)."""
        return {
            "gtin": self.gtin,
            "name": self.name,
            "ndc": self.ndc,
            "form": self.form,
            "strength": self.strength,
            "net_content": self.net_content,
            "manufacturer": self.manufacturer,
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_content(cls, c: Mapping[str, Any]) -> Product:
        return cls(
            gtin=c["gtin"],
            name=c.get("name"),
            ndc=c.get("ndc"),
            form=c.get("form"),
            strength=c.get("strength"),
            net_content=c.get("net_content"),
            manufacturer=c.get("manufacturer"),
            attributes=dict(c.get("attributes") or {}),
        )

    def differences(self, other: Product) -> list[str]:
        """Field names whose values differ (empty when the two are the same)."""
        a, b = self.content(), other.content()
        return [k for k in a if a[k] != b[k]]


@dataclass(frozen=True, slots=True)
class Location:
    """A location (SGLN / GLN) with its name and attributes."""

    key: str
    name: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def content(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "attributes": dict(self.attributes)}

    @classmethod
    def from_content(cls, c: Mapping[str, Any]) -> Location:
        return cls(key=c["key"], name=c.get("name"), attributes=dict(c.get("attributes") or {}))

    def differences(self, other: Location) -> list[str]:
        a, b = self.content(), other.content()
        return [k for k in a if a[k] != b[k]]


def _attributes(element: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in element.get("attributes") or ():
        if isinstance(attr, dict) and isinstance(attr.get("id"), str):
            out[attr["id"]] = attr.get("attribute")
    return out


def product_from_element(element: Mapping[str, Any]) -> Product | None:
    """A Product from an EPCClass vocabulary element, or None if not a GTIN class."""
    ident = element.get("id")
    if not isinstance(ident, str):
        return None
    key = canonical_key(ident)
    if not key.startswith("https://id.gs1.org/01/"):
        return None
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
    if by_local.get("additionalTradeItemIdentification") is not None and (
        code is None or str(code).upper() == "US_FDA_NDC"
    ):
        ndc = str(by_local["additionalTradeItemIdentification"])
    return Product(gtin=gtin, name=name, ndc=ndc, attributes=attrs, **values)


def location_from_element(element: Mapping[str, Any]) -> Location | None:
    ident = element.get("id")
    if not isinstance(ident, str):
        return None
    attrs = _attributes(element)
    by_local = {attribute_local_name(k): v for k, v in attrs.items()}
    name = by_local.get("name")
    return Location(
        key=canonical_key(ident), name=str(name) if name is not None else None, attributes=attrs
    )


def master_data_from_document(
    doc: EpcisDocument,
) -> tuple[list[Product], list[Location], list[Issue]]:
    """Products and locations declared in a document's header, and any problems."""
    products: dict[str, Product] = {}
    locations: dict[str, Location] = {}
    issues: list[Issue] = []
    for vtype, elements in doc.vocabularies():
        kind = vtype.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        for i, element in enumerate(elements):
            fld = f"epcisHeader.epcisMasterData.{kind}[{i}]"
            try:
                if kind == "EPCClass":
                    p = product_from_element(element)
                    if p is not None:
                        _merge(products, p.gtin, p, issues, fld)
                elif kind in ("Location", "ReadPoint", "BusinessLocation"):
                    loc = location_from_element(element)
                    if loc is not None:
                        _merge(locations, loc.key, loc, issues, fld)
            except ValueError as exc:
                issues.append(
                    Issue(str(exc), "identifier", field=fld, identifier=element.get("id"))
                )
    return list(products.values()), list(locations.values()), issues


def _merge(
    into: dict[str, Any], key: str, value: Product | Location, issues: list[Issue], fld: str
) -> None:
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
