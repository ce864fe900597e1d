"""The pure core as tables: numbers, chunking, templates, the token bucket."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulksend.core.bucket import TokenBucket
from bulksend.core.chunking import chunked, effective_batch_size
from bulksend.core.numbers import clean_block, normalize_block, normalize_msisdn
from bulksend.core.templates import check_template, missing_values, placeholders, render
from bulksend.errors import RecipientError, TemplateError


@pytest.mark.parametrize(("raw", "expected"), [
    ("46701234567", "46701234567"),
    ("+46701234567", "46701234567"),
    ("0046701234567", "46701234567"),
    ("+46 70 123 45 67", "46701234567"),
    ("+46-70-123-45-67", "46701234567"),
    ("(+46) 70.123.45.67", "46701234567"),
    ("  +1 (555) 010-9999 ", "15550109999"),
    ("+44\u00a020 7946 0958", "442079460958"),
    ("1234567", "1234567"),                    # 7 digits: the shortest allowed
    ("123456789012345", "123456789012345"),    # 15 digits: the longest allowed
    ("00 44 20 7946 0958", "442079460958"),
])
def test_normalize_valid(raw: str, expected: str) -> None:
    assert normalize_msisdn(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "empty"),
    ("   ", "empty"),
    ("070-123 45 67", "national"),
    ("+0701234567", "national"),
    ("123456", "7 to 15"),
    ("1234567890123456", "7 to 15"),
    ("+46 70 ABC", "not a phone"),
    ("46701234567x", "not a phone"),
    ("++46701234567", "not a phone"),
    ("٤٦٧٠١٢٣٤٥٦٧", "not a phone"),             # non-ASCII digits are not accepted
    ("+", "not a phone"),
])
def test_normalize_invalid(raw: str, reason: str) -> None:
    with pytest.raises(RecipientError) as info:
        normalize_msisdn(raw)
    assert reason in info.value.reason
    assert info.value.value == raw


@pytest.mark.parametrize(("n", "size", "sizes"), [
    (0, 3, []),
    (1, 3, [1]),
    (3, 3, [3]),
    (7, 3, [3, 3, 1]),
    (400, 200, [200, 200]),
    (401, 200, [200, 200, 1]),
    (5, 1, [1, 1, 1, 1, 1]),
])
def test_chunked(n: int, size: int, sizes: list[int]) -> None:
    chunks = list(chunked(range(n), size))
    assert [len(c) for c in chunks] == sizes
    assert [x for c in chunks for x in c] == list(range(n))


@pytest.mark.parametrize(("requested", "limit", "expected"), [
    (200, 1000, 200), (1000, 1000, 1000), (5000, 1000, 1000), (200, 1, 1), (1, 200, 1),
])
def test_effective_batch_size(requested: int, limit: int, expected: int) -> None:
    assert effective_batch_size(requested, limit) == expected


def test_effective_batch_size_rejects_zero() -> None:
    with pytest.raises(ValueError):
        effective_batch_size(0, 100)


@pytest.mark.parametrize(("body", "keys"), [
    ("Hi", ()),
    ("Hi ${name}", ("name",)),
    ("${a}${b}${a}", ("a", "b")),
    ("${first.name} ${x-y_z}", ("first.name", "x-y_z")),
    ("${}", ()),
    ("${way_too_long_key_name_here}", ()),
])
def test_placeholders(body: str, keys: tuple[str, ...]) -> None:
    assert placeholders(body) == keys


def test_render_uses_params_then_defaults() -> None:
    body = "Hi ${name}, code ${code}"
    assert render(body, {"name": "Ana", "code": "1"}, {}) == "Hi Ana, code 1"
    assert render(body, {"name": "Ana"}, {"code": "0"}) == "Hi Ana, code 0"
    assert render(body, {"name": ""}, {"name": "friend", "code": "0"}) == "Hi friend, code 0"
    with pytest.raises(TemplateError):
        render(body, {"name": "Ana"}, {})


def test_check_template_names_the_missing_key() -> None:
    check_template("Hi ${name}", ["phone", "name"], {})
    check_template("Hi ${name}", ["phone"], {"name": "x"})
    with pytest.raises(TemplateError, match=r"\$\{code\}"):
        check_template("Hi ${name} ${code}", ["phone", "name"], {})


def test_missing_values() -> None:
    assert missing_values(("a", "b"), {"a": "1", "b": ""}, {}) == ["b"]
    assert missing_values(("a", "b"), {"a": "1", "b": ""}, {"b": "d"}) == []
    assert missing_values(("a",), None, {}) == ["a"]


@pytest.mark.parametrize(("steps", "expected"), [
    # (time, amount) -> took?
    ([(0.0, 10)], [True]),
    ([(0.0, 10), (0.0, 1)], [True, False]),
    ([(0.0, 10), (0.1, 1)], [True, True]),     # 10/s refills one token in 0.1 s
    ([(0.0, 10), (0.05, 1)], [True, False]),
    ([(0.0, 11)], [False]),                    # more than capacity never fits
    ([(0.0, 5), (100.0, 10), (100.0, 1)], [True, True, False]),  # refill caps at capacity
])
def test_token_bucket(steps: list[tuple[float, int]], expected: list[bool]) -> None:
    bucket = TokenBucket(rate=10, capacity=10, now=0.0)
    assert [bucket.try_take(n, t) for t, n in steps] == expected


def test_token_bucket_wait_time() -> None:
    bucket = TokenBucket(rate=10, capacity=10, now=0.0)
    assert bucket.try_take(10, 0.0)
    assert bucket.wait_time(5, 0.0) == pytest.approx(0.5)
    assert bucket.wait_time(5, 0.5) == pytest.approx(0.0)
    assert bucket.wait_time(11, 0.0) == float("inf")


@pytest.mark.parametrize(("raws", "expected"), [
    ([], []),
    (["46701234567", "+46701234568"], ["46701234567", "46701234568"]),
    (["1234567", "+123456789012345"], ["1234567", "123456789012345"]),
    (["46701234567", "0701234567"], None),          # national: the careful path decides
    (["46701234567", "+46 70 123"], None),          # spaces: the careful path cleans them
    (["4670123\n4567", "46701234568"], None),       # a newline inside a value must not shift numbers
    (["123456"], None),                             # too short
    (["٤٦٧٠١٢٣٤٥٦٧"], None),                         # non-ASCII digits
])
def test_normalize_block(raws: list[str], expected: list[str] | None) -> None:
    assert normalize_block(raws) == expected


def test_normalize_block_agrees_with_one_by_one() -> None:
    raws = ["+4670000%04d" % i for i in range(1000)]
    assert normalize_block(raws) == [normalize_msisdn(r) for r in raws]


@pytest.mark.parametrize(("data", "first_field", "numbers"), [
    (b"46701234567\n+46701234568\n", False, ["46701234567", "46701234568"]),
    (b"+46701234567,Ana\n46701234568,Bo,x\n1234567\n", True, ["46701234567", "46701234568", "1234567"]),
    (b"46701234567,+1 2\n", True, ["46701234567"]),     # only the first field counts
    (b"46701234567\n\n", False, None),                  # a blank line: the careful path skips it
    (b"# list\n46701234567\n", False, None),            # a comment
    (b"0701234567\n", False, None),                     # national format
    (b"123456\n", False, None),                         # too short
    (b"1234567890123456\n", False, None),               # too long
    (b"4670+1234567\n", False, None),                   # a "+" inside
    (b"+46 70 123 45 67\n", False, None),               # spaces: the careful path cleans them
    (b",46701234567\n", True, None),                    # an empty first field
    (b"+46701234567\r\n", False, None),                 # CRLF: the careful path strips it
    (b"46701234567", False, None),                      # not whole lines
    ("٤٦٧٠١٢٣٤٥٦٧\n".encode(), False, None),            # non-ASCII digits
])
def test_clean_block(data: bytes, first_field: bool, numbers: list[str] | None) -> None:
    found = clean_block(data, first_field)
    if numbers is None:
        assert found is None
        return
    assert found is not None
    text, keys, starts = found
    assert text.split("\n") == numbers and keys.tolist() == [int(n) for n in numbers]
    assert [text[starts[i]:starts[i + 1] - 1] for i in range(len(numbers))] == numbers


_FIELD = st.text(alphabet="+0123456789 ", max_size=17)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_FIELD, st.text(alphabet="ab,+1", max_size=4)), min_size=1, max_size=30),
       st.booleans())
def test_clean_block_agrees_with_normalize_msisdn(rows: list[tuple[str, str]], first_field: bool) -> None:
    """Numbers it lets through are what normalizing each line gives; it refuses
    a block only when some line is not a plain number (with or without "+")."""
    lines = [f"{number},{rest}" if first_field else number for number, rest in rows]
    found = clean_block(("\n".join(lines) + "\n").encode(), first_field)
    plain = all(re.fullmatch(r"\+?[1-9][0-9]{6,14}", number) for number, _rest in rows)
    assert (found is not None) == plain
    if found is not None:
        assert found[0].split("\n") == [normalize_msisdn(number) for number, _rest in rows]
