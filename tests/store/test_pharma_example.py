"""The GS1 US DSCSA example (EPCIS 1.2 XML) captured end to end with every rule on.

`openepcis/1.2/EPCIS/XML/Capture/Documents/GS1_US_Pharma_Example_2_2_1_1.xml`: product
master data (two EPCClass elements with NDC) and four locations in the header, then
commissioning of 12 units and 3 cases (cases are SGTINs here), packing, a pallet SSCC,
and a shipment to a wholesaler. The header's master data comes in as a site's would:
imported as drafts, approved by a second person, then the events are captured.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from serialvault.app.masterdata import import_file
from serialvault.errors import DocumentRejected
from serialvault.settings import Settings
from serialvault.store import queries
from serialvault.store.capture import Capturer
from serialvault.store.integrity import rebuild, verify_chain
from serialvault.store.repository import Repository
from tests import builders as b
from tests.accounts import approve_all, home, make_repo

DOC = "openepcis/1.2/EPCIS/XML/Capture/Documents/GS1_US_Pharma_Example_2_2_1_1.xml"


def test_dscsa_example_end_to_end(shared_data: Path, db_url: str) -> None:
    repo: Repository = make_repo(db_url)
    data = (shared_data / DOC).read_bytes()
    drafted = import_file(Settings(db=db_url, home=home()), db_url, shared_data / DOC)
    assert (
        sorted((d.kind, d.outcome) for d in drafted)
        == [("location", "draft")] * 4 + [("product", "draft")] * 2
    )
    with pytest.raises(DocumentRejected) as draft:  # not yet approved: nothing recorded
        Capturer(repo, actor="qa@site").capture_bytes(data, "GS1_US_Pharma_Example.xml")
    assert {i.code for i in draft.value.issues} == {"masterdata-not-effective"}
    assert "is a draft" in draft.value.issues[0].message
    assert len(approve_all(repo)) == 6
    res = Capturer(repo, actor="qa@site").capture_bytes(data, "GS1_US_Pharma_Example.xml")
    assert res.recorded == 8
    assert res.warnings == []  # the header says what master data now holds
    pallet = b.dl("urn:epc:id:sscc:030001.41234567890")
    case = b.dl("urn:epc:id:sgtin:030001.1012345.110")
    unit = b.dl("urn:epc:id:sgtin:030001.0012345.11")
    with repo.read() as conn:
        contents = queries.contents(conn, pallet)
        assert [r[0] for r in contents.rows].count(1) == 3  # three cases, SGTINs
        assert [r[0] for r in contents.rows].count(2) == 12
        assert {r[2] for r in contents.rows} == {"sgtin"}
        state = queries.unit_state(conn, unit)
        assert (state["status"], state["parent"]) == ("shipped", case)
        assert (state["lot"], state["expiry"]) == ("A123", "2025-03-27")
        assert state["product"] == {"name": "Epcistra", "ndc": "0001-0123-45"}
        assert [a["key"] for a in queries.ancestors(conn, unit)] == [case, pallet]
        shipping = queries.query_events(conn, queries.EventQuery(biz_steps=["shipping"]))
        assert len(shipping) == 1
        assert queries.counts(conn)["locations"] == 4
        assert verify_chain(conn).ok
    again = Capturer(repo, actor="qa@site").capture_bytes(data, "again.xml")
    assert (again.recorded, again.duplicates) == (0, 8)
    assert rebuild(repo, actor="t").identical
