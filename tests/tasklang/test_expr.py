"""expr: the restricted evaluator. Exact arithmetic, Python-like precedence and comparison
chains, a closed set of functions, and EvalError (never a Python exception) for bad values."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasklang import ast
from tasklang.expr import (
    FUNCTIONS,
    EvalError,
    Structure,
    compile_expr,
    constant,
    constant_number,
    free_names,
)
from tasklang.parser import parse_text
from tasklang.vocab import Entry

F = Fraction


def parse_expr(text: str) -> ast.Expr:
    module, diags = parse_text(f"pattern p {{ let x = {text} }}")
    assert module is not None, [d.headline() for d in diags]
    pattern = module.items[0]
    assert isinstance(pattern, ast.Pattern)
    sampler = pattern.lets[0].sampler
    assert isinstance(sampler, ast.Derived)
    return sampler.expr


def ev(text: str, **env: Any) -> Any:
    return compile_expr(parse_expr(text))(env)


# ---------------------------------------------------------------- arithmetic


@pytest.mark.parametrize(("text", "value"), [
    ("0.1 + 0.2", F(3, 10)),
    ("1 / 3 * 3", F(1)),
    ("2 / 4", F(1, 2)),
    ("7 // 2", F(3)),
    ("-7 // 2", F(-4)),
    ("7 % 3", F(1)),
    ("7.5 % 2", F(3, 2)),
    ("2 + 3 * 4", F(14)),
    ("(2 + 3) * 4", F(20)),
    ("10 - 4 - 3", F(3)),
    ("100 / 10 / 5", F(2)),
    ("2 ** 10", F(1024)),
    ("2 ** -1", F(1, 2)),
    ("2 ** 3 ** 2", F(512)),
    ("-2 ** 2", F(-4)),
    ("(-2) ** 2", F(4)),
    ("- - 3", F(3)),
    ("2 * -3", F(-6)),
    ("1.25 * 4", F(5)),
])
def test_exact_arithmetic(text: str, value: Fraction) -> None:
    got = ev(text)
    assert got == value
    assert isinstance(got, int | Fraction) and not isinstance(got, float | bool)


def test_decimal_literals_are_exact() -> None:
    assert ev("0.1 + 0.2 == 0.3") is True
    assert ev("0.1 * 3") == F(3, 10)


@pytest.mark.parametrize("text", ["1 / 0", "1 // 0", "1 % 0", "0 ** -1", "2 ** 65", "2 ** 0.5",
                                  "1 / (2 - 2)"])
def test_bad_arithmetic_is_an_eval_error(text: str) -> None:
    with pytest.raises(EvalError):
        ev(text)


def test_division_by_a_name_that_is_zero() -> None:
    with pytest.raises(EvalError, match="division by zero"):
        ev("a / b", a=F(1), b=F(0))


# ---------------------------------------------------------------- comparisons and logic


@pytest.mark.parametrize(("text", "value"), [
    ("1 < 2 < 3", True),
    ("1 < 3 < 2", False),
    ("3 > 2 == 2", True),
    ("1 <= 1 < 2 <= 2", True),
    ("2 != 2", False),
    ("1 == 1 != 2", True),
    ("1 < 2 and 2 < 3", True),
    ("1 > 2 or 2 < 3", True),
    ("not 1 == 2", True),
    ("not 1 < 2 or 1 < 2", True),
    ("1 < 2 and not 2 < 3", False),
    ('"a" == "a"', True),
    ('"a" != "b"', True),
])
def test_comparisons_and_logic(text: str, value: bool) -> None:
    assert ev(text) is value


def test_comparison_chains_evaluate_like_python() -> None:
    for a in range(3):
        for b in range(3):
            for c in range(3):
                assert ev("a < b <= c", a=F(a), b=F(b), c=F(c)) is (a < b <= c)
                assert ev("a == b != c", a=F(a), b=F(b), c=F(c)) is (a == b != c)


def test_ordering_text_is_an_eval_error() -> None:
    with pytest.raises(EvalError):
        ev('"a" < 1')


# ---------------------------------------------------------------- functions


@pytest.mark.parametrize(("text", "value"), [
    ("min(3, 1, 2)", F(1)),
    ("max(3, 1, 2)", F(3)),
    ("max(7)", F(7)),
    ("abs(-2.5)", F(5, 2)),
    ("floor(2.7)", F(2)),
    ("floor(-2.5)", F(-3)),
    ("ceil(2.1)", F(3)),
    ("ceil(-2.5)", F(-2)),
    ("round(2.4)", F(2)),
    ("round(2.5)", F(3)),  # halves away from zero, as the trace op (not Python's even)
    ("round(0.125, 2)", F(13, 100)),
    ("round(-2.5)", F(-3)),
    ("round(3.5)", F(4)),
    ("round(1.25, 1)", F(13, 10)),
    ("round(1234, -2)", F(1200)),
    ("round(1 / 3, 2)", F(33, 100)),
])
def test_functions(text: str, value: Fraction) -> None:
    assert ev(text) == value


def test_is_int() -> None:
    assert ev("is_int(6 / 3)") is True
    assert ev("is_int(7 / 2)") is False


def test_function_table() -> None:
    assert set(FUNCTIONS) == {"min", "max", "sum", "len", "abs", "floor", "ceil", "round", "is_int"}


@pytest.mark.parametrize("text", ['abs("a")', 'min(1, "a")', 'floor("x")'])
def test_functions_of_text_are_eval_errors(text: str) -> None:
    with pytest.raises(EvalError):
        ev(text)


# ---------------------------------------------------------------- names and fields


def test_names_and_fields() -> None:
    janet = Entry("people", (("name", "Janet"), ("subj", "she")))
    rpn = Structure("1 2 +", "3", (("value", F(3)), ("operators", 1)))
    assert ev("who.subj", who=janet) == "she"
    assert ev("e.value * 2", e=rpn) == 6
    assert ev("e.answer", e=rpn) == "3"
    assert ev("e.text", e=rpn) == "1 2 +"
    assert ev("e.operators + 1", e=rpn) == 2


@pytest.mark.parametrize(("text", "env"), [
    ("missing + 1", {}),
    ("who.age", {"who": Entry("people", (("name", "Janet"),))}),
    ("n.field", {"n": F(3)}),
    ('"a" + 1', {}),
    ("-who", {"who": Entry("people", (("name", "Janet"),))}),
])
def test_bad_values_are_eval_errors(text: str, env: dict[str, Any]) -> None:
    with pytest.raises(EvalError):
        ev(text, **env)


def test_free_names_in_source_order() -> None:
    names = free_names(parse_expr("a + min(b, c.d) * -e < f and not g"))
    assert [r.parts for r in names] == [("a",), ("b",), ("c", "d"), ("e",), ("f",), ("g",)]


# ---------------------------------------------------------------- property: parser + evaluator


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> tuple[str, Fraction | None]:
    """(fully parenthesised text, exact value or None when it divides by zero)."""
    if depth > 3 or draw(st.booleans()):
        n = draw(st.integers(0, 50))
        if draw(st.booleans()):
            tenths = draw(st.integers(0, 9))
            return f"{n}.{tenths}", F(n) + F(tenths, 10)
        return str(n), F(n)
    op = draw(st.sampled_from(["+", "-", "*", "/", "//", "%", "neg"]))
    left, lv = draw(expressions(depth + 1))
    if op == "neg":
        return f"-({left})", None if lv is None else -lv
    right, rv = draw(expressions(depth + 1))
    text = f"({left}) {op} ({right})"
    if lv is None or rv is None or (op in ("/", "//", "%") and rv == 0):
        return text, None
    value = {"+": lv + rv, "-": lv - rv, "*": lv * rv}.get(op)
    if value is None:
        value = lv / rv if op == "/" else F(lv // rv) if op == "//" else lv % rv
    return text, value


@given(expressions())
def test_evaluator_agrees_with_exact_fractions(case: tuple[str, Fraction | None]) -> None:
    text, value = case
    if value is None:
        with pytest.raises(EvalError):
            ev(text)
    else:
        assert ev(text) == value


@given(expressions())
def test_constant_folding_is_the_evaluator_on_constants(case: tuple[str, Fraction | None]) -> None:
    """The one constant folder (checks, compiler, audit, code answers): the evaluator's value
    of an expression without names, None where the evaluator fails."""
    text, value = case
    assert constant_number(parse_expr(text)) == value
    assert constant_number(parse_expr(f"({text}) + n")) is None  # a name: not a constant


def test_constant_folding_refuses_what_it_cannot_compute() -> None:
    assert constant(parse_expr("2 * 30")) == 60
    assert constant(parse_expr('"text"')) == "text"
    assert constant_number(parse_expr('"text"')) is None
    assert constant_number(parse_expr("1 < 2")) is None  # a truth value is no number
    assert constant_number(parse_expr("nosuch(3)")) is None  # unchecked: checks report it
    assert constant_number(parse_expr("abs(1, 2)")) is None  # wrong arity, unchecked
    assert constant(None) is None


@given(st.lists(st.integers(-5, 5), min_size=2, max_size=5),
       st.lists(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), min_size=4, max_size=4))
def test_chains_agree_with_python(values: list[int], ops: list[str]) -> None:
    text = str(values[0])
    expected = True
    for i, v in enumerate(values[1:]):
        op = ops[i]
        text += f" {op} {v}"
        a, b = values[i], v
        expected = expected and {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b,
                                 "==": a == b, "!=": a != b}[op]
    assert ev(text) is expected  # negative literals included: `-3 < -1`


# ---------------------------------------------------------------- conditional expressions


@pytest.mark.parametrize(("text", "env", "value"), [
    ("if b > 0 then a / b else 0", {"a": 6, "b": 3}, 2),
    ("if b > 0 then a / b else 0", {"a": 6, "b": 0}, 0),  # the untaken branch never runs
    ("if b == 0 then 0 else a / b", {"a": 6, "b": 0}, 0),
    ("if a > 1 then 10 else 20 + 1", {"a": 0}, 21),  # lowest precedence: else takes `20 + 1`
    ("if a > 5 then 1 else if a > 2 then 2 else 3", {"a": 3}, 2),  # else-if chains
    ("if a > 1 then if a > 5 then 1 else 2 else 3", {"a": 3}, 2),  # and nests in `then`
    ("(if a > 1 then 2 else 3) * 10", {"a": 9}, 20),
    ("if a then 1 else 2", {"a": 0}, 2),  # a number test is read as `and`/`or` read it
    ("if a > 1 and a < 5 then \"few\" else \"many\"", {"a": 3}, "few"),
])
def test_conditional_expressions(text: str, env: dict[str, Any], value: Any) -> None:
    assert ev(text, **env) == value


def test_a_conditional_binds_loosest() -> None:
    module, diags = parse_text("pattern p { let x = 1 + if a then 1 else 2 }")
    assert module is None and diags[0].code == "syntax"  # `1 + (if ...)` is how to write it
    e = parse_expr("if a then 1 else 2 or 3")
    assert isinstance(e, ast.Cond) and isinstance(e.orelse, ast.BoolOp)


def test_a_constant_test_folds_to_its_branch() -> None:
    e = parse_expr("if 2 > 1 then a else 1 / 0")
    assert compile_expr(e)({"a": 7}) == 7
    assert [r.parts for r in free_names(e)] == [("a",)]  # names of both branches count
    assert [r.parts for r in free_names(parse_expr("if c then a else b"))] == [("c",), ("a",), ("b",)]


@given(st.integers(-20, 20), st.integers(-20, 20), st.integers(-20, 20), st.integers(-20, 20),
       st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
def test_conditionals_agree_with_python(a: int, b: int, x: int, y: int, op: str) -> None:
    test = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]
    want = (F(x, y) if y else F(0)) if test else x - y
    got = ev(f"if a {op} b then (if y != 0 then x / y else 0) else x - y", a=a, b=b, x=x, y=y)
    assert got == want
