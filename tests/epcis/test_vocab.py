"""CBV 2.0 vocabularies: spellings, normalisation, custom values, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.epcis import vocab
from serialvault.epcis.vocab import (
    VocabularyError,
    normalize,
    normalize_action,
    normalize_bizstep,
    normalize_btt,
    normalize_disposition,
    normalize_error_reason,
    normalize_measurement_type,
    normalize_sdt,
    problem,
    to_curie,
    to_urn,
    to_web_uri,
)
from serialvault.errors import ValidationError

CBV_KINDS = ("bizstep", "disposition", "btt", "sdt", "error_reason")


@pytest.mark.parametrize(
    ("func", "spellings", "bare"),
    [
        (
            normalize_bizstep,
            [
                "shipping",
                "urn:epcglobal:cbv:bizstep:shipping",
                "https://ref.gs1.org/cbv/BizStep-shipping",
                "cbv:BizStep-shipping",
            ],
            "shipping",
        ),
        (
            normalize_disposition,
            [
                "in_transit",
                "urn:epcglobal:cbv:disp:in_transit",
                "https://ref.gs1.org/cbv/Disp-in_transit",
                "cbv:Disp-in_transit",
            ],
            "in_transit",
        ),
        (
            normalize_btt,
            ["po", "urn:epcglobal:cbv:btt:po", "https://ref.gs1.org/cbv/BTT-po", "cbv:BTT-po"],
            "po",
        ),
        (
            normalize_sdt,
            [
                "owning_party",
                "urn:epcglobal:cbv:sdt:owning_party",
                "https://ref.gs1.org/cbv/SDT-owning_party",
                "cbv:SDT-owning_party",
            ],
            "owning_party",
        ),
        (
            normalize_error_reason,
            [
                "did_not_occur",
                "urn:epcglobal:cbv:er:did_not_occur",
                "https://ref.gs1.org/cbv/ER-did_not_occur",
                "cbv:ER-did_not_occur",
            ],
            "did_not_occur",
        ),
        (
            normalize_measurement_type,
            [
                "Temperature",
                "gs1:Temperature",
                "https://gs1.org/voc/Temperature",
                "https://ref.gs1.org/voc/Temperature",
            ],
            "Temperature",
        ),
    ],
)
def test_every_spelling_of_a_standard_value_normalises_to_the_bare_word(
    func: object, spellings: list[str], bare: str
) -> None:
    assert callable(func)
    for spelling in spellings:
        assert func(spelling) == bare, spelling


def test_cbv_2_0_additions_are_known() -> None:
    # CBV 2.0 added these to the 1.2 lists; a stale table would reject current data.
    assert normalize_bizstep("sensor_reporting") == "sensor_reporting"
    assert normalize_bizstep("sampling") == "sampling"
    assert normalize_disposition("completeness_verified") == "completeness_verified"
    assert normalize_disposition("needs_replacement") == "needs_replacement"
    assert normalize_btt("upevt") == "upevt"


def test_ratified_measurement_types_missing_from_the_draft_schema_are_accepted() -> None:
    assert normalize_measurement_type("Molar_concentration") == "Molar_concentration"
    assert normalize_measurement_type("gs1:EffectiveDoseRate") == "EffectiveDoseRate"


def test_unknown_bare_word_is_rejected_with_a_suggestion() -> None:
    with pytest.raises(VocabularyError) as exc:
        normalize_bizstep("transforming")
    assert str(exc.value) == (
        "'transforming' is not a CBV 2.0 business step (CBV 2.0 §7.1); did you mean 'transporting'?"
    )
    assert isinstance(exc.value, ValidationError)
    assert exc.value.exit_code == 4


def test_unknown_bare_word_far_from_everything_has_no_suggestion() -> None:
    with pytest.raises(VocabularyError) as exc:
        normalize_disposition("qqqqqqqq")
    assert str(exc.value) == "'qqqqqqqq' is not a CBV 2.0 disposition (CBV 2.0 §7.2)"


def test_wrong_case_suggests_the_standard_spelling() -> None:
    assert problem("bizstep", "SHIPPING") == (
        "'SHIPPING' is not a CBV 2.0 business step (CBV 2.0 §7.1); did you mean 'shipping'?"
    )


@pytest.mark.parametrize(
    "value",
    [
        "urn:epcglobal:cbv:bizstep:transforming",
        "https://ref.gs1.org/cbv/BizStep-transforming",
        "cbv:BizStep-transforming",
    ],
)
def test_unknown_value_inside_the_standard_namespace_is_rejected(value: str) -> None:
    message = problem("bizstep", value)
    assert message is not None
    assert "only standard values may use" in message
    assert "'transforming' is not a CBV 2.0 business step" in message
    assert "did you mean" in message
    assert "transporting" in message


def test_value_of_another_cbv_vocabulary_is_rejected() -> None:
    assert problem("bizstep", "https://ref.gs1.org/cbv/Disp-in_transit") == (
        "'https://ref.gs1.org/cbv/Disp-in_transit' is a CBV 2.0 disposition URI, "
        "not a CBV 2.0 business step (CBV 2.0 §7.1)"
    )
    assert problem("disposition", "urn:epcglobal:cbv:bizstep:shipping") is not None


@pytest.mark.parametrize(
    "value",
    [
        "https://example.com/bizstep/custom",
        "http://epcis.example.org/hc/bizstep/summarising_discharge",
        "urn:example:bizstep:relabelling",
        "tag:example.com,2026:bizstep/x",
    ],
)
def test_custom_absolute_uris_are_accepted_unchanged(value: str) -> None:
    assert normalize_bizstep(value) == value
    assert problem("bizstep", value) is None


def test_custom_curie_needs_a_declared_prefix() -> None:
    ns = {"ext1": "http://example.com/ext1/"}
    assert normalize_bizstep("ext1:summarising_discharge", ns) == "ext1:summarising_discharge"
    with pytest.raises(VocabularyError) as exc:
        normalize_bizstep("cvb:BizStep-shipping", ns)
    assert str(exc.value) == (
        "'cvb:BizStep-shipping' is not a CBV 2.0 business step (CBV 2.0 §7.1) nor an "
        "absolute URI: the prefix 'cvb' is not declared in @context"
    )


def test_without_namespaces_a_custom_curie_is_returned_unchanged() -> None:
    # Callers after validation (e.g. building typed facts) do not carry the @context.
    assert normalize_bizstep("ext1:summarising_discharge") == "ext1:summarising_discharge"
    assert problem("bizstep", "cvb:BizStep-shipping") is None
    # ... but the standard namespaces are still guarded
    assert problem("bizstep", "cbv:BizStep-shiping") is not None
    assert problem("bizstep", "cvb:BizStep-shipping", {}) is not None


def test_a_declared_prefix_onto_a_standard_namespace_is_expanded() -> None:
    ns = {"bs": "https://ref.gs1.org/cbv/BizStep-"}
    assert normalize_bizstep("bs:shipping", ns) == "shipping"
    assert problem("bizstep", "bs:nonsense", ns) is not None


def test_cbv_namespace_outside_a_vocabulary_is_a_custom_value() -> None:
    # OpenEPCIS' valid examples use source/destination type "cbv:my_own_party".
    assert normalize_sdt("cbv:my_own_party") == "cbv:my_own_party"


def test_measurement_types_follow_the_same_rules() -> None:
    assert problem("measurement_type", "Temperatur") == (
        "'Temperatur' is not a GS1 Web Vocabulary measurement type "
        "(GS1 Web Vocabulary gs1:MeasurementType); did you mean 'Temperature'?"
    )
    assert problem("measurement_type", "gs1:Nonsense") is not None
    assert problem("measurement_type", "example:Abc", {"example": "https://x.example/"}) is None
    assert problem("measurement_type", "https://example.com/voc/Brightness") is None
    assert problem("sensor_alert_type", "gs1:ALARM_CONDITION") is None
    assert problem("sensor_alert_type", "ALARM") is not None


def test_non_string_values_are_reported_not_crashed_on() -> None:
    assert problem("bizstep", 42) == "a CBV 2.0 business step must be a string, found int"
    with pytest.raises(VocabularyError):
        normalize("bizstep", None)  # type: ignore[arg-type]


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown vocabulary kind 'colour'"):
        normalize("colour", "red")


def test_to_urn_and_web_uri_refuse_non_standard_values() -> None:
    assert to_urn("disposition", "in_transit") == "urn:epcglobal:cbv:disp:in_transit"
    assert to_web_uri("btt", "desadv") == "https://ref.gs1.org/cbv/BTT-desadv"
    assert to_curie("measurement_type", "Mass") == "gs1:Mass"
    assert to_urn("disp", "in_transit") == to_urn("disposition", "in_transit")
    assert to_web_uri("er", "did_not_occur") == "https://ref.gs1.org/cbv/ER-did_not_occur"
    with pytest.raises(VocabularyError, match=r"'transforming' is not a CBV 2\.0 business step"):
        to_urn("bizstep", "transforming")
    with pytest.raises(VocabularyError, match="has no URN form"):
        to_urn("measurement_type", "Mass")


def test_actions() -> None:
    for action in ("ADD", "OBSERVE", "DELETE"):
        assert normalize_action(action) == action
    with pytest.raises(VocabularyError) as exc:
        normalize_action("OBSERV")
    assert str(exc.value) == (
        "'OBSERV' is not an EPCIS action (ADD, OBSERVE or DELETE, EPCIS 2.0 §7.3.2); "
        "did you mean 'OBSERVE'?"
    )
    assert "did you mean 'ADD'" in vocab.action_message("add")


# --------------------------------------------------------------------------- properties


@st.composite
def standard_values(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(CBV_KINDS))
    bare = draw(st.sampled_from(sorted(vocab.vocabulary(kind).values)))
    return kind, bare


@given(standard_values())
def test_round_trip_bare_urn_bare(kv: tuple[str, str]) -> None:
    kind, bare = kv
    urn = to_urn(kind, bare)
    assert urn.startswith("urn:epcglobal:cbv:")
    assert normalize(kind, urn) == bare


@given(standard_values())
def test_round_trip_bare_web_uri_bare(kv: tuple[str, str]) -> None:
    kind, bare = kv
    uri = to_web_uri(kind, bare)
    assert uri.startswith("https://ref.gs1.org/cbv/")
    assert normalize(kind, uri) == bare
    assert normalize(kind, to_curie(kind, bare)) == bare


@given(st.sampled_from(sorted(vocab.MEASUREMENT_TYPES)))
def test_round_trip_measurement_types(bare: str) -> None:
    assert normalize_measurement_type(to_web_uri("measurement_type", bare)) == bare
    assert normalize_measurement_type(to_curie("measurement_type", bare)) == bare


@given(st.sampled_from(CBV_KINDS), st.from_regex(r"[a-z_]{1,24}", fullmatch=True))
def test_a_bare_word_is_either_standard_or_an_error(kind: str, word: str) -> None:
    values = vocab.vocabulary(kind).values
    if word in values:
        assert normalize(kind, word) == word
    else:
        with pytest.raises(VocabularyError, match=f"^'{word}' is not a CBV 2.0"):
            normalize(kind, word)
        with pytest.raises(VocabularyError):
            to_urn(kind, word)


@given(
    st.sampled_from(CBV_KINDS),
    st.from_regex(r"https://[a-z]{1,12}\.example\.com/[a-z0-9/_-]{0,30}", fullmatch=True),
)
def test_custom_uris_outside_gs1_namespaces_always_pass_unchanged(kind: str, uri: str) -> None:
    assert normalize(kind, uri) == uri
