"""The Serial Shipping Container Code (SSCC).

An SSCC identifies one logistic unit — a case or a pallet — for its whole life
(GS1 General Specifications §3.3.1, "Identification of a logistic unit (SSCC): AI (00)").
It is always 18 digits: an extension digit the company uses freely to widen its
number range, the GS1 company prefix and serial reference (16 digits together: the
boundary needs the company prefix length table, ``serialvault.gs1.company_prefix``),
and the GS1 mod-10 check digit (GenSpecs §7.9.1).

>>> s = Sscc.parse("106141411234567897")
>>> s.extension_digit, s.check_digit
('1', '7')
"""

from __future__ import annotations

from dataclasses import dataclass

from serialvault.errors import IdentifierError
from serialvault.gs1.checkdigit import gs1_check_digit

__all__ = ["Sscc"]


@dataclass(frozen=True, slots=True)
class Sscc:
    """A valid SSCC-18. Build one with :meth:`parse`; the constructor does not check."""

    value: str

    @classmethod
    def parse(cls, value: str) -> Sscc:
        """Parse 18 ASCII digits and verify the check digit.

        >>> try:
        ...     Sscc.parse("106141411234567898")
        ... except IdentifierError as exc:
        ...     print(exc)
        Invalid SSCC '106141411234567898': check digit is 8, expected 7.
        """
        if not isinstance(value, str):
            raise IdentifierError(
                f"Invalid SSCC {value!r}: expected a string of digits, got {type(value).__name__}."
            )
        if not (value.isascii() and value.isdigit()) and value:
            bad = next(ch for ch in value if not ("0" <= ch <= "9"))
            raise IdentifierError(f"Invalid SSCC {value!r}: character {bad!r} is not a digit.")
        if len(value) != 18:
            raise IdentifierError(f"Invalid SSCC {value!r}: expected 18 digits, got {len(value)}.")
        expected = gs1_check_digit(value[:17])
        if value[17] != expected:
            raise IdentifierError(
                f"Invalid SSCC {value!r}: check digit is {value[17]}, expected {expected}."
            )
        return cls(value)

    @property
    def extension_digit(self) -> str:
        """The first digit, assigned freely by the company (GenSpecs §3.3.1)."""
        return self.value[0]

    @property
    def company_prefix_and_serial_reference(self) -> str:
        """Digits 2–17: GS1 company prefix + serial reference, without the check digit."""
        return self.value[1:17]

    @property
    def check_digit(self) -> str:
        """The last digit (GenSpecs §7.9.1)."""
        return self.value[17]

    def __str__(self) -> str:
        return self.value
