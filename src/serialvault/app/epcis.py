"""Work on EPCIS documents without a repository: validate, hash, convert.

``validate`` applies what capture applies before any business rule (our schema, CBV
vocabulary, identifiers, size limits, and the extra schemas the settings name);
``hash`` gives the GS1 event hash ID (CBV 2.0 §8.9) of every event; ``convert`` writes
EPCIS 2.0 JSON-LD or XML (EPCIS 2.0 §9, §12).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from serialvault.epcis.limits import check_document_size
from serialvault.epcis.model import EpcisDocument
from serialvault.epcis.reader import read_document
from serialvault.errors import InputError, Issue, SerialvaultError, ValidationError
from serialvault.settings import Settings

STDIN = "-"


def read(settings: Settings, name: str, stdin: BinaryIO | None = None) -> EpcisDocument:
    """Read one document (``-``: ``stdin``), refusing it unread when it is over the size
    limit (past the limit, standard input is only counted)."""
    limit = settings.limits.document_bytes
    try:
        if name == STDIN:
            if stdin is None:
                raise InputError("- names standard input, but there is none here")
            data = stdin.read(limit + 1)
            size = len(data) + sum(len(b) for b in iter(lambda: stdin.read(1 << 20), b""))
        else:
            size = Path(name).stat().st_size
            data = b"" if size > limit else Path(name).read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror}") from None
    check_document_size(size, name, settings.limits)
    return read_document(data, name)


@dataclass(frozen=True)
class DocumentCheck:
    """One document's validation: the error that stopped it, or its issues (none: valid)."""

    document: str
    error: SerialvaultError | None = None
    doc: EpcisDocument | None = None
    issues: tuple[Issue, ...] = ()

    @property
    def valid(self) -> bool:
        return self.error is None and not self.issues

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None or self.doc is None:
            err = self.error.to_dict() if self.error is not None else None
            return {"document": self.document, "valid": False, "error": err}
        return {
            "document": self.document,
            "valid": self.valid,
            "events": len(self.doc.events),
            "syntax": self.doc.syntax,
            "epcis_version": self.doc.source_version,
            "issues": [i.to_dict() for i in self.issues],
        }


@dataclass
class Validation:
    """Every document's check; ``exit_code`` is the worst seen (4: an invalid one)."""

    checks: list[DocumentCheck] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        codes = [
            c.error.exit_code if c.error else ValidationError.exit_code
            for c in self.checks
            if not c.valid
        ]
        return max(codes, default=0)

    def to_dict(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self.checks]


def validate(
    settings: Settings,
    names: list[str],
    stdin: BinaryIO | None = None,
    on_check: Callable[[DocumentCheck], None] | None = None,
) -> Validation:
    """Schema, CBV vocabulary and identifier checks of each document (no business rules)."""
    from serialvault.epcis.validate import validate_document

    out = Validation()
    for name in names:
        try:
            doc = read(settings, name, stdin)
            issues = validate_document(
                doc, extra_schemas=settings.extra_schemas(), limits=settings.limits
            )
            check = DocumentCheck(name, doc=doc, issues=tuple(issues))
        except SerialvaultError as exc:
            check = DocumentCheck(name, error=exc)
        out.checks.append(check)
        if on_check is not None:
            on_check(check)
    return out


def hashes(
    settings: Settings,
    names: list[str],
    *,
    prehash: bool = False,
    stdin: BinaryIO | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """The GS1 event hash ID of every event, in document order (with ``prehash``, the
    canonical pre-hash string too); ``on_row`` sees each as it is computed."""
    from serialvault.epcis.hashing import event_hash, prehash_string

    rows: list[dict[str, Any]] = []
    for name in names:
        doc = read(settings, name, stdin)
        ns = doc.all_namespaces()
        for i, ev in enumerate(doc.events):
            row: dict[str, Any] = {"document": name, "index": i, "hash": event_hash(ev, ns)}
            if prehash:
                row["prehash"] = prehash_string(ev, ns)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows


def convert(
    settings: Settings, name: str, to: str, stdin: BinaryIO | None = None
) -> tuple[bytes, EpcisDocument]:
    """The document as EPCIS 2.0 JSON-LD (``jsonld``) or EPCIS 2.0 XML (``xml``)."""
    doc = read(settings, name, stdin)
    if to == "jsonld":
        from serialvault.epcis.jsonld_writer import to_jsonld

        return to_jsonld(doc, indent=True), doc
    if to == "xml":
        from serialvault.epcis.xml_writer import to_xml

        return to_xml(doc), doc
    raise ValidationError(f"--to {to!r}: choose jsonld or xml")
