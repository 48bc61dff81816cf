"""``serialvault serials …`` as a line lead meets it, on both engines: each command's
output and ``--json``, and every refusal with a clear message, its exit code, and the
repository unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from serialvault.cli.main import app
from serialvault.store.repository import Repository
from tests import builders as b
from tests.accounts import approve_all, make_repo

runner = CliRunner()


@pytest.fixture
def db(db_url: str) -> str:
    repo = make_repo(db_url)
    b.register(repo, b.GTIN)
    return db_url


def sv(db: str, *args: str) -> Any:
    return runner.invoke(app, [*args, "--db", db], catch_exceptions=False)


def refused(r: Any, code: int, *words: str) -> None:
    text = r.stdout + (r.stderr if r.stderr_bytes else "")
    assert r.exit_code == code, text
    for w in words:
        assert w in text, (w, text)


def test_the_serials_workflow(db: str, tmp_path: Path) -> None:
    made = sv(db, "serials", "pool", "create", b.GTIN, "--expected", "1000", "--low-stock", "600")
    assert made.exit_code == 0, made.stdout
    assert "1 in " in made.stdout
    out = tmp_path / "line1.csv"
    r = sv(db, "serials", "allocate", b.GTIN, "--count", "500", "--to", "line-1", "--out", str(out))
    assert r.exit_code == 0, r.stdout
    assert "500 serials" in r.stdout
    assert "is low: 500 of 1,000" in r.stdout + r.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 501
    aid = r.stdout.split(":", 1)[0]
    done = sv(db, "serials", "allocate", b.GTIN, "--count", "3", "--to", "order 7", "--json")
    doc = json.loads(done.stdout)
    assert len(doc["serials"]) == 3
    assert doc["remaining"] == 497
    back = tmp_path / "back.txt"
    back.write_text("\n".join(line.split(",")[0] for line in lines[1:11]) + "\n")
    ret = sv(db, "serials", "return", aid, "--file", str(back), "--reason", "labels torn")
    assert ret.exit_code == 0, ret.stdout
    assert "never handed out again" in ret.stdout
    st = json.loads(sv(db, "serials", "status", b.GTIN, "--json").stdout)
    assert (st["allocated"], st["returned"], st["issued"]) == (493, 10, 503)
    assert st["allocations"][0]["id"] == aid
    text = sv(db, "serials", "status", b.GTIN)
    assert "returned" in text.stdout
    assert aid in text.stdout
    listed = sv(db, "serials", "pool", "list")
    assert b.GTIN in listed.stdout
    again = tmp_path / "again.json"
    exported = sv(db, "serials", "export", aid, "--out", str(again))
    assert exported.exit_code == 0, exported.stdout
    assert len(json.loads(again.read_text())["epcList"]) == 490  # the unused ones
    assert sv(db, "serials", "policy", "show").exit_code == 0
    pol = sv(db, "serials", "policy", "set", "--unallocated", "reject", "--reason", "FMD")
    assert pol.exit_code == 0, pol.stdout
    assert "change approve" in pol.stdout
    approve_all(db)
    assert json.loads(sv(db, "serials", "policy", "show", "--json").stdout)["policy"] == {
        "unallocated": "reject"
    }


def test_refusals_name_the_problem_exit_non_zero_and_change_nothing(
    db: str, tmp_path: Path
) -> None:
    repo = Repository.open(db)
    head = repo.head().seq
    cases = [
        (
            ["serials", "pool", "create", b.GTIN, "--expected", "100000", "--length", "4"],
            5,
            ["32^4 = 1,048,576", "1 in 10,000", "at least 6 characters", "nothing was recorded"],
        ),
        (
            ["serials", "pool", "create", b.GTIN, "--expected", "10", "--alphabet", "AB%"],
            2,
            ["'%' is not allowed"],
        ),
        (
            ["serials", "pool", "create", b.GTIN, "--expected", "10", "--length", "21"],
            2,
            ["1 to 20 characters"],
        ),
        (["serials", "allocate", b.GTIN, "--count", "1", "--to", "l"], 6, ["has no serial"]),
        (["serials", "status", b.GTIN], 6, ["has no serial number pool"]),
        (["serials", "pool", "create", "123", "--expected", "10"], 4, ["123"]),
    ]
    for args, code, words in cases:
        refused(sv(db, *args), code, *words)
    assert repo.head().seq == head
    assert (
        sv(db, "serials", "pool", "create", b.GTIN, "--expected", "5", "--length", "6").exit_code
        == 0
    )
    head = repo.head().seq
    first = json.loads(
        sv(db, "serials", "allocate", b.GTIN, "--count", "5", "--to", "l1", "--json").stdout
    )
    head = repo.head().seq
    cases = [
        (
            ["serials", "allocate", b.GTIN, "--count", "1", "--to", "l1"],
            5,
            ["cannot hand out 1 serials: 0 of its expected volume of 5 remain", "--update"],
        ),
        (
            ["serials", "allocate", b.GTIN, "--count", "1", "--to", "l1", "--out", "x.pdf"],
            2,
            ["the extension names the format"],
        ),
        (
            ["serials", "pool", "create", b.GTIN, "--expected", "50", "--length", "6"],
            9,
            ["already has a serial number pool"],
        ),
        (
            ["serials", "return", first["id"], "--serial", "NOPE", "--reason", "x"],
            6,
            ["not of " + first["id"]],
        ),
        (
            ["serials", "return", first["id"], "--all-unused", "--serial", "X", "--reason", "x"],
            2,
            ["not both"],
        ),
        (["serials", "policy", "set", "--unallocated", "warn"], 2, ["one of reject, flag"]),
    ]
    for args, code, words in cases:
        refused(sv(db, *args), code, *words)
    assert repo.head().seq == head
    with_json = sv(db, "serials", "allocate", b.GTIN, "--count", "1", "--to", "l1", "--json")
    assert with_json.exit_code == 5
    assert json.loads(with_json.stdout)["error"] == "rule"
