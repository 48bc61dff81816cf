"""Product master data: add a product or a new version of it, list, show.

Capture validates every GTIN against the effective product version (DESIGN.md "Master
data"); a change is a log record with who and why (ALCOA+ attributable; 21 CFR
11.10(e)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from serialvault.app.context import open_as, open_to_read
from serialvault.domain.access import Action
from serialvault.errors import IdentifierError, ValidationError
from serialvault.gs1.gtin import Gtin
from serialvault.gs1.ndc import Ndc
from serialvault.masterdata.model import PACKAGING_ATTRIBUTES, Product
from serialvault.settings import Settings
from serialvault.store.masterdata import ProductChange, add_product, get_product, list_products


@dataclass(frozen=True)
class ProductInput:
    """A product as a person describes it: a GTIN and/or an NDC (the NDC-based GTIN is
    derived with ``indicator``), the regulated name and the optional attributes."""

    name: str
    gtin: str | None = None
    ndc: str | None = None
    indicator: int = 0
    form: str | None = None
    strength: str | None = None
    net_content: str | None = None
    manufacturer: str | None = None
    packaging: dict[str, Any] = field(default_factory=dict)  # packagingLevel, unitsPerCase …


def resolve_gtin(gtin: str | None, ndc: str | None, indicator: int) -> tuple[str, str | None]:
    """The product's GTIN-14 from ``gtin`` and/or ``ndc``, checking that they agree (a US
    NDC is embedded in its GTIN as ``03`` + NDC10 + check digit)."""
    parsed_ndc = Ndc.parse(ndc) if ndc else None
    if gtin is None:
        if parsed_ndc is None:
            raise ValidationError("give --gtin, or --ndc to derive the NDC-based GTIN")
        return parsed_ndc.to_gtin14(indicator), str(parsed_ndc)
    g = Gtin.parse(gtin)
    if parsed_ndc is not None:
        embedded = Ndc.from_gtin(g.gtin14, configuration=parsed_ndc.configuration)
        if embedded.digits != parsed_ndc.digits:
            raise IdentifierError(
                f"GTIN {g.gtin14} embeds NDC {embedded} but --ndc says {parsed_ndc}"
            )
    return g.gtin14, str(parsed_ndc) if parsed_ndc else None


def add(
    settings: Settings,
    db: str | None,
    product: ProductInput,
    *,
    reason: str | None = None,
    update: bool = False,
) -> ProductChange:
    """Add a product, or with ``update`` record a new version of it (which needs a
    reason: a master-data change must say why)."""
    if update and not reason:
        raise ValidationError("--update needs --reason: a master-data change must say why")
    gtin14, ndc_text = resolve_gtin(product.gtin, product.ndc, product.indicator)
    attrs = {PACKAGING_ATTRIBUTES[k]: v for k, v in product.packaging.items() if v is not None}
    record = Product(
        gtin=gtin14,
        name=product.name,
        ndc=ndc_text,
        form=product.form,
        strength=product.strength,
        net_content=product.net_content,
        manufacturer=product.manufacturer,
        attributes=attrs,
    )
    repo, who = open_as(settings, db, Action.MASTERDATA)
    return add_product(
        repo,
        record,
        actor=who.actor,
        reason=reason or "product added",
        update=update,
    )


def products(settings: Settings, db: str | None) -> list[dict[str, Any]]:
    """Every product in its effective version."""
    return list_products(open_to_read(settings, db))


def product(settings: Settings, db: str | None, gtin: str) -> dict[str, Any]:
    """One product with all its attributes (``NotFound`` when unknown)."""
    return get_product(open_to_read(settings, db), Gtin.parse(gtin).gtin14)
