"""Write the demo's short case (``make demo``): three units of the first demo product
commissioned and packed into a new case whose product expects 120 — a document the
repository captures and flags with a ``count-mismatch`` exception.

Usage: short_case.py OUT.jsonld  (prints the case's EPC URN)
"""

import json
import sys
from datetime import UTC, datetime

from serialvault.demo.generator import (
    COMPANY_PREFIX,
    CONTEXT,
    PRODUCTS,
    SITE_LOCATION_REF,
    sgln_urn,
    sgtin_urn,
    sscc_urn,
)

now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
product, package = PRODUCTS[0][0], PRODUCTS[0][1]
units = [sgtin_urn(product, package, f"SHORT{i}") for i in range(1, 4)]
case = sscc_urn(9, 424242)
where = {"bizLocation": {"id": sgln_urn(COMPANY_PREFIX, SITE_LOCATION_REF)}}


def event(kind: str, **fields: object) -> dict[str, object]:
    return {"type": kind, "eventTime": now, "eventTimeZoneOffset": "+00:00", **fields, **where}


doc = {
    "@context": [CONTEXT],
    "type": "EPCISDocument",
    "schemaVersion": "2.0",
    "creationDate": now,
    "epcisBody": {
        "eventList": [
            event(
                "ObjectEvent",
                epcList=units,
                action="ADD",
                bizStep="commissioning",
                disposition="active",
                ilmd={"cbvmda:lotNumber": "DEMO-SHORT", "cbvmda:itemExpirationDate": "2028-12-31"},
            ),
            event(
                "ObjectEvent",
                epcList=[case],
                action="ADD",
                bizStep="commissioning",
                disposition="active",
            ),
            event(
                "AggregationEvent",
                parentID=case,
                childEPCs=units,
                action="ADD",
                bizStep="packing",
                disposition="in_progress",
            ),
        ]
    },
}
with open(sys.argv[1], "w", encoding="utf-8") as fh:
    json.dump(doc, fh, indent=1)
print(case)
