"""`import gsm8k --as-task`: each convertible GSM8K problem becomes a `.task` pattern.

The question is the template; every number the converted trace reads that the question
states in digits becomes a let whose range stays around the original value (same magnitude,
integral where it was, a step that keeps its roundness, money and percent kept); a value
stated twice in digits is one let shown twice, so whichever statement the trace meant, it
reads the right number. The converted trace is the gold trace, its inits named after the
noun that follows the number. Intermediates and the answer keep the integrality and sign
they had (a one-let condition as that let's `where`, the rest as `require`s over hidden
lets). Numbers the trace does not read stay literal, and so do the constants it reads
(`half` as 2) and any 1, so their meaning holds for every draw.

A problem is rejected, with a stable reason, whenever the templating could change what the
question means: a value the trace reads that the question also states in words (`two
daughters`, `2 hours`), a computed value that equals a stated number (the converter may
have wired either one), a constant the question does not ground, constraints that almost no
draw meets, a domain too small, a budget the longest draw could exceed, or a question that
shares an n-gram with a benchmark. The reasons are counted in `astask_report.json`.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from runtime import Grounding, render
from runtime.analysis import shape_of
from runtime.errors import TraceError
from runtime.gsm8k import convert, question_mentions
from runtime.numbers import format_number
from runtime.ops import COMPUTE_OPS, ComputeStep, InitStep, QueryStep, Step
from runtime.trace import Trace

from . import __version__
from .budget import ByteUpperBound
from .decontaminate import BenchmarkSource, Index, load_all
from .diagnostics import Span
from .files import staged_output
from .importer import InputError, RefProblem, read_reference
from .settings import default_system
from .splits import question_key

# Stable rejection reasons (the report and the docs count them).
DUPLICATE = "duplicate_question"
STATED_TWICE = "number_stated_twice"  # a value the trace reads is stated again, not in digits
SAME_VALUE = "two_inits_same_value"  # two quantities of one value: which mention is which?
RESULT_STATED = "result_equals_stated_number"  # a step's value is also a stated number
UNGROUNDED = "ungrounded_constant"  # a constant the question does not state: computed in the head
UNSUPPORTED = "unsupported_op"
ZERO = "zero_value"
TIGHT = "constraints_too_tight"  # under MIN_ACCEPT of the draws meet the constraints
SMALL = "domain_too_small"
NOTHING = "nothing_to_vary"  # the trace reads no number the question states once in digits
BUDGET = "token_budget"
OVERLAP = "benchmark_overlap"

PER_PATTERN = 4  # train examples per pattern in each file's dataset
PER_FILE = 100  # patterns per output file (one dataset block each)
DRAWS = 300  # draws used to estimate a pattern's acceptance and distinct payloads
MIN_ACCEPT = 0.05  # the compiler refuses above 98% rejection; keep a margin
MAX_LENGTH, MAX_NEW_TOKENS = 1024, 750  # the compiler's defaults, which the output keeps
DIGIT_MARGIN = 4  # bytes a drawn value may add over the original (2x the value, money cents)
SEED = 20261204
MAX_WHERE = 4096  # a `where` let's values are listed when there are at most this many
MAX_INLINE = 70  # a let's `where` stays this short; longer conditions are `require`s
MIN_VALUES = 10  # values a let has at least (2000 moves by 500 over 1000..5500)

# A number stated in digits, as its own word: `48`, `$2.50`, `1,200`, `25%` (the % is read
# after). Not part of `5th`, `3:30`, `1/2` or `2.5.3`: those stay literal.
_MENTION = re.compile(
    r"(?<![\w.,/:$])(?P<money>\$)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?(?![\w/:]|[.,]\d)")
_COMPARE = frozenset({"more", "less", "fewer", "extra"})
_STOP = frozenset([
    "a", "an", "the", "of", "to", "for", "in", "on", "at", "by", "and", "or", "per", "each",
    "every", "more", "less", "than", "as", "is", "are", "was", "were", "be", "it", "its", "his",
    "her", "their", "he", "she", "they", "them", "that", "this", "these", "those", "from", "with",
    "into", "out", "up", "down", "off", "over", "times", "time", "total", "some", "all", "other",
    "another", "half", "twice", "much", "many", "if", "so", "then",
])
# Names a let may not take: reserved lets, the trace's own names, the language's words.
_BANNED = frozenset([
    "answer", "prev", "hidden", "result", "int", "decimal", "choice", "pick", "generate", "from",
    "where", "if", "then", "else", "and", "or", "not", "for", "in", "step", "min", "max", "sum",
    "len", "abs", "floor", "ceil", "round", "is_int", "true", "false", "let", "require", "template",
    "trace", "query", "init", "note",
])
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%",
          "pow": "**"}
_CALLS = frozenset({"min", "max", "floor", "ceil", "round"})
_ROUND_STEPS = (1000000, 500000, 100000, 50000, 10000, 5000, 1000, 500, 100, 50, 25, 10, 5, 1)
_FINE_STEPS = tuple(Fraction(s) for s in ("0.5", "0.25", "0.1", "0.05", "0.01", "0.001"))


@dataclass(frozen=True, slots=True)
class Mention:
    start: int
    end: int  # exclusive, after the digits (a `%` is not included)
    value: Fraction
    money: bool
    comma: bool
    percent: bool


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    value: Fraction  # the original
    mention: Mention  # the first statement of the value
    lo: Fraction
    hi: Fraction
    step: Fraction
    again: tuple[Mention, ...] = ()  # later digit statements of the same value: one let for all

    @property
    def mentions(self) -> tuple[Mention, ...]:
        return (self.mention, *self.again)

    @property
    def integral(self) -> bool:
        return self.step.denominator == 1

    def size(self) -> int:
        return int((self.hi - self.lo) / self.step) + 1

    def sampler(self) -> str:
        kind = "int" if self.integral else "decimal"
        text = f"{kind} {_num(self.lo)}..{_num(self.hi)}"
        return text if self.integral and self.step == 1 else f"{text} step {_num(self.step)}"

    def placeholder(self, mention: Mention) -> str:
        fmt = ":money" if mention.money else ":comma" if mention.comma else ""
        return "{" + self.name + fmt + "}"


@dataclass(frozen=True, slots=True)
class Held:
    """A step's value as a hidden let, and what the original had that a draw could lose.

    A condition that reads one let only is written as that let's `where` (its values are
    drawn among those that pass, LANGUAGE.md 5.1.1), the rest as a `require`."""

    name: str
    expr: str  # over lets, constants and earlier held values
    original: Fraction
    whole: bool  # require is_int
    sign: bool  # require > 0 (>= 0 for an original 0)
    inline: str = ""  # the value over lets and constants only
    where_on: str | None = None  # the one let the value reads, when `where` can hold it

    def condition(self, subject: str) -> str | None:
        kept = [f"is_int({subject})"] if self.whole else []
        if self.sign:
            kept.append(f"{_wrap(subject)} > 0" if self.original > 0 else f"{_wrap(subject)} >= 0")
        return " and ".join(kept) or None

    def require(self) -> str | None:
        return None if self.where_on is not None else self.condition(self.name)

    def where(self) -> str | None:
        return None if self.where_on is None else self.condition(self.inline)

    def kept(self, value: Fraction) -> bool:
        """The condition, evaluated."""
        if self.whole and value.denominator != 1:
            return False
        return not self.sign or (value > 0 if self.original > 0 else value >= 0)


def _wrap(expr: str) -> str:
    return expr if re.fullmatch(r"[A-Za-z0-9_.]+|[a-z_]+\(.*\)", expr) else f"({expr})"


@dataclass(frozen=True, slots=True)
class Pattern:
    """One templated problem, ready to write."""

    name: str
    source: str  # FILE:LINE
    lets: tuple[Let, ...]
    template: str  # the question with placeholders (unescaped)
    trace: tuple[str, ...]  # trace statements
    hidden: tuple[Held, ...]  # every step's value, in order
    constants: tuple[Fraction, ...]  # ungrounded unit conversions the dataset must declare
    shape: str | None
    completion: str  # the gold trace rendered with the original values

    def text(self) -> str:
        lines = [f"# source: {self.source}", f"pattern {self.name} {{"]
        for let in self.lets:
            where = " and ".join(w for h in self.hidden if h.where_on == let.name
                                 and (w := h.where()) is not None)
            sampler = f"{let.sampler()} where {where}" if where else let.sampler()
            lines.append(f"    let {let.name} = {sampler}  # was {_num(let.value)}")
        needed = self.needed()
        lines += [f"    let hidden {h.name} = {h.expr}" for h in self.hidden if h.name in needed]
        lines += [f"    require {r}" for h in self.hidden if (r := h.require()) is not None]
        lines.append(f"    template {_quote(self.template)}")
        lines.append("    trace arithmetic {")
        lines += [f"        {s}" for s in self.trace]
        lines += ["    }", "}"]
        return "\n".join(lines) + "\n"

    def needed(self) -> set[str]:
        """The held values a require reads, directly or through a later one."""
        needed = {h.name for h in self.hidden if h.require() is not None}
        for h in reversed(self.hidden):
            if h.name in needed:
                needed |= {n for n in re.findall(r"[a-z_][a-z0-9_]*", h.expr)
                           if n.endswith("_value")}
        return needed


@dataclass
class AsTaskResult:
    out_dir: Path | None
    total: int
    patterns: list[Pattern] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    files: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


class Rejected(Exception):
    """A problem that cannot be templated safely; `reason` is one of the stable codes above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ================================================================ numbers and names


def mentions(question: str) -> list[Mention]:
    """Every number the question states in digits, in order."""
    out = []
    for m in _MENTION.finditer(question):
        digits = m.group("int").replace(",", "") + (m.group("frac") or "")
        out.append(Mention(m.start(), m.end(), Fraction(digits), m.group("money") is not None,
                           "," in m.group("int"), question.startswith("%", m.end())))
    return out


def _num(value: Fraction) -> str:
    """A number as a .task literal (exact: a non-terminating fraction is written n/d)."""
    text = format_number(value)
    if "/" in text:
        return f"({value.numerator}/{value.denominator})"
    return text if value >= 0 else f"({text})"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def noun_after(question: str, mention: Mention) -> str | None:
    """The word after a number, when it reads as its unit (`48 clips` -> clips, `40 more
    goats` -> more_goats, `100-page books` -> page)."""
    words = _next_words(question[mention.end + (1 if mention.percent else 0):])
    if not words:
        return None
    if words[0] in _COMPARE:
        return f"{words[0]}_{words[1]}" if len(words) > 1 and words[1] not in _STOP else words[0]
    return None if words[0] in _STOP or len(words[0]) < 2 else words[0]


_UNIT = re.compile(r"^[ -]([A-Za-z]+)(?: ([A-Za-z]+))?")


def _next_words(rest: str) -> list[str]:
    m = _UNIT.match(rest)
    return [] if m is None else [w.lower() for w in m.groups() if w]


def _name(question: str, mention: Mention, taken: set[str]) -> str:
    noun = noun_after(question, mention)
    # The word after a percent is rarely its noun (`20% off`, `5% typically`).
    base = "percent" if mention.percent else noun or ("dollars" if mention.money else "n")
    if base in _BANNED:
        base = f"{base}_n"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _const_name(value: Fraction, taken: set[str]) -> str:
    base = "c" + format_number(value).replace(".", "_").replace("/", "_").replace("-", "neg")
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


# ================================================================ ranges


def value_range(value: Fraction, percent: bool, narrow: bool = False) -> tuple[Fraction, Fraction, Fraction]:
    """(lo, hi, step) around `value`: the same magnitude, a step that keeps its roundness
    (500 moves by 100, 2.5 by 0.5), whole where it was whole, at most 100 for a percent
    that was."""
    if value.denominator == 1:
        n = int(value)
        step = Fraction(next(s for s in _ROUND_STEPS if n % s == 0 and n // s >= 4 or s == 1))
    else:
        step = next((s for s in _FINE_STEPS if (value / s).denominator == 1),
                    Fraction(1, 10 ** len(format_number(value).split(".")[-1])))
    low, high = (value * 3 / 4, value * 3 / 2) if narrow else (value / 2, value * 2)
    # A plural stays plural: `4 hours` never becomes `1 hours`.
    lo = max(step if value < 2 else max(step, Fraction(2)), math.floor(low / step) * step)
    hi = max(math.ceil(high / step) * step, lo + (MIN_VALUES - 1) * step)
    if percent and value <= 100:
        hi = min(hi, Fraction(100))
    return Fraction(lo), Fraction(hi), step


# ================================================================ templating one problem


@dataclass
class _Built:
    lets: list[Let]
    consts: dict[str, Fraction]  # trace var -> constant value
    names: dict[str, str]  # converter var -> new var


def _values(trace: Trace) -> dict[str, Fraction]:
    """Every variable's value, computed exactly (the trace already executed to the gold)."""
    env: dict[str, Fraction] = {}
    for step in trace.steps:
        if isinstance(step, InitStep):
            assert step.value is not None
            env[step.var] = step.value
        elif isinstance(step, ComputeStep):
            env[step.var] = _apply(step.compute_op, [env[a] for a in step.args])
    return env


def _apply(op: str, args: Sequence[Fraction]) -> Fraction:
    """The runtime's own arithmetic (runtime.ops): one home for what `div` or `round` mean.
    Raises TraceError for what the runtime refuses (a division by zero)."""
    spec = COMPUTE_OPS.get(op)
    if spec is None:
        raise Rejected(UNSUPPORTED)
    return Fraction(spec.fn(list(args)))


def _bind(problem: RefProblem, trace: Trace, found: list[Mention], narrow: bool) -> _Built:
    """Which inits become lets (a number stated once in digits) and which stay constants."""
    inits = [s for s in trace.steps if isinstance(s, InitStep)]
    if len({s.value for s in inits}) != len(inits):
        raise Rejected(SAME_VALUE)
    taken: set[str] = set()
    built = _Built([], {}, {})
    stated = question_mentions(problem.question)  # digits and words: `two daughters`, `2 hours`
    for step in sorted(inits, key=lambda s: _first_at(found, s.value)):
        assert step.value is not None
        # A 1 stays literal: `1 sandwich` drawn as `5 sandwich` would break its noun.
        hits = [m for m in found if m.value == step.value] if step.value != 1 else []
        # Stated again in digits, the value is tied: every statement shows the same draw, so
        # whichever one the trace meant, it reads the right number. Stated again in words
        # (`two daughters`, `2 hours`) or in another form (`5th`), it is ambiguous.
        if hits and (stated[step.value] != len(hits)
                     or len({(m.money, m.percent) for m in hits}) > 1):
            raise Rejected(STATED_TWICE)
        if hits:
            if step.value <= 0:
                raise Rejected(ZERO)
            lo, hi, by = value_range(step.value, hits[0].percent, narrow)
            let = Let(_name(problem.question, hits[0], taken), step.value, hits[0], lo, hi, by,
                      tuple(hits[1:]))
            built.lets.append(let)
            built.names[step.var] = let.name
    # A constant must be grounded by what stays literal, not by a number that will change.
    literal = Grounding.of(_literal_text(problem.question, built.lets))
    for step in inits:
        assert step.value is not None
        if step.var in built.names:
            continue
        if not literal.grounds(step.value) and not _conversion(step.value):
            raise Rejected(UNGROUNDED)
        built.names[step.var] = _const_name(step.value, taken)
        built.consts[built.names[step.var]] = step.value
    return built


def _first_at(found: list[Mention], value: Fraction | None) -> int:
    return next((m.start for m in found if m.value == value), 1 << 30)


def _conversion(value: Fraction) -> bool:
    """A power of ten (0.01 for a percent, 1/1000): a conversion, not a hidden quantity."""
    return any(value == Fraction(10) ** k for k in range(-3, 7))


def _template(question: str, lets: list[Let]) -> str:
    """The question with each let's number replaced by its placeholder; braces escaped."""
    out, at = [], 0
    for let, m in sorted(((x, m) for x in lets for m in x.mentions), key=lambda pair: pair[1].start):
        out.append(question[at:m.start].replace("{", "{{").replace("}", "}}"))
        out.append(let.placeholder(m))
        at = m.end
    out.append(question[at:].replace("{", "{{").replace("}", "}}"))
    return "".join(out)


def _literal_text(question: str, lets: list[Let]) -> str:
    """What every draw's question states: the question without the numbers that change."""
    for m in sorted((m for let in lets for m in let.mentions), key=lambda m: -m.start):
        question = question[:m.start] + "N" + question[m.end:]
    return question


def _expr(op: str, args: list[str]) -> str:
    if op in _INFIX:
        return "(" + f" {_INFIX[op]} ".join(args) + ")"
    if op in _CALLS:
        return f"{op}({', '.join(args)})"
    raise Rejected(UNSUPPORTED)


def _statements(trace: Trace, built: _Built) -> tuple[list[str], list[Held]]:
    """Trace statements and a held value per step, with the requires that keep what the
    original had (only those a draw could break: a sum of whole numbers stays whole)."""
    original = _values(trace)
    lines: list[str] = []
    held: list[Held] = []
    expr: dict[str, str] = {}
    whole: dict[str, bool] = {}  # surely whole for every draw
    positive: dict[str, bool] = {}  # surely positive for every draw
    lets = {let.name: let for let in built.lets}
    where_chars: Counter[str] = Counter()  # the length of each let's `where` so far
    inline: dict[str, str] = {}  # over lets and constants only
    deps: dict[str, set[str]] = {}  # the lets a value reads
    for step in trace.steps:
        if isinstance(step, InitStep):
            name = built.names[step.var]
            assert step.value is not None
            if name in built.consts:
                lines.append(f"init {name} = {_num(built.consts[name])}")
                expr[step.var] = _num(built.consts[name])
                whole[step.var] = step.value.denominator == 1
            else:
                lines.append(f"init {name}")
                expr[step.var] = name
                whole[step.var] = lets[name].integral
            inline[step.var] = expr[step.var]
            deps[step.var] = set() if name in built.consts else {name}
            positive[step.var] = step.value > 0
        elif isinstance(step, ComputeStep):
            args = [built.names.get(a, a) for a in step.args]
            lines.append(f"{step.var} = {step.compute_op}({', '.join(args)})")
            op, value = step.compute_op, original[step.var]
            whole[step.var] = op in ("floordiv", "floor", "ceil") or (
                op in ("add", "sub", "mul", "min", "max") and all(whole[a] for a in step.args))
            positive[step.var] = op in ("add", "mul", "div", "min", "max") and all(
                positive[a] for a in step.args)
            name = f"{step.var}_value"
            text = _expr(op, [expr[a] for a in step.args])
            inline[step.var] = _expr(op, [inline[a] for a in step.args])
            deps[step.var] = set().union(*(deps[a] for a in step.args))
            alone = next(iter(deps[step.var])) if len(deps[step.var]) == 1 else None
            where_on = alone if alone and lets[alone].size() <= MAX_WHERE and (
                where_chars[alone] + len(inline[step.var]) <= MAX_INLINE) else None
            if where_on is not None and value.denominator == 1 and not whole[step.var] \
                    or where_on is not None and value >= 0 and not positive[step.var]:
                where_chars[where_on] += len(inline[step.var]) + 12
            held.append(Held(name, text[1:-1] if op in _INFIX else text, value,
                             value.denominator == 1 and not whole[step.var],
                             value >= 0 and not positive[step.var],
                             inline[step.var][1:-1] if op in _INFIX else inline[step.var], where_on))
            expr[step.var] = name
            # What a require keeps holds for the steps after it.
            whole[step.var] = whole[step.var] or value.denominator == 1
            positive[step.var] = positive[step.var] or value > 0
        elif isinstance(step, QueryStep):
            lines.append(f"query {step.var}")
    return lines, held


def template_problem(problem: RefProblem, source: str, narrow: bool = False) -> Pattern:
    """One problem as a pattern, or Rejected with the reason it cannot be templated safely."""
    conv = convert(problem.answer, problem.question)
    if not conv.ok or not isinstance(conv.trace, Trace):
        raise Rejected(conv.reason or "not_converted")
    trace = conv.trace
    for step in trace.steps:
        if isinstance(step, ComputeStep) and step.compute_op not in _INFIX | dict.fromkeys(_CALLS):
            raise Rejected(UNSUPPORTED)
    found = mentions(problem.question)
    stated = {m.value for m in found}
    values = _values(trace)
    # A value a later step reads could be either the step or the stated number; the answer
    # itself is read by nothing, so it may equal one.
    read = {a for s in trace.steps if isinstance(s, ComputeStep) for a in s.args}
    if any(values[s.var] in stated for s in trace.steps
           if isinstance(s, ComputeStep) and s.var in read):
        raise Rejected(RESULT_STATED)
    built = _bind(problem, trace, found, narrow)
    lines, hidden = _statements(trace, built)
    template = _template(problem.question, built.lets)
    literal = Grounding.of(_literal_text(problem.question, built.lets))
    constants = tuple(sorted(v for v in built.consts.values() if not literal.grounds(v)))
    renamed = _renamed(trace, built.names)
    return Pattern(f"gsm8k_line{problem.line}", source, tuple(built.lets), template,
                   tuple(lines), tuple(hidden), constants, shape_of(renamed),
                   render(renamed))


def _renamed(trace: Trace, names: dict[str, str]) -> Trace:
    """The gold trace with the new names, original values: what the budget is measured on."""
    steps: list[Step] = []
    for step in trace.steps:
        if isinstance(step, InitStep):
            steps.append(step.model_copy(update={"var": names[step.var]}))
        elif isinstance(step, ComputeStep):
            steps.append(step.model_copy(update={"args": tuple(names.get(a, a) for a in step.args)}))
        else:
            steps.append(step)
    return Trace.trusted(trace.expert, tuple(steps))


# ================================================================ measuring a pattern


def acceptance(p: Pattern, draws: int = DRAWS, seed: int = SEED) -> tuple[float, int]:
    """(share of draws meeting every require, distinct accepted payloads): a quick estimate,
    with the same arithmetic, of what the compiler's preflight will measure."""
    rng = random.Random(f"{seed}:{p.name}")
    values = {let.name: _where_values(p, let) for let in p.lets}
    if not all(values.values()):
        return 0.0, 0
    accepted, payloads = 0, set()
    for _ in range(draws):
        env = {name: rng.choice(vs) for name, vs in values.items()}
        if _meets(p, env):
            accepted += 1
            payloads.add(tuple(env.values()))
    return accepted / draws, len(payloads)


def _where_values(p: Pattern, let: Let) -> list[Fraction]:
    """The let's values that pass its `where` (all of them without one)."""
    grid = [let.lo + let.step * i for i in range(let.size())]
    conds = [h for h in p.hidden if h.where_on == let.name]
    if not conds:
        return grid
    out = []
    for v in grid:
        env = {let.name: v}
        if all((x := _evaluate(h.inline, env)) is not None and h.kept(x) for h in conds):
            out.append(v)
    return out


def _meets(p: Pattern, env: dict[str, Fraction]) -> bool:
    for h in p.hidden:
        value = _evaluate(h.expr, env)
        if value is None or not h.kept(value):
            return False
        env[h.name] = value
    return True


_EXPR_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\*\*|//|[-+*/%(),]))")


def _evaluate(text: str, env: dict[str, Fraction]) -> Fraction | None:
    """Evaluate an expression this module wrote (numbers, names, + - * / // % **, calls).
    A small recursive-descent reader, not eval; None when it cannot be computed."""
    tokens = [(m.lastgroup, m.group(m.lastgroup or "op")) for m in _EXPR_TOKEN.finditer(text)]
    pos = 0

    def peek() -> str | None:
        return tokens[pos][1] if pos < len(tokens) else None

    def take() -> tuple[str | None, str]:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom() -> Fraction:
        kind, tok = take()
        if tok == "(":
            value = binary(0)
            take()
            return value
        if tok == "-":
            return -atom()
        if kind == "num":
            return Fraction(tok)
        if peek() == "(":
            take()
            args = [binary(0)]
            while peek() == ",":
                take()
                args.append(binary(0))
            take()
            return _apply(tok, args)
        return env[tok]

    levels = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "%": 2, "**": 3}
    ops = {"+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "%": "mod", "**": "pow"}

    def binary(min_level: int) -> Fraction:
        left = atom()
        while (tok := peek()) in levels and levels[tok or ""] > min_level:
            take()
            left = _apply(ops[tok or ""], [left, binary(levels[tok or ""])])
        return left

    try:
        return binary(0)
    except (TraceError, ZeroDivisionError, KeyError, IndexError, ValueError, OverflowError):
        return None


def _budget(p: Pattern, system: str, counter: ByteUpperBound) -> bool:
    """Whether the longest draw fits the compiler's default max_length and max_new_tokens:
    the original's lengths plus a few bytes for each value that may grow."""
    margin = DIGIT_MARGIN * max(1, len(p.lets))
    completion = counter.text_lengths([p.completion])[0] + margin
    question = _PLACEHOLDER.sub("x" * 12, p.template)  # wider than any drawn value
    prompt = counter.prompt_lengths([(system, question)])[0] + margin
    return completion + 1 <= MAX_NEW_TOKENS and prompt + completion + 1 <= MAX_LENGTH


_PLACEHOLDER = re.compile(r"(?<!\{)\{[a-z_0-9]+(?::[a-z]+)?\}")


# ================================================================ the whole file


Checker = Callable[[str], str | None]


def template_all(problems: list[RefProblem], source_name: str, overlap: Checker | None = None
                 ) -> AsTaskResult:
    """Template every problem; the rejected ones are kept with their reason."""
    result = AsTaskResult(None, len(problems))
    seen: set[bytes] = set()
    system = default_system(["arithmetic"])
    counter = ByteUpperBound()
    for problem in problems:
        try:
            key = question_key(problem.question)
            if key in seen:
                raise Rejected(DUPLICATE)
            seen.add(key)
            result.patterns.append(_one(problem, f"{source_name}:{problem.line}", system,
                                        counter, overlap))
        except Rejected as why:
            result.reasons[why.reason] += 1
            result.rejected.append((problem.line, why.reason))
    return result


def _one(problem: RefProblem, source: str, system: str, counter: ByteUpperBound,
         overlap: Checker | None) -> Pattern:
    pattern = template_problem(problem, source)
    if not pattern.lets:
        raise Rejected(NOTHING)
    rate, distinct = acceptance(pattern)
    if rate < MIN_ACCEPT:  # narrower ranges meet divisibility more often
        pattern = template_problem(problem, source, narrow=True)
        rate, distinct = acceptance(pattern)
    if rate < MIN_ACCEPT:
        raise Rejected(TIGHT)
    if distinct < 2 * PER_PATTERN:
        raise Rejected(SMALL)
    if not _budget(pattern, system, counter):
        raise Rejected(BUDGET)
    if overlap is not None and overlap(problem.question) is not None:
        raise Rejected(OVERLAP)
    return pattern


def file_text(index: int, patterns: Sequence[Pattern], source: str) -> str:
    """One output file: its patterns and one dataset block listing them."""
    consts = sorted({c for p in patterns for c in p.constants})
    head = [f"# Templated from {source} by `tasklang import gsm8k --as-task` (tasklang {__version__}).",
            "# GSM8K is MIT-licensed (Cobbe et al. 2021); each pattern names its source line.", ""]
    body = [p.text() for p in patterns]
    dataset = [f"dataset gsm8k_{index:04d} {{  # allow: step-count-mismatch, inconsistent-query",
               "    patterns " + ", ".join(p.name for p in patterns),
               f"    split train {PER_PATTERN * len(patterns)}",
               f"    seed {SEED}", "    unique payloads", "    min_template_repeats 1"]
    if consts:
        dataset.append("    constants " + ", ".join(format_number(c) for c in consts))
    dataset.append("}")
    return "\n".join(head) + "\n" + "\n".join(body) + "\n" + "\n".join(dataset) + "\n"


def benchmark_index(paths: Sequence[str], ngram: int) -> Index:
    """`--decontaminate` files read as `compile --decontaminate` reads them (relative to the
    working directory, not confined). Raises InputError for one that does not load."""
    loaded, diags = load_all(BenchmarkSource(Path(p), p, ngram, Span.point(p), "command line")
                             for p in paths)
    bad = [d.message for d in diags if d.is_error]
    if bad:
        raise InputError("; ".join(bad))
    return Index(loaded)


def import_as_task(ref: str | Path, out: str | Path, overlap: Index | None = None,
                   per_file: int = PER_FILE, lines: tuple[int, int] | None = None) -> AsTaskResult:
    """Template `ref` into `out/gsm8k_NNNN.task` files plus `astask_report.json`; with
    `lines` (first, last; 1-based, inclusive), only the problems on those lines.

    Raises InputError for unreadable input; writes nothing when no problem templates.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"cannot write {out}: Not a directory")
    problems = read_reference(ref, need_question=True)
    if lines is not None:
        problems = [p for p in problems if lines[0] <= p.line <= lines[1]]
    checker: Checker | None = None
    if overlap is not None:
        index = overlap

        def checker(question: str) -> str | None:
            hit = index.first_overlap(question)
            return None if hit is None else index.where(hit)

    result = template_all(problems, Path(ref).name, checker)
    result.report = _report(ref, result)
    result.report["lines"] = list(lines) if lines is not None else None
    if not result.patterns:
        return result
    chunks = [result.patterns[i:i + per_file] for i in range(0, len(result.patterns), per_file)]
    result.files = [f"gsm8k_{i:04d}.task" for i in range(1, len(chunks) + 1)]
    result.report["files"] = result.files
    with staged_output(out.parent, shown=out, names=[out.name]) as staging:
        tmp = staging.dir / out.name
        tmp.mkdir()
        for i, chunk in enumerate(chunks, start=1):
            (tmp / f"gsm8k_{i:04d}.task").write_text(file_text(i, chunk, Path(ref).name),
                                                      encoding="utf-8", newline="\n")
        (tmp / "astask_report.json").write_text(json.dumps(result.report, indent=1) + "\n",
                                                encoding="utf-8")
        staging.commit([out.name])
    result.out_dir = out
    return result


def _report(ref: str | Path, result: AsTaskResult) -> dict[str, Any]:
    total = result.total or 1
    return {
        "tool": "tasklang", "version": __version__, "source": Path(ref).name,
        "problems": result.total, "templated": len(result.patterns),
        "rejected": sum(result.reasons.values()),
        "reasons": dict(sorted(result.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "rates": {r: round(n / total, 4) for r, n in sorted(result.reasons.items())},
        "rejected_lines": [{"line": line, "reason": why} for line, why in result.rejected],
        "patterns": [{"name": p.name, "source": p.source, "lets": len(p.lets)}
                     for p in result.patterns],
    }
