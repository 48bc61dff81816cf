"""``serialvault rework unpack|repack|replace|decommission`` — rework as EPCIS events,
captured through the normal pipeline and linked to the exception they answer."""

from __future__ import annotations

from typing import Annotated

import typer

from serialvault.app import rework as ops
from serialvault.app.rework import Reworked
from serialvault.cli.common import DbOpt, JsonOpt, err, handled, make_app, out, print_json, settings

app = make_app(
    "Rework on the line: unpack, repack, replace a damaged unit, decommission — each the"
    " EPCIS events a line system writes, under every capture rule."
)

ExcOpt = Annotated[
    str | None, typer.Option("--exception", help="The exception this rework answers (EX-n).")
]
ChildOpt = Annotated[list[str] | None, typer.Option("--child", help="An EPC (repeatable).")]


def _show(done: Reworked, json_out: bool) -> None:
    if json_out:
        print_json(done.to_dict())
        return
    for e in done.to_dict()["events"]:
        what = e.get("parentID") or ", ".join(e.get("epcList", []))
        kids = e.get("childEPCs")
        out.print(
            f"{e['type']} {e['action']} {e['bizStep']}"
            + (f" / {e['disposition']}" if e["disposition"] else "")
            + f": {what}"
            + (f" ← {len(kids)} child(ren)" if kids else "")
        )
    out.print(
        f"{done.operation}: events recorded at log seq {done.first_seq}–{done.last_seq}"
        + (f"; linked to {done.exception}" if done.exception else "")
    )
    for w in done.warnings:
        err.print(f"[yellow]warning:[/] {w}")


@app.command("unpack")
def unpack(
    container: Annotated[
        str, typer.Argument(help="The case or pallet (SSCC, URN or element string).")
    ],
    child: ChildOpt = None,
    exception: ExcOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take children (default: all) out of a container: AggregationEvent DELETE, unpacking."""
    with handled(json_out):
        _show(ops.unpack(settings(), db, container, children=child, exception=exception), json_out)


@app.command("repack")
def repack(
    into: Annotated[str, typer.Option("--into", help="The container to pack into.")],
    child: Annotated[list[str], typer.Option("--child", help="An EPC to pack (repeatable).")],
    exception: ExcOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Pack children into a container (a new SSCC is commissioned first): AggregationEvent
    ADD, packing."""
    with handled(json_out):
        _show(ops.repack(settings(), db, into, child, exception=exception), json_out)


@app.command("replace")
def replace(
    old: Annotated[str, typer.Option("--old", help="The damaged unit in its case.")],
    new: Annotated[str, typer.Option("--new", help="The unit that takes its place.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why the old unit leaves: damaged, destroyed, sample, …")
    ] = "damaged",
    exception: ExcOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Replace a unit in its case: unpack and decommission the old one, pack the new
    one (commissioned with the old one's lot and expiry if it is not yet)."""
    with handled(json_out):
        _show(ops.replace(settings(), db, old, new, reason=reason, exception=exception), json_out)


@app.command("decommission")
def decommission(
    epc: Annotated[str, typer.Argument(help="The unit or container.")],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="damaged, destroyed (takes a container's contents with it), sample, expired,"
            " recalled, stolen or other.",
        ),
    ],
    exception: ExcOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take a unit or container out of the supply chain: ObjectEvent DELETE."""
    with handled(json_out):
        _show(ops.decommission(settings(), db, epc, reason=reason, exception=exception), json_out)
