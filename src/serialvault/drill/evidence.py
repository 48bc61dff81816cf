"""Evidence packages: what a QA reviewer and an inspector check a drill with.

A package is a folder (and the same as a zip) holding:

* ``evidence.json`` — the drill result (``serialvault.evidence/1``, documented by the
  JSON Schema ``serialvault/drill/evidence.schema.json``: plan and its
  SHA-256, objectives and measured RTO/RPO, every criterion, phases, reconciliation,
  baseline, backups used, environment, who ran it and when, UTC) and the table that maps
  each check to EU GMP Annex 11 §7.1, §7.2, §16, §17 and 21 CFR 11.10(a), (c), (e);
* ``report.html`` and ``report.pdf`` — the same for people, verdict and objectives vs
  measured on page 1;
* ``steps.jsonl`` — the step log, one time-stamped line per step (ALCOA+ contemporaneous);
* ``manifests/<id>.json`` — the signed manifests of the backups restored;
* ``checksums.sha256`` — SHA-256 of every file above (``sha256sum -c`` format);
* ``signature.json`` — an Ed25519 signature over the checksums file's hash;
* ``signoff-*.json`` — reviewers' countersignatures, added later (``evidence sign-off``).

``verify_package`` needs only the package and a public key: any altered, missing or
added byte is a finding (21 CFR 11.10(a): the ability to discern altered records).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson

from serialvault.backup.crypto import SigningKey, VerifyKey, verify_key_from_pem
from serialvault.domain import reconcile as rules
from serialvault.domain.access import MEANINGS as ACCESS_MEANINGS
from serialvault.drill.runner import DrillResult
from serialvault.epcis.jsonparse import DuplicateKey, unique
from serialvault.errors import InputError, IntegrityFailure, SerialvaultError
from serialvault.render import render_html, write_pdf

FORMAT = "serialvault.evidence/1"
SIGNATURE_FORMAT = "serialvault.evidence-signature/1"
#: The signature format of an inspection pack (``serialvault.inspection``): the same
#: layout, a manifest of its own (``inspection.json``), drill packages nested in it.
INSPECTION_SIGNATURE_FORMAT = "serialvault.inspection-signature/1"
CHECKSUMS = "checksums.sha256"
SIGNATURE = "signature.json"


def _status(result: DrillResult, *names: str) -> str:
    found = [c.status for c in result.criteria if c.name in names or c.name.split()[-1] in names]
    if not found:
        return rules.INCONCLUSIVE
    if rules.FAIL in found:
        return rules.FAIL
    return rules.INCONCLUSIVE if rules.INCONCLUSIVE in found else rules.PASS


def regulatory_mapping(result: DrillResult) -> list[dict[str, str]]:
    """Each requirement, what this drill checked for it, and how that came out."""
    restored = rules.PASS if result.restore else rules.FAIL
    return [
        {
            "requirement": "EU GMP Annex 11 §7.1 — data secured against damage; accessible,"
            " readable and accurate throughout retention",
            "check": "backup copies read, every object's SHA-256 and signature verified, data"
            " restored and reconciled (R1, R2, R4)",
            "status": _worst(restored, _status(result, "R1", "R2", "R4")),
        },
        {
            "requirement": "EU GMP Annex 11 §7.2 — integrity and accuracy of backup data and"
            " the ability to restore checked and monitored periodically",
            "check": f"restore into a sandbox and reconciliation against the baseline; plan"
            f" frequency {result.plan.frequency_s / 86400:g} days (drill due)",
            "status": _worst(restored, _status(result, "R1", "R6")),
        },
        {
            "requirement": "EU GMP Annex 11 §16 — business continuity: time to bring the"
            " system back",
            "check": "RTO measured from the fault to restored and verified data",
            "status": _status(result, "RTO"),
        },
        {
            "requirement": "EU GMP Annex 11 §17 — archived data checked for accessibility,"
            " readability and integrity",
            "check": "hash chain of the restored log from genesis (R5), state fingerprint (R6)",
            "status": _status(result, "R5", "R6"),
        },
        {
            "requirement": "21 CFR 11.10(a) — validation; the ability to discern invalid or"
            " altered records",
            "check": "every criterion of this drill"
            + (", tampering detection" if result.plan.scenario.name == "tampered-backup" else "")
            + (", corruption detection" if result.plan.scenario.name == "corruption" else ""),
            "status": result.verdict,
        },
        {
            "requirement": "21 CFR 11.10(c) — protection of records for accurate and ready"
            " retrieval throughout retention",
            "check": "records restored from the backup copies, RPO measured",
            "status": _worst(restored, _status(result, "RPO (time)", "zero loss")),
        },
        {
            "requirement": "21 CFR 11.10(e) — secure, computer-generated, time-stamped audit trail",
            "check": "restored audit trail verified (R5); this drill recorded in the log"
            f" (seq {result.run_seq})",
            "status": _status(result, "R5"),
        },
    ]


def _worst(*statuses: str) -> str:
    if rules.FAIL in statuses:
        return rules.FAIL
    return rules.INCONCLUSIVE if rules.INCONCLUSIVE in statuses else rules.PASS


def evidence_document(result: DrillResult) -> dict[str, Any]:
    doc = result.to_dict()
    return {
        "format": FORMAT,
        **{k: v for k, v in doc.items() if k != "format"},
        "result_format": doc["format"],
        "regulatory_mapping": regulatory_mapping(result),
        "backups": [
            {"id": m["id"], "type": m["type"], "seq": m["seq"], "objects": m["objects"]}
            for m in result.manifests
        ],
    }


def _render_html(doc: dict[str, Any]) -> str:
    m = doc["measured"]
    rto = "-" if m["rto_s"] is None else f"{m['rto_s']:.2f} s"
    rpo = "-" if m["rpo_records"] is None else f"{m['rpo_records']} record(s), {m['rpo_s']:.2f} s"
    plan = {**doc["plan"], "reviewer_role": doc["plan"]["reviewer_role"]}
    r = {**doc, "plan": plan}
    return render_html(
        "serialvault.drill",
        "report.html.j2",
        r=r,
        rto=rto,
        rpo=rpo,
        mapping=doc["regulatory_mapping"],
        manifests=doc["backups"],
        trend=doc.get("trend"),
    )


def _write_pdf(html: str, out: Path, base: Path) -> None:
    """The same report as a PDF (WeasyPrint), for signing and filing: page 1 carries the
    verdict and the objectives against the measured values."""
    write_pdf(html, out, base)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def checksums_of(folder: Path) -> bytes:
    """``checksums.sha256`` of a package folder (``sha256sum`` format, sorted), every
    file but the checksums, the signature and sign-offs added later."""
    lines = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel not in (CHECKSUMS, SIGNATURE) and not rel.startswith("signoff-"):
            lines.append(f"{_sha256(p)}  {rel}\n")
    return "".join(lines).encode()


def write_package(
    result: DrillResult,
    folder: Path,
    signer: SigningKey,
    history: list[dict[str, Any]] | None = None,
) -> tuple[Path, Path]:
    """Write the evidence folder and its zip; returns (folder, zip).

    ``history``: the plan's earlier runs from the register (this one included), drawn
    as the RTO/RPO trend (``trend.png``) in the report.
    """
    folder.mkdir(parents=True, exist_ok=True)
    doc = evidence_document(result)
    if history:
        from serialvault.drill.chart import trend_png

        (folder / "trend.png").write_bytes(
            trend_png(history, f"{result.plan.id}: RTO and RPO per drill")
        )
        doc["trend"] = {"file": "trend.png", "drills": len(history)}
    (folder / "evidence.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    html = _render_html(doc)
    (folder / "report.html").write_text(html, encoding="utf-8")
    _write_pdf(html, folder / "report.pdf", folder)
    (folder / "steps.jsonl").write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in result.steps))
    (folder / "manifests").mkdir(exist_ok=True)
    for m in result.manifests:
        (folder / "manifests" / f"{m['id']}.json").write_bytes(
            orjson.dumps(m, option=orjson.OPT_INDENT_2)
        )
    sums = checksums_of(folder)
    (folder / CHECKSUMS).write_bytes(sums)
    signed = signer.sign(
        {
            "format": SIGNATURE_FORMAT,
            "drill_id": result.drill_id,
            "checksums_sha256": hashlib.sha256(sums).hexdigest(),
            "files": sums.count(b"\n"),
        }
    )
    (folder / SIGNATURE).write_bytes(orjson.dumps(signed, option=orjson.OPT_INDENT_2))
    return folder, zip_package(folder)


@dataclass(frozen=True)
class RunOutputs:
    """Where a drill run's result file and evidence package were written."""

    result_file: Path
    package: Path
    zipped: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.package),
            "zip": str(self.zipped),
            "report_html": str(self.package / "report.html"),
            "report_pdf": str(self.package / "report.pdf"),
            "evidence_json": str(self.package / "evidence.json"),
        }


def write_run(
    result: DrillResult,
    run_folder: Path,
    signer: SigningKey,
    history: list[dict[str, Any]] | None = None,
) -> RunOutputs:
    """Everything a drill run leaves in its folder: the signed evidence package (folder
    and zip, ``evidence/``) and ``result.json`` (the full result, for ``drill show``)."""
    package, zipped = write_package(result, run_folder / "evidence", signer, history)
    result_file = run_folder / "result.json"
    result_file.write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
    return RunOutputs(result_file, package, zipped)


def package_drill_id(folder: Path) -> str | None:
    """The drill id a package folder's signature document names (before signing it off);
    a folder without one is not a package, a damaged one is an integrity failure."""
    sig = folder / SIGNATURE
    if not sig.is_file():
        raise InputError(f"{folder} is not an evidence folder (no {SIGNATURE})")
    try:
        doc = unique(sig.read_bytes())
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise IntegrityFailure(f"{sig} is not a signature document: not signing it")
    drill_id = doc.get("drill_id")
    return drill_id if isinstance(drill_id, str) else None


def zip_package(folder: Path) -> Path:
    """The folder as ``<folder>.zip`` (rewritten whole, e.g. after a sign-off)."""
    out = folder.with_suffix(".zip")
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, f"{folder.name}/{p.relative_to(folder).as_posix()}")
    tmp.replace(out)
    return out


@dataclass
class PackageCheck:
    path: str
    drill_id: str | None = None
    pack_id: str | None = None
    files: int = 0
    findings: list[str] = field(default_factory=list)
    signoffs: list[dict[str, Any]] = field(default_factory=list)
    #: signature value → the sign-off file that carried it first
    signatures: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": self.path,
            "ok": self.ok,
            "drill_id": self.drill_id,
            **({"pack_id": self.pack_id} if self.pack_id else {}),
            "files": self.files,
            "findings": self.findings,
            "signoffs": self.signoffs,
        }


def schema_problems(
    raw: bytes | None, schema_at: tuple[str, str] = ("serialvault.drill", "evidence.schema.json")
) -> list[str]:
    """Where ``evidence.json`` (or an inspection pack's ``inspection.json``) departs from
    its published schema (JSON Schema 2020-12, shipped with the package); empty when it
    conforms."""
    import jsonschema_rs

    if raw is None:
        return ["missing"]
    try:
        doc = unique(raw)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    schema = orjson.loads((files(schema_at[0]) / schema_at[1]).read_bytes())
    validator = jsonschema_rs.validator_for(schema)
    return [
        f"{'/'.join(str(x) for x in err.instance_path) or '(document)'}: {err.message}"
        for err in validator.iter_errors(doc)
    ][:20]


def _read_package(path: Path) -> tuple[dict[str, bytes], list[str]]:
    """Every file of a package folder or zip (relative name → bytes), and what is wrong
    with its layout: in a zip, a name that appears twice (``unzip`` and a verifier could
    each read another one), an entry outside the package's one folder, an absolute or
    ``..`` path; in a folder, a symbolic link (its target is not part of the package)."""
    problems: list[str] = []
    if path.is_dir():
        out: dict[str, bytes] = {}
        for p in sorted(path.rglob("*")):
            rel = p.relative_to(path).as_posix()
            if p.is_symlink():
                problems.append(f"{rel} is a symbolic link: not part of a package")
                continue
            if p.is_file():
                out[rel] = p.read_bytes()
        return out, problems
    try:
        with zipfile.ZipFile(path) as z:
            out = {}
            infos = z.infolist()
            tops = {i.filename.split("/", 1)[0] for i in infos}
            top = tops.pop() if len(tops) == 1 else None
            if top is None:
                problems.append(
                    f"the zip holds {len(tops) + 1} top-level entries: a package is one folder"
                )
            for info in infos:
                name = info.filename
                if name.endswith("/"):
                    continue
                parts = name.split("/")
                if name.startswith("/") or "\\" in name or ".." in parts or "" in parts[:-1]:
                    problems.append(f"zip entry {name!r} is not a plain path inside the package")
                    continue
                if top is not None and parts[0] != top:
                    problems.append(f"zip entry {name!r} is outside the package folder {top}/")
                    continue
                rel = name.split("/", 1)[1] if "/" in name else name
                if rel in out:
                    problems.append(
                        f"zip entry {name!r} appears more than once: which copy is the"
                        " package is ambiguous"
                    )
                    continue
                out[rel] = z.read(info)
            return out, problems
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise InputError(f"{path} is neither an evidence folder nor a zip: {exc}") from None


def _json_object(raw: bytes, name: str, findings: list[str]) -> dict[str, Any] | None:
    try:
        doc = unique(raw)
    except DuplicateKey as exc:  # what it says would depend on who reads it
        findings.append(f"{name}: {exc}")
        return None
    except ValueError:
        findings.append(f"{name} is not JSON")
        return None
    if not isinstance(doc, dict):
        findings.append(f"{name} is not a JSON object")
        return None
    return doc


def _checksum_lines(sums: bytes, findings: list[str]) -> dict[str, str]:
    """``checksums.sha256`` (``sha256sum`` format) parsed strictly: every malformed line is
    a finding naming it."""
    try:
        text = sums.decode("utf-8")
    except UnicodeDecodeError as exc:
        findings.append(f"{CHECKSUMS} is not UTF-8 text (byte {exc.start})")
        return {}
    listed: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            findings.append(f"{CHECKSUMS} line {n} is not '<sha256>  <file>': {line[:80]!r}")
            continue
        if not name or name.startswith("/") or ".." in name.split("/"):
            findings.append(f"{CHECKSUMS} line {n} names an unsafe path {name!r}")
            continue
        if name in listed:
            findings.append(f"{CHECKSUMS} line {n} lists {name} a second time")
            continue
        listed[name] = digest
    return listed


def verify_package(
    path: Path, public: VerifyKey, reviewers: Sequence[VerifyKey] = ()
) -> PackageCheck:
    """Check every byte of a package against its signed checksums (no repository needed).

    A sign-off counts only when its signature verifies with one of the ``reviewers``
    keys given: one that is unsigned, badly signed, or signed by a key not given is a
    finding and is never shown as a review or an approval (21 CFR 11.70: a signature is
    linked to its record so that it cannot be copied or forged).
    """
    check = PackageCheck(str(path))
    content, layout = _read_package(path)
    check.findings += layout
    sig_raw, sums = content.get(SIGNATURE), content.get(CHECKSUMS)
    if sig_raw is None or sums is None:
        check.findings.append(f"{SIGNATURE if sig_raw is None else CHECKSUMS} is missing")
        return check
    sig = _json_object(sig_raw, SIGNATURE, check.findings)
    if sig is None:
        return check
    inspection = sig.get("format") == INSPECTION_SIGNATURE_FORMAT
    ident = sig.get("pack_id" if inspection else "drill_id")
    if inspection:
        check.pack_id = ident if isinstance(ident, str) else None
    else:
        check.drill_id = ident if isinstance(ident, str) else None
    problem = public.check(sig)
    if problem:
        check.findings.append(f"{SIGNATURE}: {problem}")
    if sig.get("checksums_sha256") != hashlib.sha256(sums).hexdigest():
        check.findings.append(f"{CHECKSUMS} was altered: its hash is not the signed one")
    manifest = "inspection.json" if inspection else "evidence.json"
    where = ("serialvault.inspection", "inspection.schema.json") if inspection else None
    problems = schema_problems(content.get(manifest), *((where,) if where else ()))
    check.findings += [f"{manifest}: {x}" for x in problems]
    listed = _checksum_lines(sums, check.findings)
    check.files = len(listed)
    if inspection:  # reviewer keys the signed pack vouches for, for its drill packages
        reviewers = [*reviewers, *_vouched_keys(content, listed, check)]
    for name, digest in listed.items():
        data = content.get(name)
        if data is None:
            check.findings.append(f"{name} is missing")
        elif hashlib.sha256(data).hexdigest() != digest:
            check.findings.append(f"{name} was altered (SHA-256 differs from {CHECKSUMS})")
        elif inspection and name.startswith("drills/") and name.endswith(".zip"):
            _check_nested(name, data, public, reviewers, check)
    for name in content:
        if name in (CHECKSUMS, SIGNATURE) or name in listed:
            continue
        if name.startswith("signoff-") and name.endswith(".json"):
            check.signoffs.append(_check_signoff(name, content[name], sums, reviewers, check))
            continue
        check.findings.append(f"{name} is not listed in {CHECKSUMS} (added after signing)")
    return check


def _vouched_keys(
    content: dict[str, bytes], listed: dict[str, str], check: PackageCheck
) -> list[VerifyKey]:
    """The reviewers' public keys an inspection pack carries (``reviewer-keys/*.pub``):
    each one listed in the signed checksums and intact, so the pack's signature vouches
    for it — the pack's maker checked that its key id is registered to an account."""
    keys = []
    for name, digest in listed.items():
        if not (name.startswith("reviewer-keys/") and name.endswith(".pub")):
            continue
        data = content.get(name)
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            continue  # named as missing or altered by the checksum pass
        try:
            keys.append(verify_key_from_pem(data, name))
        except SerialvaultError as exc:
            check.findings.append(f"{name}: {exc.message}")
    return keys


def _check_nested(
    name: str, data: bytes, public: VerifyKey, reviewers: Sequence[VerifyKey], check: PackageCheck
) -> None:
    """A drill's evidence package inside an inspection pack is checked as itself: its
    own signature and checksums, with the same public key."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sv-nested-") as tmp:
        path = Path(tmp) / "evidence.zip"
        path.write_bytes(data)
        try:
            inner = verify_package(path, public, reviewers)
        except SerialvaultError as exc:
            check.findings.append(f"{name}: {exc.message}")
            return
    check.findings += [f"{name}: {f}" for f in inner.findings]
    check.signoffs += [{**s, "package": name} for s in inner.signoffs]


def _check_signoff(
    name: str, raw: bytes, sums: bytes, reviewers: Sequence[VerifyKey], check: PackageCheck
) -> dict[str, Any]:
    """A sign-off is valid only when its signature verifies with a reviewer key given."""
    doc = _json_object(raw, name, check.findings)
    if doc is None:
        return {"file": name, "signature_checked": False, "valid": False}
    sig = doc.get("signature")
    key_id = sig.get("key_id") if isinstance(sig, dict) else None
    out: dict[str, Any] = {
        "file": name,
        "signer": doc.get("signer") if isinstance(doc.get("signer"), str) else None,
        "name": doc.get("name") if isinstance(doc.get("name"), str) else None,
        "meaning": doc.get("meaning") if isinstance(doc.get("meaning"), str) else None,
        "signed_at": doc.get("signed_at") if isinstance(doc.get("signed_at"), str) else None,
        "key_id": key_id if isinstance(key_id, str) else None,
        "signature_checked": False,
        "valid": False,
    }
    if doc.get("format") != SIGNOFF_FORMAT:
        check.findings.append(f"{name} is not a {SIGNOFF_FORMAT} document")
        return out
    if not isinstance(sig, dict):
        check.findings.append(f"{name} is not signed: not a sign-off")
        return out
    trusted = [k for k in reviewers if k.key_id == key_id]
    if not trusted:
        check.findings.append(
            f"{name} is signed with key {key_id!r}, which is not among the reviewer keys"
            " given (--reviewer-key): the sign-off is not verified"
        )
        return out
    problem = trusted[0].check(doc)
    out["signature_checked"] = True
    if problem:
        check.findings.append(f"{name}: {problem}")
        return out
    if doc.get("checksums_sha256") != hashlib.sha256(sums).hexdigest():
        check.findings.append(f"{name} countersigns other content than this package's")
        return out
    value = str(sig.get("value"))
    if value in check.signatures:  # a copy of a sign-off is not a second approval
        first = check.signatures[value]
        check.findings.append(f"{name} repeats the signature of {first}: a copy, not a sign-off")
        return out
    check.signatures[value] = name
    out["valid"] = True
    return out


# --------------------------------------------------------------------------- sign-off

SIGNOFF_FORMAT = "serialvault.evidence-signoff/1"
#: The meanings of a signature (21 CFR 11.50(a)(3)); ``domain.access.MEANINGS``.
MEANINGS = ACCESS_MEANINGS


def load_reviewer_key(path: Path, passphrase: bytes) -> SigningKey:
    """A reviewer's own Ed25519 key, a PEM file encrypted with their passphrase
    (21 CFR 11.200: a signature usable only by its owner)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from serialvault.errors import KeyProblem

    try:
        key = load_pem_private_key(path.read_bytes(), password=passphrase)
    except OSError as exc:
        raise KeyProblem(f"cannot read reviewer key {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError):
        raise KeyProblem(f"reviewer key {path}: wrong passphrase, or not a PEM key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"reviewer key {path} is not an Ed25519 key")
    return SigningKey(key, str(path))


def generate_reviewer_key(path: Path, passphrase: bytes) -> VerifyKey:
    """Create a reviewer key (PEM, encrypted with the passphrase, mode 0600)."""
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if len(passphrase) < 8:
        raise InputError("the passphrase must have at least 8 characters")
    if path.exists():
        raise InputError(f"{path} exists: choose another file")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path.with_suffix(".pub").write_bytes(pub)
    return SigningKey(key, str(path)).public


def package_sums_sha256(folder: Path) -> str:
    """SHA-256 of a package folder's checksum list: what a sign-off signs (it names
    every file with its own SHA-256, so it pins the whole package)."""
    if not folder.is_dir():
        raise InputError(f"{folder} is not an evidence folder (sign off the folder, not the zip)")
    try:
        return hashlib.sha256((folder / CHECKSUMS).read_bytes()).hexdigest()
    except OSError as exc:
        raise InputError(f"{folder}: cannot read {CHECKSUMS}: {exc.strerror}") from None


def sign_off(
    folder: Path,
    key: SigningKey,
    *,
    signer: str,
    name: str,
    meaning: str,
    signed_at: str,
    signature_seq: int,
) -> tuple[dict[str, Any], Path]:
    """Countersign a package folder with the reviewer's own key: user id, full name,
    meaning, UTC time and the seq of the ``signature`` record in the repository, over
    its checksums; the zip is rewritten to carry it. Returns the document and its file."""
    if meaning not in MEANINGS:
        raise InputError(f"meaning {meaning!r}: use {', '.join(MEANINGS)}")
    doc = key.sign(
        {
            "format": SIGNOFF_FORMAT,
            "signer": signer,
            "name": name,
            "meaning": meaning,
            "signed_at": signed_at,
            "signature_seq": signature_seq,
            "checksums_sha256": package_sums_sha256(folder),
        }
    )
    n = len(list(folder.glob("signoff-*.json"))) + 1
    out = folder / f"signoff-{n}-{meaning}.json"
    try:
        out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    except OSError as exc:
        raise InputError(f"cannot write the sign-off {out}: {exc.strerror or exc}") from None
    zip_package(folder)
    return doc, out
