"""``serialvault change list|show|approve|reject`` — change control of controlled objects."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from serialvault.app import changes as ops
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    PasswordFileOpt,
    ReasonOpt,
    SignerOpt,
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
    "Change control: products, locations, trading partners, the password and session"
    " policy, drill plans, the backup policy move draft → approved (effective from a"
    " time) | rejected."
)


@app.command("list")
def list_cmd(
    status: Annotated[
        str | None,
        typer.Option("--status", help="draft, approved, effective or rejected."),
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every change: id, status, author, object, version, why."""
    with handled(json_out):
        rows = ops.list_changes(settings(), db, status=status)
        if json_out:
            print_json(rows)
            return
        table(
            "changes",
            ["id", "status", "object", "version", "author", "reason", "decided by"],
            [
                [
                    r["id"],
                    r["status"],
                    r["object"],
                    r["version"],
                    r["author"],
                    r["reason"],
                    r["decided_by"] or "",
                ]
                for r in rows
            ],
        )


def _fmt(v: Any) -> str:
    return "-" if v is None else str(v)


@app.command("show")
def show(
    change_id: Annotated[str, typer.Argument(help="A change id, e.g. CR-42.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One change: what, before and after (the diff), why, who, its signatures —
    each verified against the change's content."""
    with handled(json_out):
        view = ops.show(settings(), db, change_id)
        d = view.to_dict()
        if json_out:
            print_json(d)
        else:
            kv(
                f"change {d['id']}",
                [
                    ("object", d["object"]),
                    ("version", d["version"]),
                    ("status", d["status"]),
                    ("author", d["author"]),
                    ("reason", d["reason"]),
                    ("created at", d["created_at"]),
                    ("decided by", _fmt(d["decided_by"])),
                    ("effective from", _fmt(d["effective_from"])),
                    ("SHA-256", d["sha256"]),
                ],
            )
            table(
                "diff",
                ["field", "before", "after"],
                [[x["field"], _fmt(x["before"]), _fmt(x["after"])] for x in d["diff"]],
            )
            show_signatures(view.signatures, "the change's content")
    if any(not s["verified"] for s in view.signatures):
        raise typer.Exit(IntegrityFailure.exit_code)


@app.command("approve")
def approve(
    change_ids: Annotated[
        list[str],
        typer.Argument(help="The draft(s) to approve: several are one act of signing."),
    ],
    meaning: Annotated[str, typer.Option("--meaning", help="The signature's meaning.")] = (
        "approved"
    ),
    effective_from: Annotated[
        str | None,
        typer.Option("--effective-from", help="UTC time it takes effect [default: now]."),
    ] = None,
    password_file: PasswordFileOpt = None,
    user: SignerOpt = None,
    db: DbOpt = None,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Approve drafts as the logged-in qa user (not their author): an electronic
    signature per change, your password re-entered once; all or none."""
    with handled(json_out):
        password = read_password(password_file, "Password (signature): ")
        done = ops.approve_all(
            settings(),
            db,
            change_ids,
            password=password,
            user_entered=signer_id(user),
            meaning=meaning,
            effective_from=effective_from,
            reason=reason,
        )
        if json_out:
            rows = [
                {**c.to_dict(c.effective_from or ""), "signature": sig.to_dict()} for c, sig in done
            ]
            print_json(rows[0] if len(rows) == 1 else rows)
            return
        for c, sig in done:
            out.print(
                f"{c.change_id} approved by {sig.name} ({sig.signer}) at {sig.signed_at};"
                f" effective from {c.effective_from}"
            )


@app.command("reject")
def reject(
    change_id: Annotated[str, typer.Argument(help="The draft to reject.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is refused.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Reject a draft (qa), saying why; it never takes effect."""
    with handled(json_out):
        c = ops.reject(settings(), db, change_id, reason=reason)
        if json_out:
            print_json(c.to_dict(""))
        else:
            out.print(f"{c.change_id} rejected by {c.decided_by}: {c.decision_reason}")
