"""GLN and SGLN (GenSpecs AI 414 / AI 254, §7.9.1, §7.11; EPC TDS SGLN)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.errors import IdentifierError
from serialvault.gs1.charset import CS82
from serialvault.gs1.checkdigit import gs1_check_digit
from serialvault.gs1.gln import Gln, Sgln, check_extension

GLN = "0614141123452"


def test_parse_valid() -> None:
    g = Gln.parse(GLN)
    assert g.value == GLN
    assert g.company_prefix_and_location_reference == "061414112345"
    assert g.check_digit == "2"
    assert str(g) == GLN


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0614141123453", "Invalid GLN '0614141123453': check digit is 3, expected 2."),
        ("614141123452", "Invalid GLN '614141123452': expected 13 digits, got 12."),
        ("06141411234520", "Invalid GLN '06141411234520': expected 13 digits, got 14."),
        ("061414112345O", "Invalid GLN '061414112345O': character 'O' is not a digit."),
    ],
)
def test_parse_invalid(value: str, message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        Gln.parse(value)
    assert str(info.value) == message


def test_non_string_gln_is_refused() -> None:
    with pytest.raises(IdentifierError, match="got int"):
        Gln.parse(614141123452)  # type: ignore[arg-type]


@pytest.mark.parametrize("no_extension", [None, "", "0"])
def test_no_extension_means_the_location_itself(no_extension: str | None) -> None:
    s = Sgln.parse(GLN, no_extension)
    assert s.extension is None
    assert s.is_location_itself
    assert s.tds_extension == "0"
    assert s == Sgln.parse(Gln.parse(GLN))


@pytest.mark.parametrize(
    "extension", ["00", "01", "DOCK-3", "A", "x" * 20, "!\"%&'()*+,-./:;<=>?_"]
)
def test_real_extensions_are_kept_exactly(extension: str) -> None:
    s = Sgln.parse(GLN, extension)
    assert s.extension == extension
    assert not s.is_location_itself
    assert s.tds_extension == extension
    assert s != Sgln.parse(GLN)


@pytest.mark.parametrize(
    ("extension", "message"),
    [
        ("A~1", "Invalid GLN extension 'A~1': character '~' is not in GS1 character set 82."),
        ("A B", "Invalid GLN extension 'A B': character ' ' is not in GS1 character set 82."),
        ("x" * 21, f"Invalid GLN extension '{'x' * 21}': expected 1 to 20 characters, got 21."),
    ],
)
def test_invalid_extension(extension: str, message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        Sgln.parse(GLN, extension)
    assert str(info.value) == message


def test_sgln_validates_its_gln() -> None:
    with pytest.raises(IdentifierError, match="Invalid GLN '0614141123453'"):
        Sgln.parse("0614141123453", "A")


def test_check_extension_refuses_empty_and_non_strings() -> None:
    # Outside Sgln.parse, an empty AI (254) value is simply invalid (format X..20).
    with pytest.raises(IdentifierError, match="expected 1 to 20 characters, got 0"):
        check_extension("")
    with pytest.raises(IdentifierError, match="expected a string, got int"):
        check_extension(5)  # type: ignore[arg-type]


body12 = st.text(alphabet="0123456789", min_size=12, max_size=12)


@given(body12, st.integers(0, 12), st.integers(1, 9))
def test_any_single_digit_change_is_rejected(body: str, position: int, delta: int) -> None:
    valid = body + gs1_check_digit(body)
    assert Gln.parse(valid).value == valid
    changed = valid[:position] + str((int(valid[position]) + delta) % 10) + valid[position + 1 :]
    with pytest.raises(IdentifierError, match="check digit is"):
        Gln.parse(changed)


@given(st.text(alphabet=sorted(CS82), min_size=1, max_size=20).filter(lambda s: s != "0"))
def test_any_cs82_extension_is_accepted(extension: str) -> None:
    assert Sgln.parse(GLN, extension).extension == extension
