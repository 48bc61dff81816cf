"""The Global Trade Item Number (GTIN).

A GTIN identifies a trade item: a pack, a bundle, a case (GS1 General Specifications
§3.3.2, "Identification of a trade item (GTIN): AI (01)"). It comes in four lengths —
GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN-13) and GTIN-14 — and every shorter form is the
same number as the GTIN-14 padded on the left with zeros, which is why EPCIS, the EPC
URIs and GS1 Digital Link all carry the 14-digit form. The last digit is the GS1 mod-10
check digit (GenSpecs §7.9.1).

serialvault keys every product by its GTIN-14: :func:`normalize_gtin` is the one way in.

>>> g = Gtin.parse("9521234543213")
>>> g.kind, g.gtin14, g.indicator, g.company_and_item
('GTIN-13', '09521234543213', '0', '952123454321')
>>> Gtin.from_parts("1", "952123454321").gtin14
'19521234543210'
>>> normalize_gtin("09521234543213")
'09521234543213'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from serialvault.errors import IdentifierError
from serialvault.gs1.checkdigit import gs1_check_digit

__all__ = ["GTIN_KINDS", "Gtin", "normalize_gtin"]

#: GTIN kind by number of digits (GenSpecs §3.3.2).
GTIN_KINDS: dict[int, str] = {8: "GTIN-8", 12: "GTIN-12", 13: "GTIN-13", 14: "GTIN-14"}

#: Enough for every product a site makes many times over; a capture of millions of units
#: sees a few hundred distinct GTINs, so almost every parse is a dictionary hit.
_CACHE_SIZE = 8192


@dataclass(frozen=True, slots=True)
class Gtin:
    """A valid GTIN-8, -12, -13 or -14.

    ``value`` is the number as given (its length tells its ``kind``); ``gtin14`` is the
    canonical 14-digit form. Two GTINs are equal when their GTIN-14 forms are equal —
    ``9521234543213`` and ``09521234543213`` are the same trade item (GenSpecs §3.3.2:
    shorter GTINs are right-justified in the 14-digit field with leading zeros).

    Build one with :meth:`parse` or :meth:`from_parts`; the constructor does not check.
    """

    value: str = field(compare=False)
    gtin14: str

    @classmethod
    def parse(cls, value: str) -> Gtin:
        """Parse a GTIN of 8, 12, 13 or 14 ASCII digits and verify its check digit.

        Raises :class:`~serialvault.errors.IdentifierError` naming the value and the
        reason:

        >>> try:
        ...     Gtin.parse("09521234543214")
        ... except IdentifierError as exc:
        ...     print(exc)
        Invalid GTIN '09521234543214': check digit is 4, expected 3.
        """
        return _parse_gtin(value)

    @classmethod
    def from_parts(cls, indicator: str | int, digits12: str) -> Gtin:
        """Build the GTIN-14 ``indicator + digits12 + check digit``.

        ``indicator`` is the packaging-level digit (GenSpecs §3.3.2: 1–8 for groupings of
        the same item, 0 for the base unit, 9 for variable measure items); ``digits12``
        is the GS1 company prefix and item reference (12 digits, including the leading
        zero of a GTIN-13 that becomes a GTIN-14). The check digit is computed.
        """
        ind = str(indicator)
        if len(ind) != 1 or not (ind.isascii() and ind.isdigit()):
            raise IdentifierError(
                f"Invalid GTIN indicator {indicator!r}: expected a single digit 0-9."
            )
        if not isinstance(digits12, str) or len(digits12) != 12:
            got = len(digits12) if isinstance(digits12, str) else type(digits12).__name__
            raise IdentifierError(
                f"Invalid GTIN company prefix and item reference {digits12!r}: "
                f"expected 12 digits, got {got}."
            )
        if not (digits12.isascii() and digits12.isdigit()):
            bad = _first_non_digit(digits12)
            raise IdentifierError(
                f"Invalid GTIN company prefix and item reference {digits12!r}: "
                f"character {bad!r} is not a digit."
            )
        body = ind + digits12
        gtin14 = body + gs1_check_digit(body)
        return cls(value=gtin14, gtin14=gtin14)

    @property
    def kind(self) -> str:
        """``"GTIN-8"``, ``"GTIN-12"``, ``"GTIN-13"`` or ``"GTIN-14"``, from the length given."""
        return GTIN_KINDS[len(self.value)]

    @property
    def indicator(self) -> str:
        """The first digit of the GTIN-14: the packaging level (0 for shorter GTINs)."""
        return self.gtin14[0]

    @property
    def company_and_item(self) -> str:
        """GTIN-14 digits 2–13: GS1 company prefix + item reference, without the check digit.

        Where the company prefix ends is not in the number itself; it takes the GS1
        company prefix length table (``serialvault.gs1.company_prefix``).
        """
        return self.gtin14[1:13]

    @property
    def check_digit(self) -> str:
        """The last digit (GenSpecs §7.9.1)."""
        return self.gtin14[13]

    def __str__(self) -> str:
        return self.gtin14


def normalize_gtin(value: str) -> str:
    """Return the GTIN-14 form of a GTIN-8/12/13/14, verifying it.

    The hot path of capture: repeated values (the same few products over millions of
    units) are answered from a cache, so a call costs a dictionary lookup.

    >>> normalize_gtin("96385074")
    '00000096385074'
    """
    return _parse_gtin(value).gtin14


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_gtin(value: str) -> Gtin:
    # Cached: a Gtin is immutable, and exceptions are never cached by lru_cache, so an
    # invalid value is re-checked (and re-reported) every time.
    if not isinstance(value, str):
        raise IdentifierError(
            f"Invalid GTIN {value!r}: expected a string of digits, got {type(value).__name__}."
        )
    n = len(value)
    if not (value.isascii() and value.isdigit()):
        if n == 0:
            raise IdentifierError("Invalid GTIN '': expected 8, 12, 13 or 14 digits, got 0.")
        raise IdentifierError(
            f"Invalid GTIN {value!r}: character {_first_non_digit(value)!r} is not a digit."
        )
    if n not in GTIN_KINDS:
        raise IdentifierError(f"Invalid GTIN {value!r}: expected 8, 12, 13 or 14 digits, got {n}.")
    expected = gs1_check_digit(value[:-1])
    if value[-1] != expected:
        raise IdentifierError(
            f"Invalid GTIN {value!r}: check digit is {value[-1]}, expected {expected}."
        )
    return Gtin(value=value, gtin14=value.rjust(14, "0"))


def _first_non_digit(value: str) -> str:
    for ch in value:
        if not ("0" <= ch <= "9"):
            return ch
    return ""  # pragma: no cover - only called when a non-digit exists
