"""The US National Drug Code (NDC) and the NDC-based GTIN.

An NDC is 10 digits in three segments — labeler code, product code, package code —
in one of three configurations: ``4-4-2``, ``5-3-2`` or ``5-4-1`` (FDA, 21 CFR 207.33).
The configuration is *not* recoverable from the 10 digits: ``0001012345`` is
``0001-0123-45`` (4-4-2) or ``00010-123-45`` (5-3-2) or ``00010-1234-5`` (5-4-1),
three different products for three different labelers. So an :class:`Ndc` keeps its
configuration when it is known and says "ambiguous" when asked to format without one.

The 11-digit ``5-4-2`` form used in billing (HIPAA claims, NCPDP) pads the one short
segment with a leading zero: ``0001-0123-45`` becomes ``00001-0123-45``. Going back
needs to know which segment was padded — the hyphens tell where the segments are, and
the padded segment is the one that starts with the extra ``0``; when more than one
segment starts with ``0`` the configuration must be given.

NDC-based GTINs (GS1 US, "Applying GS1 Standards for DSCSA and Traceability"; NDC in
the GS1 company prefix range ``03``): the GTIN-12 is ``3`` + NDC10 + check digit, and a
GTIN-14 for a packaging level is indicator + ``03`` + NDC10 + check digit.

>>> ndc = Ndc.parse("0001-0123-45")
>>> ndc.configuration, ndc.to_ndc11(), ndc.to_gtin14(), ndc.to_gtin14(indicator=1)
('4-4-2', '00001-0123-45', '00300010123455', '10300010123452')
>>> str(Ndc.from_gtin("10300010123452", configuration="4-4-2"))
'0001-0123-45'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from serialvault.errors import IdentifierError
from serialvault.gs1.checkdigit import gs1_check_digit
from serialvault.gs1.gtin import Gtin

__all__ = ["CONFIGURATIONS", "Ndc", "NdcConfiguration"]

NdcConfiguration = Literal["4-4-2", "5-3-2", "5-4-1"]

#: Segment lengths (labeler, product, package) per configuration (21 CFR 207.33).
CONFIGURATIONS: dict[str, tuple[int, int, int]] = {
    "4-4-2": (4, 4, 2),
    "5-3-2": (5, 3, 2),
    "5-4-1": (5, 4, 1),
}
_BY_LENGTHS = {lengths: name for name, lengths in CONFIGURATIONS.items()}
# Which segment of the 11-digit 5-4-2 form carries the padding zero, per configuration.
_PADDED_SEGMENT = {"4-4-2": 0, "5-3-2": 1, "5-4-1": 2}
_SEGMENT_NAMES = ("labeler", "product", "package")
_GIVE = "give its configuration (4-4-2, 5-3-2 or 5-4-1)"


@dataclass(frozen=True, slots=True)
class Ndc:
    """A 10-digit NDC and, when known, its configuration.

    ``digits`` are the 10 digits without hyphens. ``configuration`` is ``None`` only for
    an NDC taken from a GTIN without saying how it is segmented: such a value converts
    back to a GTIN but refuses to be formatted (the format would be a guess). Build one
    with :meth:`parse` or :meth:`from_gtin`; the constructor does not check.
    """

    digits: str
    configuration: NdcConfiguration | None = None

    @classmethod
    def parse(cls, value: str, configuration: str | None = None) -> Ndc:
        """Parse a hyphenated NDC (10-digit or 11-digit ``5-4-2``) or bare digits.

        Hyphenated 10-digit forms carry their configuration. Bare 10 or 11 digits need
        ``configuration``; so does an 11-digit form where more than one segment could
        hold the padding zero.

        >>> Ndc.parse("00010-123-45").configuration
        '5-3-2'
        >>> Ndc.parse("12345-6789-01").digits
        '1234567891'
        >>> try:
        ...     Ndc.parse("0001012345")
        ... except IdentifierError as exc:
        ...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
        Invalid NDC '0001012345': a 10-digit NDC without hyphens is ambiguous;
        give its configuration (4-4-2, 5-3-2 or 5-4-1).
        """
        if not isinstance(value, str):
            raise IdentifierError(
                f"Invalid NDC {value!r}: expected a string, got {type(value).__name__}."
            )
        config = _check_configuration(configuration)
        if "-" in value:
            return _parse_hyphenated(value, config)
        if not (value.isascii() and value.isdigit()):
            bad = next((ch for ch in value if not ("0" <= ch <= "9")), None)
            if bad is not None:
                raise IdentifierError(f"Invalid NDC {value!r}: character {bad!r} is not a digit.")
        n = len(value)
        if n not in (10, 11):
            raise IdentifierError(
                f"Invalid NDC {value!r}: expected 10 digits (or 11 in the 5-4-2 form), got {n}."
            )
        if config is None:
            raise IdentifierError(
                f"Invalid NDC {value!r}: a {n}-digit NDC without hyphens is ambiguous; {_GIVE}."
            )
        if n == 10:
            return cls(value, config)
        return cls(_unpad(value, [value[:5], value[5:9], value[9:]], config), config)

    @classmethod
    def from_gtin(cls, gtin: Gtin | str, configuration: str | None = None) -> Ndc:
        """The NDC inside an NDC-based GTIN (any packaging level).

        Without ``configuration`` the result knows its digits only (the GTIN does not
        say how they are segmented).

        >>> try:
        ...     Ndc.from_gtin("09521234543213")
        ... except IdentifierError as exc:
        ...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
        GTIN '09521234543213' is not NDC-based:
        expected '03' after the indicator digit, got '95'.
        """
        config = _check_configuration(configuration)
        g = gtin if isinstance(gtin, Gtin) else Gtin.parse(gtin)
        g14 = g.gtin14
        if g14[1:3] != "03":
            raise IdentifierError(
                f"GTIN {g.value!r} is not NDC-based: expected '03' after the indicator digit, "
                f"got {g14[1:3]!r}."
            )
        return cls(g14[3:13], config)

    def with_configuration(self, configuration: str) -> Ndc:
        """The same digits with a (now known) configuration."""
        config = _check_configuration(configuration)
        assert config is not None
        return Ndc(self.digits, config)

    @property
    def segments(self) -> tuple[str, str, str]:
        """(labeler code, product code, package code)."""
        if self.configuration is None:
            raise IdentifierError(
                f"NDC {self.digits!r} has no known configuration: its segments are "
                f"ambiguous; {_GIVE}."
            )
        a, b, _ = CONFIGURATIONS[self.configuration]
        d = self.digits
        return d[:a], d[a : a + b], d[a + b :]

    @property
    def labeler(self) -> str:
        return self.segments[0]

    @property
    def product(self) -> str:
        return self.segments[1]

    @property
    def package(self) -> str:
        return self.segments[2]

    @property
    def hyphenated(self) -> str:
        """The 10-digit hyphenated form, e.g. ``0001-0123-45``."""
        return "-".join(self.segments)

    def to_ndc11(self) -> str:
        """The 11-digit ``5-4-2`` billing form, hyphenated (``00001-0123-45``)."""
        segs = list(self.segments)
        i = _PADDED_SEGMENT[cast(str, self.configuration)]
        segs[i] = "0" + segs[i]
        return "-".join(segs)

    def to_gtin12(self) -> str:
        """``3`` + NDC10 + check digit: the UPC-A on a unit of sale (GS1 US)."""
        body = "3" + self.digits
        return body + gs1_check_digit(body)

    def to_gtin14(self, indicator: int | str = 0) -> str:
        """indicator + ``03`` + NDC10 + check digit (GS1 US); indicator 0 is the unit."""
        ind = str(indicator)
        if len(ind) != 1 or not (ind.isascii() and ind.isdigit()):
            raise IdentifierError(
                f"Invalid GTIN indicator {indicator!r}: expected a single digit 0-9."
            )
        body = ind + "03" + self.digits
        return body + gs1_check_digit(body)

    def to_gtin(self, indicator: int | str = 0) -> Gtin:
        """:meth:`to_gtin14` as a :class:`Gtin`."""
        g14 = self.to_gtin14(indicator)
        return Gtin(value=g14, gtin14=g14)

    def __str__(self) -> str:
        """The hyphenated form; refused (``IdentifierError``) when the configuration is unknown."""
        return self.hyphenated


def _check_configuration(configuration: str | None) -> NdcConfiguration | None:
    if configuration is None or configuration in CONFIGURATIONS:
        return cast("NdcConfiguration | None", configuration)
    raise IdentifierError(
        f"Invalid NDC configuration {configuration!r}: expected 4-4-2, 5-3-2 or 5-4-1."
    )


def _parse_hyphenated(value: str, config: NdcConfiguration | None) -> Ndc:
    parts = value.split("-")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        bad = next((ch for ch in value if not ("0" <= ch <= "9" or ch == "-")), None)
        if bad is not None:
            raise IdentifierError(f"Invalid NDC {value!r}: character {bad!r} is not a digit.")
        raise IdentifierError(
            f"Invalid NDC {value!r}: expected three hyphen-separated segments of digits."
        )
    lengths = (len(parts[0]), len(parts[1]), len(parts[2]))
    if lengths == (5, 4, 2):
        resolved = _resolve_padding(value, parts, config)
        return Ndc(_unpad(value, parts, resolved), resolved)
    found = _BY_LENGTHS.get(lengths)
    if found is None:
        shape = "-".join(str(n) for n in lengths)
        raise IdentifierError(
            f"Invalid NDC {value!r}: segments of {shape} digits; expected 4-4-2, 5-3-2 or "
            "5-4-1 (10 digits) or 5-4-2 (11 digits)."
        )
    if config is not None and config != found:
        raise IdentifierError(
            f"Invalid NDC {value!r}: its hyphens say {found}, but configuration {config} was given."
        )
    return Ndc("".join(parts), cast(NdcConfiguration, found))


def _resolve_padding(
    value: str, parts: list[str], config: NdcConfiguration | None
) -> NdcConfiguration:
    if config is not None:
        return config
    candidates = [c for c, i in _PADDED_SEGMENT.items() if parts[i].startswith("0")]
    if len(candidates) == 1:
        return cast(NdcConfiguration, candidates[0])
    if not candidates:
        raise IdentifierError(
            f"Invalid NDC {value!r}: in the 11-digit 5-4-2 form one segment starts with a "
            "padding zero, and none does."
        )
    names = " or ".join(_SEGMENT_NAMES[_PADDED_SEGMENT[c]] for c in candidates)
    raise IdentifierError(
        f"Invalid NDC {value!r}: the 11-digit form is ambiguous (the padding zero may be in "
        f"the {names} code); {_GIVE}."
    )


def _unpad(value: str, parts: list[str], config: NdcConfiguration) -> str:
    """The 10 digits of an 11-digit 5-4-2 NDC whose padded segment ``config`` names."""
    i = _PADDED_SEGMENT[config]
    segs = list(parts)
    if not segs[i].startswith("0"):
        raise IdentifierError(
            f"Invalid NDC {value!r}: as {config}, the {_SEGMENT_NAMES[i]} code "
            f"{segs[i]!r} should start with the padding zero."
        )
    segs[i] = segs[i][1:]
    return "".join(segs)
