"""Constants and nested ops in trace statements: `mul(hours, 60)` and `add(mul(a, b), c)`
are lowered (tasklang.lower) to explicit steps, so the model's trace stays
init/compute/query, the gold trace is grounded and skeletons give what the full path gives."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import runtime
from runtime.ops import NAME_RE
from tasklang import api, ast
from tasklang.compiler import CompiledPattern, Example, Rejected, compile_pattern
from tasklang.lower import constant_name
from tasklang.parser import parse_text
from tasklang.record import payload_of
from tasklang.rng import StreamRandom

from .helpers import write

PATTERNS = """
pattern minutes {
    let hours = int 2..9
    template "A film runs {hours} hours. How many minutes is that?"
    trace arithmetic {
        init hours
        result = mul(hours, 60)
        query result
    }
}

pattern nested {
    let a = int 2..9
    let b = int 2..9
    let c = int 2..9
    template "Ann has {a} bags of {b} apples and {c} loose apples. How many apples?"
    trace arithmetic {
        init a
        init b
        init c
        result = add(mul(a, b), c)
        query result
    }
}
"""

EXPERTS = "expert arithmetic: compute(add, sub, mul, div, floor, ceil, round)\n"

WHOLE_HOURS = """
pattern whole_hours {
    let minutes = int 61..600
    template "A shift lasts {minutes} minutes. How many whole hours is that?"
    trace arithmetic {
        init minutes
        result = floor(div(minutes, 60))
        query result
    }
}
"""


def _steps(text: str) -> tuple[ast.TStmt, ...]:
    module, diags = parse_text(EXPERTS + text, "t.task")
    assert module is not None and not diags, [d.headline() for d in diags]
    pattern = next(i for i in module.items if isinstance(i, ast.Pattern))
    return pattern.traces[0].steps


def _shape(steps: tuple[ast.TStmt, ...]) -> list[str]:
    out = []
    for s in steps:
        if isinstance(s, ast.TInit):
            value = "" if s.value is None else f" = {float(s.value.value):g}"  # type: ignore
            out.append(f"init {s.var.text}{value}")
        elif isinstance(s, ast.TOp):
            out.append(f"{s.out.text if s.out else ''} = {s.op}({', '.join(a.text for a in s.args)})")
        else:
            out.append(f"query {s.var.text}")
    return out


def test_a_constant_becomes_an_init_right_before_its_step() -> None:
    steps = _steps(PATTERNS.split("pattern nested")[0])
    assert _shape(steps) == ["init hours", "init c60 = 60", "result = mul(hours, c60)",
                             "query result"]
    init = steps[1]
    assert isinstance(init, ast.TInit) and (init.span.line, init.span.col) == (8, 29)  # the `60`


def test_a_nested_op_becomes_a_fresh_step() -> None:
    steps = _steps("pattern nested" + PATTERNS.split("pattern nested")[1])
    assert _shape(steps)[3:] == ["step1 = mul(a, b)", "result = add(step1, c)", "query result"]


def test_generated_names_never_clash_and_constants_are_inited_once() -> None:
    steps = _steps("""
pattern p {
    let step1 = int 2..9
    let c60 = int 2..9
    template "{step1} and {c60}"
    trace arithmetic {
        init step1
        init c60
        x = mul(add(step1, 60), 60)
        result = add(x, mul(c60, 0.5))
        query result
    }
}
""")
    assert _shape(steps)[2:] == [
        "init c60_2 = 60", "step1_2 = add(step1, c60_2)", "x = mul(step1_2, c60_2)",
        "init c0_5 = 0.5", "step2 = mul(c60, c0_5)", "result = add(x, step2)", "query result"]


def test_constant_names() -> None:
    assert [constant_name(Fraction(v)) for v in ("60", "0.25", "12.5", "0")] == \
        ["c60", "c0_25", "c12_5", "c0"]


def test_the_checks_pass_and_an_unknown_nested_op_is_named(tmp_path: Path) -> None:
    checked = api.check([str(write(tmp_path, EXPERTS + PATTERNS))])
    assert checked.ok, [d.headline() for d in checked.diagnostics]
    assert not [d for d in checked.diagnostics if d.code.startswith("dead")]
    bad = PATTERNS.replace("add(mul(a, b), c)", "add(mull(a, b), c)")
    checked = api.check([str(write(tmp_path, EXPERTS + bad))])
    # one error, at the nested call itself: the scaffold step1 it would define is not undefined
    assert [(d.code, d.span.line, d.span.col, d.message) for d in checked.diagnostics] == [
        ("bad-step", 22, 22, "unknown op mull")]


def _dataset(name: str, *lines: str) -> str:
    body = "\n".join(f"    {line}" for line in lines)
    return f"""dataset d {{
    patterns {name}
    split train 12
    min_template_repeats 1
{body}
}}
"""


def test_the_written_trace_has_the_init_and_grades_with_its_constant(tmp_path: Path) -> None:
    text = EXPERTS + PATTERNS + _dataset("minutes, nested", "constants 60")
    checked, results = api.compile_paths([str(write(tmp_path, text))], tmp_path / "out")
    assert checked.ok and all(r.ok for r in results), \
        [d.headline() for r in results for d in r.diagnostics]
    rows = [json.loads(line) for line in
            (tmp_path / "out" / "d" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows
    for r in rows:
        completion = r["completion"][0]["content"]
        question = r["prompt"][-1]["content"]
        assert "c60" in completion or "step1" in completion, completion
        graded = runtime.grade(completion, r["answer"], question=question,
                               constants=r.get("constants"))
        assert graded.reward == 1.0, graded.status


def test_an_ungrounded_constant_is_named_in_the_unsatisfiable_error(tmp_path: Path) -> None:
    text = EXPERTS + PATTERNS.replace("mul(hours, 60)", "mul(hours, 61)") + _dataset("minutes")
    checked, results = api.compile_paths([str(write(tmp_path, text))], tmp_path / "out")
    diags = checked.diagnostics + [d for r in results for d in r.diagnostics]
    assert any(d.code == "unsatisfiable" for d in diags), [d.headline() for d in diags]
    words = " ".join(" ".join([d.message, *d.notes, *d.helps]) for d in diags)
    assert "ungrounded_init: init 61" in words and "constants 61" in words, words


def _draw(pattern: CompiledPattern, rng: StreamRandom) -> Example | str:
    try:
        env = pattern.sample_payload(rng)
        return pattern.realize(env, pattern.templates[rng.randrange(len(pattern.templates))])
    except Rejected as rejected:
        return rejected.reason


def test_the_skeleton_gives_what_the_full_path_gives(tmp_path: Path) -> None:
    checked = api.check([str(write(tmp_path, EXPERTS + PATTERNS))])
    assert checked.ok and checked.result is not None
    for name in ("minutes", "nested"):
        p = checked.program.patterns[name]
        fast, slow = (compile_pattern(p, {}, checked.result.table) for _ in "ab")
        slow.fixed_structure = False
        fast_rng, slow_rng = StreamRandom.of(3), StreamRandom.of(3)
        for _ in range(40):
            got, want = _draw(fast, fast_rng), _draw(slow, slow_rng)
            assert got == want, name
        assert fast.skeleton is not None, name


def test_floor_of_a_nested_div_with_a_constant(tmp_path: Path) -> None:
    steps = _steps(WHOLE_HOURS)
    assert _shape(steps) == ["init minutes", "init c60 = 60", "step1 = div(minutes, c60)",
                             "result = floor(step1)", "query result"]
    text = EXPERTS + WHOLE_HOURS + _dataset("whole_hours", "constants 60")
    checked, results = api.compile_paths([str(write(tmp_path, text))], tmp_path / "out")
    assert checked.ok and all(r.ok for r in results), \
        [d.headline() for r in results for d in r.diagnostics]
    rows = [json.loads(line) for line in
            (tmp_path / "out" / "d" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in rows:
        assert r["answer"] == str(int(payload_of(r)["minutes"]) // 60)
        graded = runtime.grade(r["completion"][0]["content"], r["answer"],
                               question=r["prompt"][-1]["content"], constants=r.get("constants"))
        assert graded.reward == 1.0, graded.status


# ---------------------------------------------------------------- negative constants

PENALTY = """
pattern penalty {
    let score = int 20..40
    let wrong = int 2..6
    template "Sam scored {score} points, then lost 3 points for each of {wrong} wrong answers. "
             "What is his score now?"
    trace arithmetic {
        init score
        init wrong
        lost = mul(wrong, -3)
        result = add(score, lost)
        query result
    }
}
"""


def test_a_negative_constant_becomes_an_init_of_its_own() -> None:
    steps = _steps("""
pattern p {
    let a = int 2..9
    template "{a}"
    trace arithmetic {
        init a
        x = mul(a, -1)
        y = sub(x, -0.5)
        z = add(y, mul(a, -1))
        query z
    }
}
""")
    assert _shape(steps) == ["init a", "init cneg1 = -1", "x = mul(a, cneg1)",
                             "init cneg0_5 = -0.5", "y = sub(x, cneg0_5)",
                             "step1 = mul(a, cneg1)", "z = add(y, step1)", "query z"]
    init = steps[1]
    assert isinstance(init, ast.TInit) and (init.span.col, init.span.end_col) == (20, 22)  # `-1`


@given(st.decimals(min_value=-10**6, max_value=10**6, places=3, allow_nan=False,
                   allow_infinity=False))
def test_constant_names_are_names_and_tell_values_apart(value: object) -> None:
    number = Fraction(str(value))
    name = constant_name(number)
    assert NAME_RE.fullmatch(name)
    assert name.startswith("cneg") == (number < 0)
    assert constant_name(-number) != name or number == 0


def test_a_negative_constant_is_grounded_by_its_magnitude(tmp_path: Path) -> None:
    text = EXPERTS + PENALTY + _dataset("penalty")
    checked, results = api.compile_paths([str(write(tmp_path, text))], tmp_path / "out")
    assert checked.ok and all(r.ok for r in results), \
        [d.headline() for r in results for d in r.diagnostics]
    rows = [json.loads(line) for line in
            (tmp_path / "out" / "d" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows
    for r in rows:
        payload = payload_of(r)
        assert r["answer"] == str(int(payload["score"]) - 3 * int(payload["wrong"]))
        completion = r["completion"][0]["content"]
        assert "cneg3" in completion and "-3" in completion, completion
        graded = runtime.grade(completion, r["answer"], question=r["prompt"][-1]["content"],
                               constants=r.get("constants") or ())
        assert graded.reward == 1.0, graded.status


def test_an_ungrounded_negative_constant_names_its_magnitude(tmp_path: Path) -> None:
    text = EXPERTS + PENALTY.replace("-3)", "-9)") + _dataset("penalty")
    checked, results = api.compile_paths([str(write(tmp_path, text))], tmp_path / "out")
    diags = checked.diagnostics + [d for r in results for d in r.diagnostics]
    words = " ".join(" ".join([d.message, *d.notes, *d.helps]) for d in diags)
    assert any(d.code == "unsatisfiable" for d in diags), words
    assert "init -9" in words and "`constants 9`" in words, words


def test_a_negated_name_in_a_trace_gets_a_specific_hint(tmp_path: Path) -> None:
    bad = PENALTY.replace("mul(wrong, -3)", "mul(-wrong, 3)")
    checked = api.check([str(write(tmp_path, EXPERTS + bad))])
    assert [(d.code, d.span.line, d.span.col) for d in checked.diagnostics] == [("syntax", 11, 21)]
    assert "`mul(wrong, -1)`" in " ".join(checked.diagnostics[0].helps)
