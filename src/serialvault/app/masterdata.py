"""Master data import and export: products, locations and trading partners.

``masterdata import FILE`` turns the master data of an EPCIS document (header, query
result or standalone master data document; XML 1.2 and 2.0, JSON-LD) or of a CSV into
draft changes — one per product, location or partner that is new or differs from its
recorded version — all in one transaction; nothing takes effect until a ``qa`` user
other than the importer approves each (EU GMP Annex 11 §10; DESIGN.md "Master data").
What is already recorded with the same values is reported unchanged. ``masterdata
export`` writes the latest approved versions as EPCIS (JSON-LD or XML) or CSV, so an
export imports back as "unchanged".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from serialvault.app import changes
from serialvault.app.context import open_as, open_to_read
from serialvault.app.files import read_bytes
from serialvault.domain.access import Action
from serialvault.epcis.limits import DEFAULT_LIMITS, Limits, check_document_size, oversized
from serialvault.errors import InputError, Issue, NotFound, UsageError, ValidationError
from serialvault.masterdata import formats
from serialvault.masterdata.model import MasterData, location_key, party_key
from serialvault.settings import Settings
from serialvault.store.changes import changes as change_records
from serialvault.store.masterdata import all_master_data, known_master_data, master_data_rows
from serialvault.store.repository import Repository
from serialvault.timefmt import now_utc

#: How many problems an import refusal lists before "and N more".
SHOWN = 20
FORMATS = ("epcis", "epcis-xml", "csv")


@dataclass(frozen=True)
class Imported:
    """One object of an import: drafted as ``change_id`` or ``unchanged``."""

    kind: str
    key: str
    outcome: str  # 'draft' | 'unchanged'
    version: int
    change_id: str | None = None
    changed_fields: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changed_fields": list(self.changed_fields)}


def read_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> MasterData:
    """The master data in ``path``; every problem found refuses the whole file. The
    capture's size limits apply: the file's size before it is read, and each name and
    value in it (``SERIALVAULT_MAX_DOCUMENT_MB``, ``SERIALVAULT_MAX_FIELD_KB``)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read master data file {path}: {exc.strerror or exc}") from None
    check_document_size(size, str(path), limits)
    md = formats.read_master_data(read_bytes(path, "master data file"), str(path))
    for kind, items in md.by_kind():
        for key, item in items.items():
            for where, n in oversized(item.content(), f"{kind} {key}", limits.field_bytes):
                md.issues.append(
                    Issue(
                        f"{where} is {n:,} bytes, over the limit of {limits.field_bytes:,}",
                        "field-too-large",
                        identifier=key,
                    )
                )
    if md.issues:
        shown = [str(i) for i in md.issues[:SHOWN]]
        more = f"\n  … and {len(md.issues) - SHOWN} more" if len(md.issues) > SHOWN else ""
        raise ValidationError(
            f"{path}: {len(md.issues)} problem(s) in the master data; nothing was imported:\n  "
            + "\n  ".join(shown)
            + more
        )
    return md


def import_file(
    settings: Settings, db: str | None, path: Path, *, reason: str | None = None
) -> list[Imported]:
    """``masterdata import``: draft a change for every object that is new or differs."""
    md = read_file(path, settings.limits)
    repo, who = open_as(settings, db, Action.MASTERDATA)
    recorded = known_master_data(repo, md)
    drafts: list[changes.Draft] = []
    plan: list[tuple[str, str, tuple[str, ...]]] = []
    out: list[Imported] = []
    for (kind, items), known in zip(md.by_kind(), recorded, strict=True):
        status = _statuses(repo, kind, list(items))
        for key, item in items.items():
            prior = known.get(key)
            diffs = tuple(prior[0].differences(item)) if prior else ()
            if prior is not None and not diffs:
                out.append(Imported(kind, key, "unchanged", prior[1]))
                continue
            # an import changes content, never status: a retired product stays retired
            current = status.get(key, "active")
            before = None if prior is None else {kind: prior[0].content(), "status": current}
            after = {kind: item.content(), "status": current}
            version = None if prior is None else prior[1] + 1
            drafts.append(changes.Draft(kind, key, after, before, version))
            plan.append((kind, key, diffs))
    if drafts:
        made = changes.propose_all(repo, who, drafts, reason or f"imported from {path.name}")
        for (kind, key, diffs), c in zip(plan, made, strict=True):
            out.append(Imported(kind, key, "draft", c.version, c.change_id, diffs))
    return out


def _statuses(repo: Repository, kind: str, keys: list[str]) -> dict[str, str]:
    """The status (``active`` / ``retired``) of each object's latest approved version."""
    with repo.read() as conn:
        found = change_records(conn, object_type=kind, keys=keys)
    out: dict[str, str] = {}
    for c in found:  # oldest first: the latest approved wins
        if c.status == "approved" and isinstance(c.after, dict):
            out[c.object_key] = str(c.after.get("status", "active"))
    return out


def export(settings: Settings, db: str | None, fmt: str, kinds: list[str] | None = None) -> bytes:
    """``masterdata export``: the latest approved versions as EPCIS or CSV bytes."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    for k in kinds or ():
        if k not in formats.KINDS:
            raise UsageError(f"--kind {k!r}: use one of {', '.join(formats.KINDS)}")
    md = all_master_data(open_to_read(settings, db))
    if kinds:
        md = MasterData(
            products=md.products if "product" in kinds else {},
            locations=md.locations if "location" in kinds else {},
            partners=md.partners if "partner" in kinds else {},
        )
    if fmt == "csv":
        return formats.to_csv(formats.csv_rows(md)).encode("utf-8")
    if fmt == "epcis-xml":
        return formats.to_xml(md, now_utc())
    return orjson.dumps(formats.to_jsonld(md, now_utc()), option=orjson.OPT_INDENT_2)


def listing(settings: Settings, db: str | None, kind: str | None = None) -> list[dict[str, Any]]:
    """``masterdata list``: every product, location and partner with its version."""
    if kind is not None and kind not in formats.KINDS:
        raise UsageError(f"--kind {kind!r}: use one of {', '.join(formats.KINDS)}")
    rows = master_data_rows(open_to_read(settings, db))
    return [r for r in rows if kind is None or r["kind"] == kind]


def history(settings: Settings, db: str | None, kind: str, ident: str) -> list[dict[str, Any]]:
    """``masterdata history``: every change of one location or partner, oldest first."""
    if kind == "location":
        key = location_key(ident)
    elif kind == "partner":
        key = party_key(ident)
    else:
        raise UsageError("use `serialvault product history GTIN` for a product")
    repo = open_to_read(settings, db)
    found = changes.list_of(repo, kind, key)
    if not found:
        raise NotFound(f"no change of {kind} {key} is recorded")
    now = now_utc()
    return [c.to_dict(now) for c in found]
