"""Strict JSON: what any parser reads the same way is accepted, the rest refused by name."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from serialvault.epcis import jsonparse
from serialvault.errors import InputError

_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_values)
def test_unique_names_read_as_any_parser_reads_them(value: Any) -> None:
    data = orjson.dumps(value)
    assert jsonparse.loads(data, "d") == orjson.loads(data)


@given(st.dictionaries(st.text(max_size=6), _values, min_size=1, max_size=4), st.data())
def test_a_name_given_twice_anywhere_is_refused_naming_it(obj: dict[str, Any], data: Any) -> None:
    key = data.draw(st.sampled_from(sorted(obj)))
    dup = json.dumps(key) + ":" + json.dumps(obj[key]) + ","
    text = "{" + dup + json.dumps(obj)[1:]
    depth = data.draw(st.integers(0, 3))
    text = '{"a":[' * depth + text + "]}" * depth
    with pytest.raises(InputError) as err:
        jsonparse.loads(text, "doc.json")
    assert f"duplicate name {key!r}" in str(err.value)
    assert str(err.value).startswith("doc.json: ")


@pytest.mark.parametrize("text", ["NaN", '{"a": Infinity}', "[-Infinity]", '{"a":', "\xff"])
def test_what_is_not_json_is_malformed(text: str) -> None:
    with pytest.raises(InputError, match=r"doc\.json: malformed JSON"):
        jsonparse.loads(text.encode("latin-1"), "doc.json")


def test_plain_gives_ordinary_dicts() -> None:
    tree = jsonparse.UniqueKeys(a=[jsonparse.UniqueKeys(b=1)])
    out = jsonparse.plain(tree)
    assert type(out) is dict
    assert type(out["a"][0]) is dict
    out["a"][0]["b"] = 2  # later stages may assign freely


@pytest.mark.parametrize(
    "text",
    [
        b'{"eventID": "urn:uuid:\\udcff"}',
        b'{"a": ["x", {"b": "\\ud800"}]}',
        b'{"\\udfff": 1}',
        b'{"a": 1, "x": "\\ud800 \\ud800"}',
    ],
)
def test_a_lone_surrogate_is_not_text_and_is_refused(text: bytes) -> None:
    """Not Unicode: it could not be written as UTF-8, hashed or stored (RFC 8259 §8.2)."""
    with pytest.raises(ValueError, match="lone surrogate"):
        jsonparse.unique(text)
    with pytest.raises(InputError, match="lone surrogate"):
        jsonparse.loads(text, "d.json")


def test_a_surrogate_pair_is_one_character_and_accepted() -> None:
    assert jsonparse.unique(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}


def test_an_integer_beyond_64_bits_reads_as_the_double_rfc_8785_makes_of_it() -> None:
    big = jsonparse.unique(b'{"q": 123456789012345678901234567890, "n": 7}')
    assert big == {"q": 1.2345678901234568e29, "n": 7}
    assert isinstance(big["n"], int)
    with pytest.raises(ValueError, match="beyond the range of a double"):
        jsonparse.unique(b'{"q": 1' + b"0" * 400 + b"}")
