"""Lot (AI 10) and expiry (AI 17, GenSpecs §7.12 century; xsd:date for EPCIS ILMD)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.errors import IdentifierError
from serialvault.gs1.charset import CS82
from serialvault.gs1.lot import Expiry, Lot, century_for

# -- Lot ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["A123", "0", "x" * 20, "LOT/2025-03.A_1"])
def test_lot_valid(value: str) -> None:
    assert Lot.parse(value).value == value
    assert str(Lot.parse(value)) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Invalid lot number '': expected 1 to 20 characters, got 0."),
        ("x" * 21, f"Invalid lot number '{'x' * 21}': expected 1 to 20 characters, got 21."),
        ("L 1", "Invalid lot number 'L 1': character ' ' is not in GS1 character set 82."),
        ("L~1", "Invalid lot number 'L~1': character '~' is not in GS1 character set 82."),
    ],
)
def test_lot_invalid(value: str, message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        Lot.parse(value)
    assert str(info.value) == message


def test_lot_non_string() -> None:
    with pytest.raises(IdentifierError, match="expected a string, got int"):
        Lot.parse(12)  # type: ignore[arg-type]


@given(st.text(alphabet=sorted(CS82), min_size=1, max_size=20))
def test_any_cs82_lot_is_accepted(value: str) -> None:
    assert Lot.parse(value).value == value


# -- century window (GenSpecs §7.12) ----------------------------------------------------


@pytest.mark.parametrize(
    ("yy", "reference_year", "year"),
    [
        (25, 2025, 2025),
        (75, 2025, 2075),  # 50 years ahead: still this century
        (76, 2025, 1976),  # 51 ahead: previous century
        (99, 2025, 1999),
        (0, 2025, 2000),
        (0, 2049, 2000),  # 49 back
        (99, 2049, 2099),  # 50 ahead
        (98, 2049, 2098),
        (0, 2050, 2100),  # 50 back would be 2000: more than 49 back, so the next century
        (1, 2050, 2001),
        (49, 1999, 2049),  # 50 ahead of 1999
        (50, 1999, 1950),
    ],
)
def test_century_window(yy: int, reference_year: int, year: int) -> None:
    assert century_for(yy, reference_year) == year


@given(st.integers(0, 99), st.integers(100, 9899))
def test_century_window_covers_49_back_to_50_ahead(yy: int, reference_year: int) -> None:
    year = century_for(yy, reference_year)
    assert year % 100 == yy
    assert -49 <= year - reference_year <= 50


# -- Expiry -----------------------------------------------------------------------------


def test_parse_yymmdd() -> None:
    e = Expiry.parse_yymmdd("250327", reference_year=2024)
    assert e.date == dt.date(2025, 3, 27)
    assert not e.day_unspecified
    assert e.to_yymmdd() == "250327"
    assert e.to_iso() == "2025-03-27"
    assert str(e) == "2025-03-27"


@pytest.mark.parametrize(
    ("value", "last_day"),
    [
        ("250200", dt.date(2025, 2, 28)),
        ("240200", dt.date(2024, 2, 29)),  # leap year
        ("000200", dt.date(2000, 2, 29)),  # divisible by 400: leap
        ("251200", dt.date(2025, 12, 31)),
        ("250400", dt.date(2025, 4, 30)),
    ],
)
def test_day_00_is_the_last_day_of_the_month(value: str, last_day: dt.date) -> None:
    e = Expiry.parse_yymmdd(value, reference_year=2025)
    assert e.date == last_day
    assert e.day_unspecified
    assert e.to_yymmdd() == value  # round-trips exactly, not as the explicit last day
    assert e.to_iso() == last_day.isoformat()


def test_day_00_and_explicit_last_day_are_the_same_date_but_different_data() -> None:
    implicit = Expiry.parse_yymmdd("250300", reference_year=2025)
    explicit = Expiry.parse_yymmdd("250331", reference_year=2025)
    assert implicit.date == explicit.date
    assert implicit != explicit
    assert explicit.to_yymmdd() == "250331"


def test_century_follows_the_reference_year() -> None:
    assert Expiry.parse_yymmdd("990101", reference_year=2025).date.year == 1999
    assert Expiry.parse_yymmdd("750101", reference_year=2025).date.year == 2075
    # 2100 is not a leap year: 000200 means 28 February when the window puts it in 2100.
    assert Expiry.parse_yymmdd("000200", reference_year=2080).date == dt.date(2100, 2, 28)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("250230", "Invalid expiry date '250230': February 2025 has no day 30."),
        ("250229", "Invalid expiry date '250229': February 2025 has no day 29."),
        ("250431", "Invalid expiry date '250431': April 2025 has no day 31."),
        ("251300", "Invalid expiry date '251300': month 13 is not between 01 and 12."),
        ("250001", "Invalid expiry date '250001': month 00 is not between 01 and 12."),
        ("2503", "Invalid expiry date '2503': expected 6 digits YYMMDD."),
        ("25032A", "Invalid expiry date '25032A': expected 6 digits YYMMDD."),
        ("2025-03-27", "Invalid expiry date '2025-03-27': expected 6 digits YYMMDD."),
    ],
)
def test_parse_yymmdd_invalid(value: str, message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        Expiry.parse_yymmdd(value, reference_year=2025)
    assert str(info.value) == message


def test_parse_yymmdd_needs_a_sensible_reference_year() -> None:
    with pytest.raises(IdentifierError, match="reference year 25 is not a year"):
        Expiry.parse_yymmdd("250101", reference_year=25)
    with pytest.raises(IdentifierError, match="expected a string YYMMDD, got int"):
        Expiry.parse_yymmdd(250101, reference_year=2025)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "date"),
    [
        ("2025-03-27", dt.date(2025, 3, 27)),
        ("2024-02-29", dt.date(2024, 2, 29)),
        ("2025-03-27Z", dt.date(2025, 3, 27)),
        ("2025-03-27+01:00", dt.date(2025, 3, 27)),
        ("2025-03-27-05:00", dt.date(2025, 3, 27)),
        ("2025-03-27+14:00", dt.date(2025, 3, 27)),
    ],
)
def test_parse_iso(value: str, date: dt.date) -> None:
    e = Expiry.parse_iso(value)
    assert e.date == date
    assert not e.day_unspecified
    assert e.to_iso() == date.isoformat()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2025-02-29", "Invalid expiry date '2025-02-29': February 2025 has no day 29."),
        ("2025-04-31", "Invalid expiry date '2025-04-31': April 2025 has no day 31."),
        ("2025-03-00", "Invalid expiry date '2025-03-00': March 2025 has no day 00."),
        ("2025-13-01", "Invalid expiry date '2025-13-01': month 13 is not between 01 and 12."),
        ("0000-01-01", "Invalid expiry date '0000-01-01': year 0000 does not exist."),
        ("2025-3-27", "Invalid expiry date '2025-3-27': expected YYYY-MM-DD."),
        ("250327", "Invalid expiry date '250327': expected YYYY-MM-DD."),
        (
            "2025-03-27T00:00:00Z",
            "Invalid expiry date '2025-03-27T00:00:00Z': expected YYYY-MM-DD.",
        ),
        ("2025-03-27+15:00", "Invalid expiry date '2025-03-27+15:00': expected YYYY-MM-DD."),
        ("２０２５-03-27", "Invalid expiry date '２０２５-03-27': expected YYYY-MM-DD."),
    ],
)
def test_parse_iso_invalid(value: str, message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        Expiry.parse_iso(value)
    assert str(info.value) == message


def test_parse_iso_non_string() -> None:
    with pytest.raises(IdentifierError, match="expected a string YYYY-MM-DD, got date"):
        Expiry.parse_iso(dt.date(2025, 1, 1))  # type: ignore[arg-type]


def test_iso_to_yymmdd_and_back() -> None:
    e = Expiry.parse_iso("2025-03-27")
    assert e.to_yymmdd() == "250327"
    assert Expiry.parse_yymmdd(e.to_yymmdd(), reference_year=2025) == e


def test_of_and_constructor_guard() -> None:
    assert Expiry.of(dt.date(2025, 3, 27)) == Expiry.parse_iso("2025-03-27")
    assert Expiry(dt.date(2025, 2, 28), day_unspecified=True).to_yymmdd() == "250200"
    with pytest.raises(IdentifierError, match="stands for the last day of the month"):
        Expiry(dt.date(2025, 2, 27), day_unspecified=True)


@given(
    st.dates(min_value=dt.date(1976, 1, 1), max_value=dt.date(2075, 12, 31)),
    st.booleans(),
)
def test_yymmdd_round_trip_including_day_00(date: dt.date, day_unspecified: bool) -> None:
    # Any date within the §7.12 window of reference year 2025 (1976..2075).
    if day_unspecified:
        yymmdd = f"{date.year % 100:02d}{date.month:02d}00"
    else:
        yymmdd = f"{date.year % 100:02d}{date.month:02d}{date.day:02d}"
    e = Expiry.parse_yymmdd(yymmdd, reference_year=2025)
    assert e.to_yymmdd() == yymmdd
    assert e.day_unspecified is day_unspecified
    assert (e.date.year, e.date.month) == (date.year, date.month)
    if not day_unspecified:
        assert e.date == date
        assert Expiry.parse_iso(e.to_iso()) == e
