"""runtime.sandbox.record_cases / grade_record: code-answer records as compiled by tasklang."""

from __future__ import annotations

import pytest

from runtime.errors import UsageError
from runtime.sandbox import grade_record, record_cases

RECORD = {"function": "is_balanced",
          "tests": [{"args": '["()"]', "expected": "true"}, {"args": '["(]"]', "expected": "false"},
                    {"args": '["[x]", 2]', "expected": '"t"'}]}


def test_cases_decode_args_and_typed_expected_values() -> None:
    assert record_cases(RECORD) == [(("()",), True), (("(]",), False), (("[x]", 2), "t")]


@pytest.mark.parametrize("tests", [None, [], "[]", [{"args": "[1"}], [{"args": "1", "expected": "1"}],
                                   [{"expected": "1"}], ["x"]])
def test_malformed_tests_are_usage_errors(tests: object) -> None:
    with pytest.raises(UsageError):
        record_cases({"function": "f", "tests": tests})


def test_grade_record_runs_the_records_own_cases() -> None:
    record = {"function": "f", "tests": [{"args": "[2]", "expected": "3"},
                                         {"args": "[5]", "expected": "6"}]}
    right = grade_record("```python\ndef f(x):\n    return x + 1\n```", record)
    assert (right.grade.status, right.grade.reward, right.passed, right.total) == ("correct", 1.0, 2, 2)
    wrong = grade_record("def f(x):\n    return 3\n", record, partial_credit=1.0)
    assert (wrong.grade.status, wrong.grade.reward) == ("wrong_answer", 0.5)
    with pytest.raises(UsageError):
        grade_record("def f(x): ...", {"tests": record["tests"]})
