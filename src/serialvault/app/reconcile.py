"""Baselines and reconciliation (DESIGN.md "Reconciliation rules").

A baseline records what the repository holds at one seq; ``reconcile`` checks a
repository rule by rule against a baseline, another repository (R1–R6, R3 and R9 on
request), or another system's EPCIS export (R7: L3 against L4, a partner's shipment).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from serialvault.app.context import open_as, open_to_read
from serialvault.app.files import read_bytes, write_file
from serialvault.domain.access import Action
from serialvault.domain.exceptions import exception_id
from serialvault.domain.reconcile import FAIL
from serialvault.errors import InputError
from serialvault.redact import redact_url
from serialvault.settings import Settings
from serialvault.store import reconcile as rec
from serialvault.store.exceptions import open_exception
from serialvault.store.repository import Repository

#: File endings that make ``--against`` an EPCIS export rather than a baseline.
EPCIS_SUFFIXES = (".jsonld", ".json-ld", ".xml")


@dataclass(frozen=True)
class BaselineWritten:
    path: Path
    baseline: rec.Baseline

    def to_dict(self) -> dict[str, Any]:
        b = self.baseline
        return {
            "baseline": str(self.path),
            "head_seq": b.head_seq,
            "chain_head": b.chain_head,
            "fingerprint": b.fingerprint["fingerprint"],
            "groups": len(b.counts),
            "units": sum(b.counts.values()),
        }


def baseline(settings: Settings, db: str | None, out: Path) -> BaselineWritten:
    """Record a baseline (``serialvault.baseline/1``): units per (GTIN, lot, status),
    chain head and fingerprint of one consistent read."""
    b = rec.take_baseline(open_to_read(settings, db))
    write_file(out, orjson.dumps(b.to_dict(), option=orjson.OPT_INDENT_2))
    return BaselineWritten(out, b)


def _export_files(against: str) -> list[Path] | None:
    """The EPCIS documents ``against`` names (a file or a folder of them), else None."""
    path = Path(against)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in EPCIS_SUFFIXES)
        if not files:
            raise InputError(
                f"--against {redact_url(against)}: the folder holds no .jsonld or .xml file"
            )
        return files
    if path.suffix.lower() in EPCIS_SUFFIXES:
        if not path.is_file():
            raise InputError(f"--against {redact_url(against)}: no such EPCIS file")
        return [path]
    return None


def _expected(against: str) -> rec.Baseline:
    path = Path(against)
    if path.suffix.lower() == ".json":
        return rec.load_baseline(read_bytes(path, "baseline"), str(path))
    return rec.take_baseline(Repository.open(against))


def reconcile(
    settings: Settings,
    db: str | None,
    against: str,
    *,
    scope: str = "full",
    limit: int = 10,
    lifecycle: bool = False,
) -> rec.Report:
    """Reconcile the repository against a baseline file, another repository (path or
    URL) or an EPCIS export (a ``.jsonld``/``.xml`` file or folder: R7)."""
    export = _export_files(against)
    repo, who = open_as(settings, db, Action.RECONCILE)
    if export is not None:
        with tempfile.TemporaryDirectory(prefix="sv-reconcile-") as work:
            report = rec.cross_system(repo, export, Path(work), scope=scope, limit=limit)
    else:
        expected = _expected(against)
        report = rec.reconcile(repo, expected, against=against, limit=limit, lifecycle=lifecycle)
    report.exceptions = _open_failures(repo, report, who.actor)
    return report


def _open_failures(repo: Repository, report: rec.Report, actor: str) -> list[str]:
    """Each failed rule opens an exception of type ``reconciliation-failure`` — or is
    linked to the one still open for the same failure (same rule, same finding)."""
    opened = []
    for r in report.results:
        if r.status != FAIL:
            continue
        examples = [x for xs in r.examples.values() for x in xs]
        seq, _new = open_exception(
            repo,
            source="reconcile",
            type="reconciliation-failure",
            severity="critical",
            reason=f"{r.rule} {r.title}: {r.message or 'failed'}"
            + f" (against {redact_url(report.against)})",
            identifiers=examples,
            actor=actor,
            why=f"reconciliation rule {r.rule} failed",
            document=redact_url(report.against),
            origin={"kind": "reconciliation", "id": r.rule, "against": redact_url(report.against)},
            relink_after_s=0,
        )
        opened.append(exception_id(seq))
    return opened
