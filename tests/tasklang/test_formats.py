"""formats: number words and ordinals, number formats, labelled values, placeholders, agreement."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasklang.expr import Structure
from tasklang.formats import (
    FORMATS,
    NUMBER_FORMATS,
    TEXT_FORMATS,
    FormatError,
    Labelled,
    Placeholder,
    fraction_text,
    looks_like_raw_float,
    money,
    number_words,
    ordinal_words,
    parse_template,
    render_value,
    with_commas,
)
from tasklang.vocab import Entry

F = Fraction

# ---------------------------------------------------------------- number words


@pytest.mark.parametrize(("n", "words"), [
    (0, "zero"), (1, "one"), (7, "seven"), (13, "thirteen"), (19, "nineteen"), (20, "twenty"),
    (21, "twenty-one"), (40, "forty"), (99, "ninety-nine"), (100, "one hundred"),
    (101, "one hundred one"), (340, "three hundred forty"), (1000, "one thousand"),
    (80_000, "eighty thousand"), (12_345, "twelve thousand three hundred forty-five"),
    (999_999, "nine hundred ninety-nine thousand nine hundred ninety-nine"),
])
def test_number_words(n: int, words: str) -> None:
    assert number_words(n) == words


@pytest.mark.parametrize("n", [-1, 1_000_000, 10**9])
def test_number_words_out_of_range(n: int) -> None:
    with pytest.raises(FormatError):
        number_words(n)


@pytest.mark.parametrize(("n", "words"), [
    (0, "zeroth"), (1, "first"), (2, "second"), (3, "third"), (4, "fourth"), (5, "fifth"),
    (8, "eighth"), (9, "ninth"), (11, "eleventh"), (12, "twelfth"), (20, "twentieth"),
    (21, "twenty-first"), (42, "forty-second"), (99, "ninety-ninth"), (100, "one hundredth"),
    (103, "one hundred third"), (1000, "one thousandth"), (2012, "two thousand twelfth"),
])
def test_ordinal_words(n: int, words: str) -> None:
    assert ordinal_words(n) == words


@given(st.integers(0, 999_999))
def test_words_are_plain_lowercase_english(n: int) -> None:
    text = number_words(n)
    assert text == text.strip() and "  " not in text
    assert set(text) <= set("abcdefghijklmnopqrstuvwxyz -")
    prefix = text[: max(text.rfind(" "), text.rfind("-")) + 1]  # all but the last word
    assert ordinal_words(n).startswith(prefix) and ordinal_words(n) != text


@given(st.integers(0, 999_999), st.integers(0, 999_999))
def test_words_are_injective(a: int, b: int) -> None:
    assert (number_words(a) == number_words(b)) == (a == b)
    assert (ordinal_words(a) == ordinal_words(b)) == (a == b)


# ---------------------------------------------------------------- number formats


@pytest.mark.parametrize(("value", "text"), [
    (F(0), "0"), (F(999), "999"), (F(1000), "1,000"), (F(80_000), "80,000"),
    (F(1_234_567), "1,234,567"), (F(-1234), "-1,234"), (F(123_456_789, 100), "1,234,567.89"),
    (F(5, 2), "2.5"), (F(1, 3), "1/3"),
])
def test_commas(value: Fraction, text: str) -> None:
    assert with_commas(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (F(2), "$2"), (F(5, 2), "$2.50"), (F(1, 4), "$0.25"), (F(1234567, 100), "$12,345.67"),
    (F(80_000), "$80,000"), (F(0), "$0"), (F(-11, 2), "-$5.50"), (F(-5), "-$5"),
    (F(-1000), "-$1,000"),
])
def test_money(value: Fraction, text: str) -> None:
    assert money(value) == text


@pytest.mark.parametrize("value", [F(1, 3), F(1, 8), F(1001, 1000)])
def test_money_needs_whole_cents(value: Fraction) -> None:
    with pytest.raises(FormatError, match="whole cents"):
        money(value)


@pytest.mark.parametrize(("fmt", "value", "text"), [
    ("plain", F(5, 2), "2.5"), ("plain", F(1, 3), "1/3"), ("percent", F(15), "15%"),
    ("percent", F(25, 2), "12.5%"), ("frac", F(1, 2), "1/2"), ("frac", F(3), "3"),
    ("frac", F(6, 4), "3/2"), ("words", F(21), "twenty-one"), ("ordinal", F(3), "third"),
])
def test_number_format_table(fmt: str, value: Fraction, text: str) -> None:
    assert NUMBER_FORMATS[fmt](value) == text


@pytest.mark.parametrize("fmt", ["words", "ordinal"])
def test_word_formats_need_whole_numbers(fmt: str) -> None:
    with pytest.raises(FormatError, match="whole number"):
        NUMBER_FORMATS[fmt](F(5, 2))


def test_fraction_text() -> None:
    assert fraction_text(F(-3, 4)) == "-3/4"


def test_format_names() -> None:
    assert set(NUMBER_FORMATS) | set(TEXT_FORMATS) == FORMATS
    assert {"comma", "money", "percent", "frac", "words", "ordinal", "cap", "lower", "upper",
            "title"} <= FORMATS


@given(st.integers(-10**12, 10**12))
def test_commas_round_trip(n: int) -> None:
    text = with_commas(F(n))
    assert int(text.replace(",", "")) == n
    assert all(len(group) == 3 for group in text.lstrip("-").split(",")[1:])


@given(st.integers(-10**9, 10**9))
def test_money_of_cents_round_trip(cents: int) -> None:
    text = money(F(cents, 100))
    negative = text.startswith("-")
    assert text.lstrip("-").startswith("$")
    value = F(text.lstrip("-$").replace(",", ""))
    assert (-value if negative else value) == F(cents, 100)


# ---------------------------------------------------------------- rendering values


def test_labelled_choice_renders_its_label_and_computes_its_value() -> None:
    half = Labelled(F(1, 2), "half")
    assert half == F(1, 2) and half * 4 == 2
    assert render_value(half, ()) == "half"
    assert render_value(half, ("cap",)) == "Half"
    assert render_value(half, ("frac",)) == "1/2"
    assert render_value(half, ("percent",)) == "0.5%"
    assert render_value(half, ("plain",)) == "0.5"


def test_labelled_arithmetic_drops_the_label() -> None:
    result = Labelled(F(1, 4), "a quarter") * 100
    assert render_value(result, ()) == "25"


def test_render_numbers_text_and_records() -> None:
    janet = Entry("people", (("name", "Janet"), ("subj", "she")))
    assert render_value(F(80_000), ("comma",)) == "80,000"
    assert render_value(F(3), ("words", "cap")) == "Three"
    assert render_value(janet, ()) == "Janet"
    assert render_value(janet, ("upper",)) == "JANET"
    assert render_value("she", ("cap",)) == "She"
    assert render_value(Structure("1 2 +", "3"), ()) == "1 2 +"
    assert render_value(True, ()) == "yes"


def test_a_number_format_on_text_is_a_format_error() -> None:
    with pytest.raises(FormatError):
        render_value("Janet", ("money",))


def test_text_formats() -> None:
    assert [TEXT_FORMATS[f]("sacks of flour") for f in ("cap", "upper", "title", "lower")] == [
        "Sacks of flour", "SACKS OF FLOUR", "Sacks Of Flour", "sacks of flour"]


@pytest.mark.parametrize(("value", "raw"), [
    (F(3), False), (F(5, 2), False), (F(1, 4), False), (F(1, 3), True), (F(1, 8), True),
    (F(2, 3), True), (F(-1, 3), True),
])
def test_raw_float_detection(value: Fraction, raw: bool) -> None:
    assert looks_like_raw_float(value) is raw


# ---------------------------------------------------------------- templates


def test_placeholder_forms() -> None:
    parsed = parse_template("{who} has {n:comma} {thing@n}; {who.subj:cap} pays {price:money}.")
    assert not parsed.problems
    ph = parsed.placeholders
    assert [p.path for p in ph] == [("who",), ("n",), ("thing",), ("who", "subj"), ("price",)]
    assert ph[1].formats == ("comma",) and ph[2].count == "n" and ph[3].formats == ("cap",)
    assert [p.offset for p in ph] == [0, 10, 20, 31, 51]
    assert parsed.parts[1] == " has "


def test_doubled_braces_are_literal() -> None:
    parsed = parse_template("Put {{ and }} around {w}: {{{w}}}")
    assert not parsed.problems
    literal = [p for p in parsed.parts if isinstance(p, str)]
    assert literal == ["Put { and } around ", ": {", "}"]
    assert [p.offset for p in parsed.placeholders] == [21, 28]


def test_brace_runs_read_left_to_right_like_str_format() -> None:
    parsed = parse_template("{a}}}")
    assert not parsed.problems
    assert parsed.parts == (Placeholder(("a",), None, (), 0, "a"), "}")


@pytest.mark.parametrize(("text", "offset", "message"), [
    ("{n:roman}", 0, "unknown format 'roman'"),
    ("x {a-b}", 2, "bad placeholder"),
    ("x {}", 2, "bad placeholder"),
    ("{thing@} x", 0, "bad count"),
    ("{thing@1} x", 0, "bad count"),
    ("{a} and {", 8, "unbalanced brace"),
    ("{a} and }", 8, "unbalanced brace"),
])
def test_template_problems(text: str, offset: int, message: str) -> None:
    problems = parse_template(text).problems
    assert len(problems) == 1, problems
    assert problems[0][0] == offset and message in problems[0][1]


def test_unknown_format_suggests_the_closest() -> None:
    (_, message, help), = parse_template("{price:mony}").problems
    assert message == "unknown format 'mony' in {price:mony}"
    assert help == "did you mean `money`?"


def test_problem_messages_show_the_placeholder_as_written() -> None:
    (_, message, _), = parse_template("{{ {a-b} }}").problems
    assert "{a-b}" in message and "\x00" not in message and "\x01" not in message


@given(st.text(alphabet="ab {}:@.", max_size=30))
def test_parse_template_never_raises(text: str) -> None:
    parsed = parse_template(text)
    for part in parsed.parts:
        assert isinstance(part, str | Placeholder)
    for offset, _, _ in parsed.problems:
        assert 0 <= offset < len(text)


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=40))
def test_text_without_braces_is_one_literal(text: str) -> None:
    parsed = parse_template(text)
    assert parsed.parts == ((text,) if text else ()) and not parsed.problems


# ---------------------------------------------------------------- plural agreement (end to end)


def test_plural_agreement_follows_the_count(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tasklang.compiler import render_template

    apple = Entry("items", (("plural", "apples"), ("singular", "apple")))
    knife = Entry("items", (("plural", "knives"), ("singular", "knife")))
    parts = parse_template("{n} {thing@n}, {thing}, {thing.singular}").parts
    assert render_template(parts, {"n": F(1), "thing": apple}) == "1 apple, apples, apple"
    assert render_template(parts, {"n": F(0), "thing": apple}) == "0 apples, apples, apple"
    assert render_template(parts, {"n": F(3), "thing": knife}) == "3 knives, knives, knife"
    words = parse_template("{n:words} {thing@n:cap}").parts
    assert render_template(words, {"n": F(1), "thing": knife}) == "one Knife"


# ---------------------------------------------------------------- fixed decimals, other currencies


@pytest.mark.parametrize(("formats", "value", "text"), [
    (("fixed2",), F(3), "3.00"), (("fixed2",), F(5, 2), "2.50"), (("fixed1",), F(-1, 10), "-0.1"),
    (("fixed3",), F(1, 2), "0.500"), (("fixed2",), F(1234567, 100), "12345.67"),
    (("comma", "fixed2"), F(1234567, 100), "12,345.67"), (("fixed2", "comma"), F(-1000), "-1,000.00"),
    (("eur",), F(1234567, 100), "€12,345.67"), (("gbp",), F(5), "£5"), (("eur",), F(-11, 2), "-€5.50"),
    (("comma",), F(1234567, 100), "12,345.67"),  # separators without a currency: `comma`
    (("fixed2",), Labelled(F(1, 2), "half"), "0.50"),  # a number format shows the value
])
def test_fixed_and_currency_formats(formats: tuple[str, ...], value: Fraction, text: str) -> None:
    assert render_value(value, formats) == text


@pytest.mark.parametrize(("fmt", "value"), [("fixed2", F(1, 3)), ("fixed2", F(1, 1000)),
                                            ("fixed1", F(1, 4)), ("eur", F(1, 3)), ("gbp", F(1, 8))])
def test_fixed_and_currency_never_round(fmt: str, value: Fraction) -> None:
    with pytest.raises(FormatError, match="decimal places" if fmt.startswith("fixed") else "cents"):
        render_value(value, (fmt,))


def _decimal(value: Fraction, places: int) -> str:
    """The oracle: Python's own fixed-point formatting of the exact decimal."""
    from decimal import Decimal

    return format(Decimal(value.numerator) / Decimal(value.denominator), f".{places}f")


@given(st.integers(-10**12, 10**12), st.sampled_from([1, 2, 3]), st.integers(0, 3),
       st.booleans())
def test_fixed_agrees_with_python(n: int, places: int, shift: int, commas: bool) -> None:
    value = F(n, 10**min(shift, places))  # at most `places` decimals: never rejected
    formats = ("comma", f"fixed{places}") if commas else (f"fixed{places}",)
    want = _decimal(value, places)
    if commas:
        whole, _, rest = want.lstrip("-").partition(".")
        want = ("-" if want.startswith("-") else "") + f"{int(whole):,}.{rest}"
    assert render_value(value, formats) == want


@given(st.integers(-10**9, 10**9), st.sampled_from([("eur", "€"), ("gbp", "£")]))
def test_currencies_are_money_with_another_symbol(cents: int, fmt: tuple[str, str]) -> None:
    value = F(cents, 100)
    assert render_value(value, (fmt[0],)) == money(value).replace("$", fmt[1])


@given(st.one_of(st.integers(-10**9, 10**9), st.fractions(max_denominator=1000)),
       st.sampled_from(["fixed1", "fixed2", "fixed3", "eur", "gbp"]))
def test_new_formats_render_in_templates_as_render_value_renders(value: object, fmt: str) -> None:
    """The compiled template path (tasklang.compiler) and render_value agree, or both fail."""
    from tasklang.compiler import compile_template
    from tasklang.expr import EvalError

    try:
        want: str | None = render_value(value, (fmt,))
    except FormatError:
        want = None
    try:
        got: str | None = compile_template(parse_template(f"{{n:{fmt}}}").parts)({"n": value})
    except EvalError:
        got = None
    assert got == want
