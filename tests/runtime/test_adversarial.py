"""Adversarial grading: the failure modes of the research notes, each with its status and reward.

Gold for most cases is Janet's eggs, (16 - 3 - 4) * 2 = 18 under entity_track. A model
earns credit only for what its trace executes to, never for text that contains the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import UsageError, grade

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


# ---------------------------------------------------------------- issue 10: laundering and grounding
#
# Every trick initialises the answer (or numbers the question never states) and passes it
# through a step that computes nothing. Each is graded without the question (the identity
# ones must already fail) and with it (all must fail). Honest controls keep 1.0.

QUESTION = ("Janet's hens lay 16 eggs a day. She eats 3 of them and bakes with 4, and sells "
            "the rest at $2 an egg. How many dollars does she take in each day?")
Q_NUMBERS = "x is 18 and q is 16."  # a question that states the answer: identities only


def launder(expert: str, *steps: str) -> str:
    return single(expert, "{op: init, var: x, value: 18}", *steps)


def via(op: str, operand: str | int, expert: str = "arithmetic") -> str:
    return launder(expert, f"{{op: init, var: k, value: {operand}}}",
                   f"{{op: compute, compute_op: {op}, args: [x, k], var: result}}",
                   "{op: query, var: result}")


def pct(op: str, rate: int) -> str:
    return launder("percentage", f"{{op: init, var: r, value: {rate}}}",
                   f"{{op: {op}, base: x, rate: r, var: result}}", "{op: query, var: result}")


@dataclass(frozen=True)
class Trick:
    id: str
    text: str
    bare: str  # status without the question
    expert: str = "arithmetic"


SC, UNGROUNDED, NAN = "exec_error:short_circuit", "exec_error:ungrounded_init", \
    "exec_error:not_a_number"
TRICKS = [
    Trick("add-0", via("add", 0), SC),
    Trick("sub-0", via("sub", 0), SC),
    Trick("mul-1", via("mul", 1), SC),
    Trick("div-1", via("div", 1), SC),
    Trick("floordiv-1", via("floordiv", 1), SC),
    Trick("pow-1", via("pow", 1), SC),
    Trick("mod-1e9", via("mod", 10**9), SC),
    Trick("min-1e9", via("min", 10**9), SC),
    Trick("floor-of-a-whole", launder("arithmetic", "{op: compute, compute_op: floor, args: [x], "
                                      "var: result}", "{op: query, var: result}"), SC),
    Trick("ceil-of-a-whole", launder("arithmetic", "{op: compute, compute_op: ceil, args: [x], "
                                     "var: result}", "{op: query, var: result}"), SC),
    Trick("round-to-2-places", via("round", 2), SC),
    Trick("max-x-y-equal", via("max", 18), SC),
    Trick("min-max-x-x",
          launder("arithmetic", "{op: compute, compute_op: max, args: [x, x], var: m}",
                  "{op: compute, compute_op: min, args: [m, x], var: result}",
                  "{op: query, var: result}"), SC),
    Trick("answer-minus-1-plus-1",
          launder("arithmetic", "{op: init, var: one, value: 1}",
                  "{op: compute, compute_op: sub, args: [x, one], var: y}",
                  "{op: compute, compute_op: add, args: [y, one], var: result}",
                  "{op: query, var: result}"), SC),  # (x - 1) + 1 stays x whatever 1 is
    Trick("half-plus-half",
          launder("arithmetic", "{op: init, var: two, value: 2}",
                  "{op: compute, compute_op: div, args: [x, two], var: h}",
                  "{op: compute, compute_op: add, args: [h, h], var: result}",
                  "{op: query, var: result}"), "correct"),
    Trick("add-then-sub-a-question-number",
          launder("arithmetic", "{op: init, var: q, value: 16}",
                  "{op: compute, compute_op: add, args: [x, q], var: y}",
                  "{op: compute, compute_op: sub, args: [y, q], var: result}",
                  "{op: query, var: result}"), SC),
    # -- redteam: an identity operand built from a stated number. Full reward on every record
    # whose answer is grounded (the question states it, or a unit constant like 12): 148 of
    # the 1,900 trace records of the shipped val splits before the dependence rule.
    Trick("plus-k-minus-k",
          launder("arithmetic", "{op: init, var: k, value: 16}",
                  "{op: compute, compute_op: sub, args: [k, k], var: z}",
                  "{op: compute, compute_op: add, args: [x, z], var: result}",
                  "{op: query, var: result}"), SC),
    Trick("times-k-over-k",
          launder("rate_equation", "{op: init, var: k, value: 16}",
                  "{op: compute, compute_op: div, args: [k, k], var: one}",
                  "{op: compute, compute_op: mul, args: [x, one], var: result}",
                  "{op: query, var: result}"), SC, "rate_equation"),
    Trick("plus-a-cancelling-chain",  # ((k + j) - k) - j is 0 with no step reading one name twice
          launder("arithmetic", "{op: init, var: k, value: 16}", "{op: init, var: j, value: 5}",
                  "{op: compute, compute_op: add, args: [k, j], var: s}",
                  "{op: compute, compute_op: sub, args: [s, k], var: t}",
                  "{op: compute, compute_op: sub, args: [t, j], var: z}",
                  "{op: compute, compute_op: add, args: [x, z], var: result}",
                  "{op: query, var: result}"), SC),
    Trick("mod-of-a-multiple",  # x + (k*j mod k): 0 for every k and j
          launder("arithmetic", "{op: init, var: k, value: 16}", "{op: init, var: j, value: 5}",
                  "{op: compute, compute_op: mul, args: [k, j], var: m}",
                  "{op: compute, compute_op: mod, args: [m, k], var: z}",
                  "{op: compute, compute_op: add, args: [x, z], var: result}",
                  "{op: query, var: result}"), SC),
    Trick("consume-k-minus-k",
          launder("entity_track", "{op: init, var: k, value: 16}",
                  "{op: compute, compute_op: sub, args: [k, k], var: z}",
                  "{op: consume, entity: x, amount: z}", "{op: query, var: x}"),
          SC, "entity_track"),
    Trick("a-plus-a-minus-a",  # every input is the answer: refused on values alone
          launder("arithmetic", "{op: init, var: y, value: 18}",
                  "{op: compute, compute_op: add, args: [x, y], var: s}",
                  "{op: compute, compute_op: sub, args: [s, x], var: result}",
                  "{op: query, var: result}"), SC),
    Trick("consume-0",
          launder("entity_track", "{op: init, var: none, value: 0}",
                  "{op: consume, entity: x, amount: none}", "{op: query, var: x}"),
          SC, "entity_track"),
    Trick("transfer-0",
          launder("entity_track", "{op: init, var: y, value: 5}",
                  "{op: init, var: none, value: 0}",
                  "{op: transfer, from: x, to: y, amount: none}", "{op: query, var: x}"),
          SC, "entity_track"),
    Trick("percent-of-100", pct("percent_of", 100), SC, "percentage"),
    Trick("percent-off-0", pct("percent_off", 0), SC, "percentage"),
    Trick("percent-increase-0", pct("percent_increase", 0), SC, "percentage"),
    Trick("two-ungrounded-inits-sum",
          single("arithmetic", "{op: init, var: a, value: 10}", "{op: init, var: b, value: 8}",
                 "{op: compute, compute_op: add, args: [a, b], var: result}",
                 "{op: query, var: result}"), "correct"),
    Trick("value-with-a-space", janet("value: 16}", "value: '1 6'}"), NAN, EXPERT),
    Trick("digits-joined-by-nel", janet("value: 16}", "value: \"1\\x856\"}"), NAN, EXPERT),
    Trick("digits-joined-by-a-raw-nel", janet("value: 16}", "value: 1\x856}"), NAN, EXPERT),
    Trick("non-ascii-digits", janet("value: 16}", "value: '\u0661\u0666'}"), NAN, EXPERT),
    Trick("dollar-value", janet("value: 2}", "value: '$2'}"), NAN, EXPERT),
    Trick("percent-value", pct("percent_of", 100).replace("value: 100}", "value: '100%'}"),
          NAN, "percentage"),
]


@pytest.mark.parametrize("trick", TRICKS, ids=[t.id for t in TRICKS])
def test_trick_without_the_question(trick: Trick) -> None:
    g = grade(trick.text, GOLD, expert=trick.expert)
    assert g.status == trick.bare, g.error
    if trick.bare != "correct":  # identities earn what an honest short circuit earns
        assert g.reward == 0.5


@pytest.mark.parametrize("trick", TRICKS, ids=[t.id for t in TRICKS])
def test_trick_with_the_question_never_earns_full_reward(trick: Trick) -> None:
    g = grade(trick.text, GOLD, expert=trick.expert, question=QUESTION)
    assert g.reward is not None and g.reward < 1.0
    expected = trick.bare if trick.bare == NAN else UNGROUNDED
    assert (g.status, g.reward) == (expected, 0.5), g.error


@pytest.mark.parametrize("trick", [t for t in TRICKS if t.bare == SC], ids=lambda t: t.id)
def test_identity_trick_fails_even_when_the_question_states_every_number(trick: Trick) -> None:
    """Grounding cannot help when the answer is stated: the identity rule still refuses."""
    q = Q_NUMBERS + " Also 0, 1, 5, 100 and 1000000000."
    g = grade(trick.text, GOLD, expert=trick.expert, question=q)
    assert (g.status, g.reward) == (SC, 0.5), g.error


def test_the_tricks_cover_every_registered_compute_op() -> None:
    from runtime import COMPUTE_OPS

    used = {op for op in COMPUTE_OPS if f"compute_op: {op}," in "".join(t.text for t in TRICKS)}
    assert used == set(COMPUTE_OPS)


# -- honest controls: grounded in their question, they keep 1.0


@dataclass(frozen=True)
class Honest:
    id: str
    question: str
    text: str
    answer: object
    expert: str = "arithmetic"


def calc(*steps: str, expert: str = "arithmetic") -> str:
    return single(expert, *steps, "{op: query, var: result}")


HONEST = [
    Honest("janet", QUESTION, JANET18, GOLD, EXPERT),
    Honest("sixty-minutes", "A press stamps 4 parts a minute. How many parts in 2 hours?",
           calc("{op: init, var: rate, value: 4}", "{op: init, var: minutes, value: 60}",
                "{op: compute, compute_op: mul, args: [rate, minutes], var: per_hour}",
                "{op: init, var: hours, value: 2}",
                "{op: compute, compute_op: mul, args: [per_hour, hours], var: result}"), 480),
    Honest("seven-days-and-words", "Sam reads five pages a day. How many pages in three weeks?",
           calc("{op: init, var: pages, value: 5}", "{op: init, var: days, value: 7}",
                "{op: init, var: weeks, value: 3}",
                "{op: compute, compute_op: mul, args: [pages, days, weeks], var: result}"), 105),
    Honest("thousands-separator", "A farm picks 1,200 apples and sells 450. How many are left?",
           calc("{op: init, var: picked, value: 1200}", "{op: init, var: sold, value: 450}",
                "{op: compute, compute_op: sub, args: [picked, sold], var: result}"), 750),
    Honest("thousands-separator-as-written", "A farm picks 1,200 apples and sells 450.",
           "expert: arithmetic\ntrace:\n- op: init\n  var: picked\n  value: 1,200\n"
           "- {op: init, var: sold, value: 450}\n"
           "- {op: compute, compute_op: sub, args: [picked, sold], var: result}\n"
           "- {op: query, var: result}\n", 750),
    Honest("cents", "A sticker costs $0.25. What do 8 stickers cost, in dollars?",
           calc("{op: init, var: price, value: 0.25}", "{op: init, var: n, value: 8}",
                "{op: compute, compute_op: mul, args: [price, n], var: result}"), 2),
    Honest("half", "Tom has 40 marbles and gives half of them to Ann. How many does Ann get?",
           calc("{op: init, var: marbles, value: 40}", "{op: init, var: part, value: 0.5}",
                "{op: compute, compute_op: mul, args: [marbles, part], var: result}"), 20),
    Honest("a-dozen-and-twice", "Eva buys a dozen eggs and twice as many apples. How many fruit"
           " and eggs in all?",
           calc("{op: init, var: eggs, value: 12}", "{op: init, var: factor, value: 2}",
                "{op: compute, compute_op: mul, args: [eggs, factor], var: apples}",
                "{op: compute, compute_op: add, args: [eggs, apples], var: result}"), 36),
    Honest("mixed-number", "A cake needs 3 1/2 cups of flour. How many cups for 4 cakes?",
           calc("{op: init, var: cups, value: 3.5}", "{op: init, var: cakes, value: 4}",
                "{op: compute, compute_op: mul, args: [cups, cakes], var: result}"), 14),
    Honest("a-third-as-a-fraction", "A class of 27 sends a third of its pupils. How many go?",
           calc("{op: init, var: pupils, value: 27}", "{op: init, var: part, value: 1/3}",
                "{op: compute, compute_op: mul, args: [pupils, part], var: result}"), 9),
    Honest("percent-rate", "A $40 coat is 25% off. What does it cost?",
           calc("{op: init, var: price, value: 40}", "{op: init, var: rate, value: 25}",
                "{op: percent_off, base: price, rate: rate, var: result}",
                expert="percentage"), 30, "percentage"),
    Honest("percent-as-a-fraction", "A $40 coat is 25% off. How many dollars are taken off?",
           calc("{op: init, var: price, value: 40}", "{op: init, var: rate, value: 0.25}",
                "{op: compute, compute_op: mul, args: [price, rate], var: result}"), 10),
    # A computed 1 is not a written identity operand: 12 * (4 / 4) computes (GSM8K train
    # line 3379), while 12 * 1 with the 1 written is the mul-1 trick.
    Honest("times-a-computed-one", "12 boxes, and each of the 4 crates holds 4 boxes' worth. "
           "How many boxes?",
           calc("{op: init, var: a, value: 4}", "{op: init, var: b, value: 4}",
                "{op: compute, compute_op: div, args: [a, b], var: one}",
                "{op: init, var: boxes, value: 12}",
                "{op: compute, compute_op: mul, args: [boxes, one], var: result}"), 12),
    Honest("composed-prev-result", "A house bought for $80,000 rises 150% in value; repairs "
           "cost $130,000. What is the profit?", HOUSE_TEXT := (
               "- expert: percentage\n  trace:\n  - {op: init, var: price, value: 80000}\n"
               "  - {op: init, var: rate, value: 150}\n"
               "  - {op: percent_increase, base: price, rate: rate, var: result}\n"
               "  - {op: query, var: result}\n- expert: arithmetic\n  trace:\n"
               "  - {op: init, var: up, source: prev.result}\n"
               "  - {op: init, var: cost, value: 130000}\n"
               "  - {op: compute, compute_op: sub, args: [up, cost], var: result}\n"
               "  - {op: query, var: result}\n"), 70000, "percentage+arithmetic"),
]


@pytest.mark.parametrize("case", HONEST, ids=[c.id for c in HONEST])
def test_honest_control_keeps_full_reward(case: Honest) -> None:
    g = grade(case.text, case.answer, expert=case.expert, question=case.question)
    assert (g.status, g.reward) == ("correct", 1.0), g.error
    assert grade(case.text, case.answer, expert=case.expert).reward == 1.0  # and without


def test_dataset_constants_extend_the_unit_table() -> None:
    text = calc("{op: init, var: spiders, value: 4}", "{op: init, var: legs, value: 8}",
                "{op: compute, compute_op: mul, args: [spiders, legs], var: result}")
    q = "A jar holds 4 spiders. How many legs are in the jar?"
    assert grade(text, 32, question=q).status == UNGROUNDED  # 8 legs: no unit constant
    assert grade(text, 32, question=q, constants=[8]).status == "correct"


def test_an_op_that_declares_no_facts_cannot_launder() -> None:
    """An op registered with no facts at all (say an `avg`): avg(a, a) and avg(a, b) with
    a == b are still copies, like max(a, a); a real mean computes. (Ops are registered in
    runtime/ops.py only, so the rule is checked on the facts a new op would carry.)"""
    from runtime.ops import NO_FACTS, copies_init_only

    assert copies_init_only(NO_FACTS, ["a", "a"], [18, 18], 18, {"a"})
    assert copies_init_only(NO_FACTS, ["a", "b"], [18, 18], 18, {"a", "b"})
    assert not copies_init_only(NO_FACTS, ["a", "b"], [18, 20], 19, {"a", "b"})
    assert not copies_init_only(NO_FACTS, ["a", "b"], [18, 18], 18, {"a"})  # b computed


def test_composition_is_graded_against_its_sequence() -> None:
    assert grade(HOUSE_TEXT, 70000, expert="percentage+arithmetic").status == "correct"
    assert grade(HOUSE_TEXT, 70000, expert="arithmetic+percentage").status == "wrong_expert"
    with pytest.raises(UsageError):
        grade(HOUSE_TEXT, 70000, expert="composition")


# ---------------------------------------------------------------- redteam: answers depend on inputs
#
# Grounding cannot refuse `init x = answer` when the question states the answer (or it is
# a unit constant); the identity facts see one step. What is left: the answer must move
# when the question's numbers do (runtime.execute.ignored_inputs).

TIMES_MORE = {  # a gsm_core record: 4 * 2 - 4 = 4, the answer is the stated base
    "expert": "comparison", "experts": ["comparison"], "answer": "4", "constants": [],
    "function": None, "tests": [],
    "prompt": [{"role": "user", "content": "John owns 4 bracelets, and Olivia owns 2 times as "
                "many. By how many bracelets does Olivia's count exceed John's?"}]}


def test_a_copied_stated_answer_laundered_through_k_minus_k_earns_no_full_reward() -> None:
    from runtime.records import grade_record

    honest = calc("{op: init, var: base, value: 4}", "{op: init, var: factor, value: 2}",
                  "{op: compute, compute_op: mul, args: [base, factor], var: more}",
                  "{op: compute, compute_op: sub, args: [more, base], var: result}",
                  expert="comparison")
    assert grade_record(honest, TIMES_MORE).status == "correct"
    for k in ("k", "factor"):
        laundered = calc("{op: init, var: x, value: 4}", "{op: init, var: factor, value: 2}",
                         f"{{op: compute, compute_op: sub, args: [factor, {k}], var: z}}"
                         if k == "factor" else "{op: init, var: k, value: 2}",
                         *(["{op: compute, compute_op: sub, args: [k, k], var: z}"] if k == "k"
                           else []),
                         "{op: compute, compute_op: add, args: [x, z], var: result}",
                         expert="comparison")
        g = grade_record(laundered, TIMES_MORE)
        assert (g.status, g.reward) == (SC, 0.5), (k, g.error)


def test_two_inits_of_one_stated_value_are_two_inputs() -> None:
    """The honest control of the dependence rule: a number the question states twice (gsm_library
    val: $6 given per student, $6 of trip cost per student) may be two inits, and
    118 + 6*20 - 6*20 gives back the stated 118 honestly."""
    q = ("Joy's class raised $118 for a field trip. Besides that, each of the 20 students gave "
         "$6. If the trip costs $6 per student, how much money is left after paying for the trip?")
    text = calc("{op: init, var: give, value: 6}", "{op: init, var: students, value: 20}",
                "{op: compute, compute_op: mul, args: [give, students], var: step1}",
                "{op: init, var: raised, value: 118}",
                "{op: compute, compute_op: add, args: [step1, raised], var: step2}",
                "{op: init, var: cost, value: 6}",
                "{op: compute, compute_op: mul, args: [cost, students], var: step3}",
                "{op: compute, compute_op: sub, args: [step2, step3], var: result}")
    assert grade(text, 118, expert="arithmetic", question=q).status == "correct"


HOUSE_Q = ("A house bought for $80,000 rises 150% in value; repairs cost $130,000. What is the "
           "profit?")


def test_a_later_sub_trace_must_use_the_previous_result_not_just_read_it() -> None:
    """`prev - prev` reads the previous result and throws it away: the requested first expert's
    work is unused, and the arithmetic part does it all."""
    text = HOUSE_TEXT.replace(
        "  - {op: compute, compute_op: sub, args: [up, cost], var: result}\n",
        "  - {op: compute, compute_op: sub, args: [up, up], var: zero}\n"
        "  - {op: init, var: price, value: 80000}\n  - {op: init, var: rate, value: 2.5}\n"
        "  - {op: compute, compute_op: mul, args: [price, rate], var: grown}\n"
        "  - {op: compute, compute_op: add, args: [grown, zero], var: sold}\n"
        "  - {op: compute, compute_op: sub, args: [sold, cost], var: result}\n")
    g = grade(text, 70000, expert="percentage+arithmetic")
    assert (g.status, g.reward) == ("exec_error:dead_subtrace", 0.5), g.error
    assert grade(HOUSE_TEXT, 70000, expert="percentage+arithmetic", question=HOUSE_Q).correct


@settings(max_examples=150, deadline=None)
@given(answer=st.integers(-50, 400), k=st.integers(1, 400), j=st.integers(1, 400),
       chain=st.sampled_from(["k-k", "k/k", "(k+j)-k-j", "k*j mod k", "(x-k)+k", "(x*k)/k"]))
def test_no_laundering_chain_earns_full_reward_on_a_stated_answer(answer: int, k: int, j: int,
                                                                  chain: str) -> None:
    """Property: copying a stated answer through any cancelling chain of stated numbers never
    earns the full reward, whatever the numbers."""
    steps = {"k-k": ["sub k k z", "add x z result"], "k/k": ["div k k z", "mul x z result"],
             "(k+j)-k-j": ["add k j s", "sub s k t", "sub t j z", "add x z result"],
             "k*j mod k": ["mul k j m", "mod m k z", "add x z result"],
             "(x-k)+k": ["sub x k y", "add y k result"], "(x*k)/k": ["mul x k y", "div y k result"]}
    lines = [f"{{op: init, var: x, value: {answer}}}", f"{{op: init, var: k, value: {k}}}",
             f"{{op: init, var: j, value: {j}}}"]
    for op, *args, out in (s.split() for s in steps[chain]):
        lines.append(f"{{op: compute, compute_op: {op}, args: [{', '.join(args)}], var: {out}}}")
    q = f"Numbers: {answer}, {k} and {j}."
    g = grade(calc(*lines), answer, question=q)
    assert (g.status, g.reward) == (SC, 0.5), (chain, g.error)


def test_an_answer_made_of_unit_constants_alone_reads_nothing_of_the_question() -> None:
    """12 + 7 - 1 is 18 for Janet's eggs: every init a unit constant, so every init grounded,
    and no number of the question used (902 of the arithmetic val records had an answer this
    search could write so, and graded 1.0). With the question, refused; with a stated number in
    the mix, the answer must move with it."""
    text = calc("{op: init, var: a, value: 12}", "{op: init, var: b, value: 7}",
                "{op: compute, compute_op: add, args: [a, b], var: s}",
                "{op: init, var: c, value: 1}",
                "{op: compute, compute_op: sub, args: [s, c], var: result}")
    g = grade(text, GOLD, question=QUESTION)
    assert (g.status, g.reward) == (SC, 0.5), g.error
    assert "no number the question states" in str(g.error)
    assert grade(text, GOLD).status == "correct"  # without the question nothing says what it states
    # The honest control: a stated number times a unit constant (2 hours of 60 minutes).
    honest = next(h for h in HONEST if h.id == "sixty-minutes")
    assert grade(honest.text, honest.answer, question=honest.question).correct


def test_known_residual_a_stated_answer_times_a_unit_identity() -> None:
    """The known residual, pinned so a change is seen: x * 60 / 2 / 30 with x the stated answer
    is a relation among unit constants, not an identity step; every init moves the answer."""
    q = "Numbers: 18 and 16."
    text = calc("{op: init, var: x, value: 18}", "{op: init, var: a, value: 60}",
                "{op: init, var: b, value: 2}", "{op: init, var: c, value: 30}",
                "{op: compute, compute_op: mul, args: [x, a], var: p}",
                "{op: compute, compute_op: div, args: [p, b], var: h}",
                "{op: compute, compute_op: div, args: [h, c], var: result}")
    assert grade(text, GOLD, question=q).status == "correct"


def test_a_requested_expert_that_only_copies_leaves_no_full_reward() -> None:
    """rate_equation+arithmetic (46 train records): the rate_equation part copies the stated
    distance through `d * (k / k)` and the arithmetic part does the rate's work itself. Each
    sub-trace must move with its own numbers (its previous result held)."""
    q = "A van drives 120 miles at 40 miles an hour, then waits 2 hours. How many hours in all?"
    honest = composed(
        ("rate_equation", ["{op: init, var: d, value: 120}", "{op: init, var: v, value: 40}",
                           "{op: compute, compute_op: div, args: [d, v], var: result}",
                           "{op: query, var: result}"]),
        ("arithmetic", ["{op: init, var: t, source: prev.result}",
                        "{op: init, var: w, value: 2}",
                        "{op: compute, compute_op: add, args: [t, w], var: result}",
                        "{op: query, var: result}"]))
    assert grade(honest, 5, expert="rate_equation+arithmetic", question=q).correct
    lazy = composed(
        ("rate_equation", ["{op: init, var: d, value: 120}", "{op: init, var: k, value: 40}",
                           "{op: compute, compute_op: div, args: [k, k], var: one}",
                           "{op: compute, compute_op: mul, args: [d, one], var: result}",
                           "{op: query, var: result}"]),
        ("arithmetic", ["{op: init, var: d, source: prev.result}",
                        "{op: init, var: v, value: 40}",
                        "{op: compute, compute_op: div, args: [d, v], var: t}",
                        "{op: init, var: w, value: 2}",
                        "{op: compute, compute_op: add, args: [t, w], var: result}",
                        "{op: query, var: result}"]))
    g = grade(lazy, 5, expert="rate_equation+arithmetic", question=q)
    assert (g.status, g.reward) == (SC, 0.5), g.error
    assert g.error is not None and g.error.part == 0
