"""Property-based tests of the runtime (strategies in tests/runtime/strategies.py).

Valid traces are generated with an independent oracle of their values; arbitrary and
hostile text checks that grading never raises, stays fast, and only ever returns one of
the configured rewards.
"""

from __future__ import annotations

import re
import time
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from runtime import (
    COMPUTE_OPS,
    DEFAULT_LIMITS,
    ComposedTrace,
    ErrorKind,
    ExecError,
    Grounding,
    Limits,
    RewardWeights,
    Trace,
    execute,
    format_number,
    from_data,
    grade,
    parse,
    render,
)
from runtime.extract import HAS_C_LOADER, _Bounded, bounded_load, fast_load
from runtime.grade import CORRECT, PARSE_FAILURE, VALID, WRONG_ANSWER, WRONG_EXPERT
from runtime.trace import build_step

from . import strategies as gen

LOADERS = ["c", "python"] if HAS_C_LOADER else ["python"]
TIME_BOUND = 2.0  # seconds for one grade() call; real calls take milliseconds

PROPERTY = settings(max_examples=120, deadline=2000,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
FUZZ = settings(max_examples=200, deadline=3000, suppress_health_check=[HealthCheck.too_slow])


def typed(gt: gen.GenTrace) -> Trace | ComposedTrace:
    trace = from_data(gt.data())
    assert isinstance(trace, Trace | ComposedTrace), trace
    return trace


def timed_grade(text: Any, *args: Any, **kwargs: Any) -> Any:
    start = time.perf_counter()
    g = grade(text, *args, **kwargs)
    assert time.perf_counter() - start < TIME_BOUND
    return g


def reward_for(status: str, w: RewardWeights) -> float | None:
    """The reward a status must carry under weights `w` (the README's ladder)."""
    if status.startswith("exec_error:"):
        return float(w.per_kind.get(status.removeprefix("exec_error:"), w.exec_error))
    return {CORRECT: w.correct, WRONG_ANSWER: w.wrong_answer, WRONG_EXPERT: w.wrong_expert,
            PARSE_FAILURE: w.parse_failure, VALID: None}[status]


# ---------------------------------------------------------------- valid traces


@PROPERTY
@given(gen.traces)
def test_execution_is_deterministic_and_exact(gt: gen.GenTrace) -> None:
    trace = typed(gt)
    first, second = execute(trace), execute(typed(gt))
    assert first == second
    assert first.error is None, first.error
    assert first.value == gt.value  # the oracle's independent arithmetic
    assert first.results == tuple(p.value for p in gt.parts)


@PROPERTY
@given(gen.traces)
def test_parse_of_render_is_the_trace(gt: gen.GenTrace) -> None:
    trace = typed(gt)
    assert parse(render(trace)) == trace


@PROPERTY
@given(gen.traces)
def test_rendering_is_canonical(gt: gen.GenTrace) -> None:
    text = render(typed(gt))
    again = parse(text)
    assert isinstance(again, Trace | ComposedTrace)
    assert render(again) == text


@PROPERTY
@given(gen.traces, st.data())
def test_gold_trace_grades_correct(gt: gen.GenTrace, data: st.DataObject) -> None:
    text = data.draw(gen.wrapped(render(typed(gt))), label="text")
    answer = data.draw(st.sampled_from([gt.value, format_number(gt.value)]), label="answer")
    expert = data.draw(st.sampled_from([None, *gt.expected_experts()]), label="expert")
    g = timed_grade(text, answer, expert=expert)
    assert (g.status, g.reward) == ("correct", 1.0), g.error
    assert g.value == gt.value


@PROPERTY
@given(gen.traces, st.fractions(max_denominator=1000).filter(lambda f: f != 0))
def test_any_other_answer_is_wrong(gt: gen.GenTrace, delta: Fraction) -> None:
    g = grade(render(typed(gt)), gt.value + delta)
    assert (g.status, g.reward, g.value) == ("wrong_answer", 0.7, gt.value)


@PROPERTY
@given(gen.traces, st.sampled_from(sorted(gen.GENERATIVE_EXPERTS) + ["x+y"]))
def test_an_unexpected_expert_is_wrong_expert(gt: gen.GenTrace, expected: str) -> None:
    g = grade(render(typed(gt)), gt.value, expert=expected)
    if expected in gt.expected_experts():
        assert g.status == "correct"
    else:
        assert (g.status, g.reward) == ("wrong_expert", 0.3)


@PROPERTY
@given(gen.traces, st.data())
def test_querying_an_init_only_variable_is_a_short_circuit(
    gt: gen.GenTrace, data: st.DataObject
) -> None:
    candidates = [(i, v) for i, p in enumerate(gt.parts) for v in sorted(p.init_only)]
    assume(candidates)  # only entity_track updates can leave a sub-trace without any
    part, var = data.draw(st.sampled_from(candidates), label="query")
    trace = from_data(gt.with_query(part, var))
    assert isinstance(trace, Trace | ComposedTrace), trace
    g = grade(render(trace), gt.value)
    assert (g.status, g.reward) == ("exec_error:short_circuit", 0.5)
    assert g.error is not None and getattr(g.error, "part", None) == (
        part if gt.composed else None)


@PROPERTY
@given(gen.traces)
def test_fast_path_and_bounded_loader_agree_on_rendered_traces(gt: gen.GenTrace) -> None:
    text = render(typed(gt))
    fast = fast_load(text)
    assert fast is not None, "the canonical rendering must be readable by the fast path"
    for loader in LOADERS:
        assert bounded_load(text, loader=loader) == fast  # type: ignore[arg-type]


@FUZZ
@given(st.data())
def test_fast_path_never_changes_meaning(data: st.DataObject) -> None:
    """Whenever the fast path accepts a text, the full YAML loader reads the same data."""
    gt = data.draw(gen.traces, label="trace")
    text = data.draw(gen.mutated(render(typed(gt))), label="text")
    fast = fast_load(text)
    if fast is None:
        return
    for loader in LOADERS:
        try:
            full = bounded_load(text, loader=loader)  # type: ignore[arg-type]
        except _Bounded as bounded:
            pytest.fail(f"fast path read {fast!r}, full loader refused: {bounded.failure}")
        assert full == fast


literals = st.one_of(
    st.builds(lambda m, k, e: f"{m}{'.' + k if k else ''}e{e}", st.integers(-999, 999),
              st.text("0123456789", max_size=12), st.integers(-30, 30)),
    st.builds(lambda a, b: f"{a}/{b}", st.integers(-(10**6), 10**6), st.integers(1, 2**64)),
    st.builds(lambda a, k: f"{a}.{k}", st.integers(-(10**9), 10**9),
              st.text("0123456789", min_size=1, max_size=25)),
)


@PROPERTY
@given(literals)
def test_accepted_literals_render_re_readably(literal: str) -> None:
    """Any init value the parser accepts renders to text that parses back to it."""
    text = (f"expert: arithmetic\ntrace:\n- {{op: init, var: a, value: {literal}}}\n"
            "- {op: init, var: b, value: 2}\n"
            "- {op: compute, compute_op: mul, args: [a, b], var: result}\n"
            "- {op: query, var: result}\n")
    trace = parse(text)
    if isinstance(trace, ExecError):  # over the input bounds: refused up front, typed
        assert trace.kind in (ErrorKind.LIMITS_EXCEEDED, ErrorKind.NOT_A_NUMBER), trace
        return
    assert isinstance(trace, Trace)
    assert parse(render(trace)) == trace, render(trace)


# ---------------------------------------------------------------- hostile and arbitrary text


@FUZZ
@given(st.one_of(st.text(max_size=3000), gen.latin1_junk, gen.yamlish))
def test_arbitrary_text_never_raises(text: str) -> None:
    for loader in LOADERS:
        g = timed_grade(text, 18, loader=loader)
        assert g.reward in RewardWeights().possible()
        assert g.reward == reward_for(g.status, RewardWeights())


@FUZZ
@given(st.data())
def test_mutated_traces_never_raise(data: st.DataObject) -> None:
    gt = data.draw(gen.traces, label="trace")
    text = data.draw(gen.mutated(render(typed(gt))), label="text")
    expert = data.draw(st.sampled_from([None, *gt.expected_experts()]), label="expert")
    g = timed_grade(text, gt.value, expert=expert)
    assert g.reward == reward_for(g.status, RewardWeights())
    assert g.status != "valid"


@FUZZ
@given(gen.weights(), st.data())
def test_rewards_are_always_possible(w: RewardWeights, data: st.DataObject) -> None:
    gt = data.draw(gen.traces, label="trace")
    base = render(typed(gt))
    texts = [st.just(base), gen.mutated(base), gen.yamlish, gen.latin1_junk]
    if gt.parts[0].init_only:
        short = from_data(gt.with_query(0, sorted(gt.parts[0].init_only)[0]))
        assert isinstance(short, Trace | ComposedTrace)
        texts.append(st.just(render(short)))
    text = data.draw(st.one_of(texts), label="text")
    expert = data.draw(st.sampled_from([None, "arithmetic", *gt.expected_experts()]))
    answer = data.draw(st.sampled_from([gt.value, gt.value + 1]), label="answer")
    g = timed_grade(text, answer, expert=expert, weights=w)
    assert g.reward in w.possible()
    assert g.reward == reward_for(g.status, w)


BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)

PARSE = {"parse_failure"}
HOSTILE: dict[str, tuple[str, set[str]]] = {
    "megabyte": ("x" * 1_000_000, PARSE),
    "megabyte-of-trace-lines": ("expert: arithmetic\ntrace:\n"
                                + "- {op: init, var: a, value: 1}\n" * 35_000,
                                PARSE | {"exec_error:limits_exceeded"}),
    "deep-lists": ("[" * 100_000, PARSE),
    "deep-maps": ("{a: " * 50_000, PARSE),
    "deep-lists-under-size-limit": ("[" * 32_000, PARSE),
    "deep-block-lists": ("- " * 16_000 + "x", PARSE),
    "billion-laughs": (BILLION_LAUGHS, PARSE),
    "many-billion-laughs": (BILLION_LAUGHS * 90, PARSE),
    "python-tag": ("!!python/object/apply:os.system ['echo pwned']\n", PARSE),
    "python-tag-in-trace": ("expert: arithmetic\ntrace:\n"
                            "- !!python/object/new:os.system [echo pwned]\n", PARSE),
    "many-fences": ("```\nx\n" * 16_000, PARSE),
    "huge-integer": ("expert: arithmetic\ntrace:\n- {op: init, var: a, value: "
                     + "9" * 30_000 + "}\n", {"exec_error:not_a_number"}),
    "huge-exponent": ("expert: arithmetic\ntrace:\n- {op: init, var: a, value: 1e999999999}\n"
                      "- {op: init, var: b, value: 2}\n"
                      "- {op: compute, compute_op: pow, args: [a, b], var: r}\n"
                      "- {op: query, var: r}\n", {"exec_error:not_a_number"}),
    "nul-bytes": ("\x00" * 50_000, PARSE),
    # redteam: each trace start used to split the rest of the text (quadratic: 1.5 s for
    # 100 KB at the default limits, minutes at the huge ones); 0.1 s now.
    "many-trace-starts": ("expert:\n" * 12_400, PARSE),
    "many-expert-lines": ("expert: a\n" * 9_900, PARSE),
    "many-expert-trace-pairs": ("expert: a\ntrace:\n" * 5_800, PARSE | {"exec_error:invalid_step"}),
}


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("limits", [DEFAULT_LIMITS, Limits(max_chars=10**7, max_yaml_chars=10**7)],
                         ids=["default-limits", "huge-size-limits"])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_are_refused_quickly(name: str, limits: Limits, loader: str) -> None:
    text, statuses = HOSTILE[name]
    g = timed_grade(text, 18, loader=loader, limits=limits)
    assert g.status in statuses, g.error
    assert g.reward == reward_for(g.status, RewardWeights())


@pytest.mark.parametrize("name", gen.NAME_POOL)
def test_generated_names_are_valid_non_scaffolding_names(name: str) -> None:
    step = build_step({"op": "init", "var": name, "value": 1})
    assert not isinstance(step, ExecError), step
    assert name != "result" and not re.fullmatch(r"step\d+", name)


# ---------------------------------------------------------------- grounding: no laundering


def question_for(gt: gen.GenTrace) -> str:
    """A question stating exactly the init values of the generated (honest) trace."""
    values = [format_number(s["value"]) for p in gt.parts for s in p.steps if "value" in s]
    return "The numbers are " + ", ".join(values) + "."


@PROPERTY
@given(gen.traces)
def test_an_honest_trace_is_grounded_in_a_question_stating_its_numbers(gt: gen.GenTrace) -> None:
    g = grade(render(typed(gt)), gt.value, question=question_for(gt))
    assert (g.status, g.reward) == ("correct", 1.0), g.error


@PROPERTY
@given(gen.traces)
def test_inits_replaced_by_the_answer_never_earn_full_reward(gt: gen.GenTrace) -> None:
    """Every value init set to the answer: whatever the ops do, no 1.0 with the question."""
    data = gt.data()
    for part in (data if isinstance(data, list) else [data]):
        for step in part["trace"]:
            if "value" in step:
                step["value"] = gt.value
    trace = from_data(data)
    assume(isinstance(trace, Trace | ComposedTrace))  # an answer too long to write as an init
    assert isinstance(trace, Trace | ComposedTrace)
    g = timed_grade(render(trace), gt.value, question=question_for(gt))
    assert g.reward is not None and g.reward < 1.0, (g.status, render(trace))


LAUNDRY_OPS = sorted(COMPUTE_OPS) + ["percent_of", "percent_off", "percent_increase",
                                     "consume", "transfer"]


def _laundered(op: str, answer: str, operand: str, twice: bool) -> str:
    """`answer` through one step of `op` with `operand` (or with itself), then queried."""
    k = "x" if twice else "k"
    head = [f"{{op: init, var: x, value: {answer}}}", f"{{op: init, var: k, value: {operand}}}"]
    if op in COMPUTE_OPS:
        body = [f"{{op: compute, compute_op: {op}, args: [x, {k}], var: result}}"]
        expert, query = "arithmetic", "result"
    elif op.startswith("percent"):
        body = [f"{{op: {op}, base: x, rate: {k}, var: result}}"]
        expert, query = "percentage", "result"
    elif op == "consume":
        body = ["{op: consume, entity: x, amount: k}"]
        expert, query = "entity_track", "x"
    else:
        head.append("{op: init, var: y, value: 1}")
        body = ["{op: transfer, from: x, to: y, amount: k}"]
        expert, query = "entity_track", "x"
    return "".join([f"expert: {expert}\ntrace:\n", *(f"- {s}\n" for s in head + body),
                    f"- {{op: query, var: {query}}}\n"])


@PROPERTY
@given(gen.traces, st.sampled_from(LAUNDRY_OPS), st.booleans(), st.data())
def test_the_answer_laundered_through_any_registered_op_never_earns_full_reward(
        gt: gen.GenTrace, op: str, twice: bool, data: st.DataObject) -> None:
    """init the answer, pass it through one step of any op with a grounded operand (a
    number of the question, a unit constant, or the answer again): never 1.0."""
    question = question_for(gt)
    grounded = sorted(Grounding.of(question).values | {gt.value})
    operand = data.draw(st.sampled_from(grounded), label="operand")
    text = _laundered(op, format_number(gt.value), format_number(operand), twice)
    g = timed_grade(text, gt.value, question=question)
    assert g.reward is not None and g.reward < 1.0, (g.status, text)


@PROPERTY
@given(gen.traces, st.data())
def test_the_question_only_ever_takes_reward_away(gt: gen.GenTrace, data: st.DataObject) -> None:
    """redteam: grading with the question adds refusals (ungrounded inits, an answer that
    depends on no stated number), never reward: for any trace, any answer and a question
    stating any subset of its numbers, the reward with the question is at most the one
    without."""
    values = [format_number(s["value"]) for p in gt.parts for s in p.steps if "value" in s]
    stated = data.draw(st.lists(st.sampled_from(values), max_size=len(values)), label="stated")
    question = "The numbers are " + ", ".join(stated) + "."
    answer = data.draw(st.sampled_from([gt.value, gt.value + 1]), label="answer")
    text = render(typed(gt))
    with_q, without = grade(text, answer, question=question), grade(text, answer)
    assert with_q.reward is not None and without.reward is not None
    assert with_q.reward <= without.reward, (with_q.status, without.status)
