"""Grading: model text -> (status, reward), the signal for RL and the verdict for eval."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .errors import ErrorKind, ExecError, ParseFailure, UsageError
from .execute import Outcome, execute, ignored_inputs
from .experts import COMPOSITION, DEFAULT_EXPERTS, Expert
from .extract import LoaderChoice, extract
from .grounding import Grounding, ungrounded
from .numbers import NumberError, format_number, parse_answer
from .ops import COMPUTE_OPS, STEP_TYPES
from .trace import DEFAULT_LIMITS, AnyTrace, Limits, RawTrace, build

CORRECT = "correct"
WRONG_ANSWER = "wrong_answer"
WRONG_EXPERT = "wrong_expert"
PARSE_FAILURE = "parse_failure"
VALID = "valid"  # executed, but no reference answer was given to compare with
EXEC_ERROR_PREFIX = "exec_error:"


@dataclass(frozen=True, slots=True)
class RewardWeights:
    """The graduated reward of the notes (1.0 / 0.7 / 0.5 / 0.3 / 0.0), configurable.

    `per_kind` overrides the execution-error reward for one error kind, e.g.
    `{"short_circuit": 0.4}` to make bypassing the solver cost more.
    """

    correct: float = 1.0
    wrong_answer: float = 0.7
    exec_error: float = 0.5
    wrong_expert: float = 0.3
    parse_failure: float = 0.0
    per_kind: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = [self.correct, self.wrong_answer, self.exec_error, self.wrong_expert,
                  self.parse_failure, *self.per_kind.values()]
        for v in values:
            if not isinstance(v, int | float) or isinstance(v, bool) or v != v or abs(v) == float("inf"):
                raise UsageError(f"reward weights must be finite numbers, got {v!r}")
        unknown = sorted(set(self.per_kind) - {k.value for k in ErrorKind})
        if unknown:
            raise UsageError(f"unknown error kinds in per_kind: {unknown}")
        object.__setattr__(self, "per_kind", dict(self.per_kind))

    def for_error(self, kind: ErrorKind) -> float:
        return float(self.per_kind.get(kind.value, self.exec_error))

    def possible(self) -> frozenset[float]:
        """Every reward grading can return with these weights."""
        base = {self.correct, self.wrong_answer, self.exec_error, self.wrong_expert,
                self.parse_failure, *self.per_kind.values()}
        return frozenset(float(v) for v in base)


DEFAULT_WEIGHTS = RewardWeights()


@dataclass(frozen=True, slots=True)
class Grade:
    """One graded output. `status` is `correct`, `wrong_answer`, `exec_error:<kind>`,
    `wrong_expert`, `parse_failure` (or `valid` when no answer was given)."""

    status: str
    reward: float | None
    value: Fraction | None = None
    error: ExecError | ParseFailure | None = None
    experts: tuple[str, ...] = ()
    trace: AnyTrace | None = None

    @property
    def correct(self) -> bool:
        return self.status == CORRECT

    @property
    def parsed(self) -> bool:
        return self.status != PARSE_FAILURE

    @property
    def valid(self) -> bool:
        """Parsed, right expert and executed without error (the notes' 'valid trace')."""
        return self.status in (CORRECT, WRONG_ANSWER, VALID)

    @property
    def error_kind(self) -> str | None:
        if isinstance(self.error, ExecError):
            return self.error.kind.value
        if isinstance(self.error, ParseFailure):
            return f"parse_failure:{self.error.reason.value}"
        return None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of `tasklang solve --format json` and `tasklang grade`."""
        return {
            "status": self.status,
            "reward": self.reward,
            "value": None if self.value is None else format_number(self.value),
            "error": self.error_kind,
            "message": None if self.error is None else str(self.error),
            "experts": list(self.experts),
        }


def _expert_matches(expected: str, raw: RawTrace) -> bool:
    if raw.composed:
        return expected == "+".join(raw.experts)
    return expected == raw.experts[0]


def expected_expert(expert: str | None, experts: Sequence[str] | None = None) -> str | None:
    """The expert a record expects: its `expert`, or for a composed record (labelled
    `composition`) its expert sequence joined by `+` (`percentage+arithmetic`). The one
    home of this rule: eval, RL, `tasklang grade` and `tasklang_reward` all use it."""
    if expert == COMPOSITION and experts:
        return "+".join(experts)
    return expert


def question_of(prompt: Any) -> str | None:
    """The question a model answered: a string as is, or the last user message of a chat
    prompt (a compiled record's `prompt`); None when there is none. Eval, RL, the loop,
    `tasklang_reward` and `tasklang grade` ground traces in it."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list | tuple):
        for message in reversed(prompt):
            if isinstance(message, Mapping) and message.get("role") == "user" \
                    and isinstance(message.get("content"), str):
                return message["content"]
    return None


def check_expected_expert(expert: str | None) -> None:
    """UsageError for the bare label `composition`, which names no sequence."""
    # The bare label used to accept any composed sequence: a trace could pick its own.
    if expert == COMPOSITION:
        raise UsageError(f"expected expert {COMPOSITION!r} names no sequence: pass the "
                         "composed record's experts joined by '+' (percentage+arithmetic)")


def coerce_answer(answer: Any) -> Fraction | None:
    """The reference answer as an exact value; UsageError if it is not a number."""
    if answer is None:
        return None
    try:
        return parse_answer(answer)
    except NumberError as err:
        raise UsageError(str(err)) from None


def grade(
    text: Any,
    answer: Any = None,
    *,
    expert: str | None = None,
    experts: Mapping[str, Expert] = DEFAULT_EXPERTS,
    weights: RewardWeights = DEFAULT_WEIGHTS,
    limits: Limits = DEFAULT_LIMITS,
    loader: LoaderChoice = "auto",
    question: str | None = None,
    constants: Iterable[Fraction | int | str] = (),
) -> Grade:
    """Grade raw model text against a reference answer (and optionally the expected expert).

    Only the executed query counts: text that merely contains the answer earns
    nothing. Model text never raises; a bad `answer` raises UsageError.
    For a composed trace the expected expert is the `+`-joined sequence of its
    experts (`percentage+arithmetic`); the bare label `composition` raises UsageError
    (see `expected_expert`, which turns a record's label and `experts` into the sequence).

    With `question` (the prompt the model answered), every init value must be grounded
    in it (runtime.grounding): a number it states, a unit constant, one of the dataset's
    `constants`, or the previous result; else `exec_error:ungrounded_init`.
    """
    target = coerce_answer(answer)
    check_expected_expert(expert)
    raw = extract(text, limits, loader)
    if isinstance(raw, ParseFailure):
        return Grade(PARSE_FAILURE, weights.parse_failure, error=raw)
    if expert is not None and not _expert_matches(expert, raw):
        return Grade(WRONG_EXPERT, weights.wrong_expert, experts=raw.experts)
    contamination = vocabulary_error(raw, experts)
    if contamination is not None:
        return _exec_error(contamination, weights, raw.experts)
    built = build(raw, limits)
    if isinstance(built, ExecError):
        return _exec_error(built, weights, raw.experts)
    return grade_trace(built, target, experts=experts, weights=weights, limits=limits,
                       question=question, constants=constants)


def vocabulary_error(raw: RawTrace, experts: Mapping[str, Expert]) -> ExecError | None:
    """A known op outside its expert, found before the steps are validated.

    Cross-expert contamination is the failure the notes track (a percentage op inside
    arithmetic); it must be counted as such even when the stray step is also malformed.
    """
    for p, (name, steps) in enumerate(zip(raw.experts, raw.parts, strict=True)):
        expert = experts.get(name)
        if expert is None:
            continue
        for s, step in enumerate(steps):
            op = step.get("op") if isinstance(step, dict) else None
            if not isinstance(op, str) or op not in STEP_TYPES:  # malformed: build says why
                continue
            compute_op = step.get("compute_op") if op == "compute" else None
            known = isinstance(compute_op, str) and compute_op in COMPUTE_OPS
            refusal = expert.refusal(op, compute_op if known else None)
            if refusal is not None:
                return ExecError(ErrorKind.OP_NOT_IN_EXPERT, refusal,
                                 p if raw.composed else None, s)
    return None


def _exec_error(error: ExecError, weights: RewardWeights, experts: tuple[str, ...],
                trace: AnyTrace | None = None) -> Grade:
    return Grade(EXEC_ERROR_PREFIX + error.kind.value, weights.for_error(error.kind),
                 error=error, experts=experts, trace=trace)


def grade_trace(
    trace: AnyTrace,
    target: Fraction | None,
    *,
    experts: Mapping[str, Expert] = DEFAULT_EXPERTS,
    weights: RewardWeights = DEFAULT_WEIGHTS,
    limits: Limits = DEFAULT_LIMITS,
    question: str | None = None,
    constants: Iterable[Fraction | int | str] = (),
) -> Grade:
    """Grade an already-typed trace (the compiler uses this on gold traces)."""
    names = trace.experts
    grounding = None
    if question is not None:
        if not isinstance(question, str):
            raise UsageError(f"question must be a string, got {type(question).__name__}")
        grounding = Grounding.of(question, constants)
        unstated = ungrounded(trace, grounding)
        if unstated is not None:
            return _exec_error(unstated, weights, names, trace)
    outcome: Outcome = execute(trace, experts, limits)
    # With the question, the answer must move with a number it states: one made of unit
    # constants alone (12 + 7 - 1 for 18) reads nothing of the question.
    error = outcome.error or ignored_inputs(trace, outcome, limits,
                                            None if grounding is None else grounding.states)
    if error is not None:
        return _exec_error(error, weights, names, trace)
    if target is None:
        return Grade(VALID, None, outcome.value, experts=names, trace=trace)
    if outcome.value == target:
        return Grade(CORRECT, weights.correct, outcome.value, experts=names, trace=trace)
    return Grade(WRONG_ANSWER, weights.wrong_answer, outcome.value, experts=names, trace=trace)
