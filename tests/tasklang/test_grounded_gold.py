"""The compiler's guarantee: every gold trace it writes is grounded in its own question.

(That every shipped pattern's gold grades 1.0 with its question is
tests/tasklang/test_library.py::test_gold_traces_grade_correct.)"""

from __future__ import annotations

from pathlib import Path

from tasklang import api

from .helpers import write

# The template shows `part`, so the static check (init-not-in-question) passes, but the
# question says "a few": the value 3 is stated nowhere. Only the rendered text can tell.
UNSTATED = """
    pattern hidden_price {
        let part = choice "a few" = 3
        let price = int 13..19
        template "Ann buys {part} pens at ${price} each. How much does she pay?"
        trace arithmetic {
            init part
            init price
            result = mul(part, price)
            query result
        }
    }
    dataset d {
        patterns hidden_price
        split train 5
        seed 1
    }
"""


def test_a_gold_init_the_question_never_states_stops_the_build(tmp_path: Path) -> None:
    src = write(tmp_path, UNSTATED)
    checked, items = api.preview([str(src)], "hidden_price", 2)
    assert checked.ok
    assert all(i.example is None for i in items)
    assert all("ungrounded_init" in (i.rejected or "") and "hidden_price/0" in (i.rejected or "")
               for i in items), [i.rejected for i in items]
    checked, results = api.compile_paths([str(src)], tmp_path / "out")
    errors = [d for r in results for d in r.diagnostics if d.severity == "error"]
    assert errors and errors[0].code == "unsatisfiable", [str(d) for d in errors]
    assert "ungrounded_init" in str(errors[0]) and "hidden_price" in str(errors[0])


def test_a_stated_number_word_or_unit_grounds_the_gold(tmp_path: Path) -> None:
    text = UNSTATED.replace('"a few" = 3', '"three" = 3')
    checked, items = api.preview([str(write(tmp_path, text))], "hidden_price", 5)
    assert checked.ok and all(i.example is not None for i in items), [i.rejected for i in items]
