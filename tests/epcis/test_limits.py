"""Documents and single values have limits; a refusal says how big, the limit and the setting.

A limit that refused nothing, or that let a refused document write events, would be a
promise not kept: each test checks both the named refusal and that the repository holds
exactly what it held before (plus the exception record that names the rejection).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from serialvault.cli.main import app
from serialvault.epcis.limits import KB, Limits, oversized
from serialvault.epcis.reader import read_document
from serialvault.epcis.validate import validate_document
from tests import builders as b
from tests.accounts import make_repo

runner = CliRunner()


def sv(*args: str, input: bytes | None = None) -> Any:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def _counts(db: Path) -> tuple[int, int, int]:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        units = conn.exec_driver_sql("SELECT count(*) FROM units").scalar_one()
        events = conn.exec_driver_sql("SELECT count(*) FROM log WHERE kind = 'event'").scalar_one()
        exceptions = conn.exec_driver_sql("SELECT count(*) FROM exceptions").scalar_one()
    engine.dispose()
    return units, events, exceptions


NOTE = "ilmd.ex:note"


def _long_lot_document(note_bytes: int) -> bytes:
    """Three units; the second event's ILMD carries a user extension of ``note_bytes``."""
    ev = b.commission([b.sgtin("LIM1"), b.sgtin("LIM2")])
    ev["ilmd"] = {"ex:note": "L" * note_bytes}
    doc = json.loads(b.document(b.commission([b.sgtin("LIM0")]), ev, header=b.products(b.GTIN)))
    doc["@context"].append({"ex": "https://example.com/ns/"})
    return json.dumps(doc).encode()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "lim.db"
    b.register(make_repo(str(path)), b.GTIN)
    return path


def test_a_value_over_the_field_limit_is_named_by_event_and_field() -> None:
    doc = read_document(_long_lot_document(70 * KB), "big-lot.jsonld")
    issues = validate_document(doc)
    assert [i.code for i in issues] == ["field-too-large"]
    (issue,) = issues
    assert issue.event_index == 1
    assert issue.field == NOTE
    assert "71,680 bytes" in issue.message
    assert "SERIALVAULT_MAX_FIELD_KB" in issue.message
    assert "LLLL" not in issue.message  # the value itself is never quoted
    assert validate_document(doc, limits=Limits(field_bytes=80 * KB)) == []


def test_an_oversized_name_is_found_too() -> None:
    doc = read_document(_long_lot_document(10), "big-name.jsonld")
    doc.events[0]["ex:" + "k" * 300] = "v"
    issues = validate_document(doc, limits=Limits(field_bytes=256))
    assert [(i.code, i.event_index) for i in issues] == [("field-too-large", 0)]
    assert "(a name)" in (issues[0].field or "")


@given(
    st.recursive(
        st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
        max_leaves=20,
    ),
    st.integers(1, 10),
)
def test_oversized_finds_exactly_the_long_strings(value: Any, limit: int) -> None:
    def strings(v: Any) -> list[str]:
        if isinstance(v, str):
            return [v]
        if isinstance(v, dict):
            return [s for k, x in v.items() for s in [k, *strings(x)]]
        if isinstance(v, list):
            return [s for x in v for s in strings(x)]
        return []

    expected = sorted(len(s.encode("utf-8", "surrogatepass")) for s in strings(value))
    found = sorted(n for _path, n in oversized(value, "", limit))
    assert found == [n for n in expected if n > limit]


def test_capture_refuses_a_document_over_the_limit_and_writes_no_event(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "big.jsonld"
    doc.write_bytes(_long_lot_document(4000))
    monkeypatch.setenv("SERIALVAULT_MAX_DOCUMENT_MB", str(2000 / (1 << 20)))
    before = _counts(db)
    r = sv("capture", str(doc), "--db", str(db), "--json")
    assert r.exit_code == 3, r.output
    rejected = json.loads(r.stdout)["rejected"][0]
    assert "more than the limit of 2,000 bytes" in rejected["message"]
    assert "SERIALVAULT_MAX_DOCUMENT_MB" in rejected["message"]
    assert _counts(db) == (before[0], before[1], before[2] + 1)  # the rejection, only
    monkeypatch.delenv("SERIALVAULT_MAX_DOCUMENT_MB")
    assert sv("capture", str(doc), "--db", str(db)).exit_code == 0
    assert _counts(db)[0] == before[0] + 3


def test_stdin_over_the_limit_is_refused_with_its_true_size(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _long_lot_document(4000)
    monkeypatch.setenv("SERIALVAULT_MAX_DOCUMENT_MB", str(1000 / (1 << 20)))
    before = _counts(db)
    r = sv("capture", "-", "--db", str(db), input=data)
    assert r.exit_code == 3
    assert f"is {len(data):,} bytes, more than the limit of 1,000 bytes" in r.output
    assert _counts(db) == (before[0], before[1], before[2] + 1)


def test_capture_refuses_a_field_over_the_limit_naming_event_and_field(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "lot.jsonld"
    doc.write_bytes(_long_lot_document(3000))
    monkeypatch.setenv("SERIALVAULT_MAX_FIELD_KB", "2")
    before = _counts(db)
    r = sv("capture", str(doc), "--db", str(db), "--json")
    assert r.exit_code != 0
    issues = json.loads(r.stdout)["rejected"][0]["issues"]
    assert [(i["code"], i["event_index"], i["field"]) for i in issues] == [
        ("field-too-large", 1, NOTE)
    ]
    assert _counts(db)[:2] == before[:2]


def test_epcis_validate_applies_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "lot.jsonld"
    doc.write_bytes(_long_lot_document(3000))
    assert sv("epcis", "validate", str(doc)).exit_code == 0
    monkeypatch.setenv("SERIALVAULT_MAX_FIELD_KB", "1")
    r = sv("epcis", "validate", str(doc))
    assert r.exit_code != 0
    assert f"{NOTE} is 3,000 bytes" in r.output
    monkeypatch.setenv("SERIALVAULT_MAX_DOCUMENT_MB", "0.001")
    r = sv("epcis", "validate", str(doc))
    assert r.exit_code == 3
    assert "SERIALVAULT_MAX_DOCUMENT_MB" in r.output


@pytest.mark.parametrize("value", ["many", "0", "-3", "nan", "1e300"])
def test_a_bad_limit_setting_is_a_usage_error_naming_it(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    doc = tmp_path / "ok.jsonld"
    doc.write_bytes(_long_lot_document(10))
    monkeypatch.setenv("SERIALVAULT_MAX_FIELD_KB", value)
    r = sv("capture", str(doc), "--db", str(db))
    assert r.exit_code == 2
    assert f"SERIALVAULT_MAX_FIELD_KB={value!r}" in r.output
    assert _counts(db) == (0, 0, 0)


def test_a_refused_oversized_value_is_named_not_repeated(db: Path, tmp_path: Path) -> None:
    """A 100 KB eventID is refused for its size; the message and the permanent exception
    record name it (its start and its length), they do not carry it whole."""
    ev = b.commission([b.sgtin("BIGID")])
    ev["eventID"] = "urn:uuid:" + "a" * 100_000
    doc = tmp_path / "big-id.jsonld"
    doc.write_bytes(b.document(ev, header=b.products(b.GTIN)))
    r = sv("capture", str(doc), "--db", str(db))
    assert r.exit_code == 4
    assert len(r.output) < 2_000, len(r.output)
    assert "100,009 characters" in r.output
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        longest = conn.exec_driver_sql("SELECT max(length(body)) FROM log").scalar_one()
    engine.dispose()
    assert longest < 5_000, longest


def test_long_member_names_are_named_not_repeated(db: Path, tmp_path: Path) -> None:
    """Forty 60 KB member names under a prefix the document never declares: each refusal
    names its field by its start and its length, not whole."""
    ev = b.commission([b.sgtin("BIGNAME")])
    for i in range(40):
        ev[f"undeclared:{i}" + "n" * 60_000] = "v"
    doc = json.loads(b.document(ev, header=b.products(b.GTIN)))
    path = tmp_path / "names.jsonld"
    path.write_bytes(json.dumps(doc).encode())
    r = sv("capture", str(path), "--db", str(db))
    assert r.exit_code in (3, 4)
    assert len(r.output) < 20_000, len(r.output)
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        longest = conn.exec_driver_sql("SELECT max(length(body)) FROM log").scalar_one()
    engine.dispose()
    assert longest < 50_000, longest
