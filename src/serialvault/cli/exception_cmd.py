"""``serialvault exception list|show|open|assign|comment|resolve|close|reopen`` — the
exception register and its workflow (open → investigating → resolved → closed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from serialvault.app import exceptions as ops
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    PasswordFileOpt,
    SignerOpt,
    dash,
    handled,
    kv,
    make_app,
    out,
    print_json,
    read_password,
    settings,
    show_signatures,
    signer_id,
    table,
)
from serialvault.errors import IntegrityFailure

app = make_app(
    "The exception register: rejected documents, rule violations, count mismatches,"
    " unallocated serials, reconciliation failures, drill deviations — each worked"
    " open → investigating → resolved → closed (a qa signature)."
)

IdArg = Annotated[str, typer.Argument(help="An exception id, e.g. EX-12.")]


def _first_line(text: str | None, width: int = 100) -> str:
    line = (text or "").splitlines()[0] if text else ""
    return line if len(line) <= width else line[: width - 1] + "…"


@app.command("list")
def list_cmd(
    status: Annotated[
        str | None, typer.Option("--status", help="open, investigating, resolved or closed.")
    ] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="e.g. rule-violation, count-mismatch.")
    ] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", help="minor, major or critical.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Opened at or after (UTC date or time).")
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The register, oldest first: id, opened, type, severity, status, source, reason."""
    with handled(json_out):
        rows = ops.list_exceptions(
            settings(), db, status=status, type=type_, severity=severity, since=since
        )
        if json_out:
            print_json(rows)
            return
        table(
            "exceptions",
            ["id", "opened at", "type", "severity", "status", "document", "reason"],
            [
                [
                    r["id"],
                    r["recorded_at"],
                    r["type"],
                    r["severity"],
                    r["status"],
                    r["document"] or "",
                    _first_line(r["reason"]),
                ]
                for r in rows
            ],
        )


def _origin(origin: dict[str, Any]) -> str:
    """``line:L1 (document d.jsonld)``: where an exception came from, as one phrase."""
    kind, ident = origin.get("kind"), origin.get("id")
    text = f"{kind}:{ident}" if ident else str(kind or "-")
    doc = origin.get("document")
    return text + (f" (document {doc})" if doc and doc != ident else "")


def _stored(d: dict[str, Any]) -> str:
    kept = d["quarantine"] or {}
    if kept.get("kept"):
        return f"{kept['size']:,} bytes: serialvault exception document {d['id']} --out FILE"
    return dash(kept.get("why"))


@app.command("show")
def show(ex_id: IdArg, db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """One exception whole: what was wrong (each issue's event, field and identifier),
    where it came from (the document and its SHA-256), its history and signatures —
    each signature verified against the content it closed."""
    with handled(json_out):
        view = ops.show(settings(), db, ex_id)
        d = view.to_dict()
        if json_out:
            print_json(d)
        else:
            origin = d["origin"] or {}
            kv(
                f"exception {d['id']}",
                [
                    ("type", f"{d['type']} — {d['about']}"),
                    ("severity", d["severity"]),
                    ("status", d["status"]),
                    ("owner role", d["owner_role"]),
                    ("assignee", dash(d["assignee"])),
                    ("opened", f"{d['recorded_at']} by {d['opened_by']} (log seq {d['seq']})"),
                    ("origin", _origin(origin)),
                    ("document", dash(d["document"])),
                    ("document SHA-256", dash(d["document_sha256"])),
                    ("stored document", _stored(d)),
                    ("identifiers", dash(", ".join(d["identifiers"][:20]))),
                    ("resolution", dash(d["resolution"])),
                    ("CAPA", dash(", ".join(d["capas"]))),
                ],
            )
            out.print(d["reason"])
            if d["issues"]:
                table(
                    "issues",
                    ["event", "event id / hash", "field", "identifier", "what"],
                    [
                        [
                            "-" if i["event_index"] is None else f"#{i['event_index'] + 1}",
                            dash(i.get("event_id") or i.get("event_hash")),
                            dash(i["field"]),
                            dash(i["identifier"]),
                            i["message"],
                        ]
                        for i in d["issues"][:50]
                    ],
                )
            if d["actions"]:
                table(
                    "history",
                    ["seq", "at", "by", "action", "status after", "text"],
                    [
                        [a["seq"], a["at"], a["actor"], a["action"], a["status"], dash(a["text"])]
                        for a in d["actions"]
                    ],
                )
            show_signatures(view.signatures, "the exception as closed")
    if any(not s["verified"] for s in view.signatures):
        raise typer.Exit(IntegrityFailure.exit_code)


@app.command("document")
def document(
    ex_id: IdArg,
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the document.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a rejected document as it was received (checked against its SHA-256)."""
    with handled(json_out):
        n = ops.stored_document(settings(), db, ex_id, out_path)
        if json_out:
            print_json({"exception": ex_id.upper(), "out": str(out_path), "bytes": n})
        else:
            out.print(f"{out_path}: {n:,} bytes, as received")


@app.command("open")
def open_cmd(
    type_: Annotated[str, typer.Option("--type", help="e.g. line-deviation, count-mismatch.")],
    reason: Annotated[str, typer.Option("--reason", help="What was seen, in words.")],
    severity: Annotated[
        str | None, typer.Option("--severity", help="minor, major or critical [type's default].")
    ] = None,
    identifier: Annotated[
        list[str] | None, typer.Option("--identifier", help="An EPC concerned (repeatable).")
    ] = None,
    origin: Annotated[
        str | None,
        typer.Option("--origin", help="line:NAME, partner:GLN, document:NAME or drill:ID."),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Open an exception by hand: a deviation seen on the line or in the warehouse."""
    with handled(json_out):
        seq = ops.open_exception(
            settings(),
            db,
            type=type_,
            reason=reason,
            severity=severity,
            identifiers=identifier,
            origin=origin,
        )
        if json_out:
            print_json({"exception": f"EX-{seq}", "seq": seq, "status": "open"})
        else:
            out.print(f"EX-{seq} opened")


def _done(json_out: bool, ex_id: str, what: str, seq: int) -> None:
    if json_out:
        print_json({"exception": ex_id.upper(), "action": what, "seq": seq})
    else:
        out.print(f"{ex_id.upper()}: {what} (log seq {seq})")


@app.command("assign")
def assign(
    ex_id: IdArg,
    to: Annotated[str, typer.Option("--to", help="The user who investigates.")],
    note: Annotated[str | None, typer.Option("--note", help="A note for them.")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Assign an exception to a user; it becomes investigating."""
    with handled(json_out):
        _done(
            json_out, ex_id, f"assigned to {to}", ops.assign(settings(), db, ex_id, to, note=note)
        )


@app.command("comment")
def comment(
    ex_id: IdArg,
    text: Annotated[str, typer.Argument(help="The comment.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a comment (a closed exception is locked: reopen it first)."""
    with handled(json_out):
        _done(json_out, ex_id, "comment added", ops.comment(settings(), db, ex_id, text))


@app.command("resolve")
def resolve(
    ex_id: IdArg,
    resolution: Annotated[str, typer.Option("--resolution", help="What was done about it.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record the resolution; the exception waits for a qa user to close it."""
    with handled(json_out):
        _done(json_out, ex_id, "resolved", ops.resolve(settings(), db, ex_id, resolution))


@app.command("close")
def close(
    ex_id: IdArg,
    justification: Annotated[
        str | None,
        typer.Option(
            "--justification",
            help="Why a major or critical exception needs no CAPA (your signature covers it).",
        ),
    ] = None,
    password_file: PasswordFileOpt = None,
    user: SignerOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Close a resolved exception (qa, not its resolver): an electronic signature over
    the exception as closed, your password re-entered."""
    with handled(json_out):
        password = read_password(password_file, "Password (signature): ")
        done = ops.close(
            settings(),
            db,
            ex_id,
            password=password,
            user_entered=signer_id(user),
            justification=justification,
        )
        if json_out:
            print_json(done.to_dict())
        else:
            s = done.signature
            out.print(f"{done.exception} closed; signed by {s.name} ({s.signer}) at {s.signed_at}")


@app.command("reopen")
def reopen(
    ex_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Why it is reopened.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Reopen a resolved or closed exception (qa); its earlier resolution stays on record."""
    with handled(json_out):
        _done(json_out, ex_id, "reopened", ops.reopen(settings(), db, ex_id, reason))
