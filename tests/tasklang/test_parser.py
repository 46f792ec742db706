"""parser: .task text -> frozen AST with spans; syntax errors -> one diagnostic, never an exception."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasklang import ast
from tasklang.parser import parse_text

from .helpers import SHIPPED

F = Fraction


def parse(text: str) -> ast.Module:
    module, diags = parse_text(text, "t.task")
    assert module is not None and not diags, [d.headline() for d in diags]
    return module


def one_pattern(body: str) -> ast.Pattern:
    (item,) = parse("pattern p {\n" + body + "\n}\n").items
    assert isinstance(item, ast.Pattern)
    return item


def sampler(text: str) -> ast.Sampler:
    return one_pattern(f"let x = {text}").lets[0].sampler


# ---------------------------------------------------------------- top level


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_tasks_parse(path) -> None:  # type: ignore[no-untyped-def]
    module, diags = parse_text(path.read_text(encoding="utf-8"), str(path))
    assert module is not None and not diags


def test_top_level_items() -> None:
    module = parse("""
        # a comment
        import "experts.task"
        expert counting: consume, transfer, compute(add, sub)
        vocab people from "people"
        pattern p { let a = int 1..9  template "{a}"  answer "{a}" }
        dataset d { patterns p  split train 10 }
        """)
    kinds = [type(i).__name__ for i in module.items]
    assert kinds == ["Import", "ExpertDecl", "VocabDecl", "Pattern", "Dataset"]
    imp, expert, vocab = module.items[:3]
    assert isinstance(imp, ast.Import) and imp.path == "experts.task"
    assert isinstance(expert, ast.ExpertDecl)
    assert [(o.name, o.compute_ops) for o in expert.ops] == [
        ("consume", None), ("transfer", None), ("compute", ("add", "sub"))]
    assert isinstance(vocab, ast.VocabDecl) and (vocab.name, vocab.source) == ("people", "people")


def test_spans_are_one_based_and_end_exclusive() -> None:
    module = parse("pattern p {\n    let price = int 2..9\n}\n")
    let = module.items[0].lets[0]  # type: ignore[union-attr]
    assert (let.span.line, let.span.col, let.span.end_line, let.span.end_col) == (2, 5, 2, 25)
    rng = let.sampler
    assert isinstance(rng, ast.IntRange)
    assert (rng.lo.span.col, rng.hi.span.col) == (21, 24)


def test_ast_is_frozen() -> None:
    let = one_pattern("let a = 3").lets[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        let.name = "b"  # type: ignore[misc]


def test_newlines_are_not_significant() -> None:
    a = one_pattern('let a = int 1..9 template "{a}" answer "{a}"')
    b = one_pattern('let a =\n int\n 1\n ..\n 9\n template\n "{a}"\n answer "{a}"')
    strip = lambda p: [type(s).__name__ for s in p.body]  # noqa: E731
    assert strip(a) == strip(b)


# ---------------------------------------------------------------- samplers


def test_int_and_decimal_ranges() -> None:
    r = sampler("int 20..400 step 5")
    assert isinstance(r, ast.IntRange) and isinstance(r.step, ast.Num) and r.step.value == 5
    assert sampler("int 1..9").step is None  # type: ignore[union-attr]
    d = sampler("decimal 0.5..2.5 step 0.25")
    assert isinstance(d, ast.DecimalRange)
    assert (d.lo.value, d.hi.value, d.step.value) == (F(1, 2), F(5, 2), F(1, 4))  # type: ignore[union-attr]


def test_decimal_needs_a_step() -> None:
    _, diags = parse_text("pattern p { let x = decimal 0.5..2.5 }")
    assert [d.code for d in diags] == ["syntax"]


def test_choices_plain_and_labelled() -> None:
    c = sampler('choice "half" = 1/2, "a third" = 1/3, 2')
    assert isinstance(c, ast.Choice)
    assert [i.label for i in c.items] == ["half", "a third", None]
    assert isinstance(c.items[0].value, ast.BinOp)


def test_pick_options_in_any_order() -> None:
    a = sampler("pick words distinct from x, y max_tokens 4")
    b = sampler("pick words max_tokens 4 distinct from x distinct from y")
    for p in (a, b):
        assert isinstance(p, ast.Pick)
        assert (p.vocab, p.max_tokens, p.distinct_from) == ("words", 4, ("x", "y"))


def test_generate() -> None:
    g = sampler("generate rpn(difficulty = 4)")
    assert isinstance(g, ast.Generate) and g.generator == "rpn"
    assert [(k, v.value) for k, v in g.kwargs] == [("difficulty", 4)]  # type: ignore[union-attr]
    assert sampler("generate brackets()").kwargs == ()  # type: ignore[union-attr]


def test_derived_expression() -> None:
    d = sampler("produced - use1 - use2")
    assert isinstance(d, ast.Derived) and isinstance(d.expr, ast.BinOp)
    assert d.expr.op == "-" and isinstance(d.expr.left, ast.BinOp)  # left-associative


def test_keywords_are_not_reserved_as_names() -> None:
    p = one_pattern("let step = int 1..3\nlet lang = step + 1")
    assert [let.name for let in p.lets] == ["step", "lang"]


# ---------------------------------------------------------------- expressions


def test_operator_precedence_and_associativity() -> None:
    e = sampler("1 + 2 * 3 ** 2 ** 2").expr  # type: ignore[union-attr]
    assert isinstance(e, ast.BinOp) and e.op == "+"
    mul = e.right
    assert isinstance(mul, ast.BinOp) and mul.op == "*"
    power = mul.right
    assert isinstance(power, ast.BinOp) and power.op == "**"
    assert isinstance(power.right, ast.BinOp) and power.right.op == "**"  # right-associative


def test_power_binds_tighter_than_unary_minus() -> None:
    e = sampler("-2 ** 2").expr  # type: ignore[union-attr]
    assert isinstance(e, ast.Neg) and isinstance(e.operand, ast.BinOp)


def test_comparison_chain_and_logic() -> None:
    e = sampler("not a < b <= c and d or e").expr  # type: ignore[union-attr]
    assert isinstance(e, ast.BoolOp) and e.op == "or"
    conj = e.operands[0]
    assert isinstance(conj, ast.BoolOp) and conj.op == "and"
    neg = conj.operands[0]
    assert isinstance(neg, ast.Not) and isinstance(neg.operand, ast.Compare)
    assert [op for op, _ in neg.operand.rest] == ["<", "<="]


def test_and_or_flatten() -> None:
    e = sampler("a and b and c").expr  # type: ignore[union-attr]
    assert isinstance(e, ast.BoolOp) and len(e.operands) == 3


def test_fields_and_calls() -> None:
    e = sampler("max(who.age, 3)").expr  # type: ignore[union-attr]
    assert isinstance(e, ast.Call) and e.fn == "max"
    assert isinstance(e.args[0], ast.Ref) and e.args[0].parts == ("who", "age")


def test_strings_concatenate_and_unescape() -> None:
    t = one_pattern(r'template "say \"hi\"" " and\tbye\n"').templates[0]
    assert t.text == 'say "hi" and\tbye\n'


# ---------------------------------------------------------------- templates and traces


def test_template_forms() -> None:
    ts = one_pattern("""
        template "plain"
        template janet "named"
        template for train "train only"
        template held for val, test "named, two splits"
        template for train lang de "German, train"
        template lang de "German, every split"
    """).templates
    assert [(t.name, t.splits, t.lang) for t in ts] == [
        (None, (), None), ("janet", (), None), (None, ("train",), None),
        ("held", ("val", "test"), None), (None, ("train",), "de"), (None, (), "de")]


def test_trace_statements() -> None:
    (block,) = one_pattern("""
        trace entity_track {
            init produced
            init {who}.eggs = produced * 2
            init prev = prev
            step1 = sub({who}.eggs, produced)
            consume({who}.eggs, step1)
            query {who}.eggs
        }
    """).traces
    init1, init2, init3, assign, effect, query = block.steps
    assert isinstance(init1, ast.TInit) and init1.value is None and not init1.from_prev
    assert isinstance(init2, ast.TInit) and init2.var.templated and init2.var.text == "{who}.eggs"
    assert isinstance(init3, ast.TInit) and init3.from_prev and init3.value is None
    assert isinstance(assign, ast.TOp) and assign.out is not None and assign.op == "sub"
    assert [a.text for a in assign.args] == ["{who}.eggs", "produced"]
    assert isinstance(effect, ast.TOp) and effect.out is None and effect.op == "consume"
    assert isinstance(query, ast.TQuery) and query.var.text == "{who}.eggs"


def test_dataset_statements() -> None:
    (ds,) = parse("""
        dataset d {
            patterns a: 2, b
            patterns c: 0.5
            split train 1000
            split val 200 held_out
            seed 7
            system "Experts: {experts}"
            max_length 1024
            language de 0.1
            unique payloads
        }
        """).items
    assert isinstance(ds, ast.Dataset)
    assert [(w.pattern, w.weight) for w in ds.patterns] == [("a", 2), ("b", 1), ("c", F(1, 2))]
    assert [(s.name, s.size, s.held_out) for s in ds.splits] == [("train", 1000, False),
                                                                  ("val", 200, True)]
    assert {s.key: s.value for s in ds.settings} == {
        "seed": 7, "system": "Experts: {experts}", "max_length": 1024}
    assert [(x.lang, x.share) for x in ds.languages] == [("de", F(1, 10))]
    assert ds.unique_payloads


# ---------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(("text", "line", "col", "message"), [
    ("pattern p {\n  let a = int 1..\n}\n", 3, 1, "unexpected '}'"),
    ("pattern p {\n  let a = 1 ; 2\n}\n", 2, 13, "unexpected character ';'"),
    ('pattern p {\n  template "open\n}\n', 2, 12, "unterminated string"),
    ("pattern p {\n  let a = 1\n", 1, 11, "unclosed '{' of pattern p"),
    ("dataset d { split train ten }", 1, 25, "unexpected 'ten'"),
])
def test_syntax_errors(text: str, line: int, col: int, message: str) -> None:
    module, diags = parse_text(text, "t.task")
    assert module is None
    (d,) = diags
    assert (d.code, d.span.line, d.span.col) == ("syntax", line, col), d.headline()
    assert d.message.startswith(message)


def test_syntax_notes_say_what_was_expected_in_words() -> None:
    _, (d,) = parse_text("dataset d { seed }")
    assert d.notes == ("expected a number, a string",)
    _, (d,) = parse_text("pattern p { let }")
    assert "a name" in d.notes[0]


# ---------------------------------------------------------------- robustness


TOKENS = ["pattern", "p", "{", "}", "let", "x", "=", "int", "1", "..", "9", "step", "choice",
          '"a"', ",", "template", '"{x}"', "trace", "arithmetic", "init", "query", "(", ")",
          "dataset", "split", "train", "held_out", "**", "-", "and", "not", "<", ".", "{x}.y",
          "\n", "#", "@", "\\", '"']


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_parse_text_never_raises(tokens: list[str]) -> None:
    module, diags = parse_text(" ".join(tokens), "fuzz.task")
    assert (module is None) == bool(diags)
    assert all(d.code == "syntax" and d.span.line >= 1 and d.span.col >= 1 for d in diags)


@given(st.text(max_size=60))
def test_arbitrary_text_never_raises(text: str) -> None:
    module, diags = parse_text(text, "fuzz.task")
    assert (module is None) == bool(diags)


@pytest.mark.parametrize("expr", ["-" * 5000 + "1", "not " * 3000 + "1",
                                  "(1 + " * 3000 + "1" + ")" * 3000, "(" * 5000 + "1" + ")" * 5000])
def test_deep_nesting_is_a_diagnostic_not_a_crash(expr: str) -> None:
    module, diags = parse_text(f"pattern p {{ let x = {expr} }}", "deep.task")
    assert module is not None or [d.code for d in diags] == ["syntax"]


def test_nesting_that_parses_also_checks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Whatever the parser accepts, the (recursive) checker and evaluator handle."""
    from tasklang import api
    from tasklang.expr import compile_expr

    for depth in range(50, 1000, 25):
        text = f'pattern p {{ let x = {"-" * depth}1 template "{{x}}" answer "{{x}}" }}'
        module, diags = parse_text(text)
        if module is None:
            assert diags[0].message == "expressions nested too deeply"
            break
        sampler = module.items[0].lets[0].sampler  # type: ignore[union-attr]
        assert compile_expr(sampler.expr)({}) == (-1) ** depth  # type: ignore[union-attr]
        path = tmp_path / f"deep{depth}.task"
        path.write_text(text, encoding="utf-8")
        assert api.check([str(path)]).ok


# ---------------------------------------------------------------- language v2 constructs


def test_let_where_hidden_and_families() -> None:
    module = parse('pattern f for part in "half" = 1/2, 3 { let hidden n = int 1..9 where n > part '
                   "let m = choice 1, 2 let then = 1 }")
    p = module.items[0]
    assert isinstance(p, ast.Pattern) and p.family is not None and p.family.var == "part"
    assert [i.label for i in p.family.items] == ["half", None]
    assert isinstance(p.family.items[0].value, ast.BinOp)  # 1/2 is an expression
    n, m, then = p.lets
    assert n.hidden and isinstance(n.where, ast.Compare) and isinstance(n.sampler, ast.IntRange)
    assert not m.hidden and m.where is None
    assert then.name == "then"  # `then`, `if`, `where` are keywords only where they can stand


def test_conditional_expression_nodes() -> None:
    p = one_pattern("let x = if a > 1 then 2 else if a then 3 else 4")
    e = p.lets[0].sampler.expr  # type: ignore[union-attr]
    assert isinstance(e, ast.Cond) and isinstance(e.orelse, ast.Cond)
    assert isinstance(e.test, ast.Compare) and e.span.col < e.test.span.col
