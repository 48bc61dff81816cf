"""Element strings <-> EPC URNs <-> GS1 Digital Links."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.errors import IdentifierError
from serialvault.gs1.charset import CS82
from serialvault.gs1.checkdigit import gs1_check_digit
from serialvault.gs1.convert import (
    element_string_to_digital_link,
    element_string_to_epc_urn,
    to_element_string,
)
from serialvault.gs1.epc import canonical_key

YEAR = 2026


def test_scan_of_a_pack_identifies_the_serialised_unit() -> None:
    hri = "(01)00300010123455(17)280331(10)A123(21)SER001"
    assert element_string_to_digital_link(hri, reference_year=YEAR) == (
        "https://id.gs1.org/01/00300010123455/21/SER001"
    )
    scanned = "]d20100300010123455172803311" + "0A123\x1d21SER001"
    assert element_string_to_digital_link(scanned, reference_year=YEAR) == (
        "https://id.gs1.org/01/00300010123455/21/SER001"
    )
    assert element_string_to_epc_urn(hri, reference_year=YEAR, prefix_lengths={"030001": 6}) == (
        "urn:epc:id:sgtin:030001.0012345.SER001"
    )


def test_sscc_and_sgln() -> None:
    assert element_string_to_digital_link("(00)103074200000000410", reference_year=YEAR) == (
        "https://id.gs1.org/00/103074200000000410"
    )
    assert element_string_to_digital_link("(414)0307420000116(254)L1", reference_year=YEAR) == (
        "https://id.gs1.org/414/0307420000116/254/L1"
    )


def test_gtin_without_serial_is_the_product() -> None:
    assert element_string_to_digital_link("(01)00300010123455(17)280331", reference_year=YEAR) == (
        "https://id.gs1.org/01/00300010123455"
    )


def test_no_key_is_a_clear_error() -> None:
    with pytest.raises(IdentifierError, match="carries no GS1 key"):
        element_string_to_digital_link("(90)INTERNAL", reference_year=YEAR)
    with pytest.raises(IdentifierError, match=r"must come with one of AI \(01\)"):
        element_string_to_digital_link("(17)280331(10)A123", reference_year=YEAR)


def test_bad_check_digit_in_a_scan_is_rejected() -> None:
    with pytest.raises(IdentifierError, match="check digit"):
        element_string_to_digital_link("(01)00300010123456(21)X", reference_year=YEAR)


def test_to_element_string() -> None:
    assert to_element_string("https://id.gs1.org/00/103074200000000410") == "(00)103074200000000410"
    assert to_element_string("urn:epc:id:sgln:030742.000011.L1") == "(414)0307420000116(254)L1"


_SERIAL = st.text(alphabet=sorted(CS82), min_size=1, max_size=20)
_DIGITS12 = st.text(alphabet="0123456789", min_size=12, max_size=12)


@given(indicator=st.integers(0, 8), body=_DIGITS12, serial=_SERIAL)
def test_sgtin_round_trip_through_the_element_string(
    indicator: int, body: str, serial: str
) -> None:
    digits = f"{indicator}{body}"
    gtin = digits + gs1_check_digit(digits)
    from urllib.parse import quote

    dl = canonical_key(f"https://id.gs1.org/01/{gtin}/21/{quote(serial, safe='')}")
    hri = to_element_string(dl)
    assert hri == f"(01){gtin}(21){serial}"
    if "(" not in serial:  # an unescaped "(" cannot be told from the next AI in HRI text
        assert element_string_to_digital_link(hri, reference_year=YEAR) == dl
