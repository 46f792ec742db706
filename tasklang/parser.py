"""Parsing: `.task` text -> frozen AST via a cached Lark LALR parser; syntax errors -> diagnostics.

The Transformer only builds nodes; it never validates (that is `checks`), so no
exception can come out of it wrapped in Lark's VisitError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.tree import Meta, Tree

from . import ast
from .diagnostics import Diagnostic, Span, did_you_mean, error, source_lines
from .limits import DIGITS_CEILING, exceeded
from .lower import lower_steps
from .resources import grammar_path


@cache
def _parser() -> Lark:
    """Built once per process: the grammar is compiled to LALR tables only the first time."""
    return Lark.open(str(grammar_path()), parser="lalr", lexer="contextual",
                     propagate_positions=True, maybe_placeholders=True, cache=False)


def _unescape(raw: str) -> str:
    body = raw[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@v_args(meta=True)
class _Builder(Transformer[Token, ast.Module]):
    """Tree -> AST. One method per grammar rule; no checks here."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def _span(self, meta: Meta) -> Span:
        if getattr(meta, "empty", True):
            return Span.point(self.path)
        return Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, tok: Token) -> Span:
        return Span(self.path, tok.line or 1, tok.column or 1, tok.end_line or tok.line or 1,
                    tok.end_column or (tok.column or 1) + 1)

    # ---- leaves
    def number(self, meta: Meta, c: list[Token]) -> ast.Num:
        return ast.Num(Fraction(str(c[0])), self._tok(c[0]))

    def string(self, meta: Meta, c: list[Token]) -> ast.Str:
        return ast.Str("".join(_unescape(str(t)) for t in c), self._span(meta))

    # ---- expressions
    def literal(self, meta: Meta, c: list[Any]) -> ast.Num:
        return c[0]

    def literal_string(self, meta: Meta, c: list[Any]) -> ast.Str:
        return c[0]

    def ref(self, meta: Meta, c: list[Token]) -> ast.Ref:
        return ast.Ref(tuple(str(t) for t in c), self._span(meta),
                       tuple(self._tok(t) for t in c) if len(c) > 1 else ())

    def call(self, meta: Meta, c: list[Any]) -> ast.Call:
        args = tuple(a for a in c[1:] if a is not None)
        return ast.Call(str(c[0]), args, self._span(meta), self._tok(c[0]))

    def binop(self, meta: Meta, c: list[Any]) -> ast.BinOp:
        return ast.BinOp(str(c[1]), c[0], c[2], self._span(meta))

    def neg(self, meta: Meta, c: list[Any]) -> ast.Neg:
        return ast.Neg(c[0], self._span(meta))

    def not_(self, meta: Meta, c: list[Any]) -> ast.Not:
        return ast.Not(c[0], self._span(meta))

    def _boolop(self, op: str, meta: Meta, c: list[Any]) -> ast.BoolOp:
        left, right = c
        operands = (left.operands if isinstance(left, ast.BoolOp) and left.op == op else (left,))
        return ast.BoolOp(op, (*operands, right), self._span(meta))

    def and_(self, meta: Meta, c: list[Any]) -> ast.BoolOp:
        return self._boolop("and", meta, c)

    def or_(self, meta: Meta, c: list[Any]) -> ast.BoolOp:
        return self._boolop("or", meta, c)

    def cond(self, meta: Meta, c: list[Any]) -> ast.Cond:
        return ast.Cond(c[0], c[1], c[2], self._span(meta))

    def list_expr(self, meta: Meta, c: list[Any]) -> ast.ListExpr:
        return ast.ListExpr(tuple(x for x in c if x is not None), self._span(meta))

    def comprehension(self, meta: Meta, c: list[Any]) -> ast.Comprehension:
        element, var, source, hi, cond = c
        return ast.Comprehension(element, str(var), source, hi, cond, self._span(meta),
                                 self._tok(var))

    def record_field(self, meta: Meta, c: list[Any]) -> ast.RecordField:
        return ast.RecordField(str(c[0]), c[1], self._tok(c[0]))

    def record_expr(self, meta: Meta, c: list[Any]) -> ast.RecordExpr:
        return ast.RecordExpr(tuple(x for x in c if x is not None), self._span(meta))

    def compare(self, meta: Meta, c: list[Any]) -> ast.Compare:
        rest = tuple((str(c[i]), c[i + 1]) for i in range(1, len(c), 2))
        return ast.Compare(c[0], rest, self._span(meta))

    # ---- samplers
    def int_range(self, meta: Meta, c: list[Any]) -> ast.IntRange:
        return ast.IntRange(c[0], c[1], c[2], self._span(meta))

    def decimal_range(self, meta: Meta, c: list[Any]) -> ast.DecimalRange:
        return ast.DecimalRange(c[0], c[1], c[2], self._span(meta))

    def choice_value(self, meta: Meta, c: list[Any]) -> ast.ChoiceItem:
        return ast.ChoiceItem(None, c[0], self._span(meta))

    def choice_labelled(self, meta: Meta, c: list[Any]) -> ast.ChoiceItem:
        return ast.ChoiceItem(c[0].value, c[1], self._span(meta))

    def choice(self, meta: Meta, c: list[Any]) -> ast.Choice:
        return ast.Choice(tuple(c), self._span(meta))

    def choice_from(self, meta: Meta, c: list[Any]) -> ast.ChoiceFrom:
        return ast.ChoiceFrom(c[0], c[1], self._span(meta))

    def pick_max_tokens(self, meta: Meta, c: list[Any]) -> tuple[str, Any]:
        return ("max_tokens", c[0])

    def pick_distinct(self, meta: Meta, c: list[Token]) -> tuple[str, Any]:
        return ("distinct", tuple(str(t) for t in c))

    def pick(self, meta: Meta, c: list[Any]) -> ast.Pick:
        max_tokens, distinct = None, ()
        for key, value in c[1:]:
            if key == "max_tokens":
                max_tokens = value
            else:
                distinct += value
        tokens = None if max_tokens is None else int(max_tokens.value)
        return ast.Pick(str(c[0]), tokens, distinct, self._span(meta), self._tok(c[0]))

    def kwarg(self, meta: Meta, c: list[Any]) -> tuple[str, Any]:
        return (str(c[0]), c[1])

    def generate(self, meta: Meta, c: list[Any]) -> ast.Generate:
        return ast.Generate(str(c[0]), tuple(k for k in c[1:] if k is not None), self._span(meta),
                            self._tok(c[0]))

    def derived(self, meta: Meta, c: list[Any]) -> ast.Derived:
        return ast.Derived(c[0], self._span(meta))

    # ---- pattern statements
    def let_where(self, meta: Meta, c: list[Any]) -> Any:
        return c[0]

    def let_stmt(self, meta: Meta, c: list[Any]) -> ast.Let:
        hidden, name, sampler, where = c
        return ast.Let(str(name), sampler, self._span(meta), where, hidden is not None)

    def require_stmt(self, meta: Meta, c: list[Any]) -> ast.Require:
        return ast.Require(c[0], self._span(meta))

    def template_for(self, meta: Meta, c: list[Token]) -> tuple[str, ...]:
        return tuple(str(t) for t in c)

    def template_lang(self, meta: Meta, c: list[Token]) -> str:
        return str(c[0])

    def template_stmt(self, meta: Meta, c: list[Any]) -> ast.Template:
        name, splits, lang, text = c
        return ast.Template(None if name is None else str(name), splits or (), lang,
                            text.value, self._span(meta))

    def tvar_plain(self, meta: Meta, c: list[Token]) -> ast.TVar:
        return ast.TVar(".".join(str(t) for t in c), False, self._span(meta))

    def tvar_templated(self, meta: Meta, c: list[Token]) -> ast.TVar:
        return ast.TVar(str(c[0]), True, self._tok(c[0]))

    def t_init(self, meta: Meta, c: list[Any]) -> ast.TInit:
        var, value = c
        from_prev = isinstance(value, ast.Ref) and value.parts == ("prev",)
        return ast.TInit(var, None if from_prev else value, from_prev, self._span(meta))

    def t_assign(self, meta: Meta, c: list[Any]) -> ast.TOp:
        return ast.TOp(c[0], str(c[1]), tuple(a for a in c[2:] if a is not None), self._span(meta))

    def t_effect(self, meta: Meta, c: list[Any]) -> ast.TOp:
        return ast.TOp(None, str(c[0]), tuple(a for a in c[1:] if a is not None), self._span(meta))

    def t_const(self, meta: Meta, c: list[Any]) -> ast.TConst:
        return ast.TConst(c[0].value, c[0].span)

    def t_neg_const(self, meta: Meta, c: list[Any]) -> ast.TConst:
        return ast.TConst(-c[0].value, self._span(meta))  # the span covers the `-`

    def t_call(self, meta: Meta, c: list[Any]) -> ast.TCall:
        return ast.TCall(str(c[0]), tuple(a for a in c[1:] if a is not None), self._span(meta))

    def t_query(self, meta: Meta, c: list[Any]) -> ast.TQuery:
        return ast.TQuery(c[0], self._span(meta))

    def trace_block(self, meta: Meta, c: list[Any]) -> ast.TraceBlock:
        # the sugar (constants, nested ops) is lowered here, so nothing after sees it
        return ast.TraceBlock(str(c[0]), lower_steps(tuple(c[1:])), self._span(meta),
                              self._tok(c[0]))

    def answer_stmt(self, meta: Meta, c: list[Any]) -> ast.Answer:
        return ast.Answer(c[0].value, self._span(meta))

    def param(self, meta: Meta, c: list[Token]) -> ast.Param:
        return ast.Param(str(c[0]), str(c[1]), self._span(meta))

    def function_stmt(self, meta: Meta, c: list[Any]) -> ast.Function:
        params = tuple(x for x in c[1:-1] if x is not None)
        return ast.Function(str(c[0]), params, str(c[-1]), self._span(meta))

    def case_kwarg(self, meta: Meta, c: list[Any]) -> ast.CaseArg:
        return ast.CaseArg(str(c[0]), c[1], c[2], self._span(meta))

    def tests_stmt(self, meta: Meta, c: list[Any]) -> ast.Tests:
        kwargs = tuple(k for k in c[2:] if k is not None)
        return ast.Tests(c[0].value, str(c[1]), kwargs, self._span(meta))

    def reference_stmt(self, meta: Meta, c: list[Any]) -> ast.Reference:
        return ast.Reference(c[0].value, self._span(meta))

    def note_stmt(self, meta: Meta, c: list[Any]) -> ast.Note:
        return ast.Note(c[0].value, self._span(meta))

    def difficulty_stmt(self, meta: Meta, c: list[Any]) -> ast.Difficulty:
        return ast.Difficulty(c[0], c[1], self._span(meta))

    def pattern_family(self, meta: Meta, c: list[Any]) -> ast.Family:
        return ast.Family(str(c[0]), tuple(c[1:]), self._span(meta))

    def pattern(self, meta: Meta, c: list[Any]) -> ast.Pattern:
        return ast.Pattern(str(c[0]), tuple(c[2:]), self._span(meta), c[1])

    # ---- top level
    def import_stmt(self, meta: Meta, c: list[Any]) -> ast.Import:
        return ast.Import(c[0].value, self._span(meta))

    def op_spec(self, meta: Meta, c: list[Token]) -> ast.OpSpec:
        ops = tuple(str(t) for t in c[1:]) if len(c) > 1 else None
        return ast.OpSpec(str(c[0]), ops, self._span(meta), tuple(self._tok(t) for t in c[1:]))

    def expert_decl(self, meta: Meta, c: list[Any]) -> ast.ExpertDecl:
        return ast.ExpertDecl(str(c[0]), tuple(c[1:]), self._span(meta))

    def vocab_decl(self, meta: Meta, c: list[Any]) -> ast.VocabDecl:
        return ast.VocabDecl(str(c[0]), c[1].value, self._span(meta))

    def weighted(self, meta: Meta, c: list[Any]) -> ast.Weighted:
        weight = Fraction(1) if c[1] is None else c[1].value
        return ast.Weighted(str(c[0]), weight, self._span(meta))

    def ds_patterns(self, meta: Meta, c: list[Any]) -> list[ast.Weighted]:
        return list(c)

    def ds_split(self, meta: Meta, c: list[Any]) -> ast.SplitDecl:
        return ast.SplitDecl(str(c[0]), c[1].value, c[2] is not None, self._span(meta))

    def ds_setting(self, meta: Meta, c: list[Any]) -> ast.Setting:
        return ast.Setting(str(c[0]), c[1].value, self._span(meta))

    def ds_language(self, meta: Meta, c: list[Any]) -> ast.LanguageMix:
        return ast.LanguageMix(str(c[0]), c[1].value, self._span(meta))

    def ds_unique(self, meta: Meta, c: list[Any]) -> ast.UniquePayloads:
        return ast.UniquePayloads(self._span(meta))

    def ds_decontaminate(self, meta: Meta, c: list[Any]) -> ast.Decontaminate:
        return ast.Decontaminate(c[0].value, None if c[1] is None else c[1].value,
                                 self._span(meta))

    def ds_constants(self, meta: Meta, c: list[Any]) -> ast.Constants:
        return ast.Constants(tuple(n.value for n in c), self._span(meta))

    def dataset(self, meta: Meta, c: list[Any]) -> ast.Dataset:
        flat: list[Any] = []
        for item in c[1:]:
            flat.extend(item if isinstance(item, list) else [item])
        return ast.Dataset(
            name=str(c[0]),
            patterns=tuple(x for x in flat if isinstance(x, ast.Weighted)),
            splits=tuple(x for x in flat if isinstance(x, ast.SplitDecl)),
            settings=tuple(x for x in flat if isinstance(x, ast.Setting)),
            languages=tuple(x for x in flat if isinstance(x, ast.LanguageMix)),
            unique_payloads=any(isinstance(x, ast.UniquePayloads) for x in flat),
            span=self._span(meta),
            decontaminate=tuple(x for x in flat if isinstance(x, ast.Decontaminate)),
            constants=tuple(x for x in flat if isinstance(x, ast.Constants)),
        )

    def start(self, meta: Meta, c: list[Any]) -> ast.Module:
        return ast.Module(self.path, tuple(c))


# ---------------------------------------------------------------- errors

_FRIENDLY = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string",
             "TVAR": "a templated name like {who}.eggs", "$END": "end of file",
             "COMP_OP": "a comparison", "ADD_OP": "+ or -", "MUL_OP": "*, /, // or %",
             "SETTING": "a setting (seed, system, max_length, ...)"}


def _describe(terminal: str) -> str:
    if terminal in _FRIENDLY:
        return _FRIENDLY[terminal]
    try:
        pattern = _parser().get_terminal(terminal).pattern
    except KeyError:
        return terminal
    return f"'{pattern.value}'" if pattern.type == "str" else terminal.lower()


_CLOSERS = ("'}'", "')'")  # listed first and never cut: the likeliest missing token


def _expected(names: set[str]) -> str:
    shown = sorted({_describe(n) for n in names}, key=lambda d: (d not in _CLOSERS, d))
    if len(shown) > 8:
        shown = shown[:8] + ["..."]
    return ", ".join(shown)


def _syntax_diagnostic(err: UnexpectedInput, path: str, text: str) -> Diagnostic:
    line, col = max(1, err.line or 1), max(1, err.column or 1)
    pos = err.pos_in_stream if err.pos_in_stream is not None else len(text)
    if isinstance(err, UnexpectedToken) and err.token.type == "$END":
        pos = len(text)
    found = _unclosed(text)
    if found is not None and found.offset <= pos:  # the opener explains the failure
        return _unclosed_diagnostic(found, path, text)
    if isinstance(err, UnexpectedCharacters):
        char = text[pos] if 0 <= pos < len(text) else "?"
        span = Span(path, line, col, line, col + 1)
        return error("syntax", f"unexpected character {char!r}", span,
                     help=_foreign_hint(text, pos, char, set(err.allowed or ())))
    if isinstance(err, UnexpectedEOF):
        lines = source_lines(text) or [""]
        span = Span.point(path, len(lines), len(lines[-1]) + 1)
        return error("syntax", "unexpected end of file", span,
                     f"expected {_expected(set(err.expected))}")
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    what = "end of file" if tok.type == "$END" else f"{str(tok)!r}"
    end = tok.end_column if tok.end_column else col + max(1, len(str(tok)))
    span = Span(path, line, col, tok.end_line or line, end)
    expected = set(err.expected)
    hint = _foreign_hint(text, pos, str(tok), expected)
    if hint is None and tok.type == "NAME":
        hint = did_you_mean(str(tok), _keywords(expected))
    elif hint is not None and hint.startswith("int(x)"):  # point at the call, not past it
        calls = list(re.finditer(r"\bint\s*\(", text[:pos]))
        if calls:
            at = calls[-1].start()
            line, col = _line_of(text, at), at - (text.rfind("\n", 0, at) + 1) + 1
            span = Span(path, line, col, line, col + len(calls[-1].group()))
            what = "int(...): `int` draws a range (`int 1..9`), it converts nothing"
            return error("syntax", what, span, f"parsing stopped at {str(tok)!r}, expecting "
                         f"{_expected(expected)}", help=hint)
    return error("syntax", f"unexpected {what}", span, f"expected {_expected(expected)}",
                 help=hint)


# ---------------------------------------------------------------- unclosed brackets

_PAIRS = {"}": "{", ")": "(", "]": "["}


@dataclass(frozen=True, slots=True)
class _Unclosed:
    """An opener the scan found no closer for (offset into the text), and why."""

    offset: int
    char: str
    why: str


def _indent(text: str, offset: int) -> tuple[int, bool]:
    """(indentation of the line holding `offset`, whether only blanks precede it there)."""
    start = text.rfind("\n", 0, offset) + 1
    head = text[start:offset]
    return len(head) - len(head.lstrip(" \t")), head.strip(" \t") == ""


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _scan_brackets(text: str, by_indent: bool) -> _Unclosed | None:
    """Match `{`, `(` and `[` over the text, skipping strings and comments. With `by_indent`, a
    `}` alone on its line that lines up with an outer block's opening line closes that
    block (how people read braces), so the block it skips is the unclosed one."""
    stack: list[tuple[str, int, int]] = []  # (opener, offset, indentation of its line)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        if ch == '"':
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            if j >= n or text[j] == "\n":
                return _Unclosed(i, '"', "the line ends before the string is closed")
            i = j + 1
            continue
        if ch in "{([":
            stack.append((ch, i, _indent(text, i)[0]))
        elif ch in _PAIRS:
            if not stack:
                return None  # a stray closer: the parser reports it where it is
            opener, at, indent = stack[-1]
            if opener != _PAIRS[ch]:
                return _Unclosed(at, opener, f"the '{ch}' at line {_line_of(text, i)} "
                                 "closes an outer block first")
            col, alone = _indent(text, i)
            if by_indent and ch == "}" and alone and indent != col:
                outer = [k for k, (o, _, ind) in enumerate(stack[:-1]) if o == "{" and ind == col]
                if outer:
                    _, at, _ = stack[outer[-1] + 1]
                    return _Unclosed(at, text[at], f"the '}}' at line {_line_of(text, i)} "
                                     "lines up with an outer block")
            stack.pop()
        i += 1
    if stack:
        _, at, _ = stack[-1]
        return _Unclosed(at, text[at], "the file ends before it is closed")
    return None


def _unclosed(text: str) -> _Unclosed | None:
    """The unclosed opener of a file whose brackets do not balance (None when they do):
    indentation only says which block, never whether one is unclosed."""
    first = _scan_brackets(text, by_indent=False)
    if first is None or first.char == '"':
        return first
    return _scan_brackets(text, by_indent=True) or first


def _unclosed_diagnostic(found: _Unclosed, path: str, text: str) -> Diagnostic:
    line = _line_of(text, found.offset)
    col = found.offset - (text.rfind("\n", 0, found.offset) + 1) + 1
    span = Span(path, line, col, line, col + 1)
    if found.char == '"':
        return error("syntax", "unterminated string", span, found.why,
                     help='close it with `"` on this line; a long text is several strings '
                          'side by side: "first part " "second part"')
    closer = {"{": "}", "(": ")", "[": "]"}[found.char]
    block = re.search(r"\b(pattern|trace|dataset)\s+(\w+)\s*$", text[:found.offset])
    what = f" of {block.group(1)} {block.group(2)}" if block and found.char == "{" else ""
    return error("syntax", f"unclosed '{found.char}'{what}", span, found.why,
                 help=f"add the closing '{closer}'")


# ---------------------------------------------------------------- constructs of other languages

_IF_HINT = "conditional expressions are written `if C then A else B`"


def _in_trace(text: str, offset: int) -> bool:
    """Whether `offset` sits inside a `trace NAME { ... }` block (by the last `{` before it)."""
    start = text.rfind("{", 0, offset)
    return start >= 0 and re.search(r"\btrace\s+\w+\s*$", text[:start]) is not None


_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def _code(line: str) -> str:
    """A source line without its strings and comment (a template may say "if")."""
    return _STRING.sub('""', line).split("#")[0]


def _foreign_hint(text: str, offset: int, token: str, expected: set[str]) -> str | None:
    """A specific hint for a construct borrowed from another language (Python, C, Rust)."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    line = _code(text[start : len(text) if end < 0 else end])
    before = text[start:offset]
    # The statement may end on the line above (the parser stops at the next keyword).
    prev = _code(text[text.rfind("\n", 0, max(0, start - 1)) + 1 : start])
    if token in ("&", "|"):
        return f"write `{'and' if token == '&' else 'or'}` to combine conditions"
    if token == "!":
        return "write `not C` (`!=` is not-equal)"
    if re.search(r"\bint\s*\(", line) or re.search(r"\bint\s*\(", prev) and ".." in _expected_text(
            expected):
        return ("int(x) is not a function here: use floor(x) or round(x), "
                "or keep x whole with `require is_int(x)`")
    if re.search(r"\[[^\]]*\bfor\b", line):  # a list filter's `if` is not a conditional
        return ("a list filter is `[p for p in L if C]` (L a list or a range `lo..hi`), and "
                "`choice from L else F` draws from it")
    if re.search(r"\S\s+if\b.*\belse\b", line) and not re.search(r"=\s*if\b", line):
        return f"`A if C else B` is Python's order: {_IF_HINT}"
    if re.match(r"\s*(if|elif|else)\b", line):
        return ("there is no `if` statement: `require C` keeps only the draws where C holds; "
                + _IF_HINT)
    if re.search(r"\bif\b", line):
        return _IF_HINT
    if re.search(r"[-+*/]=", line):
        return "a let is bound once: write a new one, e.g. `let y = x + 1`"
    if token == ":" and re.search(r"\blet\s+\w+\s*$", before):
        return "a let has no type annotation: its sampler gives the type (`let x = int 1..10`)"
    if token == "=" and "COMP_OP" in expected:
        return "comparison is `==` (`=` only binds a let or an init)"
    if token == "=" and before.rstrip().endswith("=") or token == "==" and "EQUAL" in expected:
        return "a let is bound with one `=` (`==` compares)"
    if _in_trace(text, offset) and re.search(r"[(,]\s*-\s*$", text[:offset]):
        name = token if token.isidentifier() else "x"
        if text[offset + len(token) : offset + len(token) + 1] == "(":
            name += "(...)"  # a negated op: multiply its result
        return ("only a number can be negated in a trace argument (`mul(x, -1)`, `sub(x, -0.5)`): "
                f"to negate a name or an op, multiply it by -1, e.g. `mul({name}, -1)`")
    if _in_trace(text, offset) and re.search(r"=\s*\w+\s*\(", line):
        return ("trace ops are `name = op(args)` with registered ops; an argument is a trace "
                "name, a number or a nested op (`r = mul(add(a, b), 60)`), never an operator "
                "expression")
    return None


def _expected_text(expected: set[str]) -> str:
    return " ".join(_describe(n) for n in expected)


def _keywords(expected: set[str]) -> list[str]:
    """The keywords (and dataset settings) the parser would have accepted."""
    words = []
    for name in expected:
        try:
            pattern = _parser().get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str" and pattern.value.isidentifier():
            words.append(pattern.value)
        elif name == "SETTING":
            words += re.findall(r"[a-z_]+", pattern.value)
    return words


def _huge_literal(tree: Tree, path: str) -> Diagnostic | None:
    """A number Python cannot even convert (past DIGITS_CEILING digits) stops the file here;
    shorter ones past the dataset's limit are `checks`' business."""
    stack: list[Any] = [tree]
    while stack:  # not Tree.scan_values: it recurses, and nesting can be deep
        node = stack.pop()
        if isinstance(node, Tree):
            stack.extend(node.children)
            continue
        if not isinstance(node, Token) or node.type != "NUMBER":
            continue
        tok = node
        digits = len(tok) - ("." in tok)
        if digits > DIGITS_CEILING:
            line, col = tok.line or 1, tok.column or 1
            span = Span(path, line, col, tok.end_line or line, tok.end_column or col + 1)
            return exceeded("max_digits", f"a literal of {digits} digits (no setting allows "
                            f"more than {DIGITS_CEILING})", span, raisable=False)
    return None


def parse_text(text: str, path: str = "<string>") -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse one file. Returns the module, or None and the syntax diagnostic."""
    if text.startswith("\ufeff"):  # a UTF-8 byte order mark: blank it, columns stay put
        text = " " + text[1:]
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as err:
        return None, [_syntax_diagnostic(err, path, text)]
    huge = _huge_literal(tree, path)
    if huge is not None:
        return None, [huge]
    try:
        return _Builder(path).transform(tree), []
    except (RecursionError, VisitError) as err:  # building is recursive; parsing is not
        if isinstance(err, VisitError) and not isinstance(err.orig_exc, RecursionError):
            raise
        return None, [error("syntax", "expressions nested too deeply", Span.point(path),
                            "split the expression over several lets")]
