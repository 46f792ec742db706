"""limits: every resource limit has a diagnostic with a position, exit 1, a default and a
dataset setting that raises it; each reproducer of issue 11 fails fast instead of hanging,
filling memory or ending in an internal error."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from tasklang import api
from tasklang.budget import ByteUpperBound
from tasklang.build import Failure, candidate, make_context, preflight
from tasklang.checks import dataset_limits
from tasklang.cli import main
from tasklang.diagnostics import source_lines
from tasklang.expr import EvalError, compile_expr, using_limits
from tasklang.limits import DEFAULT_LIMITS, DIGITS_CEILING, LIMITS, LimitError, Limits

from .helpers import BROKEN, REPO, check_text, error_codes, write
from .test_expr import parse_expr

FAST = 20.0  # seconds: generous, the machine is shared; the bugs took minutes or never ended


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def compile_cli(tmp_path: Path, text: str) -> Result:
    path = write(tmp_path, text)
    start = time.monotonic()
    result = run_cli("compile", str(path), "-o", str(tmp_path / "out"))
    assert time.monotonic() - start < FAST
    return result


def assert_diagnostic(result: Result, code: str, line: int) -> None:
    """Exit 1 (bad input, never 3: internal error) and `t.task:LINE:COL: error[CODE]`."""
    assert result.exit_code == 1, result.output
    assert f"t.task:{line}:" in result.output and f"error[{code}]" in result.output, result.output
    headline = next(x for x in result.output.splitlines() if f"error[{code}]" in x)
    assert headline.split(":")[1] == str(line), headline


def dataset(patterns: str, *settings_lines: str, split: str = "split train 5") -> str:
    lines = "\n".join(f"    {s}" for s in (split, "min_template_repeats 1", *settings_lines))
    return f"dataset d {{\n    patterns {patterns}\n{lines}\n}}\n"


SMALL = """pattern p {
    let a = int 1..9
    template "{a}"
    answer "{a}"
}
"""

UNSATISFIABLE = """pattern never {
    let a = int 1..9
    require a > 100
    template "{a}"
    answer "{a}"
}
"""


# ---------------------------------------------------------------- examples per dataset


@pytest.mark.parametrize("size", [100_000_000, 1_000_000_000_000])
def test_examples_limit_is_checked_before_anything_is_sampled(tmp_path: Path, size: int) -> None:
    """10**8 examples extrapolated to 73 min and 38 GB; 10**12 reached MemoryError."""
    result = compile_cli(tmp_path, SMALL + dataset("p", split=f"split train {size}"))
    assert_diagnostic(result, "limit-examples", 8)
    assert "max_examples" in result.output


def test_examples_limit_counts_every_split(tmp_path: Path) -> None:
    text = SMALL + dataset("p", "split val 6000000", split="split train 6000000")
    checked = check_text(tmp_path, text)
    hits = [d for d in checked.diagnostics if d.code == "limit-examples"]
    assert len(hits) == 1 and hits[0].span.line == 10  # val: the split that passes the limit


def test_unsatisfiable_is_found_before_a_split_is_ordered(tmp_path: Path) -> None:
    """`split train 10**12`, raised limit and an unsatisfiable require: this once built a
    10**12 order and ended in MemoryError after 14 s; now no order exists when it is found."""
    text = UNSATISFIABLE + dataset("never", "max_examples 1000000000000",
                                   split="split train 1000000000000")
    assert_diagnostic(compile_cli(tmp_path, text), "unsatisfiable", 3)  # at the require
    checked = api.check([str(tmp_path / "t.task")])
    assert checked.ok and checked.result is not None
    ds = checked.program.datasets["d"]
    ctx = make_context(checked.program, checked.result, ds, ByteUpperBound(), ordered=False)
    assert [d.code for d in preflight(ctx, checked.program, ds)] == ["unsatisfiable"]
    assert ctx.orders == {}


# ---------------------------------------------------------------- places


def test_constant_round_places_are_refused_when_checking(tmp_path: Path) -> None:
    text = UNSATISFIABLE.replace("require a > 100", "require round(a, 300000000) > 0")
    assert_diagnostic(compile_cli(tmp_path, text + dataset("never")), "limit-places", 3)


def test_negative_places_too(tmp_path: Path) -> None:
    text = SMALL.replace('    template', '    let b = round(10**64, -100000000)\n    template')
    text = text.replace('"{a}"\n    answer', '"{a} {b}"\n    answer')
    assert_diagnostic(compile_cli(tmp_path, text + dataset("p")), "limit-places", 3)


def test_computed_places_are_refused_while_sampling(tmp_path: Path) -> None:
    text = """pattern p {
    let a = int 1..9
    let d = int 200..300
    let b = round(a / 7, d)
    template "{a} {b}"
    answer "{a}"
}
"""
    result = compile_cli(tmp_path, text + dataset("p"))
    assert_diagnostic(result, "limit-places", 4)
    assert "p: round to" in result.output


def test_places_can_be_raised(tmp_path: Path) -> None:
    text = SMALL.replace('    template', '    let b = round(a / 7, 150)\n    template')
    text = text.replace('"{a}"\n    answer', '"{a} {b:frac}"\n    answer')
    result = compile_cli(tmp_path, text + dataset("p", "max_places 150"))
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- digits


def test_a_power_past_the_digit_limit_fails_before_it_is_computed(tmp_path: Path) -> None:
    """`a / (10**64)**64` took 100 s for 5 examples."""
    text = SMALL.replace('    template', '    let b = a / (10**64)**64\n    template')
    result = compile_cli(tmp_path, text + dataset("p"))
    assert_diagnostic(result, "limit-digits", 3)


def test_a_literal_python_cannot_convert_is_a_diagnostic(tmp_path: Path) -> None:
    """4,301 digits: a VisitError (exit 3) once; now the parser names the literal."""
    text = SMALL.replace('    template', f'    let b = a + {"7" * 4301}\n    template')
    result = compile_cli(tmp_path, text + dataset("p"))
    assert_diagnostic(result, "limit-digits", 3)
    assert f"4301 digits (no setting allows more than {DIGITS_CEILING})" in result.output


def test_a_long_literal_is_refused_unless_the_dataset_raises_the_limit(tmp_path: Path) -> None:
    text = SMALL.replace('    template', f'    let b = a + {"7" * 1500}\n    template')
    text = text.replace('"{a}"\n    answer', '"{a} {b}"\n    answer')
    assert_diagnostic(compile_cli(tmp_path, text + dataset("p")), "limit-digits", 3)
    ok = compile_cli(tmp_path, text + dataset("p", "max_digits 2000", "max_length 4096"))
    assert ok.exit_code == 0, ok.output


def test_a_sum_past_the_digit_limit_never_reaches_the_payload(tmp_path: Path) -> None:
    """A computed let over 4,300 digits ended in ValueError (Python cannot print it) in
    payload_items; with the limit at its ceiling, the let itself is refused."""
    text = """pattern p {
    let a = int 1..9
    let b = 9 * (10**60)**60 * (10**60)**11 * 10**39
    let c = b + b
    template "{a} {c}"
    answer "{a}"
}
"""
    result = compile_cli(tmp_path, text + dataset("p", "max_digits 4300"))
    assert_diagnostic(result, "limit-digits", 4)
    assert "let c has more than 4300 digits" in result.output


def test_products_are_bounded_where_they_compute(tmp_path: Path) -> None:
    chain = "*".join(["b"] * 40)
    text = SMALL.replace('    template', f'    let b = 10**60 + a\n    let c = {chain}\n'
                         '    template').replace('"{a}"\n    answer', '"{a} {c}"\n    answer')
    assert_diagnostic(compile_cli(tmp_path, text + dataset("p")), "limit-digits", 4)


def test_digit_setting_has_a_ceiling(tmp_path: Path) -> None:
    checked = check_text(tmp_path, SMALL + dataset("p", f"max_digits {DIGITS_CEILING + 1}"))
    assert error_codes(checked.diagnostics) == ["bad-setting"]


# ---------------------------------------------------------------- domains


def test_thirty_huge_ranges_do_not_overflow_the_domain_estimate(tmp_path: Path) -> None:
    """Thirty lets of `int 1..10**12`: OverflowError (exit 3) in the domain check once."""
    lets = "\n".join(f"    let v{i} = int 1..1000000000000" for i in range(30))
    shown = " ".join(f"{{v{i}}}" for i in range(30))
    text = f'pattern p {{\n{lets}\n    template "{shown}"\n    answer "{{v0}}"\n}}\n'
    result = compile_cli(tmp_path, text + dataset("p"))
    assert result.exit_code == 0, result.output
    audited = run_cli("audit", str(tmp_path / "t.task"))  # it enumerated 10**12 values
    assert audited.exit_code == 0 and "MemoryError" not in audited.output, audited.output


# ---------------------------------------------------------------- templates


def many_templates(n: int) -> str:
    body = "\n".join(f'    template "Case {i}: {{a}}"' for i in range(n))
    return f"pattern p {{\n    let a = int 1..9\n{body}\n    answer \"{{a}}\"\n}}\n"


def test_templates_per_pattern(tmp_path: Path) -> None:
    checked = check_text(tmp_path, many_templates(1001) + dataset("p"))
    hits = [d for d in checked.diagnostics if d.code == "limit-templates"]
    assert len(hits) == 1 and hits[0].span.line == 1003  # the 1001st template
    raised = check_text(tmp_path, many_templates(1001) + dataset("p", "max_templates 1001"))
    assert "limit-templates" not in error_codes(raised.diagnostics)


def test_checking_many_templates_splits_the_source_once(tmp_path: Path) -> None:
    """Positions of 10,000 templates once re-split the whole file per template (11 s)."""
    path = write(tmp_path, many_templates(10_000) + dataset("p", "max_templates 10000"))
    source_lines.cache_clear()
    start = time.monotonic()
    checked = api.check([str(path)])
    assert time.monotonic() - start < FAST * 2
    assert checked.ok, [d.headline() for d in checked.diagnostics[:3]]
    info = source_lines.cache_info()
    assert info.misses == 1 and info.hits >= 10_000


# ---------------------------------------------------------------- test cases


def code_pattern(statements: int) -> str:
    tests = "\n".join("    tests 100 from generate rpn(difficulty = 1..7)"
                      for _ in range(statements))
    ref = "evaluate_rpn.py"  # copied beside the test's file: references stay inside the root
    return f"""pattern code {{
    let e = generate rpn(difficulty = 2)
    template "Write evaluate_rpn for {{e}}"
    function evaluate_rpn(expression: str) -> int
{tests}
    reference "{ref}"
}}
"""


def copy_reference(tmp_path: Path) -> None:
    (tmp_path / "evaluate_rpn.py").write_bytes((BROKEN / "code" / "evaluate_rpn.py").read_bytes())


def test_test_cases_per_pattern_sum_over_statements(tmp_path: Path) -> None:
    """Ten `tests 100` took 45 s: only the count per statement was capped."""
    copy_reference(tmp_path)
    result = compile_cli(tmp_path, code_pattern(10) + dataset("code"))
    assert_diagnostic(result, "limit-test-cases", 6)  # the second statement passes 100
    assert result.output.count("error[limit-test-cases]") == 1


def test_test_cases_can_be_raised(tmp_path: Path) -> None:
    copy_reference(tmp_path)
    checked = check_text(tmp_path, code_pattern(10) + dataset("code", "max_test_cases 1000"))
    assert checked.ok, [d.headline() for d in checked.diagnostics]


# ---------------------------------------------------------------- preflight time


def test_slow_preflight_names_the_pattern(tmp_path: Path) -> None:
    """A pattern whose every sample is slow (4,096-digit fractions) stops at the preflight
    limit, not hours into the build."""
    text = SMALL.replace('    template', '    let b = a / (10**64)**64\n    template')
    text = text.replace('"{a}"\n    answer', '"{a} {b}"\n    answer')
    result = compile_cli(tmp_path, text + dataset("p", "max_digits 4300",
                                                  "max_preflight_seconds 1"))
    assert_diagnostic(result, "limit-preflight-time", 8)  # the pattern's line in the dataset
    assert "p: preflight sampling took more than 1 s" in result.output


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("limit", LIMITS, ids=lambda lim: lim.setting)
def test_every_limit_can_be_raised_by_a_dataset(tmp_path: Path, limit: object) -> None:
    setting = limit.setting  # type: ignore[attr-defined]
    default = limit.default  # type: ignore[attr-defined]
    assert getattr(DEFAULT_LIMITS, setting) == default
    value = min(default * 2, limit.ceiling or default * 2)  # type: ignore[attr-defined]
    checked = check_text(tmp_path, SMALL + dataset("p", f"{setting} {value}"))
    assert checked.ok, [d.headline() for d in checked.diagnostics]
    assert getattr(dataset_limits(checked.program.datasets["d"]), setting) == value


@pytest.mark.parametrize("value", ["0", "2.5", '"many"'])
def test_limit_settings_need_a_whole_positive_number(tmp_path: Path, value: str) -> None:
    checked = check_text(tmp_path, SMALL + dataset("p", f"max_examples {value}"))
    assert error_codes(checked.diagnostics) == ["type-error"]


def test_a_sample_past_a_limit_during_generation_is_a_diagnostic(tmp_path: Path) -> None:
    """Past the preflight, a value over a limit stops the build with the limit's diagnostic
    (not `unsatisfiable`, and not an exception)."""
    text = SMALL.replace('    template', '    let b = a / (10**64)**64\n    template')
    checked = api.check([str(write(tmp_path, text + dataset("p")))])
    assert checked.result is not None
    ds = checked.program.datasets["d"]
    ctx = make_context(checked.program, checked.result, ds, ByteUpperBound())
    got = candidate(ctx, "train", 0, 0)
    assert isinstance(got, Failure) and got.limit is not None
    assert got.limit.code == "limit-digits" and got.limit.span.line == 3


# ---------------------------------------------------------------- the evaluator


def evaluate(text: str, limits: Limits = DEFAULT_LIMITS) -> object:
    with using_limits(limits):
        fn = compile_expr(parse_expr(text))
    return fn({})


def over(value: Fraction, max_digits: int) -> bool:
    """More than `max_digits` digits above or below the line (no text: it may be huge)."""
    return abs(value.numerator) >= 10**max_digits or value.denominator >= 10**max_digits


@settings(max_examples=200, deadline=None)
@given(base=st.integers(-10**120, 10**120), inner=st.integers(-64, 64),
       outer=st.integers(-64, 64), max_digits=st.integers(1, 1200))
def test_powers_evaluate_exactly_or_refuse_fast(base: int, inner: int, outer: int,
                                                max_digits: int) -> None:
    """`(b**i)**o`: the exact value when every step fits the digit limit, else LimitError
    (never a wrong refusal, never a hang); EvalError only for 0 to a negative power."""
    limits = Limits(max_digits=max_digits)
    text = f"(({base})**({inner}))**({outer})"
    start = time.monotonic()
    try:
        got = evaluate(text, limits)
    except LimitError as err:
        assert err.setting == "max_digits"
        step = Fraction(base) ** inner
        assert over(step, max_digits) or over(step ** outer, max_digits)
    except EvalError:
        assert base == 0 and (inner < 0 or (inner > 0 and outer < 0))
    else:
        want = (Fraction(base) ** inner) ** outer
        assert got == want and not over(want, max_digits)
    assert time.monotonic() - start < 5


@settings(max_examples=100, deadline=None)
@given(places=st.integers(-10**9, 10**9))
def test_round_places_evaluate_or_refuse(places: int) -> None:
    try:
        got = evaluate(f"round(22 / 7, {places})")
    except LimitError as err:
        assert err.setting == "max_places" and abs(places) > DEFAULT_LIMITS.max_places
    else:
        assert abs(places) <= DEFAULT_LIMITS.max_places
        assert got == round(Fraction(22, 7) * Fraction(10) ** places) / Fraction(10) ** places


# ---------------------------------------------------------------- docs


@pytest.mark.parametrize("limit", LIMITS, ids=lambda lim: lim.setting)
def test_the_manual_states_each_limit(limit: object) -> None:
    """docs/LANGUAGE.md's Limits table row of each code: its default and its setting."""
    text = (REPO / "docs" / "LANGUAGE.md").read_text(encoding="utf-8")
    code = f"| `{limit.code}` |"  # type: ignore[attr-defined]
    row = next(line for line in text.splitlines() if line.endswith(code))
    assert f"{limit.default:,}" in row and f"`{limit.setting} N`" in row  # type: ignore[attr-defined]


def test_preview_reports_a_limit_as_a_diagnostic(tmp_path: Path) -> None:
    text = SMALL.replace('    template', '    let b = a / (10**64)**64\n    template')
    path = write(tmp_path, text + dataset("p"))
    result = run_cli("preview", str(path), "-n", "2")
    assert_diagnostic(result, "limit-digits", 3)
