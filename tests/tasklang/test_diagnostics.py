"""diagnostics: `file:line:col: severity[code]: message`, the source line with a caret, notes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasklang import api
from tasklang.diagnostics import (
    Diagnostic,
    Severity,
    Span,
    TaskError,
    did_you_mean,
    error,
    render,
    render_all,
    source_lines,
    to_json,
    warning,
)

from .helpers import BROKEN, write

SOURCE = "pattern p {\n    let x = int 1..y\n}\n"


def test_headline() -> None:
    d = error("undefined-name", "y is not defined (yet)", Span("gsm.task", 2, 20, 2, 21))
    assert d.headline() == "gsm.task:2:20: error[undefined-name]: y is not defined (yet)"
    w = warning("unused-var", "x is never used", Span.point("gsm.task", 2, 5))
    assert w.headline() == "gsm.task:2:5: warning[unused-var]: x is never used"
    assert d.is_error and not w.is_error
    assert d.severity is Severity.ERROR


def test_render_with_source_line_caret_and_notes() -> None:
    d = error("undefined-name", "y is not defined (yet)", Span("gsm.task", 2, 20, 2, 21),
              "a let can only use lets written above it")
    assert render(d, {"gsm.task": SOURCE}).splitlines() == [
        "gsm.task:2:20: error[undefined-name]: y is not defined (yet)",
        "   2 |     let x = int 1..y",
        "                          ^",
        "     = note: a let can only use lets written above it",
    ]


def test_caret_underlines_the_span() -> None:
    d = error("bad-range", "empty", Span("f.task", 2, 13, 2, 21))
    lines = render(d, {"f.task": SOURCE}).splitlines()
    assert lines[2] == " " * (len("   2 | ") + 12) + "^~~~~~~~"
    caret_col = lines[2].index("^") - len("   2 | ")
    assert lines[1][len("   2 | "):][caret_col:].startswith("int 1..y")


def test_caret_never_runs_past_the_line() -> None:
    d = error("syntax", "x", Span("f.task", 2, 5, 2, 500))
    caret = render(d, {"f.task": SOURCE}).splitlines()[2]
    assert len(caret) <= len("   2 | ") + len("    let x = int 1..y")


def test_multi_line_span_gets_one_caret() -> None:
    d = error("missing-query", "empty trace", Span("f.task", 1, 1, 3, 2))
    assert render(d, {"f.task": SOURCE}).splitlines()[2] == " " * len("   1 | ") + "^"


def test_tabs_keep_the_caret_in_place() -> None:
    source = "pattern p {\n\tlet x = int 1..y\n}\n"
    d = error("undefined-name", "y", Span("f.task", 2, 17, 2, 18))
    _, line, caret = render(d, {"f.task": source}).splitlines()
    assert line[caret.index("^")] == "y"


def test_render_without_source_is_the_headline_and_notes() -> None:
    d = error("missing-file", "no such file", Span.point("x.task"), "note one")
    assert render(d).splitlines() == ["x.task:1:1: error[missing-file]: no such file",
                                      "     = note: note one"]
    assert render(d, {"other.task": "x"}).count("\n") == 1


def test_line_beyond_the_source_is_not_shown() -> None:
    d = error("syntax", "x", Span.point("f.task", 99, 1))
    assert render(d, {"f.task": SOURCE}) == d.headline()


def test_render_all_sorts_by_position() -> None:
    a = error("b-code", "second", Span.point("f.task", 3, 1))
    b = warning("a-code", "first", Span.point("f.task", 1, 4))
    c = error("c-code", "third", Span.point("g.task", 1, 1))
    text = render_all([c, a, b])
    assert [line.split(": ")[1] for line in text.splitlines()] == [
        "warning[a-code]", "error[b-code]", "error[c-code]"]


def test_json() -> None:
    d = error("undefined-name", "y", Span("f.task", 2, 20, 2, 21), "n")
    data = json.loads(to_json([d]))
    assert data == [{"file": "f.task", "line": 2, "col": 20, "end_line": 2, "end_col": 21,
                     "severity": "error", "code": "undefined-name", "message": "y",
                     "notes": ["n"], "help": []}]


def test_task_error_carries_the_diagnostics() -> None:
    ds = [error("x", f"m{i}", Span.point("f.task", i)) for i in range(1, 6)]
    err = TaskError(ds)
    assert err.diagnostics == ds
    assert str(err).count("error[x]") == 3


def test_diagnostics_are_frozen_records() -> None:
    d = error("x", "m", Span.point("f"))
    assert isinstance(d, Diagnostic)
    try:
        d.code = "y"  # type: ignore[misc]
    except AttributeError:
        return
    raise AssertionError("Diagnostic is mutable")


# ---------------------------------------------------------------- end to end


def test_every_problem_is_collected_not_just_the_first(tmp_path: Path) -> None:
    path = write(tmp_path, """
        pattern p {
            let a = int 1..zz
            let b = foo(1)
            template "{nope}"
            answer "{a}"
        }
        """)
    checked = api.check([str(path)])
    assert {d.code for d in checked.diagnostics} >= {"undefined-name", "unknown-function"}
    assert sum(d.code == "undefined-name" for d in checked.diagnostics) == 2


def test_rendered_check_output_points_at_the_token(tmp_path: Path) -> None:
    path = write(tmp_path, 'pattern p {\n    let a = int 1..zz\n    template "{a}"\n    answer "{a}"\n}\n')
    checked = api.check([str(path)])
    (d,) = [d for d in checked.diagnostics if d.code == "undefined-name"]
    _, line, caret = render(d, checked.sources).splitlines()[:3]
    assert line.endswith("let a = int 1..zz")
    assert caret.endswith("^~") and len(caret) == len(line)


def test_template_carets_point_into_the_string(tmp_path: Path) -> None:
    path = write(tmp_path, 'pattern p {\n    let a = int 1..9\n'
                           '    template "{a} {{literal}} and {nope}"\n    answer "{a}"\n}\n')
    checked = api.check([str(path)])
    (d,) = [d for d in checked.diagnostics if d.code == "undefined-name"]
    line = checked.sources[d.span.file].splitlines()[d.span.line - 1]
    assert line[d.span.col - 1:].startswith("{nope}")


def test_template_carets_with_escapes_before_the_placeholder(tmp_path: Path) -> None:
    r"""`\"` in the string: the caret still lands on the placeholder."""
    path = write(tmp_path, 'pattern p {\n    let a = int 1..9\n'
                           '    template "say \\"{nope}\\" and {a}"\n    answer "{a}"\n}\n')
    checked = api.check([str(path)])
    (d,) = [d for d in checked.diagnostics if d.code == "undefined-name"]
    line = checked.sources[d.span.file].splitlines()[d.span.line - 1]
    assert line[d.span.col - 1:].startswith("{nope}"), (d.span, line)


def test_template_carets_in_concatenated_strings(tmp_path: Path) -> None:
    path = write(tmp_path, 'pattern p {\n    let a = int 1..9\n'
                           '    template "first {nope} " "then {a} {nope2}"\n    answer "{a}"\n}\n')
    checked = api.check([str(path)])
    found = sorted(d.span.col for d in checked.diagnostics if d.code == "undefined-name")
    line = checked.sources[checked.diagnostics[0].span.file].splitlines()[2]
    assert [line[c - 1:].split("}")[0] + "}" for c in found] == ["{nope}", "{nope2}"]


def test_carets_land_on_the_parsers_line_whatever_the_line_separators(tmp_path: Path) -> None:
    """Found by the fuzzer: a form feed, \\u2028 or \\x85 in a comment or a string is one line
    to the parser, but str.splitlines breaks there, so the caret was drawn under another line."""
    for odd in ("\u2028", "\x0c", "\x85", "\x1e", "\r"):
        path = write(tmp_path, f'# a comment with{odd}inside\npattern p {{\n    let a = int 1..zz\n'
                               f'    template "{{a}} and{odd}more"\n    answer "{{a}}"\n}}\n')
        checked = api.check([str(path)])
        (d,) = [d for d in checked.diagnostics if d.code == "undefined-name"]
        assert d.span.line == 3, (repr(odd), d.headline())
        _, line, caret = render(d, checked.sources).splitlines()[:3]
        assert line.endswith("let a = int 1..zz") and caret.endswith("^~"), (repr(odd), line)
        assert len(caret) == len(line)


def test_source_lines_split_where_the_parser_counts_lines() -> None:
    assert source_lines("a\r\nb\u2028c\n\nd") == ("a", "b\u2028c", "", "d")
    assert source_lines("a\n") == ("a",) and source_lines("") == ()


# ---------------------------------------------------------------- help and notes

def test_did_you_mean_picks_the_closest_names() -> None:
    assert did_you_mean("pricee", ["price", "qty"]) == "did you mean `price`?"
    assert did_you_mean("Price", ["price"]) == "did you mean `price`?"
    assert did_you_mean("tota", ["total", "totals", "qty"]) == "did you mean `total` or `totals`?"
    assert did_you_mean("zzz", ["price", "qty"]) is None
    assert did_you_mean("price", ["price"]) is None  # the name itself is no suggestion


def test_help_renders_after_the_notes() -> None:
    d = error("undefined-name", "y is not defined (yet)", Span("gsm.task", 2, 20, 2, 21),
              "context", help="did you mean `x`?")
    assert render(d, {"gsm.task": SOURCE}).splitlines()[-2:] == [
        "     = note: context", "     = help: did you mean `x`?"]
    assert json.loads(to_json([d]))[0]["help"] == ["did you mean `x`?"]
    assert error("c", "m", Span.point("f"), help=[None, "h"]).helps == ("h",)


def _by_line(path: Path) -> dict[int, list[Diagnostic]]:
    out: dict[int, list[Diagnostic]] = {}
    for d in api.check([str(path)]).diagnostics:
        out.setdefault(d.span.line, []).append(d)
    return out


def test_misspelt_names_get_a_suggestion_under_the_name() -> None:
    """broken/did_you_mean.task: each misspelling has its help line and its own caret."""
    path = BROKEN / "did_you_mean.task"
    lines = path.read_text(encoding="utf-8").splitlines()
    got = _by_line(path)

    def one(line: int, code: str) -> Diagnostic:
        (d,) = [d for d in got[line] if d.code == code]
        return d

    cases = [  # (line, code, underlined text, help)
        (2, "unknown-op", "mull", "did you mean `mul`?"),
        (3, "unknown-op", "consum", "did you mean `consume`?"),
        (9, "undefined-vocab", "peple", "did you mean `people`?"),
        (11, "unknown-generator", "arithmetc", "did you mean `arithmetic`?"),
        (12, "undefined-name", "pricee", "did you mean `price`?"),
        (14, "unknown-field", "{buyer.nmae}", "did you mean `name`?"),
        (14, "bad-placeholder", "{price:mony}", "did you mean `money`?"),
        (15, "undefined-expert", "entity_trak", "did you mean `entity_track`?"),
        (25, "unknown-split", 'template for trian "{a}"', "did you mean `train`?"),
        (31, "undefined-pattern", "misspelled", "did you mean `misspelt`?"),
        (33, "bad-setting", 'format "chatt"', "did you mean `chat`?"),
    ]
    for line, code, text, help in cases:
        d = one(line, code)
        assert d.helps == (help,), (line, code, d.helps)
        s = d.span
        assert (s.line, s.end_line) == (line, line)
        assert lines[line - 1][s.col - 1 : s.end_col - 1] == text, (code, s)


def test_an_undefined_name_is_reported_once_per_pattern() -> None:
    got = _by_line(BROKEN / "did_you_mean.task")
    assert not any(d.code == "undefined-name" for d in got.get(13, []))
    (d,) = [d for d in got[12] if d.code == "undefined-name"]
    assert d.notes == ("pricee is also used at line 13:24",)


def test_a_let_used_above_its_definition_says_where_it_is(tmp_path: Path) -> None:
    path = write(tmp_path, """
        pattern p {
            let a = b + 1
            let b = int 1..9
            template "{a}"
            answer "{a}"
        }
        """)
    (d,) = [d for d in api.check([str(path)]).diagnostics if d.code == "undefined-name"]
    assert d.notes == ("b is defined below, at line 3: a let can only use lets written above it",)
    assert d.helps == ()


# ---------------------------------------------------------------- syntax: openers and hints

def _syntax(text: str) -> Diagnostic:
    from tasklang.parser import parse_text

    module, (d,) = parse_text(text, "x.task")
    assert module is None and d.code == "syntax"
    return d


@pytest.mark.parametrize(("text", "line", "col", "message", "help"), [
    # an unclosed `{`, `(` or string is reported where it opens, the closer first
    ("pattern p {\n    let a = int 1..9\n    template \"{a}\"\n\npattern q {\n    answer \"x\"\n}\n",
     1, 11, "unclosed '{' of pattern p", "add the closing '}'"),
    ("pattern p {\n    trace e {\n        init a\n    template \"{a}\"\n}\n",
     2, 13, "unclosed '{' of trace e", "add the closing '}'"),
    ("pattern p {\n    let a = (1 + 2\n    template \"{a}\"\n}\n",
     2, 13, "unclosed '('", "add the closing ')'"),
    ("pattern p {\n    template \"abc\n}\n", 2, 14, "unterminated string", 'close it with `"`'),
    # misspelt keywords and settings
    ("pattern p {\n    templte \"x\"\n}\n", 2, 5, "unexpected 'templte'", "did you mean `template`?"),
    ("pattern p {\n    requre 1 > 0\n}\n", 2, 5, "unexpected 'requre'", "did you mean `require`?"),
    ("dataset d {\n    max_lenght 100\n}\n", 2, 5, "unexpected 'max_lenght'",
     "did you mean `max_length`?"),
    # constructs of other languages
    ("pattern p {\n    let a = int 1..9\n    let b = int(a / 2)\n    template \"{a}\"\n}\n",
     3, 13, "int(...)", "use floor(x) or round(x), or keep x whole with `require is_int(x)`"),
    ("pattern p {\n    let b = 1 if a > 3 else 2\n}\n", 2, 15, "unexpected 'if'",
     "conditional expressions are written `if C then A else B`"),
    ("pattern p {\n    if a > 3 {\n    }\n}\n", 2, 5, "unexpected 'if'", "there is no `if` statement"),
    ("pattern p {\n    require a = 3\n}\n", 2, 15, "unexpected '='", "comparison is `==`"),
    ("pattern p {\n    let a == 3\n}\n", 2, 12, "unexpected '='", "bound with one `=`"),
    ("pattern p {\n    require a > 3 && a < 5\n}\n", 2, 19, "unexpected character '&'", "`and`"),
    ("pattern p {\n    require a > 3 || a < 5\n}\n", 2, 19, "unexpected character '|'", "`or`"),
    ("pattern p {\n    let a = int 1..9\n    a += 1\n}\n", 3, 5, "unexpected 'a'",
     "a let is bound once"),
    ("pattern p {\n    let x: int = 3\n}\n", 2, 10, "unexpected ':'", "no type annotation"),
    ("pattern p {\n  trace e {\n    r = mul(a * 2, 60)\n  }\n}\n", 3, 15, "unexpected '*'",
     "an argument is a trace name, a number or a nested op"),
])
def test_syntax_errors_point_at_the_cause(text: str, line: int, col: int, message: str,
                                          help: str) -> None:
    d = _syntax(text)
    assert (d.span.line, d.span.col) == (line, col), d.headline()
    assert d.message.startswith(message), d.message
    assert d.helps and help in d.helps[0], d.helps


def test_closers_come_first_in_the_expected_list() -> None:
    d = _syntax("pattern p {\n    let a = int 1..9\n    bogus\n}\n")
    assert d.notes[0].startswith("expected '}', "), d.notes


def test_abs_in_a_trace_says_what_trace_ops_are(tmp_path: Path) -> None:
    """floor, ceil and round are trace ops too (runtime.ops); abs is an expression only."""
    path = write(tmp_path, """
        pattern p {
            let a = int 1..9
            template "{a}"
            trace arithmetic {
                init a
                r = abs(a)
                query r
            }
        }
        """)
    (d,) = api.check([str(path)]).diagnostics
    assert (d.code, d.span.line, d.message) == ("bad-step", 6, "unknown op abs")
    assert "trace ops are `name = op(args)` with registered ops" in d.helps[0]


def test_one_op_typo_is_one_error() -> None:
    diags = api.check([str(BROKEN / "one_error_per_mistake.task")]).diagnostics
    assert sorted((d.span.line, d.code) for d in diags) == [
        (10, "bad-step"), (18, "undefined-name"), (26, "unknown-op"), (45, "undefined-var")]
    by_code = {d.code: d for d in diags}
    assert by_code["bad-step"].helps == ("did you mean `mul`?",)
    assert by_code["undefined-name"].notes == ("pricee is also used at lines 19:16, 20:13",)
    assert by_code["undefined-var"].helps == ("did you mean `result`?",)


@given(st.text(alphabet='pattern{}()"#\n let=a1.', max_size=60))
def test_the_bracket_scan_never_raises(text: str) -> None:
    from tasklang.parser import parse_text

    _, diags = parse_text(text, "x.task")
    assert all(d.span.line >= 1 and d.span.col >= 1 for d in diags)


def test_let_diagnostics_point_at_the_name(tmp_path: Path) -> None:
    path = write(tmp_path, """
        pattern p {
            let a = int 1..9
            let a = int 1..9
            let unused_one = 3
            template "{a}"
            answer "{a}"
        }
        """)
    diags = {d.code: d for d in api.check([str(path)]).diagnostics}
    dup, unused = diags["duplicate-name"].span, diags["unused-var"].span
    assert (dup.line, dup.col, dup.end_col) == (3, 9, 10)
    assert diags["duplicate-name"].notes == ("first defined at line 2",)
    assert (unused.line, unused.col, unused.end_col) == (4, 9, 19)


@given(st.text(alphabet="abcde_", min_size=1, max_size=8),
       st.lists(st.text(alphabet="abcde_", min_size=1, max_size=8), max_size=8))
def test_did_you_mean_suggests_only_candidates(name: str, candidates: list[str]) -> None:
    got = did_you_mean(name, candidates)
    if got is not None:
        shown = got.removeprefix("did you mean ").removesuffix("?").replace(" or ", ", ")
        assert {s.strip("`") for s in shown.split(", ")} <= set(candidates) - {name}
