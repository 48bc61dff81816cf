"""The inspection pack: written by qa or admin, signed like drill evidence, checked
offline with the public key alone — and an altered or re-signed pack is named."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from serialvault.app import capa, inspection
from serialvault.app import exceptions as ex
from serialvault.app.backup import BackupOptions, full
from serialvault.backup.crypto import generate_keys, load_verify_key
from serialvault.drill.evidence import verify_package
from serialvault.errors import ConflictError, NotPermitted, SerialvaultError
from serialvault.timefmt import now_utc
from tests import builders as b
from tests.accounts import PASSWORD
from tests.quality.conftest import Site


@pytest.fixture
def keyed(site: Site, tmp_path: Path) -> tuple[Site, BackupOptions, Path]:
    keys = generate_keys(tmp_path / "keys")
    options = BackupOptions(
        copies=[(tmp_path / "copy").as_uri()],
        key=keys["encryption_key"],
        signing_key=keys["signing_key"],
    )
    site.capture(b.commission([b.sgtin("P1")]))
    full(site.as_("adam"), None, options)
    from serialvault.store.capture import Capturer

    with pytest.raises(SerialvaultError):
        Capturer(site.repo, actor="olga").capture_bytes(
            b.document(b.observe([b.sgtin("GONE")])), "partner.jsonld"
        )
    eid = ex.list_exceptions(site.as_("olga"), None)[-1]["id"]
    ex.resolve(site.as_("olga"), None, eid, "partner re-sent")
    capa.new(site.as_("quinn"), None, title="partner data", problem="p", exceptions=[eid])
    ex.close(site.as_("quinn"), None, eid, password=PASSWORD, user_entered="quinn")
    return site, options, Path(keys["public_key"])


def _pack(site: Site, options: BackupOptions, out: Path, user: str = "quinn") -> object:
    today = now_utc()[:10]
    return inspection.pack(
        site.as_(user),
        None,
        start=today,
        end=today,
        out=out,
        options=options,
        drills_dir=out.parent / "no-drills",
    )


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename.split("/", 1)[1]: z.read(i) for i in z.infolist()}


def test_a_pack_holds_the_period_and_verifies_offline(
    keyed: tuple[Site, BackupOptions, Path], tmp_path: Path
) -> None:
    site, options, public = keyed
    out = tmp_path / "inspection.zip"
    head = site.head()
    done = _pack(site, options, out)
    assert site.head() == head + 1  # the inspection.pack record
    check = verify_package(out, load_verify_key(public))
    assert check.ok, check.findings
    assert check.pack_id == done.pack_id  # type: ignore[attr-defined]
    files = _entries(out)
    index = json.loads(files["inspection.json"])
    assert index["repository"]["chain_verified"] is True
    assert [s["name"] for s in index["sections"]] == [
        "drills",
        "reviews",
        "exceptions",
        "capa",
        "changes",
        "backups",
    ]
    exc = json.loads(files["exceptions.json"])["exceptions"]
    assert [(e["status"], e["signatures"][0]["verified"]) for e in exc] == [("closed", True)]
    assert json.loads(files["capa.json"])["capa"][0]["exceptions"] == [exc[0]["id"]]
    backups = json.loads(files["backups.json"])["backups"]
    assert backups[0]["findings"] == 0
    assert backups[0]["backups"] >= 1
    # what is missing is said first, not left out
    assert "no audit-trail review covers any part of the period" in index["findings"]
    html = files["index.html"].decode()
    assert html.index("Findings") < html.index("Drill register")
    assert files["index.pdf"].startswith(b"%PDF")


def test_an_altered_or_resigned_pack_is_named(
    keyed: tuple[Site, BackupOptions, Path], tmp_path: Path
) -> None:
    site, options, public = keyed
    out = tmp_path / "inspection.zip"
    _pack(site, options, out)
    vk = load_verify_key(public)
    with zipfile.ZipFile(out) as z:
        infos = [(i.filename, z.read(i)) for i in z.infolist()]
    altered = tmp_path / "altered.zip"
    with zipfile.ZipFile(altered, "w") as z:
        for name, data in infos:
            if name.endswith("/exceptions.json"):
                data = data.replace(b'"closed"', b'"open"')
            z.writestr(name, data)
    found = verify_package(altered, vk).findings
    assert any("exceptions.json was altered" in f for f in found)
    # a pack signed with another key does not verify with this repository's public key
    other = generate_keys(tmp_path / "other")
    forged = BackupOptions(copies=options.copies, key=options.key, signing_key=other["signing_key"])
    out2 = tmp_path / "forged.zip"
    done = _pack(site, forged, out2)
    # the copies were signed with the repository's key: to the forger's key they are
    # foreign, which the pack itself reports
    assert any("backup copy" in f for f in done.findings)  # type: ignore[attr-defined]
    found = verify_package(out2, vk).findings
    assert any(f.startswith("signature.json:") for f in found), found


def test_who_may_write_a_pack_and_what_is_refused(
    keyed: tuple[Site, BackupOptions, Path], tmp_path: Path
) -> None:
    site, options, _public = keyed
    head = site.head()
    with pytest.raises(NotPermitted):
        _pack(site, options, tmp_path / "x.zip", user="olga")
    (tmp_path / "taken.zip").write_bytes(b"mine")
    with pytest.raises(ConflictError, match="never overwritten"):
        _pack(site, options, tmp_path / "taken.zip")
    assert (tmp_path / "taken.zip").read_bytes() == b"mine"
    no_key = BackupOptions(copies=options.copies)
    with pytest.raises(SerialvaultError):
        _pack(site, no_key, tmp_path / "nokey.zip")
    assert not (tmp_path / "nokey.zip").exists()
    assert site.head() == head
    assert list(tmp_path.glob("sv-inspection-*")) == []


def test_the_index_page_in_chromium_puts_findings_first_and_links_every_file(
    keyed: tuple[Site, BackupOptions, Path], tmp_path: Path
) -> None:
    import subprocess

    from tests.drill.test_report_browser import CHROMIUM_FLAGS, _chromium

    chromium = _chromium()
    site, options, _public = keyed
    out = tmp_path / "inspection.zip"
    _pack(site, options, out)
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(out) as z:
        z.extractall(unpacked)
    (folder,) = list(unpacked.iterdir())
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, "--dump-dom", (folder / "index.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert html.index('id="findings"') < html.index('id="drills"') < html.index('id="backups"')
    import re

    links = set(re.findall(r'href="([^"#][^"]*)"', html))
    assert {"exceptions.json", "capa.json", "audit.json", "inspection.json"} <= links
    assert all((folder / link).is_file() for link in links), links
