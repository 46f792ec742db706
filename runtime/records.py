"""Grading a model's text against one dataset record: the one dispatch on a record's kind.

`tasklang grade`, eval, RL, the self-improvement loop and the TRL reward all call
`grade_record`, so the reward a model is trained on is the one it is measured with:

- code records (`function` set, or `tests` not empty): the function runs on the record's own test
  cases in the sandbox (`runtime.sandbox`);
- exact-text records (`expert` present and null, as compiled COPY / WRAP / RPN records
  carry it): exact match after stripping (`runtime.exact`);
- trace records (anything else: `expert` a string, or absent for a hand-written line that
  checks no expert): the runtime executes the model's trace, grounded in the record's
  question (its `question`, else its own `prompt`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import UsageError
from .exact import grade_exact
from .extract import LoaderChoice
from .grade import Grade, expected_expert, grade, question_of
from .sandbox import grade_record as grade_code_record

RecordKind = Literal["code", "trace", "exact"]


@dataclass(frozen=True, slots=True)
class RecordGrade:
    """A graded record: its Grade, and for a code record the cases that passed and the
    sandbox's reason when the grade gives none (a refused import, a timeout)."""

    kind: RecordKind
    grade: Grade
    cases_passed: int | None = None
    cases: int | None = None
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """`Grade.to_json()`, plus `cases_passed` and `cases` for a code record."""
        out = self.grade.to_json()
        if out["message"] is None and self.message is not None:
            out["message"] = self.message
        if self.kind == "code":
            out["cases_passed"], out["cases"] = self.cases_passed, self.cases
        return out


def record_kind(record: Mapping[str, Any]) -> RecordKind:
    """`code`, `exact` or `trace`: how a record's answers are graded (see the module doc)."""
    # Every compiled record carries `function` and `tests` (null and [] where unused).
    if record.get("function") is not None or record.get("tests"):
        return "code"
    # Only an explicit null means exact text: a line that leaves `expert` out is a trace
    # graded without an expert check (`tasklang grade`'s hand-written input).
    if "expert" in record and record["expert"] is None:
        return "exact"
    return "trace"


def grade_record(text: Any, record: Mapping[str, Any], *, loader: LoaderChoice = "auto") -> Grade:
    """Grade `text` against one record. Model text never raises; a malformed record raises
    UsageError naming the field, which is the caller's bug, not the model's."""
    return judge_record(text, record, loader=loader).grade


def judge_record(text: Any, record: Mapping[str, Any], *,
                 loader: LoaderChoice = "auto") -> RecordGrade:
    """`grade_record` with what a report shows beside the grade (`tasklang grade`)."""
    kind = record_kind(record)
    if kind == "code":
        return _code(text, record)
    answer = record.get("answer")
    if kind == "exact":
        if not isinstance(answer, str):
            raise UsageError(f'"answer": an exact-text record needs a string answer, got '
                             f"{type(answer).__name__}")
        return RecordGrade(kind, grade_exact(text, answer))
    return RecordGrade(kind, _trace(text, record, answer, loader))


def _code(text: Any, record: Mapping[str, Any]) -> RecordGrade:
    try:
        result = grade_code_record(text, record)
    except UsageError as err:
        raise UsageError(f"code record: {err}") from None
    message = None if result.grade.correct else result.message
    return RecordGrade("code", result.grade, result.passed, result.total, message)


def _trace(text: Any, record: Mapping[str, Any], answer: Any, loader: LoaderChoice) -> Grade:
    expert = record.get("expert")
    if expert is not None and not isinstance(expert, str):
        raise UsageError('"expert" must be a string')
    experts = record.get("experts")
    if experts is not None and not (isinstance(experts, list | tuple)
                                    and all(isinstance(e, str) for e in experts)):
        raise UsageError('"experts" must be a list of strings')
    # A composed record (labelled `composition`) is graded against its expert sequence.
    expert = expected_expert(expert, experts)
    # Every init must be grounded in the question the model answered: a line's own
    # "question", else the last user message of the record's prompt.
    question = record["question"] if "question" in record else question_of(record.get("prompt"))
    if question is not None and not isinstance(question, str):
        raise UsageError('"question" must be a string')
    constants = record.get("constants") or []
    if not isinstance(constants, list | tuple):
        raise UsageError('"constants" must be a list')
    try:
        return grade(text, answer, expert=expert, loader=loader, question=question,
                     constants=constants)
    except UsageError as err:
        raise UsageError(f'"answer": {err}') from None
    except (ValueError, TypeError, ZeroDivisionError) as err:  # a constant that is no number
        raise UsageError(f'"constants": {err}') from None
