"""Files a person names: read them, or write them atomically, with a named error.

A report, a plan or a baseline the user asked for is either there whole or not at all
(temp file + rename), and a missing folder or a permission problem is one clear message
(exit 3), never a traceback.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from serialvault.errors import InputError


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp + rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # a folder that is a file: no temp file to remove
            tmp.unlink(missing_ok=True)
        parent = path.parent
        if parent.exists() and not parent.is_dir():
            why = f"{parent} is not a folder"
        elif not parent.exists():
            why = f"folder {parent} does not exist"
        else:
            why = str(exc.strerror or exc)
        raise InputError(f"cannot write {path}: {why}") from None


def make_folder(path: Path, what: str = "folder") -> None:
    """Create ``path`` (and its parents) for output; a file in the way is a named error."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {what} {path}: {exc.strerror or exc}") from None


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; ``what`` names it in the error ("plan", "baseline")."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path} is not UTF-8 text: {exc.reason}") from None


def read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
