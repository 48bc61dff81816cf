"""``serialvault backup full|incr|follow``: taking backups to every copy.

Each command reads its options, calls one operation of :mod:`serialvault.app.backup`
and renders the result; the catalog and planning commands are in their own modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from serialvault.app import backup as ops
from serialvault.backup.follow import Follower
from serialvault.backup.take import BackupResult
from serialvault.cli import backup_catalog_cmd, backup_plan_cmd
from serialvault.cli.backup_options import (
    CopyOpt,
    KeyOpt,
    PolicyOpt,
    SignOpt,
    ToOpt,
    options,
    phase_progress,
)
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    ReasonOpt,
    handled,
    kv,
    out,
    print_json,
    settings,
)
from serialvault.errors import BackupError

app = typer.Typer(
    help="Full and incremental backups to on-site and S3 copies; catalog and verification.",
    no_args_is_help=True,
)


def _show_backup(results: list[BackupResult], json_out: bool) -> int:
    docs = [r.to_dict() for r in results]
    failed = any(not r.ok for r in results)
    if json_out:
        print_json(docs[0] if len(docs) == 1 else docs)
    else:
        for d in docs:
            if d.get("id"):
                kv(
                    f"backup {d['id']}",
                    [
                        ("type", d["type"]),
                        ("parent", d["parent"]),
                        (
                            "seq",
                            f"{d['seq']['first']}..{d['seq']['last']} ({d['records']} records)",
                        ),
                        ("time", f"{d['time']['first']} .. {d['time']['last']}"),
                        ("chain head", d["chain_head"]),
                        ("fingerprint", d["fingerprint"] or "(not computed)"),
                        ("objects", d["objects"]),
                        ("bytes plain / stored", f"{d['bytes_plain']:,} / {d['bytes_stored']:,}"),
                        ("encrypted", d["encrypted"]),
                        ("duration", f"{d['duration_s']} s"),
                    ],
                )
            elif d.get("note"):
                out.print(d["note"])
            for w in d.get("warnings", []):
                out.print(f"[yellow]warning[/yellow]: {escape(w)}")
            if d.get("policy_version"):
                out.print(f"  policy: {escape(d['policy_version'])}")
            for c in d["copies"]:
                status = "ok" if c["ok"] else f"FAILED: {c['error']}"
                out.print(f"  copy {c['name']} ({c['url']}): {status}")
    return BackupError.exit_code if failed else 0


@app.command("full")
def backup_full(
    db: DbOpt = None,
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    key: KeyOpt = None,
    signing_key: SignOpt = None,
    check_projections: Annotated[
        bool,
        typer.Option(
            "--check-projections",
            help="Also replay the log into a scratch database and compare every projection"
            " row (R9): catches rows edited outside the log; costs a rebuild's replay.",
        ),
    ] = False,
    new_timeline: Annotated[
        bool,
        typer.Option(
            "--new-timeline",
            help="Record (with --reason) that the earlier backups this log no longer agrees"
            " with are abandoned on purpose, e.g. after a restore to an earlier point.",
        ),
    ] = False,
    reason: ReasonOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take a full backup: a consistent snapshot plus the whole log, to each copy.

    Refused (exit 8, an exception opened) when the log's chain does not verify from
    genesis or disagrees with a chain head an earlier backup recorded.
    """
    with handled(json_out):
        bar, on_phase = phase_progress(json_out)
        with bar:
            res = ops.full(
                settings(),
                db,
                options(policy, copy, to, key, signing_key),
                check_projections=check_projections,
                new_timeline=new_timeline,
                reason=reason,
                on_phase=on_phase,
            )
        code = _show_backup([res], json_out)
    raise typer.Exit(code)


@app.command("incr")
def backup_incr(
    db: DbOpt = None,
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    key: KeyOpt = None,
    signing_key: SignOpt = None,
    with_fp: Annotated[
        bool,
        typer.Option(
            "--fingerprint/--no-fingerprint",
            help="Also record the state fingerprint: a scan of every projection, so its cost"
            " grows with the repository, not with the change (fulls always record it).",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Take an incremental backup: the log records after each copy's newest backup."""
    with handled(json_out):
        bar, on_phase = phase_progress(json_out)
        with bar:
            res = ops.incremental(
                settings(),
                db,
                options(policy, copy, to, key, signing_key),
                with_fingerprint=with_fp,
                on_phase=on_phase,
            )
        code = _show_backup(res, json_out)
    raise typer.Exit(code)


@app.command("follow")
def backup_follow(
    db: DbOpt = None,
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    key: KeyOpt = None,
    signing_key: SignOpt = None,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            help="Most a record may wait before it is on every copy [policy follow.interval, 1s].",
        ),
    ] = None,
    for_: Annotated[
        str | None,
        typer.Option("--for", help="Stop after this long (e.g. 10m) [default: until SIGTERM]."),
    ] = None,
    status_file: Annotated[
        Path | None,
        typer.Option("--status", help="Status JSON file [policy follow.status_file]."),
    ] = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option("--metrics", help="Prometheus text-format file [policy follow.metrics_file]."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Continuous mode: ship new log records to every copy as small incrementals.

    Prints one line (one JSON document with --json) per shipment; writes the status file
    that `backup list` shows and, if asked, a metrics file for monitoring. SIGTERM or
    Ctrl-C ships what is waiting, then stops.
    """
    with handled(json_out):

        def on_event(ev: dict[str, Any]) -> None:
            if json_out:
                print_json(ev, compact=True)
            elif ev["event"] == "shipment":
                lag = ev["max_lag_s"]
                out.print(
                    f"{ev['done_at']} {ev['type']} {ev['id']}: seq {ev['seq']['first']}.."
                    f"{ev['seq']['last']} ({ev['records']} records, {ev['bytes_stored']:,} bytes)"
                    f" to {', '.join(ev['copies']) or 'no copy'}"
                    + (f", lag {lag:.3f} s" if lag is not None else "")
                )
                for name, err in ev["errors"].items():
                    out.print(f"  [red]copy {name} FAILED[/red]: {err}")
            else:
                out.print(f"{ev['at']} [red]copy {ev['copy']} FAILED[/red]: {ev['error']}")

        def on_start(follower: Follower) -> None:
            if not json_out:
                out.print(
                    f"following {follower.repo.display_url} to"
                    f" {', '.join(c.copy.name for c in follower.copies)}"
                    f" (interval {follower.interval:g} s); status in {follower.status_path}"
                )

        st = ops.follow(
            settings(),
            db,
            options(policy, copy, to, key, signing_key),
            interval=interval,
            for_=for_,
            status_file=status_file,
            metrics_file=metrics_file,
            on_event=on_event,
            on_start=on_start,
        )
        if json_out:
            print_json({"event": "stopped", **st}, compact=True)
        else:
            for c in st["copies"]:
                state = "ok" if not c["error"] else f"FAILED: {c['error']}"
                out.print(
                    f"  copy {c['name']}: shipped to seq {c['shipped_seq']},"
                    f" {c['shipments']} incrementals, {c['fulls']} fulls,"
                    f" lag {c['lag_records']} records: {state}"
                )
        failed = any(c["error"] for c in st["copies"])
    raise typer.Exit(BackupError.exit_code if failed else 0)


app.command("inventory")(backup_plan_cmd.backup_inventory)
app.command("plan")(backup_plan_cmd.backup_plan)
app.command("list")(backup_catalog_cmd.backup_list)
app.command("verify")(backup_catalog_cmd.backup_verify)
app.command("prune")(backup_catalog_cmd.backup_prune)


policy_app = typer.Typer(
    help="The backup policy under change control.", no_args_is_help=True, add_completion=False
)
app.add_typer(policy_app, name="policy")


@policy_app.command("record")
def backup_policy_record(
    reason: Annotated[str, typer.Option("--reason", help="Why the policy changes.")],
    policy: PolicyOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Propose the policy file's current text as the next version (admin): a draft a qa
    user other than you approves; every backup notes the version it ran under."""
    with handled(json_out):
        c = ops.record_policy(settings(), db, policy, reason=reason)
        if json_out:
            print_json({"change_id": c.change_id, "status": c.status, "version": c.version})
        else:
            out.print(
                f"backup policy version {c.version} drafted as {c.change_id}; approve with"
                f" `serialvault change approve {c.change_id}`"
            )
