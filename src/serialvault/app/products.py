"""Product master data: add a product or a new version of it, list, show.

Capture validates every GTIN against the effective product version (DESIGN.md "Master
data"); a change is a log record with who and why (ALCOA+ attributable; 21 CFR
11.10(e)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from serialvault.app import changes
from serialvault.app.context import open_as, open_to_read
from serialvault.domain.access import Action
from serialvault.domain.change import Change
from serialvault.errors import ConflictError, NotFound, ValidationError
from serialvault.gs1.gtin import Gtin
from serialvault.identity.auth import Principal
from serialvault.masterdata.model import (
    PACKAGING_ATTRIBUTES,
    Product,
    packaging_count,
    resolve_gtin,
)
from serialvault.settings import Settings
from serialvault.store.masterdata import get_product, list_products, product_versions
from serialvault.store.projector import load_products
from serialvault.store.repository import Repository


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


@dataclass(frozen=True)
class ProductDraft:
    """What ``product add`` did: a draft change (``change_id``), or nothing when the
    product is recorded with exactly these values already (``unchanged``)."""

    gtin: str
    outcome: str  # 'draft' | 'unchanged'
    version: int
    change_id: str | None = None
    changed_fields: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "gtin": self.gtin,
            "outcome": self.outcome,
            "version": self.version,
            "change_id": self.change_id,
            "changed_fields": list(self.changed_fields),
        }


def _recorded(repo: Repository, gtin: str) -> tuple[Product, int] | None:
    with repo.read() as conn:
        return load_products(conn, [gtin]).get(gtin)


def add(
    settings: Settings,
    db: str | None,
    product: ProductInput,
    *,
    reason: str | None = None,
    update: bool = False,
) -> ProductDraft:
    """Propose a product, or with ``update`` a new version of it (which needs a reason:
    a master-data change must say why). Nothing takes effect until a ``qa`` user other
    than the proposer approves the draft (``change approve``)."""
    if update and not reason:
        raise ValidationError("--update needs --reason: a master-data change must say why")
    gtin14, ndc_text = resolve_gtin(product.gtin, product.ndc, product.indicator)
    for count in ("unitsPerCase", "casesPerPallet"):
        if product.packaging.get(count) is not None:
            try:
                packaging_count(count, product.packaging[count])
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
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
    known = _recorded(repo, gtin14)
    diffs: tuple[str, ...] = ()
    if known is not None:
        diffs = tuple(known[0].differences(record))
        if not diffs:
            return ProductDraft(gtin14, "unchanged", known[1])
        if not update:
            raise ConflictError(
                f"product {gtin14} is already recorded (version {known[1]}) with different"
                f" {', '.join(diffs)}; use --update with --reason to propose a new version"
            )
    c = _propose_product(repo, who, record, "active", reason or "product added", known)
    return ProductDraft(gtin14, "draft", c.version, c.change_id, diffs)


def _propose_product(
    repo: Repository,
    who: Principal,
    record: Product,
    status: str,
    reason: str,
    known: tuple[Product, int] | None,
) -> Change:
    after = {"product": record.content(), "status": status}
    before = None if known is None else {"product": known[0].content(), "status": "active"}
    return changes.propose(
        repo,
        who,
        "product",
        record.gtin,
        after,
        reason=reason,
        before=before,
        version=None if known is None else known[1] + 1,
    )


def retire(settings: Settings, db: str | None, gtin: str, *, reason: str) -> ProductDraft:
    """Propose that a product may no longer be commissioned (from the time the change
    becomes effective); its units and history stay."""
    if not reason:
        raise ValidationError("retiring a product needs --reason")
    gtin14 = Gtin.parse(gtin).gtin14
    repo, who = open_as(settings, db, Action.MASTERDATA)
    known = _recorded(repo, gtin14)
    if known is None:
        raise NotFound(f"product {gtin14} is not in master data")
    c = _propose_product(repo, who, known[0], "retired", reason, known)
    return ProductDraft(gtin14, "draft", c.version, c.change_id, ("status",))


def history(settings: Settings, db: str | None, gtin: str) -> list[dict[str, Any]]:
    """``product history``: every change of a product (drafts, approvals with their
    effective time, rejections) and every version recorded before change control."""
    gtin14 = Gtin.parse(gtin).gtin14
    repo = open_to_read(settings, db)
    return product_versions(repo, gtin14, changes.list_of(repo, "product", gtin14))


def products(settings: Settings, db: str | None) -> list[dict[str, Any]]:
    """Every product in its effective version."""
    return list_products(open_to_read(settings, db))


def product(settings: Settings, db: str | None, gtin: str) -> dict[str, Any]:
    """One product with all its attributes (``NotFound`` when unknown)."""
    return get_product(open_to_read(settings, db), Gtin.parse(gtin).gtin14)
