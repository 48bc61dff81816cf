"""The repository's behaviour, identical on SQLite and PostgreSQL.

Each business rule is tested with input that satisfies it and input that breaks it;
every rejection must name what was wrong and leave the data exactly as it was (the
fingerprint and the log are compared before and after), apart from the one exception
record the rejection writes.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from serialvault.errors import DocumentInvalid, DocumentRejected, InputError
from serialvault.store import queries, schema
from serialvault.store.capture import Capturer
from serialvault.store.exceptions import list_exceptions
from serialvault.store.fingerprint import fingerprint
from serialvault.store.integrity import rebuild, verify_chain
from serialvault.store.masterdata import list_products
from serialvault.store.repository import Repository, read_head
from tests import builders as b


def capture(
    repo: Repository,
    *events: dict[str, Any],
    header: dict[str, Any] | None = None,
    name: str = "doc.jsonld",
) -> Any:
    return Capturer(repo, actor="tester@test").capture_bytes(
        b.document(*events, header=header), name
    )


def setup_products(repo: Repository) -> None:
    b.register(repo, b.GTIN)


def state(repo: Repository, urn: str) -> dict[str, Any]:
    with repo.read() as conn:
        return queries.unit_state(conn, b.dl(urn))


def snapshot(repo: Repository) -> tuple[str, int, int]:
    """(fingerprint without exceptions, log length, exceptions count)."""
    with repo.read() as conn:
        fp = fingerprint(conn)
        n_exc = fp.tables["exceptions"].rows
        log_len = fp.head_seq
    core = {k: v for k, v in fp.tables.items() if k != "exceptions"}
    return (repr(sorted(core.items())), log_len, n_exc)


def assert_rejected(
    repo: Repository,
    *events: dict[str, Any],
    code: str,
    text: str,
    header: dict[str, Any] | None = None,
) -> DocumentRejected:
    before = snapshot(repo)
    with pytest.raises(DocumentRejected) as ei:
        capture(repo, *events, header=header, name="bad.jsonld")
    err = ei.value
    assert any(i.code == code for i in err.issues), err.message
    assert text in err.message
    after = snapshot(repo)
    assert after[0] == before[0], "a rejected document changed the projections"
    assert after[1] == before[1] + 1, "exactly one exception record is written"
    assert after[2] == before[2] + 1
    with repo.read() as conn:
        exc = list_exceptions(conn)[-1]
    assert exc["document"] == "bad.jsonld"
    assert exc["type"] == "rule-violation"
    assert text in exc["reason"]
    return err


# --------------------------------------------------------------------------- basics


def test_init_is_idempotent_and_writes_genesis(db_url: str) -> None:
    repo = Repository.open(db_url, must_exist=False)
    created, head = repo.init("a@b")
    assert created
    assert head.seq == 1
    created2, head2 = repo.init("a@b")
    assert not created2
    assert head2 == head
    with repo.read() as conn:
        kinds = [r[0] for r in conn.execute(sa.select(schema.log.c.kind))]
    assert kinds == ["repository.init"]


def test_uninitialised_database_is_refused_clearly(tmp_path: Any) -> None:
    from serialvault.errors import StoreError

    with pytest.raises(StoreError, match="no repository at"):
        Repository.open(str(tmp_path / "absent.db"))
    assert not (tmp_path / "absent.db").exists(), "opening must not create the file"
    (tmp_path / "empty.db").touch()
    with pytest.raises(StoreError, match="not a serialvault repository"):
        Repository.open(str(tmp_path / "empty.db"))


def test_unreachable_postgres_is_a_clear_store_error() -> None:
    from serialvault.errors import StoreError

    with pytest.raises(StoreError, match="cannot use database") as ei:
        Repository.open("postgresql://nobody@127.0.0.1:1/none")
    assert ei.value.exit_code == 7
    assert "127.0.0.1:1" in ei.value.message


def test_capture_commissions_packs_ships_and_records_lot(repo: Repository) -> None:
    setup_products(repo)
    units = [b.sgtin(f"S{i}") for i in range(5)]
    case, pallet = b.sscc(1), b.sscc(2)
    res = capture(
        repo,
        b.commission(units, lot="L42", expiry="2028-03-31"),
        b.commission_containers([case, pallet]),
        b.pack(case, units),
        b.pack(pallet, [case]),
        b.ship([pallet]),
    )
    assert res.recorded == 5
    assert res.duplicates == 0
    u = state(repo, units[0])
    assert (u["status"], u["lot"], u["expiry"], u["parent"]) == (
        "shipped",
        "L42",
        "2028-03-31",
        b.dl(case),
    )
    assert u["disposition"] == "in_transit"
    assert state(repo, case)["status"] == "shipped"
    with repo.read() as conn:
        contents = queries.contents(conn, b.dl(pallet))
        assert [r[0] for r in contents.rows] == [1] + [2] * 5
        assert contents.rows[0][1:] == (b.dl(case), "sscc", b.dl(pallet))
        assert {r[1] for r in contents.rows[1:]} == {b.dl(u) for u in units}
        assert all(r[3] == b.dl(case) for r in contents.rows[1:])
        detail = queries.contents_detail(conn, b.dl(pallet))
        assert [d["status"] for d in detail] == ["shipped"] * 6
        assert {d["lot"] for d in detail[1:]} == {"L42"}
        assert len(queries.contents(conn, b.dl(pallet), max_depth=1)) == 1
        assert contents.as_dicts()[0] == {
            "depth": 1,
            "key": b.dl(case),
            "kind": "sscc",
            "parent": b.dl(pallet),
        }
        anc = queries.ancestors(conn, b.dl(units[0]))
        assert [a["key"] for a in anc] == [b.dl(case), b.dl(pallet)]
        hist = queries.unit_history(conn, b.dl(units[0]))
        assert [h["role"] for h in hist] == ["epc", "child", "via"]
        lots = conn.execute(sa.select(schema.lots)).all()
        assert [(r.lot, r.expiry) for r in lots] == [("L42", "2028-03-31")]


def test_recapture_of_identical_document_is_a_no_op(repo: Repository) -> None:
    setup_products(repo)
    events = (b.commission([b.sgtin("A1")]), b.observe([b.sgtin("A1")]))
    capture(repo, *events)
    before = snapshot(repo)
    res = capture(repo, *events)
    assert res.recorded == 0
    assert res.duplicates == 2
    assert snapshot(repo) == before


def test_same_event_twice_in_one_document_is_recorded_once(repo: Repository) -> None:
    setup_products(repo)
    ev = b.commission([b.sgtin("A1")])
    res = capture(repo, ev, ev)
    assert (res.recorded, res.duplicates) == (1, 1)


def test_document_is_all_or_nothing(repo: Repository) -> None:
    setup_products(repo)
    err = assert_rejected(
        repo,
        b.commission([b.sgtin("G1"), b.sgtin("G2")]),
        b.observe([b.sgtin("G1")]),
        b.observe([b.sgtin("NEVER")]),
        code="not-commissioned",
        text="has not been commissioned",
    )
    issue = err.issues[0]
    assert issue.event_index == 2
    assert issue.field == "epcList[0]"
    with repo.read() as conn, pytest.raises(Exception, match="not recorded"):
        queries.unit_state(conn, b.dl(b.sgtin("G1")))


# --------------------------------------------------------------------------- master data


def test_unknown_product_is_rejected(repo: Repository) -> None:
    assert_rejected(
        repo, b.commission([b.sgtin("X1")]), code="unknown-product", text=f"product GTIN {b.GTIN}"
    )


def test_a_documents_header_adds_no_product(repo: Repository) -> None:
    """Master data changes only under change control: a header declaring a new product
    records nothing, says so, and the units of that product stay refused."""
    res = capture(repo, header=b.products(b.GTIN))
    assert list_products(repo) == []
    assert any("masterdata import" in w and b.GTIN in w for w in res.warnings)
    with pytest.raises(DocumentRejected) as exc:
        capture(repo, b.commission([b.sgtin("H1")]), header=b.products(b.GTIN))
    assert exc.value.issues[0].code == "unknown-product"
    assert "change control" in exc.value.issues[0].message


def test_changed_master_data_in_a_document_is_kept_with_a_warning(repo: Repository) -> None:
    """A header that differs from the recorded product neither changes it nor refuses
    the document: the recorded version stays, and the warning names the difference."""
    setup_products(repo)
    header = b.products(b.GTIN)
    header["epcisMasterData"]["vocabularyList"][0]["vocabularyElementList"][0]["attributes"][0][
        "attribute"
    ] = "Renamed"
    res = capture(repo, b.commission([b.sgtin("R1")]), header=header)
    assert res.recorded == 1
    assert [p["name"] for p in list_products(repo)] == [f"Product {b.GTIN}"]
    assert any(b.GTIN in w and "name" in w and "kept" in w for w in res.warnings)


# --------------------------------------------------------------------------- lifecycle

#: every way an event can use unit U1 (packing into container 9)
USES = pytest.mark.parametrize(
    "make",
    [
        lambda: b.observe([b.sgtin("U1")]),
        lambda: b.ship([b.sgtin("U1")]),
        lambda: b.decommission([b.sgtin("U1")]),
        lambda: b.pack(b.sscc(9), [b.sgtin("U1")]),
    ],
    ids=["observe", "ship", "decommission", "pack"],
)


def test_commissioned_once(repo: Repository) -> None:
    setup_products(repo)
    capture(repo, b.commission([b.sgtin("C1")]))
    assert_rejected(
        repo,
        b.commission([b.sgtin("C1")]),
        code="already-commissioned",
        text="already commissioned",
    )


def test_serial_is_never_reused_after_decommissioning(repo: Repository) -> None:
    setup_products(repo)
    capture(repo, b.commission([b.sgtin("C1")]), b.decommission([b.sgtin("C1")]))
    assert_rejected(
        repo, b.commission([b.sgtin("C1")]), code="already-commissioned", text="never reused"
    )


def test_duplicate_epc_in_one_event(repo: Repository) -> None:
    setup_products(repo)
    assert_rejected(
        repo,
        b.commission([b.sgtin("D1"), b.sgtin("D1")]),
        code="duplicate-epc",
        text="listed twice",
    )


@USES
def test_nothing_happens_to_an_uncommissioned_unit(repo: Repository, make: Any) -> None:
    setup_products(repo)
    capture(repo, b.commission_containers([b.sscc(9)]))
    assert_rejected(repo, make(), code="not-commissioned", text="has not been commissioned")


@USES
def test_nothing_happens_to_a_decommissioned_unit(repo: Repository, make: Any) -> None:
    setup_products(repo)
    capture(
        repo,
        b.commission_containers([b.sscc(9)]),
        b.commission([b.sgtin("U1")]),
        b.decommission([b.sgtin("U1")]),
    )
    assert_rejected(repo, make(), code="decommissioned", text="is decommissioned")


def test_a_child_has_at_most_one_parent(repo: Repository) -> None:
    setup_products(repo)
    u = b.sgtin("P1")
    capture(
        repo,
        b.commission([u]),
        b.commission_containers([b.sscc(1), b.sscc(2)]),
        b.pack(b.sscc(1), [u]),
    )
    assert_rejected(repo, b.pack(b.sscc(2), [u]), code="already-packed", text="already packed in")
    # re-packing into the same parent is harmless
    capture(repo, b.pack(b.sscc(1), [u]))
    assert state(repo, u)["parent"] == b.dl(b.sscc(1))


def test_packing_must_not_create_a_cycle(repo: Repository) -> None:
    setup_products(repo)
    a, c, p = b.sscc(1), b.sscc(2), b.sscc(3)
    capture(repo, b.commission_containers([a, c, p]), b.pack(c, [a]), b.pack(p, [c]))
    assert_rejected(repo, b.pack(a, [p]), code="cycle", text="would create a cycle")
    assert_rejected(repo, b.pack(a, [a]), code="cycle", text="would create a cycle")


def test_unpacking_removes_the_link(repo: Repository) -> None:
    setup_products(repo)
    u1, u2, case = b.sgtin("K1"), b.sgtin("K2"), b.sscc(1)
    capture(repo, b.commission([u1, u2]), b.commission_containers([case]), b.pack(case, [u1, u2]))
    capture(repo, b.unpack(case, [u1]))
    assert state(repo, u1)["parent"] is None
    assert state(repo, u2)["parent"] == b.dl(case)
    capture(repo, b.unpack(case))  # no children listed: all of them
    assert state(repo, u2)["parent"] is None
    assert_rejected(repo, b.unpack(case, [u1]), code="not-in-parent", text="is not packed in")


def test_shipping_a_container_ships_its_contents_and_receiving_brings_them_back(
    repo: Repository,
) -> None:
    setup_products(repo)
    u, case, pallet = b.sgtin("S1"), b.sscc(1), b.sscc(2)
    capture(
        repo,
        b.commission([u]),
        b.commission_containers([case, pallet]),
        b.pack(case, [u]),
        b.pack(pallet, [case]),
    )
    capture(repo, b.ship([pallet]))
    assert state(repo, u)["status"] == "shipped"
    assert_rejected(repo, b.unpack(case, [u]), code="shipped", text="must be received")
    capture(repo, b.receive([pallet]))
    assert state(repo, u)["status"] == "active"
    capture(repo, b.unpack(case, [u]))


def test_decommissioning_a_container_releases_its_contents(repo: Repository) -> None:
    setup_products(repo)
    u, case = b.sgtin("R1"), b.sscc(1)
    capture(repo, b.commission([u]), b.commission_containers([case]), b.pack(case, [u]))
    capture(repo, b.decommission([case]))
    s = state(repo, u)
    assert (s["status"], s["parent"]) == ("active", None)


def test_destroying_a_container_decommissions_everything_inside(repo: Repository) -> None:
    setup_products(repo)
    u, case, pallet = b.sgtin("R1"), b.sscc(1), b.sscc(2)
    capture(
        repo,
        b.commission([u]),
        b.commission_containers([case, pallet]),
        b.pack(case, [u]),
        b.pack(pallet, [case]),
    )
    capture(repo, b.decommission([pallet], disposition="destroyed", biz_step="destroying"))
    assert state(repo, u)["status"] == "decommissioned"
    assert state(repo, case)["status"] == "decommissioned"


def test_decommissioning_a_packed_unit_takes_it_out_of_its_case(repo: Repository) -> None:
    setup_products(repo)
    u, case = b.sgtin("R1"), b.sscc(1)
    capture(
        repo,
        b.commission([u]),
        b.commission_containers([case]),
        b.pack(case, [u]),
        b.decommission([u], "damaged"),
    )
    s = state(repo, u)
    assert (s["status"], s["parent"], s["disposition"]) == ("decommissioned", None, "damaged")


def test_a_lot_has_one_expiry(repo: Repository) -> None:
    setup_products(repo)
    capture(repo, b.commission([b.sgtin("L1")], lot="LOTX", expiry="2028-01-31"))
    assert_rejected(
        repo,
        b.commission([b.sgtin("L2")], lot="LOTX", expiry="2029-01-31"),
        code="lot-expiry-conflict",
        text="lot LOTX of GTIN",
    )


def test_event_id_must_identify_one_event(repo: Repository) -> None:
    setup_products(repo)
    capture(
        repo, b.commission([b.sgtin("E1")], eventID="urn:uuid:11111111-1111-4111-8111-111111111111")
    )
    assert_rejected(
        repo,
        b.observe([b.sgtin("E1")], eventID="urn:uuid:11111111-1111-4111-8111-111111111111"),
        code="event-id-conflict",
        text="already identifies a different event",
    )


# --------------------------------------------------------------------------- error declarations


def test_declaring_a_shipment_erroneous_restores_the_contents(repo: Repository) -> None:
    setup_products(repo)
    u, case = b.sgtin("X1"), b.sscc(1)
    shipment = b.ship([case], eventID="urn:uuid:22222222-2222-4222-8222-222222222222")
    capture(repo, b.commission([u]), b.commission_containers([case]), b.pack(case, [u]), shipment)
    assert state(repo, u)["status"] == "shipped"
    res = capture(repo, b.declare_error(shipment))
    assert res.recorded == 1
    assert state(repo, u)["status"] == "active"
    assert state(repo, case)["status"] == "active"
    with repo.read() as conn:
        hist = queries.unit_history(conn, b.dl(case))
    assert hist[-1]["declared_by_seq"] is not None
    assert_rejected(
        repo,
        b.declare_error(shipment, reason="did_not_occur"),
        code="declared-twice",
        text="already been declared",
    )
    # the declaration survives a rebuild
    assert rebuild(repo, actor="t").identical


def test_declaring_an_unknown_event_is_rejected(repo: Repository) -> None:
    setup_products(repo)
    capture(repo, b.commission([b.sgtin("Z1")]))
    assert_rejected(
        repo,
        b.declare_error(b.observe([b.sgtin("Z1")])),
        code="declared-unknown",
        text="no such event",
    )


def test_declaration_that_would_orphan_later_events_is_rejected(repo: Repository) -> None:
    setup_products(repo)
    comm = b.commission([b.sgtin("Y1")])
    capture(repo, comm, b.observe([b.sgtin("Y1")]))
    assert_rejected(
        repo,
        b.declare_error(comm),
        code="declaration-breaks-history",
        text="declare that event erroneous first",
    )


def test_declaring_commissioning_erroneous_frees_the_serial(repo: Repository) -> None:
    setup_products(repo)
    comm = b.commission([b.sgtin("Y2")], lot="WRONG", expiry="2028-01-31")
    capture(repo, comm)
    capture(repo, b.declare_error(comm))
    assert state(repo, b.sgtin("Y2"))["status"] is None
    capture(repo, b.commission([b.sgtin("Y2")], lot="RIGHT", expiry="2028-02-29"))
    assert state(repo, b.sgtin("Y2"))["lot"] == "RIGHT"


# --------------------------------------------------------------------------- bad input


def test_malformed_json_is_recorded_as_an_input_exception(repo: Repository) -> None:
    with pytest.raises(InputError, match="malformed JSON"):
        Capturer(repo, actor="t").capture_bytes(b'{"type": "EPCISDocument",', "broken.json")
    with repo.read() as conn:
        exc = list_exceptions(conn)[-1]
    assert (exc["type"], exc["document"]) == ("interface-rejection", "broken.json")


def test_invalid_document_is_rejected_before_any_rule(repo: Repository) -> None:
    setup_products(repo)
    bad = b.commission([b.sgtin("V1")])
    bad["bizStep"] = "transforming"
    before = snapshot(repo)
    with pytest.raises(DocumentInvalid, match="transforming"):
        capture(repo, bad)
    after = snapshot(repo)
    assert after[0] == before[0]
    assert after[1] == before[1] + 1


# --------------------------------------------------------------------------- queries


def test_events_query_filters(repo: Repository) -> None:
    setup_products(repo)
    u1, u2, case = b.sgtin("Q1"), b.sgtin("Q2"), b.sscc(5)
    capture(
        repo,
        b.commission([u1, u2]),
        b.commission_containers([case]),
        b.pack(case, [u1, u2]),
        b.ship([case]),
    )
    with repo.read() as conn:
        q = queries.query_events
        assert len(q(conn, queries.EventQuery(biz_steps=["shipping"]))) == 1
        assert (
            len(q(conn, queries.EventQuery(biz_steps=["urn:epcglobal:cbv:bizstep:shipping"]))) == 1
        )
        assert len(q(conn, queries.EventQuery(event_types=["AggregationEvent"]))) == 1
        assert (
            len(q(conn, queries.EventQuery(match={"MATCH_epc": [u1]}))) == 2
        )  # commission + child of pack
        assert len(q(conn, queries.EventQuery(match={"MATCH_parentID": [case]}))) == 1
        assert len(q(conn, queries.EventQuery(match={"MATCH_anyEPC": [case]}))) == 3
        assert len(q(conn, queries.EventQuery(match={"MATCH_epc": [u1]}, include_via=True))) == 3
        pattern = f"urn:epc:idpat:sgtin:{b.COMPANY_PREFIX}.0{b.PRODUCT[0]}{b.PRODUCT[1]}.*"
        assert len(q(conn, queries.EventQuery(match={"MATCH_epc": [pattern]}))) == 2
        assert len(q(conn, queries.EventQuery(ge_event_time="2100-01-01T00:00:00Z"))) == 0
        assert len(q(conn, queries.EventQuery(biz_locations=[b.SITE]))) == 4
        assert len(q(conn, queries.EventQuery(limit=2))) == 2


# --------------------------------------------------------------------------- integrity


def test_rebuild_reproduces_the_fingerprint(repo: Repository) -> None:
    setup_products(repo)
    units = [b.sgtin(f"F{i}") for i in range(30)]
    capture(
        repo,
        b.commission(units),
        b.commission_containers([b.sscc(1)]),
        b.pack(b.sscc(1), units[:20]),
        b.decommission(units[25:]),
    )
    res = rebuild(repo, actor="t")
    assert res.identical
    assert res.after.tables["units"].rows == 31


def test_audit_verify_names_the_first_broken_link(repo: Repository) -> None:
    setup_products(repo)
    capture(repo, b.commission([b.sgtin("T1")]), b.observe([b.sgtin("T1")]))
    with repo.read() as conn:
        assert verify_chain(conn).ok
    with repo.engine.begin() as conn:
        conn.execute(sa.update(schema.log).where(schema.log.c.seq == 3).values(actor="mallory"))
    with repo.read() as conn:
        res = verify_chain(conn)
    assert not res.ok
    assert res.first_break is not None
    assert res.first_break.seq == 3
    assert "chain_hash" in res.first_break.problem


def test_a_read_sees_one_snapshot_while_a_capture_commits(repo: Repository) -> None:
    """Audit (and later backup) beside a live capture: head and log from the same moment."""
    setup_products(repo)
    capture(repo, b.commission([b.sgtin("S1")]))
    with repo.read() as conn:
        before = read_head(conn)
        capture(repo, b.commission([b.sgtin("S2")]))  # commits on another connection
        res = verify_chain(conn)
        assert res.ok, res.first_break
        assert res.head_seq == before.seq
    with repo.read() as conn:
        assert verify_chain(conn).head_seq > before.seq


def test_audit_verify_detects_a_deleted_record(repo: Repository) -> None:
    setup_products(repo)
    capture(repo, b.commission([b.sgtin("T1")]), b.observe([b.sgtin("T1")]))
    with repo.engine.begin() as conn:
        conn.execute(sa.delete(schema.log).where(schema.log.c.seq == 2))
    with repo.read() as conn:
        res = verify_chain(conn)
    assert res.first_break is not None
    assert res.first_break.seq == 3
    assert res.first_break.problem == "sequence gap or reorder"


def test_audit_verify_detects_an_edited_body(repo: Repository) -> None:
    setup_products(repo)
    capture(repo, b.commission([b.sgtin("T1")]))
    with repo.engine.begin() as conn:
        body = conn.execute(sa.select(schema.log.c.body).where(schema.log.c.seq == 3)).scalar_one()
        conn.execute(
            sa.update(schema.log).where(schema.log.c.seq == 3).values(body=body.replace("T1", "T2"))
        )
    with repo.read() as conn:
        res = verify_chain(conn)
    assert res.first_break is not None
    assert res.first_break.seq == 3
    assert "body" in res.first_break.problem


def test_fingerprint_changes_when_a_projection_row_changes(repo: Repository) -> None:
    setup_products(repo)
    capture(repo, b.commission([b.sgtin("W1")]))
    with repo.read() as conn:
        fp1 = fingerprint(conn)
    with repo.engine.begin() as conn:
        conn.execute(sa.update(schema.units).values(status="shipped"))
    with repo.read() as conn:
        fp2 = fingerprint(conn)
    assert fp1.value != fp2.value
    assert fp1.tables["products"] == fp2.tables["products"]
    res = rebuild(repo, actor="t")
    assert not res.identical
    assert "units" in res.to_dict()["tables_differing"]
    with repo.read() as conn:
        assert fingerprint(conn).value == fp1.value


def test_contents_kinds_agree_with_classify_key(repo: Repository) -> None:
    from serialvault.domain.facts import classify_key

    setup_products(repo)
    units, case = [b.sgtin(f"KC{i}") for i in range(3)], b.sscc(31)
    capture(repo, b.commission(units), b.commission_containers([case]), b.pack(case, units))
    with repo.read() as conn:
        rows = queries.contents(conn, b.dl(case)).rows
    assert [(r[2], classify_key(r[1])[0]) for r in rows] == [("sgtin", "sgtin")] * 3
