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


def events(
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="eventType (repeatable).")
    ] = None,
    since: Annotated[str | None, typer.Option("--from", help="GE_eventTime (RFC 3339).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="LT_eventTime (RFC 3339).")] = None,
    recorded_from: Annotated[
        str | None, typer.Option("--recorded-from", help="GE_recordTime.")
    ] = None,
    recorded_to: Annotated[str | None, typer.Option("--recorded-to", help="LT_recordTime.")] = None,
    action: Annotated[list[str] | None, typer.Option("--action", help="EQ_action.")] = None,
    biz_step: Annotated[list[str] | None, typer.Option("--biz-step", help="EQ_bizStep.")] = None,
    disposition: Annotated[
        list[str] | None, typer.Option("--disposition", help="EQ_disposition.")
    ] = None,
    biz_location: Annotated[
        list[str] | None, typer.Option("--biz-location", help="EQ_bizLocation.")
    ] = None,
    read_point: Annotated[
        list[str] | None, typer.Option("--read-point", help="EQ_readPoint.")
    ] = None,
    event_id: Annotated[list[str] | None, typer.Option("--event-id", help="EQ_eventID.")] = None,
    epc: Annotated[
        list[str] | None, typer.Option("--epc", help="MATCH_epc (epcList, childEPCs).")
    ] = None,
    parent: Annotated[list[str] | None, typer.Option("--parent", help="MATCH_parentID.")] = None,
    any_epc: Annotated[
        list[str] | None,
        typer.Option(
            "--any-epc", help="MATCH_anyEPC (any list, parent, children, inputs, outputs)."
        ),
    ] = None,
    via: Annotated[
        bool,
        typer.Option("--via", help="Also match events that reached the EPC through its container."),
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="eventCountLimit.")] = None,
    desc: Annotated[bool, typer.Option("--desc", help="Newest first.")] = False,
    full: Annotated[
        bool,
        typer.Option("--full", help="Output the events themselves as an EPCIS query document."),
    ] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Events filtered like the EPCIS 2.0 query interface (SimpleEventQuery)."""
    with handled(json_out):
        match: dict[str, list[str]] = {}
        if epc:
            match["MATCH_epc"] = epc
        if parent:
            match["MATCH_parentID"] = parent
        if any_epc:
            match["MATCH_anyEPC"] = any_epc
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
        rows = view.rows
        if full or json_out:
            print_json(view.to_dict())
            return
        table(
            f"{len(rows)} events",
            [
                "seq",
                "event time (UTC)",
                "type",
                "action",
                "bizStep",
                "disposition",
                "EPCs",
                "eventID",
            ],
            [
                [
                    r["seq"],
                    r["event_time"],
                    r["event_type"],
                    r["action"],
                    r["biz_step"],
                    r["disposition"],
                    r["epc_count"],
                    r["event_id"],
                ]
                for r in rows
            ],
        )
