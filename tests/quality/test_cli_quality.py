"""The quality loop on the command line, as people run it: each person in their own
session home; every refusal exits non-zero with a message naming what was wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from tests import builders as b
from tests.accounts import password_file
from tests.quality.conftest import Site

SV = [sys.executable, "-m", "serialvault.cli.main"]


def _sv(site: Site, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SERIALVAULT_HOME": str(site.homes[user]), "SERIALVAULT_DB": site.url}
    return subprocess.run([*SV, *args], env=env, capture_output=True, text=True, timeout=120)


def test_a_partner_document_refused_and_worked_to_closure(site: Site, tmp_path: Path) -> None:
    doc = tmp_path / "partner.jsonld"
    doc.write_bytes(b.document(b.observe([b.sgtin("GHOST")])))
    refused = _sv(site, "olga", "capture", str(doc), "--from", "partner:0614141000005")
    assert refused.returncode == 5, refused.stderr
    listed = orjson.loads(_sv(site, "olga", "exception", "list", "--json").stdout)
    eid = listed[-1]["id"]
    assert listed[-1]["type"] == "rule-violation"
    shown = orjson.loads(_sv(site, "olga", "exception", "show", eid, "--json").stdout)
    assert shown["origin"] == {"kind": "partner", "id": "0614141000005", "document": str(doc)}
    back = tmp_path / "back.jsonld"
    assert _sv(site, "olga", "exception", "document", eid, "--out", str(back)).returncode == 0
    assert back.read_bytes() == doc.read_bytes()

    pw = str(password_file(tmp_path))
    early = _sv(site, "quinn", "exception", "close", eid, "--password-file", pw, "--user", "quinn")
    assert early.returncode == 9
    assert "only a resolved exception can be closed" in early.stderr
    assert "Traceback" not in early.stderr
    ok = _sv(site, "olga", "exception", "resolve", eid, "--resolution", "partner re-sent")
    assert ok.returncode == 0, ok.stderr
    major = _sv(site, "quinn", "exception", "close", eid, "--password-file", pw, "--user", "quinn")
    assert major.returncode == 9
    assert "it is major: closing needs a linked CAPA" in major.stderr
    not_qa = _sv(site, "olga", "exception", "close", eid, "--password-file", pw)
    assert not_qa.returncode == 16
    assert "close or reopen exceptions" in not_qa.stderr
    made = _sv(
        site,
        "quinn",
        "capa",
        "new",
        "--title",
        "partner data",
        "--problem",
        "partner ships units it never commissioned",
        "--exception",
        eid,
        "--json",
    )
    assert made.returncode == 0, made.stderr
    closed = _sv(site, "quinn", "exception", "close", eid, "--password-file", pw, "--user", "quinn")
    assert closed.returncode == 0, closed.stderr
    assert f"{eid} closed; signed by" in closed.stdout
    final = orjson.loads(_sv(site, "adam", "exception", "show", eid, "--json").stdout)
    assert final["status"] == "closed"
    assert final["capas"] == [orjson.loads(made.stdout)["capa"]]


def test_rework_refused_by_a_rule_exits_5_and_changes_nothing(site: Site) -> None:
    units = [b.sgtin(f"C{i}") for i in range(2)]
    case1, case2 = b.sscc(801), b.sscc(802)
    site.capture(
        b.commission(units),
        b.commission_containers([case1, case2]),
        b.pack(case1, units[:1]),
        b.pack(case2, units[1:]),
    )
    head = site.head()
    r = _sv(site, "olga", "rework", "repack", "--into", case1, "--child", units[1])
    assert r.returncode == 5
    assert "rejected by business rules" in r.stderr
    assert site.head() == head + 1  # its exception record only
    unit = orjson.loads(_sv(site, "olga", "unit", units[1], "--json").stdout)
    assert unit["state"]["parent"] == b.dl(case2)
