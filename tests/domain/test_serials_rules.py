"""The pure rules of serial number pools: the EU FMD guessing bound, the alphabet, the
generator (EU FMD Delegated Regulation (EU) 2016/161 Art. 4(b); GS1 AI (21))."""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from serialvault.domain import serials as rules
from serialvault.gs1.charset import CS82
from serialvault.gs1.epc import URI_LITERAL_CS82, canonical_key, to_epc_urn
from serialvault.gs1.sgtin import parse_serial

LITERAL = "".join(sorted(URI_LITERAL_CS82))
alphabets = st.lists(st.sampled_from(LITERAL), min_size=2, max_size=68, unique=True).map("".join)


def test_the_literal_characters_are_those_no_uri_form_escapes() -> None:
    assert set(LITERAL) == set(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'-.;=_"
    )
    assert set(rules.DEFAULT_ALPHABET) <= URI_LITERAL_CS82
    assert not set("0O1I") & set(rules.DEFAULT_ALPHABET)
    assert len(rules.DEFAULT_ALPHABET) == 32


@given(alphabets)
def test_an_alphabet_of_distinct_literal_characters_is_accepted(alphabet: str) -> None:
    assert rules.alphabet_problem(alphabet) is None


@given(st.sampled_from(sorted(CS82 - URI_LITERAL_CS82)), alphabets)
def test_a_character_any_uri_form_escapes_is_refused_by_name(bad: str, alphabet: str) -> None:
    problem = rules.alphabet_problem(alphabet + bad)
    assert problem is not None
    assert repr(bad) in problem


def test_a_repeated_symbol_or_a_single_one_is_refused() -> None:
    assert "twice" in (rules.alphabet_problem("ABCA") or "")
    assert "at least 2" in (rules.alphabet_problem("A") or "")
    assert rules.length_problem(0)
    assert rules.length_problem(21)
    assert rules.length_problem(20) is None


@given(
    st.integers(min_value=1, max_value=10**15),
    st.integers(min_value=2, max_value=68),
    st.integers(min_value=1, max_value=20),
)
def test_the_bound_is_volume_over_space_below_one_in_ten_thousand(
    expected: int, k: int, length: int
) -> None:
    alphabet = LITERAL[:k]
    problem = rules.bound_problem(expected, alphabet, length)
    assert (problem is None) == (expected * 10_000 < k**length)
    shortest = rules.shortest_length(expected, k)
    if shortest is not None:
        assert rules.bound_problem(expected, alphabet, shortest) is None
        if shortest > 1:
            assert rules.bound_problem(expected, alphabet, shortest - 1) is not None
    if problem is not None:  # the refusal names the numbers and the way out
        assert f"{k}^{length}" in problem
        assert f"{expected:,}" in problem
        assert "1 in 10,000" in problem
        assert "2016/161" in problem
        if shortest is not None:
            assert f"at least {shortest} characters" in problem


def test_the_bound_is_strict() -> None:
    # 10 ** 4 serials in a space of 10 ** 8: exactly 1 in 10,000 — not below it
    assert rules.guess_probability(10**4, 10, 8) == Fraction(1, 10_000)
    assert rules.bound_problem(10**4, "0123456789", 8) is not None
    assert rules.bound_problem(10**4 - 1, "0123456789", 8) is None


@settings(max_examples=60)
@given(
    alphabets,
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=0, max_value=300),
    st.randoms(use_true_random=False),
)
def test_generated_serials_are_valid_ai21_in_the_alphabet_and_one_text_in_every_form(
    alphabet: str, length: int, count: int, rnd: random.Random
) -> None:
    serials = rules.generate(count, alphabet, length, rnd.randbytes)
    assert len(serials) == count
    for s in serials:
        assert len(s) == length
        assert set(s) <= set(alphabet)
        assert parse_serial(s) == s
    if serials:
        s = serials[0]
        urn = f"urn:epc:id:sgtin:0614141.812345.{s}"
        assert canonical_key(urn) == f"https://id.gs1.org/01/80614141123458/21/{s}"
        assert to_epc_urn(canonical_key(urn)) == urn


@given(st.integers(min_value=2, max_value=68))
def test_rejection_sampling_gives_every_symbol_the_same_chance(k: int) -> None:
    """Fed every byte value equally often, each symbol comes out equally often: the bytes
    that would favour the first ``256 % k`` symbols are dropped."""
    alphabet = LITERAL[:k]
    source = bytes(range(256)) * 8
    limit = 256 - 256 % k
    n = limit * 4  # four full rounds of the accepted byte values
    counts = Counter("".join(rules.generate(n, alphabet, 1, lambda m: source[:m])))
    assert set(counts) == set(alphabet)
    assert len(set(counts.values())) == 1, counts


def test_the_default_pool_meets_the_bound_for_a_billion_packs() -> None:
    pool = rules.Pool("09521234543213", rules.DEFAULT_ALPHABET, 12, 10**9, 10**8)
    assert pool.problem() is None
    assert pool.probability < Fraction(1, 10**9)
    assert rules.one_in(pool.probability).startswith("1 in 1,152,921,504")


def test_stock_counts_what_was_handed_out_for_good() -> None:
    pool = rules.Pool("09521234543213", "AB", 20, 100, 10)
    s = rules.Stock(pool, allocated=50, commissioned=30, returned=15, unallocated=7)
    assert s.issued == 95
    assert s.remaining == 5
    assert s.low
    assert "pool of GTIN 09521234543213 is low: 5 of 100" in (s.warning() or "")
    short = s.shortfall(6) or ""
    assert "cannot hand out 6 serials: 5 of its expected volume of 100 remain" in short
    assert "returned serials are never handed out again" in short
    assert s.shortfall(5) is None


def test_allocation_ids_and_policies() -> None:
    assert rules.allocation_seq(rules.allocation_id(42)) == 42
    assert rules.allocation_seq("AL-x") is None
    assert rules.policy_problem({"unallocated": "flag"}) is None
    assert rules.policy_problem({"unallocated": "maybe"})
    assert rules.policy_problem({"other": 1})
    assert rules.target_problem("order 4711") is None
    assert rules.target_problem("line\n1")


@given(st.text(min_size=1, max_size=30), st.lists(st.sampled_from(["AB", "C-D", "x.y_z"])))
def test_the_allocation_body_is_canonical_json(to: str, serials: list[str]) -> None:
    from serialvault.app.serials import allocation_body
    from serialvault.canonical import canonical_json

    body = {"gtin": "09521234543213", "to": to.strip(), "serials": serials}
    assert allocation_body("09521234543213", to, serials) == canonical_json(body)
