"""Lists and filters (`[p for p in L if C]`, `choice from L else F`, min/max/sum/len) and
records (`choice {name: "pen", price: 3}, ...`, number fields of vocabularies): parsed,
typed at check time, sampled with the documented semantics and compiled end to end."""

from __future__ import annotations

import json
import math
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runtime
from runtime.experts import DEFAULT_EXPERTS, ExpertTable
from tasklang import api, ast
from tasklang.compiler import Rejected, compile_pattern
from tasklang.expr import LIST_MAX, EvalError, compile_expr
from tasklang.parser import parse_text
from tasklang.record import payload_of
from tasklang.resources import vocab_dir
from tasklang.rng import StreamRandom
from tasklang.vocab import Entry, Record, VocabError, load_vocab

from .helpers import write

TABLE = ExpertTable(DEFAULT_EXPERTS.values())


def _expr(text: str) -> ast.Expr:
    module, diags = parse_text(f"pattern p {{ let x = {text} }}", "t.task")
    assert module is not None and not diags, [d.headline() for d in diags]
    pattern = module.items[0]
    assert isinstance(pattern, ast.Pattern)
    sampler = pattern.lets[0].sampler
    assert isinstance(sampler, ast.Derived)
    return sampler.expr


def _value(text: str, **env: object) -> object:
    return compile_expr(_expr(text))(env)


def _pattern(text: str) -> ast.Pattern:
    module, diags = parse_text(text, "t.task")
    assert module is not None and not diags, [d.headline() for d in diags]
    pattern = module.items[0]
    assert isinstance(pattern, ast.Pattern)
    return pattern


# ---------------------------------------------------------------- lists


def test_lists_of_computed_values_and_filters() -> None:
    assert _value("[a, b * 2, 10]", a=1, b=Fraction(3, 2)) == (1, 3, 10)
    assert _value("[p for p in [10, 15, 20, 25] if p * n <= 40]", n=2) == (10, 15, 20)
    assert _value("[k * k for k in 1..n if k % 2 == 1]", n=6) == (1, 9, 25)
    assert _value("[p for p in [] if p > 1]") == ()
    # the element's name is bound inside the brackets only: `p` outside is the let
    assert _value("[p for p in [1, 2] if p > q] ", q=1) == (2,)


def test_list_functions() -> None:
    assert _value("min([4, 2, 9]) + max([4, 2, 9]) + sum([4, 2, 9]) + len([4, 2, 9])") == 2 + 9 + 15 + 3
    assert _value("min(3, 1, 2)") == 1  # numbers as before
    assert _value("sum([1/2, 1/3])") == Fraction(5, 6)
    assert _value("sum([])") == 0 and _value("len([])") == 0
    with pytest.raises(EvalError, match="empty list"):
        _value("max([p for p in [1, 2] if p > 5])")


def test_a_list_past_the_limit_is_refused_per_sample() -> None:
    with pytest.raises(EvalError, match=f"more than {LIST_MAX}"):
        _value("[k for k in 1..n]", n=LIST_MAX + 1)


def _filtered(values: list[int], budget: int) -> ast.Pattern:
    listed = ", ".join(map(str, values))
    return _pattern(f"""
pattern p {{
    let n = int 1..4
    let price = choice from [p for p in [{listed}] if p * n <= {budget}] else -1
    template "{{n}} {{price}}"
    answer "{{price}}"
}}""")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 30), max_size=6), st.integers(0, 60), st.integers(0, 2**32))
def test_a_filtered_choice_is_uniform_over_the_kept_values_and_falls_back_exactly_when_empty(
        values: list[int], budget: int, seed: int) -> None:
    compiled = compile_pattern(_filtered(values, budget), {}, TABLE)
    rng = StreamRandom.of(seed)
    draws = 2400
    by_n: dict[int, Counter[int]] = {n: Counter() for n in range(1, 5)}
    for _ in range(draws):
        env = compiled.sample_payload(rng)  # never rejected: the fallback covers empty lists
        by_n[env["n"]][env["price"]] += 1
    for n, counts in by_n.items():
        kept = [p for p in values if p * n <= budget]
        total = sum(counts.values())
        assert total > draws / 4 - 6 * math.sqrt(draws), "n itself stays uniform"
        if not kept:
            assert set(counts) == {-1}
            continue
        assert -1 not in counts and set(counts) <= set(kept)
        for value, times in Counter(kept).items():  # a value listed twice: twice as likely
            share = times / len(kept)
            spread = 6 * math.sqrt(total * share * (1 - share)) + 2
            assert abs(counts[value] - total * share) <= spread, (n, kept, counts)


def test_without_a_fallback_an_empty_list_rejects_the_sample() -> None:
    compiled = compile_pattern(_pattern("""
pattern p {
    let n = int 1..2
    let price = choice from [p for p in [10, 30] if p * n <= 15]
    template "{price}"
    answer "{price}"
}"""), {}, TABLE)
    rng = StreamRandom.of(1)
    reasons = Counter()
    for _ in range(200):
        try:
            env = compiled.sample_payload(rng)
        except Rejected as rejected:
            reasons[rejected.reason.split(":")[0]] += 1
        else:
            assert env == {"n": 1, "price": 10}  # n = 2 keeps nothing: rejected
    assert set(reasons) == {"let price"} and 60 < reasons["let price"] < 140


def test_a_where_on_a_choice_from_a_list() -> None:
    compiled = compile_pattern(_pattern("""
pattern p {
    let n = int 2..3
    let k = choice from [n * 2, n * 3, n * 5] where is_int(k / 3)
    template "{k}"
    answer "{k}"
}"""), {}, TABLE)
    rng = StreamRandom.of(4)
    seen = {(env["n"], env["k"]) for env in (compiled.sample_payload(rng) for _ in range(300))}
    assert seen == {(2, 6), (3, 6), (3, 9), (3, 15)}


# ---------------------------------------------------------------- records

SHOP = """
pattern shop {
    let item = choice {name: "pen", price: 3, weight: 2}, {name: "book", price: 12, weight: 5}
    let count = int 2..9
    let total = item.price * count
    require total <= 100
    template "A {item.name} costs ${item.price}. How much do {count} of them cost?"
    trace arithmetic {
        init price = item.price
        init count
        result = mul(price, count)
        query result
    }
}

dataset shop {
    patterns shop
    split train 12
    min_template_repeats 1
}
"""


def test_a_record_literal_is_a_record_with_exact_number_fields() -> None:
    record = _value('{name: "pen", price: p / 2, part: half}', p=5, half=Fraction(1, 2))
    assert isinstance(record, Record)
    assert str(record) == "pen" and record.get("price") == Fraction(5, 2)
    assert record.get("name") == "pen" and record.get("part") == Fraction(1, 2)
    assert record.payload_text() == "name=pen, price=2.5, part=0.5"


def test_record_choices_compile_and_grade(tmp_path: Path) -> None:
    checked, results = api.compile_paths([str(write(tmp_path, SHOP))], tmp_path / "out")
    assert checked.ok and all(r.ok for r in results), \
        [d.headline() for d in checked.diagnostics] + [d.headline() for r in results for d in r.diagnostics]
    rows = [json.loads(line) for line in
            (tmp_path / "out" / "shop" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {payload_of(r)["item"] for r in rows} == {"name=pen, price=3, weight=2",
                                                   "name=book, price=12, weight=5"}
    for r in rows:
        price = 3 if "pen" in payload_of(r)["item"] else 12
        assert r["answer"] == str(price * int(payload_of(r)["count"]))
        assert payload_of(r)["total"] == r["answer"]
        graded = runtime.grade(r["completion"][0]["content"], r["answer"],
                               question=r["prompt"][-1]["content"])
        assert graded.reward == 1.0, graded.status


def test_an_unknown_record_field_is_reported_with_its_span_and_a_suggestion(tmp_path: Path) -> None:
    bad = SHOP.replace("item.price * count", "item.prise * count")
    diags = api.check([str(write(tmp_path, bad))]).diagnostics
    assert [(d.code, d.span.line, d.span.col) for d in diags] == [("unknown-field", 4, 22)]
    assert diags[0].helps == ("did you mean `price`?",)
    bad = SHOP.replace("{item.name}", "{item.nme}")
    diags = api.check([str(write(tmp_path, bad))]).diagnostics
    assert [d.code for d in diags] == ["unknown-field"] and "`name`" in diags[0].helps[0]


def test_record_fields_are_typed(tmp_path: Path) -> None:
    bad = SHOP.replace("item.price * count", "item.name * count")
    diags = api.check([str(write(tmp_path, bad))]).diagnostics
    assert [(d.code, d.message) for d in diags] == [
        ("type-error", "operator * needs numbers, got string")]


# ---------------------------------------------------------------- vocabulary number fields


def _vocab(tmp: Path, body: str) -> Path:
    path = tmp / "goods.yaml"
    path.write_text("fields: [name, price, weight]\n" + body, encoding="utf-8")
    return path


def test_number_fields_are_read_as_exact_numbers(tmp_path: Path) -> None:
    vocab = load_vocab("goods", _vocab(tmp_path, "numbers: [price, weight]\nentries:\n"
                                       "  - {name: pen, price: 2, weight: 0.25}\n"
                                       "  - {name: cup, price: '5/2', weight: 1.10}\n"))
    pen, cup = vocab.entries
    assert pen.get("price") == 2 and type(pen.get("price")) is int
    assert pen.get("weight") == Fraction(1, 4) and cup.get("price") == Fraction(5, 2)
    assert cup.get("weight") == Fraction(11, 10)
    assert dict(cup.fields) == {"name": "cup", "price": "2.5", "weight": "1.1"}
    assert str(pen) == "pen" and pen.get("name") == "pen"


@settings(max_examples=60, deadline=None)
@given(st.fractions(min_value=-10**6, max_value=10**6, max_denominator=1000))
def test_a_number_field_reads_back_exactly_as_its_text(value: Fraction) -> None:
    entry = _entry_with_price(f"'{value}'")
    text = dict(entry.fields)["price"]
    assert entry.get("price") == value and Fraction(text) == value
    assert type(entry.get("price")) is (int if value.denominator == 1 else Fraction)


def _entry_with_price(price: str) -> Entry:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = _vocab(Path(tmp), f"numbers: [price]\nentries:\n  - {{name: pen, price: {price}, "
                      "weight: 1}\n")
        return load_vocab("goods", path).entries[0]


@pytest.mark.parametrize(("body", "message"), [
    ("numbers: [price]\nentries:\n  - {name: pen, price: cheap, weight: 1}\n",
     "field 'price' must be a number"),
    ("numbers: [prise]\nentries:\n  - {name: pen, price: 2, weight: 1}\n",
     "did you mean `price`"),
    ("numbers: [name]\nentries:\n  - {name: 1, price: 2, weight: 1}\n",
     "the first field 'name'"),
    ("numbers: price\nentries:\n  - {name: pen, price: 2, weight: 1}\n",
     "'numbers' must be a list"),
])
def test_bad_number_fields_are_refused_with_a_reason(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(VocabError, match=message):
        load_vocab("goods", _vocab(tmp_path, body))


BASKET = """
vocab products from "products"

pattern basket {
    let p = pick products
    let n = int 2..6
    require is_int(p.price * n)
    template "One {p} costs {p.price:money}. How much do {n} cost, in dollars?"
    trace arithmetic {
        init price = p.price
        init n
        result = mul(price, n)
        query result
    }
}

dataset basket {
    patterns basket
    split train 10
    min_template_repeats 1
}
"""


def test_a_vocabulary_number_field_computes(tmp_path: Path) -> None:
    checked, results = api.compile_paths([str(write(tmp_path, BASKET))], tmp_path / "out")
    assert checked.ok and all(r.ok for r in results), \
        [d.headline() for d in checked.diagnostics] + [d.headline() for r in results for d in r.diagnostics]
    shipped = load_vocab("products", vocab_dir() / "products.yaml")
    products = {str(e): e.get("price") for e in shipped.entries}
    rows = [json.loads(line) for line in
            (tmp_path / "out" / "basket" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in rows:
        assert Fraction(r["answer"]) == products[payload_of(r)["p"]] * int(payload_of(r)["n"])
    bad = BASKET.replace("p.price * n", "p.prize * n")
    diags = api.check([str(write(tmp_path, bad))]).diagnostics
    assert [(d.code, d.span.line) for d in diags] == [("unknown-field", 6)]
    assert diags[0].helps == ("did you mean `price`?",)


# ---------------------------------------------------------------- syntax


def _syntax(tmp: Path, let: str) -> tuple[tuple[int, int], str, str]:
    text = f'pattern p {{\n    let n = int 1..3\n    {let}\n    template "{{n}}"\n    answer "{{n}}"\n}}\n'
    diags = [d for d in api.check([str(write(tmp, text))]).diagnostics if d.is_error]
    assert len(diags) == 1, [d.headline() for d in diags]
    d = diags[0]
    return (d.span.line, d.span.col), d.message, " ".join(d.helps)


def test_an_unclosed_list_is_reported_where_it_opens(tmp_path: Path) -> None:
    at, message, help = _syntax(tmp_path, "let x = [1, n")
    assert (at, message) == ((3, 13), "unclosed '['") and "']'" in help


def test_a_broken_filter_gets_the_filter_syntax_as_its_hint(tmp_path: Path) -> None:
    for let in ("let q = [p if p > 2 for p in [1]]",
                "let q = choice from [p for p in [10, 15] if p > 2 else 3]"):
        _, _, help = _syntax(tmp_path, let)
        assert "`[p for p in L if C]`" in help, let
    _, message, help = _syntax(tmp_path, "let q = [k for k in range(1, 9)]")
    assert message.startswith("unknown function range()") and "`lo..hi`" in help


def test_a_number_field_the_trace_inits_must_be_shown(tmp_path: Path) -> None:
    bad = SHOP.replace("costs ${item.price}", "is on sale")
    diags = api.check([str(write(tmp_path, bad))]).diagnostics
    assert [(d.code, d.span.line) for d in diags] == [("init-not-in-question", 6)]
    assert "item.price" in diags[0].message
