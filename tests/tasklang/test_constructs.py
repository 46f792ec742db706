"""Language v2 constructs: per-let conditions (`where`) and hidden lets.

The sampling semantics are properties: a let with `where C` is uniform over its values that
meet C given the lets above (whether its domain is listed or redrawn), `require` stays a joint
rejection, and a hidden let never reaches the payload or the leak and uniqueness keys."""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from runtime.experts import DEFAULT_EXPERTS
from tasklang import ast
from tasklang.compiler import WHERE_ENUMERATE, CompiledPattern, Rejected, compile_pattern
from tasklang.parser import parse_text
from tasklang.record import payload_of
from tasklang.rng import StreamRandom

from .helpers import check_text, compile_file, read_jsonl, write

ALPHA = 1e-6  # seeded draws: a uniform sampler passes; a skewed one fails by orders of magnitude


def compiled(body: str) -> CompiledPattern:
    module, diags = parse_text(f"pattern p {{ {body} template \"q\" answer \"a\" }}")
    assert module is not None, [d.headline() for d in diags]
    pattern = module.items[0]
    assert isinstance(pattern, ast.Pattern)
    return compile_pattern(pattern, {}, DEFAULT_EXPERTS)


def draws(pattern: CompiledPattern, n: int, seed: int = 0) -> list[dict[str, Any] | None]:
    rng = StreamRandom.of(seed)
    out: list[dict[str, Any] | None] = []
    for _ in range(n):
        try:
            out.append(pattern.sample_payload(rng))
        except Rejected:
            out.append(None)
    return out


def uniform(counts: Counter[Any], support: list[Any]) -> bool:
    observed = [counts[v] for v in support]
    return len(support) < 2 or chisquare(observed).pvalue > ALPHA


# ---------------------------------------------------------------- where: the marginal


@settings(max_examples=30, deadline=None)
@given(lo=st.integers(-10, 20), width=st.integers(0, 30), m=st.integers(1, 6),
       r=st.integers(0, 5), seed=st.integers(0, 2**32))
def test_where_is_uniform_over_the_values_that_pass(lo: int, width: int, m: int, r: int,
                                                    seed: int) -> None:
    """Listed domains: per value of the let above, exactly the passing values, uniformly."""
    r %= m
    pattern = compiled(f"let k = int 0..2  let n = int {lo}..{lo + width} "
                       f"where (n + k) % {m} == {r}")
    samples = draws(pattern, 40 * (width + 1) + 60, seed)
    for k in range(3):
        valid = [n for n in range(lo, lo + width + 1) if (n + k) % m == r]
        got = Counter(s["n"] for s in samples if s is not None and s["k"] == k)
        assert set(got) <= set(valid)  # nothing that fails its condition
        assert uniform(got, valid), (k, valid, got)
        rejected = [s for s in samples if s is None]
        assert bool(rejected) == any(not [n for n in range(lo, lo + width + 1)
                                          if (n + j) % m == r] for j in range(3))


def test_where_on_a_large_domain_is_redrawn_uniformly() -> None:
    """Past WHERE_ENUMERATE values the let alone is redrawn: still uniform over what passes."""
    top = 100 * WHERE_ENUMERATE
    pattern = compiled(f"let n = int 1..{top} where n % 7 == 3")
    samples = [s for s in draws(pattern, 4000) if s is not None]
    assert len(samples) == 4000 and all(s["n"] % 7 == 3 for s in samples)
    buckets = Counter(s["n"] * 10 // (top + 1) for s in samples)
    valid = Counter(n * 10 // (top + 1) for n in range(3, top + 1, 7))
    expected = [valid[b] / sum(valid.values()) * len(samples) for b in range(10)]
    assert chisquare([buckets[b] for b in range(10)], expected).pvalue > ALPHA


def test_where_keeps_choice_labels_and_repeats() -> None:
    """A choice is uniform over its items that pass (a repeated item counts twice)."""
    pattern = compiled('let x = choice "one" = 1, "two" = 2, "two again" = 2, "three" = 3 '
                       "where x >= 2")
    got = Counter(s["x"].label for s in draws(pattern, 3000) if s is not None)
    assert set(got) == {"two", "two again", "three"}
    assert uniform(got, ["two", "two again", "three"])


# ---------------------------------------------------------------- the issue's fraction


FRACTION = """
    let part = choice "half" = 1/2, "a third" = 1/3, "a quarter" = 1/4, "three quarters" = 3/4
    let n = int 1..100 {condition}
    {require}
"""


def test_a_where_keeps_the_fraction_uniform_where_require_skews_it() -> None:
    """The issue's case: a fraction meant to be uniform over 4 values. `require` rejects the
    whole sample, so each fraction comes out in proportion to its valid n (50/33/25/25);
    `where` redraws n alone, so each comes out a quarter of the time."""
    parts = ["half", "a third", "a quarter", "three quarters"]
    where = compiled(FRACTION.format(condition="where is_int(n * part)", require=""))
    got = Counter(s["part"].label for s in draws(where, 4000) if s is not None)
    assert sum(got.values()) == 4000 and uniform(got, parts), got
    joint = compiled(FRACTION.format(condition="", require="require is_int(n * part)"))
    skewed = Counter(s["part"].label for s in draws(joint, 4000) if s is not None)
    assert not uniform(skewed, parts), skewed
    share = {k: v / sum(skewed.values()) for k, v in skewed.items()}
    assert share["half"] > 0.3 > 0.2 > share["a quarter"]  # 50/133 and 25/133 of the samples


def test_where_n_given_the_fraction_is_uniform() -> None:
    pattern = compiled(FRACTION.format(condition="where is_int(n * part)", require=""))
    samples = [s for s in draws(pattern, 6000) if s is not None]
    for part in (Fraction(1, 2), Fraction(1, 3), Fraction(1, 4), Fraction(3, 4)):
        got = Counter(s["n"] for s in samples if s["part"] == part)
        valid = [n for n in range(1, 101) if (n * part).denominator == 1]
        assert set(got) <= set(valid) and uniform(got, valid)


def test_where_reads_only_the_lets_above_and_redraws_nothing_else() -> None:
    """The lets above keep their draws: `a` is uniform even though most of its values leave
    `b` few choices (a joint `require` would favour the a with many)."""
    pattern = compiled("let a = int 1..10  let b = int 1..10 where b <= a")
    samples = [s for s in draws(pattern, 3000) if s is not None]
    assert len(samples) == 3000 and all(s["b"] <= s["a"] for s in samples)
    assert uniform(Counter(s["a"] for s in samples), list(range(1, 11)))


def test_a_where_that_fails_in_one_context_rejects_that_sample_only() -> None:
    pattern = compiled("let a = int 1..4  let b = int 1..3 where b > a")
    samples = draws(pattern, 400)
    assert all(s is None or s["b"] > s["a"] for s in samples)
    assert {s["a"] for s in samples if s is not None} == {1, 2}
    assert pattern.where_stats["b"].hits and pattern.where_stats["b"].draws > 300


def test_a_where_on_a_pick_and_a_generate(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        vocab people from "people"
        pattern p {
            let who = pick people where who.subj == "she"
            let e = generate arithmetic(difficulty = 2) where e.value > 0
            template "{who} computes {e}"
            answer "{e.answer}"
        }
    """)
    assert checked.ok, [d.headline() for d in checked.diagnostics]
    program = checked.program
    pattern = compile_pattern(program.patterns["p"], program.vocabs, DEFAULT_EXPERTS)
    samples = [s for s in draws(pattern, 300) if s is not None]
    assert len(samples) == 300
    assert all(s["who"].get("subj") == "she" and s["e"].get("value") > 0 for s in samples)


# ---------------------------------------------------------------- hidden lets


HIDDEN = """
pattern p {
    let a = int 1..3
    let hidden h = int 1..1000
    let b = a + h - h
    require h > 0
    template "What is {a} plus {b}?"
    trace arithmetic {
        init a
        init b
        result = add(a, b)
        query result
    }
}
dataset d {
    patterns p
    split train SIZE
    unique payloads
    min_template_repeats 1
}
"""


def test_hidden_lets_stay_out_of_the_payload_and_its_keys(tmp_path: Path) -> None:
    """Three visible payloads exist; a thousand hidden values do not make a fourth."""
    checked, results = compile_file(write(tmp_path, HIDDEN.replace("SIZE", "3")), tmp_path / "o")
    assert all(r.ok for r in results), [d.headline() for r in results for d in r.diagnostics]
    records = read_jsonl(tmp_path / "o" / "d" / "train.jsonl")
    assert sorted(r["payload"] for r in records) == [  # JSON text
        json.dumps({"a": str(a), "b": str(a)}) for a in (1, 2, 3)]
    _, results = compile_file(write(tmp_path, HIDDEN.replace("SIZE", "4")), tmp_path / "o4")
    assert [d.code for r in results for d in r.diagnostics] == ["domain-exhausted"]


def test_hidden_lets_feed_lets_requires_and_inits(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        pattern p {
            let hidden rate = choice 2, 3
            let hours = int 2..6
            let pay = rate * hours
            require rate * hours > 4
            template "Sam earns {pay} dollars in {hours} hours. What is that per hour?"
            trace arithmetic {
                init pay
                init hours
                result = div(pay, hours)
                query result
            }
        }
    """)
    assert not checked.diagnostics, [d.headline() for d in checked.diagnostics]
    program = checked.program
    pattern = compile_pattern(program.patterns["p"], program.vocabs, DEFAULT_EXPERTS)
    env = pattern.sample_payload(StreamRandom.of(1))
    example = pattern.realize(env, pattern.templates[0])
    assert [k for k, _ in example.payload] == ["hours", "pay"]
    assert example.answer == str(env["rate"])


# ---------------------------------------------------------------- pattern families


FAMILY = """
pattern fraction_of for part in "half" = 1/2, "a third" = 1/3, "a quarter" = 1/4, "three quarters" = 3/4 {
    let total = int 1..100 where is_int(total * part)
    template "A farm has {total} goats and {part} of them are brown. How many goats are brown?"
    trace arithmetic {
        init total
        init part
        result = mul(total, part)
        query result
    }
}

pattern other {
    let a = int 1..50
    let b = int 1..50
    template "What is {a} plus {b}?"
    trace arithmetic {
        init a
        init b
        result = add(a, b)
        query result
    }
}

dataset goats {
    patterns fraction_of: 3, other
    split train 400
    split val 40
    seed 2
}
"""


def test_a_family_is_one_pattern_per_value_with_an_exact_share(tmp_path: Path) -> None:
    checked, results = compile_file(write(tmp_path, FAMILY), tmp_path / "o")
    assert all(r.ok for r in results), [d.headline() for r in results for d in r.diagnostics]
    assert checked.program.families["fraction_of"] == tuple(f"fraction_of_{i}" for i in (1, 2, 3, 4))
    records = read_jsonl(tmp_path / "o" / "goats" / "train.jsonl")
    shares = Counter(r["pattern"] for r in records)
    assert shares == {"fraction_of_1": 75, "fraction_of_2": 75, "fraction_of_3": 75,
                      "fraction_of_4": 75, "other": 100}  # 3/4 of 400, split four ways
    for i, value in enumerate(("0.5", "1/3", "0.25", "0.75"), start=1):
        assert {payload_of(r)["part"] for r in records if r["pattern"] == f"fraction_of_{i}"} == {value}


@settings(max_examples=40, deadline=None)
@given(values=st.integers(1, 7), weight=st.integers(1, 5), other=st.integers(1, 5),
       size=st.integers(1, 500))
def test_family_instances_share_the_family_weight_exactly(values: int, weight: int, other: int,
                                                          size: int) -> None:
    """Each instance gets weight/len; the exact mixture then gives every value its share to
    within one example (exactly, when the split divides evenly)."""
    from tasklang.program import Program, _expand_families
    from tasklang.splits import allocate

    items = ", ".join(str(i) for i in range(values))
    module, diags = parse_text(f"pattern f for x in {items} {{ template \"{{x}}\" answer \"{{x}}\" }}"
                               f"dataset d {{ patterns f: {weight}, g: {other} split train 1 }}")
    assert module is not None, [d.headline() for d in diags]
    pattern, dataset = module.items
    assert isinstance(pattern, ast.Pattern) and isinstance(dataset, ast.Dataset)
    program = Program(datasets={"d": dataset},
                      families={"f": tuple(f"f_{i}" for i in range(1, values + 1))})
    _expand_families(program)
    weights = [(w.pattern, w.weight) for w in program.datasets["d"].patterns]
    assert weights[:-1] == [(f"f_{i}", Fraction(weight, values)) for i in range(1, values + 1)]
    counts = allocate(size, weights)
    exact = Fraction(size * weight, (weight + other) * values)
    assert all(abs(c - exact) < 1 for c in counts[:-1])  # each value its share, to one example
    assert max(counts[:-1]) - min(counts[:-1]) <= 1  # and the values equal shares


def test_a_constant_conditional_bound_keeps_the_constant_range_fast_path() -> None:
    pattern = compiled("let n = int 1..(if 2 > 1 then 5 else 9)  let m = int 1..(if n > 3 then n else 1)")
    samples = [s for s in draws(pattern, 500) if s is not None]
    assert {s["n"] for s in samples} == {1, 2, 3, 4, 5}
    assert all(s["m"] == 1 if s["n"] <= 3 else 1 <= s["m"] <= s["n"] for s in samples)
