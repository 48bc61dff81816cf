"""Settings read from the environment — once, at the edge (the CLI's start-up, later the
HTTP API's), and passed into the operations as a :class:`Settings` value. Nothing below
the edge reads the environment.

``SERIALVAULT_DB``
    Repository path or URL (see ``store.engine.resolve_url``).
``SERIALVAULT_HOME``
    The folder of this user's session files (default ``~/.config/serialvault``): who is
    logged in is per home, so two people on one machine are two homes.
``SERIALVAULT_TOKEN``
    An API token (``svt_…``, from ``user token create``): a service account's only way in,
    and a person's for unattended jobs; it takes precedence over a session.
``SERIALVAULT_PASSWORD``
    The password, for log-in and signature re-entry without a terminal (prefer
    ``--password-file``: the environment of a process can be read by its owner's others).
``SERIALVAULT_EPCIS_SCHEMA``
    Path(s), separated by the OS path separator, of further JSON schemas every document
    must also satisfy — typically the ratified GS1 EPCIS 2.0 JSON schema downloaded from
    https://ref.gs1.org/standards/epcis/artefacts. serialvault always validates with its
    own schema (``epcis.schema``); this adds the official one where a site requires it.
``SERIALVAULT_MAX_DOCUMENT_MB`` / ``SERIALVAULT_MAX_FIELD_KB``
    The largest EPCIS document capture and validation accept (default 1024 MB) and the
    largest single name or value in it (default 64 KB); see ``epcis.limits``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from serialvault.epcis.limits import DEFAULT_LIMITS, KB, MB, Limits
from serialvault.errors import StoreError, UsageError

if TYPE_CHECKING:
    from serialvault.epcis.schema import CompiledSchema


def _size_in(env: Mapping[str, str], name: str, unit: int, default: int) -> int:
    """Bytes from a variable that counts ``unit``s (fractions allowed), or ``default``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value * unit < 1 << 50:
        raise UsageError(f"{name}={raw!r}: a positive number is needed")
    return max(1, int(value * unit))


@cache
def _compile_schemas(paths: tuple[str, ...]) -> tuple[CompiledSchema, ...]:
    """Read and compile the extra schemas once per process (they are large)."""
    from serialvault.epcis.schema import compile_schema  # jsonschema: when configured

    compiled = []
    for part in paths:
        path = Path(part).expanduser()
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise StoreError(
                f"SERIALVAULT_EPCIS_SCHEMA: cannot read {path}: {exc.strerror}"
            ) from None
        except ValueError as exc:
            raise StoreError(f"SERIALVAULT_EPCIS_SCHEMA: {path} is not JSON: {exc}") from None
        compiled.append(compile_schema(schema, name=path.name))
    return tuple(compiled)


@dataclass(frozen=True)
class Settings:
    """Everything serialvault takes from its environment, read once by :meth:`from_env`.

    Fields left ``None`` mean "not set": the operation uses its documented default
    (``./serialvault.db``, ``./serialvault.toml``, the policy's keys …).
    """

    db: str | None = None  # SERIALVAULT_DB
    policy: str | None = None  # SERIALVAULT_POLICY
    backup_key: str | None = None  # SERIALVAULT_BACKUP_KEY
    signing_key: str | None = None  # SERIALVAULT_SIGNING_KEY
    witness: str | None = None  # SERIALVAULT_WITNESS
    #: Folder of PostgreSQL repositories' witness files ($XDG_STATE_HOME/serialvault).
    state_dir: Path = field(default_factory=lambda: Path.home() / ".local/state/serialvault")
    epcis_schemas: tuple[str, ...] = ()  # SERIALVAULT_EPCIS_SCHEMA, split on os.pathsep
    limits: Limits = DEFAULT_LIMITS  # SERIALVAULT_MAX_DOCUMENT_MB, SERIALVAULT_MAX_FIELD_KB
    reviewer_passphrase: str | None = None  # SERIALVAULT_REVIEWER_PASSPHRASE
    #: Session files ($SERIALVAULT_HOME, default ~/.config/serialvault).
    home: Path = field(default_factory=lambda: Path.home() / ".config/serialvault")
    token: str | None = None  # SERIALVAULT_TOKEN
    password: str | None = None  # SERIALVAULT_PASSWORD
    debug: bool = False  # SERIALVAULT_DEBUG

    def extra_schemas(self) -> tuple[CompiledSchema, ...]:
        """The extra EPCIS schemas named by ``SERIALVAULT_EPCIS_SCHEMA``, compiled."""
        return _compile_schemas(self.epcis_schemas)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in ``env`` (default: this process's environment)."""
        e = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = e.get(name, "").strip()
            return value or None

        state = get("XDG_STATE_HOME")
        home = get("SERIALVAULT_HOME")
        schemas = get("SERIALVAULT_EPCIS_SCHEMA")
        return cls(
            db=get("SERIALVAULT_DB"),
            policy=get("SERIALVAULT_POLICY"),
            backup_key=get("SERIALVAULT_BACKUP_KEY"),
            signing_key=get("SERIALVAULT_SIGNING_KEY"),
            witness=get("SERIALVAULT_WITNESS"),
            state_dir=(Path(state) if state else Path.home() / ".local/state") / "serialvault",
            epcis_schemas=tuple(p for p in (schemas or "").split(os.pathsep) if p),
            limits=Limits(
                document_bytes=_size_in(
                    e, "SERIALVAULT_MAX_DOCUMENT_MB", MB, DEFAULT_LIMITS.document_bytes
                ),
                field_bytes=_size_in(e, "SERIALVAULT_MAX_FIELD_KB", KB, DEFAULT_LIMITS.field_bytes),
            ),
            reviewer_passphrase=e.get("SERIALVAULT_REVIEWER_PASSPHRASE") or None,
            home=Path(home).expanduser() if home else Path.home() / ".config/serialvault",
            token=get("SERIALVAULT_TOKEN"),
            password=e.get("SERIALVAULT_PASSWORD") or None,
            debug=bool(get("SERIALVAULT_DEBUG")),
        )
