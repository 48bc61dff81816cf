"""GS1 Company Prefix length: the GS1 table (via biip) and caller overrides."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.errors import IdentifierError
from serialvault.gs1.company_prefix import (
    check_overrides,
    company_prefix,
    company_prefix_length,
)


@pytest.mark.parametrize(
    ("digits", "length"),
    [
        ("0614141107346", 7),  # GS1 US example prefix used throughout TDS
        ("4012345000009", 7),  # GS1 Germany example
        ("9520123456788", 6),  # GS1 example range 952: 4th digit 0 -> 6 digits
        ("9521234543213", 7),  # ... 1 -> 7 digits
        ("9526123456789", 12),  # ... 6 -> 12 digits
    ],
)
def test_length_from_gs1_table(digits: str, length: int) -> None:
    assert company_prefix_length(digits) == length


def test_override_beats_the_table() -> None:
    # 03 + a 5-digit NDC labeler code: the table cannot know the labeler length.
    assert company_prefix_length("0312345678906", {"0312345": 7}) == 7
    assert company_prefix_length("0312345678906", {"03": 6}) == 6


def test_longest_override_wins() -> None:
    overrides = {"03": 6, "031234": 7, "0312": 8}
    assert company_prefix_length("0312345678906", overrides) == 7
    assert company_prefix_length("0312999999999", overrides) == 8
    assert company_prefix_length("0399999999999", overrides) == 6


def test_override_not_matching_falls_back_to_table() -> None:
    assert company_prefix_length("0614141107346", {"952": 9}) == 7


def test_unknown_prefix_says_how_to_supply_it() -> None:
    with pytest.raises(IdentifierError) as info:
        company_prefix_length("5200001999012")
    assert info.value.message == (
        "GS1 Company Prefix length unknown for '5200001999012': the GS1 company prefix "
        "table has no entry for it; supply it as prefix_lengths={'5200001': 7} "
        "(leading digits -> prefix length)."
    )
    assert info.value.exit_code == 4


def test_unknown_prefix_resolved_by_override() -> None:
    assert company_prefix("5200001999012", {"5200001": 7}) == "5200001"


def test_company_prefix_slices_the_digits() -> None:
    assert company_prefix("4012345000009") == "4012345"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"952": 5},
            "Invalid company prefix length override '952': 5: a GS1 Company Prefix in an "
            "EPC URI has 6 to 12 digits.",
        ),
        (
            {"952": 13},
            "Invalid company prefix length override '952': 13: a GS1 Company Prefix in an "
            "EPC URI has 6 to 12 digits.",
        ),
        (
            {"95x": 7},
            "Invalid company prefix length override '95x': 7: the key must be the leading "
            "digits of GS1 keys.",
        ),
        (
            {"952": "7"},
            "Invalid company prefix length override '952': '7': the length must be an integer.",
        ),
        (
            {"952": True},
            "Invalid company prefix length override '952': True: the length must be an integer.",
        ),
    ],
)
def test_bad_overrides_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(IdentifierError) as info:
        check_overrides(overrides)  # type: ignore[arg-type]
    assert info.value.message == message
    with pytest.raises(IdentifierError):
        company_prefix_length("9521234543213", overrides)  # type: ignore[arg-type]


def test_non_digits_are_refused() -> None:
    with pytest.raises(IdentifierError) as info:
        company_prefix_length("06141A1107346")
    assert info.value.message == (
        "Cannot find a GS1 Company Prefix in '06141A1107346': a GS1 key starts with digits."
    )
    with pytest.raises(IdentifierError):
        company_prefix_length("")


def test_override_longer_than_the_key() -> None:
    with pytest.raises(IdentifierError) as info:
        company_prefix_length("0614141", {"0614": 12})
    assert info.value.message == (
        "Company prefix length 12 given for '0614' is longer than the key digits '0614141'."
    )


@given(
    prefix=st.text(alphabet="0123456789", min_size=1, max_size=8),
    tail=st.text(alphabet="0123456789", min_size=12, max_size=12),
    length=st.integers(min_value=6, max_value=12),
)
def test_any_matching_override_is_used(prefix: str, tail: str, length: int) -> None:
    digits = prefix + tail
    assert company_prefix_length(digits, {prefix: length}) == length
    assert company_prefix(digits, {prefix: length}) == digits[:length]
