"""Writing the inspection pack: its files, index page, manifest, signature and zip.

An inspector asks for the records of a period at once: the drills with their
evidence, the signed audit-trail and access reviews, the exceptions and CAPAs open and
closed, the master-data change history and the backups with their verification (EU
GMP Annex 11 §7.1, §9, §10, §11, §13; 21 CFR 11.10(b): accurate and complete copies
in human-readable and electronic form). The pack is a folder — ``index.html`` (and
``index.pdf``) for people, ``inspection.json`` (with its published JSON Schema,
``inspection.schema.json``) for machines, each section's files — whose
``checksums.sha256`` is signed with the backup signing key exactly as a drill's
evidence is, so ``evidence verify`` checks it offline with the public key alone, and
checks every drill evidence package inside it too.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import orjson

from serialvault.backup.crypto import SigningKey
from serialvault.drill.evidence import (
    CHECKSUMS,
    INSPECTION_SIGNATURE_FORMAT,
    SIGNATURE,
    checksums_of,
    zip_package,
)
from serialvault.render import render_html, write_pdf

FORMAT = "serialvault.inspection/1"
SIGNATURE_FORMAT = INSPECTION_SIGNATURE_FORMAT
MANIFEST = "inspection.json"
INDEX = "index.html"
INDEX_PDF = "index.pdf"


def write_pack(
    folder: Path,
    doc: dict[str, Any],
    files: dict[str, bytes],
    copies: dict[str, Path],
    signer: SigningKey,
) -> tuple[str, int]:
    """Write the pack's folder and sign it; returns (SHA-256 of the checksums, files).

    ``files``: relative name → content written by serialvault; ``copies``: relative
    name → a file copied in as it is (a drill's evidence zip, a review's report).
    """
    folder.mkdir(parents=True, exist_ok=False)
    for name, data in sorted(files.items()):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for name, source in sorted(copies.items()):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (folder / MANIFEST).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    html = render_html("serialvault.inspection", "index.html.j2", doc=doc)
    (folder / INDEX).write_text(html, encoding="utf-8")
    write_pdf(html, folder / INDEX_PDF, folder)
    sums = checksums_of(folder)
    (folder / CHECKSUMS).write_bytes(sums)
    digest = hashlib.sha256(sums).hexdigest()
    signed = signer.sign(
        {
            "format": SIGNATURE_FORMAT,
            "pack_id": doc["pack_id"],
            "checksums_sha256": digest,
            "files": sums.count(b"\n"),
        }
    )
    (folder / SIGNATURE).write_bytes(orjson.dumps(signed, option=orjson.OPT_INDENT_2))
    return digest, sums.count(b"\n")


def zip_to(folder: Path, out: Path) -> Path:
    """The pack's folder as the zip ``out`` (one top-level folder, as ``evidence
    verify`` expects); the folder is removed once the zip is in place."""
    made = zip_package(folder)
    made.replace(out)
    shutil.rmtree(folder)
    return out
