"""runtime.records: the one dispatch on a record's kind (code, exact text, trace)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime import UsageError
from runtime.records import grade_record, judge_record, record_kind

from .helpers import JANET


def test_the_kind_follows_the_record_shape() -> None:
    assert record_kind({"tests": [], "function": "f"}) == "code"
    assert record_kind({"answer": "[x]", "expert": None}) == "exact"
    assert record_kind({"answer": "26", "expert": "entity_track"}) == "trace"
    # A hand-written line without `expert` grades a trace and checks no expert.
    assert record_kind({"answer": "26"}) == "trace"
    assert grade_record(JANET, {"answer": "26"}).status == "correct"


def test_a_numeric_exact_answer_is_compared_as_text() -> None:
    record = {"answer": "14", "expert": None}  # an RPN record: "14.0" is not its answer
    assert grade_record("14", record).status == "correct"
    assert grade_record("14.0", record).status == "wrong_answer"


@pytest.mark.parametrize(("record", "field"), [
    ({"answer": "26", "expert": 3}, '"expert"'),
    ({"answer": "26", "expert": "entity_track", "experts": "entity_track"}, '"experts"'),
    ({"answer": "26", "question": 7}, '"question"'),
    ({"answer": "26", "constants": "60"}, '"constants"'),
    ({"answer": "many"}, '"answer"'),
    ({"answer": 26, "expert": None}, '"answer"'),
    ({"tests": [{"args": "[1]", "expected": "1"}]}, "code record"),
])
def test_a_malformed_record_names_its_field(record: dict, field: str) -> None:
    with pytest.raises(UsageError, match=field):
        grade_record(JANET, record)


_NO_FENCE = st.characters(blacklist_characters="`~")  # a fence is stripped: not this property


@given(st.text(_NO_FENCE, max_size=40), st.text(_NO_FENCE, min_size=1, max_size=20))
def test_exact_records_reward_only_the_exact_text(text: str, answer: str) -> None:
    graded = judge_record(text, {"answer": answer, "expert": None})
    assert graded.kind == "exact"
    assert graded.grade.correct == (text.strip() == answer.strip() != "")
    assert graded.grade.reward == (1.0 if graded.grade.correct else 0.0)
