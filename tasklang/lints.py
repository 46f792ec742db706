"""The one registry of sampled lints: small functions over what preflight measured.

A lint reads a `PatternFacts` (frozen: the values each let took, accepted or not, and what
the accepted samples rendered and computed) and yields findings. Each lint has one stable
code, one severity and the one `# allow: CODE` mechanism (diagnostics.apply_allows, for
warnings). `check`, `compile` and `audit` all call `run` on facts measured by
preflight.measure with the same seed, so they report the same codes at the same places.

The facts are measured once per pattern; each lint is a pure function of them, so a new
lint is a new function here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Generic, NamedTuple, TypeVar

from .diagnostics import Diagnostic, Severity, Span

# A let is judged skewed when its accepted distribution is this far (total variation)
# from uniform over the values that pass. Sampling noise of 200 draws over 20 values is
# about 0.1; the 9/14/31/46% over 4 values is 0.27.
SKEW_TV = 0.25
SKEW_MIN_ACCEPTED = 200  # fewer accepted samples: the histogram would be noise
SKEW_MAX_VALUES = 20  # the histogram shows every value: ranges wider than this are skipped
NEVER_MIN_DRAWS = 5  # a value drawn fewer times may pass by luck on the next draw
# `answer-stated`: the answer is one of the question's numbers in at least this share of the
# samples (a coincidence now and then is chance, not a pattern that shows its answer).
STATED_SHARE = 0.5
STATED_SAMPLES = 200  # samples whose questions are scanned for numbers (a share needs no more)


@dataclass(frozen=True, slots=True)
class LetFacts:
    """One let as sampled. Values are numbers (int, Fraction) or text; others are not kept."""

    name: str
    span: Span
    # The values it can take when they are fixed (constant bounds, no `where`): listed when
    # at most SKEW_MAX_VALUES*50 of them, else None; `bounds` for a numeric range.
    declared: tuple[Any, ...] | None
    bounds: tuple[Fraction, Fraction] | None
    drawn: tuple[tuple[Any, int], ...]  # value -> draws, accepted or rejected later
    accepted: tuple[tuple[Any, int], ...]  # value -> accepted samples
    discrete: bool  # shown as a count: `{thing@n}`, or before a count noun
    where: bool  # has its own condition (its declared distribution is conditional)


@dataclass(frozen=True, slots=True)
class RequireFacts:
    text: str
    span: Span
    reads: tuple[str, ...]  # the lets it reads, in let order


class Sample(NamedTuple):
    """One accepted sample: its question and what its answer and trace computed. (A named
    tuple: preflight makes a thousand per pattern, and a frozen dataclass costs 3x more.)"""

    template_id: str
    question: str
    answer: Fraction | None  # None: not a number (text answers, code)
    answer_text: str
    intermediates: tuple[tuple[str, Fraction], ...]  # computed trace values (name, value)
    replayed: bool  # whether the trace was replayed for them (the first preflight.INTERMEDIATES)
    raw_floats: tuple[str, ...]
    asks_count: bool  # "how many ..." : the answer counts things


@dataclass(frozen=True, slots=True)
class PatternFacts:
    pattern: str
    span: Span
    lets: tuple[LetFacts, ...]
    requires: tuple[RequireFacts, ...]
    templates: tuple[tuple[str, Span], ...]  # template id -> its statement
    samples: tuple[Sample, ...]
    draws: int
    # A range or choice reaching below zero, or a generated structure (an expression decides
    # its own sign): negative values are the story's.
    negatives: bool
    decimals: bool  # a decimal range, a fractional choice or money: fractions are the story's
    traced: bool  # the answer is a trace's query (not an answer template or code)

    def template_span(self, template_id: str) -> Span:
        return dict(self.templates).get(template_id, self.span)


@dataclass(frozen=True, slots=True)
class Finding:
    message: str
    span: Span
    notes: tuple[str, ...] = ()
    helps: tuple[str, ...] = ()


F = TypeVar("F")  # the facts a lint reads: PatternFacts, or DatasetFacts


@dataclass(frozen=True, slots=True)
class Lint(Generic[F]):
    code: str
    severity: Severity
    summary: str  # one line, for docs and `tasklang check --help`-style listings
    check: Callable[[F], Iterator[Finding]]

    def diagnostic(self, f: Finding) -> Diagnostic:
        return Diagnostic(self.code, self.severity, f.message, f.span, f.notes, f.helps)


LINTS: dict[str, Lint[PatternFacts]] = {}
DATASET_LINTS: dict[str, Lint[DatasetFacts]] = {}


def _registrar(table: dict[str, Lint[F]], code: str, severity: Severity, summary: str
               ) -> Callable[[Callable[[F], Iterator[Finding]]], Callable[[F], Iterator[Finding]]]:
    """Register a lint under its code in `table`; a code is registered once over both tables."""
    def register(fn: Callable[[F], Iterator[Finding]]) -> Callable[[F], Iterator[Finding]]:
        if code in LINTS or code in DATASET_LINTS:
            raise ValueError(f"lint {code} is registered twice")
        table[code] = Lint(code, severity, summary, fn)
        return fn
    return register


def lint(code: str, severity: Severity, summary: str
         ) -> Callable[[Callable[[PatternFacts], Iterator[Finding]]],
                       Callable[[PatternFacts], Iterator[Finding]]]:
    """Register a lint over one pattern's facts."""
    return _registrar(LINTS, code, severity, summary)


def run(facts: PatternFacts) -> list[Diagnostic]:
    """Every finding of every registered lint, as diagnostics (in registry order)."""
    return [lint.diagnostic(f) for lint in LINTS.values() for f in lint.check(facts)]


def diagnostic(code: str, message: str, span: Span, *notes: str,
               helps: tuple[str, ...] = ()) -> Diagnostic:
    """A finding made outside a lint function (compile's pass over every example) with
    the registered code's severity: one code, one severity, wherever it is measured."""
    return LINTS[code].diagnostic(Finding(message, span, notes, helps))


# ---------------------------------------------------------------- helpers


def _finding(message: str, span: Span, *notes: str, helps: tuple[str, ...] = ()) -> Finding:
    return Finding(message, span, notes, helps)


def _count(what: int, total: int) -> str:
    return f"{what} of {total} samples"


def _num(value: Any) -> Fraction | None:
    if isinstance(value, bool):
        return None
    return Fraction(value) if isinstance(value, int | Fraction) else None


def _show(value: Any) -> str:
    label = getattr(value, "label", None)  # a labelled choice (`"twice" = 2`) by its label
    if isinstance(label, str):
        return f'"{label}"'
    v = _num(value)
    if v is None:
        return repr(value)
    if v.denominator == 1:
        return str(v.numerator)
    return f"{float(v):.6g}"


_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])")


def question_numbers(question: str) -> set[str]:
    """The numbers a question writes, as runtime.numbers.format_number writes them
    (`1,200` is 1200; `$3.50` is 3.5): text, which is cheaper to compare than Fractions."""
    out = set()
    for m in _NUMBER.finditer(question):
        text = m.group(0).replace(",", "")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        out.add(text)
    return out


# ---------------------------------------------------------------- the lints


@lint("negative-answer", Severity.ERROR,
      "a negative answer in a story whose numbers are all positive (negative ages, prices)")
def negative_answer(f: PatternFacts) -> Iterator[Finding]:
    if f.negatives:
        return
    bad = [s for s in f.samples if s.answer is not None and s.answer < 0]
    if bad:
        yield _finding(f"{f.pattern}: negative answer {_show(bad[0].answer)} in "
                      f"{_count(len(bad), len(f.samples))}", f.span,
                      f"e.g. {bad[0].question[:160]}",
                      helps=("add `require answer >= 0`, or draw the lets so that it holds "
                             "(`where` on the let that decides it)",))


@lint("negative-intermediate", Severity.ERROR,
      "a trace step computes a negative count (more people leave than arrived)")
def negative_intermediate(f: PatternFacts) -> Iterator[Finding]:
    if f.negatives:
        return
    first: dict[str, tuple[Fraction, Sample]] = {}
    times: dict[str, int] = {}
    for s in f.samples:
        for name, value in s.intermediates:
            if value < 0:
                first.setdefault(name, (value, s))
                times[name] = times.get(name, 0) + 1
    replayed = sum(1 for s in f.samples if s.replayed)
    for name, (value, s) in first.items():
        yield _finding(f"{f.pattern}: trace value {name} is negative ({_show(value)}) in "
                       f"{_count(times[name], replayed)}", f.span,
                      f"e.g. {s.question[:160]}",
                      helps=(f"add a `require` that keeps {name} at 0 or more, or draw the "
                             "lets it is computed from in order (`where`)",))


@lint("non-integer-count", Severity.ERROR,
      "a count of people or things that is not whole (0.67 of 92 people, 10.75 nurses)")
def non_integer_count(f: PatternFacts) -> Iterator[Finding]:
    for let in f.lets:
        if not let.discrete:
            continue
        bad = [(v, n) for v, n in let.accepted if (x := _num(v)) is not None
               and x.denominator != 1]
        if bad:
            total = sum(n for _, n in let.accepted)
            yield _finding(f"{f.pattern}: let {let.name} counts things but is not whole: "
                          f"{_show(bad[0][0])} in {_count(sum(n for _, n in bad), total)}",
                          let.span, "it is shown as a count (`{thing@" + let.name + "}` or "
                          "before a plural noun)",
                          helps=(f"require is_int({let.name}), or draw it as a whole number "
                                 f"(`where is_int(...)` on the let it is computed from)",))
    if f.decimals:
        return
    bad_answers = [s for s in f.samples if s.asks_count and s.answer is not None
                   and s.answer.denominator != 1]
    if bad_answers:
        s = bad_answers[0]
        yield _finding(f"{f.pattern}: the question asks how many, but the answer is "
                      f"{_show(s.answer)} in {_count(len(bad_answers), len(f.samples))}",
                      f.span, f"e.g. {s.question[:160]}",
                      helps=("add `require is_int(answer)`, or draw the lets so that it is "
                             "whole",))


@lint("never-passes", Severity.WARNING,
      "a choice value, or the top or bottom of a range, that no accepted sample has")
def never_passes(f: PatternFacts) -> Iterator[Finding]:
    """A listed choice value that never passes is a value the author meant to appear; in a
    range, odd values dropped by `is_int(n / 2)` are the idiom, but a dead top or bottom
    (`int 1..100` when only 1..40 pass) is a range written wider than the story allows."""
    for let in f.lets:
        if let.where or not let.accepted:
            continue
        accepted, drawn = dict(let.accepted), dict(let.drawn)
        if let.bounds is None and let.declared is not None:  # a choice
            dead = [v for v in let.declared if v not in accepted
                    and drawn.get(v, 0) >= NEVER_MIN_DRAWS]
            if dead:
                yield _never(f, let, ", ".join(_show(v) for v in dead[:8])
                             + (f" and {len(dead) - 8} more" if len(dead) > 8 else ""),
                             sum(drawn.get(v, 0) for v in dead))
            continue
        finding = _dead_end(f, let, accepted, drawn)
        if finding is not None:
            yield finding


def _never(f: PatternFacts, let: LetFacts, values: str, draws: int) -> Finding:
    return _finding(f"{f.pattern}: let {let.name} = {values} never passes the constraints "
                    f"({draws} draws, none accepted)", let.span,
                    helps=(f"drop the value from let {let.name}, or loosen the `require` "
                           "that rejects it",))


def _dead_end(f: PatternFacts, let: LetFacts, accepted: dict[Any, int], drawn: dict[Any, int]
              ) -> Finding | None:
    """A numeric range whose top or bottom never passes (`int 1..100` when only 1..40 can)."""
    if let.bounds is None:
        return None
    nums = [x for v in accepted if (x := _num(v)) is not None]
    if not nums:
        return None
    lo, hi = let.bounds
    width = hi - lo
    top, bottom = max(nums), min(nums)
    for side, edge in (("above", top), ("below", bottom)):
        draws = sum(n for v, n in drawn.items() if (x := _num(v)) is not None
                    and (x > top if side == "above" else x < bottom))
        gap = (hi - edge) if side == "above" else (edge - lo)
        if width > 0 and gap / width >= Fraction(1, 5) and draws >= 20:
            return _finding(f"{f.pattern}: values of let {let.name} {side} {_show(edge)} never "
                            f"pass the constraints ({draws} draws, none accepted)", let.span,
                            f"accepted values lie in {_show(min(nums))}..{_show(max(nums))} "
                            f"of {_show(lo)}..{_show(hi)}",
                            helps=(f"narrow the range of {let.name} to the values that pass",))
    return None


@lint("skewed-let", Severity.WARNING,
      "a let whose accepted values are far from uniform: `require` redraws every let")
def skewed_let(f: PatternFacts) -> Iterator[Finding]:
    for let in f.lets:
        if let.where or let.declared is None or not 2 <= len(let.declared) <= SKEW_MAX_VALUES:
            continue
        accepted = dict(let.accepted)
        total = sum(accepted.values())
        passing = [v for v in let.declared if accepted.get(v)]
        if total < SKEW_MIN_ACCEPTED or len(passing) < 2:
            continue
        tv = sum(abs(Fraction(accepted[v], total) - Fraction(1, len(passing)))
                 for v in passing) / 2
        if tv < SKEW_TV:
            continue
        yield _finding(f"{f.pattern}: let {let.name} is drawn uniformly but accepted far "
                      f"from it (distance {float(tv):.2f}): `require` rejects whole samples",
                      let.span, *histogram(let.declared, accepted, total),
                      helps=_where_suggestions(f, let))


def histogram(values: tuple[Any, ...], counts: dict[Any, int], total: int,
              width: int = 20) -> tuple[str, ...]:
    """One line per value: its share of the accepted samples as a bar."""
    top = max(counts.values(), default=1)
    label = max(len(_show(v)) for v in values)
    return tuple(f"{_show(v).rjust(label)} {'#' * round(width * counts.get(v, 0) / top):<{width}}"
                 f" {counts.get(v, 0) / total:5.1%}" for v in values)


def _where_suggestions(f: PatternFacts, let: LetFacts) -> tuple[str, ...]:
    """How to make the let uniform: a let is uniform over its values given the lets above
    it, so it is drawn before the lets it is checked with, and each `require` reading it
    becomes a `where` on the last of the others (which then redraws only that one)."""
    out = []
    for r in f.requires:
        others = [n for n in r.reads if n != let.name]
        if let.name not in r.reads or not others:
            continue
        last = others[-1]
        first = "" if r.reads.index(let.name) < r.reads.index(last) else \
            f"draw {let.name} above {last}, then "
        out.append(f"{first}write `let {last} = ... where {r.text}` instead of "
                   f"`require {r.text}`")
    return tuple(out[:3]) or (f"draw {let.name} first and give the lets after it a `where` "
                              "condition instead of a `require`",)


@lint("answer-stated", Severity.WARNING,
      "the answer is a number the question already states: nothing is computed")
def answer_stated(f: PatternFacts) -> Iterator[Finding]:
    if not f.traced:
        return
    numbered = [s for s in f.samples if s.answer is not None][:STATED_SAMPLES]
    stated = [s for s in numbered if s.answer_text in question_numbers(s.question)]
    if numbered and len(stated) >= STATED_SHARE * len(numbered):
        s = stated[0]
        yield _finding(f"{f.pattern}: the answer {_show(s.answer)} is written in the question "
                      f"in {_count(len(stated), len(numbered))}", f.span,
                      f"e.g. {s.question[:160]}",
                      helps=("ask for a value the question does not state, or `require` the "
                             "answer to differ from the numbers shown",))


@lint("raw-float", Severity.WARNING,
      "a question shows a raw float or bare fraction (0.333, 2/3)")
def raw_float(f: PatternFacts) -> Iterator[Finding]:
    by_template: dict[str, list[Sample]] = {}
    for s in f.samples:
        if s.raw_floats:
            by_template.setdefault(s.template_id, []).append(s)
    for tid, bad in by_template.items():
        shown = list(dict.fromkeys(r for s in bad for r in s.raw_floats))[:5]
        total = sum(1 for s in f.samples if s.template_id == tid)
        yield _finding(f"{tid}: raw floats or bare fractions in {_count(len(bad), total)}: "
                      f"{', '.join(shown)}", f.template_span(tid),
                      helps=("format them ({x:money}, {x:comma}) or constrain them to short "
                             "decimals",))


# ---------------------------------------------------------------- dataset lints


@dataclass(frozen=True, slots=True)
class TemplateShare:
    """How many examples of a split each template of a pattern gets, in one language."""

    pattern: str
    split: str
    language: str | None  # None: the dataset's main language
    templates: tuple[str, ...]  # template ids
    per_template: Fraction  # expected examples per template
    span: Span  # the dataset line listing the pattern


@dataclass(frozen=True, slots=True)
class DatasetFacts:
    name: str
    span: Span
    min_repeats: int
    shares: tuple[TemplateShare, ...]


def dataset_lint(code: str, severity: Severity, summary: str
                 ) -> Callable[[Callable[[DatasetFacts], Iterator[Finding]]],
                               Callable[[DatasetFacts], Iterator[Finding]]]:
    """Register a lint over one dataset's facts."""
    return _registrar(DATASET_LINTS, code, severity, summary)


def run_dataset(facts: DatasetFacts) -> list[Diagnostic]:
    return [lint.diagnostic(f) for lint in DATASET_LINTS.values() for f in lint.check(facts)]


@dataset_lint("few-template-repeats", Severity.WARNING,
              "a template seen fewer than min_template_repeats times in a split")
def few_template_repeats(f: DatasetFacts) -> Iterator[Finding]:
    for share in f.shares:
        if share.per_template >= f.min_repeats:
            continue
        lang = "" if share.language is None else f" in {share.language}"
        yield _finding(f"{share.pattern}: about {float(share.per_template):.1f} {share.split} "
                       f"examples per template{lang} ({len(share.templates)} templates); fewer "
                       f"than {f.min_repeats} repetitions", share.span,
                       "at low data volume one template per pattern learns best")
