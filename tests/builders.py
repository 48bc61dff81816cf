"""Small EPCIS 2.0 JSON-LD documents for tests, built in code.

Identifiers use the demo manufacturer's NDC-based company prefix (``030742``);
``register(repo, GTIN)`` puts a product in a repository's master data.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from serialvault.demo.generator import COMPANY_PREFIX, LABELER, gtin14

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
PRODUCT = ("0101", "12")
GTIN = gtin14(*PRODUCT)
OTHER_GTIN = gtin14("0999", "99")  # never in master data
SITE = f"urn:epc:id:sgln:{COMPANY_PREFIX}.000011.0"
_clock = itertools.count()


def sgtin(serial: str, product: tuple[str, str] = PRODUCT) -> str:
    return f"urn:epc:id:sgtin:{COMPANY_PREFIX}.0{product[0]}{product[1]}.{serial}"


def sscc(n: int) -> str:
    return f"urn:epc:id:sscc:{COMPANY_PREFIX}.{n:011d}"


def dl(urn: str) -> str:
    """Canonical Digital Link of a test URN (what the repository stores as key)."""
    from serialvault.gs1.epc import canonical_key

    return canonical_key(urn)


def _time() -> tuple[str, str]:
    n = next(_clock)
    return (
        f"2026-02-01T{8 + n // 3600 % 12:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000-05:00",
        "-05:00",
    )


def _event(etype: str, **fields: Any) -> dict[str, Any]:
    t, off = _time()
    ev: dict[str, Any] = {"type": etype, "eventTime": t, "eventTimeZoneOffset": off}
    ev.update({k: v for k, v in fields.items() if v is not None})
    ev.setdefault("bizLocation", {"id": SITE})
    return ev


def commission(
    epcs: Sequence[str], lot: str | None = "LOT1", expiry: str | None = "2028-06-30", **kw: Any
) -> dict[str, Any]:
    ilmd = None
    if lot is not None or expiry is not None:
        ilmd = {}
        if lot is not None:
            ilmd["cbvmda:lotNumber"] = lot
        if expiry is not None:
            ilmd["cbvmda:itemExpirationDate"] = expiry
    return _event(
        "ObjectEvent",
        epcList=list(epcs),
        action="ADD",
        bizStep="commissioning",
        disposition="active",
        ilmd=ilmd,
        **kw,
    )


def commission_containers(epcs: Sequence[str]) -> dict[str, Any]:
    return commission(epcs, lot=None, expiry=None)


def pack(parent: str, children: Sequence[str], **kw: Any) -> dict[str, Any]:
    return _event(
        "AggregationEvent",
        parentID=parent,
        childEPCs=list(children),
        action="ADD",
        bizStep="packing",
        disposition="in_progress",
        **kw,
    )


def unpack(parent: str, children: Sequence[str] = ()) -> dict[str, Any]:
    return _event(
        "AggregationEvent",
        parentID=parent,
        childEPCs=list(children) or None,
        action="DELETE",
        bizStep="unpacking",
    )


def observe(
    epcs: Sequence[str], biz_step: str = "inspecting", disposition: str | None = None, **kw: Any
) -> dict[str, Any]:
    return _event(
        "ObjectEvent",
        epcList=list(epcs),
        action="OBSERVE",
        bizStep=biz_step,
        disposition=disposition,
        **kw,
    )


def ship(epcs: Sequence[str], **kw: Any) -> dict[str, Any]:
    return observe(epcs, "shipping", "in_transit", **kw)


def receive(epcs: Sequence[str]) -> dict[str, Any]:
    return observe(epcs, "receiving", "in_progress")


def decommission(
    epcs: Sequence[str], disposition: str = "inactive", biz_step: str = "decommissioning"
) -> dict[str, Any]:
    return _event(
        "ObjectEvent",
        epcList=list(epcs),
        action="DELETE",
        bizStep=biz_step,
        disposition=disposition,
    )


def declare_error(
    original: dict[str, Any], reason: str = "incorrect_data", corrective: Iterable[str] = ()
) -> dict[str, Any]:
    ev = dict(original)
    decl: dict[str, Any] = {"declarationTime": "2026-02-02T10:00:00.000Z", "reason": reason}
    if corrective:
        decl["correctiveEventIDs"] = list(corrective)
    ev["errorDeclaration"] = decl
    return ev


def products(*gtins: str) -> dict[str, Any]:
    elements = [
        {
            "id": f"https://id.gs1.org/01/{g}",
            "attributes": [
                {"id": "urn:epcglobal:cbv:mda#regulatedProductName", "attribute": f"Product {g}"},
                {
                    "id": "urn:epcglobal:cbv:mda#additionalTradeItemIdentification",
                    "attribute": f"{LABELER}-{g[7:11]}-{g[11:13]}",
                },
                {
                    "id": "urn:epcglobal:cbv:mda#additionalTradeItemIdentificationTypeCode",
                    "attribute": "US_FDA_NDC",
                },
            ],
        }
        for g in gtins
    ]
    return {
        "epcisMasterData": {
            "vocabularyList": [
                {"type": "urn:epcglobal:epcis:vtype:EPCClass", "vocabularyElementList": elements}
            ]
        }
    }


def register(
    repo: Any, *gtins: str, header: dict[str, Any] | None = None, actor: str = "tester@test"
) -> None:
    """Record products in ``repo``'s master data: those ``products(*gtins)`` declares, or
    those of a document ``header``. Through the store, below change control — as the
    scratch repository of a cross-system reconciliation does: these tests are about
    capture, not approval (change control has its own tests). A document's header no
    longer adds products (master data changes only under change control)."""
    from serialvault.epcis.reader import read_json
    from serialvault.masterdata.model import master_data_from_document
    from serialvault.store.masterdata import add_product

    declared = master_data_from_document(read_json(document(header=header or products(*gtins))))
    for product in declared[0]:
        add_product(repo, product, actor=actor, reason="test master data")


def register_site(repo: Any, cfg: Any) -> None:
    """Record the products of a generated site (``SiteConfig`` ``cfg``) in master data."""
    from serialvault.demo.generator import master_data

    register(repo, header=master_data(cfg))


def document(*events: dict[str, Any], header: dict[str, Any] | None = None) -> bytes:
    doc: dict[str, Any] = {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-02-01T12:00:00.000Z",
    }
    if header is not None:
        doc["epcisHeader"] = header
    doc["epcisBody"] = {"eventList": list(events)}
    return orjson.dumps(doc)
