"""EPC URIs <-> GS1 Digital Link URIs (TDS 2.x §6-§8, GS1 Digital Link 1.2, CBV 2.0 §8.9)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from serialvault.errors import IdentifierError
from serialvault.gs1 import epc
from serialvault.gs1.charset import CS39, CS82
from serialvault.gs1.checkdigit import gs1_check_digit
from serialvault.gs1.epc import (
    EpcKey,
    canonical_key,
    canonical_uri,
    parse_uri,
    to_digital_link,
    to_epc_urn,
)

# ------------------------------------------------------------------ per-scheme examples

#: (EPC URI, canonical GS1 Digital Link). Most are the TDS 2.x §6.3 / §7 examples with
#: the GS1 US example prefix 0614141; the rest come from the CBV event-hash vectors.
SCHEME_EXAMPLES = [
    ("urn:epc:id:sgtin:0614141.812345.6789", "https://id.gs1.org/01/80614141123458/21/6789"),
    ("urn:epc:id:sgtin:0614141.112345.400", "https://id.gs1.org/01/10614141123459/21/400"),
    ("urn:epc:id:sgtin:415056789012.0.987654", "https://id.gs1.org/01/04150567890128/21/987654"),
    ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
    ("urn:epc:id:sgln:0614141.12345.400", "https://id.gs1.org/414/0614141123452/254/400"),
    ("urn:epc:id:sgln:0614141.12345.0", "https://id.gs1.org/414/0614141123452"),
    ("urn:epc:id:grai:0614141.12345.400", "https://id.gs1.org/8003/00614141123452400"),
    ("urn:epc:id:giai:0614141.12345400", "https://id.gs1.org/8004/061414112345400"),
    ("urn:epc:id:gsrn:0614141.1234567890", "https://id.gs1.org/8018/061414112345678902"),
    ("urn:epc:id:gsrnp:0614141.1234567890", "https://id.gs1.org/8017/061414112345678902"),
    ("urn:epc:id:gdti:0614141.12345.400", "https://id.gs1.org/253/0614141123452400"),
    ("urn:epc:id:gdti:987659999999..9", "https://id.gs1.org/253/98765999999929"),
    (
        "urn:epc:id:cpi:0614141.123ABC.123456789",
        "https://id.gs1.org/8010/0614141123ABC/8011/123456789",
    ),
    (
        "urn:epc:id:cpi:0614141.123%23ABC.123456789",
        "https://id.gs1.org/8010/0614141123%23ABC/8011/123456789",
    ),
    ("urn:epc:id:sgcn:4012345.67890.04711", "https://id.gs1.org/255/401234567890104711"),
    ("urn:epc:id:ginc:0614141.xyz3311cba", "https://id.gs1.org/401/0614141xyz3311cba"),
    ("urn:epc:id:gsin:0614141.123456789", "https://id.gs1.org/402/06141411234567890"),
    (
        "urn:epc:id:itip:4012345.012345.01.02.987",
        "https://id.gs1.org/8006/040123451234560102/21/987",
    ),
    (
        "urn:epc:id:upui:1234567.098765.51qIgY)%3C%26Jp3*j7'SDB",
        "https://id.gs1.org/01/01234567987651/235/51qIgY%29%3C%26Jp3%2Aj7'SDB",
    ),
    ("urn:epc:id:pgln:1234567.89012", "https://id.gs1.org/417/1234567890128"),
    ("urn:epc:id:pgln:999999999999.", "https://id.gs1.org/417/9999999999994"),
    (
        "urn:epc:class:lgtin:4012345.012345.998877",
        "https://id.gs1.org/01/04012345123456/10/998877",
    ),
    ("urn:epc:idpat:sgtin:0614141.812345.*", "https://id.gs1.org/01/80614141123458"),
    ("urn:epc:idpat:upui:0614141.812345.*", "https://id.gs1.org/01/80614141123458"),
    ("urn:epc:idpat:grai:4012345.66666.*", "https://id.gs1.org/8003/04012345666663"),
    ("urn:epc:idpat:gdti:4012345.55555.*", "https://id.gs1.org/253/4012345555554"),
    ("urn:epc:idpat:sgcn:4012345.99999.*", "https://id.gs1.org/255/4012345999990"),
    ("urn:epc:idpat:cpi:4012345.ABC.*", "https://id.gs1.org/8010/4012345ABC"),
    ("urn:epc:idpat:itip:4012345.012345.01.02.*", "https://id.gs1.org/8006/040123451234560102"),
    # TDS Annex A escapes on input, GS1 Digital Link percent-encoding on output.
    (
        "urn:epc:id:sgtin:0614141.812345.6789%2F%26%25%22!%3F()",
        "https://id.gs1.org/01/80614141123458/21/6789%2F%26%25%22%21%3F%28%29",
    ),
    ("urn:epc:id:sgtin:4012345.011111.98%22", "https://id.gs1.org/01/04012345111118/21/98%22"),
    (
        "urn:epc:id:sgtin:0614141.812345.a+b,c:d;e=f'g",
        "https://id.gs1.org/01/80614141123458/21/a%2Bb%2Cc%3Ad;e=f'g",
    ),
    ("urn:epc:id:ginc:0614141.xyz47%2F11", "https://id.gs1.org/401/0614141xyz47%2F11"),
]


@pytest.mark.parametrize(("urn", "dl"), SCHEME_EXAMPLES)
def test_urn_to_canonical_digital_link(urn: str, dl: str) -> None:
    assert to_digital_link(urn) == dl
    assert canonical_uri(urn) == dl
    assert canonical_key(urn) == dl
    assert canonical_uri(dl) == dl  # canonical form is a fixed point


@pytest.mark.parametrize(
    ("urn", "dl"),
    [case for case in SCHEME_EXAMPLES if "idpat:upui" not in case[0]],
)
def test_digital_link_back_to_urn(urn: str, dl: str) -> None:
    lengths = {"0614141": 7, "4012345": 7, "1234567": 7, "98765": 12, "4150567": 12, "9999": 12}
    back = to_epc_urn(dl, prefix_lengths=lengths)
    # Same identifier, canonical escaping (only the characters TDS requires).
    assert to_digital_link(back) == dl
    assert back.split(":")[:4] == urn.split(":")[:4]


def test_sgln_without_extension_is_extension_zero() -> None:
    # TDS §6.3.3: extension "0" means "no GLN extension" (no AI 254).
    dl = "https://id.gs1.org/414/0614141123452"
    assert to_epc_urn(dl) == "urn:epc:id:sgln:0614141.12345.0"
    assert to_digital_link("https://id.gs1.org/414/0614141123452/254/0") == dl


# ----------------------------------------------------------- Digital Link normalisation


@pytest.mark.parametrize(
    ("uri", "canonical"),
    [
        # custom domain, query string, fragment, http
        (
            "https://id.gs1.de/01/04012345999990/21/XYZ-1234?17=250101#x",
            "https://id.gs1.org/01/04012345999990/21/XYZ-1234",
        ),
        ("http://example.com/00/106141412345678908", "https://id.gs1.org/00/106141412345678908"),
        # path prefix before the key, trailing slash
        (
            "https://brand.example.com/products/p/01/09780345418913/",
            "https://id.gs1.org/01/09780345418913",
        ),
        # deprecated short names (GS1 Digital Link 1.1)
        (
            "https://example.com/gtin/09780345418913/ser/765tz?abc=211121",
            "https://id.gs1.org/01/09780345418913/21/765tz",
        ),
        (
            "https://id.gs1.org/gln/0614141123452/glnx/7",
            "https://id.gs1.org/414/0614141123452/254/7",
        ),
        ("https://id.gs1.org/sscc/106141412345678908", "https://id.gs1.org/00/106141412345678908"),
        # GTIN-13, GTIN-12 and GTIN-8 are padded to 14 digits
        ("https://id.gs1.org/01/9780345418913", "https://id.gs1.org/01/09780345418913"),
        ("https://id.gs1.org/01/614141123452", "https://id.gs1.org/01/00614141123452"),
        ("https://id.gs1.org/01/95012346", "https://id.gs1.org/01/00000095012346"),
        # only the most fine-grained level: CPV dropped, lot dropped when a serial is there
        (
            "https://id.gs1.org/01/09780345418913/22/A1/10/L1/21/S1",
            "https://id.gs1.org/01/09780345418913/21/S1",
        ),
        (
            "https://id.gs1.org/01/09780345418913/22/A1/10/L1",
            "https://id.gs1.org/01/09780345418913/10/L1",
        ),
        ("https://id.gs1.org/01/09780345418913/22/A1", "https://id.gs1.org/01/09780345418913"),
        (
            "https://id.gs1.org/8006/040123451111180102/10/L/21/9",
            "https://id.gs1.org/8006/040123451111180102/21/9",
        ),
        ("https://id.gs1.org/417/4000001000005/7040/1ABC", "https://id.gs1.org/417/4000001000005"),
        # percent-encoding: decoded, then re-encoded canonically (upper-case hex)
        (
            "https://id.gs1.org/01/80614141123458/21/a%2fb!c%27d",
            "https://id.gs1.org/01/80614141123458/21/a%2Fb%21c'd",
        ),
        ("https://id.gs1.org/8010/0614141123%23ABC", "https://id.gs1.org/8010/0614141123%23ABC"),
    ],
)
def test_digital_link_to_canonical(uri: str, canonical: str) -> None:
    assert to_digital_link(uri) == canonical
    assert canonical_key(uri) == canonical


@pytest.mark.parametrize(
    "uri",
    [
        "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        "https://example.com/x",
        "https://example.com/01/abc",  # not digits: not a GS1 key path
        "http://epcis.example.com/user/vocab/bizstep/exampling",
        "geo:47.506694,11.104301",
        "urn:epcglobal:cbv:bt:0614141073467:1152",
        "urn:epc:id:gid:95100000.12345.400",  # EPC, but not a GS1 key
        "urn:epc:idpat:sgtin:0614141.*.*",  # matches many GTINs
        "urn:epc:idpat:sgtin:*.*.*",
        "urn:epc:idpat:sscc:0614141.*",
        "urn:epc:idpat:sgln:0614141.12345.*",
        "",
    ],
)
def test_other_uris_are_kept_by_canonical_uri(uri: str) -> None:
    assert canonical_uri(uri) == uri
    assert canonical_key(uri) == uri
    with pytest.raises(IdentifierError):
        to_digital_link(uri)


def test_to_digital_link_names_the_value_and_reason() -> None:
    with pytest.raises(IdentifierError) as info:
        to_digital_link("urn:uuid:0a0b")
    assert info.value.message == (
        "Not a GS1 identifier URI 'urn:uuid:0a0b': neither an EPC URI (urn:epc:…) nor a "
        "GS1 Digital Link URI (https://…)."
    )
    with pytest.raises(IdentifierError) as info:
        to_digital_link("urn:epc:idpat:sgtin:0614141.*.*")
    assert info.value.message == (
        "Not a GS1 identifier URI 'urn:epc:idpat:sgtin:0614141.*.*': the pattern matches "
        "more than one GS1 key, so it has no GS1 Digital Link form."
    )


# ------------------------------------------------------------------------- parse_uri


def test_parse_uri_sgtin() -> None:
    key = parse_uri("urn:epc:id:sgtin:0614141.107346.2017")
    assert key == EpcKey("sgtin", (("01", "10614141073464"), ("21", "2017")))
    assert (key.gtin, key.serial, key.lot, key.sscc) == ("10614141073464", "2017", None, None)
    assert key.primary_ai == "01"
    assert key.ai("21") == "2017"
    assert key.ai("10") is None
    assert not key.is_class
    assert not key.is_pattern
    assert key.prefix_length == 7
    # The same key named by a Digital Link on another domain is equal.
    assert parse_uri("https://x.example/01/10614141073464/21/2017?3103=000189") == key


def test_parse_uri_shapes() -> None:
    lgtin = parse_uri("urn:epc:class:lgtin:4012345.012345.998877")
    assert (lgtin.scheme, lgtin.is_class, lgtin.lot) == ("lgtin", True, "998877")
    gtin_only = parse_uri("https://id.gs1.org/01/04012345123456")
    assert (gtin_only.scheme, gtin_only.is_pattern, gtin_only.gtin) == (
        "sgtin",
        True,
        "04012345123456",
    )
    sscc = parse_uri("https://id.gs1.org/00/106141412345678908")
    assert (sscc.scheme, sscc.sscc, sscc.gtin) == ("sscc", "106141412345678908", None)
    itip = parse_uri("urn:epc:id:itip:4012345.012345.01.02.987")
    assert (itip.scheme, itip.gtin, itip.serial) == ("itip", "04012345123456", "987")
    grai = parse_uri("https://id.gs1.org/8003/04012345666663")
    assert (grai.scheme, grai.is_pattern) == ("grai", True)
    itip_lot = parse_uri("https://id.gs1.org/8006/040123451234560102/10/L1")
    assert (itip_lot.scheme, itip_lot.is_class) == ("itip", True)
    # A pattern without wildcard names exactly one EPC.
    assert parse_uri("urn:epc:idpat:sgtin:0614141.107346.2017") == parse_uri(
        "urn:epc:id:sgtin:0614141.107346.2017"
    )


def test_epc_urn_pattern_and_class_outputs() -> None:
    assert to_epc_urn("https://id.gs1.org/01/00614141073467") == (
        "urn:epc:idpat:sgtin:0614141.007346.*"
    )
    assert to_epc_urn("https://id.gs1.org/8003/04012345666663") == (
        "urn:epc:idpat:grai:4012345.66666.*"
    )
    assert to_epc_urn("https://id.gs1.org/8010/4012345ABC") == "urn:epc:idpat:cpi:4012345.ABC.*"
    assert to_epc_urn("https://id.gs1.org/01/04012345123456/10/L%2F1") == (
        "urn:epc:class:lgtin:4012345.012345.L%2F1"
    )
    with pytest.raises(IdentifierError) as info:
        to_epc_urn("https://id.gs1.org/8006/040123451234560102/10/L1")
    assert info.value.message == (
        "Cannot write 'https://id.gs1.org/8006/040123451234560102/10/L1' as an EPC URI: TDS "
        "defines no EPC class URI for an ITIP with a lot (AI 8006 + AI 10)."
    )


def test_urn_to_canonical_urn_normalises_escapes() -> None:
    # Optional escapes are removed, required ones are upper-case (TDS Annex A).
    assert to_epc_urn("urn:epc:id:sgtin:0614141.107346.%41b%2fc") == (
        "urn:epc:id:sgtin:0614141.107346.Ab%2Fc"
    )
    # The company prefix length of an EPC URI is kept, whatever the table says.
    assert to_epc_urn("urn:epc:id:sgtin:061414.1107346.1") == "urn:epc:id:sgtin:061414.1107346.1"


def test_digital_link_to_urn_needs_the_prefix_length() -> None:
    dl = "https://id.gs1.org/00/352000011111111462"
    with pytest.raises(IdentifierError) as info:
        to_epc_urn(dl)
    assert "supply it as prefix_lengths={'5200001': 7}" in info.value.message
    assert to_epc_urn(dl, prefix_lengths={"5200001": 7}) == "urn:epc:id:sscc:5200001.3111111146"
    # NDC-based GTIN: 03 + 5-digit labeler code -> 7-digit company prefix
    ndc = "https://id.gs1.org/01/00312345678906/21/X1"
    assert to_epc_urn(ndc, prefix_lengths={"0312345": 7}) == ("urn:epc:id:sgtin:0312345.067890.X1")
    assert to_epc_urn(ndc, prefix_lengths={"031234": 6}) == "urn:epc:id:sgtin:031234.0567890.X1"


# ------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "urn:epc:id:sgtin:0614141.10734.2017",
            "Invalid EPC URI 'urn:epc:id:sgtin:0614141.10734.2017': the company prefix and "
            "item reference must have 13 digits together, found 12.",
        ),
        (
            "urn:epc:id:sgtin:06141.1073466.2017",
            "Invalid EPC URI 'urn:epc:id:sgtin:06141.1073466.2017': the company prefix "
            "'06141' must be 6 to 12 digits.",
        ),
        (
            "urn:epc:id:sgtin:0614141.107346",
            "Invalid EPC URI 'urn:epc:id:sgtin:0614141.107346': expected 3 components "
            "separated by '.' (company prefix, item reference, serial number), found 2.",
        ),
        (
            "urn:epc:id:sgtin:0614141.107346.ab%20c",
            "Invalid EPC URI 'urn:epc:id:sgtin:0614141.107346.ab%20c': the serial number "
            "contains '%20' (' '), which is not in GS1 AI encodable character set 82.",
        ),
        (
            "urn:epc:id:sgtin:0614141.107346.ab c",
            "Invalid EPC URI 'urn:epc:id:sgtin:0614141.107346.ab c': the serial number "
            "contains ' ', which is not in GS1 AI encodable character set 82.",
        ),
        (
            "urn:epc:id:sgtin:0614141.107346.a/b",
            "Invalid EPC URI 'urn:epc:id:sgtin:0614141.107346.a/b': the serial number "
            "contains '/', which must be escaped as '%2F' in an EPC URI.",
        ),
        (
            "urn:epc:id:sgtin:0614141.107346.12%4",
            "Invalid EPC URI 'urn:epc:id:sgtin:0614141.107346.12%4': malformed escape '%4' "
            "in the serial number.",
        ),
        (
            "urn:epc:id:sgtin:0614141.107346.%zz",
            "Invalid EPC URI 'urn:epc:id:sgtin:0614141.107346.%zz': malformed escape '%zz' "
            "in the serial number.",
        ),
        (
            "urn:epc:id:sgtin:0614141.107346.123456789012345678901",
            "Invalid EPC URI 'urn:epc:id:sgtin:0614141.107346.123456789012345678901': the "
            "serial number has 21 characters, at most 20 allowed.",
        ),
        (
            "urn:epc:id:sgtin:0614141.107346.",
            "Invalid EPC URI 'urn:epc:id:sgtin:0614141.107346.': the serial number is empty.",
        ),
        (
            "urn:epc:id:foo:0614141.1",
            "Invalid EPC URI 'urn:epc:id:foo:0614141.1': unknown EPC scheme 'foo'.",
        ),
        (
            "urn:epc:class:sgtin:0614141.107346.1",
            "Invalid EPC URI 'urn:epc:class:sgtin:0614141.107346.1': unknown EPC class "
            "scheme 'sgtin'.",
        ),
        (
            "urn:epc:tag:sgtin-96:3.0614141.107346.1",
            "Invalid EPC URI 'urn:epc:tag:sgtin-96:3.0614141.107346.1': 'urn:epc:tag:' is "
            "not a pure-identity, class or pattern EPC URI.",
        ),
        (
            "urn:epc:id:sgtin",
            "Invalid EPC URI 'urn:epc:id:sgtin': expected "
            "urn:epc:{id|class|idpat}:<scheme>:<components>.",
        ),
        (
            "urn:epc:idpat:sgtin:0614141.*.1",
            "Invalid EPC URI 'urn:epc:idpat:sgtin:0614141.*.1': a '*' component may only be "
            "followed by '*' components.",
        ),
        (
            "urn:epc:id:cpi:0614141.12a.1",
            "Invalid EPC URI 'urn:epc:id:cpi:0614141.12a.1': the component/part reference "
            "contains 'a', which is not in character set 39.",
        ),
        (
            "urn:epc:id:cpi:0614141.123.x1",
            "Invalid EPC URI 'urn:epc:id:cpi:0614141.123.x1': the serial 'x1' must be 1 to "
            "12 digits.",
        ),
        (
            "urn:epc:id:itip:4012345.012345.1.02.987",
            "Invalid EPC URI 'urn:epc:id:itip:4012345.012345.1.02.987': the piece number '1' "
            "must be 2 digits.",
        ),
        (
            "https://id.gs1.org/01/09521234543214/21/1",
            "Invalid GS1 Digital Link URI 'https://id.gs1.org/01/09521234543214/21/1': GTIN "
            "'09521234543214' check digit is 4, expected 3.",
        ),
        (
            "https://id.gs1.org/00/106141412345678901",
            "Invalid GS1 Digital Link URI 'https://id.gs1.org/00/106141412345678901': SSCC "
            "'106141412345678901' check digit is 1, expected 8.",
        ),
        (
            "https://id.gs1.org/01/0952123454321",
            "Invalid GS1 Digital Link URI 'https://id.gs1.org/01/0952123454321': GTIN "
            "'00952123454321' check digit is 1, expected 4.",
        ),
        (
            "https://id.gs1.org/01/09521234543213/21/1/10/L",
            "Invalid GS1 Digital Link URI 'https://id.gs1.org/01/09521234543213/21/1/10/L': "
            "key qualifiers 21/10 are not in a valid order for AI 01.",
        ),
        (
            "https://id.gs1.org/01/095212345432133",
            "Invalid GS1 Digital Link URI 'https://id.gs1.org/01/095212345432133': GTIN "
            "'095212345432133' must have 8, 12, 13 or 14 digits.",
        ),
        (
            "https://id.gs1.org/414/061414112345",
            "Invalid GS1 Digital Link URI 'https://id.gs1.org/414/061414112345': GLN "
            "'061414112345' must be 13 digits (AI 414).",
        ),
        (
            "https://id.gs1.org/01/09521234543213/21/a%2",
            "Invalid GS1 Digital Link URI 'https://id.gs1.org/01/09521234543213/21/a%2': "
            "malformed percent-encoding '%2'.",
        ),
        (
            "https://id.gs1.org/01/09521234543213/21/a%20b",
            "Invalid GS1 Digital Link URI 'https://id.gs1.org/01/09521234543213/21/a%20b': "
            "AI 21 value 'a b' contains ' ', which is not in GS1 AI encodable character set 82.",
        ),
        (
            "https://id.gs1.org/01/09521234543213/21/123456789012345678901",
            "Invalid GS1 Digital Link URI "
            "'https://id.gs1.org/01/09521234543213/21/123456789012345678901': AI 21 value "
            "'123456789012345678901' must have 1 to 20 characters.",
        ),
        (
            "https://id.gs1.org/8003/14012345666663",
            "Invalid GS1 Digital Link URI 'https://id.gs1.org/8003/14012345666663': GRAI "
            "'14012345666663' must start with the filler digit 0.",
        ),
    ],
)
def test_bad_inputs_name_value_and_reason(uri: str, message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        parse_uri(uri)
    assert info.value.message == message
    # every entry point refuses it the same way
    for convert in (to_digital_link, canonical_uri, canonical_key, to_epc_urn):
        with pytest.raises(IdentifierError) as again:
            convert(uri)
        assert again.value.message == message


# ---------------------------------------------------------------- round trips (hypothesis)

_URN_REQUIRED = '"#%&/<>?'  # '#' only occurs in CPI references (character set 39)


def _tds_escape(text: str, optional: list[bool]) -> str:
    """Escape as TDS Annex A allows: required characters always, others optionally."""
    out = []
    for ch, extra in zip(text, optional + [False] * len(text), strict=False):
        out.append(f"%{ord(ch):02X}" if ch in _URN_REQUIRED or extra else ch)
    return "".join(out)


def _dl_quote(text: str) -> str:
    """GS1 Digital Link percent-encoding, from the standard library as an oracle."""
    return quote(text, safe="';=")


cs82_text = st.text(alphabet=sorted(CS82), min_size=1, max_size=20)
digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def prefix_and_ref(draw: st.DrawFn, total: int) -> tuple[str, str]:
    n = draw(st.integers(min_value=6, max_value=min(12, total)))
    cp = draw(st.text(alphabet="0123456789", min_size=n, max_size=n))
    ref = draw(st.text(alphabet="0123456789", min_size=total - n, max_size=total - n))
    return cp, ref


def _check(body: str) -> str:
    return body + gs1_check_digit(body)


@given(prefix_and_ref(13), cs82_text, st.lists(st.booleans(), max_size=20))
def test_sgtin_round_trip(parts: tuple[str, str], serial: str, esc: list[bool]) -> None:
    cp, ir = parts
    urn = f"urn:epc:id:sgtin:{cp}.{ir}.{_tds_escape(serial, esc)}"
    dl = f"https://id.gs1.org/01/{_check(ir[0] + cp + ir[1:])}/21/{_dl_quote(serial)}"
    assert to_digital_link(urn) == dl
    assert canonical_key(urn) == dl
    canonical_urn = f"urn:epc:id:sgtin:{cp}.{ir}.{_tds_escape(serial, [])}"
    assert to_epc_urn(dl, prefix_lengths={cp: len(cp)}) == canonical_urn
    assert to_epc_urn(urn) == canonical_urn
    assert to_digital_link(to_epc_urn(dl, prefix_lengths={cp: len(cp)})) == dl


@given(prefix_and_ref(17))
def test_sscc_round_trip(parts: tuple[str, str]) -> None:
    cp, sr = parts
    urn = f"urn:epc:id:sscc:{cp}.{sr}"
    dl = f"https://id.gs1.org/00/{_check(sr[0] + cp + sr[1:])}"
    assert to_digital_link(urn) == dl
    assert to_epc_urn(dl, prefix_lengths={cp: len(cp)}) == urn


@given(prefix_and_ref(12), cs82_text.filter(lambda s: s != "0"))
def test_sgln_round_trip(parts: tuple[str, str], ext: str) -> None:
    cp, lr = parts
    urn = f"urn:epc:id:sgln:{cp}.{lr}.{_tds_escape(ext, [])}"
    dl = f"https://id.gs1.org/414/{_check(cp + lr)}/254/{_dl_quote(ext)}"
    assert to_digital_link(urn) == dl
    assert to_epc_urn(dl, prefix_lengths={cp: len(cp)}) == urn


@given(prefix_and_ref(12), st.text(alphabet=sorted(CS82), min_size=1, max_size=16))
def test_grai_round_trip(parts: tuple[str, str], serial: str) -> None:
    cp, at = parts
    urn = f"urn:epc:id:grai:{cp}.{at}.{_tds_escape(serial, [])}"
    dl = f"https://id.gs1.org/8003/0{_check(cp + at)}{_dl_quote(serial)}"
    assert to_digital_link(urn) == dl
    assert to_epc_urn(dl, prefix_lengths={cp: len(cp)}) == urn


@given(prefix_and_ref(6), st.data())
def test_giai_round_trip(parts: tuple[str, str], data: st.DataObject) -> None:
    cp = parts[0] + parts[1]  # 6..12 digits
    cp = cp[: data.draw(st.integers(min_value=6, max_value=len(cp)))] if len(cp) > 6 else cp
    ref = data.draw(st.text(alphabet=sorted(CS82), min_size=1, max_size=30 - len(cp)))
    urn = f"urn:epc:id:giai:{cp}.{_tds_escape(ref, [])}"
    dl = f"https://id.gs1.org/8004/{cp}{_dl_quote(ref)}"
    assert to_digital_link(urn) == dl
    assert to_epc_urn(dl, prefix_lengths={cp: len(cp)}) == urn


@given(prefix_and_ref(13), cs82_text)
def test_lgtin_round_trip(parts: tuple[str, str], lot: str) -> None:
    cp, ir = parts
    urn = f"urn:epc:class:lgtin:{cp}.{ir}.{_tds_escape(lot, [])}"
    dl = f"https://id.gs1.org/01/{_check(ir[0] + cp + ir[1:])}/10/{_dl_quote(lot)}"
    assert to_digital_link(urn) == dl
    assert to_epc_urn(dl, prefix_lengths={cp: len(cp)}) == urn
    assert parse_uri(dl).is_class


@given(
    prefix_and_ref(12),
    st.text(alphabet="0123456789", min_size=1, max_size=12),
    st.text(alphabet=sorted(CS39), min_size=1, max_size=18),
)
def test_gdti_sgcn_cpi_round_trips(parts: tuple[str, str], num: str, cpr: str) -> None:
    cp, ref = parts
    gdti = f"urn:epc:id:gdti:{cp}.{ref}.{num}"
    assert to_digital_link(gdti) == f"https://id.gs1.org/253/{_check(cp + ref)}{num}"
    assert to_epc_urn(to_digital_link(gdti), prefix_lengths={cp: len(cp)}) == gdti
    sgcn = f"urn:epc:id:sgcn:{cp}.{ref}.{num}"
    assert to_digital_link(sgcn) == f"https://id.gs1.org/255/{_check(cp + ref)}{num}"
    assert to_epc_urn(to_digital_link(sgcn), prefix_lengths={cp: len(cp)}) == sgcn
    assume(len(cp) + len(cpr) <= 30)
    cpi = f"urn:epc:id:cpi:{cp}.{_tds_escape(cpr, [])}.{num}"
    assert to_digital_link(cpi) == f"https://id.gs1.org/8010/{cp}{_dl_quote(cpr)}/8011/{num}"
    assert to_epc_urn(to_digital_link(cpi), prefix_lengths={cp: len(cp)}) == cpi


@st.composite
def digital_links(draw: st.DrawFn) -> tuple[str, str]:
    """(canonical Digital Link, GS1 Company Prefix) for a random key of a random type."""
    cp, ref = draw(prefix_and_ref(13))
    key12 = (cp + ref)[:12]  # GLN-style body: company prefix first
    text = draw(cs82_text)
    ai = draw(st.sampled_from(["01", "00", "414", "8003", "8004", "253"]))
    if ai == "01":
        path = f"01/{_check(ref[0] + cp + ref[1:])}/21/{_dl_quote(text)}"
    elif ai == "00":
        path = f"00/{_check(ref[0] + cp + ref[1:] + '0000')}"
    elif ai == "414":
        assume(text != "0")
        path = f"414/{_check(key12)}/254/{_dl_quote(text)}"
    elif ai == "8003":
        path = f"8003/0{_check(key12)}{_dl_quote(text[:16])}"
    elif ai == "8004":
        path = f"8004/{cp}{_dl_quote(text[: 30 - len(cp)])}"
    else:
        path = f"253/{_check(key12)}{_dl_quote(text[:17])}"
    return f"https://id.gs1.org/{path}", cp


@given(
    digital_links(),
    st.sampled_from(["https://id.gs1.org", "http://example.com/a/b", "https://RESOLVER.example"]),
    st.sampled_from(["", "?17=291231", "?linkType=all#frag"]),
)
def test_digital_link_round_trip(case: tuple[str, str], host: str, query: str) -> None:
    """DL (any domain, any query) -> EPC URI -> DL gives the canonical DL."""
    canonical, cp = case
    given_uri = host + canonical.removeprefix("https://id.gs1.org") + query
    assert to_digital_link(given_uri) == canonical
    urn = to_epc_urn(given_uri, prefix_lengths={cp: len(cp)})
    assert urn.startswith("urn:epc:id:")
    assert f":{cp}." in urn
    assert to_digital_link(urn) == canonical
    assert to_epc_urn(urn) == urn


# --------------------------------------------------------------------- canonical_key


@given(
    st.one_of(
        st.builds(
            lambda cp_ref, serial: f"urn:epc:id:sgtin:{cp_ref[0]}.{cp_ref[1]}.{serial}",
            prefix_and_ref(13),
            st.text(alphabet=sorted(CS82 | {"%", " ", "é"}), min_size=0, max_size=22),
        ),
        st.builds(
            lambda gtin, serial: f"https://id.gs1.org/01/{gtin}/21/{serial}",
            st.text(alphabet="0123456789", min_size=14, max_size=14),
            st.text(alphabet=sorted(CS82 | {"%"}), min_size=0, max_size=22),
        ),
        st.text(max_size=40),
    )
)
def test_canonical_key_agrees_with_canonical_uri(uri: str) -> None:
    """The fast path gives exactly what the full parser gives — or the same error."""
    assert _outcome(canonical_key, uri) == _outcome(canonical_uri, uri)


def _outcome(convert: Callable[[str], str], uri: str) -> tuple[str, str]:
    try:
        return "ok", convert(uri)
    except IdentifierError as exc:
        return "error", exc.message


def test_canonical_key_caches_gtins_not_serials() -> None:
    """The GTIN part is cached per GTIN; whole results only in a bounded LRU."""
    canonical_key.cache_clear()
    epc._sgtin_head.cache_clear()
    for n in range(500):
        canonical_key(f"urn:epc:id:sgtin:0614141.107346.{n}")
    info = epc._sgtin_head.cache_info()
    assert info.currsize == 1
    assert info.hits == 499
    outer = canonical_key.cache_info()
    assert outer.maxsize == 1 << 17
    assert outer.currsize == 500
    canonical_key("urn:epc:id:sgtin:0614141.107346.7")
    assert canonical_key.cache_info().hits == outer.hits + 1
