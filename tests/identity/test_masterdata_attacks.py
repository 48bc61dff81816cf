"""Attacks on master data under change control: what an attacker or an unlucky operator
would try against import, export, approval, effective dating and the packaging check.
Each test names the promise it attacks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from serialvault.app import changes as change_ops
from serialvault.app.changes import approve_all, list_changes, reject, show
from serialvault.app.masterdata import export, import_file, listing
from serialvault.app.products import retire
from serialvault.app.repository import check_projections_against_log, rebuild_projections
from serialvault.epcis.limits import Limits
from serialvault.errors import (
    ConflictError,
    DocumentRejected,
    InputError,
    SerialvaultError,
    ValidationError,
)
from serialvault.settings import Settings
from serialvault.store import schema
from serialvault.store.capture import Capturer
from serialvault.store.repository import Repository
from tests import builders as b
from tests.accounts import PASSWORD, home, make_repo, sign_in
from tests.accounts import approve_all as approve_as_reviewer
from tests.identity.test_masterdata import _file as _f
from tests.identity.test_masterdata import _settings as _s

G = b.GTIN
GLN = "0307420000116"
CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _jsonld(*vocabs: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "@context": [CTX],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-01-01T00:00:00Z",
            "epcisHeader": {"epcisMasterData": {"vocabularyList": list(vocabs)}},
            "epcisBody": {"eventList": []},
        }
    )


def _vocab(kind: str, *elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": f"urn:epcglobal:epcis:vtype:{kind}", "vocabularyElementList": list(elements)}


def _product(*attributes: tuple[str, Any]) -> dict[str, Any]:
    return _vocab(
        "EPCClass",
        {
            "id": f"https://id.gs1.org/01/{G}",
            "attributes": [{"id": k, "attribute": v} for k, v in attributes],
        },
    )


def _approved(tmp_path: Path, url: str, data: bytes | str, name: str) -> Repository:
    repo = make_repo(url)
    import_file(_s(url), url, _f(tmp_path, name, data))
    approve_as_reviewer(repo)
    return repo


def _signatures(repo: Repository) -> int:
    with repo.read() as conn:
        q = sa.select(sa.func.count()).select_from(schema.signatures)
        return int(conn.execute(q).scalar_one())


def _reviewer(repo: Repository, name: str = "reviewer") -> Settings:
    at = home().parent / f"{name}-{repo.meta()['repository_id']}"
    sign_in(repo, name, ["qa"], at=at)
    return Settings(db=repo.url, home=at)


# ------------------------------------------------------------------ approval


def test_the_same_id_twice_in_any_case_is_one_approval_with_one_signature(
    tmp_path: Path,
) -> None:
    url = str(tmp_path / "a.db")
    repo = make_repo(url)
    import_file(_s(url), url, _f(tmp_path, "m.csv", f"kind,id,name\nproduct,{G},X\n"))
    (cid,) = [c["id"] for c in list_changes(_s(url), url, status="draft")]
    done = approve_all(
        _reviewer(repo),
        url,
        [cid, cid.lower(), f" {cid} "],
        password=PASSWORD,
        user_entered="Reviewer",
    )  # the user id re-entered as log-in reads it: case-folded
    assert [c.change_id for c, _ in done] == [cid]
    assert _signatures(repo) == 1


def test_a_draft_decided_while_signing_leaves_no_signature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two reviewers at once: the second signs a draft the first has just rejected. The
    signatures and the decision are one commit, so no approval signature is left on a
    change that was never approved."""
    url = str(tmp_path / "race.db")
    repo = make_repo(url)
    import_file(_s(url), url, _f(tmp_path, "m.csv", f"kind,id,name\nproduct,{G},X\n"))
    (cid,) = [c["id"] for c in list_changes(_s(url), url, status="draft")]
    first, second = _reviewer(repo, "rita"), _reviewer(repo, "ray")
    real = change_ops.authenticate_signer

    def meanwhile(*args: Any, **kw: Any) -> Any:
        act = real(*args, **kw)
        reject(first, url, cid, reason="rita was first")
        return act

    monkeypatch.setattr(change_ops, "authenticate_signer", meanwhile)
    with pytest.raises(ConflictError, match="not a draft"):
        approve_all(second, url, [cid], password=PASSWORD, user_entered="ray")
    assert _signatures(repo) == 0
    assert show(_s(url), url, cid).change["status"] == "rejected"


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("fmt", ["csv", "epcis"])
def test_any_recorded_value_survives_an_export(tmp_path: Path, fmt: str) -> None:
    src = _jsonld(
        _product(
            ("urn:epcglobal:cbv:mda#regulatedProductName", "Statin "),
            ("urn:example:flag", True),
            ("urn:example:temp", {"min": 2, "max": 8.5}),
            ("cbvmda:dosageFormType", "TABLET"),
        ),
        _vocab(
            "Location",
            {
                "id": "urn:epc:id:sgln:030742.000011.0",
                "attributes": [{"id": "cbvmda:name", "attribute": "Site"}],
            },
        ),
        _vocab(
            "Party",
            {
                "id": "urn:epc:id:pgln:0398765.00001",
                "attributes": [
                    {"id": "urn:epcglobal:cbv:mda:name", "attribute": "Dist"},
                    {"id": "urn:example:licenseNumber", "attribute": "NJ-1"},
                ],
            },
        ),
    )
    url = str(tmp_path / f"rt-{fmt}.db")
    _approved(tmp_path, url, src, "src.jsonld")
    back = import_file(_s(url), url, _f(tmp_path, f"back.{fmt}", export(_s(url), url, fmt)))
    assert [(d.kind, d.outcome) for d in back] == [
        ("product", "unchanged"),
        ("location", "unchanged"),
        ("partner", "unchanged"),
    ]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (True, "is a bool"),
        ({"min": 2}, "is a dict"),
        ("Statin ", "surrounding spaces"),
        ("Statin\u000c20", "XML 1.0 forbids"),
    ],
)
def test_what_xml_cannot_carry_refuses_the_xml_export_by_name(
    tmp_path: Path, value: Any, why: str
) -> None:
    url = str(tmp_path / "x.db")
    _approved(tmp_path, url, _jsonld(_product(("urn:example:v", value))), "src.jsonld")
    with pytest.raises(ValidationError) as exc:
        export(_s(url), url, "epcis-xml")
    assert "urn:example:v" in exc.value.message
    assert why in exc.value.message
    assert "--format epcis" in exc.value.message


def test_text_with_line_separators_survives_a_csv_export(tmp_path: Path) -> None:
    name = 'Statin\u2028 20 mg\r\nsecond line, "quoted"'
    src = _jsonld(_product(("urn:epcglobal:cbv:mda#regulatedProductName", name)))
    url = str(tmp_path / "ls.db")
    _approved(tmp_path, url, src, "src.jsonld")
    back = import_file(_s(url), url, _f(tmp_path, "back.csv", export(_s(url), url, "csv")))
    assert [d.outcome for d in back] == ["unchanged"]


def test_a_spreadsheet_formula_is_guarded_in_csv_and_read_back_as_text(tmp_path: Path) -> None:
    evil = '=HYPERLINK("https://evil.example","Open")'
    src = _jsonld(
        _vocab(
            "Party",
            {
                "id": "urn:epc:id:pgln:0398765.00001",
                "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": evil}],
            },
        )
    )
    url = str(tmp_path / "fx.db")
    _approved(tmp_path, url, src, "p.jsonld")
    data = export(_s(url), url, "csv")
    assert b",=HYPERLINK" not in data
    assert b",\"'=HYPERLINK" in data
    back = import_file(_s(url), url, _f(tmp_path, "back.csv", data))
    assert [d.outcome for d in back] == ["unchanged"]


def test_gs1s_pharma_example_survives_a_csv_export(tmp_path: Path, shared_data: Path) -> None:
    url = str(tmp_path / "gs1csv.db")
    src = "openepcis/1.2/EPCIS/XML/Capture/Documents/GS1_US_Pharma_Example_2_2_1_1.xml"
    _approved(tmp_path, url, (shared_data / src).read_bytes(), "gs1.xml")
    back = import_file(_s(url), url, _f(tmp_path, "back.csv", export(_s(url), url, "csv")))
    assert len(back) == 6
    assert {d.outcome for d in back} == {"unchanged"}


# ------------------------------------------------------------------ identity of objects


def test_one_place_is_one_location_whatever_its_spelling(tmp_path: Path) -> None:
    url = str(tmp_path / "gln.db")
    _approved(tmp_path, url, f"kind,id,name\nlocation,{GLN},Site\n", "m.csv")
    src = _jsonld(
        _vocab(
            "Location",
            {"id": GLN, "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": "Site"}]},
        )
    )
    done = import_file(_s(url), url, _f(tmp_path, "l.jsonld", src))
    assert [(d.key, d.outcome) for d in done] == [(f"https://id.gs1.org/414/{GLN}", "unchanged")]


def test_identifiers_that_are_no_location_are_refused_by_name(tmp_path: Path) -> None:
    url = str(tmp_path / "nl.db")
    make_repo(url)
    src = _jsonld(
        _vocab(
            "Location",
            {"id": "urn:epc:id:pgln:030742.000011"},
            {"id": f"https://id.gs1.org/01/{G}"},
            {"id": b.sscc(1)},
        )
    )
    with pytest.raises(ValidationError) as exc:
        import_file(_s(url), url, _f(tmp_path, "l.jsonld", src))
    assert exc.value.message.count("is not a location") == 3
    assert "Location[2]" in exc.value.message


def test_lot_master_data_is_not_the_product(tmp_path: Path) -> None:
    """An LGTIN class carries a lot's master data (its expiry): it is neither a new
    product nor a version of the product that wipes its name and NDC."""
    url = str(tmp_path / "lg.db")
    _approved(tmp_path, url, f"kind,id,name,ndc\nproduct,{G},Statin,0742-0101-12\n", "m.csv")
    lot = _vocab(
        "EPCClass",
        {
            "id": "urn:epc:class:lgtin:030742.0010112.LOT1",
            "attributes": [{"id": "cbvmda:itemExpirationDate", "attribute": "2028-06-30"}],
        },
    )
    with pytest.raises(InputError, match="not a GTIN class"):
        import_file(_s(url), url, _f(tmp_path, "lot.jsonld", _jsonld(lot)))
    assert [c["status"] for c in list_changes(_s(url), url)] == ["effective"]


def test_a_header_with_product_and_lot_master_data_does_not_refuse_a_capture(
    tmp_path: Path,
) -> None:
    url = str(tmp_path / "hdrlot.db")
    repo = _approved(tmp_path, url, f"kind,id,name\nproduct,{G},Product {G}\n", "m.csv")
    header = b.products(G)
    header["epcisMasterData"]["vocabularyList"][0]["vocabularyElementList"] += [
        {"id": "urn:epc:class:lgtin:030742.0010112.LOT1", "attributes": []},
        {"id": "urn:epc:id:sgtin:030742.0010112.NOT-A-CLASS", "attributes": []},
    ]
    header["epcisMasterData"]["vocabularyList"].append(
        _vocab("Location", {"id": "urn:epc:id:sscc:030742.00000000001"})
    )
    res = Capturer(repo, actor="tester").capture_bytes(
        b.document(b.commission([b.sgtin("H1")]), header=header), "h.jsonld"
    )
    assert res.recorded == 1
    assert any("is not a location" in w for w in res.warnings)


def test_epcis_import_checks_what_csv_import_checks(tmp_path: Path) -> None:
    url = str(tmp_path / "ndc.db")
    make_repo(url)
    bad_ndc = _jsonld(
        _product(("urn:epcglobal:cbv:mda#additionalTradeItemIdentification", "9999-9999-99"))
    )
    with pytest.raises(ValidationError, match="embeds NDC"):
        import_file(_s(url), url, _f(tmp_path, "n.jsonld", bad_ndc))
    bad_count = _jsonld(_product(("urn:serialvault:mda:unitsPerCase", "-4")))
    with pytest.raises(ValidationError, match="not a positive whole number"):
        import_file(_s(url), url, _f(tmp_path, "c.jsonld", bad_count))
    infinite = _jsonld(_product(("urn:example:x", "INF"))).replace(b'"INF"', b"1e400")
    with pytest.raises(SerialvaultError, match="not finite"):
        import_file(_s(url), url, _f(tmp_path, "i.jsonld", infinite))


# ------------------------------------------------------------------ hostile files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f"kind,id,name,name\nproduct,{G},A,B\n", "named twice: name"),
        (f'kind,id,name\nproduct,{G},"Statin\nproduct,00307420101134,Other\n', "line 4"),
        (f"kind,id,name\nproduct,{G},{'A' * 200_000}\n", "not readable as CSV"),
    ],
    ids=["duplicate-column", "unterminated-quote", "huge-field"],
)
def test_a_malformed_csv_is_refused_by_line(tmp_path: Path, content: str, message: str) -> None:
    url = str(tmp_path / "bad.db")
    make_repo(url)
    with pytest.raises(InputError) as exc:
        import_file(_s(url), url, _f(tmp_path, "bad.csv", content))
    assert message in exc.value.message


def test_the_size_limits_apply_to_an_import(tmp_path: Path) -> None:
    url = str(tmp_path / "big.db")
    make_repo(url)
    tight = replace(_s(url), limits=Limits(document_bytes=4096, field_bytes=1024))
    with pytest.raises(InputError, match="more than the limit of 4,096 bytes"):
        import_file(
            tight, url, _f(tmp_path, "big.csv", f"kind,id,name\nproduct,{G},{'A' * 9000}\n")
        )
    with pytest.raises(ValidationError, match="over the limit of 1,024"):
        import_file(tight, url, _f(tmp_path, "f.csv", f"kind,id,name\nproduct,{G},{'A' * 2000}\n"))


def test_entities_in_a_master_data_document_are_refused(tmp_path: Path) -> None:
    url = str(tmp_path / "xxe.db")
    make_repo(url)
    xml = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<epcismd:EPCISMasterDataDocument xmlns:epcismd="urn:epcglobal:epcis-masterdata:xsd:2"'
        ' schemaVersion="2.0" creationDate="2026-01-01T00:00:00Z"><EPCISBody><VocabularyList>'
        '<Vocabulary type="urn:epcglobal:epcis:vtype:Location"><VocabularyElementList>'
        '<VocabularyElement id="urn:epc:id:sgln:030742.000011.0"><attribute'
        ' id="urn:epcglobal:cbv:mda#name">&x;</attribute></VocabularyElement>'
        "</VocabularyElementList></Vocabulary></VocabularyList></EPCISBody>"
        "</epcismd:EPCISMasterDataDocument>"
    )
    with pytest.raises(InputError, match="DOCTYPE"):
        import_file(_s(url), url, _f(tmp_path, "x.xml", xml))


# ------------------------------------------------------------------ effective dating


def _legacy(tmp_path: Path) -> tuple[Repository, str]:
    url = str(tmp_path / "legacy.db")
    repo = make_repo(url)
    b.register(repo, G)  # recorded before change control (an upgraded repository)
    return repo, url


def _commission(repo: Repository, serial: str, when: str = "2026-02-01T10:00:00Z") -> int:
    ev = b.commission([b.sgtin(serial)])
    ev["eventTime"] = when
    return Capturer(repo, actor="tester").capture_bytes(b.document(ev), f"{serial}.jsonld").recorded


def test_a_draft_by_an_operator_cannot_stop_a_recorded_products_units(tmp_path: Path) -> None:
    repo, url = _legacy(tmp_path)
    sign_in(repo, "olga", ["operator"], at=tmp_path / "olga")
    olga = Settings(db=url, home=tmp_path / "olga")
    import_file(olga, url, _f(tmp_path, "m.csv", f"kind,id,name\nproduct,{G},Renamed\n"))
    assert _commission(repo, "L1") == 1


def test_a_rejected_change_cannot_stop_a_recorded_products_units(tmp_path: Path) -> None:
    repo, url = _legacy(tmp_path)
    import_file(_s(url), url, _f(tmp_path, "m.csv", f"kind,id,name\nproduct,{G},Renamed\n"))
    (cid,) = [c["id"] for c in list_changes(_s(url), url, status="draft")]
    reject(_reviewer(repo), url, cid, reason="typo")
    assert _commission(repo, "L2") == 1


def test_a_planned_version_leaves_the_recorded_one_in_force_until_then(tmp_path: Path) -> None:
    repo, url = _legacy(tmp_path)
    import_file(_s(url), url, _f(tmp_path, "m.csv", f"kind,id,name\nproduct,{G},Renamed\n"))
    approve_as_reviewer(repo, effective_from="2099-01-01T00:00:00Z")
    assert _commission(repo, "L3") == 1


def test_an_import_never_revives_a_retired_product(tmp_path: Path) -> None:
    url = str(tmp_path / "ret.db")
    repo = _approved(tmp_path, url, f"kind,id,name\nproduct,{G},Statin\n", "m.csv")
    retire(_s(url), url, G, reason="withdrawn")
    approve_as_reviewer(repo)
    (d,) = import_file(_s(url), url, _f(tmp_path, "m2.csv", f"kind,id,name\nproduct,{G},S2\n"))
    assert d.changed_fields == ("name",)
    assert show(_s(url), url, d.change_id or "").change["after"]["status"] == "retired"
    approve_as_reviewer(repo)
    with pytest.raises(DocumentRejected, match="retired"):
        _commission(repo, "R1", when="2030-01-01T00:00:00Z")


# ------------------------------------------------------------------ packaging check


def _configured(tmp_path: Path, units: int = 6, pallet: int = 2) -> Repository:
    url = str(tmp_path / "p.db")
    csv = f"kind,id,name,units_per_case,cases_per_pallet\nproduct,{G},P,{units},{pallet}\n"
    return _approved(tmp_path, url, csv, "m.csv")


def _count_exceptions(repo: Repository) -> list[list[str]]:
    with repo.read() as conn:
        rows = conn.execute(
            sa.select(schema.exceptions.c.identifiers).where(
                schema.exceptions.c.type == "count-mismatch"
            )
        ).all()
    return [orjson.loads(r[0]) for r in rows]


def test_recapturing_a_document_raises_its_count_exception_once(tmp_path: Path) -> None:
    repo = _configured(tmp_path)
    units, case = [b.sgtin(f"D{i}") for i in range(5)], b.sscc(11)
    doc = b.document(b.commission(units), b.commission_containers([case]), b.pack(case, units))
    cap = Capturer(repo, actor="tester")
    cap.capture_bytes(doc, "d.jsonld")
    assert cap.capture_bytes(doc, "d.jsonld").duplicates == 3
    assert _count_exceptions(repo) == [[b.dl(case)]]


def test_a_version_approved_for_later_is_not_the_count_checked_now(tmp_path: Path) -> None:
    repo = _configured(tmp_path)
    url = repo.url
    csv = f"kind,id,name,units_per_case,cases_per_pallet\nproduct,{G},P,12,2\n"
    import_file(_s(url), url, _f(tmp_path, "v2.csv", csv))
    approve_as_reviewer(repo, effective_from="2099-01-01T00:00:00Z")
    units, case = [b.sgtin(f"F{i}") for i in range(6)], b.sscc(41)
    Capturer(repo, actor="tester").capture_bytes(
        b.document(b.commission(units), b.commission_containers([case]), b.pack(case, units)),
        "d.jsonld",
    )
    assert _count_exceptions(repo) == []


def test_a_pallet_of_cases_packed_earlier_is_counted(tmp_path: Path) -> None:
    repo = _configured(tmp_path)
    units = [b.sgtin(f"P{i}") for i in range(18)]
    cases, pallet = [b.sscc(51), b.sscc(52), b.sscc(53)], b.sscc(59)
    cap = Capturer(repo, actor="tester")
    packs = [b.pack(c, units[6 * i : 6 * i + 6]) for i, c in enumerate(cases)]
    cap.capture_bytes(
        b.document(b.commission(units), b.commission_containers([*cases, pallet]), *packs), "a"
    )
    assert _count_exceptions(repo) == []
    cap.capture_bytes(b.document(b.pack(pallet, cases)), "pallet.jsonld")
    assert _count_exceptions(repo) == [[b.dl(pallet)]]


# ------------------------------------------------------------------ replay


def test_master_data_versions_rebuild_bit_for_bit(db_url: str, tmp_path: Path) -> None:
    csv = (
        "kind,id,name,units_per_case,street,licence\n"
        f"product,{G},P,6,,\nlocation,{GLN},Site,,1 Road,\npartner,0398765000015,Dist,,9 Dock,L-1\n"
    )
    s = _s(db_url)
    repo = make_repo(db_url)
    import_file(s, db_url, _f(tmp_path, "m.csv", csv))
    approve_as_reviewer(repo)
    moved = csv.replace("1 Road", "2 Road").replace("9 Dock", "10 Dock").replace(",P,", ",Q,")
    import_file(s, db_url, _f(tmp_path, "m2.csv", moved))
    approve_as_reviewer(repo)
    import_file(s, db_url, _f(tmp_path, "m3.csv", moved.replace("Site", "Site B")))
    for c in list_changes(s, db_url, status="draft"):
        reject(_reviewer(repo), db_url, c["id"], reason="no")
    retire(s, db_url, G, reason="gone")
    approve_as_reviewer(repo)
    versions = {(r["kind"], r["version"]) for r in listing(s, db_url)}
    assert versions == {("product", 3), ("location", 2), ("partner", 2)}
    before = export(s, db_url, "csv")
    rebuilt = rebuild_projections(s, db_url)
    assert rebuilt.before.value == rebuilt.after.value
    assert check_projections_against_log(s, db_url).ok
    assert export(s, db_url, "csv") == before
