"""``serialvault baseline`` and ``serialvault reconcile``: record a reference state, and
check a repository against it (or against another repository) rule by rule."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from serialvault.app import reconcile as ops
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    handled,
    kv,
    out,
    print_json,
    settings,
    table,
)
from serialvault.errors import IntegrityFailure


def baseline(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the baseline JSON.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record a baseline: counts per (GTIN, lot, status), chain head and fingerprint."""
    with handled(json_out):
        summary = ops.baseline(settings(), db, out_file).to_dict()
        if json_out:
            print_json(summary)
        else:
            kv("baseline written", list(summary.items()))


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
        report = ops.reconcile(
            settings(), db, against, scope=scope, limit=limit, lifecycle=lifecycle
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
            if d["exceptions"]:
                out.print(f"exceptions opened or linked: {', '.join(d['exceptions'])}")
    if report.verdict == "fail":
        raise typer.Exit(IntegrityFailure.exit_code)
