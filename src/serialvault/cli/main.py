"""The ``serialvault`` command line: one typer app, one module per command group.

Every command opens what it needs and calls one library function (the CLI holds no
business logic). Exit codes: see ``serialvault.errors`` and the README.
"""

from __future__ import annotations

import typer

from serialvault import __version__

#: Every top-level command: name, kind, and where it lives. The console entry point
#: imports only the module of the command it runs (``build(only=…)``): loading every
#: command's libraries costs more start-up than a log-in itself (BENCHMARKS.md).
REGISTRY: tuple[tuple[str, str, str, str], ...] = (
    ("init", "command", "repo_cmd", "init"),
    ("login", "command", "user_cmd", "login"),
    ("logout", "command", "user_cmd", "logout"),
    ("whoami", "command", "user_cmd", "whoami"),
    ("user", "group", "user_cmd", "app"),
    ("capture", "command", "repo_cmd", "capture"),
    ("status", "command", "repo_cmd", "status"),
    ("exceptions", "command", "exception_cmd", "list_cmd"),
    ("exception", "group", "exception_cmd", "app"),
    ("capa", "group", "capa_cmd", "app"),
    ("rework", "group", "rework_cmd", "app"),
    ("fingerprint", "command", "repo_cmd", "fingerprint_cmd"),
    ("rebuild", "command", "repo_cmd", "rebuild_cmd"),
    ("audit", "group", "repo_cmd", "audit_app"),
    ("product", "group", "product_cmd", "app"),
    ("masterdata", "group", "masterdata_cmd", "app"),
    ("change", "group", "change_cmd", "app"),
    ("serials", "group", "serials_cmd", "app"),
    ("unit", "command", "query_cmd", "unit"),
    ("contents", "command", "query_cmd", "contents"),
    ("ancestors", "command", "query_cmd", "ancestors"),
    ("events", "command", "query_cmd", "events"),
    ("epcis", "group", "epcis_cmd", "app"),
    ("demo", "group", "demo_cmd", "app"),
    ("keys", "group", "keys_cmd", "app"),
    ("backup", "group", "backup_cmd", "app"),
    ("restore", "command", "restore_cmd", "restore"),
    ("baseline", "command", "reconcile_cmd", "baseline"),
    ("reconcile", "command", "reconcile_cmd", "reconcile"),
    ("drill", "group", "drill_cmd", "app"),
    ("evidence", "group", "drill_cmd", "evidence_app"),
    ("inspection", "group", "inspection_cmd", "app"),
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"serialvault {__version__}")
        raise typer.Exit()


def build(only: str | None = None) -> typer.Typer:
    """The command line: every command, or only ``only`` when it names one (the rest
    are not imported)."""
    import importlib

    cli = typer.Typer(
        name="serialvault",
        help="serialvault — system of record for pharmaceutical serialization and aggregation"
        " (GS1 EPCIS 2.0) with a hash-chained audit trail.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @cli.callback()
    def main(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ) -> None:
        """serialvault command line."""

    names = {r[0] for r in REGISTRY}
    for name, kind, module, attr in REGISTRY:
        if only in names and name != only:
            continue
        target = getattr(importlib.import_module(f"serialvault.cli.{module}"), attr)
        if kind == "group":
            cli.add_typer(target, name=name)
        else:
            cli.command(name)(target)
    return cli


app: typer.Typer  # the whole command line, built on first use (tests, documentation)


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        built = globals()["app"] = build()
        return built
    raise AttributeError(name)


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
    first = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    try:
        build(first)()
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
