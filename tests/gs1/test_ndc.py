"""US NDC (21 CFR 207.33) and NDC-based GTINs (GS1 US)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.errors import IdentifierError
from serialvault.gs1.gtin import Gtin
from serialvault.gs1.ndc import CONFIGURATIONS, Ndc

AMBIGUOUS = "give its configuration (4-4-2, 5-3-2 or 5-4-1)"


@pytest.mark.parametrize(
    ("value", "configuration", "digits", "segments", "ndc11"),
    [
        ("0001-0123-45", "4-4-2", "0001012345", ("0001", "0123", "45"), "00001-0123-45"),
        ("12345-678-90", "5-3-2", "1234567890", ("12345", "678", "90"), "12345-0678-90"),
        ("12345-6789-0", "5-4-1", "1234567890", ("12345", "6789", "0"), "12345-6789-00"),
    ],
)
def test_parse_hyphenated_ten_digit(
    value: str, configuration: str, digits: str, segments: tuple[str, str, str], ndc11: str
) -> None:
    ndc = Ndc.parse(value)
    assert ndc.configuration == configuration
    assert ndc.digits == digits
    assert ndc.segments == segments
    assert (ndc.labeler, ndc.product, ndc.package) == segments
    assert str(ndc) == value
    assert ndc.hyphenated == value
    assert ndc.to_ndc11() == ndc11
    assert Ndc.parse(ndc11, configuration) == ndc  # the 11-digit form comes back
    assert Ndc.parse(value, configuration) == ndc


def test_eleven_digit_form_is_often_ambiguous_without_configuration() -> None:
    # 00001-0123-45: labeler 0001 + product 0123 (4-4-2), or labeler 00001 + product 123
    # (5-3-2)? Only the labeler's registration can tell; refusing beats guessing.
    with pytest.raises(IdentifierError, match="ambiguous"):
        Ndc.parse("00001-0123-45")


def test_same_digits_different_configurations_are_different_ndcs() -> None:
    assert Ndc.parse("12345-678-90") != Ndc.parse("12345-6789-0")


@pytest.mark.parametrize(
    ("ndc11", "ten"),
    [
        ("01234-5678-90", "1234-5678-90"),
        ("12345-0678-90", "12345-678-90"),
        ("12345-6789-01", "12345-6789-1"),
    ],
)
def test_eleven_digit_form_finds_its_padded_segment(ndc11: str, ten: str) -> None:
    assert str(Ndc.parse(ndc11)) == ten


def test_eleven_digit_form_with_several_zero_segments_needs_the_configuration() -> None:
    with pytest.raises(IdentifierError) as info:
        Ndc.parse("01234-0567-89")
    assert str(info.value) == (
        "Invalid NDC '01234-0567-89': the 11-digit form is ambiguous (the padding zero may "
        f"be in the labeler or product code); {AMBIGUOUS}."
    )
    assert str(Ndc.parse("01234-0567-89", "4-4-2")) == "1234-0567-89"
    assert str(Ndc.parse("01234-0567-89", "5-3-2")) == "01234-567-89"


def test_eleven_digit_form_without_a_padding_zero() -> None:
    with pytest.raises(IdentifierError) as info:
        Ndc.parse("12345-6789-12")
    assert str(info.value) == (
        "Invalid NDC '12345-6789-12': in the 11-digit 5-4-2 form one segment starts with a "
        "padding zero, and none does."
    )


def test_eleven_digit_form_with_a_configuration_that_does_not_fit() -> None:
    with pytest.raises(IdentifierError) as info:
        Ndc.parse("12345-0678-90", "4-4-2")
    assert str(info.value) == (
        "Invalid NDC '12345-0678-90': as 4-4-2, the labeler code '12345' should start with "
        "the padding zero."
    )


def test_bare_digits_need_the_configuration() -> None:
    with pytest.raises(IdentifierError) as info:
        Ndc.parse("0001012345")
    assert str(info.value) == (
        f"Invalid NDC '0001012345': a 10-digit NDC without hyphens is ambiguous; {AMBIGUOUS}."
    )
    with pytest.raises(IdentifierError, match="11-digit NDC without hyphens is ambiguous"):
        Ndc.parse("00001012345")
    assert str(Ndc.parse("0001012345", "4-4-2")) == "0001-0123-45"
    assert str(Ndc.parse("0001012345", "5-4-1")) == "00010-1234-5"
    assert str(Ndc.parse("00001012345", "4-4-2")) == "0001-0123-45"
    assert str(Ndc.parse("12345678900", "5-4-1")) == "12345-6789-0"


@pytest.mark.parametrize(
    ("value", "configuration", "message"),
    [
        (
            "0001-0123-45",
            "5-3-2",
            "Invalid NDC '0001-0123-45': its hyphens say 4-4-2, but configuration 5-3-2 was given.",
        ),
        (
            "123-456-7890",
            None,
            "Invalid NDC '123-456-7890': segments of 3-3-4 digits; expected 4-4-2, 5-3-2 or "
            "5-4-1 (10 digits) or 5-4-2 (11 digits).",
        ),
        (
            "0001-0123",
            None,
            "Invalid NDC '0001-0123': expected three hyphen-separated segments of digits.",
        ),
        (
            "0001--0123-45",
            None,
            "Invalid NDC '0001--0123-45': expected three hyphen-separated segments of digits.",
        ),
        ("0001-01A3-45", None, "Invalid NDC '0001-01A3-45': character 'A' is not a digit."),
        ("00010123 45", "4-4-2", "Invalid NDC '00010123 45': character ' ' is not a digit."),
        (
            "123456789",
            "4-4-2",
            "Invalid NDC '123456789': expected 10 digits (or 11 in the 5-4-2 form), got 9.",
        ),
        (
            "0001-0123-45",
            "4-5-1",
            "Invalid NDC configuration '4-5-1': expected 4-4-2, 5-3-2 or 5-4-1.",
        ),
        (
            "11111111111",
            "5-3-2",
            "Invalid NDC '11111111111': as 5-3-2, the product code '1111' should start with "
            "the padding zero.",
        ),
    ],
)
def test_parse_invalid(value: str, configuration: str | None, message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        Ndc.parse(value, configuration)
    assert str(info.value) == message


def test_non_string() -> None:
    with pytest.raises(IdentifierError, match="expected a string, got int"):
        Ndc.parse(1234567890)  # type: ignore[arg-type]


def test_to_gtin() -> None:
    ndc = Ndc.parse("0001-0123-45")
    assert ndc.to_gtin12() == "300010123455"
    assert Gtin.parse(ndc.to_gtin12()).gtin14 == ndc.to_gtin14()
    assert ndc.to_gtin14() == "00300010123455"
    assert ndc.to_gtin14(indicator=1) == "10300010123452"
    assert ndc.to_gtin14(indicator="5") == "50300010123450"
    assert ndc.to_gtin(1) == Gtin.parse("10300010123452")
    with pytest.raises(IdentifierError, match="Invalid GTIN indicator 10"):
        ndc.to_gtin14(indicator=10)


def test_from_gtin_with_and_without_configuration() -> None:
    ndc = Ndc.from_gtin("10300010123452", configuration="4-4-2")
    assert str(ndc) == "0001-0123-45"
    bare = Ndc.from_gtin(Gtin.parse("300010123455"))  # the GTIN-12 on the unit
    assert bare.digits == "0001012345"
    assert bare.configuration is None
    assert bare.to_gtin14() == "00300010123455"  # digits alone are enough to go back
    assert bare.with_configuration("4-4-2") == ndc
    with pytest.raises(IdentifierError) as info:
        str(bare)
    assert str(info.value) == (
        f"NDC '0001012345' has no known configuration: its segments are ambiguous; {AMBIGUOUS}."
    )
    for view in ("hyphenated", "labeler", "product", "package", "segments"):
        with pytest.raises(IdentifierError, match="ambiguous"):
            getattr(bare, view)
    with pytest.raises(IdentifierError, match="ambiguous"):
        bare.to_ndc11()


def test_from_gtin_refuses_non_ndc_gtins() -> None:
    with pytest.raises(IdentifierError) as info:
        Ndc.from_gtin("09521234543213")
    assert str(info.value) == (
        "GTIN '09521234543213' is not NDC-based: expected '03' after the indicator digit, got '95'."
    )
    with pytest.raises(IdentifierError, match="is not NDC-based"):
        Ndc.from_gtin("614141000036")  # a GTIN-12 not starting with 3
    with pytest.raises(IdentifierError, match="Invalid GTIN '10300010123453'"):
        Ndc.from_gtin("10300010123453")
    with pytest.raises(IdentifierError, match="Invalid NDC configuration"):
        Ndc.from_gtin("10300010123452", configuration="442")


configurations = st.sampled_from(sorted(CONFIGURATIONS))
ten_digits = st.text(alphabet="0123456789", min_size=10, max_size=10)


@given(ten_digits, configurations, st.integers(0, 9))
def test_ndc_gtin_round_trip_for_every_configuration(
    digits: str, configuration: str, indicator: int
) -> None:
    ndc = Ndc.parse(digits, configuration)
    text = str(ndc)
    assert Ndc.parse(text) == ndc
    assert Ndc.parse(ndc.to_ndc11(), configuration) == ndc
    gtin14 = ndc.to_gtin14(indicator)
    g = Gtin.parse(gtin14)
    assert g.indicator == str(indicator)
    assert g.company_and_item.startswith("03")
    assert Ndc.from_gtin(g, configuration) == ndc
    assert Ndc.from_gtin(gtin14).digits == digits


# -- conformance: the GS1 US pharma EPCIS example (../shared/data) ------------------------

US_PHARMA = Path("openepcis/1.2/EPCIS/XML/Capture/Documents/GS1_US_Pharma_Example_2_2_1_1.xml")
MDA = "urn:epcglobal:cbv:mda#"


@pytest.mark.conformance
def test_ndc_master_data_matches_the_epc_class_gtins(shared_data: Path) -> None:
    """Each EPCClass with an NDC names an NDC-based GTIN carrying exactly that NDC.

    The class id is an SGTIN pattern ``urn:epc:idpat:sgtin:<company prefix>.<indicator +
    item reference>.*``; the GTIN-14 is indicator + company prefix + item reference +
    check digit (EPC Tag Data Standard, SGTIN). Only the digits are rearranged here; URI
    parsing proper belongs to ``serialvault.gs1.epc``.
    """
    from lxml import etree

    root = etree.parse(str(shared_data / US_PHARMA)).getroot()
    checked = 0
    for element in root.iter("VocabularyElement"):
        attrs = {a.get("id"): (a.text or "") for a in element.iter("attribute")}
        if attrs.get(MDA + "additionalTradeItemIdentificationTypeCode") != "US_FDA_NDC":
            continue
        class_id = element.get("id")
        assert class_id is not None
        company_prefix, indicator_item, _ = class_id.rsplit(":", 1)[1].split(".")
        digits12 = company_prefix + indicator_item[1:]
        gtin = Gtin.from_parts(indicator_item[0], digits12)
        ndc = Ndc.parse(attrs[MDA + "additionalTradeItemIdentification"])
        assert Ndc.from_gtin(gtin, ndc.configuration) == ndc
        assert ndc.to_gtin14(gtin.indicator) == gtin.gtin14
        checked += 1
    assert checked == 2
