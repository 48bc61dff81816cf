"""``serialvault epcis validate|hash|convert`` — work on documents, no repository needed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from serialvault.app import epcis as ops
from serialvault.cli.common import (
    JsonOpt,
    err,
    handled,
    make_app,
    out,
    print_json,
    settings,
    write_output,
)

app = make_app("EPCIS documents: validate, compute event hash IDs, convert JSON-LD <-> XML.")

Files = Annotated[
    list[str], typer.Argument(help="EPCIS documents (JSON-LD or XML), or - for stdin.")
]


@app.command("validate")
def validate(files: Files, json_out: JsonOpt = False) -> None:
    """Check documents against the EPCIS 2.0 schema and CBV vocabulary (no business rules)."""

    def shown(c: ops.DocumentCheck) -> None:
        if json_out:
            return
        if c.error is not None:
            err.print(f"[bold red]{c.document}:[/] {c.error.message}")
        elif c.issues:
            err.print(f"[bold red]{c.document}: invalid[/], {len(c.issues)} problem(s)")
            for i in c.issues:
                err.print(f"  - {i}")
        elif c.doc is not None:
            out.print(
                f"{c.document}: valid ({len(c.doc.events)} events,"
                f" {c.doc.syntax} EPCIS {c.doc.source_version})"
            )

    with handled(json_out):
        res = ops.validate(settings(), files, sys.stdin.buffer, on_check=shown)
    if json_out:
        print_json(res.to_dict())
    if res.exit_code:
        raise typer.Exit(res.exit_code)


@app.command("hash")
def hash_cmd(
    files: Files,
    prehash: Annotated[
        bool, typer.Option("--prehash", help="Also print the pre-hash strings.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Print the GS1 event hash ID of every event, in document order (CBV 2.0 §8.9)."""

    def shown(row: dict[str, Any]) -> None:
        if not json_out:
            out.print(row["hash"])
            if prehash:
                out.print(f"  {row['prehash']}")

    with handled(json_out):
        rows = ops.hashes(settings(), files, prehash=prehash, stdin=sys.stdin.buffer, on_row=shown)
    if json_out:
        print_json(rows)


@app.command("convert")
def convert(
    file: Annotated[str, typer.Argument(help="EPCIS document (JSON-LD or XML, 2.0 or 1.2), or -.")],
    to: Annotated[str, typer.Option("--to", help="Target syntax: jsonld or xml.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Convert a document to EPCIS 2.0 JSON-LD or EPCIS 2.0 XML."""
    with handled(json_out):
        data, doc = ops.convert(settings(), file, to, sys.stdin.buffer)
        if output is None:
            sys.stdout.buffer.write(data)
            if not data.endswith(b"\n"):
                sys.stdout.buffer.write(b"\n")
        else:
            write_output(output, data)
            if not json_out:
                err.print(f"wrote {output} ({len(data)} bytes, {len(doc.events)} events)")
        if json_out and output is not None:
            print_json({"output": str(output), "bytes": len(data), "events": len(doc.events)})
