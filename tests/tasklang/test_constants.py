"""`constants` in a dataset block: unit constants a gold or model trace may init although the
question does not state them, recorded in every record and honoured by every grader."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from click.testing import CliRunner

from runtime import grade
from tasklang import api
from tasklang.cli import main
from tasklang.parser import parse_text

PATTERN = """pattern miles_to_yards {
    let miles = int 2..9
    template "A trail is {miles} miles long. How many yards is that?"
    trace arithmetic {
        init miles
        init yards_per_mile = 1760
        result = mul(miles, yards_per_mile)
        query result
    }
}
"""


def dataset(*lines: str) -> str:
    body = "\n".join(f"    {line}" for line in lines)
    return f"""dataset yards {{
    patterns miles_to_yards
    split train 12
    min_template_repeats 1
{body}
}}
"""


def compile_text(tmp_path: Path, text: str) -> tuple[api.Checked, list]:  # type: ignore[type-arg]
    src = tmp_path / "yards.task"
    src.write_text(text, encoding="utf-8")
    return api.compile_paths([str(src)], tmp_path / "out")


def records(tmp_path: Path) -> list[dict]:  # type: ignore[type-arg]
    lines = (tmp_path / "out" / "yards" / "train.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in lines.splitlines()]


def test_statements_parse_with_spans_and_values() -> None:
    module, diags = parse_text(PATTERN + dataset("constants 1760, 5280", "constants 3.5"), "t.task")
    assert not diags and module is not None
    ds = module.items[-1]
    assert [c.values for c in ds.constants] == [(1760, 5280), (Fraction(7, 2),)]
    assert [c.span.line for c in ds.constants] == [15, 16]


def test_an_undeclared_factor_stops_the_build(tmp_path: Path) -> None:
    checked, results = compile_text(tmp_path, PATTERN + dataset())
    diags = checked.diagnostics + [d for r in results for d in r.diagnostics]
    assert any("ungrounded_init: init 1760" in note for d in diags for note in d.notes), \
        [d.headline() for d in diags]
    assert not (tmp_path / "out" / "yards").exists()


def test_declared_constants_are_recorded_and_grade_everywhere(tmp_path: Path) -> None:
    checked, results = compile_text(tmp_path, PATTERN + dataset("constants 1760"))
    assert checked.ok and all(r.ok for r in results), [d.headline() for d in checked.diagnostics]
    rows = records(tmp_path)
    assert rows and all(r["constants"] == ["1760"] for r in rows)
    for r in rows:
        question = r["prompt"][-1]["content"]
        text = r["completion"][0]["content"]
        assert grade(text, r["answer"], question=question, constants=r["constants"]).reward == 1.0
        # without the dataset's constants the same trace is refused: the factor is unstated
        assert grade(text, r["answer"], question=question).status == "exec_error:ungrounded_init"
    # `tasklang grade` reads the record's own prompt and constants
    lines = "\n".join(json.dumps({**r, "text": r["completion"][0]["content"]}) for r in rows)
    got = CliRunner().invoke(main, ["grade", "-"], input=lines)
    assert got.exit_code == 0, got.output
    statuses = {json.loads(line)["status"] for line in got.stdout.splitlines()}
    assert statuses == {"correct"}


def test_records_without_constants_keep_their_shape(tmp_path: Path) -> None:
    """A dataset that declares no constants writes `"constants": []` (every record has the
    field: one schema across datasets)."""
    text = PATTERN.replace("init yards_per_mile = 1760", "init yards_per_mile = 1000")
    checked, results = compile_text(tmp_path, text + dataset())
    assert checked.ok and all(r.ok for r in results)
    assert all(r["constants"] == [] for r in records(tmp_path))
