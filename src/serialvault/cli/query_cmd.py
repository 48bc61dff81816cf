"""Queries: ``unit``, ``contents``, ``ancestors``, ``events``."""

from __future__ import annotations

from typing import Annotated

import typer

from serialvault.app import query as ops
from serialvault.cli.common import DbOpt, JsonOpt, handled, kv, out, print_json, settings, table
from serialvault.store.queries import EventQuery


def unit(
    epc: Annotated[
        str, typer.Argument(help="EPC URN, GS1 Digital Link, or element string (01)…(21)…")
    ],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A unit's current state and its full history."""
    with handled(json_out):
        view = ops.unit(settings(), db, epc)
        if json_out:
            print_json(view.to_dict())
            return
        kv(f"unit {view.key}", list(view.state.items()))
        table(
            "history",
            ["seq", "event time (UTC)", "type", "action", "bizStep", "disposition", "role", "note"],
            [
                [
                    h["seq"],
                    h["event_time"],
                    h["event_type"],
                    h["action"],
                    h["biz_step"],
                    h["disposition"],
                    h["role"],
                    f"declared erroneous (seq {h['declared_by_seq']})"
                    if h["declared_by_seq"]
                    else "",
                ]
                for h in view.history
            ],
        )


def contents(
    epc: Annotated[str, typer.Argument(help="The container (SSCC or SGTIN).")],
    depth: Annotated[int | None, typer.Option("--depth", help="Stop at this depth.")] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Only counts per depth, kind and status.")
    ] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Everything inside a container, at any depth."""
    with handled(json_out):
        view = ops.contents(settings(), db, epc, depth, summary)
        rows, key = view.rows, view.container
        if json_out:
            print_json(view.to_dict())
            return
        if summary:
            table(
                f"contents of {key}: {len(rows)} identifiers",
                ["depth", "kind", "status", "count"],
                [list(g) for g in view.groups()],
            )
            return
        table(
            f"contents of {key}",
            ["depth", "key", "kind", "GTIN", "status", "lot", "expiry", "parent"],
            [
                [
                    r[c]
                    for c in ("depth", "key", "kind", "gtin", "status", "lot", "expiry", "parent")
                ]
                for r in rows
            ],
        )
        out.print(
            f"{len(rows)} identifiers: "
            + ", ".join(f"depth {d}: {n}" for d, n in view.by_depth().items())
        )


def ancestors(
    epc: Annotated[str, typer.Argument(help="The unit.")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The containers around a unit, innermost first."""
    with handled(json_out):
        view = ops.ancestors(settings(), db, epc)
        if json_out:
            print_json(view.to_dict())
            return
        table(
            f"ancestors of {view.unit}",
            ["depth", "key", "kind", "status"],
            [[r["depth"], r["key"], r["kind"], r["status"]] for r in view.ancestors],
        )


ManyTypes = Annotated[list[str] | None, typer.Option("--type", help="eventType (repeatable).")]
SinceOpt = Annotated[str | None, typer.Option("--from", help="GE_eventTime (RFC 3339).")]
UntilOpt = Annotated[str | None, typer.Option("--to", help="LT_eventTime (RFC 3339).")]
RecordedFromOpt = Annotated[str | None, typer.Option("--recorded-from", help="GE_recordTime.")]
RecordedToOpt = Annotated[str | None, typer.Option("--recorded-to", help="LT_recordTime.")]
ActionOpt = Annotated[list[str] | None, typer.Option("--action", help="EQ_action.")]
BizStepOpt = Annotated[list[str] | None, typer.Option("--biz-step", help="EQ_bizStep.")]
DispositionOpt = Annotated[list[str] | None, typer.Option("--disposition", help="EQ_disposition.")]
BizLocationOpt = Annotated[list[str] | None, typer.Option("--biz-location", help="EQ_bizLocation.")]
ReadPointOpt = Annotated[list[str] | None, typer.Option("--read-point", help="EQ_readPoint.")]
EventIdOpt = Annotated[list[str] | None, typer.Option("--event-id", help="EQ_eventID.")]
EpcOpt = Annotated[list[str] | None, typer.Option("--epc", help="MATCH_epc (epcList, childEPCs).")]
ParentOpt = Annotated[list[str] | None, typer.Option("--parent", help="MATCH_parentID.")]
AnyEpcOpt = Annotated[
    list[str] | None,
    typer.Option("--any-epc", help="MATCH_anyEPC (any list, parent, children, inputs, outputs)."),
]
ViaOpt = Annotated[
    bool,
    typer.Option("--via", help="Also match events that reached the EPC through its container."),
]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="eventCountLimit.")]
DescOpt = Annotated[bool, typer.Option("--desc", help="Newest first.")]
FullOpt = Annotated[
    bool, typer.Option("--full", help="Output the events themselves as an EPCIS query document.")
]
EVENT_COLUMNS = [
    ("seq", "seq"),
    ("event time (UTC)", "event_time"),
    ("type", "event_type"),
    ("action", "action"),
    ("bizStep", "biz_step"),
    ("disposition", "disposition"),
    ("EPCs", "epc_count"),
    ("eventID", "event_id"),
]


def events(
    event_type: ManyTypes = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    recorded_from: RecordedFromOpt = None,
    recorded_to: RecordedToOpt = None,
    action: ActionOpt = None,
    biz_step: BizStepOpt = None,
    disposition: DispositionOpt = None,
    biz_location: BizLocationOpt = None,
    read_point: ReadPointOpt = None,
    event_id: EventIdOpt = None,
    epc: EpcOpt = None,
    parent: ParentOpt = None,
    any_epc: AnyEpcOpt = None,
    via: ViaOpt = False,
    limit: LimitOpt = None,
    desc: DescOpt = False,
    full: FullOpt = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Events filtered like the EPCIS 2.0 query interface (SimpleEventQuery)."""
    with handled(json_out):
        match = {
            name: values
            for name, values in (
                ("MATCH_epc", epc),
                ("MATCH_parentID", parent),
                ("MATCH_anyEPC", any_epc),
            )
            if values
        }
        q = EventQuery(
            event_types=event_type or (),
            ge_event_time=since,
            lt_event_time=until,
            ge_record_time=recorded_from,
            lt_record_time=recorded_to,
            actions=action or (),
            biz_steps=biz_step or (),
            dispositions=disposition or (),
            biz_locations=biz_location or (),
            read_points=read_point or (),
            event_ids=event_id or (),
            match=match,
            include_via=via,
            order_desc=desc,
            limit=limit,
        )
        view = ops.events(settings(), db, q, full)
        if full or json_out:
            print_json(view.to_dict())
            return
        table(
            f"{len(view.rows)} events",
            [title for title, _ in EVENT_COLUMNS],
            [[r[key] for _, key in EVENT_COLUMNS] for r in view.rows],
        )
