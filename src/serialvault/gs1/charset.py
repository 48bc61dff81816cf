"""GS1 character sets for alphanumeric AI values.

GS1 General Specifications §7.11 (Figure 7.11-1) defines *GS1 AI encodable character set
82* — the characters allowed in alphanumeric values such as the serial number (AI 21)
and the batch/lot (AI 10) — and *character set 39* used by a few keys (e.g. the CPID).
The sets are plain ASCII subsets, so membership is a frozenset lookup.
"""

from __future__ import annotations

import string

#: GS1 AI encodable character set 82 (GenSpecs §7.11, Figure 7.11-1).
CS82: frozenset[str] = frozenset(
    "!\"%&'()*+,-./:;<=>?_" + string.digits + string.ascii_uppercase + string.ascii_lowercase
)

#: GS1 AI encodable character set 39 (GenSpecs §7.11, Figure 7.11-2).
CS39: frozenset[str] = frozenset("#-/" + string.digits + string.ascii_uppercase)

assert len(CS82) == 82
assert len(CS39) == 39


def first_outside(value: str, charset: frozenset[str]) -> str | None:
    """Return the first character of ``value`` not in ``charset``, or None."""
    for ch in value:
        if ch not in charset:
            return ch
    return None
