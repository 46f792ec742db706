"""Semantic checks: names, types, trace schemas, splits and lints. Returns every diagnostic.

Each check is a lesson from the research notes; the code names say which
(`init-only-query`, `split-leak`, `few-template-repeats` ...). Checks that need
samples (satisfiability, domain size, token budget, raw floats) run in the
compiler, which reports them with the same Diagnostic type.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from runtime.analysis import DEAD_STEP, check_static
from runtime.errors import ErrorKind
from runtime.experts import COMPOSITION, Expert, ExpertTable
from runtime.ops import COMPUTE_OPS, PREV_RESULT, STEP_TYPES, Step
from runtime.trace import Trace

from . import ast, constructs, lints
from .code_checks import check_code
from .diagnostics import Diagnostic, Span, did_you_mean, error, source_lines, warning
from .difficulty import check_difficulty
from .expr import FUNCTIONS, LIST_FUNCTIONS, constant_number
from .formats import NUMBER_FORMATS, parse_template
from .generators import GENERATORS
from .limits import (
    BY_SETTING,
    DEFAULT_LIMITS,
    LIMITS,
    Limits,
    check_setting,
    exceeded,
    limits_of,
    too_many_digits,
)
from .program import Program, expert_from_decl
from .settings import SETTINGS, min_template_repeats, setting
from .valuetypes import Ty, VarInfo


@dataclass
class PatternInfo:
    """What dataset-level lints need to know about a checked pattern."""

    name: str
    experts: tuple[str, ...]
    query_targets: tuple[str, ...]
    step_counts: tuple[int, ...]
    templates: tuple[ast.Template, ...]
    vars: dict[str, VarInfo] = field(default_factory=dict)
    ok: bool = True


RESERVED_NAMES = frozenset({"answer", "prev"})
_TEMPLATED_SEGMENT = re.compile(r"\{([^{}]*)\}")


# ---------------------------------------------------------------- expressions


class _Undefined:
    """One error per undefined name per pattern: its other uses become a note on the first
    (a misspelt let used five times is one mistake, not five)."""

    def __init__(self) -> None:
        self.first: dict[str, int] = {}  # name -> index of its error in the diagnostics
        self.notes: dict[str, tuple[str, ...]] = {}  # name -> the first error's own notes
        self.others: dict[str, list[Span]] = {}


# Functions of other languages, with what this one offers instead.
_FOREIGN_FUNCTIONS = {
    "float": "numbers are exact: x needs no conversion (format it with {x:plain})",
    "str": "templates show any value: write {x} in the template",
    "sqrt": "draw the root and square it: `let r = int 2..9` then `let n = r * r`",
    "range": "whole numbers lo to hi are written `lo..hi`: `[k for k in 1..9 if C]`",
}


class _Scope:
    def __init__(self, vars: dict[str, VarInfo], diags: list[Diagnostic],
                 limits: Limits = DEFAULT_LIMITS, undefined: _Undefined | None = None,
                 later: dict[str, Span] | None = None) -> None:
        self.vars = vars
        self.diags = diags
        self.used: set[str] = set()
        self.limits = limits
        self.hidden: set[str] = set()  # `let hidden` names: refused in question templates
        self.undefined_names = undefined or _Undefined()
        self.later = later or {}  # lets written below the current one (name -> span)

    def undefined(self, name: str, message: str, span: Span) -> None:
        """Report an undefined name once per pattern, with the closest defined names."""
        seen = self.undefined_names
        first = seen.first.get(name)
        if first is not None:
            spans = seen.others.setdefault(name, [])
            spans.append(span)
            where = ", ".join(f"{s.line}:{s.col}" for s in spans[:5])
            where += f" and {len(spans) - 5} more" if len(spans) > 5 else ""
            also = f"{name} is also used at {'line' if len(spans) == 1 else 'lines'} {where}"
            self.diags[first] = replace(self.diags[first], notes=(*seen.notes[name], also))
            return
        later = self.later.get(name)
        close = None if later else did_you_mean(name, self.vars)
        notes: tuple[str, ...] = ()
        if later is not None:
            notes = (f"{name} is defined below, at line {later.line}: a let can only use "
                     "lets written above it",)
        elif close is None:
            notes = ("a let can only use lets written above it",)
        seen.first[name], seen.notes[name] = len(self.diags), notes
        self.diags.append(error("undefined-name", message, span, *notes, help=close))

    def infer(self, e: ast.Expr) -> Ty:
        if isinstance(e, ast.Num):
            if too_many_digits(e.value, self.limits.max_digits):
                self.diags.append(exceeded("max_digits", f"a literal of more than "
                                           f"{self.limits.max_digits} digits", e.span))
            return Ty.NUMBER
        if isinstance(e, ast.Str):
            return Ty.STRING
        if isinstance(e, ast.Ref):
            return self._ref(e)
        if isinstance(e, ast.BinOp):
            return self._numeric(e, (e.left, e.right), f"operator {e.op}")
        if isinstance(e, ast.Neg):
            return self._numeric(e, (e.operand,), "unary -")
        if isinstance(e, ast.Not):
            self.infer(e.operand)
            return Ty.BOOL
        if isinstance(e, ast.BoolOp):
            for x in e.operands:
                self.infer(x)
            return Ty.BOOL
        if isinstance(e, ast.Compare):
            return self._compare(e)
        if isinstance(e, ast.Cond):
            return self._cond(e)
        if isinstance(e, ast.ListExpr):
            return constructs.infer_list(self, e)
        if isinstance(e, ast.Comprehension):
            return constructs.infer_comprehension(self, e)
        if isinstance(e, ast.RecordExpr):
            return constructs.infer_record(self, e)
        return self._call(e)

    def _cond(self, e: ast.Cond) -> Ty:
        """`if c then a else b`: c is a condition (a bool or a number, read as `and` reads it);
        both branches have one type, which is the value's."""
        test = self.infer(e.test)
        if test not in (Ty.BOOL, Ty.NUMBER, Ty.UNKNOWN):
            self.diags.append(error("type-error", f"if needs a condition, got {test}", e.test.span))
        then, orelse = self.infer(e.then), self.infer(e.orelse)
        if Ty.UNKNOWN in (then, orelse):
            return Ty.UNKNOWN
        if then is not orelse:
            self.diags.append(error("type-error", f"if gives a {then} or a {orelse}: both "
                                    "branches need one type", e.orelse.span))
            return Ty.UNKNOWN
        return then

    def _numeric(self, e: ast.Expr, operands: tuple[ast.Expr, ...], what: str) -> Ty:
        ok = True
        for x in operands:
            ty = self.infer(x)
            if ty not in (Ty.NUMBER, Ty.UNKNOWN):
                self.diags.append(error("type-error", f"{what} needs numbers, got {ty}", x.span))
                ok = False
        return Ty.NUMBER if ok else Ty.UNKNOWN

    def _compare(self, e: ast.Compare) -> Ty:
        operands = [e.first, *(x for _, x in e.rest)]
        types = [self.infer(x) for x in operands]
        for (op, x), ty in zip(e.rest, types[1:], strict=True):
            if op in ("<", "<=", ">", ">=") and Ty.UNKNOWN not in (ty, types[0]) and (
                    ty is not Ty.NUMBER or types[0] is not Ty.NUMBER):
                self.diags.append(error("type-error", f"{op} compares numbers", x.span))
        return Ty.BOOL

    def _call(self, e: ast.Call) -> Ty:
        if e.fn in LIST_FUNCTIONS:
            return constructs.infer_list_call(self, e)
        spec = FUNCTIONS.get(e.fn)
        if spec is None:
            for a in e.args:
                self.infer(a)
            self.diags.append(error("unknown-function", f"unknown function {e.fn}()",
                                    e.name_span or e.span,
                                    f"known: {', '.join(sorted(FUNCTIONS))}",
                                    help=_FOREIGN_FUNCTIONS.get(e.fn)
                                    or did_you_mean(e.fn, FUNCTIONS)))
            return Ty.UNKNOWN
        lo, hi, _ = spec
        if not lo <= len(e.args) <= hi:
            self.diags.append(error("bad-arity", f"{e.fn}() takes {lo}..{hi} arguments, "
                                    f"got {len(e.args)}", e.span))
        result = self._numeric(e, e.args, f"{e.fn}()")
        places = constant_number(e.args[1]) if e.fn == "round" and len(e.args) == 2 else None
        if places is not None and abs(places) > self.limits.max_places:
            self.diags.append(exceeded("max_places", f"round to {places} places (limit "
                                       f"{self.limits.max_places})", e.args[1].span))
        return Ty.BOOL if e.fn == "is_int" else result

    def _ref(self, e: ast.Ref) -> Ty:
        info = self.vars.get(e.name)
        if info is None:
            self.undefined(e.name, f"{e.name} is not defined (yet)", e.span)
            return Ty.UNKNOWN
        self.used.add(e.name)
        if len(e.parts) == 1:
            return info.ty
        # an unknown field is underlined alone: `item.prise` points at `prise`
        field_span = e.part_spans[1] if len(e.part_spans) > 1 and info.ty in (
            Ty.RECORD, Ty.STRUCT) else e.span
        return self._field(info, e.parts[1:], field_span)

    def _field(self, info: VarInfo, fields: tuple[str, ...], span: Span) -> Ty:
        if info.ty is Ty.UNKNOWN:
            return Ty.UNKNOWN
        if info.ty not in (Ty.RECORD, Ty.STRUCT):
            self.diags.append(error("type-error", f"{info.name} is a {info.ty}: it has no fields",
                                    span))
            return Ty.UNKNOWN
        if len(fields) > 1 or fields[0] not in info.fields:
            self.diags.append(error("unknown-field", f"{info.name} has no field "
                                    f"{'.'.join(fields)!r}", span,
                                    f"fields: {', '.join(info.fields)}",
                                    help=did_you_mean(fields[0], info.fields)
                                    if len(fields) == 1 else None))
            return Ty.UNKNOWN
        if info.ty is Ty.STRUCT and fields[0] in ("value", "operators"):
            return Ty.NUMBER
        if info.ty is Ty.STRUCT and fields[0] == "balanced":
            return Ty.BOOL
        return Ty.NUMBER if fields[0] in info.numbers else Ty.STRING


# ---------------------------------------------------------------- lets


def _let_info(let: ast.Let, scope: _Scope, program: Program) -> VarInfo:
    s = let.sampler
    if isinstance(s, ast.IntRange):
        for x in (s.lo, s.hi, s.step):
            if x is not None:
                scope._numeric(x, (x,), "int range bound")
        _constant_range_check(s.lo, s.hi, s.step, scope.diags, integer=True)
        return VarInfo(let.name, Ty.NUMBER, let.span, integer=True)
    if isinstance(s, ast.DecimalRange):
        for x in (s.lo, s.hi, s.step):
            scope._numeric(x, (x,), "decimal range bound")
        _constant_range_check(s.lo, s.hi, s.step, scope.diags, integer=False)
        return VarInfo(let.name, Ty.NUMBER, let.span)
    if isinstance(s, ast.Choice):
        if any(isinstance(i.value, ast.RecordExpr) for i in s.items):
            return constructs.record_choice_info(let, s, scope)
        return _choice_info(let, s, scope)
    if isinstance(s, ast.ChoiceFrom):
        return constructs.choice_from_info(let, s, scope)
    if isinstance(s, ast.Pick):
        return _pick_info(let, s, scope, program)
    if isinstance(s, ast.Generate):
        return _generate_info(let, s, scope)
    if isinstance(s.expr, ast.RecordExpr):
        return constructs.record_let_info(let, s.expr, scope)
    ty = scope.infer(s.expr)
    return VarInfo(let.name, ty, let.span)


def _check_where(let: ast.Let, scope: _Scope) -> None:
    """`let n = ... where C`: C reads n and the lets above; n's own use there is no use."""
    assert let.where is not None
    if isinstance(let.sampler, ast.Derived):
        scope.diags.append(error("bad-where", f"let {let.name} is computed, not drawn: it has "
                                 "one value per sample, so `where` cannot redraw it",
                                 let.where.span, f"write `require` for a condition on "
                                 f"{let.name}, or `where` on a let it is computed from"))
        return
    used = let.name in scope.used
    ty = scope.infer(let.where)
    if not used:
        scope.used.discard(let.name)
    if ty not in (Ty.BOOL, Ty.NUMBER, Ty.UNKNOWN):
        scope.diags.append(error("type-error", f"where needs a condition, got {ty}",
                                 let.where.span))


def _constant_range_check(lo_e: ast.Expr, hi_e: ast.Expr, step_e: ast.Expr | None,
                          diags: list[Diagnostic], integer: bool) -> None:
    lo, hi, step = constant_number(lo_e), constant_number(hi_e), constant_number(step_e)
    kind = "int" if integer else "decimal"
    for value, e in ((lo, lo_e), (hi, hi_e), (step, step_e)):
        if integer and value is not None and value.denominator != 1 and e is not None:
            diags.append(error("type-error", "int range bounds must be whole numbers", e.span))
    if step is not None and step <= 0 and step_e is not None:
        diags.append(error("bad-range", f"{kind} range step must be positive", step_e.span))
    if lo is not None and hi is not None and lo > hi:
        diags.append(error("bad-range", f"empty {kind} range: {lo} > {hi}", lo_e.span))


def _choice_info(let: ast.Let, s: ast.Choice, scope: _Scope) -> VarInfo:
    types = {scope.infer(item.value) for item in s.items} - {Ty.UNKNOWN}
    if len(types) > 1:
        scope.diags.append(error("type-error", "choice mixes numbers and text", s.span))
        return VarInfo(let.name, Ty.UNKNOWN, let.span)
    for item in s.items:
        if item.label is not None and scope.infer(item.value) is not Ty.NUMBER:
            scope.diags.append(error("type-error", "a labelled choice needs a number value",
                                     item.span))
    ty = types.pop() if types else Ty.UNKNOWN
    integer = all(constant_number(i.value) is not None and constant_number(i.value).denominator == 1  # type: ignore[union-attr]
                  for i in s.items)
    return VarInfo(let.name, ty, let.span, integer=integer)


def _pick_info(let: ast.Let, s: ast.Pick, scope: _Scope, program: Program) -> VarInfo:
    vocab = program.vocabs.get(s.vocab)
    if vocab is None:
        if s.vocab not in program.vocab_decls:
            close = did_you_mean(s.vocab, {*program.vocabs, *program.vocab_decls})
            scope.diags.append(error("undefined-vocab", f"no vocab named {s.vocab}",
                                     s.vocab_span or s.span,
                                     help=close or f'declare it: vocab {s.vocab} from '
                                     f'"{s.vocab}"'))
        return VarInfo(let.name, Ty.UNKNOWN, let.span)
    for other in s.distinct_from:
        info = scope.vars.get(other)
        if info is None:
            scope.undefined(other, f"{other} is not defined (yet)", s.span)
        else:
            scope.used.add(other)
            if info.ty not in (Ty.RECORD, Ty.UNKNOWN):  # a number is never equal to an entry
                scope.diags.append(error("type-error", f"distinct from {other}: {other} is a "
                                         f"{info.ty}, not a pick", s.span))
    if s.max_tokens is not None and s.max_tokens < 1:
        scope.diags.append(error("bad-range", "max_tokens must be at least 1", s.span))
    return VarInfo(let.name, Ty.RECORD, let.span, fields=vocab.fields,
                   numbers=frozenset(vocab.numbers))


def _generate_info(let: ast.Let, s: ast.Generate, scope: _Scope) -> VarInfo:
    gen = GENERATORS.get(s.generator)
    if gen is None:
        scope.diags.append(error("unknown-generator", f"no generator {s.generator}",
                                 s.name_span or s.span,
                                 f"known: {', '.join(sorted(GENERATORS))}",
                                 help=did_you_mean(s.generator, GENERATORS)))
        return VarInfo(let.name, Ty.UNKNOWN, let.span)
    for key, value in s.kwargs:
        param = gen.params.get(key)
        if param is None:
            scope.diags.append(error("unknown-parameter", f"{s.generator} has no parameter {key}",
                                     value.span, f"parameters: {', '.join(gen.params)}",
                                     help=did_you_mean(key, gen.params)))
            continue
        scope._numeric(value, (value,), key)
        const = constant_number(value)
        if const is not None and not (param.lo <= const <= param.hi and const.denominator == 1):
            scope.diags.append(error("bad-range", f"{key} must be a whole number in "
                                     f"{param.lo}..{param.hi}", value.span))
    return VarInfo(let.name, Ty.STRUCT, let.span, fields=("text", "answer", *gen.fields))


# ---------------------------------------------------------------- templates


def _raw_col(statement: str, offset: int) -> int | None:
    """Index in a statement's source of the `offset`-th character of its (unescaped,
    concatenated) string: escapes and string boundaries shift it."""
    i, k, inside = statement.find('"'), 0, False
    while 0 <= i < len(statement):
        ch = statement[i]
        if ch == '"':
            inside = not inside
            i += 1
            continue
        if inside and k == offset:
            return i
        i += 2 if inside and ch == "\\" else 1
        k += inside
    return None


def _template_col(t: ast.Template, offset: int, source: str | None = None,
                  width: int = 1) -> Span:
    """Position of a template offset (exact for one-line statements); `width` characters
    of the text are underlined when they sit on the line unescaped (a placeholder)."""
    s = t.span
    lines = source_lines(source) if source is not None else ()
    if s.line == s.end_line and 1 <= s.line <= len(lines):
        statement = lines[s.line - 1][s.col - 1 : s.end_col - 1]
        raw = _raw_col(statement, offset)
        if raw is not None:
            wide = width if t.text[offset:offset + width] == statement[raw:raw + width] else 1
            return Span(s.file, s.line, s.col + raw, s.line, s.col + raw + wide)
    text_start = s.end_col - len(t.text) - 1  # the string usually closes the statement
    if s.line == s.end_line and text_start > 0:
        col = text_start + offset
        return Span(s.file, s.line, col, s.line, col + 1)
    return s


def _check_template(t: ast.Template, scope: _Scope, diags: list[Diagnostic],
                    what: str = "template", source: str | None = None) -> set[str]:
    parsed = parse_template(t.text)
    for offset, message, help in parsed.problems:
        close = t.text.find("}", offset) if message.startswith(("bad", "unknown")) else -1
        width = close + 1 - offset if close > offset else 1
        diags.append(error("bad-placeholder", message, _template_col(t, offset, source, width),
                           help=help))
    names: set[str] = set()
    for ph in parsed.placeholders:
        span = _template_col(t, ph.offset, source, len(ph.raw) + 2)
        if ph.path[0] == "answer" and what == "template":
            diags.append(error("answer-in-question", "the question may not show the answer", span))
            continue
        info = scope.vars.get(ph.path[0])
        if info is None:  # `{answer}` in the answer itself included: it has no value yet
            scope.undefined(ph.path[0], f"{{{ph.raw}}}: {ph.path[0]} is not defined", span)
            continue
        if ph.path[0] in scope.hidden and what == "template":
            diags.append(error("hidden-in-template", f"{{{ph.raw}}}: {ph.path[0]} is a hidden "
                               "let: it is kept out of the payload and out of questions", span,
                               f"drop `hidden` from let {ph.path[0]}, or show a let computed "
                               "from it"))
            scope.used.add(ph.path[0])
            continue
        scope.used.add(ph.path[0])
        names.update((ph.path[0], ".".join(ph.path)))  # `{item.price}` shows item.price
        ty = scope._field(info, ph.path[1:], span) if len(ph.path) > 1 else info.ty
        constructs.check_shown(ty, ph.raw, ph.path[0], span, diags)
        _check_formats(ph.formats, ty, ph.raw, span, diags)
        if ph.count is not None:
            _check_count(ph.count, info, ph.raw, span, scope, diags)
    return names


def _check_formats(formats: tuple[str, ...], ty: Ty, raw: str, span: Span,
                   diags: list[Diagnostic]) -> None:
    for f in formats:
        if f in NUMBER_FORMATS and ty not in (Ty.NUMBER, Ty.UNKNOWN):
            diags.append(error("type-error", f"{{{raw}}}: format {f} needs a number, got {ty}",
                               span))


def _check_count(count: str, info: VarInfo, raw: str, span: Span, scope: _Scope,
                 diags: list[Diagnostic]) -> None:
    counted = scope.vars.get(count)
    if counted is None:
        scope.undefined(count, f"{{{raw}}}: {count} is not defined", span)
        return
    scope.used.add(count)
    if counted.ty not in (Ty.NUMBER, Ty.UNKNOWN):
        diags.append(error("type-error", f"{{{raw}}}: {count} must be a number", span))
    if info.ty is Ty.RECORD and not {"singular", "plural"} <= set(info.fields):
        diags.append(error("no-inflection", f"{{{raw}}}: vocab of {info.name} declares no "
                           "singular/plural fields", span))


# ---------------------------------------------------------------- traces


def symbolic_name(tvar: ast.TVar) -> str:
    """A templated name with its placeholders replaced by their variable names (for analysis)."""
    if not tvar.templated:
        return tvar.text
    return _TEMPLATED_SEGMENT.sub(lambda m: m.group(1).split(":")[0].split(".")[0], tvar.text)


def _step_data(stmt: ast.TStmt) -> dict[str, Any] | str:
    """The runtime step mapping a statement stands for (values are placeholders)."""
    if isinstance(stmt, ast.TQuery):
        return {"op": "query", "var": symbolic_name(stmt.var)}
    if isinstance(stmt, ast.TInit):
        name = symbolic_name(stmt.var)
        if stmt.from_prev:
            return {"op": "init", "var": name, "source": PREV_RESULT}
        return {"op": "init", "var": name, "value": 1}
    args = [symbolic_name(a) for a in stmt.args]
    if stmt.op in COMPUTE_OPS:
        if stmt.out is None:
            return f"{stmt.op} computes a value: write `name = {stmt.op}(...)`"
        return {"op": "compute", "compute_op": stmt.op, "args": args,
                "var": symbolic_name(stmt.out)}
    cls = STEP_TYPES.get(stmt.op)
    if cls is None or stmt.op in ("init", "query", "compute"):
        known = sorted(set(COMPUTE_OPS) | set(STEP_TYPES) - {"init", "query", "compute"})
        return f"unknown op {stmt.op} (known: {', '.join(known)})"
    keys = [k for k in cls.KEYS if k not in ("op", "var")]
    has_out = "var" in cls.KEYS
    if len(args) != len(keys):
        return f"{stmt.op} takes {len(keys)} arguments ({', '.join(keys)}), got {len(args)}"
    if has_out != (stmt.out is not None):
        return (f"{stmt.op} computes a value: write `name = {stmt.op}(...)`" if has_out
                else f"{stmt.op} changes its arguments in place: write `{stmt.op}(...)` alone")
    data: dict[str, Any] = {"op": stmt.op, **dict(zip(keys, args, strict=True))}
    if has_out and stmt.out is not None:
        data["var"] = symbolic_name(stmt.out)
    return data


_ISSUE_CODES = {
    ErrorKind.UNDEFINED_VAR.value: "undefined-var",
    ErrorKind.OVERWRITE.value: "overwrite",
    ErrorKind.SHORT_CIRCUIT.value: "init-only-query",
    ErrorKind.OP_NOT_IN_EXPERT.value: "op-not-in-expert",
    ErrorKind.MISSING_QUERY.value: "missing-query",
    ErrorKind.MULTIPLE_QUERIES.value: "multiple-queries",
    DEAD_STEP: "dead-step",
}


def _check_trace_block(block: ast.TraceBlock, index: int, scope: _Scope, table: ExpertTable,
                       diags: list[Diagnostic], declared: frozenset[str] = frozenset()
                       ) -> tuple[str | None, int]:
    """Check one trace block; returns (query target, step count). `declared`: the expert
    declarations, valid or not (an invalid one is reported at its declaration, not again
    as undefined in every block that names it)."""
    expert: Expert | None = table.get(block.expert)
    if expert is None and block.expert not in declared:
        diags.append(error("undefined-expert", f"no expert named {block.expert}",
                           block.name_span or block.span, f"known: {', '.join(sorted(table))}",
                           help=did_you_mean(block.expert, table)))
    steps: list[Step] = []
    spans: list[Span] = []
    bad_query = False  # a query written but refused: "no query step" would only repeat it
    # A refused step marks the block broken: the name it would define is not reported
    # again as undefined where later steps read them, and no step is called dead for
    # feeding it (one typo is one error, not four).
    broken: set[str] = set()
    bad_steps = 0
    for stmt in block.steps:
        _check_stmt_values(stmt, index, scope, diags)
        data = _step_data(stmt)
        if isinstance(data, str):
            message, _, known = data.partition(" (known: ")
            notes = (f"known: {known.rstrip(')')}",) if known else ()
            diags.append(error("bad-step", message, stmt.span, *notes, help=_step_help(stmt)))
        else:
            try:
                steps.append(STEP_TYPES[data["op"]].model_validate(data))
                spans.append(stmt.span)
                continue
            except ValidationError as err:
                first = err.errors(include_url=False)[0]
                diags.append(error("bad-step", f"{first['msg']}", stmt.span))
        bad_query |= isinstance(stmt, ast.TQuery)
        bad_steps += 1
        out = stmt.out if isinstance(stmt, ast.TOp) else stmt.var
        if out is not None and not isinstance(stmt, ast.TQuery):
            broken.add(symbolic_name(out))
    if not steps:
        if not bad_steps:
            diags.append(error("missing-query", "empty trace", block.span))
        return None, 0
    queries = [i for i, s in enumerate(steps) if s.op == "query"]
    if queries and queries[-1] != len(steps) - 1:
        diags.append(error("query-not-last", "the query must be the last step",
                           spans[queries[-1]]))
    trace = Trace.model_construct(expert=block.expert, steps=tuple(steps))
    issues = check_static(trace, expert, None)
    # A name read before it is defined (often a typo) cuts the chain to the query: the
    # steps above it are not dead, only unconnected until the name is fixed.
    unconnected = bad_steps or any(i.code == ErrorKind.UNDEFINED_VAR.value for i in issues)
    for issue in issues:
        code = _ISSUE_CODES.get(issue.code, issue.code)
        if bad_query and code == "missing-query":
            continue
        if unconnected and code == "dead-step":
            continue
        if code == "undefined-var" and set(steps[issue.step].reads()) & broken:
            continue
        help = _undefined_var_help(steps, issue.step) if code == "undefined-var" else None
        diags.append(error(code, issue.message, spans[min(issue.step, len(spans) - 1)],
                           help=help))
    if index > 0:
        _check_reads_prev(block, diags)
    query = steps[queries[0]].var if queries else None  # type: ignore[attr-defined]
    return query, len(steps)


def _undefined_var_help(steps: list[Step], at: int) -> str | None:
    """The trace names closest to the one step `at` reads before any step defines it."""
    before = {d for s in steps[:at] if (d := s.defines()) is not None}
    missing = [n for n in steps[at].reads() if n not in before]
    names = {d for s in steps if (d := s.defines()) is not None}
    return did_you_mean(missing[0], names) if missing else None


def _step_help(stmt: ast.TStmt) -> str | None:
    """What to write instead of a refused step: the closest op, or where a function goes."""
    if not isinstance(stmt, ast.TOp) or stmt.op in COMPUTE_OPS or (
            stmt.op in STEP_TYPES and stmt.op not in ("init", "query", "compute")):
        return None
    if stmt.op in FUNCTIONS:
        return (f"{stmt.op}() is an expression function, not a trace op: trace ops are "
                f"`name = op(args)` with registered ops; compute it in a let "
                f"(`let v = {stmt.op}(...)`) and `init v`")
    return did_you_mean(stmt.op, set(COMPUTE_OPS) | set(STEP_TYPES) - {"init", "query", "compute"})


def _check_reads_prev(block: ast.TraceBlock, diags: list[Diagnostic]) -> None:
    if not any(isinstance(s, ast.TInit) and s.from_prev for s in block.steps):
        diags.append(error("dead-subtrace", "a composed trace block must start from the previous "
                           "result: add `init prev = prev`", block.span))


def _check_stmt_values(stmt: ast.TStmt, index: int, scope: _Scope,
                       diags: list[Diagnostic]) -> None:
    for tvar in _tvars(stmt):
        if tvar.templated:
            _check_tvar_template(tvar, scope, diags)
    if not isinstance(stmt, ast.TInit):
        return
    if stmt.from_prev:
        if index == 0:
            diags.append(error("no-prev-result", "the first trace block has no previous result",
                               stmt.span))
        return
    if stmt.value is not None:
        if scope.infer(stmt.value) not in (Ty.NUMBER, Ty.UNKNOWN):
            diags.append(error("type-error", "init needs a number", stmt.value.span))
        return
    if stmt.var.templated:
        diags.append(error("bad-step", "a templated name needs a value: init {who}.eggs = eggs",
                           stmt.span))
        return
    info = scope.vars.get(stmt.var.text)
    if info is None:
        close = did_you_mean(stmt.var.text, scope.vars)
        diags.append(error("undefined-name", f"init {stmt.var.text}: no let named "
                           f"{stmt.var.text}", stmt.var.span,
                           help=[close, f"or give it a value: `init {stmt.var.text} = <expr>`"]))
    else:
        scope.used.add(info.name)
        if info.ty not in (Ty.NUMBER, Ty.UNKNOWN):
            diags.append(error("type-error", f"init {info.name}: {info.name} is a {info.ty}, "
                               "not a number", stmt.var.span))


def _tvars(stmt: ast.TStmt) -> list[ast.TVar]:
    if isinstance(stmt, ast.TInit | ast.TQuery):
        return [stmt.var]
    return ([stmt.out] if stmt.out else []) + list(stmt.args)


def _check_tvar_template(tvar: ast.TVar, scope: _Scope, diags: list[Diagnostic]) -> None:
    for m in _TEMPLATED_SEGMENT.finditer(tvar.text):
        name = m.group(1).split(":")[0].split(".")[0]
        if name not in scope.vars:
            scope.undefined(name, f"{{{m.group(1)}}}: {name} is not defined", tvar.span)
        else:
            scope.used.add(name)
            if name in scope.hidden:  # the model writes the name: the question must show it
                diags.append(error("hidden-in-template", f"{{{m.group(1)}}}: {name} is a "
                                   "hidden let: a trace name cannot show it", tvar.span))


def _inited_lets(pattern: ast.Pattern, vars: dict[str, VarInfo]) -> set[str]:
    """Lets whose values the trace copies in: the question must show them."""
    names = set()
    for block in pattern.traces:
        for stmt in block.steps:
            if not isinstance(stmt, ast.TInit) or stmt.from_prev:
                continue
            if stmt.value is None and stmt.var.text in vars:
                names.add(stmt.var.text)
            elif isinstance(stmt.value, ast.Ref) and len(stmt.value.parts) == 1:
                names.add(stmt.value.name)
            elif isinstance(stmt.value, ast.Ref) and _number_field(stmt.value, vars):
                names.add(".".join(stmt.value.parts))  # `init price = item.price`
    return names


def _number_field(ref: ast.Ref, vars: dict[str, VarInfo]) -> bool:
    """`item.price`: a number field of a record or vocabulary entry (the question must show
    it for the trace to copy it; a structure's fields are computed from its text)."""
    info = vars.get(ref.name)
    return (len(ref.parts) == 2 and info is not None and info.ty is Ty.RECORD
            and ref.parts[1] in info.numbers)


# ---------------------------------------------------------------- patterns


def check_pattern(p: ast.Pattern, program: Program, table: ExpertTable,
                  limits: Limits = DEFAULT_LIMITS) -> tuple[list[Diagnostic], PatternInfo]:
    """`limits`: the most generous of the datasets listing the pattern (pattern_limits)."""
    diags: list[Diagnostic] = []
    later = {let.name: let.span for let in reversed(p.lets)}  # first definition wins
    scope = _Scope({}, diags, limits, later=later)
    source = program.sources.get(p.span.file)
    for let in p.lets:
        if let.name in RESERVED_NAMES:
            diags.append(error("reserved-name", f"{let.name} is reserved",
                               _name_span(let.span, let.name, source)))
        if let.name in scope.vars:
            first = scope.vars[let.name].span
            diags.append(error("duplicate-name", f"{let.name} is defined twice",
                               _name_span(let.span, let.name, source),
                               f"first defined at line {first.line}"))
            continue
        scope.vars[let.name] = _let_info(let, scope, program)
        if let.hidden:
            scope.hidden.add(let.name)
        if let.where is not None:
            _check_where(let, scope)
        later.pop(let.name, None)
    answer_scope = dict(scope.vars)
    answer_scope["answer"] = VarInfo("answer", Ty.NUMBER if p.traces else Ty.STRING, p.span)
    req_scope = _Scope(answer_scope, diags, limits, scope.undefined_names)
    for req in p.requires:
        req_scope.infer(req.expr)
    scope.used |= req_scope.used
    templates = p.templates
    if not templates:
        diags.append(error("no-template", f"pattern {p.name} has no template", p.span))
    if len(templates) > limits.max_templates:
        diags.append(exceeded("max_templates", f"pattern {p.name} has {len(templates)} "
                              f"templates (limit {limits.max_templates})",
                              templates[limits.max_templates].span))
    shown: dict[int, set[str]] = {}
    named: set[str] = set()
    for i, t in enumerate(templates):
        if t.name is not None and t.name in named:  # its id (pattern/name) would be shared
            diags.append(error("duplicate-name", f"template {t.name} is declared twice", t.span))
        named.add(t.name or "")
        shown[i] = _check_template(t, scope, diags, source=program.sources.get(p.span.file))
    _check_answer_kind(p, diags)
    diags += check_difficulty(p)
    for a in p.answers:
        _check_template(ast.Template(None, (), None, a.text, a.span), scope, diags, "answer",
                        program.sources.get(p.span.file))
    loaded = program.references.get(p.name)
    check_code(p, None if loaded is None else loaded.text, scope, diags)
    queries, counts = [], []
    for i, block in enumerate(p.traces):
        query, count = _check_trace_block(block, i, scope, table, diags, frozenset(program.experts))
        queries.append(query or "")
        counts.append(count)
    for name in sorted(_inited_lets(p, scope.vars)):
        for i, t in enumerate(templates):
            if name not in shown[i]:
                diags.append(error("init-not-in-question", f"the trace inits {name}, but "
                                   f"this template never shows it", t.span,
                                   "the model can only copy values the question states"))
    for name, var in scope.vars.items():
        if name not in scope.used and name not in RESERVED_NAMES:  # reserved: one error
            diags.append(warning("unused-var", f"{name} is never used",
                                 _name_span(var.span, name, source)))
    experts = tuple(b.expert for b in p.traces)
    info = PatternInfo(p.name, experts, tuple(queries), tuple(counts), templates, scope.vars,
                       ok=not any(d.is_error for d in diags))
    return diags, info


def _name_span(stmt: Span, name: str, source: str | None) -> Span:
    """The name a `let NAME = ...` statement declares, found on its first line (the
    statement's span when the source is not at hand)."""
    lines = source_lines(source) if source is not None else ()
    if not 1 <= stmt.line <= len(lines):
        return stmt
    m = re.compile(rf"\blet\s+({re.escape(name)})\b").match(lines[stmt.line - 1], stmt.col - 1)
    if m is None:
        return stmt
    return Span(stmt.file, stmt.line, m.start(1) + 1, stmt.line, m.end(1) + 1)


def _check_answer_kind(p: ast.Pattern, diags: list[Diagnostic]) -> None:
    if p.traces and p.answers:
        diags.append(error("answer-twice", "a pattern with a trace must not also write an "
                           "answer: the executed query is the answer", p.answers[0].span))
    elif p.functions and (p.traces or p.answers):
        diags.append(error("answer-twice", "a pattern whose answer is a function has no trace "
                           "and no answer text: the reference solution is the answer",
                           p.functions[0].span))
    elif not p.traces and not p.answers and not p.functions:
        diags.append(error("no-answer", f"pattern {p.name} needs a trace block, an answer or a "
                           "function", p.span))
    if len(p.answers) > 1:
        diags.append(error("answer-twice", "only one answer per pattern", p.answers[1].span))


# ---------------------------------------------------------------- experts


def check_expert(decl: ast.ExpertDecl) -> list[Diagnostic]:
    diags = []
    if decl.name == COMPOSITION:
        diags.append(error("reserved-name", f"{COMPOSITION} is reserved: it names every composed "
                           "trace", decl.span))
    for spec in decl.ops:
        if spec.name not in STEP_TYPES:
            diags.append(error("unknown-op", f"unknown op {spec.name}", spec.span,
                               f"known: {', '.join(sorted(STEP_TYPES))}",
                               help=did_you_mean(spec.name, STEP_TYPES)))
        if spec.compute_ops is not None and spec.name != "compute":
            diags.append(error("bad-step", f"only compute takes a list of ops, not {spec.name}",
                               spec.span))
        for k, op in enumerate(spec.compute_ops or ()):
            if op not in COMPUTE_OPS:
                at = spec.op_spans[k] if k < len(spec.op_spans) else spec.span
                diags.append(error("unknown-op", f"unknown compute op {op}", at,
                                   f"known: {', '.join(sorted(COMPUTE_OPS))}",
                                   help=did_you_mean(op, COMPUTE_OPS)))
    if not diags and expert_from_decl(decl) is None:
        diags.append(error("bad-expert", f"expert {decl.name} is not valid", decl.span))
    return diags


# ---------------------------------------------------------------- datasets


def _check_settings(ds: ast.Dataset, diags: list[Diagnostic]) -> None:
    seen: set[str] = set()
    for s in ds.settings:
        if s.key in seen:
            diags.append(error("duplicate-setting", f"{s.key} is set twice", s.span))
        seen.add(s.key)
        kind = SETTINGS[s.key]
        if kind == "str" and not isinstance(s.value, str):
            diags.append(error("type-error", f"{s.key} needs a string", s.span))
        elif kind == "int" and not (isinstance(s.value, Fraction) and s.value.denominator == 1
                                    and s.value >= (0 if s.key == "seed" else 1)):
            diags.append(error("type-error", f"{s.key} needs a whole number"
                               + (" of at least 1" if s.key != "seed" else ""), s.span))
        elif kind == "rate" and not (isinstance(s.value, Fraction) and 0 < s.value <= 1):
            diags.append(error("type-error", f"{s.key} needs a number in (0, 1]", s.span))
        elif s.key in BY_SETTING and isinstance(s.value, Fraction) and (
                bad := check_setting(s.key, s.value, s.span)):
            diags.append(bad)
    fmt = setting(ds, "format")
    if fmt is not None and fmt.value not in ("chat",):
        diags.append(error("bad-setting", f"unknown format {fmt.value!r} (known: chat)", fmt.span,
                           help=did_you_mean(str(fmt.value), ["chat"])))
    # Where the tokenizer comes from (a confined path, or a hub id when the network is
    # allowed) is checked by the loader, which knows the confinement: program._Loader.


def _check_decontaminate(ds: ast.Dataset, diags: list[Diagnostic]) -> None:
    from .decontaminate import MAX_NGRAM, MIN_NGRAM

    for d in ds.decontaminate:
        n = d.ngram
        if n is not None and not (n.denominator == 1 and MIN_NGRAM <= n <= MAX_NGRAM):
            diags.append(error("bad-ngram", f"ngram needs a whole number from {MIN_NGRAM} to "
                               f"{MAX_NGRAM}, not {float(n):g}", d.span,
                               "13 is lm-evaluation-harness's size; 8 catches shorter copies"))


def _listed(ds: ast.Dataset) -> list[ast.Weighted]:
    """The dataset's patterns, first listing only (a repeat is reported as duplicate-name)."""
    seen: set[str] = set()
    out = []
    for w in ds.patterns:
        if w.pattern not in seen:
            seen.add(w.pattern)
            out.append(w)
    return out


def _usable(t: ast.Template, split: str) -> bool:
    return not t.splits or split in t.splits


# A dataset's name is its output folder and a split's its file (`train.jsonl`): past the file
# system's 255 bytes a compile would fail with "File name too long", so they stop here,
# with room for the staging suffixes.
MAX_FILE_NAME = 100


def _check_file_name(kind: str, name: str, span: Span, diags: list[Diagnostic]) -> None:
    if len(name) > MAX_FILE_NAME:
        diags.append(error("name-too-long", f"{kind} name of {len(name)} characters; it names "
                           f"a {'folder' if kind == 'dataset' else 'file'}, at most "
                           f"{MAX_FILE_NAME}", span, f"shorten {name[:20]}..."))


def _check_splits(ds: ast.Dataset, infos: dict[str, PatternInfo], diags: list[Diagnostic]) -> None:
    if not ds.splits:
        diags.append(error("no-splits", f"dataset {ds.name} declares no split", ds.span,
                           help="add e.g. `split train 1000` and `split val 200 held_out`"))
    names = [s.name for s in ds.splits]
    for s in ds.splits:
        _check_file_name("split", s.name, s.span, diags)
        if names.count(s.name) > 1:
            diags.append(error("duplicate-name", f"split {s.name} declared twice", s.span))
        if s.size.denominator != 1 or s.size < 1:
            diags.append(error("bad-size", f"split {s.name} needs a whole positive size", s.span))
    langs = list(dict.fromkeys(lang.lang for lang in ds.languages))
    for w in _listed(ds):
        info = infos.get(w.pattern)
        if info is None:
            continue
        for s in ds.splits:
            main = [t for t in info.templates if _usable(t, s.name) and t.lang is None]
            if not main:
                diags.append(error("no-template-for-split", f"pattern {w.pattern} has no "
                                   f"template for split {s.name}", w.span))
            for lang in langs:
                if not any(_usable(t, s.name) and t.lang == lang for t in info.templates):
                    diags.append(error("no-template-for-split", f"pattern {w.pattern} has no "
                                       f"`lang {lang}` template for split {s.name}", w.span))
            if s.held_out:
                _check_held_out(s, ds, info, diags)


def dataset_limits(ds: ast.Dataset) -> Limits:
    """The limits of a dataset: its settings over the defaults (values that failed
    _check_settings count as unset)."""
    def value(key: str) -> Any:
        s = setting(ds, key)
        ok = s is not None and isinstance(s.value, Fraction) and s.value.denominator == 1 \
            and s.value >= 1 and check_setting(key, s.value, s.span) is None
        return s.value if ok and s is not None else None

    return limits_of(value)


def _check_examples_limit(ds: ast.Dataset, diags: list[Diagnostic]) -> None:
    """Before anything is sampled or allocated: a split order is as large as its split."""
    limit = dataset_limits(ds).max_examples
    total = Fraction(0)
    for s in ds.splits:
        total += s.size
        if total > limit:
            diags.append(exceeded("max_examples", f"dataset {ds.name} asks for {total} "
                                  f"examples by split {s.name} (limit {limit})", s.span))
            return


def dataset_constants(ds: ast.Dataset) -> tuple[Fraction, ...]:
    """The dataset's `constants` statements, sorted, each value once."""
    return tuple(sorted({v for stmt in ds.constants for v in stmt.values}))


def pattern_constants(program: Program) -> dict[str, frozenset[Fraction]]:
    """Per pattern, the constants of every dataset listing it (preview and audit sample a
    pattern outside any one dataset; grounded in any of them is grounded)."""
    out: dict[str, frozenset[Fraction]] = {}
    for ds in program.datasets.values():
        constants = frozenset(dataset_constants(ds))
        for w in ds.patterns:
            out[w.pattern] = out.get(w.pattern, frozenset()) | constants
    return out


def pattern_limits(program: Program) -> dict[str, Limits]:
    """Per pattern, the most generous limits of the datasets listing it: a dataset that
    raises a limit accepts the patterns it names (patterns no dataset lists get the defaults)."""
    out: dict[str, Limits] = {}
    for ds in program.datasets.values():
        limits = dataset_limits(ds)
        for w in ds.patterns:
            prev = out.get(w.pattern, DEFAULT_LIMITS)
            out[w.pattern] = Limits(**{lim.setting: max(getattr(prev, lim.setting),
                                                        getattr(limits, lim.setting))
                                       for lim in LIMITS})
    return out


def _check_held_out(s: ast.SplitDecl, ds: ast.Dataset, info: PatternInfo,
                    diags: list[Diagnostic]) -> None:
    others = [o.name for o in ds.splits if o.name != s.name]
    for t in info.templates:
        if not _usable(t, s.name):
            continue
        shared = [o for o in others if _usable(t, o)]
        if shared:
            label = t.name or f"template at line {t.span.line}"
            diags.append(error("split-leak", f"{info.name}: {label} is used by held-out split "
                               f"{s.name} and by {', '.join(shared)}", t.span,
                               help=f"mark it `for {s.name}` only, or drop held_out from "
                               f"{s.name}"))


def _check_languages(ds: ast.Dataset, diags: list[Diagnostic]) -> None:
    total = Fraction(0)
    seen: set[str] = set()
    for lang in ds.languages:
        if lang.lang in seen:
            diags.append(error("duplicate-name", f"language {lang.lang} is declared twice",
                               lang.span))
        seen.add(lang.lang)
        if not 0 < lang.share < 1:
            diags.append(error("bad-share", f"language {lang.lang} share must be in (0, 1)",
                               lang.span))
        total += lang.share
    if total >= 1:
        diags.append(error("bad-share", "language shares add up to 1 or more: nothing is left "
                           "for the main language", ds.span))


def template_shares(ds: ast.Dataset, infos: dict[str, PatternInfo]) -> lints.DatasetFacts:
    """The examples each main-language template of each listed pattern can expect per split:
    the split's size by the pattern's weight, over the templates usable there. The one
    home of the rule: check warns from it, the audit tabulates it. Language shares are
    not taken off (as check always judged: the golden files, checked clean, mix languages
    into splits of a few examples)."""
    weights = {w.pattern: w.weight for w in ds.patterns if w.pattern in infos}
    total = sum(weights.values(), Fraction(0))
    min_rep = min_template_repeats(ds)
    shares = []
    for w in _listed(ds):
        info = infos.get(w.pattern)
        if info is None or total == 0:
            continue
        ids = [f"{info.name}/{t.name or i}" for i, t in enumerate(info.templates)]
        for s in ds.splits:
            usable = tuple(tid for tid, t in zip(ids, info.templates, strict=True)
                           if _usable(t, s.name) and t.lang is None)
            if usable:
                per = s.size * weights[w.pattern] / total / len(usable)
                shares.append(lints.TemplateShare(w.pattern, s.name, None, usable, per, w.span))
    return lints.DatasetFacts(ds.name, ds.span, min_rep, tuple(shares))


def _lints(ds: ast.Dataset, infos: dict[str, PatternInfo], table: ExpertTable,
           diags: list[Diagnostic]) -> None:
    diags += lints.run_dataset(template_shares(ds, infos))
    by_expert: dict[str, list[PatternInfo]] = {}
    for info in (infos[w.pattern] for w in _listed(ds) if w.pattern in infos):
        if len(info.experts) == 1:
            by_expert.setdefault(info.experts[0], []).append(info)
    for expert, group in sorted(by_expert.items()):
        targets = sorted({i.query_targets[0] for i in group})
        if len(targets) > 1:
            diags.append(warning("inconsistent-query", f"expert {expert} queries "
                                 f"{', '.join(targets)} across patterns", ds.span,
                                 "one query target per expert (e.g. result) is easier to learn"))
        counts = sorted({i.step_counts[0] for i in group})
        if len(counts) > 1:
            diags.append(warning("step-count-mismatch", f"expert {expert} has patterns of "
                                 f"{', '.join(map(str, counts))} steps", ds.span,
                                 "uniform step counts stopped the model mixing shapes"))
    used = {e for w in _listed(ds) if w.pattern in infos for e in infos[w.pattern].experts}
    for (a, b), ops in table.overlaps().items():
        if a in used and b in used:
            diags.append(warning("op-overlap", f"experts {a} and {b} share ops "
                                 f"{', '.join(sorted(ops))}", ds.span))


def check_dataset(ds: ast.Dataset, infos: dict[str, PatternInfo], table: ExpertTable
                  ) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    _check_file_name("dataset", ds.name, ds.span, diags)
    if not ds.patterns:
        diags.append(error("no-patterns", f"dataset {ds.name} lists no patterns", ds.span))
    seen = set()
    for w in ds.patterns:
        if w.pattern in seen:
            diags.append(error("duplicate-name", f"pattern {w.pattern} listed twice", w.span))
        seen.add(w.pattern)
        if w.pattern not in infos:
            diags.append(error("undefined-pattern", f"no pattern named {w.pattern}", w.span,
                               help=did_you_mean(w.pattern, infos)))
        if w.weight <= 0:
            diags.append(error("bad-weight", f"weight of {w.pattern} must be positive", w.span))
    _check_settings(ds, diags)
    _check_decontaminate(ds, diags)
    _check_languages(ds, diags)
    _check_splits(ds, infos, diags)
    _check_examples_limit(ds, diags)
    _lints(ds, infos, table, diags)
    return diags


# ---------------------------------------------------------------- program


@dataclass
class CheckResult:
    diagnostics: list[Diagnostic]
    patterns: dict[str, PatternInfo]
    table: ExpertTable

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def check_program(program: Program) -> CheckResult:
    """Every static diagnostic of a loaded program."""
    diags: list[Diagnostic] = []
    for decl in program.experts.values():
        diags += check_expert(decl)
    # An expert named `composition` (reported above) would make the runtime's table refuse.
    declared = {n: d for n, d in program.experts.items() if n != COMPOSITION}
    table = Program(experts=declared).expert_table()
    infos: dict[str, PatternInfo] = {}
    limits = pattern_limits(program)
    owners: dict[tuple[Span, str, str], str] = {}  # a family diagnostic -> its first instance
    for p in program.patterns.values():
        pd, info = check_pattern(p, program, table, limits.get(p.name, DEFAULT_LIMITS))
        if p.family_name is not None:  # the instances share their source: report it once
            if p.name == program.families[p.family_name][0]:
                pd += _check_family(p, limits.get(p.name, DEFAULT_LIMITS))
            pd = _once(pd, {p.name: p.family_name}, owners, p.name)
        diags += pd
        infos[p.name] = info
    for ds in program.datasets.values():
        families = {w.pattern: program.patterns[w.pattern].family_name for w in ds.patterns
                    if w.pattern in program.patterns
                    and program.patterns[w.pattern].family_name is not None}
        diags += _once(check_dataset(ds, infos, table), families, {})  # type: ignore[arg-type]
    diags += _check_template_splits(program)
    return CheckResult(diags, infos, table)


def _once(diags: list[Diagnostic], families: dict[str, str],
          owners: dict[tuple[Span, str, str], str], instance: str | None = None
          ) -> list[Diagnostic]:
    """Diagnostics of family instances (`families`: instance -> family) as one: the instance's
    name becomes the family's, and what another instance reported at the same place is
    dropped. `instance`: whose diagnostics these are (else: the instance a message names;
    diagnostics naming none pass unchanged)."""
    if not families:
        return diags
    names = re.compile(r"\b(" + "|".join(map(re.escape, families)) + r")\b")
    out = []
    for d in diags:
        named = names.search(d.message)
        owner = instance or (named.group(1) if named else None)
        if owner is None:
            out.append(d)
            continue
        message = names.sub(lambda m: families[m.group(1)], d.message)
        key = (d.span, d.code, message)
        if owners.setdefault(key, owner) == owner:
            out.append(dataclasses.replace(d, message=message) if named else d)
    return out


def _check_template_splits(program: Program) -> list[Diagnostic]:
    """`template for trian`: a split that no dataset listing the pattern declares makes the
    template unused, which is almost always a typo (patterns no dataset lists are skipped)."""
    splits: dict[str, set[str]] = {}
    for ds in program.datasets.values():
        for w in ds.patterns:
            splits.setdefault(w.pattern, set()).update(s.name for s in ds.splits)
    diags = []
    for p in program.patterns.values():
        known = splits.get(p.name)
        if not known:
            continue
        for t in p.templates:
            for name in t.splits:
                if name not in known:
                    diags.append(warning("unknown-split", f"no dataset listing {p.name} has a "
                                         f"split {name}: this template is never used", t.span,
                                         f"splits: {', '.join(sorted(known))}",
                                         help=did_you_mean(name, known)))
    return diags


def _check_family(p: ast.Pattern, limits: Limits) -> list[Diagnostic]:
    """A family's values are one let's values across its instances: one type, like a choice."""
    assert p.family is not None
    diags: list[Diagnostic] = []
    scope = _Scope({}, diags, limits)
    types = {scope.infer(item.value) for item in p.family.items} - {Ty.UNKNOWN}
    if len(types) > 1:
        diags.append(error("type-error", f"family {p.family_name} mixes numbers and text",
                           p.family.span))
    return diags
