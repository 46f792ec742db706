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
shares an n-gram with a benchmark. Each pattern is then measured by the compiler's own
preflight and lints (astask_preflight): a let whose values never pass, or that the constraints
skew, is narrowed to the values that pass, and a pattern still linted (its answer a number the
question shows, constraints that skew however narrowed) is rejected, so the output is
lint-clean. The reasons are counted in `astask_report.json`.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from runtime import Grounding, render
from runtime.analysis import shape_of
from runtime.gsm8k import convert, question_mentions
from runtime.numbers import format_number
from runtime.ops import COMPUTE_OPS, ComputeStep, InitStep, QueryStep, Step
from runtime.trace import Trace

from . import __version__, lints
from .astask_preflight import preflight_pattern
from .budget import ByteUpperBound
from .decontaminate import BenchmarkSource, Index, load_all
from .diagnostics import Span
from .files import check_writable, staged_output
from .importer import InputError, RefProblem, read_reference
from .preflight import PREFLIGHT
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
# What the compiler's preflight still finds after the importer's own estimate (lints.py):
ANSWER_STATED = "answer_stated"  # the answer is a number the question shows
SKEWED = "skewed_constraints"  # the constraints skew a let's accepted values, however narrowed
NEVER = "never_passes"  # a let's values never pass, however narrowed
_LINT_REASONS = {"answer-stated": ANSWER_STATED, "skewed-let": SKEWED, "never-passes": NEVER}
_NARROWABLE = frozenset({"skewed-let", "never-passes"})
NARROW_ROUNDS = 4  # preflights per pattern at most: the ranges, cut and narrowed

PER_PATTERN = 4  # train examples per pattern in each file's dataset
PER_FILE = 100  # patterns per output file (one dataset block each)
MIN_ACCEPT = 0.05  # of the preflight's draws: the compiler refuses above 98% rejection
MAX_LENGTH, MAX_NEW_TOKENS = 1024, 750  # the compiler's defaults, which the output keeps
DIGIT_MARGIN = 4  # bytes a drawn value may add over the original (2x the value, money cents)
SEED = 20261204
MAX_WHERE = 4096  # a `where` let's values are listed when there are at most this many
MAX_JOINT_WHERE = 256  # the same for a `where` that reads other lets (listed per their draw)
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

    A condition over lets is written as a `where` on the last let it reads (its values are
    drawn among those that pass given the lets above, LANGUAGE.md 5.1.1); one that reads a
    hidden let, or that would make the `where` too long, as a `require`."""

    name: str
    expr: str  # over lets, constants and earlier held values
    original: Fraction
    whole: bool  # require is_int
    sign: bool  # require > 0 (>= 0 for an original 0)
    inline: str = ""  # the value over lets and constants only
    where_on: str | None = None  # the last let the value reads, when its `where` can hold it

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
    # The smaller domains are drawn first: a condition is a `where` on the last let it reads,
    # and the let with the most values is the likeliest to have one that passes.
    built.lets.sort(key=Let.size)
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
    order = {let.name: i for i, let in enumerate(built.lets)}
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
            # The last let the value reads holds its condition as a `where` (which may read
            # the lets above it): the lets above stay uniform, and only this one is redrawn.
            last = max(deps[step.var], key=order.__getitem__) if deps[step.var] else None
            # A condition that reads other lets is listed anew for each of their draws: a
            # long grid there (a price in cents) would make every sample slow.
            limit = MAX_WHERE if len(deps[step.var]) == 1 else MAX_JOINT_WHERE
            where_on = last if last and lets[last].size() <= limit and (
                where_chars[last] + len(inline[step.var]) <= MAX_INLINE) else None
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


# ================================================================ the token budget


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


def template_all(problems: list[RefProblem], source_name: str, overlap: Checker | None = None,
                 per_file: int = PER_FILE) -> AsTaskResult:
    """Template every problem; the rejected ones are kept with their reason. `per_file`: the
    patterns of each output file, whose dataset's name the preflight of a pattern needs."""
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
            index = len(result.patterns) // per_file + 1
            result.patterns.append(_one(problem, f"{source_name}:{problem.line}", system,
                                        counter, overlap, index))
        except Rejected as why:
            result.reasons[why.reason] += 1
            result.rejected.append((problem.line, why.reason))
    return result


def _one(problem: RefProblem, source: str, system: str, counter: ByteUpperBound,
         overlap: Checker | None, index: int) -> Pattern:
    pattern = template_problem(problem, source)
    if not pattern.lets:
        raise Rejected(NOTHING)
    if not _budget(pattern, system, counter):  # the ranges do not change it: checked once
        raise Rejected(BUDGET)
    if overlap is not None and overlap(problem.question) is not None:
        raise Rejected(OVERLAP)
    return _lint_clean(pattern, index, source.rsplit(":", 1)[0],
                       lambda: template_problem(problem, source, narrow=True))


def _lint_clean(pattern: Pattern, index: int, source: str, narrower: Callable[[], Pattern]
                ) -> Pattern:
    """The pattern as `check` will pass it, measured by the compiler's own preflight under
    its file's dataset. Too few draws pass: the narrow ranges (they meet divisibility more
    often). A lint says a let's values never pass or that the constraints skew it: its range
    cut to the values that pass, then the narrow ranges. Rejected when a lint remains (the
    answer stated in the question cannot be narrowed away) or the domain is too small."""
    narrow: Callable[[], Pattern] | None = narrower
    for _ in range(NARROW_ROUNDS):
        found = preflight_pattern(file_text(index, [pattern], source), f"gsm8k_{index:04d}",
                                  pattern.name)
        codes = found.codes()
        if found.facts is not None and found.accepted < MIN_ACCEPT * PREFLIGHT:
            if narrow is None:
                raise Rejected(TIGHT)
            pattern, narrow = narrow(), None
            continue
        if found.facts is not None and found.distinct < 2 * PER_PATTERN:
            raise Rejected(SMALL)
        if not codes:
            return pattern
        if codes - _NARROWABLE or found.facts is None:
            code = min(codes - _NARROWABLE or codes)
            raise Rejected(_LINT_REASONS.get(code, "preflight_" + code.replace("-", "_")))
        fitted = _fitted(pattern, found.facts)
        if fitted == pattern:
            if narrow is None:
                break
            fitted, narrow = narrow(), None
        pattern = fitted
    raise Rejected(SKEWED if "skewed-let" in codes else NEVER)


def _fitted(pattern: Pattern, facts: lints.PatternFacts) -> Pattern:
    """Each let's range cut to the accepted values (and the original, which always passes)."""
    accepted = {f.name: [Fraction(v) for v, _ in f.accepted] for f in facts.lets}
    lets = []
    for let in pattern.lets:
        values = accepted.get(let.name) or []
        if not values:
            lets.append(let)
            continue
        lo, hi = max(let.lo, min(*values, let.value)), min(let.hi, max(*values, let.value))
        lets.append(replace(let, lo=lo, hi=hi) if (hi - lo) / let.step + 1 >= 2 else let)
    return replace(pattern, lets=tuple(lets))


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
    check_writable(out.parent, shown=out)  # before templating: the patterns are staged beside OUT
    problems = read_reference(ref, need_question=True)
    if lines is not None:
        problems = [p for p in problems if lines[0] <= p.line <= lines[1]]
    checker: Checker | None = None
    if overlap is not None:
        index = overlap

        def checker(question: str) -> str | None:
            hit = index.first_overlap(question)
            return None if hit is None else index.where(hit)

    result = template_all(problems, Path(ref).name, checker, per_file)
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
