"""Batch/lot number (AI 10) and expiration date (AI 17).

Both travel with every pharmaceutical pack (the DSCSA product identifier and the EU FMD
unique identifier are GTIN + serial + lot + expiry) and in EPCIS as the ILMD fields
``cbvmda:lotNumber`` and ``cbvmda:itemExpirationDate`` (CBV 2.0, instance/lot master
data attributes; ``itemExpirationDate`` is an ``xsd:date``).

Lot
    AI (10): 1 to 20 characters of GS1 character set 82 (GS1 General Specifications
    §3.4.1, "Batch or lot number: AI (10)"; §7.11, Figure 7.11-1). Kept exactly as
    given; it is not part of the trade item's identity (§3.4.1 note).

Expiry
    AI (17): ``YYMMDD`` (GenSpecs §3.4.7, "Expiration date: AI (17)"). Year and month
    are mandatory; a day of ``00`` means "no day given", to be read as the last day of
    that month, leap years included (``240200`` is 29 February 2024). The two-digit
    year is placed in a century by the sliding window of GenSpecs §7.12 ("Determination
    of century in dates"): from 49 years before to 50 years after the current year.
    The pure core does not read the clock, so the caller passes that reference year.

>>> e = Expiry.parse_yymmdd("250200", reference_year=2024)
>>> e.date, e.to_yymmdd(), e.to_iso()
(datetime.date(2025, 2, 28), '250200', '2025-02-28')
>>> Expiry.parse_iso("2025-03-27").to_yymmdd()
'250327'
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from serialvault.errors import IdentifierError
from serialvault.gs1.charset import CS82, first_outside

__all__ = ["MAX_LOT_LENGTH", "Expiry", "Lot", "century_for"]

#: AI (10) holds 1 to 20 characters (GenSpecs §3.2, format N2+X..20).
MAX_LOT_LENGTH = 20

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# xsd:date lexical form (XML Schema 1.1 Part 2 §3.3.9) restricted to four-digit years,
# with the optional time zone that xsd:date permits; a date has no time to shift, so the
# zone is accepted and dropped (CBV gives itemExpirationDate as a calendar date).
_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))?")


@dataclass(frozen=True, slots=True)
class Lot:
    """A batch/lot number. Build one with :meth:`parse`; the constructor does not check."""

    value: str

    @classmethod
    def parse(cls, value: str) -> Lot:
        """Validate an AI (10) value: 1 to 20 characters of GS1 character set 82.

        >>> try:
        ...     Lot.parse("L 1")
        ... except IdentifierError as exc:
        ...     print(exc)
        Invalid lot number 'L 1': character ' ' is not in GS1 character set 82.
        """
        if not isinstance(value, str):
            raise IdentifierError(
                f"Invalid lot number {value!r}: expected a string, got {type(value).__name__}."
            )
        if not 1 <= len(value) <= MAX_LOT_LENGTH:
            raise IdentifierError(
                f"Invalid lot number {value!r}: expected 1 to {MAX_LOT_LENGTH} characters, "
                f"got {len(value)}."
            )
        bad = first_outside(value, CS82)
        if bad is not None:
            raise IdentifierError(
                f"Invalid lot number {value!r}: character {bad!r} is not in GS1 character set 82."
            )
        return cls(value)

    def __str__(self) -> str:
        return self.value


def century_for(two_digit_year: int, reference_year: int) -> int:
    """The four-digit year for ``two_digit_year`` by the GenSpecs §7.12 sliding window.

    With ``d = YY - (reference_year mod 100)``: ``51 <= d <= 99`` means the previous
    century, ``-99 <= d <= -50`` the next one, anything else the reference year's own
    century. The window so covers 49 years back to 50 years ahead.

    >>> century_for(99, 2025), century_for(75, 2025), century_for(74, 2025)
    (1999, 2075, 2074)
    >>> century_for(25, 2080)
    2125
    """
    century = reference_year - reference_year % 100
    d = two_digit_year - reference_year % 100
    if 51 <= d <= 99:
        return century - 100 + two_digit_year
    if -99 <= d <= -50:
        return century + 100 + two_digit_year
    return century + two_digit_year


@dataclass(frozen=True, slots=True)
class Expiry:
    """An expiration date, remembering whether the day was given.

    ``date`` is the calendar date the expiry means (the last day of the month when
    ``day_unspecified``). ``day_unspecified`` records an AI (17) day of ``00`` so that
    :meth:`to_yymmdd` gives back exactly what was scanned: ``250300`` and ``250331``
    are the same day but not the same data. Build one with a ``parse_*`` method or
    :meth:`of`; the constructor checks that an unspecified day is a month's last day.
    """

    date: dt.date
    day_unspecified: bool = False

    def __post_init__(self) -> None:
        if self.day_unspecified and self.date.day != _last_day(self.date.year, self.date.month):
            raise IdentifierError(
                f"Invalid expiry date {self.date.isoformat()!r}: a day given as 00 stands "
                "for the last day of the month."
            )

    @classmethod
    def of(cls, date: dt.date) -> Expiry:
        """An expiry on a given day."""
        return cls(date)

    @classmethod
    def parse_yymmdd(cls, value: str, reference_year: int) -> Expiry:
        """Parse an AI (17) ``YYMMDD`` value; ``reference_year`` is "now" for §7.12.

        >>> try:
        ...     Expiry.parse_yymmdd("250230", reference_year=2024)
        ... except IdentifierError as exc:
        ...     print(exc)
        Invalid expiry date '250230': February 2025 has no day 30.
        """
        if not isinstance(value, str):
            raise IdentifierError(
                f"Invalid expiry date {value!r}: expected a string YYMMDD, "
                f"got {type(value).__name__}."
            )
        if len(value) != 6 or not (value.isascii() and value.isdigit()):
            raise IdentifierError(f"Invalid expiry date {value!r}: expected 6 digits YYMMDD.")
        if not isinstance(reference_year, int) or not 100 <= reference_year <= 9899:
            raise IdentifierError(
                f"Invalid expiry date {value!r}: reference year {reference_year!r} is not a "
                "year between 100 and 9899."
            )
        yy, mm, dd = int(value[0:2]), int(value[2:4]), int(value[4:6])
        if not 1 <= mm <= 12:
            raise IdentifierError(
                f"Invalid expiry date {value!r}: month {value[2:4]} is not between 01 and 12."
            )
        year = century_for(yy, reference_year)
        last = _last_day(year, mm)
        if dd == 0:
            return cls(dt.date(year, mm, last), day_unspecified=True)
        if dd > last:
            raise IdentifierError(
                f"Invalid expiry date {value!r}: {_MONTHS[mm - 1]} {year} has no day {dd}."
            )
        return cls(dt.date(year, mm, dd))

    @classmethod
    def parse_iso(cls, value: str) -> Expiry:
        """Parse the ``xsd:date`` form used by EPCIS ILMD ``cbvmda:itemExpirationDate``.

        ``YYYY-MM-DD``, optionally followed by a time zone (``Z``, ``+01:00``), which a
        calendar date does not need and is dropped.

        >>> try:
        ...     Expiry.parse_iso("2025-02-29")
        ... except IdentifierError as exc:
        ...     print(exc)
        Invalid expiry date '2025-02-29': February 2025 has no day 29.
        """
        if not isinstance(value, str):
            raise IdentifierError(
                f"Invalid expiry date {value!r}: expected a string YYYY-MM-DD, "
                f"got {type(value).__name__}."
            )
        m = _ISO_DATE_RE.fullmatch(value) if value.isascii() else None
        if m is None:
            raise IdentifierError(f"Invalid expiry date {value!r}: expected YYYY-MM-DD.")
        year, mm, dd = int(m[1]), int(m[2]), int(m[3])
        if year == 0:
            raise IdentifierError(f"Invalid expiry date {value!r}: year 0000 does not exist.")
        if not 1 <= mm <= 12:
            raise IdentifierError(
                f"Invalid expiry date {value!r}: month {m[2]} is not between 01 and 12."
            )
        if not 1 <= dd <= _last_day(year, mm):
            raise IdentifierError(
                f"Invalid expiry date {value!r}: {_MONTHS[mm - 1]} {year} has no day {m[3]}."
            )
        return cls(dt.date(year, mm, dd))

    def to_yymmdd(self) -> str:
        """The AI (17) form; ``DD`` is ``00`` when the day was unspecified."""
        dd = "00" if self.day_unspecified else f"{self.date.day:02d}"
        return f"{self.date.year % 100:02d}{self.date.month:02d}{dd}"

    def to_iso(self) -> str:
        """The ``xsd:date`` form ``YYYY-MM-DD`` (the last day of the month for ``DD=00``)."""
        return self.date.isoformat()

    def __str__(self) -> str:
        return self.to_iso()


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]
