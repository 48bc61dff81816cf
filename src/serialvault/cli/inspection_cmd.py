"""``serialvault inspection pack`` — a period's quality records in one signed package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serialvault.app import inspection as ops
from serialvault.cli.backup_options import (
    CopyOpt,
    KeyOpt,
    PolicyOpt,
    PubOpt,
    SignOpt,
    options,
)
from serialvault.cli.common import DbOpt, JsonOpt, err, handled, make_app, out, print_json, settings

app = make_app(
    "Inspection readiness: the drill register with its evidence, the signed reviews,"
    " exceptions and CAPA, the change history and the backups, in one signed package."
)


@app.command("pack")
def pack(
    start: Annotated[str, typer.Option("--from", help="First day (UTC date) or time.")],
    end: Annotated[str, typer.Option("--to", help="Last day (UTC date, inclusive) or time.")],
    out_path: Annotated[Path, typer.Option("--out", help="The zip to write (never overwritten).")],
    drills: Annotated[
        Path, typer.Option("--drills", help="Where drill runs left their evidence.")
    ] = Path("drill-runs"),
    review: Annotated[
        list[Path] | None,
        typer.Option("--review", help="A review's folder (audit-trail or access; repeatable)."),
    ] = None,
    reviewer_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--reviewer-key",
            help="A registered reviewer's public key, carried in the pack for the drill"
            " sign-offs (repeatable).",
        ),
    ] = None,
    full_verify: Annotated[
        bool,
        typer.Option("--full-verify", help="Read every backup object (slow), not only metadata."),
    ] = False,
    policy: PolicyOpt = None,
    copy: CopyOpt = None,
    backup: Annotated[
        list[str] | None,
        typer.Option(
            "--backup",
            help="A backup copy by URL (file:///path or s3://…; repeatable) [default: the"
            " policy's copies].",
        ),
    ] = None,
    key: KeyOpt = None,
    signing_key: SignOpt = None,
    public_key: PubOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write the inspection pack for a period (qa or admin), signed with the backup
    signing key: `evidence verify PACK.zip --public-key PUB` checks it offline."""
    with handled(json_out):
        done = ops.pack(
            settings(),
            db,
            start=start,
            end=end,
            out=out_path,
            options=options(policy, copy, backup, key, signing_key, public_key),
            drills_dir=drills,
            reviews=review or [],
            full_verify=full_verify,
            reviewer_keys=reviewer_key or [],
            on_step=None if json_out else (lambda s: err.print(f"[dim]{s}…[/]")),
        )
        if json_out:
            print_json(done.to_dict())
            return
        out.print(
            f"{done.path}: inspection pack {done.pack_id}, {done.files} files, signed;"
            f" recorded at log seq {done.seq}"
        )
        summary = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in done.summary.items())
        out.print(summary)
        for f in done.findings:
            err.print(f"[yellow]finding:[/] {f}")
