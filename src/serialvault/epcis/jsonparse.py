"""JSON parsing that refuses what would make an event's meaning depend on the parser.

RFC 8259 §4 says the names in an object SHOULD be unique and that parsers disagree on
duplicates: some keep the first, some the last, some fail. An EPCIS document whose
``eventTime`` or ``epcList`` depends on which parser reads it is not evidence of what
happened, so serialvault refuses a duplicate name, naming it — as it refuses the
non-standard constants ``NaN`` and ``Infinity``. Pure: bytes in, values out.

The standard library's parser with an ``object_pairs_hook`` is used for whole
documents: measured as fast as ``orjson`` on EPCIS documents (mostly EPC strings in
lists: 0.07 s for 10 MB either way), and only it reports every name of an object.
"""

from __future__ import annotations

import json
import re
from typing import Any

from serialvault.errors import InputError


class DuplicateKey(ValueError):
    """A JSON object names one member twice."""

    def __init__(self, key: str, keys: list[str]) -> None:
        shown = ", ".join(repr(k) for k in keys[:8])
        super().__init__(
            f"duplicate name {key!r} in one JSON object (its names: {shown}): RFC 8259 §4"
            " leaves the meaning to the parser, so the document is refused"
        )
        self.key = key


class UniqueKeys(dict[str, Any]):
    """A dict that refuses a second value for a key (a ``map_type`` for streamed JSON)."""

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self:
            raise DuplicateKey(key, list(self))
        super().__setitem__(key, value)


def plain(value: Any) -> Any:
    """``value`` with every :class:`UniqueKeys` turned into a plain dict.

    Refusing a second value is a parsing concern; later stages (normalisation, the
    streamed capture that puts a chunk of events into the skeleton) assign keys freely.
    """
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise DuplicateKey(k, [p[0] for p in pairs])
            seen.add(k)
    return out


#: A ``\uD800``–``\uDFFF`` escape: the only way a JSON text can carry a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_lone_surrogates(data: bytes | str, value: Any) -> None:
    """A lone surrogate (``"\ud800"`` with no partner) is not Unicode text: it cannot be
    written as UTF-8, hashed canonically or stored, so it is refused like malformed JSON
    (RFC 8259 §8.2). Valid pairs were joined by the parser; only a document that escapes
    a surrogate at all is walked."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if not _SURROGATE_ESCAPE.search(raw):
        return
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v):
                raise ValueError(
                    f"the text {v[:40]!r} holds a lone surrogate: not Unicode (RFC 8259 §8.2)"
                )
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _number(text: str) -> int | float:
    """An integer as Python reads it while it fits 64 bits; beyond, the double RFC 8785
    (§3.2.2.3) reads every JSON number as — and beyond a double's range, refused: a value
    no canonical form, hash or database column can hold."""
    value = int(text)
    if -(1 << 63) <= value < (1 << 64):
        return value
    as_float = float(text)
    if as_float in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:40]}… is beyond the range of a double (RFC 8259 §6)")
    return as_float


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (RFC 8259 §6)")


def unique(data: bytes | str) -> Any:
    """Parse JSON refusing duplicate names and non-standard constants; raises
    ``ValueError`` (:class:`DuplicateKey` for a name given twice). For signed documents
    (manifests, checkpoints, evidence, sign-offs) as for EPCIS: a signed file whose
    content depends on the parser is not evidence of anything.

    >>> unique(b'{"a": 1, "b": [2]}')
    {'a': 1, 'b': [2]}
    >>> unique(b'{"signer": "Dr. Forged", "signer": "Dr. Jane QA"}')
    Traceback (most recent call last):
    ...
    serialvault.epcis.jsonparse.DuplicateKey: duplicate name 'signer' in one JSON object ...
    """
    try:
        value = json.loads(
            data, object_pairs_hook=_pairs, parse_constant=_constant, parse_int=_number
        )
    except RecursionError as exc:
        raise ValueError(f"nested too deeply: {exc}") from None
    _refuse_lone_surrogates(data, value)
    return value


def loads(data: bytes | str, name: str) -> Any:
    """Parse a JSON document strictly; every refusal is an :class:`InputError` naming it."""
    try:
        value = json.loads(
            data, object_pairs_hook=_pairs, parse_constant=_constant, parse_int=_number
        )
        _refuse_lone_surrogates(data, value)
        return value
    except DuplicateKey as exc:
        raise InputError(f"{name}: {exc}") from None
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: malformed JSON: {exc}") from None


def duplicate_in(exc: BaseException) -> DuplicateKey | None:
    """The :class:`DuplicateKey` behind an error a C parser wrapped it in, if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DuplicateKey):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
