"""The TRL reward function: `reward_funcs=[tasklang_reward]` in GRPOTrainer.

Pure Python: no torch. It adapts TRL's columns to a record and grades it with the one
dispatch on a record's kind, `runtime.records.grade_record`, which eval, RL, the loop and
`tasklang grade` use too: the reward a model is trained on is the one it is measured with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runtime.records import grade_record, record_kind

__all__ = ["completion_text", "grade_record", "record_kind", "tasklang_reward"]


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
