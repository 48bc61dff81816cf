"""A review's folder: ``review.json`` (every finding, machine-readable), ``report.html``
and ``report.pdf`` (the same for people, flagged entries first).

The folder is bound to the log twice: the review record (``review.audit`` /
``review.access``) holds the SHA-256 of each file, and a sign-off signs
:func:`~serialvault.domain.review.binding_sha256` over those hashes and the chain hash
at the last seq reviewed — so a report altered after it was recorded, or after it was
signed, no longer verifies, and says which file (21 CFR 11.10(a), 11.70).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from serialvault.domain.review import ACCESS_FORMAT, AUDIT_FORMAT, FLAGS
from serialvault.errors import ConflictError, InputError
from serialvault.render import render_html, write_pdf

JSON_NAME = "review.json"
HTML_NAME = "report.html"
PDF_NAME = "report.pdf"
FILES = (JSON_NAME, HTML_NAME, PDF_NAME)
#: Flagged entries the HTML and PDF list; the JSON lists them all.
SHOWN = 300
TEMPLATES = {AUDIT_FORMAT: "audit.html.j2", ACCESS_FORMAT: "access.html.j2"}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def check_free(folder: Path) -> None:
    """Refuse a folder that already holds a review: a recorded report is never
    overwritten (its hashes are in the log)."""
    if (folder / JSON_NAME).exists():
        raise ConflictError(
            f"{folder} already holds a review ({JSON_NAME}): choose another --out;"
            " nothing was recorded"
        )
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is not a folder: nothing was recorded")


def write_review(folder: Path, doc: dict[str, Any]) -> dict[str, str]:
    """Write the three files; returns each file's name and SHA-256. The HTML and PDF
    name the SHA-256 of the JSON they were made from."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    (folder / JSON_NAME).write_bytes(raw)
    json_sha = hashlib.sha256(raw).hexdigest()
    view = {
        "r": doc,
        "json_sha256": json_sha,
        "flag_meanings": FLAGS,
        "shown": SHOWN,
    }
    html = render_html("serialvault.reviews", TEMPLATES[doc["format"]], **view)
    (folder / HTML_NAME).write_text(html, encoding="utf-8")
    write_pdf(html, folder / PDF_NAME, folder)
    return {name: sha256_file(folder / name) for name in FILES}


def read_review(path: Path) -> tuple[Path, dict[str, Any]]:
    """The folder and the findings of a review named by its folder or its JSON file."""
    file = path / JSON_NAME if path.is_dir() else path
    try:
        doc = orjson.loads(file.read_bytes())
    except FileNotFoundError:
        raise InputError(
            f"{file} does not exist: name a review's folder or its {JSON_NAME}"
        ) from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{file} is not a review's JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") not in TEMPLATES:
        raise InputError(
            f"{file} is not a review ({', '.join(TEMPLATES)}): found format"
            f" {doc.get('format') if isinstance(doc, dict) else None!r}"
        )
    if not isinstance(doc.get("review_id"), str):
        raise InputError(f"{file} has no review id")
    return file.parent, doc


def current_hashes(folder: Path, names: list[str]) -> dict[str, str | None]:
    """The SHA-256 of each named file as it is now (``None``: missing)."""
    return {n: sha256_file(folder / n) if (folder / n).is_file() else None for n in names}
