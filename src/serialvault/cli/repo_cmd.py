"""Repository commands: init, capture, status, exceptions, fingerprint, rebuild, audit."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.text import Text

from serialvault.app import identity as identity_ops
from serialvault.app import repository as ops
from serialvault.cli.common import (
    DbOpt,
    JsonOpt,
    PasswordFileOpt,
    ReasonOpt,
    err,
    handled,
    kv,
    make_app,
    out,
    print_json,
    progress,
    settings,
    table,
)
from serialvault.cli.review_cmd import audit_review_app
from serialvault.cli.user_cmd import new_password
from serialvault.errors import IntegrityFailure, SerialvaultError
from serialvault.store.capture import CaptureResult

audit_app = make_app("Audit trail: verify the hash-chained log; review it periodically.")
audit_app.add_typer(audit_review_app, name="review")


def init(
    admin: Annotated[
        str | None, typer.Option("--admin", help="User id of the first administrator.")
    ] = None,
    admin_name: Annotated[
        str | None, typer.Option("--admin-name", help="The first administrator's full name.")
    ] = None,
    password_file: PasswordFileOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create the repository with its first admin, or bring its schema up to date.

    A new repository needs --admin and --admin-name (and a password); an existing one
    without accounts gets its first admin the same way. Safe to run again.
    """
    with handled(json_out):
        password = None
        if admin is not None:
            password = new_password(password_file, admin)
        res = identity_ops.init_repository(
            settings(), db, admin=admin, admin_name=admin_name, password=password
        )
        if json_out:
            print_json(res.to_dict())
            return
        what = "initialised" if res.created else "already initialised (schema up to date)"
        out.print(f"{res.db}: {what}; head seq {res.head_seq}")
        if res.admin:
            out.print(f"first administrator: {res.admin['user']} ({res.admin['name']})")


def capture(
    paths: Annotated[
        list[str], typer.Argument(help="EPCIS documents, folders of them, or - for stdin.")
    ],
    db: DbOpt = None,
    reason: ReasonOpt = None,
    keep_going: Annotated[
        bool,
        typer.Option("--keep-going", help="Continue with the next document after a rejection."),
    ] = False,
    origin: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Who sent them: line:NAME or partner:GLN (for the exception register;"
            " a service account's default is its line).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Capture EPCIS documents (JSON-LD or XML, EPCIS 2.0 or 1.2), each all-or-nothing."""
    with handled(json_out), progress(json_out) as bar:
        task = bar.add_task("capturing", total=None)

        def shown(name: str, outcome: CaptureResult | SerialvaultError) -> None:
            bar.advance(task)
            if json_out:
                return
            if isinstance(outcome, SerialvaultError):
                err.print(Text.assemble(("rejected: ", "bold red"), outcome.message))
                return
            _show_capture(name, outcome)

        batch = ops.capture(
            settings(),
            db,
            paths,
            reason=reason,
            keep_going=keep_going,
            stdin=sys.stdin.buffer,
            on_outcome=shown,
            on_start=lambda n: bar.update(task, total=n),
            origin=origin,
        )
    if json_out:
        print_json(batch.to_dict())
    elif batch.documents > 1:
        out.print(
            f"{len(batch.captured)} of {batch.documents} documents captured"
            + (f", {len(batch.rejected)} rejected" if batch.rejected else "")
        )
    if batch.exit_code:
        raise typer.Exit(batch.exit_code)


def _show_capture(name: str, res: CaptureResult) -> None:
    out.print(
        f"{name}: {res.recorded} events recorded"
        + (f", {res.duplicates} duplicates skipped" if res.duplicates else "")
        + f" ({res.epcs} EPCs, {res.seconds:.2f}s) head seq {res.head_seq}"
    )
    for w in res.warnings:
        err.print(f"[yellow]warning:[/] {w}")


def status(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Summary: identifiers by kind and status, row counts, chain head, fingerprint."""
    with handled(json_out):
        st = ops.status(settings(), db)
        if json_out:
            print_json(st.to_dict())
            return
        items: list[tuple[str, Any]] = [("repository", st.db)]
        for kind, by_status in st.units.items():
            total = sum(by_status.values())
            detail = ", ".join(f"{s} {n}" for s, n in by_status.items())
            items.append((kind, f"{total} ({detail})"))
        items += [
            ("events", st.counts["events"]),
            ("products", st.counts["products"]),
            ("exceptions", st.counts["exceptions"]),
            ("log records", st.counts["log"]),
            ("chain head", f"seq {st.head_seq} {st.head_chain}"),
            ("fingerprint", st.fingerprint),
        ]
        kv("serialvault status", items)


def fingerprint_cmd(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Print the order-independent digest of every projection (identical after rebuild/restore)."""
    with handled(json_out):
        with progress(json_out) as bar:
            task = bar.add_task("fingerprint", total=7)
            fp = ops.state_fingerprint(settings(), db, on_table=lambda _n: bar.advance(task))
        if json_out:
            print_json(fp.to_dict())
            return
        table(
            None,
            ["table", "rows", "sum"],
            [[k, v.rows, v.sum] for k, v in fp.tables.items()],
        )
        out.print(f"fingerprint {fp.value} (at seq {fp.head_seq})")


def rebuild_cmd(
    db: DbOpt = None,
    reason: ReasonOpt = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Only compare: replay the log into a scratch database and name every"
            " projection row that differs (R9); writes nothing, exit 8 on a difference.",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Recreate every projection from the log; the fingerprint must not change."""
    with handled(json_out):
        if check:
            pc = ops.check_projections_against_log(settings(), db)
            if json_out:
                print_json(pc.to_dict())
            elif pc.ok:
                out.print(f"{pc.message} ({pc.rows_compared:,} rows, {pc.seconds:.2f}s)")
            else:
                err.print(f"[bold red]projections differ[/]: {pc.message}")
                for x in pc.examples:
                    err.print(f"  {x}")
            if not pc.ok:
                raise typer.Exit(IntegrityFailure.exit_code)
            return
        with progress(json_out) as bar:
            task = bar.add_task("replaying log", total=ops.head_seq(settings(), db))
            res = ops.rebuild_projections(
                settings(),
                db,
                reason=reason,
                on_progress=lambda s: bar.update(task, completed=s),
            )
        if json_out:
            print_json(res.to_dict())
        else:
            verdict = "identical" if res.identical else "DIFFERENT"
            out.print(
                f"replayed seq 1..{res.replayed_to} in {res.seconds:.2f}s;"
                f" fingerprint {verdict}: {res.after.value}"
            )
            if not res.identical:
                out.print(
                    f"before: {res.before.value};"
                    f" tables differing: {res.to_dict()['tables_differing']}"
                )
        if not res.identical:
            raise typer.Exit(IntegrityFailure.exit_code)


@audit_app.command("verify")
def audit_verify(
    db: DbOpt = None,
    policy: Annotated[
        str | None,
        typer.Option("--policy", help="Backup policy: its copies and keys give the anchors."),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="Public key the checkpoints are checked with."),
    ] = None,
    copies: Annotated[
        bool,
        typer.Option(
            "--copies/--no-copies",
            help="Also compare with the manifests and checkpoints on the policy's copies.",
        ),
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Walk the hash chain from genesis and compare it with the signed checkpoints kept
    outside the database (witness file, copies): names the first broken link, or the seq
    where history was rewritten or cut off."""
    with handled(json_out):
        with progress(json_out) as bar:
            task = bar.add_task("verifying chain", total=ops.head_seq(settings(), db))
            res = ops.audit_verify(
                settings(),
                db,
                policy=policy,
                public_key=public_key,
                use_copies=copies,
                on_progress=lambda n: bar.update(task, completed=n),
            )
        a = res.audit
        if json_out:
            print_json(res.to_dict())
        elif res.ok:
            out.print(
                f"chain intact: {a.checked} records, head seq {a.head_seq} {a.head_chain}"
                f" ({a.seconds:.2f}s)"
            )
            rep = a.anchors
            if res.unanchored_reason:
                err.print(f"[yellow]not anchored[/]: {res.unanchored_reason}")
            elif rep is not None and rep.newest_agreeing is not None:
                out.print(
                    f"anchored: {rep.agreed} of {rep.anchors} checkpoint(s) agree, the newest"
                    f" at seq {rep.newest_agreeing.seq} ({rep.newest_agreeing.source});"
                    f" {', '.join(res.sources)}"
                )
        else:
            err.print(f"[bold red]audit trail NOT intact[/]: {a.problem or ''}")
            if res.first_difference:
                err.print(f"first difference from the backup: {res.first_difference}")
            for p in res.problems:
                err.print(f"  anchor problem: {p}")
        if not json_out:
            for n in res.notes:
                err.print(f"[yellow]note[/]: {n} (see `serialvault backup verify`)")
        if not res.ok:
            raise typer.Exit(IntegrityFailure.exit_code)
