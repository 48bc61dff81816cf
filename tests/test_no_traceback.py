"""No input makes serialvault raise anything but its own errors.

Property tests over the parsers an attacker or a partner can feed: event timestamps of
every year 0000–9999 with any offset (through validation, the event hash and the facts
capture stores), random and mutated backup manifests, random evidence package files. A
traceback is a defect: the user gets no named error and no exit code.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from serialvault.backup import take
from serialvault.backup.crypto import generate_keys, load_signing_key, load_verify_key
from serialvault.backup.manifest import Manifest
from serialvault.domain.prepare import prepare_bytes
from serialvault.drill import evidence as ev
from serialvault.epcis.hashing import document_hashes
from serialvault.epcis.reader import read_document
from serialvault.epcis.validate import validate_document
from serialvault.errors import BackupError, SerialvaultError

OFFSETS = st.builds(
    lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
    st.sampled_from("+-"),
    st.integers(0, 23),
    st.integers(0, 59),
) | st.just("Z")


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    year = draw(st.integers(0, 9999))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 31))
    hh, mm, ss = draw(st.integers(0, 24)), draw(st.integers(0, 59)), draw(st.integers(0, 60))
    frac = draw(st.sampled_from(["", ".0", ".123", ".999999", ".5000000001"]))
    return f"{year:04d}-{month:02d}-{day:02d}T{hh:02d}:{mm:02d}:{ss:02d}{frac}{draw(OFFSETS)}"


def _document(event_time: str, offset: str, record_time: str | None) -> bytes:
    ev_: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": event_time,
        "eventTimeZoneOffset": offset if offset != "Z" else "+00:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2018"],
        "action": "OBSERVE",
        "bizStep": "inspecting",
    }
    if record_time is not None:
        ev_["recordTime"] = record_time
    return orjson.dumps(
        {
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-01-01T00:00:00Z",
            "epcisBody": {"eventList": [ev_]},
        }
    )


@settings(max_examples=300, deadline=None)
@given(timestamps(), OFFSETS, st.none() | timestamps())
@example("0000-01-01T00:00:00Z", "Z", None)
@example("0000-12-31T23:00:00-05:00", "-05:00", None)
@example("9999-12-31T23:59:59.000-05:00", "-05:00", None)
@example("2026-06-30T12:00:00z", "Z", None)
@example("2026-06-30t12:00:00.5z", "Z", "2026-06-30t12:00:01z")
def test_any_timestamp_is_accepted_or_refused_by_name(
    event_time: str, offset: str, record_time: str | None
) -> None:
    data = _document(event_time, offset, record_time)
    issues = validate_document(read_document(data, "t.jsonld"))
    try:
        prepared = prepare_bytes(data, "t.jsonld")
    except SerialvaultError:
        assert issues, "refused on capture, but `epcis validate` calls it valid"
        return
    # what `epcis validate` accepts, capture prepares (they must never disagree)
    assert (prepared.problem is None) == (not issues), (prepared.message, issues)
    if prepared.problem is not None:  # refused, with a message or named issues
        assert prepared.message or prepared.issues
        return
    assert len(prepared.facts) == 1
    doc = read_document(data, "t.jsonld")
    assert len(document_hashes(doc)) == 1  # never raises, whatever the instant


def _manifest_doc(tmp: Path) -> dict[str, Any]:
    from tests.backup.conftest import copy_of, grow, new_repo, policy_for

    keys = generate_keys(tmp / "keys")
    repo = new_repo(str(tmp / "r.db"))
    grow(repo, 3, products=True)

    res = take.full_backup(repo, policy_for(keys), [copy_of((tmp / "c").as_uri())], actor="t")
    assert res.manifest is not None
    return res.manifest.to_dict()


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # what JSON (orjson) can carry
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def real_manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _manifest_doc(tmp_path_factory.mktemp("manifest"))


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_a_mutated_manifest_parses_or_is_refused_by_name(
    real_manifest: dict[str, Any], data: st.DataObject
) -> None:
    doc = orjson.loads(orjson.dumps(real_manifest))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)[1:]))
        node = doc
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = data.draw(JSON | st.sampled_from(["../../etc/passwd", -1, 2**63]))
    try:
        m = Manifest.from_dict(doc)
    except BackupError:
        return
    for o in m.objects:  # what a restore turns into paths and plans
        assert len(o.name) == 64
        assert all(c in "0123456789abcdef" for c in o.name)
    assert m.first_seq >= 1
    assert m.last_seq >= m.first_seq


@given(JSON)
def test_random_json_is_never_a_manifest_by_accident(doc: Any) -> None:
    with pytest.raises(BackupError):
        Manifest.from_dict(doc)


@pytest.fixture(scope="module")
def a_package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    tmp = tmp_path_factory.mktemp("pkg")
    keys = generate_keys(tmp / "keys")
    folder = tmp / "evidence"
    folder.mkdir()
    (folder / "evidence.json").write_bytes(b"{}")
    (folder / "report.html").write_bytes(b"<p>x</p>")
    sums = ev.checksums_of(folder)
    (folder / ev.CHECKSUMS).write_bytes(sums)
    signed = load_signing_key(keys["signing_key"]).sign(
        {
            "format": ev.SIGNATURE_FORMAT,
            "drill_id": "d",
            "checksums_sha256": hashlib.sha256(sums).hexdigest(),
            "files": 2,
        }
    )
    (folder / ev.SIGNATURE).write_bytes(orjson.dumps(signed))
    return folder, load_verify_key(keys["public_key"])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(
        [ev.SIGNATURE, ev.CHECKSUMS, "evidence.json", "signoff-1-approval.json", "report.html"]
    ),
    st.binary(max_size=200) | JSON.map(orjson.dumps),
    st.booleans(),
)
def test_any_package_file_content_is_a_finding_not_a_crash(
    a_package: tuple[Path, Any], tmp_path: Path, name: str, content: bytes, as_zip: bool
) -> None:
    folder, vk = a_package
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    original = files.get(name)
    files[name] = content
    if as_zip:
        target = tmp_path / f"p{abs(hash(content))}.zip"
        with zipfile.ZipFile(target, "w") as z:
            for n, d in files.items():
                z.writestr(f"evidence/{n}", d)
    else:
        target = tmp_path / f"p{abs(hash(content))}"
        target.mkdir(exist_ok=True)
        for n, d in files.items():
            (target / n).write_bytes(d)
    try:
        check = ev.verify_package(target, vk, [vk])
    except SerialvaultError:
        return
    if content != original:  # any change to a signed package is a finding
        assert not check.ok
    assert all(not s["valid"] for s in check.signoffs)  # nothing here is a real sign-off


@given(st.binary(max_size=300))
def test_random_bytes_are_not_a_package(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.zip"
        p.write_bytes(data)
        keys = generate_keys(Path(d) / "k")
        try:
            check = ev.verify_package(p, load_verify_key(keys["public_key"]))
        except SerialvaultError:
            return
        assert not check.ok
