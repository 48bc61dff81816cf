"""SGTIN = GTIN + serial number (AI 21, GenSpecs §3.5.2, CS82 §7.11)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.errors import IdentifierError
from serialvault.gs1.charset import CS82
from serialvault.gs1.gtin import Gtin
from serialvault.gs1.sgtin import Sgtin, parse_serial

GTIN = "09521234543213"
cs82_serials = st.text(alphabet=sorted(CS82), min_size=1, max_size=20)


def test_parse_valid() -> None:
    s = Sgtin.parse(GTIN, "ABC123")
    assert s.gtin == Gtin.parse(GTIN)
    assert s.serial == "ABC123"
    assert s.gtin14 == GTIN


def test_gtin_may_be_given_in_any_length_or_as_a_gtin() -> None:
    assert Sgtin.parse("9521234543213", "1") == Sgtin.parse(GTIN, "1")
    assert Sgtin.parse(Gtin.parse(GTIN), "1") == Sgtin.parse(GTIN, "1")


def test_serials_are_case_sensitive_and_kept_exactly() -> None:
    assert Sgtin.parse(GTIN, "abc") != Sgtin.parse(GTIN, "ABC")
    assert Sgtin.parse(GTIN, "0123") != Sgtin.parse(GTIN, "123")
    assert Sgtin.parse(GTIN, "0123").serial == "0123"


@pytest.mark.parametrize(
    ("serial", "message"),
    [
        ("AB~C", "Invalid serial number 'AB~C': character '~' is not in GS1 character set 82."),
        ("AB C", "Invalid serial number 'AB C': character ' ' is not in GS1 character set 82."),
        ("é1", "Invalid serial number 'é1': character 'é' is not in GS1 character set 82."),
        ("A#", "Invalid serial number 'A#': character '#' is not in GS1 character set 82."),
        ("", "Invalid serial number '': expected 1 to 20 characters, got 0."),
        ("1" * 21, f"Invalid serial number '{'1' * 21}': expected 1 to 20 characters, got 21."),
    ],
)
def test_invalid_serial(serial: str, message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        Sgtin.parse(GTIN, serial)
    assert str(info.value) == message
    with pytest.raises(IdentifierError) as again:
        parse_serial(serial)
    assert str(again.value) == message


def test_non_string_serial_is_refused() -> None:
    with pytest.raises(IdentifierError, match="expected a string, got int"):
        Sgtin.parse(GTIN, 123)  # type: ignore[arg-type]


def test_invalid_gtin_is_reported_as_such() -> None:
    with pytest.raises(IdentifierError) as info:
        Sgtin.parse("09521234543214", "A")
    assert str(info.value) == "Invalid GTIN '09521234543214': check digit is 4, expected 3."


@given(cs82_serials)
def test_any_cs82_serial_up_to_20_is_accepted(serial: str) -> None:
    assert Sgtin.parse(GTIN, serial).serial == serial


@given(st.text(min_size=1, max_size=20).filter(lambda s: any(ch not in CS82 for ch in s)))
def test_any_serial_with_a_character_outside_cs82_is_refused(serial: str) -> None:
    bad = next(ch for ch in serial if ch not in CS82)
    with pytest.raises(IdentifierError) as info:
        parse_serial(serial)
    assert f"character {bad!r} is not in GS1 character set 82" in str(info.value)
