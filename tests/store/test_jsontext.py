"""store.jsontext: orjson's JSON is the standard library's, byte for byte, for the values the
process stores and sends; what orjson refuses still encodes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from store.jsontext import dumps_text, dumps_utf8


def standard(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# What records, events and frames hold: text (any code point but lone surrogates), 64-bit
# integers, finite floats, booleans, None, lists and string-keyed objects.
TEXT = st.text(st.characters(exclude_categories=("Cs",)))
EXACT = st.none() | st.booleans() | TEXT | st.integers(-(2**63), 2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def nested(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(TEXT, inner, max_size=4), max_leaves=20)


@given(nested(EXACT))
def test_the_same_json_as_the_standard_library(value: Any) -> None:
    assert dumps_text(value) == standard(value)
    assert dumps_utf8(value) == standard(value).encode("utf-8")


@given(nested(EXACT | FLOATS))
def test_floats_read_back_as_the_same_numbers(value: Any) -> None:
    # A float's exponent may lose its leading zero (1e-7 where the standard library writes
    # 1e-07): the same number.
    assert json.loads(dumps_utf8(value)) == json.loads(standard(value)) == value


def test_control_characters_quotes_and_line_separators() -> None:
    value = {"t": 'a"b\\c\n\t\x00\x1f\u2028\u2029中文😀', "n": [1, -0.0, 1e20, 2.5]}
    assert dumps_text(value) == standard(value)


def test_what_orjson_refuses_still_encodes() -> None:
    assert dumps_text({1: "x"}) == '{"1":"x"}'  # a non-string key
    assert dumps_text([2**70]) == f"[{2**70}]"  # beyond 64 bits
    # A lone surrogate: the text keeps it (as the standard library does); the bytes, which
    # must be UTF-8, carry "?" instead.
    assert dumps_text({"t": "a\ud800b"}) == standard({"t": "a\ud800b"})
    assert dumps_utf8({"t": "a\ud800b"}) == b'{"t":"a?b"}'
