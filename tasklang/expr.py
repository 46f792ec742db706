"""The restricted expression evaluator of `.task` files: AST -> closures, exact numbers, no `eval`."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from runtime.ops import round_half_up

from . import ast
from .diagnostics import Span
from .limits import DEFAULT_LIMITS, LimitError, Limits, digits_at_least, too_many_digits
from .vocab import Entry, Record, number_text


class EvalError(Exception):
    """A value could not be computed for this sample (division by zero, bad field...).

    The sampler treats it as a rejected sample and counts it, like a failed `require`.
    """


@dataclass(frozen=True, slots=True)
class Structure:
    """What a `generate` sampler makes: question text, exact answer text, and fields."""

    text: str
    answer: str
    fields: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str) -> Any:
        if name == "text":
            return self.text
        if name == "answer":
            return self.answer
        for key, value in self.fields:
            if key == name:
                return value
        return None

    def __str__(self) -> str:
        return self.text


Env = Mapping[str, Any]
Fn = Callable[[Env], Any]


Number = int | Fraction  # whole values stay ints while sampling: exact and much faster


def _num(x: Any) -> Number:
    t = type(x)
    if t is int or isinstance(x, Fraction):
        return x  # type: ignore[no-any-return]
    raise EvalError(f"expected a number, got {x!r}")


def norm(x: Number) -> Number:
    """Whole Fractions become ints (labelled values keep their label)."""
    if type(x) is Fraction and x.denominator == 1:
        return x.numerator
    return x


def _round(x: Number, digits: Number = 0) -> Number:
    # halves away from zero, as the trace op `round` (one implementation: runtime.ops)
    return norm(round_half_up(Fraction(x), int(digits)))


# A list holds at most this many values: `[n for n in 1..10**9]` is refused per sample
# (EvalError), not built.
LIST_MAX = 10_000


def _over(args: tuple[Any, ...], fn: str) -> tuple[Any, ...]:
    """The values `min`/`max` take: their arguments, or the one list given."""
    if len(args) == 1 and type(args[0]) is tuple:
        if not args[0]:
            raise EvalError(f"{fn}() of an empty list")
        return args[0]  # type: ignore[no-any-return]
    return args


def _a_list(value: Any, fn: str) -> tuple[Any, ...]:
    if type(value) is not tuple:
        raise EvalError(f"{fn}() needs a list, got {value!r}")
    return value  # type: ignore[no-any-return]


FUNCTIONS: dict[str, tuple[int, int, Callable[..., Any]]] = {
    # name: (min args, max args, implementation over exact values)
    "min": (1, 99, lambda *a: min(_num(x) for x in _over(a, "min"))),
    "max": (1, 99, lambda *a: max(_num(x) for x in _over(a, "max"))),
    "sum": (1, 1, lambda a: norm(sum((_num(x) for x in _a_list(a, "sum")), start=0))),
    "len": (1, 1, lambda a: len(_a_list(a, "len"))),
    "abs": (1, 1, lambda a: abs(_num(a))),
    "floor": (1, 1, lambda a: math.floor(_num(a))),
    "ceil": (1, 1, lambda a: math.ceil(_num(a))),
    "round": (1, 2, lambda a, d=0: _round(_num(a), _num(d))),
    "is_int": (1, 1, lambda a: type(a) is int or _num(a).denominator == 1),
}


def _binop(op: str, a: Any, b: Any) -> Any:
    x, y = _num(a), _num(b)
    if op == "+":
        return norm(x + y)
    if op == "-":
        return norm(x - y)
    if op == "*":
        return norm(x * y)
    if y == 0 and op in ("/", "//", "%"):
        raise EvalError("division by zero")
    if op == "/":
        return norm(Fraction(x) / y)
    if op == "//":
        return int(x // y)
    if op == "%":
        return norm(x % y)
    if op == "**":
        if y.denominator != 1 or abs(y) > 64 or (x == 0 and y < 0):  # type: ignore[operator]
            raise EvalError("** needs a small integer exponent")
        return norm(Fraction(x) ** int(y))
    raise EvalError(f"unknown operator {op}")


_RING: dict[str, Callable[[Any, Any], Any]] = {"+": operator.add, "-": operator.sub, "*": operator.mul}

def _ordering(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if type(a) is int and type(b) is int:
            return test(a, b)
        return test(_num(a), _num(b))

    return compare


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne,
    "<": _ordering(operator.lt), "<=": _ordering(operator.le),
    ">": _ordering(operator.gt), ">=": _ordering(operator.ge),
}


# The functions whose argument may be a list (the others take numbers only).
LIST_FUNCTIONS = frozenset({"min", "max", "sum", "len"})


def field_of(value: Any, name: str) -> Any:
    if isinstance(value, Entry | Structure):
        got = value.get(name)
        if got is None:
            raise EvalError(f"no field {name!r}")
        return got
    raise EvalError(f"{value!r} has no fields")


def compile_expr(e: ast.Expr) -> Fn:
    """A closure computing `e` over a payload environment. Names are resolved at call time."""
    if isinstance(e, ast.Num | ast.Str):
        const = norm(e.value) if isinstance(e, ast.Num) else e.value
        return lambda env: const
    if isinstance(e, ast.Ref):
        return _compile_ref(e)
    if isinstance(e, ast.BinOp):
        left, right, op = compile_expr(e.left), compile_expr(e.right), e.op
        if op == "*":  # `*`, `/` and `**` are what can make a value huge: each is bounded
            return _times(left, right, e.span)
        if op in _RING:
            return _ring(_RING[op], left, right)
        if op == "/":
            return _divide(left, right, e.span)
        if op == "**":
            return _power(left, right, e.span)
        return lambda env: _binop(op, left(env), right(env))
    if isinstance(e, ast.Neg):
        inner = compile_expr(e.operand)
        return lambda env: norm(-_num(inner(env)))
    if isinstance(e, ast.Not):
        inner = compile_expr(e.operand)
        return lambda env: not inner(env)
    if isinstance(e, ast.BoolOp):
        parts = [compile_expr(x) for x in e.operands]
        want = e.op == "or"  # the value that decides: the first true `or`, the first false `and`

        def boolop(env: Env) -> bool:
            for part in parts:
                if bool(part(env)) is want:
                    return want
            return not want

        return boolop
    if isinstance(e, ast.Compare):
        return _compile_compare(e)
    if isinstance(e, ast.Cond):
        return _compile_cond(e)
    if isinstance(e, ast.ListExpr):
        items = [compile_expr(x) for x in e.items]
        return lambda env: tuple([_num(item(env)) for item in items])
    if isinstance(e, ast.Comprehension):
        return _compile_comprehension(e)
    if isinstance(e, ast.RecordExpr):
        return _compile_record(e)
    if isinstance(e, ast.Call):
        fn = FUNCTIONS[e.fn][2]  # checks guarantee the name and the arity
        args = [compile_expr(a) for a in e.args]
        if e.fn == "round" and len(args) == 2:
            return _round_checked(args[0], args[1], e.args[1].span)
        if len(args) == 1:
            only = args[0]
            return lambda env: fn(only(env))
        return lambda env: fn(*[a(env) for a in args])
    raise TypeError(f"not an expression: {e!r}")


# The limits closures check against, set by whoever compiles (a dataset's limits).
_LIMITS: ContextVar[Limits] = ContextVar("limits", default=DEFAULT_LIMITS)


def current_limits() -> Limits:
    return _LIMITS.get()


@contextmanager
def using_limits(limits: Limits) -> Iterator[None]:
    """Expressions compiled inside check values against `limits` (else the defaults)."""
    token = _LIMITS.set(limits)
    try:
        yield
    finally:
        _LIMITS.reset(token)


def _too_long(max_digits: int, span: Span) -> LimitError:
    return LimitError("max_digits", f"a value of more than {max_digits} digits", span)


def _times(left: Fn, right: Fn, span: Span) -> Fn:
    """`*` (as _ring), refusing a result of more than the digit limit: LimitError, not a
    rejection. Inline, not a wrapper: this runs for every product of every sample."""
    max_digits = _LIMITS.get().max_digits
    bound = 10**max_digits

    def times(env: Env) -> Any:
        x, y = left(env), right(env)
        value: Number
        if type(x) is int and type(y) is int:
            value = x * y
            if -bound < value < bound:
                return value
        else:
            value = norm(_num(x) * _num(y))
            if not too_many_digits(value, max_digits):
                return value
        raise _too_long(max_digits, span)

    return times


def _power(left: Fn, right: Fn, span: Span) -> Fn:
    """`**`, refusing before computing when the result would pass the digit limit: a base
    of d digits to the n has at least n*(d-1)+1 digits."""
    max_digits = _LIMITS.get().max_digits

    def power(env: Env) -> Any:
        x, y = _num(left(env)), _num(right(env))
        if y.denominator == 1 and x != 0:
            n = abs(int(y))
            if n > 64:  # the rule of _binop, tested before the size so it says the same
                raise EvalError("** needs a small integer exponent")
            big = x.numerator if abs(x.numerator) >= x.denominator else x.denominator
            if n * (digits_at_least(big) - 1) + 1 > max_digits:
                raise _too_long(max_digits, span)
        value = _binop("**", x, y)
        if too_many_digits(value, max_digits):
            raise _too_long(max_digits, span)
        return value

    return power


def _round_checked(value: Fn, places: Fn, span: Span) -> Fn:
    """`round(x, places)` with |places| within the limit: 10**places is what it computes."""
    max_places = _LIMITS.get().max_places

    def round_(env: Env) -> Any:
        x, d = _num(value(env)), _num(places(env))
        if abs(Fraction(d)) > max_places:
            raise LimitError("max_places", f"round to {d} places (limit {max_places})", span)
        return _round(x, d)

    return round_


def _ring(fn: Callable[[Any, Any], Any], left: Fn, right: Fn) -> Fn:
    """`+ - *`: what _binop does, without its dispatch, and with ints kept to int arithmetic."""
    def ring(env: Env) -> Any:
        x, y = left(env), right(env)
        if type(x) is int and type(y) is int:
            return fn(x, y)
        return norm(fn(_num(x), _num(y)))

    return ring


def _divide(left: Fn, right: Fn, span: Span) -> Fn:
    """`/`: an int when two ints divide exactly, else the exact Fraction (as _binop);
    refusing, like `*`, a result past the digit limit."""
    max_digits = _LIMITS.get().max_digits

    def divide(env: Env) -> Any:
        x, y = left(env), right(env)
        if type(x) is int and type(y) is int and y:
            q, r = divmod(x, y)
            if not r:
                return q  # no longer than x, which was within the limit
            return Fraction(x, y)  # in lowest terms: no longer than x and y, both within it
        else:
            value = _binop("/", x, y)
        if too_many_digits(value, max_digits):
            raise _too_long(max_digits, span)
        return value

    return divide


def _compile_ref(e: ast.Ref) -> Fn:
    name, fields = e.parts[0], e.parts[1:]
    if not fields:
        def plain_ref(env: Env) -> Any:
            try:
                return env[name]
            except KeyError:
                raise EvalError(f"{name} has no value yet") from None

        return plain_ref

    def ref(env: Env) -> Any:
        try:
            value = env[name]
        except KeyError:
            raise EvalError(f"{name} has no value yet") from None
        for f in fields:
            value = field_of(value, f)
        return value

    return ref


def _compile_compare(e: ast.Compare) -> Fn:
    first = compile_expr(e.first)
    rest = [(_COMPARE[op], compile_expr(x)) for op, x in e.rest]
    if len(rest) == 1:  # `a < b`, the common case
        only_test, second = rest[0]
        return lambda env: only_test(first(env), second(env))

    def compare(env: Env) -> bool:
        left = first(env)
        for test, fn in rest:
            right = fn(env)
            if not test(left, right):
                return False
            left = right
        return True

    return compare


def _compile_cond(e: ast.Cond) -> Fn:
    """`if c then a else b`: the test is read as `and`/`or`/`not` read theirs (truthiness),
    and only the taken branch runs, so `if b > 0 then a / b else 0` never divides by zero."""
    test, then, orelse = compile_expr(e.test), compile_expr(e.then), compile_expr(e.orelse)
    folded = _folded(e.test, test)
    if folded is not None:  # a constant test: the other branch is dead code
        return then if folded else orelse

    def cond(env: Env) -> Any:
        return then(env) if test(env) else orelse(env)

    return cond


def _compile_comprehension(e: ast.Comprehension) -> Fn:
    """`[elem for v in source if cond]`: the source's values (or the whole numbers lo..hi),
    each bound to `v` in a copy of the environment, kept when cond holds, mapped by elem."""
    var, source = e.var, compile_expr(e.source)
    hi = compile_expr(e.hi) if e.hi is not None else None
    element = compile_expr(e.element)
    cond = compile_expr(e.cond) if e.cond is not None else None

    def values(env: Env) -> Iterator[Any]:
        if hi is None:
            got = source(env)
            if type(got) is not tuple:
                raise EvalError(f"for {var} in: {got!r} is not a list")
            yield from got
            return
        lo, top = _num(source(env)), _num(hi(env))
        if lo.denominator != 1 or top.denominator != 1:
            raise EvalError(f"for {var} in {lo}..{top}: range bounds must be whole")
        if top - lo + 1 > LIST_MAX:
            raise EvalError(f"for {var} in {lo}..{top}: more than {LIST_MAX} values")
        yield from range(int(lo), int(top) + 1)

    def comprehension(env: Env) -> tuple[Any, ...]:
        inner = dict(env)  # one copy per evaluation: the lets' values, and `var`
        kept = []
        for value in values(env):
            inner[var] = value
            if cond is None or cond(inner):
                kept.append(_num(element(inner)))
                if len(kept) > LIST_MAX:
                    raise EvalError(f"a list of more than {LIST_MAX} values")
        return tuple(kept)

    return comprehension


def _compile_record(e: ast.RecordExpr) -> Fn:
    """`{name: "pen", price: 3}` -> a Record: text fields as text, number fields exact."""
    fields = [(f.name, compile_expr(f.value)) for f in e.fields]

    def record(env: Env) -> Record:
        texts, numbers = [], []
        for name, fn in fields:
            value = fn(env)
            if type(value) is str:
                texts.append((name, value))
                continue
            value = _num(value)
            if type(value) is not int:  # a labelled number: its value, not its label
                value = norm(Fraction(value.numerator, value.denominator))
            texts.append((name, number_text(value)))
            numbers.append((name, value))
        return Record("", tuple(texts), tuple(numbers))

    return record


def _folded(e: ast.Expr, fn: Fn) -> bool | None:
    """The truth of a constant test, or None (names, or a value that cannot be computed)."""
    value = constant(e, fn)
    return None if value is None else bool(value)


def constant(e: ast.Expr | None, fn: Fn | None = None) -> Any:
    """The value of an expression without names (`60`, `-3`, `2 * 30`), or None: it has
    names, or its value cannot be computed (a division by zero, a limit, an unknown function
    or arity: checks report those). The one constant folder of checks, compiler and audit;
    `fn` is `e` already compiled."""
    if e is None or free_names(e):
        return None
    try:
        return (fn or compile_expr(e))({})
    except (EvalError, LimitError, KeyError, TypeError):  # KeyError, TypeError: unchecked calls
        return None


def constant_number(e: ast.Expr | None) -> Fraction | None:
    """`constant(e)` when it is a number (not a truth value or a text), as a Fraction."""
    value = constant(e)
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        return None
    return Fraction(value)


def free_names(e: ast.Expr) -> list[ast.Ref]:
    """Every reference in `e`, in source order (for undefined-name and use checks)."""
    if isinstance(e, ast.Ref):
        return [e]
    if isinstance(e, ast.BinOp):
        return free_names(e.left) + free_names(e.right)
    if isinstance(e, ast.Neg | ast.Not):
        return free_names(e.operand)
    if isinstance(e, ast.BoolOp):
        return [r for x in e.operands for r in free_names(x)]
    if isinstance(e, ast.Compare):
        return free_names(e.first) + [r for _, x in e.rest for r in free_names(x)]
    if isinstance(e, ast.Call):
        return [r for a in e.args for r in free_names(a)]
    if isinstance(e, ast.Cond):
        return free_names(e.test) + free_names(e.then) + free_names(e.orelse)
    if isinstance(e, ast.ListExpr):
        return [r for x in e.items for r in free_names(x)]
    if isinstance(e, ast.RecordExpr):
        return [r for f in e.fields for r in free_names(f.value)]
    if isinstance(e, ast.Comprehension):  # the bound name is no reference to a let
        inner = [r for x in (e.element, e.cond) if x is not None for r in free_names(x)]
        return (free_names(e.source) + (free_names(e.hi) if e.hi is not None else [])
                + [r for r in inner if r.name != e.var])
    return []
