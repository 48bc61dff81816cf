"""Evidence packages: intact packages verify with the public key alone (folder or zip);
any altered, missing or added file is named; reviewers countersign with their own key
and passphrase, and the sign-off is in the log."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import warnings
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from serialvault.backup.copies import Copy
from serialvault.backup.crypto import load_signing_key, load_verify_key
from serialvault.drill import evidence as ev
from serialvault.drill import plan as p
from serialvault.drill.runner import DrillResult
from serialvault.errors import InputError, KeyProblem
from serialvault.store import schema
from tests.accounts import add_user, password_file, sign_in
from tests.backup.conftest import cli_env, grow, new_repo
from tests.drill.conftest import approved_plan, run_plan, scratch_plan

SV = [sys.executable, "-m", "serialvault.cli.main"]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.ids: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for k, v in attrs:
            if k == "id" and v:
                self.ids[v] = self.ids.get(v, 0) + 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_an_intact_package_verifies_as_folder_and_zip(
    package: tuple[Path, DrillResult], keys: dict[str, str]
) -> None:
    folder, res = package
    vk = load_verify_key(keys["public_key"])
    for target in (folder, folder.with_suffix(".zip")):
        check = ev.verify_package(target, vk)
        assert check.ok, check.findings
        assert check.drill_id == res.drill_id
        # evidence, html, pdf, steps, trend, manifests
        assert check.files == 5 + len(res.manifests)
    doc = orjson.loads((folder / "evidence.json").read_bytes())
    assert doc["format"] == ev.FORMAT
    assert doc["verdict"] == "pass"
    assert {row["status"] for row in doc["regulatory_mapping"]} == {"pass"}
    assert [m["id"] for m in doc["backups"]] == res.restore["plan"]["backups"]
    steps = [orjson.loads(x) for x in (folder / "steps.jsonl").read_bytes().splitlines()]
    assert steps[0]["phase"] == "baseline"
    assert all(s["at"].endswith("Z") for s in steps)
    parser = _Text()
    parser.feed((folder / "report.html").read_text())
    text = " ".join(parser.text)
    assert "Verdict: PASS" in " ".join(text.split())
    assert "Annex 11 §7.2" in text
    assert "21 CFR 11.10(e)" in text
    assert res.drill_id in text
    assert parser.ids.get("criteria") == 1
    assert parser.ids.get("reconciliation") == 1
    # the PDF: verdict and objectives vs measured on page 1, the mapping further on
    from pypdf import PdfReader

    pages = [" ".join(pg.extract_text().split()) for pg in PdfReader(folder / "report.pdf").pages]
    assert "Verdict: PASS" in pages[0]
    assert "Objectives and measured values" in pages[0]
    assert "RTO" in " ".join(pages)
    whole = " ".join(pages)
    assert "Annex 11 §16" in whole
    assert "11.10(c)" in whole
    assert "report.pdf" in (folder / "checksums.sha256").read_text()
    assert parser.ids.get("trend") == 1
    assert (folder / "trend.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_wrong_public_key_is_a_finding(package: tuple[Path, DrillResult], tmp_path: Path) -> None:
    from serialvault.backup.crypto import generate_keys

    other = generate_keys(tmp_path / "other")
    check = ev.verify_package(package[0], load_verify_key(other["public_key"]))
    assert not check.ok
    assert any("signature.json" in f for f in check.findings)


def test_every_altered_missing_or_added_file_is_named(
    package: tuple[Path, DrillResult], keys: dict[str, str]
) -> None:
    folder, _ = package
    vk = load_verify_key(keys["public_key"])
    rnd = random.Random(5)
    for path in sorted(x for x in folder.rglob("*") if x.is_file()):
        original = path.read_bytes()
        data = bytearray(original)
        pos = rnd.randrange(len(data) * 8)
        data[pos // 8] ^= 1 << (pos % 8)
        path.write_bytes(bytes(data))
        check = ev.verify_package(folder, vk)
        rel = path.relative_to(folder).as_posix()
        assert not check.ok, rel
        assert any(rel in f or "signature" in f or "checksums" in f for f in check.findings), (
            rel,
            check.findings,
        )
        path.write_bytes(original)
    assert ev.verify_package(folder, vk).ok
    (folder / "extra.txt").write_text("added later")
    assert "extra.txt is not listed" in " ".join(ev.verify_package(folder, vk).findings)
    (folder / "extra.txt").unlink()
    report = (folder / "report.html").read_bytes()
    (folder / "report.html").unlink()
    assert "report.html is missing" in ev.verify_package(folder, vk).findings
    (folder / "report.html").write_bytes(report)
    # an edited zip member is found too
    zpath = folder.with_suffix(".zip")
    with zipfile.ZipFile(zpath) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(zpath, "w") as z:
        for n, data in members.items():
            z.writestr(n, data.replace(b'"verdict": "pass"', b'"verdict": "fail"'))
    assert any("evidence.json was altered" in f for f in ev.verify_package(zpath, vk).findings)


def test_reviewers_sign_off_with_their_own_key_and_passphrase(
    package: tuple[Path, DrillResult], keys: dict[str, str], tmp_path: Path
) -> None:
    folder, res = package
    pub = ev.generate_reviewer_key(tmp_path / "rev.pem", b"correct horse battery")
    with pytest.raises(KeyProblem, match="wrong passphrase"):
        ev.load_reviewer_key(tmp_path / "rev.pem", b"wrong passphrase!")
    key = ev.load_reviewer_key(tmp_path / "rev.pem", b"correct horse battery")
    _doc, path = ev.sign_off(
        folder,
        key,
        signer="qlead",
        name="Q. A. Lead",
        meaning="approved",
        signed_at="2026-11-25T10:00:00Z",
        signature_seq=42,
    )
    assert path.name == "signoff-1-approved.json"
    vk = load_verify_key(keys["public_key"])
    check = ev.verify_package(folder.with_suffix(".zip"), vk, [pub])
    assert check.ok, check.findings
    assert check.signoffs[0]["signer"] == "qlead"
    assert check.signoffs[0]["name"] == "Q. A. Lead"
    assert check.signoffs[0]["signature_checked"]
    forged = orjson.loads(path.read_bytes())
    forged["name"] = "Somebody Else"
    path.write_bytes(orjson.dumps(forged))
    bad = ev.verify_package(folder, vk, [pub])
    assert any("signoff-1-approved.json" in f for f in bad.findings)
    with pytest.raises(InputError, match="meaning"):
        ev.sign_off(
            folder,
            key,
            signer="x",
            name="X",
            meaning="liked",
            signed_at="2026-11-25T10:00:00Z",
            signature_seq=1,
        )
    assert res.drill_id


def test_cli_run_writes_a_package_that_verifies_and_a_sign_off_in_the_log(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    """A drill run by an admin, signed off by a qa user with a password re-entry and
    their own registered key: the signature names the person; wrong password, another
    person's key, an operator or a service token are refused and record nothing."""
    db = tmp_path / "live.db"
    repo = new_repo(str(db), signed_in=True)
    grow(repo, 10, products=True)
    env = cli_env(keys)
    env["SERIALVAULT_REVIEWER_PASSPHRASE"] = "a long passphrase"
    plan = tmp_path / "pl.toml"
    plan.write_text(
        p.template("primary-loss").replace(
            'target = "drill-sandbox/primary-loss.db"', f'target = "{tmp_path / "sb.db"}"'
        )
    )
    approved_plan(str(db), plan)
    qa_home = tmp_path / "qa-home"
    add_user(repo, "quinn", ["qa"], name="Quinn Q. A. Lead")
    sign_in(repo, "quinn", at=qa_home)
    pw = password_file(tmp_path)

    def sv(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
        e = {**env, "SERIALVAULT_HOME": str(home)} if home else env
        return subprocess.run(
            [*SV, *args], env=e, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )

    run = sv(
        "drill", "run", str(plan), "--db", str(db), "--to", (tmp_path / "c").as_uri(), "--json"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    paths = orjson.loads(run.stdout)["evidence"]
    folder = Path(paths["folder"])
    ok = sv("evidence", "verify", paths["zip"], "--public-key", keys["public_key"], "--json")
    assert ok.returncode == 0, ok.stdout
    assert sv("evidence", "reviewer-key", "--out", str(tmp_path / "r.pem")).returncode == 0
    pub = str(tmp_path / "r.pub")
    sign = ["evidence", "sign-off", str(folder), "--key", str(tmp_path / "r.pem")]
    sign += ["--meaning", "approved", "--db", str(db), "--user", "quinn", "--json"]
    sign += ["--password-file", str(pw)]
    before = repo.head().seq
    # the key is not registered to quinn yet: refused, nothing recorded
    unbound = sv(*sign, home=qa_home)
    assert unbound.returncode == 16, unbound.stdout
    assert "not registered to quinn" in unbound.stdout
    assert repo.head().seq == before
    assert (
        sv(
            "user",
            "key",
            "add",
            "--public-key",
            pub,
            "--password-file",
            str(pw),
            "--db",
            str(db),
            home=qa_home,
        ).returncode
        == 0
    )
    # an operator holds no qa role: refused by name
    op_home = tmp_path / "op-home"
    add_user(repo, "oscar", ["operator"])
    sign_in(repo, "oscar", at=op_home)
    op_try = sv(*sign, home=op_home)
    assert op_try.returncode == 16
    assert "needs the role qa" in op_try.stdout
    # a wrong password: refused (15), the failure recorded, no signature
    wrong_pw = tmp_path / "wrong"
    wrong_pw.write_text("not-the-password-at-all\n")
    bad = sv(*sign[:-1], str(wrong_pw), home=qa_home)
    assert bad.returncode == 15, bad.stdout
    with repo.read() as conn:
        kinds = [r[0] for r in conn.execute(sa.select(schema.log.c.kind).order_by("seq"))]
    assert kinds.count("user.signature") == 1  # the plan's approval; no sign-off
    assert kinds[-1] == "auth.failure"
    # the sign-off file cannot be written (a folder in its place): refused by name, and
    # the signature is not left behind without it
    blocker = folder / "signoff-2-approved.json"
    blocker.mkdir()
    blocked = sv(*sign, home=qa_home)
    assert blocked.returncode == 3, blocked.stdout + blocked.stderr
    assert "cannot write the sign-off" in blocked.stdout
    blocker.rmdir()
    with repo.read() as conn:
        q = sa.select(sa.func.count()).where(schema.log.c.kind == "user.signature")
        assert conn.execute(q).scalar_one() == 1
    signed = sv(*sign, home=qa_home)
    assert signed.returncode == 0, signed.stdout + signed.stderr
    out = orjson.loads(signed.stdout)
    assert (out["signer"], out["name"], out["meaning"]) == ("quinn", "Quinn Q. A. Lead", "approved")
    with repo.read() as conn:
        rows = conn.execute(
            sa.select(schema.log.c.kind, schema.log.c.actor, schema.log.c.body).where(
                schema.log.c.kind.in_(["drill.signoff", "user.signature", "drill.run"])
            )
        ).all()
    by_kind = {k: (a, orjson.loads(body)) for k, a, body in rows}
    assert by_kind["drill.run"][0] == "tester"  # who ran the drill, authenticated
    assert by_kind["drill.signoff"][0] == "quinn"
    sig = by_kind["user.signature"][1]
    assert (sig["signer"], sig["name"], sig["meaning"]) == ("quinn", "Quinn Q. A. Lead", "approved")
    assert sig["sha256"] == by_kind["drill.signoff"][1]["checksums_sha256"]
    shown = sv(
        "evidence", "verify", str(folder), "--public-key", keys["public_key"], "--reviewer-key", pub
    )
    assert shown.returncode == 0, shown.stdout
    assert "approved by Quinn Q. A. Lead (quinn)" in shown.stdout
    drill_id = orjson.loads(run.stdout)["drill_id"]
    listed = orjson.loads(sv("drill", "show", drill_id, "--db", str(db), "--json").stdout)
    (sig,) = listed["signatures"]
    assert (sig["name"], sig["meaning"]) == ("Quinn Q. A. Lead", "approved")
    text = sv("drill", "show", drill_id, "--db", str(db)).stdout
    assert "signed: approved by Quinn Q. A. Lead (quinn)" in text
    (folder / "evidence.json").write_text("{}")
    altered = sv("evidence", "verify", str(folder), "--public-key", keys["public_key"])
    assert altered.returncode == 8
    assert "evidence.json was altered" in altered.stdout
    env["SERIALVAULT_REVIEWER_PASSPHRASE"] = "not the passphrase"
    assert sv(*sign, home=qa_home).returncode == 11


def test_evidence_documents_conform_to_the_published_schema(
    package: tuple[Path, DrillResult], keys: dict[str, str], tmp_path: Path
) -> None:
    folder, _ = package
    assert ev.schema_problems((folder / "evidence.json").read_bytes()) == []
    doc = orjson.loads((folder / "evidence.json").read_bytes())
    bad = dict(doc, verdict="maybe", started_at="yesterday")
    problems = ev.schema_problems(orjson.dumps(bad))
    assert any(x.startswith("verdict:") for x in problems)
    assert any(x.startswith("started_at:") for x in problems)
    assert ev.schema_problems(b"{")
    assert ev.schema_problems(None) == ["missing"]
    # a failed drill (no intact copy: no restore, no RTO) conforms too
    repo = new_repo(str(tmp_path / "f.db"))
    grow(repo, 10, products=True)
    plan, text = scratch_plan("tampered-backup", tmp_path / "fsb.db")
    res = run_plan(
        plan, text, repo, keys, [Copy("onsite", (tmp_path / "one").as_uri())], tmp_path / "fruns"
    )
    assert res.verdict == "fail"
    assert res.rto_s is None
    failed, _ = ev.write_package(res, tmp_path / "fpkg", load_signing_key(keys["signing_key"]))
    assert ev.schema_problems((failed / "evidence.json").read_bytes()) == []
    assert ev.verify_package(failed, load_verify_key(keys["public_key"])).ok


@pytest.mark.parametrize("forgery", ["unsigned", "bogus-signature", "unknown-key", "not-given"])
def test_a_forged_sign_off_is_a_finding_never_an_approval(
    forgery: str, package: tuple[Path, DrillResult], keys: dict[str, str], tmp_path: Path
) -> None:
    folder, _res = package
    vk = load_verify_key(keys["public_key"])
    real = ev.generate_reviewer_key(tmp_path / "qa.pem", b"correct horse battery")
    sums = (folder / ev.CHECKSUMS).read_bytes()
    doc = {
        "format": ev.SIGNOFF_FORMAT,
        "signer": "Dr. Jane QA (forged)",
        "meaning": "approved",
        "signed_at": "2026-11-25T10:00:00Z",
        "checksums_sha256": hashlib.sha256(sums).hexdigest(),
    }
    if forgery == "bogus-signature":
        doc["signature"] = {"alg": "Ed25519", "key_id": real.key_id, "value": "AAAA"}
    elif forgery in ("unknown-key", "not-given"):
        other = ev.generate_reviewer_key(tmp_path / "mallory.pem", b"another passphrase")
        key = ev.load_reviewer_key(tmp_path / "mallory.pem", b"another passphrase")
        doc = key.sign(doc)
        assert other.key_id != real.key_id
    (folder / "signoff-1-approved.json").write_bytes(orjson.dumps(doc))
    # not-given: signed by a real reviewer key, but the verifier named none
    given = [] if forgery == "not-given" else [real]
    for target in (folder, ev.zip_package(folder)):
        check = ev.verify_package(target, vk, given)
        assert not check.ok, f"{forgery} sign-off verified"
        assert any("signoff-1-approved.json" in f for f in check.findings)
        (so,) = check.signoffs
        assert so["valid"] is False
        assert orjson.loads(orjson.dumps(check.to_dict()))["ok"] is False


def test_duplicate_or_stray_zip_entries_are_findings(
    package: tuple[Path, DrillResult], keys: dict[str, str], tmp_path: Path
) -> None:
    folder, _res = package
    vk = load_verify_key(keys["public_key"])
    genuine = folder.with_suffix(".zip")
    with zipfile.ZipFile(genuine) as z:
        members = [(i.filename, z.read(i)) for i in z.infolist()]
    top = members[0][0].split("/", 1)[0]
    for case in ("duplicate", "outside", "dotdot"):
        out = tmp_path / f"{case}.zip"
        with zipfile.ZipFile(out, "w") as z, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
            if case == "duplicate":  # the forged report first: `unzip -p` shows it
                z.writestr(f"{top}/report.html", b"<h1>PASS (forged)</h1>")
            for name, data in members:
                z.writestr(name, data)
            if case == "outside":
                z.writestr("elsewhere/evil.txt", b"x")
            if case == "dotdot":
                z.writestr(f"{top}/../evil.txt", b"x")
        check = ev.verify_package(out, vk)
        assert not check.ok, case
        words = {"duplicate": "more than once", "outside": "top-level", "dotdot": "plain path"}
        assert any(words[case] in f for f in check.findings), (case, check.findings)


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("signature.json", b"[1, 2]", "signature.json is not a JSON object"),
        ("signature.json", b"\xff\xfe", "signature.json is not JSON"),
        ("checksums.sha256", b"\xff\xfe not utf-8", "checksums.sha256 is not UTF-8"),
        ("checksums.sha256", b"nonsense line\n", "checksums.sha256 line 1"),
    ],
)
def test_malformed_package_files_are_named_findings(
    name: str,
    content: bytes,
    needle: str,
    package: tuple[Path, DrillResult],
    keys: dict[str, str],
) -> None:
    folder, _res = package
    (folder / name).write_bytes(content)
    check = ev.verify_package(folder, load_verify_key(keys["public_key"]))
    assert not check.ok
    assert any(needle in f for f in check.findings), check.findings


def _approved(folder: Path, tmp_path: Path) -> tuple[Any, tuple[dict[str, Any], Path]]:
    """A real reviewer's approval of ``folder``: (their public key, (sign-off, its file))."""
    real = ev.generate_reviewer_key(tmp_path / "qa.pem", b"correct horse battery")
    key = ev.load_reviewer_key(tmp_path / "qa.pem", b"correct horse battery")
    signed = ev.sign_off(
        folder,
        key,
        signer="jqa",
        name="Dr. Jane QA",
        meaning="approved",
        signed_at="2026-11-25T10:00:00Z",
        signature_seq=9,
    )
    return real, signed


def test_a_genuine_sign_off_with_a_name_given_twice_is_a_finding(
    package: tuple[Path, DrillResult], keys: dict[str, str], tmp_path: Path
) -> None:
    """A real reviewer's sign-off, with a forged signer inserted before the genuine one:
    a parser that keeps the last name verifies it, one that keeps the first shows the
    forgery. What a signed file says must not depend on who reads it."""
    folder, _res = package
    vk = load_verify_key(keys["public_key"])
    real, (_doc, path) = _approved(folder, tmp_path)
    assert ev.verify_package(folder, vk, [real]).ok
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"{", b'{"signer": "Dr. Forged",', 1))
    for target in (folder, ev.zip_package(folder)):
        check = ev.verify_package(target, vk, [real])
        assert not check.ok
        assert any("duplicate name 'signer'" in f for f in check.findings), check.findings
        assert not any(so.get("valid") for so in check.signoffs)


def test_a_sign_off_copied_under_a_second_name_is_not_a_second_approval(
    package: tuple[Path, DrillResult], keys: dict[str, str], tmp_path: Path
) -> None:
    folder, _res = package
    vk = load_verify_key(keys["public_key"])
    real, (_doc, path) = _approved(folder, tmp_path)
    (folder / "signoff-2-approval.json").write_bytes(path.read_bytes())
    check = ev.verify_package(folder, vk, [real])
    assert not check.ok
    assert any("repeats the signature of signoff-1-approved.json" in f for f in check.findings)
    assert [so["valid"] for so in check.signoffs] == [True, False]


def test_a_sign_off_copy_with_a_respelt_signature_is_still_a_copy(
    package: tuple[Path, DrillResult], keys: dict[str, str], tmp_path: Path
) -> None:
    """Base64's spare bits: a second spelling of the same signature bytes is refused, so a
    copy cannot pass for a second approval."""
    folder, _res = package
    vk = load_verify_key(keys["public_key"])
    real, (doc, _path) = _approved(folder, tmp_path)
    value = doc["signature"]["value"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = value.rstrip("=")[-1]
    respelt = (
        value.rstrip("=")[:-1]
        + alphabet[alphabet.index(last) ^ 1]
        + value[len(value.rstrip("=")) :]
    )
    assert respelt != value
    copy = {**doc, "signature": {**doc["signature"], "value": respelt}}
    (folder / "signoff-2-approval.json").write_bytes(orjson.dumps(copy))
    check = ev.verify_package(folder, vk, [real])
    assert not check.ok
    assert [so["valid"] for so in check.signoffs] == [True, False]


def test_the_published_schema_knows_every_rule_and_scenario() -> None:
    """A package of any plan the product accepts must pass its own published schema."""
    schema_doc = orjson.loads((Path(ev.__file__).with_name("evidence.schema.json")).read_bytes())
    plan_props = schema_doc["properties"]["plan"]["properties"]
    assert set(plan_props["rules"]["items"]["enum"]) == set(p.RULES)
    assert set(plan_props["scenario"]["properties"]["name"]["enum"]) == set(p.SCENARIOS)


def _inspection_pack(
    tmp_path: Path, keys: dict[str, str], nested: Path, reviewer_pub: Path | None
) -> Path:
    """An inspection pack holding one drill package (and a vouched reviewer key)."""
    from serialvault.inspection.pack import write_pack, zip_to

    doc = {
        "format": "serialvault.inspection/1",
        "pack_id": "INSP-20261207-0123abcd",
        "period": {"from": "2026-12-01T00:00:00Z", "to": "2026-12-08T00:00:00Z"},
        "repository": {
            "id": "r",
            "url": "x.db",
            "head_seq": 1,
            "chain_hash": "0" * 64,
            "chain_verified": True,
        },
        "made_by": {"user": "q", "name": "Q", "at": "2026-12-07T10:00:00Z"},
        "summary": {"drills": 1},
        "findings": [],
        "sections": [],
        "reviewer_keys": [],
    }
    copies = {"drills/D1.zip": nested}
    if reviewer_pub is not None:
        copies["reviewer-keys/jqa-1.pub"] = reviewer_pub
    folder = tmp_path / "pack" / "INSP-20261207-0123abcd"
    folder.parent.mkdir(parents=True)
    write_pack(folder, doc, {}, copies, load_signing_key(keys["signing_key"]))
    return zip_to(folder, tmp_path / "inspection.zip")


def test_an_inspection_pack_checks_the_drill_packages_inside_it(
    package: tuple[Path, DrillResult], keys: dict[str, str], tmp_path: Path
) -> None:
    folder, _res = package
    _approved(folder, tmp_path)  # a sign-off with the reviewer's own key
    nested = folder.with_suffix(".zip")
    vk = load_verify_key(keys["public_key"])
    # the pack carries the reviewer's public key: the sign-off inside verifies offline
    good = ev.verify_package(
        _inspection_pack(tmp_path / "a", keys, nested, tmp_path / "qa.pub"), vk
    )
    assert good.ok, good.findings
    assert good.pack_id == "INSP-20261207-0123abcd"
    assert [(s["signer"], s["valid"], s["package"]) for s in good.signoffs] == [
        ("jqa", True, "drills/D1.zip")
    ]
    # without it, the nested sign-off is a finding, never shown as an approval
    bare = ev.verify_package(_inspection_pack(tmp_path / "b", keys, nested, None), vk)
    assert any(f.startswith("drills/D1.zip: signoff-") for f in bare.findings), bare.findings
    # a drill package altered before it was put in the pack is named through the pack
    with zipfile.ZipFile(nested) as z:
        entries = [(i.filename, z.read(i)) for i in z.infolist()]
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as z:
        for name, data in entries:
            z.writestr(
                name, data.replace(b'"pass"', b'"fail"') if name.endswith("evidence.json") else data
            )
    bad = ev.verify_package(_inspection_pack(tmp_path / "c", keys, broken, tmp_path / "qa.pub"), vk)
    assert any(f.startswith("drills/D1.zip: evidence.json was altered") for f in bad.findings), (
        bad.findings
    )
