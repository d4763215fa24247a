"""The JSON depth bound: never says "not too deep" for what json.loads would recurse into."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from shared.http.input_guard import json_body_problems, json_depth_exceeds


def deepest(body: bytes) -> int:
    """The reference: the deepest prefix nesting outside strings, byte by byte."""
    depth = most = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            most = max(most, depth)
        elif byte in b"]}":
            depth -= 1
    return most


def nested(depth: int, inner: str = "1") -> bytes:
    return ("[" * depth + inner + "]" * depth).encode()


def test_valid_documents_are_measured_exactly() -> None:
    for limit in (1, 3, 64):
        assert not json_depth_exceeds(nested(limit), limit)
        assert json_depth_exceeds(nested(limit + 1), limit)
    wide = json.dumps([[1, [2]], {"a": [[3]]}, [[[[]]]]] * 50).encode()  # 5 deep, many brackets
    assert not json_depth_exceeds(wide, 5)
    assert json_depth_exceeds(wide, 4)


def test_brackets_inside_strings_are_text() -> None:
    body = json.dumps({"name": "[" * 500, "quote": '\\"[[[[', "x": "]]}}" * 100}).encode()
    assert not json_depth_exceeds(body, 2)
    assert not json_depth_exceeds(b'"' + b'\\"[' * 1000, 2)  # unterminated string: all text


def test_unclosed_openers_count() -> None:
    assert json_depth_exceeds(b"[" * 100, 64)
    assert json_depth_exceeds(b"[" * 40 + nested(40), 64)
    assert not json_depth_exceeds(b"]" * 100 + b"[" * 10, 64)


@given(st.binary(max_size=300) | st.text('[]{}"\\ x', max_size=300).map(str.encode))
def test_never_a_false_no(body: bytes) -> None:
    for limit in (0, 2, 5):
        if deepest(body) > limit:
            assert json_depth_exceeds(body, limit)


def test_a_body_past_the_parsers_recursion_is_refused_not_parsed() -> None:
    problems = json_body_problems(nested(100_000))
    assert [p.type for p in problems] == ["too_deep"]


def test_only_unstorable_values_are_refused() -> None:
    fine = json.dumps({"name": "Zoë 😀", "n": 1e308, "big": 10**400, "esc": "\\u0000"}).encode()
    assert json_body_problems(fine) == []
    body = b'{"a": ["ok", "\\u0000"], "b": {"c": 1e999}, "\\ud800": NaN}'
    found = {(tuple(p.location), p.type) for p in json_body_problems(body)}
    assert found == {
        (("body", "a", 1), "nul_character"),
        (("body", "b", "c"), "not_finite"),
        (("body",), "lone_surrogate"),
        (("body", "\ud800"), "not_finite"),
    }
