"""``serialvault backup list|verify|prune``: the catalog of every copy, its
verification (Annex 11 §7.1: integrity and accuracy of backed-up data checked) and
retention."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from serialvault.app import backup as ops
from serialvault.cli.backup_options import (
    CopyOpt,
    KeyOpt,
    PolicyOpt,
    PubOpt,
    ToOpt,
    human_age,
    options,
)
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    handled,
    out,
    print_json,
    progress,
    settings,
    table,
)


def backup_list(
    db: DbOpt = None,
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    public_key: PubOpt = None,
    status_file: Annotated[
        Path | None,
        typer.Option("--status", help="A follower's status file [policy follow.status_file]."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Every copy's backup chains, sizes, ages, the RPO exposure now, and the follower's lag."""
    with handled(json_out):
        cat = ops.catalog(
            settings(),
            db,
            options(policy, copy, to, public_key=public_key),
            status_file=status_file,
        )
        _show_catalog(cat.copies, cat.follower, json_out, cat.to_dict())
    if cat.exit_code:
        raise typer.Exit(cat.exit_code)


def _show_catalog(
    docs: list[dict[str, Any]], follower: dict[str, Any] | None, json_out: bool, whole: Any
) -> None:
    if json_out:
        print_json(whole)
        return
    for d in docs:
        if "error" in d:
            out.print(f"[bold]{d['copy']}[/bold]: [red]{d['error']}[/red]")
            continue
        rows = [
            [
                b["id"],
                b["type"],
                f"{b['seq'][0]}..{b['seq'][1]}",
                b["records"],
                f"{b['bytes_stored']:,}",
                human_age(b["age_s"]),
                "yes" if b["encrypted"] else "no",
            ]
            for ch in d["chains"]
            for b in ch["backups"]
        ]
        table(
            f"{d['copy']} — {d['url']} ({d['backups']} backups, {d['bytes_stored']:,} bytes)",
            ["id", "type", "seq", "records", "bytes", "age", "encrypted"],
            rows,
        )
        exp = d["rpo_exposure"]
        if exp:
            out.print(
                f"  RPO exposure now: {exp['records']} records, {exp['seconds']} s"
                f" since the newest backed-up record (seq {exp['newest_backed_up_seq']})"
            )
        for p in d["problems"]:
            out.print(f"  [red]{p['code']}[/red]: {p['message']}")
    if follower is not None:
        state = "running" if follower["running"] else "[red]not running[/red]"
        out.print(
            f"follower (pid {follower['pid']}, {follower['path']}): {state}, last update"
            f" {human_age(follower['updated_age_s'])} ago"
        )
        for c in follower["copies"]:
            lag = c["lag_seconds"]
            out.print(
                f"  {c['name']}: lag {c['lag_records']} records"
                + (f", {lag} s" if lag is not None else "")
                + (f" [red]— {c['error']}[/red]" if c["error"] else "")
            )


def backup_verify(
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    key: KeyOpt = None,
    public_key: PubOpt = None,
    db: DbOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Read, hash, decrypt and chain-check every object.")
    ] = False,
    subset: Annotated[
        str | None, typer.Option("--subset", help="Full check of share n of t, e.g. 3/7.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check copies, and compare them with each other, their past and the witness; exit 8
    on any finding (a rolled-back copy, a fork and mixed repositories included), 10 when a
    copy could not be used at all (unreachable, or holding nothing)."""
    with handled(json_out):
        bar = progress(json_out)
        with bar:
            tasks: dict[str, Any] = {}

            def tick(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(f"verify {name}", total=total)
                bar.update(tasks[name], completed=done, total=total)

            run = ops.verify_copies(
                settings(),
                db,
                options(policy, copy, to, key, public_key=public_key),
                full=full,
                subset=subset,
                on_progress=tick,
            )
        if json_out:
            print_json(run.to_dict())
        else:
            for r in run.reports:
                state = (
                    "[green]clean[/green]" if r.ok else f"[red]{len(r.findings)} finding(s)[/red]"
                )
                out.print(
                    f"{r.copy} ({r.url}): {r.mode} check, {r.backups} backups, {r.objects}"
                    f" objects, {r.objects_read} read ({r.bytes_read:,} bytes): {state}"
                )
                for f in r.findings:
                    out.print(f"  {f.code}: {escape(f.message)}")
                for n in r.notes:
                    out.print(f"  note: {escape(n)}")
                if r.coverage:
                    cov = r.coverage
                    out.print(
                        f"  coverage of {cov['shares']} share(s): checked {cov['shares_checked']},"
                        f" {cov['objects_unverified']} of {cov['objects']} objects not yet"
                        " verified"
                        + (
                            f"; all verified since {cov['all_verified_since']}"
                            if cov["complete"]
                            else ""
                        )
                    )
                if r.check_record is None:
                    out.print("  (no check record left: no signing key here)")
    if run.exit_code:  # the findings are the output (one JSON document with --json)
        raise typer.Exit(run.exit_code)


def backup_prune(
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    to: ToOpt = None,
    public_key: PubOpt = None,
    keep_fulls: Annotated[
        int | None, typer.Option("--keep-fulls", help="Newest chains kept [policy].")
    ] = None,
    keep_days: Annotated[
        float | None, typer.Option("--keep-days", help="Keep chains younger than this [policy].")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, delete nothing.")] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Apply retention: remove whole chains the policy no longer keeps (an admin of the
    repository the backups serve; a dry run needs no account)."""
    with handled(json_out):
        reports = ops.prune(
            settings(),
            options(policy, copy, to, public_key=public_key),
            db=db,
            keep_fulls=keep_fulls,
            keep_days=keep_days,
            dry_run=dry_run,
        )
        if json_out:
            print_json({"copies": [r.to_dict() for r in reports]})
            return
        for r in reports:
            verb = "would remove" if r.dry_run else "removed"
            out.print(
                f"{r.copy}: kept {len(r.kept)} backups, {verb} {len(r.removed)}"
                f" ({r.objects_deleted} objects, {r.bytes_freed:,} bytes);"
                f" {r.unreferenced_objects} unreferenced objects left alone"
            )
            for b in r.removed:
                out.print(f"  {verb} {b}")
