"""The Global Location Number (GLN) and the SGLN (GLN + extension).

A GLN identifies a party or a physical location — a plant, a warehouse, a dock door
(GS1 General Specifications §3.7, "Identification of a physical location – Global
Location Number (GLN): AI (414)"). It is 13 digits: GS1 company prefix and location
reference, then the GS1 mod-10 check digit (GenSpecs §7.9.1).

A *sub-location* inside a GLN (a storage room, a bay) is named by the GLN extension
component, AI (254): up to 20 characters of GS1 character set 82 (GenSpecs §3.5, "GLN
extension component: AI (254)"; §7.11). EPCIS read points and business locations use
the pair as an SGLN (EPC Tag Data Standard §6.3.3).

The location itself versus a sub-location
------------------------------------------
An SGLN with *no* extension means "the location the GLN identifies", not "a
sub-location called nothing". The EPC Tag Data Standard writes that case with the
extension ``0`` (``urn:epc:id:sgln:…​.0``) and reserves ``0`` for it, while a barcode
simply omits AI (254). So :meth:`Sgln.parse` maps both ``""`` and ``"0"`` (and
``None``) to ``extension=None``; :attr:`Sgln.is_location_itself` says so explicitly,
and :attr:`Sgln.tds_extension` gives back ``"0"`` for the EPC URI. A real extension is
any other non-empty CS82 string and is kept exactly as given (``"00"`` and ``"01"`` are
real extensions, distinct from the location itself).

>>> Sgln.parse("0614141123452", "0").is_location_itself
True
>>> Sgln.parse("0614141123452", "DOCK-3").extension
'DOCK-3'
"""

from __future__ import annotations

from dataclasses import dataclass

from serialvault.errors import IdentifierError
from serialvault.gs1.charset import CS82, first_outside
from serialvault.gs1.checkdigit import gs1_check_digit

__all__ = ["MAX_EXTENSION_LENGTH", "Gln", "Sgln", "check_extension"]

#: AI (254) holds 1 to 20 characters (GenSpecs §3.2, format N3+X..20).
MAX_EXTENSION_LENGTH = 20


@dataclass(frozen=True, slots=True)
class Gln:
    """A valid GLN-13. Build one with :meth:`parse`; the constructor does not check."""

    value: str

    @classmethod
    def parse(cls, value: str) -> Gln:
        """Parse 13 ASCII digits and verify the check digit.

        >>> try:
        ...     Gln.parse("0614141123453")
        ... except IdentifierError as exc:
        ...     print(exc)
        Invalid GLN '0614141123453': check digit is 3, expected 2.
        """
        if not isinstance(value, str):
            raise IdentifierError(
                f"Invalid GLN {value!r}: expected a string of digits, got {type(value).__name__}."
            )
        if not (value.isascii() and value.isdigit()) and value:
            bad = next(ch for ch in value if not ("0" <= ch <= "9"))
            raise IdentifierError(f"Invalid GLN {value!r}: character {bad!r} is not a digit.")
        if len(value) != 13:
            raise IdentifierError(f"Invalid GLN {value!r}: expected 13 digits, got {len(value)}.")
        expected = gs1_check_digit(value[:12])
        if value[12] != expected:
            raise IdentifierError(
                f"Invalid GLN {value!r}: check digit is {value[12]}, expected {expected}."
            )
        return cls(value)

    @property
    def company_prefix_and_location_reference(self) -> str:
        """Digits 1–12, without the check digit (the split needs the prefix length table)."""
        return self.value[:12]

    @property
    def check_digit(self) -> str:
        return self.value[12]

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Sgln:
    """A GLN with an optional extension; ``extension=None`` is the location itself.

    See the module documentation for why ``""`` and ``"0"`` both mean "no extension".
    Build one with :meth:`parse`; the constructor does not check.
    """

    gln: Gln
    extension: str | None = None

    @classmethod
    def parse(cls, gln: Gln | str, extension: str | None = None) -> Sgln:
        """Validate the GLN (unless already a :class:`Gln`) and the extension.

        >>> try:
        ...     Sgln.parse("0614141123452", "A~1")
        ... except IdentifierError as exc:
        ...     print(exc)
        Invalid GLN extension 'A~1': character '~' is not in GS1 character set 82.
        """
        g = gln if isinstance(gln, Gln) else Gln.parse(gln)
        if extension is None or extension in ("", "0"):
            return cls(g, None)
        return cls(g, check_extension(extension))

    @property
    def is_location_itself(self) -> bool:
        """True when this names the GLN's location, not a sub-location inside it."""
        return self.extension is None

    @property
    def tds_extension(self) -> str:
        """The extension as the EPC Tag Data Standard writes it: ``"0"`` for none."""
        return "0" if self.extension is None else self.extension


def check_extension(extension: str) -> str:
    """Return ``extension`` if it is a valid AI (254) value (1–20 CS82 characters)."""
    if not isinstance(extension, str):
        raise IdentifierError(
            f"Invalid GLN extension {extension!r}: expected a string, "
            f"got {type(extension).__name__}."
        )
    if not 1 <= len(extension) <= MAX_EXTENSION_LENGTH:
        raise IdentifierError(
            f"Invalid GLN extension {extension!r}: expected 1 to {MAX_EXTENSION_LENGTH} "
            f"characters, got {len(extension)}."
        )
    bad = first_outside(extension, CS82)
    if bad is not None:
        raise IdentifierError(
            f"Invalid GLN extension {extension!r}: character {bad!r} is not in "
            "GS1 character set 82."
        )
    return extension
