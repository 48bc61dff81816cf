"""``serialvault backup inventory|plan``: what must be backed up, and the schedule that
meets the RPO and RTO from measured figures (Annex 11 §7.1; PIC/S PI 041 §5.21)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from serialvault.app import backup as ops
from serialvault.cli.backup_options import (
    CopyOpt,
    PolicyOpt,
    PubOpt,
    ToOpt,
    WindowOpt,
    human_bytes,
    options,
)
from serialvault.cli.common import DbOpt, JsonOpt, handled, kv, out, print_json, settings, table
from serialvault.errors import PlanWarning


def backup_inventory(
    db: DbOpt = None,
    policy: PolicyOpt = None,
    window: WindowOpt = "7d",
    json_out: JsonOpt = False,
) -> None:
    """The critical data kinds: counts, bytes and growth per day (what backups must hold)."""
    with handled(json_out):
        inv = ops.inventory(settings(), db, policy=policy, window=window)
        if json_out:
            print_json(inv)
            return
        table(
            f"{inv['repository']} ({inv['engine']}): seq {inv['head_seq']},"
            f" {inv['units']:,} units, database {human_bytes(inv['database_bytes'])}",
            ["data kind", "log records", "log bytes", "rows", "on disk", "growth/day"],
            [
                [
                    k["kind"],
                    f"{k['log_records']:,}",
                    human_bytes(k["log_bytes"]),
                    ", ".join(f"{t} {n:,}" for t, n in k["tables"].items()),
                    human_bytes(k["stored_bytes"]),
                    f"{k['growth_per_day']['records']:,.0f} rec,"
                    f" {human_bytes(k['growth_per_day']['bytes'])}",
                ]
                for k in inv["kinds"]
            ],
        )
        out.print(
            f"growth averaged over {inv['window_days']:g} days:"
            f" {inv['growth_per_day']['records']:,.0f} records/day,"
            f" {human_bytes(inv['growth_per_day']['bytes'])}/day;"
            f" peak {inv['peak_records_per_minute']:,} records in one minute"
        )
        for n in inv["notes"]:
            out.print(f"note: {escape(n)}")


def backup_plan(
    rpo: Annotated[str, typer.Option("--rpo", help="Recovery point objective, e.g. 15m.")],
    rto: Annotated[str, typer.Option("--rto", help="Recovery time objective, e.g. 4h.")],
    db: DbOpt = None,
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    public_key: PubOpt = None,
    window: WindowOpt = "7d",
    check: Annotated[
        bool, typer.Option("--check", help="Exit 12 when any warning stands (for monitoring).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Recommend an incremental interval and full cadence for RPO/RTO, with storage and warnings."""
    with handled(json_out):
        plan = ops.plan(
            settings(),
            db,
            options(policy, copy, to, public_key=public_key),
            rpo=rpo,
            rto=rto,
            window=window,
        )
        if json_out:
            print_json(plan)
        else:
            rec, meas, sto = plan["recommended"], plan["measured"], plan["storage_per_copy"]
            restore = meas["restore"]
            last_restore = (
                "none"
                if restore is None
                else f"{restore['total_s']} s ({restore['at']}, into {restore['target_engine']})"
            )
            predicted = plan["restore_prediction"]["end_of_recommended_chain"]
            kv(
                f"backup plan for RPO {rpo} and RTO {rto}",
                [
                    (
                        "measured write rate",
                        f"{meas['records_per_day']:,.0f} records/day,"
                        f" {human_bytes(meas['log_bytes_per_day'])}/day",
                    ),
                    ("peak", f"{meas['peak_records_per_minute']:,} records/minute"),
                    ("last measured restore", last_restore),
                    ("recommended mode", rec["mode"]),
                    ("incremental interval", rec["incremental_interval"]),
                    ("full every", rec["full_every"]),
                    ("worst-case loss", f"{rec['worst_case_loss_s']} s"),
                    (
                        "restore predicted (end of chain)",
                        "-" if predicted is None else f"{predicted['total_s']} s",
                    ),
                    (
                        "storage per copy",
                        f"{human_bytes(sto['held_bytes'])} held"
                        f" ({sto['chains_kept']} chains),"
                        f" {human_bytes(sto['written_per_month_bytes'])} written per month",
                    ),
                    ("all copies", human_bytes(plan["storage_all_copies_held_bytes"])),
                ],
            )
            if rec["command"]:
                out.print(f"run: {rec['command']}")
            for w in plan["warnings"]:
                out.print(f"[yellow]warning[/yellow]: {escape(w)}")
            for n in plan["notes"]:
                out.print(f"note: {escape(n)}")
    if check and not plan["ok"]:
        raise typer.Exit(PlanWarning.exit_code)
