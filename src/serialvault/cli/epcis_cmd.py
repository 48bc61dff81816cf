"""``serialvault epcis validate|hash|convert`` — work on documents, no repository needed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from serialvault.cli.common import JsonOpt, err, handled, make_app, out, print_json, write_output
from serialvault.epcis.limits import check_document_size
from serialvault.epcis.model import EpcisDocument
from serialvault.epcis.reader import read_document
from serialvault.errors import InputError, SerialvaultError, ValidationError
from serialvault.settings import input_limits, load_extra_schemas

app = make_app("EPCIS documents: validate, compute event hash IDs, convert JSON-LD <-> XML.")

Files = Annotated[
    list[str], typer.Argument(help="EPCIS documents (JSON-LD or XML), or - for stdin.")
]


def _read(name: str) -> EpcisDocument:
    """Read one document, refusing it unread when it is over the size limit."""
    limit = input_limits().document_bytes
    try:
        if name == "-":
            data = sys.stdin.buffer.read(limit + 1)
            size = len(data) + sum(
                len(b) for b in iter(lambda: sys.stdin.buffer.read(1 << 20), b"")
            )
        else:
            size = Path(name).stat().st_size
            data = b"" if size > limit else Path(name).read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror}") from None
    check_document_size(size, name, input_limits())
    return read_document(data, name)


@app.command("validate")
def validate(files: Files, json_out: JsonOpt = False) -> None:
    """Check documents against the EPCIS 2.0 schema and CBV vocabulary (no business rules)."""
    from serialvault.epcis.validate import validate_document

    reports: list[dict[str, Any]] = []
    worst = 0
    for name in files:
        try:
            doc = _read(name)
            issues = validate_document(
                doc, extra_schemas=load_extra_schemas(), limits=input_limits()
            )
        except SerialvaultError as exc:
            worst = max(worst, exc.exit_code)
            reports.append({"document": name, "valid": False, "error": exc.to_dict()})
            if not json_out:
                err.print(f"[bold red]{name}:[/] {exc.message}")
            continue
        if issues:
            worst = max(worst, ValidationError.exit_code)
        reports.append(
            {
                "document": name,
                "valid": not issues,
                "events": len(doc.events),
                "syntax": doc.syntax,
                "epcis_version": doc.source_version,
                "issues": [i.to_dict() for i in issues],
            }
        )
        if not json_out:
            if issues:
                err.print(f"[bold red]{name}: invalid[/], {len(issues)} problem(s)")
                for i in issues:
                    err.print(f"  - {i}")
            else:
                out.print(
                    f"{name}: valid ({len(doc.events)} events,"
                    f" {doc.syntax} EPCIS {doc.source_version})"
                )
    if json_out:
        print_json(reports)
    if worst:
        raise typer.Exit(worst)


@app.command("hash")
def hash_cmd(
    files: Files,
    prehash: Annotated[
        bool, typer.Option("--prehash", help="Also print the pre-hash strings.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Print the GS1 event hash ID of every event, in document order (CBV 2.0 §8.9)."""
    from serialvault.epcis.hashing import event_hash, prehash_string

    results: list[dict[str, Any]] = []
    with handled(json_out):
        for name in files:
            doc = _read(name)
            ns = doc.all_namespaces()
            for i, ev in enumerate(doc.events):
                row: dict[str, Any] = {"document": name, "index": i, "hash": event_hash(ev, ns)}
                if prehash:
                    row["prehash"] = prehash_string(ev, ns)
                results.append(row)
                if not json_out:
                    out.print(row["hash"])
                    if prehash:
                        out.print(f"  {row['prehash']}")
    if json_out:
        print_json(results)


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
        doc = _read(file)
        if to == "jsonld":
            from serialvault.epcis.jsonld_writer import to_jsonld

            data = to_jsonld(doc, indent=True)
        elif to == "xml":
            from serialvault.epcis.xml_writer import to_xml

            data = to_xml(doc)
        else:
            raise ValidationError(f"--to {to!r}: choose jsonld or xml")
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
