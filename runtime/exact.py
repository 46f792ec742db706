"""Exact-text grading: model text -> Grade for answers that are text, not traces.

The operators of the notes (COPY, WRAP, EXTRACT) and the procedural problems (arithmetic,
RPN, brackets) have one right output string. The notes' lesson is "no fuzzy metrics":
a reply that merely *contains* the answer, or is close to it, earns nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import ParseFailure, ParseReason, UsageError
from .grade import CORRECT, PARSE_FAILURE, WRONG_ANSWER, Grade, RewardWeights
from .trace import DEFAULT_LIMITS, Limits

# 1.0 correct, 0.0 otherwise: an exact-text answer has no "valid but wrong" middle ground.
EXACT_WEIGHTS = RewardWeights(wrong_answer=0.0, exec_error=0.0, wrong_expert=0.0,
                              parse_failure=0.0)

# The whole output is one fenced block: ```lang? \n body \n ``` (or ~~~).
_FENCED = re.compile(r"\A(```|~~~)[^\n`]*\n(?P<body>.*?)\n?[ \t]*\1[ \t]*\Z", re.DOTALL)
# A one-line fence: ```body```.
_INLINE_FENCE = re.compile(r"\A```(?P<body>[^`\n]*)```\Z")


def strip_output(text: str) -> str:
    """Surrounding whitespace and one code fence around the whole output removed.

    `"  [nebula]\\n"`, `"```\\n[nebula]\\n```"` and `"```text\\n[nebula]\\n```"` all give
    `[nebula]`. Nothing else is changed: case, inner spacing and punctuation count.
    """
    out = text.strip()
    m = _FENCED.match(out) or _INLINE_FENCE.match(out)
    return m.group("body").strip() if m else out


Normalizer = Callable[[str], str]


def grade_exact(
    text: Any,
    answer: str,
    *,
    normalize: Normalizer = strip_output,
    weights: RewardWeights = EXACT_WEIGHTS,
    limits: Limits = DEFAULT_LIMITS,
) -> Grade:
    """Grade model text against an exact reference answer (a record's `answer`).

    `normalize` is applied to both sides before they are compared with `==`; the default
    only strips surrounding whitespace and a code fence around the whole output. Pass
    e.g. `lambda s: strip_output(s).lower()` to forgive case — never a fuzzy match.
    Statuses: `correct` (reward `weights.correct`, 1.0), `wrong_answer` (0.0) and
    `parse_failure` (0.0) for output that is empty after normalization, not text, or
    longer than `limits.max_chars`. Model text never raises; a bad `answer` raises UsageError.
    """
    if not isinstance(answer, str):
        raise UsageError(f"the reference answer must be text, got {type(answer).__name__}")
    if not isinstance(text, str):
        return _failure(ParseReason.EMPTY if text is None else ParseReason.NO_YAML,
                        f"model output is {type(text).__name__}, not text", weights)
    if len(text) > limits.max_chars:
        return _failure(ParseReason.TOO_LARGE, f"{len(text)} characters (limit "
                        f"{limits.max_chars})", weights)
    got = normalize(text)
    if not got:
        return _failure(ParseReason.EMPTY, "empty output", weights)
    if got == normalize(answer):
        return Grade(CORRECT, float(weights.correct))
    return Grade(WRONG_ANSWER, float(weights.wrong_answer))


def _failure(reason: ParseReason, message: str, weights: RewardWeights) -> Grade:
    return Grade(PARSE_FAILURE, float(weights.parse_failure), error=ParseFailure(reason, message))
