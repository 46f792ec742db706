"""runtime.extract: finding the trace in model text and loading it safely and boundedly."""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from runtime import Limits, ParseFailure, ParseReason, extract, load, parse
from runtime.extract import HAS_C_LOADER, _Bounded, bounded_load, candidates, fast_load
from runtime.trace import RawTrace

from . import strategies as gen
from .helpers import HOUSE, JANET, JANET_BLOCK, mul_trace, single

LOADERS = ["c", "python"] if HAS_C_LOADER else ["python"]

JANET_DATA = {
    "expert": "entity_track",
    "trace": [
        {"op": "init", "var": "produced", "value": Fraction(16)},
        {"op": "init", "var": "use1", "value": Fraction(3)},
        {"op": "compute", "compute_op": "sub", "args": ["produced", "use1"], "var": "step1"},
        {"op": "init", "var": "price", "value": Fraction(2)},
        {"op": "compute", "compute_op": "mul", "args": ["step1", "price"], "var": "result"},
        {"op": "query", "var": "result"},
    ],
}


JANET_JSON = (
    '{"expert": "entity_track", "trace": ['
    '{"op": "init", "var": "produced", "value": 16}, '
    '{"op": "init", "var": "use1", "value": 3}, '
    '{"op": "compute", "compute_op": "sub", "args": ["produced", "use1"], "var": "step1"}, '
    '{"op": "init", "var": "price", "value": 2}, '
    '{"op": "compute", "compute_op": "mul", "args": ["step1", "price"], "var": "result"}, '
    '{"op": "query", "var": "result"}]}'
)


def raw_of(text: Any, **kw: Any) -> RawTrace:
    got = extract(text, **kw)
    assert isinstance(got, RawTrace), got
    return got


def failure_of(text: Any, **kw: Any) -> ParseReason:
    got = extract(text, **kw)
    assert isinstance(got, ParseFailure), got
    return got.reason


def first_value(text: str) -> Fraction:
    """The value of the first init of the (single) trace found in `text`."""
    return raw_of(text).parts[0][0]["value"]


# ---------------------------------------------------------------- loading


def test_canonical_text_loads_to_plain_exact_data() -> None:
    assert load(JANET) == JANET_DATA
    value = load(JANET)["trace"][0]["value"]
    assert isinstance(value, Fraction)  # never a float


def test_fast_path_recognises_canonical_text() -> None:
    assert fast_load(JANET) == JANET_DATA
    assert fast_load(HOUSE) == load(HOUSE)
    assert isinstance(fast_load(HOUSE), list) and len(fast_load(HOUSE)) == 2


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("text", [JANET, HOUSE, mul_trace("2.5", "-4"), mul_trace("0", "007")])
def test_fast_and_bounded_loaders_agree_on_canonical_text(text: str, loader: str) -> None:
    fast = fast_load(text)
    assert fast is not None
    assert fast == bounded_load(text, loader=loader)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [JANET_BLOCK, JANET_JSON, JANET.replace("\n", "\r\n"),
     JANET.replace("expert: entity_track", "expert: 'entity_track'"),
     JANET.replace("expert: entity_track", "expert: entity_track  # the tracker"),
     JANET.replace("var: result}\n", "var: result}  # 26\n"),
     JANET.replace("value: 16}", "value: 1.6e1}"),
     JANET.replace("{op: init, var: use1, value: 3}", "{op: init,  var: use1, value: 3}")],
)
def test_non_canonical_spellings_mean_the_same(text: str) -> None:
    assert fast_load(text) in (None, JANET_DATA)
    assert load(text) == JANET_DATA
    assert parse(text) == parse(JANET)


@pytest.mark.parametrize("text", [JANET_BLOCK, JANET_JSON, HOUSE, JANET, "[1, {a: b}]",
                                  "expert: x\ntrace: {a: [1, 2.5, -3, yes, null, ~, '7']}"])
def test_c_and_python_loaders_agree(text: str) -> None:
    if not HAS_C_LOADER:
        pytest.fail("libyaml (the C loader) is expected in the test environment")
    assert bounded_load(text, loader="c") == bounded_load(text, loader="python")


@pytest.mark.parametrize(
    ("text", "reason"),
    [("a: &x 1\nb: *x\n", ParseReason.ALIASES), ("a: !!str 1\n", ParseReason.TAGS),
     ("[" * 20, ParseReason.TOO_DEEP), ("a: [1, 2\n", ParseReason.YAML_ERROR),
     ("{a: 1, a: 2}", ParseReason.YAML_ERROR)],
)
def test_c_and_python_loaders_agree_on_failures(text: str, reason: ParseReason) -> None:
    for loader in LOADERS:
        with pytest.raises(_Bounded) as info:
            bounded_load(text, loader=loader)  # type: ignore[arg-type]
        assert info.value.failure.reason == reason, loader


def test_plain_scalars_resolve_like_yaml_but_exactly() -> None:
    data = bounded_load("[16, -3, 0.5, 010, yes, No, null, ~, '', bob.cards, '18', 1:30, 0x10]")
    assert data == [Fraction(16), Fraction(-3), Fraction(1, 2), Fraction(10), True, False,
                    None, None, "", "bob.cards", "18", "1:30", "0x10"]


def test_block_style_equals_flow_style() -> None:
    assert load(JANET_BLOCK) == load(JANET)
    assert parse(JANET_BLOCK) == parse(JANET)


def test_json_input() -> None:
    assert load(JANET_JSON) == JANET_DATA
    assert parse(JANET_JSON) == parse(JANET)
    assert parse("```json\n" + JANET_JSON + "\n```") == parse(JANET)


def test_composed_list() -> None:
    raw = raw_of(HOUSE)
    assert raw.composed and raw.experts == ("percentage", "arithmetic")
    assert raw.parts[1][0] == {"op": "init", "var": "increased", "source": "prev.result"}


def test_one_element_list_is_single() -> None:
    text = "- " + JANET.rstrip("\n").replace("\n", "\n  ") + "\n"
    raw = raw_of(text)
    assert not raw.composed and raw.experts == ("entity_track",)
    assert parse(text) == parse(JANET)


# ---------------------------------------------------------------- finding the trace


def test_bare_trace() -> None:
    assert raw_of(JANET).experts == ("entity_track",)


def test_prose_before_and_after() -> None:
    text = "Let me think step by step.\nJanet sells eggs:\n" + JANET + "So she makes $26 a day.\n"
    assert load(candidates(text)[-1]) == JANET_DATA
    assert parse(text) == parse(JANET)


@pytest.mark.parametrize("fence", ["```yaml", "```", "```yml", "~~~", "~~~yaml", "  ```yaml"])
def test_fenced(fence: str) -> None:
    close = fence.strip()[:3]
    text = f"Here is the trace:\n{fence}\n{JANET}{close}\nThat is all: 26 dollars.\n"
    assert parse(text) == parse(JANET)


def test_unterminated_fence() -> None:
    assert parse("Trace:\n```yaml\n" + JANET) == parse(JANET)


def test_two_fenced_blocks_the_first_trace_wins() -> None:
    first, second = mul_trace(6, 3), mul_trace(7, 3)
    text = f"```yaml\n{first}```\nor maybe\n```yaml\n{second}```\n"
    assert first_value(text) == 6
    swapped = f"```yaml\n{second}```\nor maybe\n```yaml\n{first}```\n"
    assert first_value(swapped) == 7


def test_a_fenced_non_trace_is_skipped() -> None:
    text = f"```python\nprint(6 * 3)\n```\n```yaml\n{mul_trace(6, 3)}```\n"
    assert first_value(text) == 6


def test_fenced_block_is_preferred_to_prose() -> None:
    assert candidates(f"intro\n```\n{JANET}```\n")[0].startswith("expert: entity_track")


def test_indented_trace_in_prose() -> None:
    text = "Answer:\n" + "".join(f"    {line}\n" for line in JANET.splitlines())
    assert parse(text) == parse(JANET)


# ---------------------------------------------------------------- failures, by reason


DEEP_OK = Limits()

PARSE_CASES: dict[str, tuple[Any, Limits]] = {
    "empty": ("  \n\t\n", DEEP_OK),
    "too_large": ("x" * (Limits().max_chars + 1), DEEP_OK),
    "no_yaml": ("The answer is 18.", DEEP_OK),
    "yaml_error": ("expert: arithmetic\ntrace: [\n- {op: init, var: a", DEEP_OK),
    "too_deep": ("[" * 30 + "]" * 30, DEEP_OK),
    "aliases": ("expert: &e arithmetic\ntrace:\n- {op: query, var: *e}\n", DEEP_OK),
    "tags": ("expert: !!python/object/apply:os.system ['rm -rf /']\ntrace: []\n", DEEP_OK),
    "too_many_nodes": ("[" + ", ".join(["1"] * 50) + "]", Limits(max_nodes=40)),
    "not_a_trace": ("foo: bar\nbaz: 18\n", DEEP_OK),
}


@pytest.mark.parametrize("reason", sorted(PARSE_CASES))
def test_parse_failure_reason(reason: str) -> None:
    text, limits = PARSE_CASES[reason]
    assert failure_of(text, limits=limits) == ParseReason(reason)


@pytest.mark.parametrize("reason", list(ParseReason), ids=[r.value for r in ParseReason])
def test_every_parse_reason_has_a_case(reason: ParseReason) -> None:
    assert reason.value in PARSE_CASES


@pytest.mark.parametrize("text", ["", " ", "\n\n", "\t"])
def test_empty(text: str) -> None:
    assert failure_of(text) == ParseReason.EMPTY


def test_too_large_yaml_region() -> None:
    # under max_chars, but the YAML region itself is over max_yaml_chars
    padding = "".join(f"  # {'pad' * 20}\n" for _ in range(600))
    text = JANET.replace("trace:\n", "trace:\n" + padding)
    assert len(text) < Limits().max_chars and len(text) > Limits().max_yaml_chars
    assert failure_of(text) == ParseReason.TOO_LARGE


def test_custom_size_limit() -> None:
    assert failure_of(JANET, limits=Limits(max_chars=100)) == ParseReason.TOO_LARGE


@pytest.mark.parametrize(
    "text",
    ["expert: arithmetic\ntrace:\n\t- {op: init, var: a, value: 1}\n",  # tab indentation
     "expert: arithmetic\ntrace:\n- {op: init, var: a, var: b, value: 1}\n",  # duplicate key
     "expert: arithmetic\ntrace:\n- {op: init, var: a, value: 1\n",  # unclosed flow mapping
     "expert: arithmetic\n  trace: oops\n bad: indent\n"],
)
def test_yaml_errors(text: str) -> None:
    assert failure_of(text) == ParseReason.YAML_ERROR


@pytest.mark.parametrize(
    "text",
    ["[" * 30, "[" * 30 + "]" * 30, "{a: " * 20 + "1" + "}" * 20, "- " * 30 + "x",
     "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 15)) + "  " * 15 + "c"],
)
def test_too_deep(text: str) -> None:
    assert failure_of(text) == ParseReason.TOO_DEEP


def test_depth_limit_admits_a_composed_trace() -> None:
    # list > part mapping > step list > step mapping > args list: depth 5
    assert isinstance(extract(HOUSE, Limits(max_depth=5)), RawTrace)


def test_depth_limit_holds_on_the_fast_path_too() -> None:
    """Limits mean the same whichever loader reads the text.

    HOUSE is canonical (fast path); the same document with one extra space is not.
    Under max_depth=4 both are too deep.
    """
    non_canonical = HOUSE.replace("{op: query, var: result}", "{op: query,  var: result}")
    assert fast_load(non_canonical) is None
    limits = Limits(max_depth=4)
    assert failure_of(non_canonical, limits=limits) == ParseReason.TOO_DEEP
    assert failure_of(HOUSE, limits=limits) == ParseReason.TOO_DEEP


def test_node_limit_holds_on_the_fast_path_too() -> None:
    """A canonical text with more YAML nodes than max_nodes is refused like any other."""
    args = ", ".join(["a"] * 10_500)
    text = single("arithmetic", "{op: init, var: a, value: 1}",
                  f"{{op: compute, compute_op: add, args: [{args}], var: result}}",
                  "{op: query, var: result}")
    assert len(text) <= Limits().max_yaml_chars
    with pytest.raises(_Bounded) as info:
        bounded_load(text)
    assert info.value.failure.reason == ParseReason.TOO_MANY_NODES
    assert failure_of(text) == ParseReason.TOO_MANY_NODES


@pytest.mark.parametrize(
    "text",
    ["a: &x 1\n", "a: &x 1\nb: *x\n", "- &a [1, 2]\n- *a\n",
     "expert: arithmetic\ntrace:\n- &s {op: init, var: a, value: 1}\n- *s\n"],
)
def test_anchors_and_aliases(text: str) -> None:
    assert failure_of(text) == ParseReason.ALIASES


def test_billion_laughs_is_refused_fast() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    start = time.perf_counter()
    assert failure_of("\n".join(lines) + "\n") == ParseReason.ALIASES
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    "text",
    ["!!python/object/apply:os.system ['echo pwned']",
     "expert: !!python/object/apply:os.system ['echo pwned']\ntrace: []\n",
     "expert: arithmetic\ntrace: !!python/object/new:list [[]]\n",
     "expert: !!str arithmetic\ntrace:\n- {op: query, var: a}\n",
     "expert: !custom arithmetic\ntrace: []\n",
     "expert: arithmetic\ntrace:\n- {op: init, var: a, value: !!float 1}\n"],
)
def test_tags(text: str) -> None:
    assert failure_of(text) == ParseReason.TAGS


@pytest.mark.parametrize(
    "text",
    ["foo: bar", "[1, 2, 3]", "- a\n- b\n", "expert: arithmetic\n",
     "trace:\n- {op: query, var: a}\n", "{expert: [a, b], trace: [1]}", "{}"],
)
def test_not_a_trace(text: str) -> None:
    assert failure_of(text) == ParseReason.NOT_A_TRACE


@pytest.mark.parametrize("text", ["The answer is 18.", "18", "yes", "null", "~", 18, None,
                                  b"expert: arithmetic", ["expert"]])
def test_no_yaml(text: Any) -> None:
    assert failure_of(text) == ParseReason.NO_YAML


def test_first_failure_is_reported_when_nothing_is_a_trace() -> None:
    text = "```yaml\na: &x 1\n```\n```yaml\nfoo: bar\n```\n"
    assert failure_of(text) == ParseReason.ALIASES


def test_a_later_valid_block_rescues_a_broken_first_block() -> None:
    text = f"```yaml\nexpert: [oops\n```\n```yaml\n{mul_trace(6, 3)}```\n"
    assert first_value(text) == 6


@settings(max_examples=80, deadline=None)
@given(gen.single_traces() | gen.composed_traces())
def test_node_bound_really_bounds_canonical_documents(gt: gen.GenTrace) -> None:
    """The fast path trusts `_node_bound` instead of counting; it must never under-count."""
    from runtime import from_data, render
    from runtime.extract import _node_bound

    text = render(from_data(gt.data()))  # type: ignore[arg-type]
    events = [e for e in yaml.parse(text) if isinstance(e, yaml.NodeEvent)]
    assert len(events) <= _node_bound(text)


def test_many_trace_starts_cost_linear_time() -> None:
    """redteam: each `expert:` line used to split the whole rest of the text, so 100 KB of them
    took 1.5 s (quadratic: a quarter of the lines took a sixteenth of the time). Now four
    times the lines cost about four times as much; the bound leaves room for a loaded machine."""
    def best(lines: int) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            assert isinstance(extract("expert:\n" * lines), ParseFailure)
            times.append(time.perf_counter() - start)
        return min(times)

    assert best(12_400) < 9 * best(3_100)
