"""Dataset records: the one typed Record of a split file's line, shared by the compiler
(`build`), the GSM8K importer and code answers (`code_verify` reads records back).

Every record has the same keys and column types whatever its dataset (FEATURES, the
`datasets` schema): `payload` is one JSON text (the pattern's lets, in let order) rather than
an object, because payloads of different patterns have different keys, and a column whose
type depends on the pattern cannot be concatenated across datasets; `constants`, `function`
and `tests` are always present (empty, or null where they do not apply).

A Record stays typed until it is written: `to_json` is the on-disk shape, `to_line` its
JSON line (byte for byte `json.dumps(to_json(), ensure_ascii=False)`, assembled directly
because the writer's throughput depends on it), and `from_json` reads one back, naming the
field that is wrong. Grading a record is `runtime.records`, which takes the mapping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from .code_answers import tests_json

if TYPE_CHECKING:
    from .compiler import Example

MAIN_LANGUAGE = "en"  # the language of a record whose template names none

_S = json.encoder.encode_basestring  # type: ignore[attr-defined]  # the C string encoder
# A dataset's records share one system prompt (and constants): encoded once, not per line.
_S_SHARED = lru_cache(maxsize=64)(_S)
_KEYS = ("id", "split", "pattern", "expert", "experts", "template_id", "language", "payload",
         "answer", "prompt", "completion", "constants", "function", "tests", "difficulty")
_OPTIONAL: tuple[str, ...] = ()  # a key another tool adds goes here, and in FEATURES

_STR = {"dtype": "string", "_type": "Value"}


def _list(feature: dict[str, Any]) -> dict[str, Any]:
    return {"feature": feature, "_type": "List"}


# The record schema as `datasets.Features.from_dict` reads it (datasets >= 4; the dataset
# card's `features`, tasklang.project's to_hf): one for every dataset, so any two concatenate.
FEATURES: dict[str, Any] = {
    **{k: _STR for k in ("id", "split", "pattern", "expert")},
    "experts": _list(_STR),
    **{k: _STR for k in ("template_id", "language", "payload", "answer")},
    "prompt": _list({"role": _STR, "content": _STR}),
    "completion": _list({"role": _STR, "content": _STR}),
    "constants": _list(_STR),
    "function": _STR,
    "tests": _list({"args": _STR, "expected": _STR}),
    # a pattern's stated `difficulty` [lo, hi] (tasklang.difficulty), null where none is
    "difficulty": _list({"dtype": "float64", "_type": "Value"}),
}


class RecordError(ValueError):
    """A mapping that is not a dataset record; the message names the field."""


class Record(NamedTuple):
    """One example as written: its identity, labels, payload, chat prompt and completion.
    A code-answer record sets `function` and its `tests` (args and expected value of each
    case, as JSON text, so every record has the same column types); others write null and [].
    Immutable and typed; a NamedTuple rather than a frozen dataclass because the writer
    makes one per example and a frozen dataclass's __init__ alone cost 2.5 us of a ~15 us
    example."""

    id: str
    split: str
    pattern: str
    expert: str | None  # None: an exact-text or code answer, graded without a trace
    experts: tuple[str, ...]
    template_id: str
    language: str
    payload: tuple[tuple[str, str], ...]  # in the pattern's let order
    answer: str
    system: str
    question: str
    completion: str
    constants: tuple[str, ...] = ()  # the dataset's `constants`: numbers inits may use unstated
    function: str | None = None
    tests: tuple[tuple[str, str], ...] = ()  # (args JSON text, expected JSON text)
    # The pattern's `difficulty lo..hi` (tasklang.difficulty); None: it states none.
    difficulty: tuple[int | float, int | float] | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as written: `json.dumps(record.to_json(), ensure_ascii=False)`."""
        out: dict[str, Any] = {
            "id": self.id, "split": self.split, "pattern": self.pattern, "expert": self.expert,
            "experts": list(self.experts), "template_id": self.template_id,
            "language": self.language, "payload": payload_text(self.payload),
            "answer": self.answer,
            "prompt": [{"role": "system", "content": self.system},
                       {"role": "user", "content": self.question}],
            "completion": [{"role": "assistant", "content": self.completion}],
            "constants": list(self.constants), "function": self.function,
            "tests": [{"args": a, "expected": e} for a, e in self.tests],
            "difficulty": None if self.difficulty is None else list(self.difficulty),
        }
        return out

    def to_line(self) -> str:
        """`json.dumps(self.to_json(), ensure_ascii=False)`, assembled directly (a test
        checks they agree): the shape is fixed, so only the strings need encoding."""
        payload = _S(payload_text(self.payload))
        experts = ", ".join(_S(e) for e in self.experts)
        expert = "null" if self.expert is None else _S(self.expert)
        constants = ", ".join(_S_SHARED(c) for c in self.constants)
        function = "null" if self.function is None else _S(self.function)
        tests = ", ".join(f'{{"args": {_S(a)}, "expected": {_S(e)}}}' for a, e in self.tests)
        tail = f', "constants": [{constants}], "function": {function}, "tests": [{tests}]'
        difficulty = "null" if self.difficulty is None else json.dumps(list(self.difficulty))
        tail += f', "difficulty": {difficulty}'
        return (
            f'{{"id": {_S(self.id)}, "split": {_S(self.split)}, '
            f'"pattern": {_S(self.pattern)}, "expert": {expert}, "experts": [{experts}], '
            f'"template_id": {_S(self.template_id)}, "language": {_S(self.language)}, '
            f'"payload": {payload}, "answer": {_S(self.answer)}, '
            f'"prompt": [{{"role": "system", "content": {_S_SHARED(self.system)}}}, '
            f'{{"role": "user", "content": {_S(self.question)}}}], '
            f'"completion": [{{"role": "assistant", "content": {_S(self.completion)}}}]'
            f"{tail}}}"
        )

    @classmethod
    def from_json(cls, data: Any) -> Record:
        """A record read back from its JSON object; RecordError naming the bad field."""
        if not isinstance(data, Mapping):
            raise RecordError(f"a record is a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - {*_KEYS, *_OPTIONAL})
        missing = [k for k in _KEYS if k not in data]
        if unknown or missing:
            raise RecordError("; ".join([*(f'"{k}": missing' for k in missing),
                                         *(f'"{k}": not a record field' for k in unknown)]))
        system, question = _prompt(data["prompt"])
        function = data["function"]
        if (function is None) != (not data["tests"]):
            raise RecordError('"function" and "tests" come together (a code-answer record)')
        return cls(
            id=_text(data, "id"), split=_text(data, "split"), pattern=_text(data, "pattern"),
            expert=None if data["expert"] is None else _text(data, "expert"),
            experts=_texts(data, "experts"), template_id=_text(data, "template_id"),
            language=_text(data, "language"), payload=_payload(data["payload"]),
            answer=_text(data, "answer"), system=system, question=question,
            completion=_message(data["completion"], "completion", ("assistant",))[0],
            constants=_texts(data, "constants"),
            function=None if function is None else _text(data, "function"),
            tests=_tests(data["tests"]),
            difficulty=None if data["difficulty"] is None else _difficulty(data["difficulty"]),
        )


def payload_text(payload: tuple[tuple[str, str], ...]) -> str:
    """A payload as the record writes it: one JSON object text, keys in let order."""
    return json.dumps(dict(payload), ensure_ascii=False)


def payload_of(record: Mapping[str, Any]) -> dict[str, str]:
    """A written record's payload, decoded (the readers of `payload` call this)."""
    return dict(_payload(record["payload"]))


def record_id(dataset: str, split: str, index: int) -> str:
    """A record's `id`: `<dataset>/<split>/<index, 7 digits>`."""
    return f"{dataset}/{split}/{index:07d}"


def record_of(ex: Example, rid: str, split: str, system: str,
              constants: tuple[str, ...] = (),
              difficulty: tuple[int | float, int | float] | None = None) -> Record:
    """The record of a compiled example (`build` writes these)."""
    tests: tuple[tuple[str, str], ...] = ()
    if ex.function is not None:
        tests = tuple((t["args"], t["expected"]) for t in tests_json(ex.tests))
    # Positional: the writer makes one per example, and keywords cost a third of the call.
    return Record(rid, split, ex.pattern, ex.expert, ex.experts, ex.template_id,
                  ex.lang or MAIN_LANGUAGE, ex.payload, ex.answer, system, ex.question,
                  ex.completion, constants, ex.function, tests, difficulty)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise RecordError(f'"{key}": a string, got {type(value).__name__}')
    return value


def _texts(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f'"{key}": a list of strings')
    return tuple(value)


def _payload(value: Any) -> tuple[tuple[str, str], ...]:
    try:
        decoded = json.loads(value) if isinstance(value, str) else None
    except json.JSONDecodeError:
        decoded = None
    if not isinstance(decoded, dict) or not all(isinstance(v, str) for v in decoded.values()):
        raise RecordError('"payload": the JSON text of an object of strings')
    return tuple(decoded.items())


def _message(value: Any, key: str, roles: tuple[str, ...]) -> tuple[str, ...]:
    """The contents of a chat list with exactly these roles, in order."""
    ok = isinstance(value, list) and len(value) == len(roles) and all(
        isinstance(m, Mapping) and set(m) == {"role", "content"} and m["role"] == role
        and isinstance(m["content"], str) for m, role in zip(value, roles, strict=False))
    if not ok:
        want = ", ".join(f'{{"role": "{r}", "content": ...}}' for r in roles)
        raise RecordError(f'"{key}": a list [{want}]')
    return tuple(m["content"] for m in value)


def _prompt(value: Any) -> tuple[str, str]:
    system, question = _message(value, "prompt", ("system", "user"))
    return system, question


def _difficulty(value: Any) -> tuple[int | float, int | float]:
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
          and value[0] <= value[1])
    if not ok:
        raise RecordError('"difficulty": a list [lo, hi] of two numbers, lo <= hi')
    return value[0], value[1]


def _tests(value: Any) -> tuple[tuple[str, str], ...]:
    ok = isinstance(value, list) and all(
        isinstance(t, Mapping) and set(t) == {"args", "expected"}
        and isinstance(t["args"], str) and isinstance(t["expected"], str) for t in value)
    if not ok:
        raise RecordError('"tests": a list of {"args": JSON text, "expected": JSON text}')
    return tuple((t["args"], t["expected"]) for t in value)
