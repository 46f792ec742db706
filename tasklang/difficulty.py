"""A pattern's stated difficulty: `difficulty 2`, `difficulty 1..3`, or in a family an
expression of the family's variable (`pattern f for n in 2, 3, 4 { difficulty n - 1 ... }`).

One home for what the statement means: its checks (checks.py reports them) and its value,
the range [lo, hi] that build writes into every record of the pattern and into the manifest,
and that the training curriculum (train/curriculum.py) reads as the pattern's level.
"""

from __future__ import annotations

from fractions import Fraction

from . import ast
from .diagnostics import Diagnostic, error
from .expr import EvalError, compile_expr, free_names, norm

MAX_DIFFICULTY = 1000  # a level, not a count: anything larger is almost surely a typo


def _family_env(p: ast.Pattern) -> dict[str, object]:
    """The names a difficulty may read: on a family instance, its variable (the first let)."""
    if p.family is None or p.family_name is None or not p.lets:
        return {}
    first = p.lets[0]
    if not isinstance(first.sampler, ast.Choice) or len(first.sampler.items) != 1:
        return {}
    try:
        return {first.name: compile_expr(first.sampler.items[0].value)({})}
    except EvalError:
        return {}


def _value(e: ast.Expr, env: dict[str, object], p: ast.Pattern) -> Fraction | Diagnostic:
    for ref in free_names(e):
        if ref.name not in env:
            allowed = (f"a number, or an expression of the family's variable {p.family.var}"
                       if p.family is not None else "a number")
            return error("bad-difficulty", f"difficulty of {p.name} reads {ref.name}", ref.span,
                         f"a difficulty is {allowed}: it is one per pattern, not per example")
    try:
        value = compile_expr(e)(dict(env))
    except (EvalError, KeyError, TypeError) as err:
        return error("bad-difficulty", f"difficulty of {p.name} cannot be computed: {err}", e.span)
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        return error("bad-difficulty", f"difficulty of {p.name} is not a number", e.span)
    if not 0 <= value <= MAX_DIFFICULTY:
        return error("bad-difficulty", f"difficulty of {p.name} is {norm(Fraction(value))}",
                     e.span, f"a difficulty is a level from 0 to {MAX_DIFFICULTY}")
    return Fraction(value)


def difficulty_of(p: ast.Pattern) -> tuple[Fraction, Fraction] | list[Diagnostic] | None:
    """The pattern's difficulty range, its diagnostics, or None when it states none."""
    stmts = p.difficulties
    if not stmts:
        return None
    diags = [error("duplicate-difficulty", f"pattern {p.name} states its difficulty twice",
                   extra.span, f"first stated at line {stmts[0].span.line}")
             for extra in stmts[1:]]
    stmt = stmts[0]
    env = _family_env(p)
    lo = _value(stmt.lo, env, p)
    hi = lo if stmt.hi is None else _value(stmt.hi, env, p)
    diags += [d for d in (lo, hi) if isinstance(d, Diagnostic)]
    if diags:
        return list(dict.fromkeys(diags))  # `difficulty x` reads x once, reports it once
    assert isinstance(lo, Fraction) and isinstance(hi, Fraction)
    if lo > hi:
        return [error("bad-difficulty", f"difficulty range {norm(lo)}..{norm(hi)} of {p.name} "
                      "is empty", stmt.span, f"write {norm(hi)}..{norm(lo)}")]
    return lo, hi


def check_difficulty(p: ast.Pattern) -> list[Diagnostic]:
    found = difficulty_of(p)
    return found if isinstance(found, list) else []


def difficulty_json(p: ast.Pattern) -> tuple[int | float, int | float] | None:
    """The range as written into records and the manifest: [lo, hi], whole numbers as ints
    (None: no difficulty, or one the checks refuse)."""
    found = difficulty_of(p)
    if found is None or isinstance(found, list):
        return None
    lo, hi = found
    return _number(lo), _number(hi)


def _number(x: Fraction) -> int | float:
    return x.numerator if x.denominator == 1 else float(x)
