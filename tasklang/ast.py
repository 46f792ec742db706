"""The typed, frozen AST of `.task` files: one dataclass per construct, each with its span."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TypeAlias

from .diagnostics import Span

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Num:
    value: Fraction
    span: Span


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Ref:
    """`price` or `who.subj` (a field of a vocabulary entry)."""

    parts: tuple[str, ...]
    span: Span
    part_spans: tuple[Span, ...] = ()  # each name alone (`prise` in `item.prise`, for carets)

    @property
    def name(self) -> str:
        return self.parts[0]


@dataclass(frozen=True, slots=True)
class Call:
    fn: str
    args: tuple[Expr, ...]
    span: Span
    name_span: Span | None = None  # the function's name alone (for carets)


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str  # + - * / // % **
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # and | or
    operands: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Compare:
    """`a < b <= c`: chained like Python."""

    first: Expr
    rest: tuple[tuple[str, Expr], ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Cond:
    """`if test then a else b`: only the taken branch is evaluated."""

    test: Expr
    then: Expr
    orelse: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ListExpr:
    """`[a, b * 2, 10]`: a list of numbers, computed per sample."""

    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Comprehension:
    """`[p * 2 for p in prices if p <= budget]` (or `for p in 1..20`): the kept elements, in
    order. `var` is bound in `element` and `cond` only."""

    element: Expr
    var: str
    source: Expr  # a list, or a range's start when `hi` is set
    hi: Expr | None  # `for p in lo..hi`: the whole numbers lo to hi
    cond: Expr | None
    span: Span
    var_span: Span


@dataclass(frozen=True, slots=True)
class RecordField:
    name: str
    value: Expr
    span: Span  # the field's name alone


@dataclass(frozen=True, slots=True)
class RecordExpr:
    """`{name: "pen", price: 3}`: a named tuple of text and number fields."""

    fields: tuple[RecordField, ...]
    span: Span


Expr: TypeAlias = (Num | Str | Ref | Call | BinOp | Neg | Not | BoolOp | Compare | Cond | ListExpr
                   | Comprehension | RecordExpr)

# ---------------------------------------------------------------- samplers (right of `let x =`)


@dataclass(frozen=True, slots=True)
class IntRange:
    lo: Expr
    hi: Expr
    step: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class DecimalRange:
    lo: Expr
    hi: Expr
    step: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ChoiceItem:
    label: str | None  # "half" = 1/2 renders as "half", computes as 0.5
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Choice:
    items: tuple[ChoiceItem, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class ChoiceFrom:
    """`choice from [p for p in ... if C] else 20`: uniform over the list's elements (given the
    lets above); `fallback` when the list is empty (None: the sample is rejected)."""

    values: Expr
    fallback: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class Pick:
    vocab: str
    max_tokens: int | None
    distinct_from: tuple[str, ...]
    span: Span
    vocab_span: Span | None = None  # the vocab's name alone


@dataclass(frozen=True, slots=True)
class Generate:
    generator: str
    kwargs: tuple[tuple[str, Expr], ...]
    span: Span
    name_span: Span | None = None  # the generator's name alone


@dataclass(frozen=True, slots=True)
class Derived:
    expr: Expr
    span: Span


Sampler: TypeAlias = IntRange | DecimalRange | Choice | ChoiceFrom | Pick | Generate | Derived

# ---------------------------------------------------------------- pattern statements


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    sampler: Sampler
    span: Span
    # `where C`: the let alone is redrawn until C holds (uniform over the values that pass).
    where: Expr | None = None
    hidden: bool = False  # `let hidden x`: not in the payload, refused in templates


@dataclass(frozen=True, slots=True)
class Require:
    expr: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Template:
    name: str | None
    splits: tuple[str, ...]  # empty: every split
    lang: str | None  # None: the dataset's main language
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class TVar:
    """A trace variable name; `templated` ones interpolate payload values (`{who}.eggs`)."""

    text: str
    templated: bool
    span: Span


@dataclass(frozen=True, slots=True)
class TInit:
    var: TVar
    value: Expr | None  # None: the let of the same name
    from_prev: bool  # `init x = prev`: the previous sub-trace's result
    span: Span


@dataclass(frozen=True, slots=True)
class TOp:
    """`out = op(args)` (out is None for in-place domain ops like consume)."""

    out: TVar | None
    op: str
    args: tuple[TVar, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class TConst:
    """A number written as an op argument (`mul(hours, 60)`); lowered (tasklang.lower) to an
    explicit `init` before the op, so a trace stays init/compute/query."""

    value: Fraction
    span: Span


@dataclass(frozen=True, slots=True)
class TCall:
    """A nested op as an argument (`add(mul(a, b), c)`); lowered to a fresh step before."""

    op: str
    args: tuple[TArg, ...]
    span: Span


TArg: TypeAlias = "TVar | TConst | TCall"


@dataclass(frozen=True, slots=True)
class TQuery:
    var: TVar
    span: Span


TStmt: TypeAlias = TInit | TOp | TQuery


@dataclass(frozen=True, slots=True)
class TraceBlock:
    expert: str
    steps: tuple[TStmt, ...]
    span: Span
    name_span: Span | None = None  # the expert's name alone: `trace NAME {`


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: str
    span: Span


@dataclass(frozen=True, slots=True)
class Function:
    """`function evaluate_rpn(expression: str) -> int`: the answer is a Python function."""

    name: str
    params: tuple[Param, ...]
    returns: str
    span: Span

    @property
    def signature(self) -> str:
        params = ", ".join(f"{p.name}: {p.type}" for p in self.params)
        return f"{self.name}({params}) -> {self.returns}"


@dataclass(frozen=True, slots=True)
class CaseArg:
    """A generator parameter of `tests`: one value, or `lo..hi` spread over the cases."""

    name: str
    lo: Expr
    hi: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class Tests:
    """`tests 8 from generate rpn(difficulty = 1..7)`: hidden test cases per example."""

    count: Fraction
    generator: str
    kwargs: tuple[CaseArg, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Reference:
    """`reference "code/evaluate_rpn.py"`: the reference solution (path relative to the file)."""

    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class Note:
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Difficulty:
    """`difficulty 2` or `difficulty 1..3`: how hard the pattern's items are, written into
    each record and read by the training curriculum. Constant, or (in a family) computed from
    the family's variable (tasklang.difficulty)."""

    lo: Expr
    hi: Expr | None  # None: `difficulty N`, the range N..N
    span: Span


PatternStmt: TypeAlias = (Let | Require | Template | TraceBlock | Answer | Function | Tests
                          | Reference | Note | Difficulty)


@dataclass(frozen=True, slots=True)
class Family:
    """`pattern fraction_of for part in 1/2, 1/3 { ... }`: one pattern per value."""

    var: str
    items: tuple[ChoiceItem, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Pattern:
    name: str
    body: tuple[PatternStmt, ...]
    span: Span
    # A family as written (parsed), or, on each of its instances (program.py), the family
    # it came from: the instance's first let is `let var = <its value>`.
    family: Family | None = None
    family_name: str | None = None  # on instances: the name the datasets list

    @property
    def lets(self) -> tuple[Let, ...]:
        return tuple(s for s in self.body if isinstance(s, Let))

    @property
    def requires(self) -> tuple[Require, ...]:
        return tuple(s for s in self.body if isinstance(s, Require))

    @property
    def templates(self) -> tuple[Template, ...]:
        return tuple(s for s in self.body if isinstance(s, Template))

    @property
    def traces(self) -> tuple[TraceBlock, ...]:
        return tuple(s for s in self.body if isinstance(s, TraceBlock))

    @property
    def answers(self) -> tuple[Answer, ...]:
        return tuple(s for s in self.body if isinstance(s, Answer))

    @property
    def functions(self) -> tuple[Function, ...]:
        return tuple(s for s in self.body if isinstance(s, Function))

    @property
    def tests(self) -> tuple[Tests, ...]:
        return tuple(s for s in self.body if isinstance(s, Tests))

    @property
    def references(self) -> tuple[Reference, ...]:
        return tuple(s for s in self.body if isinstance(s, Reference))

    @property
    def difficulties(self) -> tuple[Difficulty, ...]:
        return tuple(s for s in self.body if isinstance(s, Difficulty))


# ---------------------------------------------------------------- top level


@dataclass(frozen=True, slots=True)
class Import:
    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class OpSpec:
    name: str
    compute_ops: tuple[str, ...] | None  # compute(add, sub) lists its compute ops
    span: Span
    op_spans: tuple[Span, ...] = ()  # each compute op's name alone


@dataclass(frozen=True, slots=True)
class ExpertDecl:
    name: str
    ops: tuple[OpSpec, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class VocabDecl:
    name: str
    source: str
    span: Span


@dataclass(frozen=True, slots=True)
class Weighted:
    pattern: str
    weight: Fraction
    span: Span


@dataclass(frozen=True, slots=True)
class SplitDecl:
    name: str
    size: Fraction
    held_out: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    value: Fraction | str
    span: Span


@dataclass(frozen=True, slots=True)
class LanguageMix:
    lang: str
    share: Fraction
    span: Span


@dataclass(frozen=True, slots=True)
class UniquePayloads:
    span: Span


@dataclass(frozen=True, slots=True)
class Decontaminate:
    """`decontaminate "bench.jsonl" ngram 8`: no question may share an n-gram with the file."""

    path: str  # relative to the .task file
    ngram: Fraction | None  # None: the default size
    span: Span


@dataclass(frozen=True, slots=True)
class Constants:
    """`constants 1760, 5280`: numbers a trace may init without the question stating them,
    besides the runtime's unit table (runtime/grounding.py). Recorded in every record."""

    values: tuple[Fraction, ...]
    span: Span


DatasetStmt: TypeAlias = (Weighted | SplitDecl | Setting | LanguageMix | UniquePayloads
                          | Decontaminate | Constants)


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    patterns: tuple[Weighted, ...]
    splits: tuple[SplitDecl, ...]
    settings: tuple[Setting, ...]
    languages: tuple[LanguageMix, ...]
    unique_payloads: bool
    span: Span
    decontaminate: tuple[Decontaminate, ...] = ()
    constants: tuple[Constants, ...] = ()


Item: TypeAlias = Import | ExpertDecl | VocabDecl | Pattern | Dataset


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    items: tuple[Item, ...]
