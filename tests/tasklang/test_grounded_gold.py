"""The compiler's guarantee: every gold trace it writes is grounded in its own question.

(That every shipped pattern's gold grades 1.0 with its question is
tests/tasklang/test_library.py::test_gold_traces_grade_correct.)"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.grounding import Grounding
from tasklang import api
from tasklang.compiler import GROUNDED_FORMATS, statically_grounded
from tasklang.formats import FormatError, parse_template, render_value

from .helpers import write

# The template shows `part`, so the static check (init-not-in-question) passes, but the
# question says "a few": the value 3 is stated nowhere. Only the rendered text can tell.
UNSTATED = """
    pattern hidden_price {
        let part = choice "a few" = 3
        let price = int 13..19
        template "Ann buys {part} pens at ${price} each. How much does she pay?"
        trace arithmetic {
            init part
            init price
            result = mul(part, price)
            query result
        }
    }
    dataset d {
        patterns hidden_price
        split train 5
        seed 1
    }
"""


def test_a_gold_init_the_question_never_states_stops_the_build(tmp_path: Path) -> None:
    src = write(tmp_path, UNSTATED)
    checked, items = api.preview([str(src)], "hidden_price", 2)
    assert checked.ok
    assert all(i.example is None for i in items)
    assert all("ungrounded_init" in (i.rejected or "") and "hidden_price/0" in (i.rejected or "")
               for i in items), [i.rejected for i in items]
    checked, results = api.compile_paths([str(src)], tmp_path / "out")
    errors = [d for r in results for d in r.diagnostics if d.severity == "error"]
    assert errors and errors[0].code == "unsatisfiable", [str(d) for d in errors]
    assert "ungrounded_init" in str(errors[0]) and "hidden_price" in str(errors[0])


def test_a_stated_number_word_or_unit_grounds_the_gold(tmp_path: Path) -> None:
    text = UNSTATED.replace('"a few" = 3', '"three" = 3')
    checked, items = api.preview([str(write(tmp_path, text))], "hidden_price", 5)
    assert checked.ok and all(i.example is not None for i in items), [i.rejected for i in items]


# ---------------------------------------------------------------- the static proof

FORMAT_SETS = [(), *((f,) for f in sorted(GROUNDED_FORMATS)), ("comma", "fixed2"),
               ("fixed1", "comma"), ("money", "upper")]
SAFE_BEFORE = st.sampled_from(["", "costs ", "($", "at ", "is -", "x ", "a\n", "total: ",
                               "each ", "(", "€"])
SAFE_AFTER = st.sampled_from(["", " apples", ".", ". Then 7 more.", ",", ", and 5", "%",
                              ")", " percent", "-", ",000", ",000 dollars", "x"])
VALUES = st.one_of(
    st.integers(-10**9, 10**9),
    st.builds(lambda n, p: Fraction(n, 10**p), st.integers(-10**7, 10**7), st.integers(1, 3)),
    st.builds(Fraction, st.integers(-99, 99), st.integers(1, 12)),
)


@settings(max_examples=400, deadline=None)
@given(VALUES, st.sampled_from(FORMAT_SETS), SAFE_BEFORE, SAFE_AFTER)
def test_a_statically_grounded_placeholder_states_its_value(
        value: Fraction | int, formats: tuple[str, ...], before: str, after: str) -> None:
    """The compiler skips the per-example grounding check for a let that the template renders
    with GROUNDED_FORMATS, untouched by digits: this is the rule that makes that sound."""
    body = ":".join(("x", *formats))
    parts = parse_template(f"{before}{{{body}}}{after}").parts
    if not statically_grounded(parts, ["x"])[0]:
        return  # e.g. "(" ... ",000": not claimed
    try:
        text = before + render_value(value, formats) + after
    except FormatError:
        return  # no rendering: the sample is rejected anyway
    assert Grounding.of(text).grounds(value), (text, value)


def test_touching_numbers_are_not_claimed() -> None:
    for template, names, expected in [
        ("{a}{b} apples", ["a", "b"], (False, False)),
        ("{a}0 pens", ["a"], (False,)),
        ("1.{a} kg", ["a"], (False,)),
        ("{a},5 or {a} pens", ["a"], (True,)),  # one clean occurrence states it
        ("{a:words} pens", ["a"], (False,)),
        ("{who.age} years", ["who.age"], (False,)),
        ("{n} of {a}/4", ["n", "a"], (True, False)),
        ("{a}/4", ["a"], (False,)),
    ]:
        assert statically_grounded(parse_template(template).parts, names) == expected, template
