"""The options every backup command shares (policy, copies, keys) and their rendering
helpers: one place, so that each command's body is only the operation."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from serialvault.app.backup import BackupOptions
from serialvault.cli.common import progress

PolicyOpt = Annotated[
    str | None,
    typer.Option(
        "--policy",
        help="Backup policy TOML [default: SERIALVAULT_POLICY or ./serialvault.toml]",
        show_default=False,
    ),
]
CopyOpt = Annotated[
    list[str] | None,
    typer.Option("--copy", help="A copy named in the policy (repeatable) [default: all]."),
]
ToOpt = Annotated[
    list[str] | None,
    typer.Option("--to", help="A copy by URL: file:///path or s3://bucket/prefix (repeatable)."),
]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", help="Encryption key file (overrides the policy).", show_default=False),
]
SignOpt = Annotated[
    str | None,
    typer.Option("--signing-key", help="Ed25519 signing key file (overrides the policy)."),
]
PubOpt = Annotated[
    str | None,
    typer.Option(
        "--public-key", help="Public key to check signatures with (default: the signing key's)."
    ),
]
WindowOpt = Annotated[
    str,
    typer.Option("--window", help="Growth is averaged over this much recent history."),
]


def options(
    policy: str | None,
    copy: list[str] | None = None,
    to: list[str] | None = None,
    key: str | None = None,
    signing_key: str | None = None,
    public_key: str | None = None,
) -> BackupOptions:
    """``--copy NAME`` and ``--to URL`` (a name with ``://`` is a URL too) and the keys."""
    return BackupOptions(
        policy=policy,
        copies=[*(copy or []), *(to or [])],
        key=key,
        signing_key=signing_key,
        public_key=public_key,
    )


def phase_progress(json_out: bool) -> tuple[Any, Any]:
    """A progress display with one bar per phase, and the callback that feeds it."""
    bar = progress(json_out)
    tasks: dict[str, Any] = {}

    def on_phase(name: str, done: int, total: int | None) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done, total=total)

    return bar, on_phase


def human_bytes(n: int | float | None) -> str:
    """``1536`` → ``1.5 KiB``."""
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def human_age(seconds: float) -> str:
    """``90`` → ``90 s``; ``5400`` → ``90 min``; ``90000`` → ``25.0 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
