"""Session files: proof, kept in the user's home, that they logged in to one repository.

A session file holds the repository id, the user id and a 256-bit secret; the
repository keeps only the secret's SHA-256, with the user it belongs to and when it was
last used. The file is created 0600 in a 0700 folder (``$SERIALVAULT_HOME``, default
``~/.config/serialvault``), one per repository and location, so a session opens that
repository and no other (not even a restored copy of it), and two people on one
machine are two homes. Editing the file gains nothing: the user comes from the
repository's row, found by the secret's hash, and a file whose user differs from the
row's is refused as altered. Logging out removes the row, so a copied file stops
working too.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import orjson

from serialvault.errors import NotAuthenticated

FORMAT = "serialvault.session/1"


@dataclass(frozen=True, slots=True)
class SessionFile:
    repository: str
    user: str
    secret: str
    #: Others can read the file: its secret must be taken as known, the session ended.
    exposed: bool = False


def session_path(home: Path, repository_id: str, location: str) -> Path:
    """One file per repository *and* place: a restored copy keeps its original's
    repository id, and a session on one must not replace or open the other."""
    where = hashlib.sha256(location.encode("utf-8")).hexdigest()[:16]
    return home / "sessions" / f"{repository_id}-{where}.json"


def write_session(home: Path, repository_id: str, location: str, user: str, secret: str) -> Path:
    """Write the session file (0600, in a 0700 folder) atomically."""
    folder = home / "sessions"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    path = session_path(home, repository_id, location)
    data = {"format": FORMAT, "repository": repository_id, "user": user, "secret": secret}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps(data))
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    return path


def read_session(home: Path, repository_id: str, location: str) -> SessionFile | None:
    """The session file for this repository, ``None`` if there is none; a file others
    can read, or one that is not a session, is refused by name."""
    path = session_path(home, repository_id, location)
    try:
        st = path.stat()
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NotAuthenticated(f"cannot read the session file {path}: {exc.strerror}") from None
    exposed = bool(st.st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    try:
        data = orjson.loads(raw)
        ok = data.get("format") == FORMAT and all(
            isinstance(data.get(k), str) for k in ("repository", "user", "secret")
        )
    except (orjson.JSONDecodeError, AttributeError):
        ok = False
    if not ok or data["repository"] != repository_id:
        raise NotAuthenticated(
            f"the session file {path} is not a serialvault session for this repository:"
            " run `serialvault login` again"
        )
    return SessionFile(data["repository"], data["user"], data["secret"], exposed)


def remove_session(home: Path, repository_id: str, location: str) -> bool:
    try:
        session_path(home, repository_id, location).unlink()
    except FileNotFoundError:
        return False
    return True
