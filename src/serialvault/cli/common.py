"""What every command shares: options, output, errors, progress.

Conventions (README "Commands"): every command takes ``--json`` (machine-readable
output on stdout, nothing else there) and, where it touches a repository, ``--db``
(path or URL, default ``SERIALVAULT_DB`` or ``./serialvault.db``). Errors go to stderr
as one clear message (or as a JSON object on stdout with ``--json``) and set the exit
code of their class (``serialvault.errors``). Progress bars go to stderr, only on a
terminal.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from serialvault.app.files import write_file
from serialvault.errors import InputError, SerialvaultError, UsageError
from serialvault.settings import Settings
from serialvault.store.engine import DATABASE_ERRORS, store_error

# When output goes to a file or pipe, use a wide fixed width so tables are not cut.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(
    stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 200
)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="SERIALVAULT_DB",
        help="Repository: a SQLite file path or postgresql://user@host:port/db"
        " [default: ./serialvault.db]",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
PasswordFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="Read the password from the first line of this file (else SERIALVAULT_PASSWORD,"
        " else a prompt on a terminal).",
        show_default=False,
    ),
]
SignerOpt = Annotated[
    str | None,
    typer.Option("--user", help="Your user id, re-entered (the first signing of a session)."),
]
ReasonOpt = Annotated[
    str | None, typer.Option("--reason", help="Why (recorded in the log with the change).")
]


def settings() -> Settings:
    """The settings in the environment, read by the command at the edge; the operations
    get them passed in. Not cached: a command run in-process (tests, an embedding
    program) sees the environment as it is when it runs."""
    return Settings.from_env()


def read_password(path: Path | None, prompt: str = "Password: ", *, env: bool = True) -> str:
    """The password from ``--password-file`` (its first line), else ``SERIALVAULT_PASSWORD``
    (``env``), else typed at a terminal without echo; none of them is a usage error."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read the password file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise InputError(f"the password file {path} is not UTF-8 text") from None
        line = text.split("\n", 1)[0].rstrip("\r")
        if not line:
            raise InputError(f"the password file {path} is empty")
        return line
    if env:
        given = settings().password
        if given:
            return given
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    raise UsageError(
        "a password is needed: give --password-file F, set SERIALVAULT_PASSWORD, or run on a"
        " terminal"
    )


def signer_id(given: str | None) -> str | None:
    """The user id re-entered for a signature: ``--user``, else asked on a terminal (the
    first signing of a session needs it; 21 CFR 11.200(a)(1))."""
    if given is not None or not sys.stdin.isatty():
        return given
    return input("User id (signature): ").strip() or None


def write_output(path: Path, data: bytes) -> None:
    """Write a file the user asked for atomically; a missing folder is a named error."""
    write_file(path, data)


def print_json(data: Any, compact: bool = False) -> None:
    """One JSON document on stdout (``compact``: on one line, for JSON-lines streams)."""
    opt = orjson.OPT_NON_STR_KEYS | (0 if compact else orjson.OPT_INDENT_2)
    sys.stdout.write(orjson.dumps(data, option=opt).decode() + "\n")
    sys.stdout.flush()


@contextmanager
def handled(json_out: bool) -> Iterator[None]:
    """Turn a SerialvaultError into its message and exit code."""
    try:
        yield
    except SerialvaultError as exc:
        _report(exc, json_out)
        raise typer.Exit(exc.exit_code) from None
    except DATABASE_ERRORS as exc:
        store_exc = store_error(exc)
        _report(store_exc, json_out)
        raise typer.Exit(store_exc.exit_code) from None
    except OSError as exc:  # a file or folder the user named: say which, and why
        where = exc.filename or "a file"
        input_exc = InputError(f"cannot use {where}: {exc.strerror or exc}")
        _report(input_exc, json_out)
        raise typer.Exit(input_exc.exit_code) from None


def _report(exc: SerialvaultError, json_out: bool) -> None:
    if json_out:
        print_json(exc.to_dict())
    else:
        err.print(Text.assemble(("error: ", "bold red"), exc.message))


def progress(json_out: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=json_out or not sys.stderr.isatty(),
    )


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    out.print(t)


def dash(v: Any) -> str:
    """A value for a table cell or a key-value line: ``-`` for nothing."""
    return "-" if v in (None, "", []) else str(v)


def show_signatures(signatures: list[dict[str, Any]], what: str) -> None:
    """Each signature with whether it verified against ``what`` it claims to sign
    (21 CFR 11.70): the caller exits 8 when one did not."""
    for s in signatures:
        ok = "verified" if s["verified"] else f"DOES NOT MATCH {what}"
        out.print(
            f"signed: {s['meaning']} by {s['name']} ({s['signer']}) at {s['signed_at']} — {ok}"
        )


def kv(title: str, items: list[tuple[str, Any]]) -> None:
    t = Table(title=title, show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    for k, v in items:
        t.add_row(k, "" if v is None else str(v))
    out.print(t)


def make_app(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False)


Callback = Callable[..., Any]
