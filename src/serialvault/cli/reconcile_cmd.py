"""``serialvault baseline`` and ``serialvault reconcile``: record a reference state, and
check a repository against it (or against another repository) rule by rule."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.markup import escape

from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    handled,
    kv,
    open_repo,
    out,
    print_json,
    table,
    write_output,
)
from serialvault.errors import InputError, IntegrityFailure
from serialvault.redact import redact_url
from serialvault.store import reconcile as rec
from serialvault.store.repository import Repository


def baseline(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the baseline JSON.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record a baseline: counts per (GTIN, lot, status), chain head and fingerprint."""
    with handled(json_out):
        b = rec.take_baseline(open_repo(db))
        data = b.to_dict()
        write_output(out_file, orjson.dumps(data, option=orjson.OPT_INDENT_2))
        summary = {
            "baseline": str(out_file),
            "head_seq": b.head_seq,
            "chain_head": b.chain_head,
            "fingerprint": b.fingerprint["fingerprint"],
            "groups": len(b.counts),
            "units": sum(b.counts.values()),
        }
        if json_out:
            print_json(summary)
        else:
            kv("baseline written", list(summary.items()))


def _expected(against: str) -> rec.Baseline:
    path = Path(against)
    if path.suffix.lower() == ".json":
        try:
            return rec.load_baseline(path.read_bytes(), str(path))
        except OSError as exc:
            raise InputError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    return rec.take_baseline(Repository.open(against))


EPCIS_SUFFIXES = (".jsonld", ".json-ld", ".xml")


def _export_files(against: str) -> list[Path] | None:
    """The EPCIS documents ``--against`` names (a file or a folder of them), else None."""
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


def reconcile(
    against: Annotated[
        str,
        typer.Option(
            "--against",
            help="A baseline JSON (serialvault baseline), another repository (path or URL),"
            " or another system's EPCIS export (a .jsonld/.xml file or a folder).",
        ),
    ],
    db: DbOpt = None,
    scope: Annotated[
        str,
        typer.Option(
            "--scope",
            help="Against an EPCIS export: full (the whole repository) or export (only what"
            " the export holds, e.g. a partner's shipment).",
        ),
    ] = "full",
    limit: Annotated[int, typer.Option("--limit", help="Example identifiers per finding.")] = 10,
    lifecycle: Annotated[
        bool,
        typer.Option("--lifecycle", help="Also R3: every unit's history follows the lifecycle."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Reconcile the repository against a baseline or another repository; exit 8 on a failure.

    Against a baseline or a repository (DESIGN.md): R1 counts per (GTIN, lot, status); R2
    hierarchy; R4 master data; R5 hash chain; R6 fingerprint. Against an EPCIS export (a
    file or folder of .jsonld/.xml): R7, events and units compared with the other system.
    Each gives pass, fail or inconclusive with counts and example identifiers.
    """
    with handled(json_out):
        export = _export_files(against)
        if export is not None:  # R7: the other system's EPCIS export
            with tempfile.TemporaryDirectory(prefix="sv-reconcile-") as work:
                report = rec.cross_system(
                    open_repo(db), export, Path(work), scope=scope, limit=limit
                )
        else:
            expected = _expected(against)
            report = rec.reconcile(
                open_repo(db), expected, against=against, limit=limit, lifecycle=lifecycle
            )
        d = report.to_dict()
        if json_out:
            print_json(d)
        else:
            table(
                f"{d['target']} against {d['against']}: {d['verdict'].upper()}"
                f" ({d['units']:,} units, seq {d['head_seq']}, {d['seconds']} s)",
                ["rule", "title", "result", "detail"],
                [
                    [r["rule"], r["title"], r["status"], escape(r["message"] or "")]
                    for r in d["rules"]
                ],
            )
            for r in d["rules"]:
                for name, items in r["examples"].items():
                    out.print(f"  {r['rule']} {name}: {escape(', '.join(items))}")
    if report.verdict == "fail":
        raise typer.Exit(IntegrityFailure.exit_code)
