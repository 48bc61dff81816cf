"""``serialvault masterdata import|export|list|history`` — products, locations and
trading partners, under change control."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from serialvault.app import masterdata as ops
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    ReasonOpt,
    handled,
    make_app,
    out,
    print_json,
    settings,
    table,
    write_output,
)

app = make_app(
    "Master data (products, locations, trading partners): import from EPCIS or CSV as"
    " draft changes, export, list, history."
)


@app.command("import")
def import_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            help="An EPCIS document (JSON-LD or XML 1.2/2.0: header master data, query"
            " results, or an EPCISMasterDataDocument) or a CSV (see the README for its"
            " columns)."
        ),
    ],
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Draft a change for every product, location and partner in FILE that is new or
    differs from its recorded version (all or none); a qa user other than you approves
    each (`change approve ID`)."""
    with handled(json_out):
        rows = ops.import_file(settings(), db, file, reason=reason)
        if json_out:
            print_json([r.to_dict() for r in rows])
            return
        drafts = [r for r in rows if r.change_id]
        for r in rows:
            what = (
                f"version {r.version} drafted as {r.change_id}"
                + (f" ({', '.join(r.changed_fields)} changed)" if r.changed_fields else "")
                if r.change_id
                else f"unchanged (version {r.version})"
            )
            out.print(f"{r.kind} {r.key}: {what}")
        out.print(
            f"{len(drafts)} draft change(s), {len(rows) - len(drafts)} unchanged"
            + (
                "; they take effect once a qa user approves them (`serialvault change approve ID`)"
                if drafts
                else ""
            )
        )


@app.command("export")
def export_cmd(
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="epcis (EPCIS 2.0 JSON-LD, master data in the header), epcis-xml (EPCIS 2.0"
            " EPCISMasterDataDocument) or csv.",
        ),
    ] = "epcis",
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="product, location or partner (repeatable; default all)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Write the latest approved version of every product, location and partner."""
    with handled(False):
        data = ops.export(settings(), db, fmt, kind)
        if output is not None:
            write_output(output, data)
        else:
            sys.stdout.buffer.write(data)
            if not data.endswith(b"\n"):
                sys.stdout.buffer.write(b"\n")


@app.command("list")
def list_cmd(
    kind: Annotated[
        str | None, typer.Option("--kind", help="product, location or partner.")
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every product, location and trading partner with its current version."""
    with handled(json_out):
        rows = ops.listing(settings(), db, kind)
        if json_out:
            print_json(rows)
            return
        table(
            "master data",
            ["kind", "key", "name", "version"],
            [[r["kind"], r["key"], r["name"] or "", r["version"]] for r in rows],
        )


@app.command("history")
def history_cmd(
    kind: Annotated[str, typer.Argument(help="location or partner.")],
    ident: Annotated[str, typer.Argument(help="The GLN, SGLN or PGLN.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every change of one location or trading partner (products: `product history`)."""
    with handled(json_out):
        rows = ops.history(settings(), db, kind, ident)
        if json_out:
            print_json(rows)
            return
        table(
            f"{kind} history",
            ["change", "status", "version", "author", "reason", "decided by", "effective"],
            [
                [
                    r["id"],
                    r["status"],
                    r["version"],
                    r["author"],
                    r["reason"],
                    r["decided_by"] or "",
                    r["effective_from"] or "",
                ]
                for r in rows
            ],
        )
