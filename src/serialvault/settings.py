"""Settings read from the environment (the CLI's start-up picks them up here).

``SERIALVAULT_DB``
    Repository path or URL (see ``store.engine.resolve_url``).
``SERIALVAULT_ACTOR``
    Who is acting, recorded with every log record (default: ``user@host``).
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
from functools import cache
from pathlib import Path
from typing import Any

from serialvault.epcis.limits import DEFAULT_LIMITS, KB, MB, Limits
from serialvault.errors import StoreError, UsageError


def _size(name: str, unit: int, default: int) -> int:
    """Bytes from a variable that counts ``unit``s (fractions allowed), or ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value * unit < 1 << 50:
        raise UsageError(f"{name}={raw!r}: a positive number is needed")
    return max(1, int(value * unit))


def input_limits() -> Limits:
    """The document and field size limits, from the environment (defaults otherwise)."""
    return Limits(
        document_bytes=_size("SERIALVAULT_MAX_DOCUMENT_MB", MB, DEFAULT_LIMITS.document_bytes),
        field_bytes=_size("SERIALVAULT_MAX_FIELD_KB", KB, DEFAULT_LIMITS.field_bytes),
    )


@cache
def load_extra_schemas() -> tuple[Any, ...]:
    """Compiled extra EPCIS schemas named by ``SERIALVAULT_EPCIS_SCHEMA``."""
    from serialvault.epcis.schema import compile_schema

    value = os.environ.get("SERIALVAULT_EPCIS_SCHEMA", "").strip()
    if not value:
        return ()
    compiled = []
    for part in value.split(os.pathsep):
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
