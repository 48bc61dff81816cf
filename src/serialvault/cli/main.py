"""The ``serialvault`` command line: one typer app, one module per command group.

Every command opens what it needs and calls one library function (the CLI holds no
business logic). Exit codes: see ``serialvault.errors`` and the README.
"""

from __future__ import annotations

import typer

from serialvault import __version__
from serialvault.cli import (
    backup_cmd,
    change_cmd,
    demo_cmd,
    drill_cmd,
    epcis_cmd,
    keys_cmd,
    masterdata_cmd,
    product_cmd,
    query_cmd,
    reconcile_cmd,
    repo_cmd,
    restore_cmd,
    user_cmd,
)

app = typer.Typer(
    name="serialvault",
    help="serialvault — system of record for pharmaceutical serialization and aggregation"
    " (GS1 EPCIS 2.0) with a hash-chained audit trail.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"serialvault {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """serialvault command line."""


app.command("init")(repo_cmd.init)
app.command("login")(user_cmd.login)
app.command("logout")(user_cmd.logout)
app.command("whoami")(user_cmd.whoami)
app.add_typer(user_cmd.app, name="user")
app.command("capture")(repo_cmd.capture)
app.command("status")(repo_cmd.status)
app.command("exceptions")(repo_cmd.exceptions)
app.command("fingerprint")(repo_cmd.fingerprint_cmd)
app.command("rebuild")(repo_cmd.rebuild_cmd)
app.add_typer(repo_cmd.audit_app, name="audit")
app.add_typer(product_cmd.app, name="product")
app.add_typer(masterdata_cmd.app, name="masterdata")
app.add_typer(change_cmd.app, name="change")
app.command("unit")(query_cmd.unit)
app.command("contents")(query_cmd.contents)
app.command("ancestors")(query_cmd.ancestors)
app.command("events")(query_cmd.events)
app.add_typer(epcis_cmd.app, name="epcis")
app.add_typer(demo_cmd.app, name="demo")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(backup_cmd.app, name="backup")
app.command("restore")(restore_cmd.restore)
app.command("baseline")(reconcile_cmd.baseline)
app.command("reconcile")(reconcile_cmd.reconcile)
app.add_typer(drill_cmd.app, name="drill")
app.add_typer(drill_cmd.evidence_app, name="evidence")


def run() -> None:
    """The console entry point: no traceback ever reaches a user.

    Every expected failure is a :class:`~serialvault.errors.SerialvaultError` with its
    exit code (handled per command). Anything else is a defect in serialvault: it is
    reported as one line (JSON with ``--json``), exit code 1, and nothing the command
    had not committed is kept; ``SERIALVAULT_DEBUG=1`` shows the traceback.
    """
    import sys

    from serialvault.cli.common import settings

    bad = next((a for a in sys.argv[1:] if any("\udc80" <= ch <= "\udcff" for ch in a)), None)
    if bad is not None:  # bytes that are not UTF-8 (the shell passes them through): a name,
        # reason or actor recorded in the log must be text every reader can read back
        shown = bad.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        sys.stderr.write(f"error: the argument {shown!r} is not UTF-8 text\n")
        sys.exit(2)
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: nothing uncommitted was kept\n")
        sys.exit(130)
    except Exception as exc:
        try:
            debug = settings().debug
        except Exception:  # the settings themselves are what failed
            debug = False
        if debug:
            raise
        what = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        from serialvault.redact import redact_text

        what = redact_text(what)[:500]
        from serialvault.errors import InternalError

        defect = InternalError(
            f"internal error ({what}): this is a defect in serialvault {__version__}, please"
            " report it; nothing uncommitted was kept (SERIALVAULT_DEBUG=1 shows the traceback)"
        )
        if "--json" in sys.argv:
            import orjson

            sys.stdout.write(orjson.dumps(defect.to_dict()).decode() + "\n")
        else:
            sys.stderr.write(f"error: {defect.message}\n")
        sys.exit(defect.exit_code)


if __name__ == "__main__":
    run()
