"""SSCC-18 parsing (GenSpecs §3.3.1, §7.9.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.errors import IdentifierError
from serialvault.gs1.checkdigit import gs1_check_digit
from serialvault.gs1.sscc import Sscc


def test_parse_valid() -> None:
    s = Sscc.parse("106141411234567897")
    assert s.value == "106141411234567897"
    assert s.extension_digit == "1"
    assert s.company_prefix_and_serial_reference == "0614141123456789"
    assert s.check_digit == "7"
    assert str(s) == "106141411234567897"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("106141411234567898", "Invalid SSCC '106141411234567898': check digit is 8, expected 7."),
        ("10614141123456789", "Invalid SSCC '10614141123456789': expected 18 digits, got 17."),
        ("", "Invalid SSCC '': expected 18 digits, got 0."),
        ("1061414112345678-7", "Invalid SSCC '1061414112345678-7': character '-' is not a digit."),
    ],
)
def test_parse_invalid(value: str, message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        Sscc.parse(value)
    assert str(info.value) == message


def test_non_string_is_refused() -> None:
    with pytest.raises(IdentifierError, match="got int"):
        Sscc.parse(106141411234567897)  # type: ignore[arg-type]


body17 = st.text(alphabet="0123456789", min_size=17, max_size=17)


@given(body17)
def test_computed_check_digit_parses(body: str) -> None:
    s = Sscc.parse(body + gs1_check_digit(body))
    assert s.extension_digit == body[0]


@given(body17, st.integers(0, 17), st.integers(1, 9))
def test_any_single_digit_change_is_rejected(body: str, position: int, delta: int) -> None:
    valid = body + gs1_check_digit(body)
    changed = valid[:position] + str((int(valid[position]) + delta) % 10) + valid[position + 1 :]
    with pytest.raises(IdentifierError, match="check digit is"):
        Sscc.parse(changed)
