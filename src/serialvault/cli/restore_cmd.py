"""``serialvault restore``: a repository from what all copies hold, never silently older
than the newest backup known (exit 14 names what is missing)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from serialvault.app import restore as ops
from serialvault.cli.backup_options import KeyOpt, PolicyOpt, PubOpt, phase_progress
from serialvault.cli.common import (
    JsonOpt,
    PasswordFileOpt,
    handled,
    kv,
    out,
    print_json,
    read_password,
    settings,
)


def restore(
    into: Annotated[
        str, typer.Option("--into", help="Target: a SQLite path or postgresql:// URL.")
    ],
    from_: Annotated[
        list[str] | None,
        typer.Option("--from", help="Copy name or URL (repeatable; others are fallbacks)."),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Recovery point: a seq, or a UTC timestamp.")
    ] = None,
    backup: Annotated[str | None, typer.Option("--backup", help="Restore this backup id.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan, fetch and verify only.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty target.")] = False,
    policy: PolicyOpt = None,
    key: KeyOpt = None,
    public_key: PubOpt = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="SERIALVAULT_DB",
            help="The live repository, if reachable: its witness file is consulted"
            " [default: SERIALVAULT_DB or ./serialvault.db].",
            show_default=False,
        ),
    ] = None,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="When the live repository is gone: your admin user id, checked with your"
            " password against the accounts in the backup before the restore is usable.",
        ),
    ] = None,
    password_file: PasswordFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Restore a repository from what all copies hold, to the newest or a given point.

    Without --at or --backup, the point is the newest backup any copy, checkpoint, check
    record or witness file knows of; when no copy can serve it, the restore fails (exit
    14) and names what is missing rather than going back in time.
    """
    with handled(json_out):
        password = None if as_user is None else read_password(password_file)
        bar, on_phase = phase_progress(json_out)
        with bar:
            res = ops.restore(
                settings(),
                into,
                sources=from_ or [],
                at=at,
                backup=backup,
                dry_run=dry_run,
                force=force,
                policy=policy,
                key=key,
                public_key=public_key,
                db=db,
                as_user=as_user,
                password=password,
                on_phase=on_phase,
            )
        _render(res.to_dict(), res.dry_run, json_out)


def _render(d: dict[str, Any], dry_run: bool, json_out: bool) -> None:
    if json_out:
        print_json(d)
        return
    plan = d["plan"]
    kv(
        "restore plan checked" if dry_run else f"restored into {d['target']}",
        [
            ("from copy", plan["copy"]),
            ("backups", ", ".join(plan["backups"])),
            ("snapshot", plan["snapshot"] or "(none: log replayed from genesis)"),
            ("recovery point seq", d["head_seq"]),
            ("chain head", d["chain_head"]),
            ("fingerprint", d["fingerprint"] or "-"),
            ("fingerprint checked against manifest", d["fingerprint_checked_against"] or "-"),
            ("phases (s)", ", ".join(f"{k} {v}" for k, v in d["phases_s"].items())),
            ("objects from copy", d["objects_from_copy"]),
            (
                "newest backup known",
                "-"
                if not d["newest_backup_known"]
                else f"seq {d['newest_backup_known']['seq']} ({d['newest_backup_known']['where']})",
            ),
            ("projections checked at backup", d["projections_checked_at_backup"]),
        ],
    )
    for f in d["findings"]:
        out.print(f"  [yellow]finding[/yellow]: {escape(f)}")
