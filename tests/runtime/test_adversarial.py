"""Adversarial grading: the failure modes of the research notes, each with its status and reward.

Gold for most cases is Janet's eggs, (16 - 3 - 4) * 2 = 18 under entity_track. A model
earns credit only for what its trace executes to, never for text that contains the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from runtime import grade

from .helpers import composed, single

GOLD = 18
EXPERT = "entity_track"

STEPS = [
    "{op: init, var: produced, value: 16}",
    "{op: init, var: use1, value: 3}",
    "{op: compute, compute_op: sub, args: [produced, use1], var: step1}",
    "{op: init, var: use2, value: 4}",
    "{op: compute, compute_op: sub, args: [step1, use2], var: step2}",
    "{op: init, var: price, value: 2}",
    "{op: compute, compute_op: mul, args: [step2, price], var: result}",
    "{op: query, var: result}",
]
JANET18 = single(EXPERT, *STEPS)


def janet(old: str, new: str) -> str:
    """JANET18 with one textual replacement."""
    assert old in JANET18, old
    return JANET18.replace(old, new)


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    status: str
    reward: float
    answer: object = GOLD
    expert: str | None = EXPERT


CASES = [
    Case("gold", JANET18, "correct", 1.0),
    Case("gold-fenced-with-chatter",
         f"Janet has 16 eggs. She eats 3 and bakes 4, sells at $2.\n```yaml\n{JANET18}```\n"
         "So she makes 18 dollars.", "correct", 1.0),
    # -- wrong numbers that look right
    Case("appended-digit", janet("value: 2}", "value: 20}"), "wrong_answer", 0.7),  # 180
    Case("sign-flip",
         single(EXPERT, "{op: init, var: produced, value: 16}", "{op: init, var: use1, value: 3}",
                "{op: init, var: use2, value: 4}",
                "{op: compute, compute_op: add, args: [use1, use2], var: step1}",
                "{op: compute, compute_op: sub, args: [step1, produced], var: step2}",
                "{op: init, var: price, value: 2}",
                "{op: compute, compute_op: mul, args: [step2, price], var: result}",
                "{op: query, var: result}"),
         "wrong_answer", 0.7),  # (3 + 4 - 16) * 2 = -18
    Case("off-by-a-fraction", janet("value: 2}", "value: 2.0000001}"), "wrong_answer", 0.7),
    Case("gold-written-with-trailing-zeros", janet("value: 2}", "value: 2.000}"), "correct", 1.0),
    # -- text that contains the answer
    Case("prose-only", "The answer is 18", "parse_failure", 0.0),
    Case("prose-only-many-numbers",
         "16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars. #### 18", "parse_failure", 0.0),
    Case("prose-numbers-around-a-wrong-trace",
         "18 is what I expect. 18! 18.\n" + janet("value: 2}", "value: 20}") + "Answer: 18\n",
         "wrong_answer", 0.7),
    Case("prose-numbers-around-a-right-trace",
         "Maybe 17 or 19, or 180?\n" + JANET18 + "I am not sure it is not 20.\n",
         "correct", 1.0),
    Case("answer-in-a-yaml-comment", janet("value: 2}", "value: 20}  # result is 18"),
         "wrong_answer", 0.7),
    Case("answer-as-a-yaml-key",
         "answer: 18\nexplanation: 16 - 3 - 4 = 9, times 2\n", "parse_failure", 0.0),
    Case("bullet-list-of-reasoning",
         "".join(f"- step {i}: subtract and multiply, the answer is 18\n" for i in range(11)),
         "parse_failure", 0.0),  # a YAML list of strings is no trace, however long
    Case("bullet-list-of-reasoning-no-expected-expert",
         "".join(f"- step {i}: subtract and multiply, the answer is 18\n" for i in range(11)),
         "parse_failure", 0.0, expert=None),
    # -- bypassing the solver
    Case("answer-copied-into-init",
         single(EXPERT, "{op: init, var: result, value: 18}", "{op: query, var: result}"),
         "exec_error:short_circuit", 0.5),
    Case("query-the-rate",  # the notes' run 3 regression: regurgitate an input
         single("rate_equation", "{op: init, var: rate, value: 49}",
                "{op: init, var: time, value: 5}",
                "{op: compute, compute_op: mul, args: [rate, time], var: quantity}",
                "{op: query, var: rate}"),
         "exec_error:short_circuit", 0.5, answer=49, expert="rate_equation"),
    # -- routing and vocabulary
    Case("right-answer-wrong-expert", JANET18.replace(EXPERT, "arithmetic"), "wrong_expert", 0.3),
    Case("right-answer-unknown-expert", JANET18.replace(EXPERT, "eggs"), "wrong_expert", 0.3),
    Case("unknown-expert-no-expectation", JANET18.replace(EXPERT, "eggs"),
         "exec_error:unknown_expert", 0.5, expert=None),
    Case("percentage-op-in-arithmetic",  # the notes' swimming problem
         single("arithmetic", "{op: init, var: distance, value: 30}",
                "{op: init, var: rate, value: 60}",
                "{op: percent_of, base: distance, rate: rate, var: result}",
                "{op: query, var: result}"),
         "exec_error:op_not_in_expert", 0.5, expert="arithmetic"),
    Case("percent-increase-in-entity-track",  # the notes' house problem
         single(EXPERT, "{op: init, var: house, value: 80000}", "{op: init, var: rate, value: 150}",
                "{op: percent_increase, base: house, rate: rate, var: result}",
                "{op: query, var: result}"),
         "exec_error:op_not_in_expert", 0.5, answer=200000),
    Case("compute-op-outside-the-vocabulary",
         janet("compute_op: mul", "compute_op: pow"), "exec_error:op_not_in_expert", 0.5),
    # -- the notes' structural failures
    Case("variable-overwrite-beanstalk",
         single("arithmetic", "{op: init, var: start, value: 3}",
                "{op: init, var: factor, value: 2}",
                "{op: compute, compute_op: mul, args: [start, factor], var: step1}",
                "{op: init, var: step1, value: 3}",
                "{op: compute, compute_op: add, args: [step1, factor], var: result}",
                "{op: query, var: result}"),
         "exec_error:overwrite", 0.5, answer=5, expert="arithmetic"),
    Case("variable-name-as-value", janet("value: 2}", "value: step1}"),
         "exec_error:not_a_number", 0.5),
    Case("expression-in-init",
         single("arithmetic", "{op: init, var: total, value: 4 * 18}",
                "{op: init, var: k, value: 4}",
                "{op: compute, compute_op: div, args: [total, k], var: result}",
                "{op: query, var: result}"),
         "exec_error:not_a_number", 0.5, expert="arithmetic"),
    Case("invented-op",
         janet("{op: compute, compute_op: mul,", "{op: mul,"),
         "exec_error:unknown_op", 0.5),
    Case("invented-op-add",
         single("arithmetic", "{op: init, var: a, value: 9}", "{op: init, var: b, value: 9}",
                "{op: add, args: [a, b]}", "{op: query, var: result}"),
         "exec_error:unknown_op", 0.5, expert="arithmetic"),
    Case("repeated-identical-subtraces",  # "10 times a month": the same sub-trace, repeated
         composed(*[("rate_equation", ["{op: init, var: rate, value: 3}",
                                       "{op: init, var: time, value: 6}",
                                       "{op: compute, compute_op: mul, args: [rate, time], "
                                       "var: result}",
                                       "{op: query, var: result}"])] * 3),
         "exec_error:dead_subtrace", 0.5, expert="rate_equation+rate_equation+rate_equation"),
    Case("undefined-variable",  # the notes' run 23: count2 never initialised
         single("arithmetic", "{op: init, var: count1, value: 9}",
                "{op: init, var: factor2, value: 2}",
                "{op: compute, compute_op: mul, args: [count2, factor2], var: result}",
                "{op: query, var: result}"),
         "exec_error:undefined_var", 0.5, expert="arithmetic"),
    Case("literal-in-args",
         janet("args: [step2, price]", "args: [step2, 2]"), "exec_error:invalid_step", 0.5),
    Case("prev-result-in-a-single-trace",
         janet("{op: init, var: price, value: 2}", "{op: init, var: price, source: prev.result}"),
         "exec_error:no_prev_result", 0.5),
    Case("query-twice", JANET18 + "- {op: query, var: step2}\n",
         "exec_error:multiple_queries", 0.5),
    # -- hedging: two answers
    Case("answer-twice-first-right",
         f"```yaml\n{JANET18}```\nor\n```yaml\n{janet('value: 2}', 'value: 20}')}```\n",
         "correct", 1.0),
    Case("answer-twice-first-wrong",
         f"```yaml\n{janet('value: 2}', 'value: 20}')}```\nor\n```yaml\n{JANET18}```\n",
         "wrong_answer", 0.7),
    # -- hostile YAML
    Case("python-tag", "expert: !!python/object/apply:os.system ['echo 18']\ntrace: []\n",
         "parse_failure", 0.0),
    Case("alias-bomb",
         'a: &a ["18","18","18","18","18","18","18","18","18"]\n'
         "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
         "parse_failure", 0.0),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adversarial(case: Case) -> None:
    g = grade(case.text, case.answer, expert=case.expert)
    assert (g.status, g.reward) == (case.status, case.reward), g.error


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


def test_every_graded_status_appears() -> None:
    statuses = {c.status for c in CASES}
    assert {"correct", "wrong_answer", "wrong_expert", "parse_failure"} <= statuses
    assert sum(s.startswith("exec_error:") for s in statuses) >= 10


def test_appended_digit_is_computed_not_matched_as_text() -> None:
    g = grade(janet("value: 2}", "value: 20}"), GOLD, expert=EXPERT)
    assert g.value == 180


def test_sign_flip_value() -> None:
    case = next(c for c in CASES if c.id == "sign-flip")
    g = grade(case.text, GOLD, expert=EXPERT)
    assert g.value == -18 and g.status == "wrong_answer"
    assert grade(case.text, -18, expert=EXPERT).status == "correct"


# ---------------------------------------------------------------- review follow-ups


def test_contamination_is_counted_even_when_the_stray_step_is_malformed() -> None:
    """The notes' own example: a percentage op with a literal rate inside arithmetic."""
    text = single("arithmetic", "{op: init, var: distance, value: 100}",
                  "{op: percent_of, base: distance, rate: 60, var: step1}",
                  "{op: query, var: step1}")
    g = grade(text, 60)
    assert (g.status, g.reward) == ("exec_error:op_not_in_expert", 0.5)


def test_min_max_of_one_init_is_still_a_short_circuit() -> None:
    for op in ("max", "min"):
        text = single("arithmetic", "{op: init, var: a, value: 18}",
                      f"{{op: compute, compute_op: {op}, args: [a, a], var: result}}",
                      "{op: query, var: result}")
        assert grade(text, 18).status == "exec_error:short_circuit"


def test_max_of_two_inits_selects_a_stated_number() -> None:
    """min/max only select: picking one of two inits copies it (`min(x, 10^9)` is the trick)."""
    text = single("arithmetic", "{op: init, var: a, value: 18}", "{op: init, var: b, value: 5}",
                  "{op: compute, compute_op: max, args: [a, b], var: result}",
                  "{op: query, var: result}")
    assert grade(text, 18).status == "exec_error:short_circuit"


def test_max_of_computed_values_is_a_real_computation() -> None:
    text = single("arithmetic", "{op: init, var: a, value: 9}", "{op: init, var: b, value: 2}",
                  "{op: compute, compute_op: mul, args: [a, b], var: c}",
                  "{op: compute, compute_op: add, args: [a, b], var: d}",
                  "{op: compute, compute_op: max, args: [c, d], var: result}",
                  "{op: query, var: result}")
    assert grade(text, 18).status == "correct"


def test_two_unfenced_traces_the_first_counts() -> None:
    first = single("arithmetic", "{op: init, var: a, value: 3}", "{op: init, var: b, value: 6}",
                   "{op: compute, compute_op: mul, args: [a, b], var: result}",
                   "{op: query, var: result}")
    second = first.replace("value: 6", "value: 7")
    assert grade(first + "\n" + second, 18).status == "correct"
    assert grade(second + "\n" + first, 18).status == "wrong_answer"


def test_the_earlier_trace_wins_whether_fenced_or_not() -> None:
    right = single("arithmetic", "{op: init, var: a, value: 3}", "{op: init, var: b, value: 6}",
                   "{op: compute, compute_op: mul, args: [a, b], var: result}",
                   "{op: query, var: result}")
    wrong = right.replace("value: 6", "value: 7")
    assert grade(f"{right}\nand also:\n```yaml\n{wrong}```\n", 18).status == "correct"
    assert grade(f"```yaml\n{wrong}```\nor:\n{right}", 18).status == "wrong_answer"


def test_prose_bullets_after_a_bare_trace_are_not_steps() -> None:
    text = single("arithmetic", "{op: init, var: a, value: 3}", "{op: init, var: b, value: 6}",
                  "{op: compute, compute_op: mul, args: [a, b], var: result}",
                  "{op: query, var: result}")
    assert grade(text + "- step 1: multiply the bags by the apples\n- done\n", 18).status \
        == "correct"
