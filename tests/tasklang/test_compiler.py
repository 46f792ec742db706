"""compiler: a checked pattern samples verified examples; the answer is always the executed query."""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runtime
from tasklang import api
from tasklang.compiler import CompiledPattern, Example, Rejected, compile_pattern
from tasklang.rng import StreamRandom

from .helpers import GOLDEN, REPO, TASKS, write


def samples(tmp_path: Path, text: str, n: int = 20, pattern: str | None = None,
            seed: int = 0) -> list[api.PreviewItem]:
    path = write(tmp_path, text)
    checked, items = api.preview([str(path)], pattern, n, seed)
    assert checked.ok, [d.headline() for d in checked.diagnostics]
    return items


def examples(tmp_path: Path, text: str, n: int = 20) -> list[Example]:
    items = samples(tmp_path, text, n)
    assert all(i.example is not None for i in items), [i.rejected for i in items]
    return [i.example for i in items if i.example is not None]


LABELLED = """
    pattern p {
        let part = choice "half" = 1/2, "a quarter" = 1/4
        let total = int 4..40 step 4
        template "{part:cap} of {total} is what? ({part:frac})"
        trace arithmetic {
            init total
            init part
            result = mul(total, part)
            query result
        }
    }
    """


def test_labelled_choice_renders_label_and_computes_value(tmp_path: Path) -> None:
    for ex in examples(tmp_path, LABELLED):
        payload = dict(ex.payload)
        label = {"0.5": "Half", "0.25": "A quarter"}[payload["part"]]
        frac = {"0.5": "1/2", "0.25": "1/4"}[payload["part"]]
        assert ex.question.startswith(label) and ex.question.endswith(f"({frac})")
        assert f"value: {payload['part']}}}" in ex.completion
        assert Fraction(ex.answer) == Fraction(payload["total"]) * Fraction(payload["part"])


def test_answer_is_the_executed_query(tmp_path: Path) -> None:
    for ex in examples(tmp_path, LABELLED):
        assert ex.trace is not None
        outcome = runtime.execute(ex.trace, runtime.DEFAULT_EXPERTS)
        assert outcome.error is None and runtime.format_number(outcome.value) == ex.answer
        g = runtime.grade(ex.completion, ex.answer, expert=ex.expert)
        assert (g.status, g.reward) == ("correct", 1.0)


def test_templated_names_are_lower_case_identifiers(tmp_path: Path) -> None:
    for ex in examples(tmp_path, """
        vocab producers from "producers"
        pattern p {
            let maker = pick producers
            let rate = int 2..9
            let hours = int 2..9
            template "A {maker} {maker.verb} {rate} {maker.product} an hour for {hours} hours."
            trace rate_equation {
                init {maker.product}.rate = rate
                init hours
                result = mul({maker.product}.rate, hours)
                query result
            }
        }
        """, 40):
        product = ex.question.split(" an hour")[0].split(" ", 4)[4]
        assert f"var: {product.lower().replace(' ', '_')}.rate" in ex.completion


def test_exact_text_answer(tmp_path: Path) -> None:
    for ex in examples(tmp_path, """
        vocab words from "words"
        pattern wrap {
            let w = pick words
            template "Put {{ and }} around {w}"
            answer "{{{w}}}"
        }
        """):
        w = dict(ex.payload)["w"]
        assert ex.question == f"Put {{ and }} around {w}"
        assert ex.answer == ex.completion == f"{{{w}}}"
        assert ex.trace is None and ex.expert is None and ex.experts == ()


def test_composed_traces_are_labelled_composition(tmp_path: Path) -> None:
    for ex in examples(tmp_path, """
        pattern p {
            let price = int 10..90 step 10
            let rate = choice 10, 20, 50
            let extra = int 1..9
            template "${price} with {rate}% off, plus ${extra}."
            trace percentage {
                init price
                init rate
                result = percent_off(price, rate)
                query result
            }
            trace arithmetic {
                init prev = prev
                init extra
                result = add(prev, extra)
                query result
            }
        }
        """):
        assert ex.expert == "composition" and ex.experts == ("percentage", "arithmetic")
        assert ex.completion.startswith("- expert: percentage\n")
        assert "source: prev.result" in ex.completion
        assert runtime.grade(ex.completion, ex.answer, expert="percentage+arithmetic",
                             question=ex.question).reward == 1.0
        assert runtime.grade(ex.completion, ex.answer,
                             expert="percentage+arithmetic").reward == 1.0


def test_requires_filter_samples(tmp_path: Path) -> None:
    for ex in examples(tmp_path, """
        pattern p {
            let a = int 1..50
            let b = int 1..50
            require a > b and a % b == 0
            require answer >= 2
            template "{a} / {b}"
            trace arithmetic {
                init a
                init b
                result = div(a, b)
                query result
            }
        }
        """, 40):
        a, b = (int(v) for _, v in ex.payload)
        assert a > b and a % b == 0 and a // b >= 2 and ex.answer == str(a // b)


def test_derived_lets_are_in_the_payload(tmp_path: Path) -> None:
    for ex in examples(tmp_path, """
        pattern p {
            let a = int 1..9
            let b = a * 10
            template "{a} and {b}"
            trace arithmetic {
                init a
                init b
                result = add(a, b)
                query result
            }
        }
        """):
        payload = dict(ex.payload)
        assert int(payload["b"]) == 10 * int(payload["a"])
        assert [k for k, _ in ex.payload] == ["a", "b"]  # in let order


def test_decimal_ranges_stay_on_the_step(tmp_path: Path) -> None:
    for ex in examples(tmp_path, """
        pattern p {
            let price = decimal 0.5..2.5 step 0.25
            template "{price:money}"
            answer "{price}"
        }
        """, 60):
        value = Fraction(dict(ex.payload)["price"])
        assert Fraction(1, 2) <= value <= Fraction(5, 2) and (value * 4).denominator == 1


def test_pick_distinct_from(tmp_path: Path) -> None:
    for ex in examples(tmp_path, """
        vocab people from "people"
        pattern p {
            let a = pick people
            let b = pick people distinct from a
            let c = pick people distinct from a, b
            template "{a} {b} {c}"
            answer "{a}"
        }
        """, 60):
        names = [v for _, v in ex.payload]
        assert len(set(names)) == 3


def test_unsatisfiable_preview_reports_the_constraint(tmp_path: Path) -> None:
    (item,) = samples(tmp_path, """
        pattern p {
            let a = int 1..9
            require a > 10
            template "{a}"
            answer "{a}"
        }
        """, 1)
    assert item.example is None and item.rejected == "require a > 10"


def test_a_generator_parameter_out_of_range_at_sampling_time_is_a_rejection(tmp_path: Path) -> None:
    """A derived difficulty outside 1..10 must reject the sample, not crash the compiler."""
    items = samples(tmp_path, """
        pattern p {
            let n = int 1..3
            let e = generate arithmetic(difficulty = n - 5)
            template "{e}"
            answer "{e.answer}"
        }
        """, 2)
    assert all(i.example is None and i.rejected for i in items)


@pytest.mark.parametrize("seed", [0, 1])
def test_preview_is_deterministic(tmp_path: Path, seed: int) -> None:
    a = [i.example for i in samples(tmp_path, LABELLED, 5, seed=seed)]
    b = [i.example for i in samples(tmp_path, LABELLED, 5, seed=seed)]
    assert a == b


# ---------------------------------------------------------------- skeletons (the fast path)


@cache
def _shipped() -> list[tuple[CompiledPattern, CompiledPattern]]:
    """Every pattern with a gold trace in the shipped, benchmark and golden tasks, compiled
    twice: one pair member may use a skeleton, the other always builds and executes."""
    pairs = []
    for root in (TASKS, REPO / "bench" / "tasks", GOLDEN):
        checked = api.check([str(root)])
        assert checked.ok and checked.result is not None, root
        program = checked.program
        for p in program.patterns.values():
            if p.traces:
                fast, slow = (compile_pattern(p, program.vocabs, checked.result.table,
                                              program.sources.get(p.span.file)) for _ in "ab")
                slow.fixed_structure = False  # never makes a skeleton
                pairs.append((fast, slow))
    return pairs


def _draw(pattern: CompiledPattern, rng: StreamRandom) -> Example | str:
    try:
        env = pattern.sample_payload(rng)
        return pattern.realize(env, pattern.templates[rng.randrange(len(pattern.templates))])
    except Rejected as rejected:
        return rejected.reason


def test_every_fixed_structure_pattern_gets_a_skeleton() -> None:
    for fast, _ in _shipped():
        rng = StreamRandom.of(fast.name)
        while fast.skeleton is None and isinstance(_draw(fast, rng), str):
            pass
        assert (fast.skeleton is not None) == fast.fixed_structure, fast.name


@settings(max_examples=10, deadline=None)  # each: 4 draws of every shipped pattern, both ways
@given(st.integers(0, 2**64 - 1))
def test_skeletons_give_the_examples_of_built_and_executed_traces(seed: int) -> None:
    """Same examples, same rejection reasons; the answer is the executed gold trace's and
    the completion its rendering, and it grades 1.0."""
    test_every_fixed_structure_pattern_gets_a_skeleton()
    for fast, slow in _shipped():
        fast_rng, slow_rng = StreamRandom.of(seed), StreamRandom.of(seed)
        for _ in range(4):
            got, want = _draw(fast, fast_rng), _draw(slow, slow_rng)
            assert got == want, fast.name
            if isinstance(got, str):
                continue
            assert got.trace is not None and got.trace == want.trace  # type: ignore[union-attr]
            assert runtime.render(got.trace) == got.completion
            outcome = runtime.execute(got.trace, fast.table)
            assert outcome.value is not None and runtime.format_number(outcome.value) == got.answer
            graded = runtime.grade(got.completion, got.answer, experts=fast.table,
                                   expert=runtime.expected_expert(got.expert, got.experts),
                                   question=got.question)
            assert graded.reward == 1.0, (fast.name, graded.status)


def test_a_value_error_on_the_fast_path_is_the_full_trace_rejection(tmp_path: Path) -> None:
    """Division by zero and limits: the skeleton raises, the full trace says which."""
    text = """
        pattern p {
            let a = int 0..3
            let b = int 0..2
            let big = choice 1, 1000000000000000000000000000000000000
            template "What is {a} divided by {b} times {big} times {big}?"
            trace arithmetic {
                init a
                init b
                init big
                step1 = div(a, b)
                step2 = mul(big, big)
                result = mul(step1, step2)
                query result
            }
        }
        """
    checked = api.check([str(write(tmp_path, text))])
    assert checked.ok and checked.result is not None
    pattern = compile_pattern(checked.program.patterns["p"], {}, checked.result.table)
    rng = StreamRandom.of(0)
    draws = [_draw(pattern, rng) for _ in range(300)]
    assert pattern.skeleton is not None
    reasons = {d for d in draws[draws.index(next(d for d in draws if not isinstance(d, str))):]
               if isinstance(d, str)}  # those after the skeleton was made
    # short_circuit: a = b = big = 1 makes every step a copy of a 1 (ops.Facts)
    assert reasons - {"gold trace: short_circuit"} == {"gold trace: division_by_zero",
                                                      "gold trace: limits_exceeded"}


@given(st.one_of(st.integers(-10**16, 10**16),
                 st.fractions(max_denominator=100).filter(lambda f: f.denominator in (1, 2, 4, 100))),
       st.sampled_from(["comma", "money"]))
def test_fast_number_formats_render_what_render_value_renders(value: object, fmt: str) -> None:
    """`{n:comma}` and `{n:money}` have a fast path for ints; every value renders as the
    general formatter renders it (or both fail)."""
    from tasklang.compiler import compile_template
    from tasklang.expr import EvalError
    from tasklang.formats import FormatError, parse_template, render_value

    try:
        want: str | None = render_value(value, (fmt,))
    except FormatError:
        want = None
    try:
        got: str | None = compile_template(parse_template(f"{{n:{fmt}}}").parts)({"n": value})
    except EvalError:  # what the general path raises where render_value fails
        got = None
    assert got == want
