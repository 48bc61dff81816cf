"""Size limits on what capture and validation accept, and the refusals that name them.

EPCIS 2.0 sets no size for a document or a value, but a system of record must bound
what one sender can make it hold in memory or write into the log: a 50 GB upload or a
one-megabyte ``bizLocation`` is an error (or an attack), not an event. The limits are
settings (``SERIALVAULT_MAX_DOCUMENT_MB``, ``SERIALVAULT_MAX_FIELD_KB``, read in
``serialvault.settings``); the defaults are far above anything in GS1's published
examples (their longest single value is under 5 KB) and above the 1M-unit reference
workload's documents. A refusal says how big, what the limit is and which setting
changes it. Pure: values in, findings out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from serialvault.errors import InputError

MB = 1 << 20
KB = 1 << 10


@dataclass(frozen=True, slots=True)
class Limits:
    """The largest document (bytes) and the largest single name or value (UTF-8 bytes)."""

    document_bytes: int = 1024 * MB
    field_bytes: int = 64 * KB


DEFAULT_LIMITS = Limits()


def document_too_large(size: int, name: str, limits: Limits) -> InputError:
    """The refusal of a document of ``size`` bytes, over ``limits.document_bytes``."""
    return InputError(
        f"{name}: the document is {size:,} bytes, more than the limit of"
        f" {limits.document_bytes:,} bytes ({limits.document_bytes / MB:g} MB);"
        " split it, or raise SERIALVAULT_MAX_DOCUMENT_MB"
    )


def check_document_size(size: int, name: str, limits: Limits) -> None:
    """Refuse a document larger than the limit, before it is read."""
    if size > limits.document_bytes:
        raise document_too_large(size, name, limits)


def _utf8_len(text: str, limit: int) -> int:
    """The UTF-8 length of ``text``, computed only when it could exceed ``limit``."""
    return len(text) if len(text) * 4 <= limit else len(text.encode("utf-8", "surrogatepass"))


def oversized(value: Any, path: str, limit: int) -> Iterator[tuple[str, int]]:
    """(field path, UTF-8 bytes) of every name or string inside ``value`` over ``limit``.

    Paths are written as validation writes them (``ilmd.lotNumber``, ``epcList[3]``).
    Every string's UTF-8 form appears inside the value's JSON serialisation (escaping
    only lengthens it), so a value whose serialisation fits the limit holds nothing over
    it: one C-speed ``orjson.dumps`` spares the walk for nearly every event.
    """
    if isinstance(value, dict | list):
        try:
            if len(orjson.dumps(value)) <= limit:
                return
        except TypeError:  # a value orjson cannot write (a huge integer): walk it
            pass
    yield from _walk(value, path, limit)


def _walk(value: Any, path: str, limit: int) -> Iterator[tuple[str, int]]:
    if isinstance(value, str):
        n = _utf8_len(value, limit)
        if n > limit:
            yield path, n
    elif isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            n = _utf8_len(k, limit) if isinstance(k, str) else 0
            if n > limit:
                yield (path or "(document)") + " (a name)", n
            yield from _walk(v, sub, limit)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]", limit)
