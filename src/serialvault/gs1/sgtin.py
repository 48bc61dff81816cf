"""The serialised GTIN (SGTIN): one individual pack.

GTIN + serial number is the unique identity of a pack that DSCSA and the EU FMD
require on every saleable unit. The serial number is AI (21): 1 to 20 characters of
GS1 AI encodable character set 82 (GS1 General Specifications §3.5.2, "Serial number:
AI (21)"; character set in §7.11, Figure 7.11-1). It is case sensitive and kept exactly
as given — ``"0123"`` and ``"123"`` are different serials.

>>> s = Sgtin.parse("09521234543213", "ABC123")
>>> s.gtin.gtin14, s.serial
('09521234543213', 'ABC123')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from serialvault.errors import IdentifierError
from serialvault.gs1.charset import CS82, first_outside
from serialvault.gs1.gtin import Gtin

__all__ = ["MAX_SERIAL_LENGTH", "Sgtin", "parse_serial"]

#: AI (21) holds 1 to 20 characters (GenSpecs §3.2, format N2+X..20).
MAX_SERIAL_LENGTH = 20

# CS82 as a character class: ! " % & ' ( ) * + , - . / 0-9 : ; < = > ? A-Z _ a-z.
# One regex match is the fast accept path (the hot path of capture); the slow path only
# runs to explain a rejection.
_SERIAL_RE = re.compile(r'[!"%-?A-Z_a-z]{1,20}')


def parse_serial(serial: str) -> str:
    """Return ``serial`` if it is a valid AI (21) serial number, else raise.

    >>> try:
    ...     parse_serial("AB~C")
    ... except IdentifierError as exc:
    ...     print(exc)
    Invalid serial number 'AB~C': character '~' is not in GS1 character set 82.
    """
    if isinstance(serial, str) and _SERIAL_RE.fullmatch(serial) is not None:
        return serial
    raise IdentifierError(_explain(serial))


def _explain(serial: object) -> str:
    if not isinstance(serial, str):
        return f"Invalid serial number {serial!r}: expected a string, got {type(serial).__name__}."
    if not 1 <= len(serial) <= MAX_SERIAL_LENGTH:
        return (
            f"Invalid serial number {serial!r}: expected 1 to {MAX_SERIAL_LENGTH} characters, "
            f"got {len(serial)}."
        )
    bad = first_outside(serial, CS82)
    return f"Invalid serial number {serial!r}: character {bad!r} is not in GS1 character set 82."


@dataclass(frozen=True, slots=True)
class Sgtin:
    """A GTIN and a serial number. Build one with :meth:`parse`; the constructor does not check."""

    gtin: Gtin
    serial: str

    @classmethod
    def parse(cls, gtin: Gtin | str, serial: str) -> Sgtin:
        """Validate both parts (a :class:`Gtin` is trusted as already valid).

        The GTIN may be given in any of its four lengths; :attr:`gtin` keeps it, and
        equality compares the GTIN-14 form.
        """
        g = gtin if isinstance(gtin, Gtin) else Gtin.parse(gtin)
        if isinstance(serial, str) and _SERIAL_RE.fullmatch(serial) is not None:
            return cls(g, serial)
        raise IdentifierError(_explain(serial))

    @property
    def gtin14(self) -> str:
        return self.gtin.gtin14
