"""``serialvault keys generate``: the backup encryption key and the signing key pair."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serialvault.app import backup as ops
from serialvault.backup.policy import DEFAULT_KEY_DIR
from serialvault.cli.common import JsonOpt, handled, kv, out, print_json

app = typer.Typer(help="Backup encryption and signing keys.", no_args_is_help=True)


@app.command("generate")
def keys_generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the key files.")] = Path(
        DEFAULT_KEY_DIR
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing keys.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create an AES-256 backup key and an Ed25519 signing key pair (mode 0600)."""
    with handled(json_out):
        res = ops.keys_generate(out_dir, force=force)
        if json_out:
            print_json(res)
        else:
            kv("keys created", list(res.items()))
            out.print(
                "Keep a copy of backup.key somewhere safe and apart from the backups: without"
                " it, encrypted backups cannot be restored."
            )
