"""The command line as a user meets it: output, --json, exit codes, clear errors.

Runs in-process (typer's CliRunner); the kill -9 tests run the real process.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from serialvault.cli.main import app
from serialvault.epcis.hashing import document_hashes
from serialvault.epcis.reader import read_document
from serialvault.store.repository import Repository
from tests import builders as b
from tests.accounts import PASSWORD, approve_all, sign_in

runner = CliRunner()


def sv(*args: str, db: Path | str | None = None, input: bytes | None = None) -> Any:
    argv = list(args)
    if db is not None:
        argv += ["--db", str(db)]
    return runner.invoke(app, argv, input=input, catch_exceptions=False)


def init(path: Path, *extra: str) -> Any:
    """``init`` with a first admin whose password is in a file beside the repository."""
    pw = path.with_name("admin.pw")
    pw.write_text(PASSWORD + "\n")
    return sv(
        "init",
        "--admin",
        "admin",
        "--admin-name",
        "Ada Admin",
        "--password-file",
        str(pw),
        *extra,
        db=path,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A repository with its admin and a user holding every role, logged in."""
    path = tmp_path / "cli.db"
    assert init(path).exit_code == 0
    sign_in(str(path))
    b.register(Repository.open(str(path)), b.GTIN)
    return path


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    units = [b.sgtin(f"CLI{i}") for i in range(3)]
    (folder / "1-master.jsonld").write_bytes(b.document(header=b.products(b.GTIN)))
    (folder / "2-events.jsonld").write_bytes(
        b.document(
            b.commission(units),
            b.commission_containers([b.sscc(77)]),
            b.pack(b.sscc(77), units),
        )
    )
    return folder


def test_version() -> None:
    r = sv("--version")
    assert r.exit_code == 0
    assert re.match(r"serialvault \d+\.\d+\.\d+", r.stdout)


def test_init_is_idempotent_and_json(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    first = json.loads(init(path, "--json").stdout)
    second = json.loads(sv("init", "--json", db=path).stdout)
    assert first["created"] is True
    assert first["admin"]["user"] == "admin"
    assert first["admin"]["roles"] == ["admin"]
    assert second["created"] is False
    # genesis, the admin's account and first password; the second run changes nothing
    assert second["head_seq"] == first["head_seq"] == 3


def test_capture_folder_then_query(db: Path, docs: Path) -> None:
    r = sv("capture", str(docs), "--json", db=db)
    assert r.exit_code == 0, r.stdout
    out = json.loads(r.stdout)
    assert [c["recorded"] for c in out["captured"]] == [0, 3]
    assert out["rejected"] == []
    unit = json.loads(sv("unit", b.sgtin("CLI0"), "--json", db=db).stdout)
    assert unit["state"]["parent"] == b.dl(b.sscc(77))
    assert [h["role"] for h in unit["history"]] == ["epc", "child"]
    contents = json.loads(sv("contents", b.sscc(77), "--json", "--summary", db=db).stdout)
    assert contents["count"] == 3
    assert "contents" not in contents
    anc = json.loads(sv("ancestors", b.sgtin("CLI1"), "--json", db=db).stdout)
    assert [a["key"] for a in anc["ancestors"]] == [b.dl(b.sscc(77))]
    events = json.loads(sv("events", "--type", "AggregationEvent", "--json", db=db).stdout)
    assert len(events) == 1
    doc = json.loads(sv("events", "--epc", b.sgtin("CLI2"), "--full", db=db).stdout)
    assert doc["type"] == "EPCISQueryDocument"
    assert len(doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 2
    status = json.loads(sv("status", "--json", db=db).stdout)
    assert status["units"]["sgtin"] == {"active": 3}
    assert sv("audit", "verify", db=db).exit_code == 0
    fp = json.loads(sv("fingerprint", "--json", db=db).stdout)["fingerprint"]
    rebuilt = json.loads(sv("rebuild", "--json", db=db).stdout)
    assert rebuilt["identical"] is True
    assert rebuilt["fingerprint_after"] == fp


def test_capture_from_stdin(db: Path) -> None:
    sv("capture", "-", db=db, input=b.document(header=b.products(b.GTIN)))
    r = sv("capture", "-", db=db, input=b.document(b.commission([b.sgtin("IN1")])))
    assert r.exit_code == 0
    assert "1 events recorded" in r.stdout


def test_malformed_json_exits_3_and_names_the_place(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_bytes(b'{"type": "EPCISDocument", "epcisBody": {')
    r = sv("capture", str(bad), db=db)
    assert r.exit_code == 3
    assert "broken.json" in r.stderr
    assert "malformed JSON" in r.stderr
    exc = json.loads(sv("exceptions", "--json", db=db).stdout)
    assert exc[-1]["type"] == "interface-rejection"


def test_invalid_vocabulary_exits_4_and_names_event_and_field(db: Path, tmp_path: Path) -> None:
    ev = b.commission([b.sgtin("V1")])
    ev["bizStep"] = "shiping"
    f = tmp_path / "vocab.jsonld"
    f.write_bytes(b.document(ev))
    r = sv("capture", str(f), "--json", db=db)
    assert r.exit_code == 4
    out = json.loads(r.stdout)
    issue = out["rejected"][0]["issues"][0]
    assert issue["event_index"] == 0
    assert issue["field"] == "bizStep"
    assert "shiping" in issue["message"]
    assert "shipping" in issue["message"]  # did you mean


def test_bad_check_digit_exits_4(db: Path, tmp_path: Path) -> None:
    ev = b.commission(["https://id.gs1.org/01/00307420101128/21/X1"])
    f = tmp_path / "cd.jsonld"
    f.write_bytes(b.document(ev))
    r = sv("capture", str(f), db=db)
    assert r.exit_code == 4
    assert "check digit" in r.stderr
    assert "epcList[0]" in r.stderr


def test_rule_violation_exits_5_and_records_nothing_but_the_exception(
    db: Path, tmp_path: Path
) -> None:
    f = tmp_path / "rule.jsonld"
    f.write_bytes(b.document(b.commission([b.sgtin("R1", product=("0999", "99"))])))
    before = json.loads(sv("status", "--json", db=db).stdout)
    r = sv("capture", str(f), db=db)
    assert r.exit_code == 5
    assert "is not in master data" in r.stderr
    after = json.loads(sv("status", "--json", db=db).stdout)
    assert after["fingerprint"] != before["fingerprint"]  # the exception row only
    assert after["counts"]["exceptions"] == before["counts"]["exceptions"] + 1
    assert after["counts"]["units"] == before["counts"]["units"] == 0
    assert after["counts"]["log"] == before["counts"]["log"] + 1


def test_keep_going_continues_after_a_rejection(db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    unknown = b.sgtin("K1", product=("0999", "99"))  # a product never in master data
    (folder / "1.jsonld").write_bytes(b.document(b.commission([unknown])))
    (folder / "2.jsonld").write_bytes(b.document(header=b.products(b.GTIN)))
    stop = json.loads(sv("capture", str(folder), "--json", db=db).stdout)
    assert (len(stop["captured"]), len(stop["rejected"])) == (0, 1)
    go = sv("capture", str(folder), "--json", "--keep-going", db=db)
    assert go.exit_code == 5
    out = json.loads(go.stdout)
    assert (len(out["captured"]), len(out["rejected"])) == (1, 1)


def test_unknown_unit_exits_6(db: Path) -> None:
    r = sv("unit", b.sgtin("NOPE"), db=db)
    assert r.exit_code == 6
    assert "not recorded" in r.stderr


def test_unparsable_identifier_exits_4(db: Path) -> None:
    r = sv("unit", "urn:epc:id:sgtin:12.34", db=db)
    assert r.exit_code == 4


def test_uninitialised_or_unreachable_database_exits_7(tmp_path: Path) -> None:
    r = sv("status", db=tmp_path / "nothing.db")
    assert r.exit_code == 7
    assert "serialvault init" in r.stderr
    r2 = sv("status", "--json", db="postgresql://nobody@127.0.0.1:1/none")
    assert r2.exit_code == 7
    assert "127.0.0.1:1" in json.loads(r2.stdout)["message"]
    r3 = sv("status", db=tmp_path / "no" / "such" / "dir.db")
    assert r3.exit_code == 7
    assert "does not exist" in r3.stderr


def test_audit_verify_exits_8_on_tampering(db: Path, docs: Path) -> None:
    sv("capture", str(docs), db=db)
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE log SET reason = 'forged' WHERE seq = 4")
    r = sv("audit", "verify", "--json", db=db)
    assert r.exit_code == 8
    brk = json.loads(r.stdout)["first_break"]
    assert brk["seq"] == 4
    assert brk["expected"] != brk["found"]


def test_product_add_conflict_update_and_list(tmp_path: Path) -> None:
    db = tmp_path / "products.db"
    assert init(db).exit_code == 0
    sign_in(str(db))
    r = sv(
        "product",
        "add",
        "--ndc",
        "0742-0101-12",
        "--name",
        "Serialvastatin",
        "--form",
        "TABLET",
        db=db,
    )
    assert r.exit_code == 0, r.stderr
    assert "drafted as CR-" in r.stdout
    # a second draft of the same product waits for the first to be decided
    pending = sv("product", "add", "--ndc", "0742-0101-12", "--name", "Else", db=db)
    assert pending.exit_code == 9
    assert "open change" in pending.stdout + pending.stderr
    assert approve_all(str(db))  # a second person (qa) approves the draft
    same = sv(
        "product",
        "add",
        "--ndc",
        "0742-0101-12",
        "--name",
        "Serialvastatin",
        "--form",
        "TABLET",
        db=db,
    )
    assert "unchanged" in same.stdout
    clash = sv("product", "add", "--ndc", "0742-0101-12", "--name", "Other", db=db)
    assert clash.exit_code == 9
    no_reason = sv("product", "add", "--ndc", "0742-0101-12", "--name", "Other", "--update", db=db)
    assert no_reason.exit_code == 4
    upd = sv(
        "product",
        "add",
        "--ndc",
        "0742-0101-12",
        "--name",
        "Other",
        "--update",
        "--reason",
        "renamed",
        "--json",
        db=db,
    )
    drafted = json.loads(upd.stdout)
    assert drafted["version"] == 2
    assert drafted["change_id"].startswith("CR-")
    # a draft is no product version yet: the list still shows version 1
    before = json.loads(sv("product", "list", "--json", db=db).stdout)
    assert [p["name"] for p in before] == ["Serialvastatin"]
    approve_all(str(db))
    listed = json.loads(sv("product", "list", "--json", db=db).stdout)
    assert [(p["gtin"], p["name"], p["ndc"]) for p in listed] == [(b.GTIN, "Other", "0742-0101-12")]
    shown = json.loads(sv("product", "show", b.GTIN, "--json", db=db).stdout)
    assert shown["version"] == 2
    mismatch = sv(
        "product", "add", "--gtin", b.OTHER_GTIN, "--ndc", "0742-0101-12", "--name", "X", db=db
    )
    assert mismatch.exit_code == 4
    assert "embeds NDC" in mismatch.stderr


def test_epcis_validate_hash_convert(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonld"
    data = b.document(b.commission([b.sgtin("H1")]), b.observe([b.sgtin("H1")]))
    good.write_bytes(data)
    assert sv("epcis", "validate", str(good)).exit_code == 0
    bad_ev = b.observe([b.sgtin("H1")])
    del bad_ev["action"]
    bad = tmp_path / "bad.jsonld"
    bad.write_bytes(b.document(bad_ev))
    r = sv("epcis", "validate", str(good), str(bad), "--json")
    assert r.exit_code == 4
    report = json.loads(r.stdout)
    assert [x["valid"] for x in report] == [True, False]
    assert report[1]["issues"][0]["field"] == "action"
    hashes = json.loads(sv("epcis", "hash", str(good), "--json").stdout)
    assert [h["hash"] for h in hashes] == document_hashes(read_document(data, "g"))
    xml = tmp_path / "good.xml"
    assert sv("epcis", "convert", str(good), "--to", "xml", "-o", str(xml)).exit_code == 0
    assert xml.read_bytes().startswith(b"<?xml")
    back = json.loads(sv("epcis", "hash", str(xml), "--json").stdout)
    assert [h["hash"] for h in back] == [h["hash"] for h in hashes]
    jsonld = sv("epcis", "convert", str(xml), "--to", "jsonld")
    assert json.loads(jsonld.stdout)["type"] == "EPCISDocument"
    assert sv("epcis", "convert", str(good), "--to", "csv").exit_code == 4


def test_demo_generate_is_deterministic(tmp_path: Path) -> None:
    a, c, d = tmp_path / "a", tmp_path / "c", tmp_path / "d"
    assert sv("demo", "generate", "--units", "500", "--out", str(a), "--seed", "5").exit_code == 0
    assert sv("demo", "generate", "--units", "500", "--out", str(c), "--seed", "5").exit_code == 0
    assert sv("demo", "generate", "--units", "500", "--out", str(d), "--seed", "6").exit_code == 0
    files_a = sorted(a.iterdir())
    assert [f.read_bytes() for f in files_a] == [f.read_bytes() for f in sorted(c.iterdir())]
    assert [f.read_bytes() for f in files_a] != [f.read_bytes() for f in sorted(d.iterdir())]
    again = sv("demo", "generate", "--units", "500", "--out", str(a))
    assert again.exit_code == 3
    assert "--force" in again.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "generate", "--out", "{f}/keys"],
        ["epcis", "convert", "{doc}", "--to", "xml", "-o", "{f}/x.xml"],
        ["drill", "new", "--scenario", "corruption", "--out", "{f}/p.toml", "--db", "{db}"],
        ["baseline", "--out", "{f}/b.json", "--db", "{db}"],
        ["demo", "generate", "--units", "10", "--out", "{f}/site"],
    ],
    ids=["keys", "convert", "drill-new", "baseline", "demo"],
)
def test_an_output_path_through_a_file_is_a_named_error(
    tmp_path: Path, db: Path, docs: Path, args: list[str]
) -> None:
    """An output folder that is a file: exit 3 naming the path, not an internal error."""
    blocker = tmp_path / "f"
    blocker.write_text("a file, not a folder")
    doc = next(docs.iterdir())
    argv = [a.format(f=blocker, doc=doc, db=db) for a in args]
    r = sv(*argv)
    assert r.exit_code == 3, r.output
    assert str(blocker) in r.output
    assert "internal error" not in r.output
    assert blocker.read_text() == "a file, not a folder"


def test_a_reviewer_key_without_a_terminal_or_passphrase_is_a_named_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERIALVAULT_REVIEWER_PASSPHRASE", raising=False)
    r = sv("evidence", "reviewer-key", "--out", str(tmp_path / "r.pem"))
    assert r.exit_code == 3
    assert "SERIALVAULT_REVIEWER_PASSPHRASE" in r.output
    assert not (tmp_path / "r.pem").exists()
