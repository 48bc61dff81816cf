"""``serialvault capa new|list|show|update|close|overdue`` — corrective and preventive
actions linked to exceptions and drills (ICH Q10 §3.2.2)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from serialvault.app import capa as ops
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
from serialvault.errors import IntegrityFailure, UsageError

app = make_app(
    "CAPA: problem, root cause, corrective and preventive actions (owner, due date),"
    " effectiveness check; closed with a qa signature."
)

IdArg = Annotated[str, typer.Argument(help="A CAPA id, e.g. CAPA-40.")]
ExcOpt = Annotated[
    list[str] | None, typer.Option("--exception", help="An exception it answers (repeatable).")
]
DrillOpt = Annotated[
    list[str] | None, typer.Option("--drill", help="A drill run it answers (repeatable).")
]


@app.command("new")
def new(
    title: Annotated[str, typer.Option("--title", help="A short name of the problem.")],
    problem: Annotated[str, typer.Option("--problem", help="The problem statement.")],
    root_cause: Annotated[
        str | None, typer.Option("--root-cause", help="The root cause, when known.")
    ] = None,
    exception: ExcOpt = None,
    drill: DrillOpt = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Who owns the CAPA [default: you].")
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Open a CAPA (qa)."""
    with handled(json_out):
        c = ops.new(
            settings(),
            db,
            title=title,
            problem=problem,
            root_cause=root_cause,
            exceptions=exception,
            drills=drill,
            owner=owner,
        )
        if json_out:
            print_json(c)
        else:
            linked = ", ".join(c["exceptions"] + c["drills"])
            out.print(f"{c['capa']} opened" + (f"; answers {linked}" if linked else ""))


@app.command("list")
def list_cmd(
    status: Annotated[
        str | None, typer.Option("--status", help="open, effectiveness-check or closed.")
    ] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every CAPA: id, status, owner, next due date, overdue items, links."""
    with handled(json_out):
        rows = ops.list_capas(settings(), db, status=status)
        if json_out:
            print_json(rows)
            return
        _table("CAPA", rows)


def _table(title: str, rows: list[dict[str, Any]]) -> None:
    table(
        title,
        ["id", "status", "title", "owner", "next due", "overdue", "answers"],
        [
            [
                r["capa"],
                r["status"],
                r["title"],
                r["owner"],
                dash(r["next_due"]),
                len(r["overdue"]) or "",
                ", ".join(r["exceptions"] + r["drills"]),
            ]
            for r in rows
        ],
    )


@app.command("overdue")
def overdue(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Open CAPAs with an action or effectiveness check past its due date (exit 0 either
    way; the list is the answer)."""
    with handled(json_out):
        rows = ops.overdue(settings(), db)
        if json_out:
            print_json(rows)
            return
        if not rows:
            out.print("no CAPA is overdue")
            return
        _table("overdue CAPA", rows)
        for r in rows:
            for item in r["overdue"]:
                out.print(f"{r['capa']}: {item}")


@app.command("show")
def show(capa_id: IdArg, db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """One CAPA whole: problem, root cause, actions, effectiveness, versions, signatures."""
    with handled(json_out):
        c = ops.show(settings(), db, capa_id)
        if json_out:
            print_json(c)
        else:
            eff = c["effectiveness"]
            kv(
                f"{c['capa']} — {c['title']}",
                [
                    ("status", c["phase"]),
                    ("owner", c["owner"]),
                    ("opened", f"{c['opened_at']} by {c['opened_by']}"),
                    ("problem", c["problem"]),
                    ("root cause", dash(c["root_cause"])),
                    ("answers", dash(", ".join(c["exceptions"] + c["drills"]))),
                    ("effectiveness plan", dash(eff["plan"])),
                    ("effectiveness due", dash(eff["due"])),
                    (
                        "effectiveness result",
                        dash(eff["result"])
                        + ("" if eff["effective"] is None else f" (effective: {eff['effective']})"),
                    ),
                    ("version", c["version"]),
                ],
            )
            if c["actions"]:
                table(
                    "actions",
                    ["id", "kind", "action", "owner", "due", "done"],
                    [
                        [
                            a["id"],
                            a["kind"],
                            a["text"],
                            a["owner"],
                            a["due"],
                            f"{a['done_at']} by {a['done_by']}" if a["done_at"] else "",
                        ]
                        for a in c["actions"]
                    ],
                )
            for item in c["overdue"]:
                out.print(f"[red]overdue:[/] {item}")
            show_signatures(c["signatures"], "the CAPA as closed")
    if any(not s["verified"] for s in c["signatures"]):
        raise typer.Exit(IntegrityFailure.exit_code)


@app.command("update")
def update(
    capa_id: IdArg,
    root_cause: Annotated[str | None, typer.Option("--root-cause", help="The root cause.")] = None,
    corrective: Annotated[
        str | None,
        typer.Option("--corrective", help="Add a corrective action (with --owner, --due)."),
    ] = None,
    preventive: Annotated[
        str | None,
        typer.Option("--preventive", help="Add a preventive action (with --owner, --due)."),
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="The new action's owner.")] = None,
    due: Annotated[
        str | None, typer.Option("--due", help="The new action's due date (YYYY-MM-DD).")
    ] = None,
    done: Annotated[
        list[str] | None,
        typer.Option("--done", help="Mark an action done, e.g. CA-1 (repeatable)."),
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="A note on the actions marked done.")
    ] = None,
    effectiveness_plan: Annotated[
        str | None, typer.Option("--effectiveness-plan", help="How effectiveness will be checked.")
    ] = None,
    effectiveness_due: Annotated[
        str | None, typer.Option("--effectiveness-due", help="When (YYYY-MM-DD).")
    ] = None,
    effectiveness_result: Annotated[
        str | None, typer.Option("--effectiveness-result", help="What the check found.")
    ] = None,
    effective: Annotated[
        bool | None,
        typer.Option("--effective/--not-effective", help="The check's verdict."),
    ] = None,
    exception: ExcOpt = None,
    drill: DrillOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a CAPA: a new version (qa; an action's owner may mark their action done)."""
    with handled(json_out):
        if (corrective or preventive) and not (owner and due):
            raise UsageError("a new action needs --owner USER and --due YYYY-MM-DD")
        if corrective and preventive:
            raise UsageError("add one action per update: --corrective or --preventive")
        if (owner or due) and not (corrective or preventive):
            raise UsageError("--owner and --due go with --corrective or --preventive")
        u = ops.Update(
            root_cause=root_cause,
            corrective=[(corrective, str(owner), str(due))] if corrective else None,
            preventive=[(preventive, str(owner), str(due))] if preventive else None,
            done=done,
            note=note,
            effectiveness_plan=effectiveness_plan,
            effectiveness_due=effectiveness_due,
            effectiveness_result=effectiveness_result,
            effective=effective,
            exceptions=exception,
            drills=drill,
        )
        c = ops.update(settings(), db, capa_id, u)
        if json_out:
            print_json(c)
        else:
            out.print(f"{c['capa']} updated")


@app.command("close")
def close(
    capa_id: IdArg,
    password_file: PasswordFileOpt = None,
    user: SignerOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Close a CAPA whose effectiveness check is recorded as effective: a qa electronic
    signature over the CAPA as closed, your password re-entered."""
    with handled(json_out):
        password = read_password(password_file, "Password (signature): ")
        c = ops.close(settings(), db, capa_id, password=password, user_entered=signer_id(user))
        if json_out:
            print_json(c)
        else:
            out.print(f"{c['capa']} closed; signature seq {c['closure']['signature_seq']}")
