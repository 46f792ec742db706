"""Checks of the list and record constructs: list literals and filters (`[p for p in L if C]`),
`choice from L else F`, the list functions, record literals and record choices.

Called by the checker's scope (tasklang.checks) for these nodes; it reads and reports through
the scope, so names, uses and diagnostics stay in one place.
"""

from __future__ import annotations

from typing import Protocol

from . import ast
from .diagnostics import Diagnostic, Span, did_you_mean, error
from .valuetypes import Ty, VarInfo


class Scope(Protocol):
    """What these checks need of the checker's scope."""

    vars: dict[str, VarInfo]
    diags: list[Diagnostic]
    used: set[str]

    def infer(self, e: ast.Expr) -> Ty: ...


_NUMBERS = (Ty.NUMBER, Ty.UNKNOWN)
_CONDITIONS = (Ty.BOOL, Ty.NUMBER, Ty.UNKNOWN)


def _want(scope: Scope, e: ast.Expr, allowed: tuple[Ty, ...], message: str) -> Ty:
    """Infer `e`, reporting `message` (with `{ty}` the type found) unless it is allowed."""
    ty = scope.infer(e)
    if ty not in allowed:
        scope.diags.append(error("type-error", message.format(ty=ty), e.span))
        return Ty.UNKNOWN
    return ty


# ---------------------------------------------------------------- lists


def infer_list(scope: Scope, e: ast.ListExpr) -> Ty:
    for x in e.items:
        _want(scope, x, _NUMBERS, "a list holds numbers, got {ty}")
    return Ty.LIST


def infer_comprehension(scope: Scope, e: ast.Comprehension) -> Ty:
    """`[elem for v in L if C]`: L a list (or lo..hi numbers); v is bound in elem and C only,
    and must not hide a let (the condition would read the element where a let was meant)."""
    if e.hi is None:
        _want(scope, e.source, (Ty.LIST, Ty.UNKNOWN),
              f"for {e.var} in: needs a list or a range `lo..hi`, got {{ty}}")
    else:
        _want(scope, e.source, _NUMBERS, "a range bound needs a number, got {ty}")
        _want(scope, e.hi, _NUMBERS, "a range bound needs a number, got {ty}")
    hidden = scope.vars.get(e.var)
    if hidden is not None:
        scope.diags.append(error("shadowed-name", f"{e.var} is already a let (line "
                                 f"{hidden.span.line}): an element's name must be new", e.var_span,
                                 help=f"name the element differently, e.g. `for {e.var}_ in`"))
    was_used = e.var in scope.used
    scope.vars[e.var] = VarInfo(e.var, Ty.NUMBER, e.var_span)
    try:
        if e.cond is not None:
            _want(scope, e.cond, _CONDITIONS, "a filter needs a condition, got {ty}")
        _want(scope, e.element, _NUMBERS, "a list holds numbers, got {ty}")
    finally:
        if hidden is None:
            del scope.vars[e.var]
        else:
            scope.vars[e.var] = hidden
        if not was_used:
            scope.used.discard(e.var)
    return Ty.LIST


def infer_list_call(scope: Scope, e: ast.Call) -> Ty:
    """`sum(L)`, `len(L)` of a list; `min`/`max` of one list or of numbers."""
    if e.fn in ("sum", "len"):
        if len(e.args) != 1:
            for a in e.args:
                scope.infer(a)
            scope.diags.append(error("bad-arity", f"{e.fn}() takes one list, got "
                                     f"{len(e.args)} arguments", e.span))
            return Ty.UNKNOWN
        _want(scope, e.args[0], (Ty.LIST, Ty.UNKNOWN), f"{e.fn}() needs a list, got {{ty}}")
        return Ty.NUMBER
    if len(e.args) == 1 and scope.infer(e.args[0]) in (Ty.LIST, Ty.NUMBER, Ty.UNKNOWN):
        return Ty.NUMBER  # min(L), or min(x): x itself
    if not e.args:
        scope.diags.append(error("bad-arity", f"{e.fn}() takes 1..99 arguments, got 0", e.span))
    ok = True
    for a in e.args if len(e.args) > 1 else ():
        ok &= _want(scope, a, _NUMBERS, f"{e.fn}() takes numbers or one list, got {{ty}}") \
            is not Ty.UNKNOWN
    if len(e.args) == 1:  # one argument of another type (the test above inferred it)
        scope.diags.append(error("type-error", f"{e.fn}() takes numbers or one list",
                                 e.args[0].span))
        ok = False
    return Ty.NUMBER if ok else Ty.UNKNOWN


def choice_from_info(let: ast.Let, s: ast.ChoiceFrom, scope: Scope) -> VarInfo:
    _want(scope, s.values, (Ty.LIST, Ty.UNKNOWN), "choice from needs a list (`[a, b]`, "
          "`[p for p in L if C]`), got {ty}")
    if s.fallback is not None:
        _want(scope, s.fallback, _NUMBERS, "the fallback of a choice from a list is a number, "
              "got {ty}")
    elif isinstance(s.values, ast.ListExpr) and not s.values.items:
        scope.diags.append(error("empty-choice", "choice from an empty list: every sample is "
                                 "rejected", s.values.span, help="list values, or add a "
                                 "fallback: `choice from L else 20`"))
    return VarInfo(let.name, Ty.NUMBER, let.span)


def check_shown(ty: Ty, raw: str, name: str, span: Span, diags: list[Diagnostic]) -> None:
    """A template placeholder of a list: a question shows numbers and text, not lists."""
    if ty is Ty.LIST:
        diags.append(error("type-error", f"{{{raw}}}: {name} is a list: a template shows one "
                           "value", span, help=f"show a let computed from it, e.g. `let top = "
                           f"max({name})` and {{top}}"))


# ---------------------------------------------------------------- records


def _record_fields(scope: Scope, e: ast.RecordExpr) -> tuple[tuple[str, ...], frozenset[str]]:
    """Check a record literal: (its field names in order, those that are numbers)."""
    if not e.fields:
        scope.diags.append(error("bad-record", "a record needs at least one field", e.span,
                                 help='e.g. `{name: "pen", price: 3}`'))
    names: list[str] = []
    numbers = set()
    for f in e.fields:
        ty = _want(scope, f.value, (Ty.NUMBER, Ty.STRING, Ty.UNKNOWN),
                   f"field {f.name}: a record field is a number or text, got {{ty}}")
        if f.name in names:
            scope.diags.append(error("duplicate-name", f"field {f.name} is written twice",
                                     f.span))
            continue
        names.append(f.name)
        if ty is Ty.NUMBER:
            numbers.add(f.name)
    return tuple(names), frozenset(numbers)


def infer_record(scope: Scope, e: ast.RecordExpr) -> Ty:
    _record_fields(scope, e)
    return Ty.RECORD


def record_let_info(let: ast.Let, e: ast.RecordExpr, scope: Scope) -> VarInfo:
    """`let item = {name: "pen", price: 3}`: a record with typed fields."""
    names, numbers = _record_fields(scope, e)
    return VarInfo(let.name, Ty.RECORD, let.span, fields=names, numbers=numbers)


def record_choice_info(let: ast.Let, s: ast.Choice, scope: Scope) -> VarInfo:
    """`choice {name: "pen", price: 3}, {name: "book", price: 12}`: every value a record of
    the first one's fields, each field of one kind (number or text) in all of them."""
    shapes: list[tuple[ast.ChoiceItem, tuple[str, ...], frozenset[str]]] = []
    for item in s.items:
        if not isinstance(item.value, ast.RecordExpr):
            scope.infer(item.value)
            scope.diags.append(error("type-error", "choice mixes records and other values",
                                     item.span))
            continue
        if item.label is not None:
            scope.diags.append(error("type-error", "a labelled choice needs a number value "
                                     "(a record is shown by its first field)", item.span))
        shapes.append((item, *_record_fields(scope, item.value)))
    if not shapes:
        return VarInfo(let.name, Ty.UNKNOWN, let.span)
    _, names, numbers = shapes[0]
    for item, other, other_numbers in shapes[1:]:
        _compare_records(item, names, numbers, other, other_numbers, scope.diags)
    return VarInfo(let.name, Ty.RECORD, let.span, fields=names, numbers=numbers)


def _compare_records(item: ast.ChoiceItem, names: tuple[str, ...], numbers: frozenset[str],
                     other: tuple[str, ...], other_numbers: frozenset[str],
                     diags: list[Diagnostic]) -> None:
    assert isinstance(item.value, ast.RecordExpr)
    spans = {f.name: f.span for f in item.value.fields}
    extra = [n for n in other if n not in names]
    for name in extra:
        diags.append(error("record-mismatch", f"field {name} is not a field of the first "
                           "record", spans[name], f"the first record's fields: {', '.join(names)}",
                           help=did_you_mean(name, [n for n in names if n not in other])))
    missing = [n for n in names if n not in other]
    if missing and not extra:
        diags.append(error("record-mismatch", f"this record lacks field "
                           f"{', '.join(missing)}", item.span,
                           "every record of a choice has the first record's fields"))
    for name in other:
        if name in names and (name in numbers) != (name in other_numbers):
            kind = "a number" if name in numbers else "text"
            diags.append(error("type-error", f"field {name} is {kind} in the first record",
                               spans[name]))
