"""tasklang.record: the one typed dataset Record, its JSON line and its way back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasklang.record import Record, RecordError

GOLDEN = Path(__file__).parent / "golden"

_TEXT = st.text(max_size=12)  # any text: quotes, newlines, non-ASCII and lone surrogates
_LEVEL = st.integers(0, 1000) | st.floats(0, 1000, allow_nan=False).filter(lambda x: x != int(x))


@st.composite
def records(draw: st.DrawFn) -> Record:
    code = draw(st.booleans())
    return Record(
        id=draw(_TEXT), split=draw(_TEXT), pattern=draw(_TEXT),
        expert=draw(st.none() | _TEXT), experts=tuple(draw(st.lists(_TEXT, max_size=3))),
        template_id=draw(_TEXT), language=draw(_TEXT),
        payload=tuple(draw(st.dictionaries(_TEXT, _TEXT, max_size=3)).items()),
        answer=draw(_TEXT), system=draw(_TEXT), question=draw(_TEXT), completion=draw(_TEXT),
        constants=tuple(draw(st.lists(_TEXT, max_size=2))),
        function=draw(_TEXT) if code else None,
        tests=tuple(draw(st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=3))) if code else (),
        difficulty=draw(st.none() | st.tuples(_LEVEL, _LEVEL).map(lambda t: tuple(sorted(t)))),
    )


@given(records())
def test_the_line_is_json_dumps_of_the_record_and_reads_back(record: Record) -> None:
    line = record.to_line()
    assert line == json.dumps(record.to_json(), ensure_ascii=False)
    assert Record.from_json(json.loads(line)) == record


@pytest.mark.parametrize("name", ["word_problems", "operators", "code_answers"])
def test_golden_lines_read_back_byte_for_byte(name: str) -> None:
    """Every shipped shape (traces, exact text, code answers with tests, constants) survives
    from_json -> to_line unchanged."""
    for path in sorted((GOLDEN / name / "expected").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert Record.from_json(json.loads(line)).to_line() == line


def _golden_record() -> dict:
    path = GOLDEN / "code_answers" / "expected" / "train.jsonl"
    return json.loads(path.read_text(encoding="utf-8").splitlines()[0])


@pytest.mark.parametrize(("change", "field"), [
    ({"answer": 3}, '"answer": a string'),
    ({"experts": "a"}, '"experts": a list of strings'),
    ({"payload": {"e": "1"}}, '"payload": the JSON text'),
    ({"payload": '{"e": 1}'}, '"payload": the JSON text'),
    ({"prompt": [{"role": "user", "content": "q"}]}, '"prompt"'),
    ({"tests": [{"args": [1], "expected": "2"}]}, '"tests"'),
    ({"extra": 1}, '"extra": not a record field'),
    ({"difficulty": [3, 1]}, '"difficulty": a list'),
    ({"difficulty": 2}, '"difficulty": a list'),
])
def test_a_bad_record_names_its_field(change: dict, field: str) -> None:
    with pytest.raises(RecordError, match=field):
        Record.from_json({**_golden_record(), **change})


def test_missing_fields_and_half_code_records_are_refused() -> None:
    data = _golden_record()
    with pytest.raises(RecordError, match='"id": missing'):
        Record.from_json({k: v for k, v in data.items() if k != "id"})
    with pytest.raises(RecordError, match='"function" and "tests" come together'):
        Record.from_json({**data, "tests": []})
    with pytest.raises(RecordError, match="a JSON object"):
        Record.from_json([data])
