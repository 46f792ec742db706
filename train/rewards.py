"""Grading a model's completion against a compiled record, and the TRL reward function.

Pure Python: no torch. One dispatch decides how a record is graded, and every consumer
(eval, RL, the self-improvement loop, TRL's GRPOTrainer) goes through it, so the reward a
model is trained on is the one it is measured with:

- trace records (`expert` set): the runtime executes the model's trace (graded rewards
  1.0 / 0.7 / 0.5 / 0.3 / 0.0);
- code records (`function` and `tests` set): the function runs on the record's test cases in
  the sandbox (`runtime.sandbox`);
- exact-text records (`expert` null): exact match after stripping (COPY / WRAP / EXTRACT).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runtime import Grade, expected_expert, grade, grade_exact, question_of
from runtime.errors import UsageError


def completion_text(completion: Any) -> str:
    """The assistant text of a completion in either of TRL's formats: a plain string
    (standard) or a list of messages (conversational). Anything else is graded as empty."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion:
        last = completion[-1]
        if isinstance(last, Mapping) and isinstance(last.get("content"), str):
            return last["content"]
    return ""


def record_kind(record: Mapping[str, Any]) -> str:
    """`code`, `trace` or `exact`: how a record's answers are graded."""
    if record.get("function") and record.get("tests") is not None:
        return "code"
    return "trace" if record.get("expert") else "exact"


def grade_record(text: str, record: Mapping[str, Any]) -> Grade:
    """Grade `text` against one compiled record. Never raises on model text; a malformed
    record (no answer) raises UsageError, which is the caller's bug, not the model's."""
    kind = record_kind(record)
    if kind == "code":
        from runtime.sandbox import grade_record as grade_code_record

        return grade_code_record(text, record).grade
    answer = record.get("answer")
    if answer is None:
        raise UsageError(f"record {record.get('id', '?')} has no answer")
    if kind == "exact":
        return grade_exact(text, str(answer))
    # The record's own prompt is the question: every init must be grounded in it; a
    # composed record is graded against its expert sequence, not the bare `composition`.
    return grade(text, answer, expert=expected_expert(record["expert"], record.get("experts")),
                 question=question_of(record.get("prompt")),
                 constants=record.get("constants") or ())


def _column(columns: Mapping[str, Any], key: str, i: int) -> Any:
    values = columns.get(key)
    if values is None:
        return None
    return values[i]


def tasklang_reward(completions: Sequence[Any], **columns: Any) -> list[float]:
    """Reward function with TRL's GRPOTrainer signature: `reward_funcs=[tasklang_reward]`.

    TRL passes every dataset column as a keyword argument holding one value per completion,
    so a compiled tasklang dataset (`answer`, `expert`, `experts`, and for code tasks
    `function` and `tests`) needs no adapter; the prompt (`prompts`) grounds the inits.
    Returns the runtime's graded reward for each completion.
    """
    rewards = []
    for i, completion in enumerate(completions):
        record = {key: _column(columns, key, i) for key in
                  ("answer", "expert", "experts", "function", "tests", "id", "prompt", "constants")}
        if record["prompt"] is None:  # TRL passes the prompt column as `prompts`
            record["prompt"] = _column(columns, "prompts", i)
        result = grade_record(completion_text(completion), record)
        rewards.append(float(result.reward or 0.0))
    return rewards
