"""Element strings, HRI and scanned barcode data (GenSpecs §3, §4.14, §7.8; via biip)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.errors import IdentifierError
from serialvault.gs1.charset import CS82
from serialvault.gs1.element_string import ElementString, ScanResult, parse_element_string
from serialvault.gs1.gln import Gln, Sgln
from serialvault.gs1.gtin import Gtin
from serialvault.gs1.lot import Expiry, Lot
from serialvault.gs1.sgtin import Sgtin
from serialvault.gs1.sscc import Sscc

GS = "\x1d"
YEAR = 2025
GTIN = "09521234543213"
PACK_HRI = "(01)09521234543213(17)270300(10)LOT-7(21)SN0001"
PACK_DATA = "01095212345432131727030010LOT-7" + GS + "21SN0001"


def parse(text: str) -> ElementString:
    return ElementString.parse(text, reference_year=YEAR)


def error(text: str) -> str:
    with pytest.raises(IdentifierError) as info:
        parse(text)
    return str(info.value)


def test_scan_result_is_the_same_type() -> None:
    assert ScanResult is ElementString


def test_parse_element_string_function() -> None:
    assert parse_element_string(PACK_HRI, reference_year=YEAR) == parse(PACK_DATA)
    assert parse_element_string("]d2" + PACK_DATA, reference_year=YEAR).serial == "SN0001"


@pytest.mark.parametrize(
    ("scan", "symbology"),
    [
        ("]d2" + PACK_DATA, "]d2"),
        ("]C1" + PACK_DATA, "]C1"),
        ("]Q3" + PACK_DATA, "]Q3"),
        ("]e0" + PACK_DATA, "]e0"),
        (PACK_DATA, None),
        ("]d2" + GS + PACK_DATA + "\r\n", "]d2"),  # FNC1 in first position, scanner CR/LF
        # Element strings in another order, with an FNC1 after every one of them.
        ("]d221SN0001" + GS + "10LOT-7" + GS + "17270300" + GS + "01" + GTIN, "]d2"),
    ],
)
def test_pharma_pack_scan(scan: str, symbology: str | None) -> None:
    es = parse(scan)
    assert es.gtin == Gtin.parse(GTIN)
    assert es.serial == "SN0001"
    assert es.lot == Lot("LOT-7")
    assert es.expiry == Expiry(dt.date(2027, 3, 31), day_unspecified=True)
    assert es.sscc is None
    assert es.gln is None
    assert es.extra == ()
    assert es.symbology_identifier == symbology
    assert es.sgtin == Sgtin.parse(GTIN, "SN0001")
    assert es.to_hri() == PACK_HRI
    assert es.to_element_string() == PACK_DATA


def test_hri_with_spaces_around_parentheses() -> None:
    es = parse(" (01) 09521234543213 (17) 270300 (10) LOT-7 (21) SN0001 ")
    assert es == parse(PACK_HRI)
    assert es == parse("]d2" + PACK_DATA)  # the symbology identifier is not content


def test_sscc_scan() -> None:
    es = parse("]C100106141411234567897")
    assert es.sscc == Sscc.parse("106141411234567897")
    assert es.gtin is None
    assert es.to_hri() == "(00)106141411234567897"
    assert es.to_element_string() == "00106141411234567897"


def test_gln_and_extension() -> None:
    es = parse("(414)0614141123452(254)DOCK-3")
    assert es.gln == Gln.parse("0614141123452")
    assert es.gln_extension == "DOCK-3"
    assert es.sgln == Sgln.parse("0614141123452", "DOCK-3")
    assert es.to_element_string() == "4140614141123452254DOCK-3"
    itself = parse("(414)0614141123452")
    assert itself.sgln is not None
    assert itself.sgln.is_location_itself
    # (254)0 is kept as scanned; as an SGLN it is the location itself (EPC TDS).
    zero = parse("(414)0614141123452(254)0")
    assert zero.gln_extension == "0"
    assert zero.to_hri() == "(414)0614141123452(254)0"
    assert zero.sgln == itself.sgln
    assert parse("(01)" + GTIN).sgln is None
    assert parse("(01)" + GTIN).sgtin is None


def test_gtin_only_symbologies() -> None:
    es = parse("]E05901234123457")
    assert es.gtin == Gtin.parse("5901234123457")
    assert es.symbology_identifier == "]E0"
    assert es.to_hri() == "(01)05901234123457"
    assert error("]E05901234123458") == (
        "Invalid scan ']E05901234123458': Invalid GTIN '5901234123458': check digit is 8, "
        "expected 7."
    )


def test_extra_ais_are_kept_in_canonical_order() -> None:
    es = parse("(7003)2501011200(240)ABC(11)250101(01)09521234543213(21)X")
    assert es.extra == (("11", "250101"), ("240", "ABC"), ("7003", "2501011200"))
    # Fixed-length AIs first (no FNC1 after them), then variable-length ones.
    assert es.to_hri() == "(01)09521234543213(11)250101(21)X(240)ABC(7003)2501011200"
    assert es.to_element_string() == (
        "010952123454321311250101" + "21X" + GS + "240ABC" + GS + "70032501011200"
    )
    assert parse(es.to_element_string()) == es


def test_constructor_sorts_extra_too() -> None:
    es = ElementString(gtin=Gtin.parse(GTIN), extra=(("240", "A"), ("11", "250101")))
    assert es.extra == (("11", "250101"), ("240", "A"))


def test_unknown_ai_in_a_hand_built_value_is_treated_as_variable_length() -> None:
    es = ElementString(gtin=Gtin.parse(GTIN), extra=(("ZZ", "1"), ("11", "250101")))
    assert es.extra == (("11", "250101"), ("ZZ", "1"))
    assert es.to_element_string() == "01" + GTIN + "11250101ZZ1"


def test_text_lost_between_pairs_is_named() -> None:
    assert error("(01)09521234543213(21)A(B(10)X") == (
        "Invalid element string '(01)09521234543213(21)A(B(10)X': '(B' is not an (AI)value "
        "pair; a value containing '(' cannot be written in HRI."
    )


def test_duplicate_ai_with_the_same_value_is_harmless() -> None:
    assert parse("(01)09521234543213(21)A(21)A") == parse("(01)09521234543213(21)A")


def test_from_pairs() -> None:
    es = ElementString.from_pairs(
        [("21", "SN0001"), ("01", GTIN), ("10", "LOT-7"), ("17", "270300")], reference_year=YEAR
    )
    assert es == parse(PACK_HRI)
    with pytest.raises(IdentifierError) as info:
        ElementString.from_pairs([("01", GTIN), ("21", "A~")], reference_year=YEAR)
    assert str(info.value) == (
        "Invalid element string '(01)09521234543213(21)A~': Invalid serial number 'A~': "
        "character '~' is not in GS1 character set 82."
    )
    with pytest.raises(IdentifierError, match="'2' is not a GS1 Application Identifier"):
        ElementString.from_pairs([("01", GTIN), ("2", "1X")], reference_year=YEAR)
    with pytest.raises(IdentifierError, match="Failed to get GS1 Application Identifier"):
        ElementString.from_pairs([("01", GTIN), ("", "X")], reference_year=YEAR)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "]d2010952123454321421ABC",
            "Invalid scan ']d2010952123454321421ABC': Invalid GTIN '09521234543214': "
            "check digit is 4, expected 3.",
        ),
        (
            "(01)09521234543213(21)AB~C",
            "Invalid element string '(01)09521234543213(21)AB~C': Invalid serial number "
            "'AB~C': character '~' is not in GS1 character set 82.",
        ),
        (
            "(01)09521234543213(17)250230",
            "Invalid element string '(01)09521234543213(17)250230': Invalid expiry date "
            "'250230': February 2025 has no day 30.",
        ),
        (
            "(01)09521234543213(17)251300",
            "Invalid element string '(01)09521234543213(17)251300': Invalid expiry date "
            "'251300': month 13 is not between 01 and 12.",
        ),
        (
            "]d2010952123454321317250230",
            "Invalid scan ']d2010952123454321317250230': Invalid expiry date '250230': "
            "February 2025 has no day 30.",
        ),
        (
            "(01)0952123454321",
            "Invalid element string '(01)0952123454321': AI (01) holds the 14-digit form of "
            "a GTIN, got 13 digits '0952123454321'.",
        ),
        (
            "(01)09521234543213(10)" + "L" * 21,
            f"Invalid element string '(01)09521234543213(10){'L' * 21}': Invalid lot number "
            f"'{'L' * 21}': expected 1 to 20 characters, got 21.",
        ),
        (
            "(00)106141411234567898",
            "Invalid element string '(00)106141411234567898': Invalid SSCC "
            "'106141411234567898': check digit is 8, expected 7.",
        ),
        (
            "(414)0614141123453",
            "Invalid element string '(414)0614141123453': Invalid GLN '0614141123453': "
            "check digit is 3, expected 2.",
        ),
        (
            "(414)0614141123452(254)A~",
            "Invalid element string '(414)0614141123452(254)A~': Invalid GLN extension 'A~': "
            "character '~' is not in GS1 character set 82.",
        ),
        (
            "(01)09521234543213(21)A B",
            "Invalid element string '(01)09521234543213(21)A B': character ' ' is not allowed "
            "in a value.",
        ),
        (
            "(01)09521234543213(21)A(B",
            "Invalid element string '(01)09521234543213(21)A(B': '(B' is not an (AI)value "
            "pair; a value containing '(' cannot be written in HRI.",
        ),
        (
            "(01)09521234543213(21)ABC(21)ABD",
            "Invalid element string '(01)09521234543213(21)ABC(21)ABD': AI (21) appears "
            "twice with different values 'ABC' and 'ABD'.",
        ),
        (
            "(21)ABC",
            "Invalid element string '(21)ABC': AI (21) must come with one of AI (01), (8006).",
        ),
        (
            "10LOT",
            "Invalid scan '10LOT': AI (10) must come with one of AI (01), (02), (8006), (8026).",
        ),
        ("(254)X", "Invalid element string '(254)X': AI (254) must come with one of AI (414)."),
        (
            "(01)09521234543213(02)09521234543214(37)5",
            "Invalid element string '(01)09521234543213(02)09521234543214(37)5': AI (02): "
            "Invalid GTIN check digit for '09521234543214': Expected 3, got 4.",
        ),
        (
            "(01)09521234543213(9A)X",
            "Invalid element string '(01)09521234543213(9A)X': '(9A)X' is not an (AI)value "
            "pair; a value containing '(' cannot be written in HRI.",
        ),
        (
            "(01)09521234543213(0)X",
            "Invalid element string '(01)09521234543213(0)X': Unknown GS1 Application "
            "Identifier '0' in '(01)09521234543213(0)X'.",
        ),
        (
            "]Q3010952123454321321A~B",
            "Invalid scan ']Q3010952123454321321A~B': Failed to get GS1 Application "
            "Identifier from '~B'.",
        ),
        (
            "]d1hello",
            "Invalid scan ']d1hello': symbology identifier ']d1' does not announce GS1 "
            "element strings (expected e.g. ]d2, ]C1, ]Q3, ]e0).",
        ),
        (
            "]J1010952123454321321A",
            "Invalid scan ']J1010952123454321321A': Failed to get Symbology Identifier from "
            "']J1010952123454321321A'. 'J' is not a recognized code character.",
        ),
        (
            "]Q3https://id.gs1.org/01/09521234543213",
            "Invalid scan ']Q3https://id.gs1.org/01/09521234543213': this is a GS1 Digital "
            "Link URI, not element strings; read it with serialvault.gs1.epc.",
        ),
        ("", "Invalid scan '': it holds no element strings."),
        ("]d2", "Invalid scan ']d2': it holds no element strings."),
        ("]d2\x1d", "Invalid scan ']d2\\x1d': it holds no element strings."),
        (
            "(",
            "Invalid element string '(': '(' is not an (AI)value pair; a value containing "
            "'(' cannot be written in HRI.",
        ),
    ],
)
def test_invalid_input_messages(text: str, message: str) -> None:
    assert error(text) == message


def test_non_string_input() -> None:
    with pytest.raises(IdentifierError, match="Invalid scan 5: expected a string, got int"):
        ElementString.parse(5, reference_year=YEAR)  # type: ignore[arg-type]
    with pytest.raises(IdentifierError, match="Invalid element string 5: expected a string"):
        ElementString.parse_hri(5, reference_year=YEAR)  # type: ignore[arg-type]


def test_empty_input_through_each_door() -> None:
    with pytest.raises(IdentifierError) as info:
        ElementString.parse_hri("  ", reference_year=YEAR)
    assert str(info.value) == "Invalid element string '  ': it is empty."
    with pytest.raises(IdentifierError) as info:
        ElementString.from_pairs([], reference_year=YEAR)
    assert str(info.value) == "Invalid element string '': it holds no element strings."


def test_expiry_century_comes_from_the_reference_year() -> None:
    hri = "(01)09521234543213(17)990101"
    assert ElementString.parse(hri, reference_year=2025).expiry == Expiry.of(dt.date(1999, 1, 1))
    assert ElementString.parse(hri, reference_year=2060).expiry == Expiry.of(dt.date(2099, 1, 1))


# -- round trips ---------------------------------------------------------------------------

cs82 = sorted(CS82)
hri_safe = [c for c in cs82 if c != "("]  # '(' in a value cannot be written in HRI


def _pack(alphabet: list[str]) -> st.SearchStrategy[ElementString]:
    value = st.text(alphabet=alphabet, min_size=1, max_size=20)
    gtins = st.builds(
        lambda ind, d: Gtin.from_parts(ind, d),
        st.sampled_from("012345678"),
        st.text(alphabet="0123456789", min_size=12, max_size=12),
    )
    expiries = st.builds(
        lambda date, unspecified: Expiry.parse_yymmdd(
            f"{date:%y%m}{'00' if unspecified else f'{date:%d}'}", reference_year=YEAR
        ),
        st.dates(min_value=dt.date(1976, 1, 1), max_value=dt.date(2075, 12, 31)),
        st.booleans(),
    )
    return st.builds(
        ElementString,
        gtin=gtins,
        serial=st.one_of(st.none(), value),
        lot=st.one_of(st.none(), value.map(Lot.parse)),
        expiry=st.one_of(st.none(), expiries),
    )


@given(_pack(hri_safe))
def test_hri_round_trip(es: ElementString) -> None:
    hri = es.to_hri()
    again = ElementString.parse_hri(hri, reference_year=YEAR)
    assert again == es
    assert again.to_hri() == hri


@given(_pack(cs82), st.sampled_from(["", "]d2", "]C1", "]Q3", "]e0"]))
def test_element_string_round_trip(es: ElementString, symbology: str) -> None:
    data = es.to_element_string()
    again = ElementString.parse_scan(symbology + data, reference_year=YEAR)
    assert again == es
    assert again.to_element_string() == data
    assert again.symbology_identifier == (symbology or None)
