"""GTIN parsing, normalisation and construction (GenSpecs §3.3.2, §7.9.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.errors import IdentifierError, ValidationError
from serialvault.gs1.checkdigit import gs1_check_digit
from serialvault.gs1.gtin import Gtin, normalize_gtin

digits = st.text(alphabet="0123456789", min_size=12, max_size=12)
indicators = st.sampled_from("0123456789")


@pytest.mark.parametrize(
    ("value", "kind", "gtin14"),
    [
        ("96385074", "GTIN-8", "00000096385074"),
        ("614141000036", "GTIN-12", "00614141000036"),
        ("9521234543213", "GTIN-13", "09521234543213"),
        ("09521234543213", "GTIN-14", "09521234543213"),
        ("10614141000033", "GTIN-14", "10614141000033"),
    ],
)
def test_parse_valid(value: str, kind: str, gtin14: str) -> None:
    g = Gtin.parse(value)
    assert g.value == value
    assert g.kind == kind
    assert g.gtin14 == gtin14
    assert g.indicator == gtin14[0]
    assert g.company_and_item == gtin14[1:13]
    assert g.check_digit == gtin14[13]
    assert str(g) == gtin14
    assert normalize_gtin(value) == gtin14


def test_indicator_and_company_and_item() -> None:
    g = Gtin.parse("10614141000033")
    assert g.indicator == "1"
    assert g.company_and_item == "061414100003"


def test_equality_is_on_the_gtin14() -> None:
    short, long = Gtin.parse("9521234543213"), Gtin.parse("09521234543213")
    assert short == long
    assert hash(short) == hash(long)
    assert short.kind != long.kind
    assert Gtin.parse("09521234543213") != Gtin.parse("19521234543210")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("09521234543214", "Invalid GTIN '09521234543214': check digit is 4, expected 3."),
        ("1234", "Invalid GTIN '1234': expected 8, 12, 13 or 14 digits, got 4."),
        ("", "Invalid GTIN '': expected 8, 12, 13 or 14 digits, got 0."),
        (
            "095212345432130",
            "Invalid GTIN '095212345432130': expected 8, 12, 13 or 14 digits, got 15.",
        ),
        ("0952123454321A", "Invalid GTIN '0952123454321A': character 'A' is not a digit."),
        (" 9521234543213", "Invalid GTIN ' 9521234543213': character ' ' is not a digit."),
        # Non-ASCII digits pass str.isdigit(); they are not GTIN digits.
        ("٩٥٢١٢٣٤٥٤٣٢١٣", "Invalid GTIN '٩٥٢١٢٣٤٥٤٣٢١٣': character '٩' is not a digit."),
    ],
)
def test_parse_invalid_messages(value: str, message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        Gtin.parse(value)
    assert str(info.value) == message
    with pytest.raises(IdentifierError) as again:
        normalize_gtin(value)
    assert str(again.value) == message


def test_error_is_a_validation_error_and_a_value_error() -> None:
    with pytest.raises(ValidationError) as info:
        Gtin.parse("1")
    assert isinstance(info.value, ValueError)
    assert info.value.exit_code == 4


def test_non_string_is_refused() -> None:
    with pytest.raises(IdentifierError, match="expected a string of digits, got int"):
        Gtin.parse(9521234543213)  # type: ignore[arg-type]


def test_invalid_values_are_reported_every_time() -> None:
    # The parse cache must never remember a failure as a success (or vice versa).
    for _ in range(3):
        with pytest.raises(IdentifierError):
            normalize_gtin("09521234543214")
    assert normalize_gtin("09521234543213") == "09521234543213"


def test_from_parts() -> None:
    g = Gtin.from_parts("1", "952123454321")
    assert g.gtin14 == "19521234543210"
    assert g.kind == "GTIN-14"
    assert Gtin.from_parts(0, "952123454321") == Gtin.parse("9521234543213")


@pytest.mark.parametrize(
    ("indicator", "digits12", "message"),
    [
        ("10", "952123454321", "Invalid GTIN indicator '10': expected a single digit 0-9."),
        ("x", "952123454321", "Invalid GTIN indicator 'x': expected a single digit 0-9."),
        (
            "0",
            "95212345432",
            "Invalid GTIN company prefix and item reference '95212345432': "
            "expected 12 digits, got 11.",
        ),
        (
            "0",
            "95212345432X",
            "Invalid GTIN company prefix and item reference '95212345432X': "
            "character 'X' is not a digit.",
        ),
    ],
)
def test_from_parts_invalid(indicator: str, digits12: str, message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        Gtin.from_parts(indicator, digits12)
    assert str(info.value) == message


@given(indicators, digits)
def test_from_parts_always_parses(indicator: str, digits12: str) -> None:
    g = Gtin.from_parts(indicator, digits12)
    parsed = Gtin.parse(g.gtin14)
    assert parsed == g
    assert parsed.indicator == indicator
    assert parsed.company_and_item == digits12
    assert parsed.check_digit == gs1_check_digit(indicator + digits12)


@given(indicators, digits, st.integers(0, 13), st.integers(1, 9))
def test_any_single_digit_change_is_rejected(
    indicator: str, digits12: str, position: int, delta: int
) -> None:
    valid = Gtin.from_parts(indicator, digits12).gtin14
    changed = valid[:position] + str((int(valid[position]) + delta) % 10) + valid[position + 1 :]
    with pytest.raises(IdentifierError, match="check digit is"):
        Gtin.parse(changed)


@given(digits)
def test_shorter_forms_normalise_to_the_same_gtin14(digits12: str) -> None:
    g14 = Gtin.from_parts("0", digits12).gtin14
    # Every valid GTIN-14 with leading zeros is also a valid shorter GTIN.
    for length in (13, 12, 8):
        if g14[: 14 - length] == "0" * (14 - length):
            short = g14[14 - length :]
            assert normalize_gtin(short) == g14
            assert Gtin.parse(short).kind == f"GTIN-{length}"
