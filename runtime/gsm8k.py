"""GSM8K reference conversion: a worked answer -> a runtime trace, executed and checked.

A GSM8K answer writes its computation as calculator annotations
(`48/2 = <<48/2=24>>24`) and, now and then, as plain equations with none
(`3 * 4 = 12`). Each equation becomes compute steps over the numbers it
reads; a number that repeats an earlier equation's result is wired to that
step, so the trace is the computation graph the writer had in mind, except
where two equal numbers are two quantities (`$2/2`: a price over the question's
2 liters; see `_Graph.binary` and `_Graph.stated_apart`). The
step that reaches the `#### 72` gold answer becomes `result`, dead steps are
pruned, and the runtime executes the trace to confirm it.

Expressions are read by a small Pratt parser into exact Fractions: no `eval`.
The audit reuses `convert` to measure the shape of reference problems, so the
trace follows the written arithmetic: `a+b+c` is one n-ary add, `a-b-c` two subs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import ErrorKind, TraceError
from .execute import execute
from .numbers import NumberError, magnitude_ok, parse_answer
from .ops import COMPUTE_OPS, ComputeStep, InitStep, QueryStep, Step
from .trace import DEFAULT_LIMITS, Trace

EXPERT = "arithmetic"  # the general calculator expert: every compute op is in its vocabulary
GOLD_MARK = "####"
MAX_ANSWER_CHARS = 20_000  # longer text is not a GSM8K answer; refuse it rather than work on it
MAX_NESTING = 40  # parenthesis/unary depth: keeps the recursive parser far from Python's limit
# Tokens in one expression. Long `1+1+1...` chains nest as deep as they are long, and
# the lowering recurses over them, so this bound keeps every recursion shallow.
MAX_EXPRESSION_TOKENS = 200
MAX_LITERAL_DIGITS = 30  # a longer digit run is not a quantity from a word problem
MAX_UNIT_WORDS = 3  # `5 dollars per hour x 8` reads as 5 x 8: units between a number and its operator
MAX_PLACES = 12  # decimal places looked at when deciding whether a written result is rounded

# Stable failure reasons (the audit and the bench count them).
NO_GOLD = "no_gold"
NO_EQUATIONS = "no_equations"
UNPARSABLE = "unparsable_expression"
UNEVALUABLE = "unevaluable_expression"  # division by zero, or a power the runtime refuses
ANSWER_IS_LITERAL = "answer_is_literal"  # gold only ever appears as a number, never computed
NO_STEP_REACHES_GOLD = "no_step_reaches_gold"
INVALID_TRACE = "invalid_trace"
TOO_LONG = "too_long"
TOO_MANY_STEPS = "too_many_steps"  # more steps than a graded trace may have (Limits.max_steps)
NOT_TEXT = "not_text"
WRONG_VALUE = "wrong_value"  # the runtime disagrees with our own evaluation (a runtime bug)
EXEC_ERROR_PREFIX = "exec_error:"


# ================================================================ tokens


@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme. kind: num, op (canonical + - * / // ^), lp, rp, pct, eq, ann
    (a whole `<<...>>` annotation, its content in `text`) or word (anything else)."""

    kind: str
    text: str
    value: Fraction | None = None


# A quantity as GSM8K writes it: $1,000.50, 12, .5, 0.25. The grouped form must be
# tried first and must not be followed by a digit (`12,3456` is 12 then junk).
_NUMBER = (
    r"\$?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\$?\.\d+"
)
# `$80 000`: a space groups thousands only after a currency sign (`2 100-page books` is two).
_SPACED = r"\$\d{1,3}(?: \d{3})+(?![\d,]|\.\d)"
_TOKEN = re.compile(
    r"(?P<ann><<[^<>]*>>)"
    rf"|(?P<num>{_SPACED}|{_NUMBER})"
    r"|(?P<op>\*\*|//|[-+*/^×÷−–·])"
    r"|(?P<lp>\()|(?P<rp>\))|(?P<pct>%)|(?P<eq>=)"
    # A `$` with no number after it (`= $<<9*2=18>>18`) is decoration, like spaces.
    r"|(?P<space>\s+|\$(?![\d.]))"
    r"|(?P<word>[A-Za-z']+|\S)"
)
_CANONICAL_OP = {"**": "^", "×": "*", "·": "*", "÷": "/", "−": "-", "–": "-"}
# Words that are operators when they stand between two quantities (`0.2 x 50`,
# `8 minus 6 equals <<8-6=2>>2`, `2 divided by .25`).
_WORD_OPS = {"x": "*", "times": "*", "plus": "+", "minus": "-", "equals": "="}
_WORD_OPS_BY = {"divided": "/", "multiplied": "*"}
_OPERAND_END = ("num", "rp", "pct")
_OPERAND_START = ("num", "lp", "ann")


def _number(text: str) -> Fraction | None:
    digits = text.lstrip("$").replace(",", "").replace(" ", "")
    if sum(c.isdigit() for c in digits) > MAX_LITERAL_DIGITS:
        return None
    return Fraction(digits)


def _lex(text: str) -> list[Token]:
    tokens: list[Token] = []
    for m in _TOKEN.finditer(text):
        kind, lexeme = m.lastgroup or "word", m.group()
        if kind == "space":
            continue
        value = _number(lexeme) if kind == "num" else None
        if kind == "num" and value is None:
            kind = "word"
        lexeme = lexeme[2:-2] if kind == "ann" else _CANONICAL_OP.get(lexeme, lexeme)
        tokens.append(Token(kind, lexeme, value))
    return tokens


def tokenize(text: str) -> list[Token]:
    """Lenient lexing of a line or an annotation; anything unknown is a `word` token.

    Unit words between a quantity and its operator are dropped and operator
    words become operators, so `13 marbles + 4 marbles = 17` reads as `13 + 4 = 17`.
    """
    tokens, i = _lex(text), 0
    out: list[Token] = []
    while i < len(tokens):
        if tokens[i].kind == "word" and out and out[-1].kind in _OPERAND_END:
            skipped = _skip_units(tokens, i)
            if skipped is not None:
                operator, i = skipped
                out += [operator] if operator is not None else []
                continue
        out.append(tokens[i])
        i += 1
    return out


def _skip_units(tokens: list[Token], i: int) -> tuple[Token | None, int] | None:
    """At words after a quantity: (the operator they lead to, where to resume), or None
    when they are prose. An operator word is returned as a token; a symbol is left in place."""
    j, words = i, 0
    while j < len(tokens) and words <= MAX_UNIT_WORDS:
        token = tokens[j]
        if _is_per(tokens, j):  # a compound unit: `60 minutes/hour / 2 minutes/mile`
            j += 1
            continue
        if token.kind in ("op", "eq"):
            return None, j
        # One letter after a number is algebra (`0.5x + 2x`), not a unit.
        if token.kind != "word" or not token.text.isalpha() or len(token.text) < 2:
            return _word_op(tokens, j) if token.kind == "word" else None
        word_op = _word_op(tokens, j)
        if word_op is not None:
            return word_op
        j, words = j + 1, words + 1
    return None


def _is_per(tokens: list[Token], j: int) -> bool:
    """A `/` between two unit words (`minutes/hour`) is part of the unit, not a division."""
    return (
        tokens[j].kind == "op" and tokens[j].text == "/" and 0 < j < len(tokens) - 1
        and tokens[j - 1].kind == "word" and tokens[j + 1].kind == "word"
        and tokens[j + 1].text.isalpha()
    )


def _word_op(tokens: list[Token], j: int) -> tuple[Token, int] | None:
    word = tokens[j].text.lower()
    if word in _WORD_OPS_BY and j + 1 < len(tokens) and tokens[j + 1].text.lower() == "by":
        symbol, end = _WORD_OPS_BY[word], j + 2
    elif word in _WORD_OPS:
        symbol, end = _WORD_OPS[word], j + 1
    else:
        return None
    if end >= len(tokens) or tokens[end].kind not in _OPERAND_START:
        return None
    return Token("eq" if symbol == "=" else "op", symbol), end


# ================================================================ expressions


@dataclass(frozen=True, slots=True)
class Num:
    value: Fraction


@dataclass(frozen=True, slots=True)
class Bin:
    op: str  # + - * / // ^
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Node


@dataclass(frozen=True, slots=True)
class Pct:
    """`20%`: the operand divided by 100."""

    operand: Node


Node = Num | Bin | Neg | Pct

# Binding powers (left, right): right > left makes an operator left-associative.
_INFIX = {
    "+": (10, 11), "-": (10, 11), "*": (20, 21), "/": (20, 21), "//": (20, 21), "^": (31, 30),
}
_UNARY = 25  # -2^2 is -(2^2), but -2*3 is (-2)*3
_OP_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "^": "pow"}


class _SyntaxError(Exception):
    """Internal: the tokens are not an expression. Never leaves this module."""


class _Parser:
    """Pratt (precedence-climbing) parser over a token list, one method per construct."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise _SyntaxError("unexpected end")
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.expression(0)
        if self.peek() is not None:
            raise _SyntaxError("trailing tokens")
        return node

    def expression(self, min_bp: int) -> Node:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _SyntaxError("too deep")
        left = self.prefix()
        while (token := self.peek()) is not None:
            if token.kind == "pct":
                self.pos += 1
                left = Pct(left)
                continue
            op = self.infix_op(token)
            if op is None or _INFIX[op][0] < min_bp:
                break
            self.pos += token.kind == "op"  # implicit `*` before `(` consumes nothing
            left = Bin(op, left, self.expression(_INFIX[op][1]))
        self.depth -= 1
        return left

    @staticmethod
    def infix_op(token: Token) -> str | None:
        if token.kind == "op":
            return token.text
        # `11(4)` and `2(3+4)`: a quantity right before a parenthesis multiplies it.
        return "*" if token.kind == "lp" else None

    def prefix(self) -> Node:
        token = self.take()
        if token.kind == "num" and token.value is not None:
            return Num(token.value)
        if token.kind == "lp":
            inner = self.expression(0)
            if self.take().kind != "rp":
                raise _SyntaxError("missing )")
            return inner
        if token.kind == "op" and token.text in ("+", "-"):
            operand = self.expression(_UNARY)
            return operand if token.text == "+" else Neg(operand)
        raise _SyntaxError(f"unexpected {token.text!r}")


def parse_tokens(tokens: list[Token]) -> Node | None:
    """The expression the tokens spell, or None."""
    if not tokens or len(tokens) > MAX_EXPRESSION_TOKENS:
        return None
    try:
        return _Parser(tokens).parse()
    except _SyntaxError:
        return None


def parse_expression(text: str) -> Node | None:
    """An arithmetic expression (`48/2`, `(75/100)*100`, `$1,000 x 20%`), or None."""
    return parse_tokens(tokenize(text))


def evaluate(node: Node) -> Fraction | None:
    """Exact value of an expression; None on division by zero or an out-of-range power."""
    try:
        return _value(node)
    except TraceError:
        return None


def _value(node: Node) -> Fraction:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Neg):
        return -_value(node.operand)
    if isinstance(node, Pct):
        return _value(node.operand) / 100
    return apply_op(_OP_NAMES[node.op], [_value(node.left), _value(node.right)])


def apply_op(op: str, args: list[Fraction]) -> Fraction:
    """The runtime's own arithmetic, with its magnitude bound: `9^64^64...` stops at once
    instead of building a gigantic integer (the runtime would refuse the value anyway)."""
    value = Fraction(COMPUTE_OPS[op].fn(args))
    if not magnitude_ok(value, DEFAULT_LIMITS.max_digits):
        raise TraceError(ErrorKind.LIMITS_EXCEEDED, "value too large")
    return value


def _operates(node: Node | None) -> bool:
    """True when an expression does some arithmetic (`-5` alone is just a number)."""
    if isinstance(node, Neg):
        return _operates(node.operand)
    return node is not None and not isinstance(node, Num)


def _has_pct(node: Node) -> bool:
    if isinstance(node, Pct):
        return True
    if isinstance(node, Neg):
        return _has_pct(node.operand)
    return isinstance(node, Bin) and (_has_pct(node.left) or _has_pct(node.right))


def _strip_pct(node: Node) -> Node:
    """The reading where `%` is only a label: GSM8K writes `100% - 60% = 40%`."""
    if isinstance(node, Pct):
        return _strip_pct(node.operand)
    if isinstance(node, Neg):
        return Neg(_strip_pct(node.operand))
    if isinstance(node, Bin):
        return Bin(node.op, _strip_pct(node.left), _strip_pct(node.right))
    return node


# ================================================================ equations


@dataclass(frozen=True, slots=True)
class Equation:
    """One written computation: `expression = written`. `written` may be rounded or wrong."""

    expression: Node
    written: Fraction | None


def split_gold(answer: str) -> tuple[str, Fraction | None]:
    """(the worked solution, the `#### 72` gold answer or None)."""
    body, mark, tail = answer.rpartition(GOLD_MARK)
    if not mark:
        return answer, None
    try:
        return body, parse_answer(tail.strip().split("\n")[0].strip())
    except (NumberError, ValueError, ArithmeticError):
        return body, None


def find_equations(body: str) -> tuple[list[Equation], int]:
    """Equations in reading order, and how many annotations did not parse.

    Annotations are equations; so are plain `a op b = c` in the prose, except
    where the prose only repeats the annotation that follows it
    (`48/2 = <<48/2=24>>24`). An annotation that merely restates a number
    (`$1375 - $230 = $<<1145=1145>>1145`) takes its computation from that prose.
    """
    reader = _Reader()
    for line in body.split("\n"):
        for run in _split(tokenize(line), "word"):
            reader.read(run)
    return reader.out, reader.bad


def _annotation(content: str) -> Equation | None:
    """`48/2=24` -> Equation(48/2, 24). The written result is optional."""
    lhs, eq, rhs = content.partition("=")
    expression = parse_expression(lhs)
    if expression is None:
        return None
    written = _leading_number(tokenize(rhs))[0] if eq else None
    return Equation(expression, written)


def _leading_number(tokens: list[Token]) -> tuple[Fraction | None, bool]:
    """The number a right side starts with (`$24` -> 24, `-3` -> -3), and whether a % follows."""
    sign = 1
    if tokens and tokens[0].kind == "op" and tokens[0].text == "-":
        sign, tokens = -1, tokens[1:]
    if not tokens or tokens[0].kind != "num" or tokens[0].value is None:
        return None, False
    return sign * tokens[0].value, len(tokens) > 1 and tokens[1].kind == "pct"


def _settle(lhs: Node, written: Fraction | None, percent: bool) -> Equation:
    """Pick the reading of `%` under which the written result is right (see _strip_pct)."""
    if written is not None and _has_pct(lhs) and _near(evaluate(_strip_pct(lhs)), written):
        return Equation(_strip_pct(lhs), written)
    if written is not None and percent and _near(evaluate(lhs), written / 100):
        return Equation(lhs, written / 100)
    return Equation(lhs, written)


def _restates(lhs: Node, rhs: Node) -> tuple[Node, Fraction] | None:
    """When `rhs` is the same value written again (`1/6 + 1/3 = 3/6 = 0.5`): the reading and value."""
    for left, right in ((_strip_pct(lhs), _strip_pct(rhs)), (lhs, rhs)):
        value = evaluate(left)
        if value is not None and value == evaluate(right):
            return left, value
    return None


class _Reader:
    """Reads runs of arithmetic tokens (`a = b = c`, annotations among them) into equations."""

    def __init__(self) -> None:
        self.out: list[Equation] = []
        self.bad = 0
        self.pending: Node | None = None  # a left side waiting for its `= result`
        self.restated: Fraction | None = None  # its value, when the right side only restated it

    def read(self, run: list[Token]) -> None:
        segments = _split(run, "eq")
        for i, segment in enumerate(segments):
            rest = self.right_side(segment) if i > 0 else segment
            for token in rest:
                if token.kind == "ann":
                    self.annotation(token.text, None)
            if i < len(segments) - 1 and self.pending is None:
                suffix = _longest_suffix(_after_last(rest, "ann"))
                self.pending = suffix if _operates(suffix) else None
            elif i == len(segments) - 1 > 0:
                self.dangling(_after_last(rest, "ann"))
        self.flush()

    def dangling(self, tokens: list[Token]) -> None:
        """`X = $60/1.5`: a computation written with no result after it."""
        expression = parse_tokens(tokens)
        if expression is not None and _operates(expression) and self.restated is None:
            self.out.append(Equation(expression, None))

    def right_side(self, segment: list[Token]) -> list[Token]:
        """Settle the pending left side with this right side; return the unread tokens."""
        if self.pending is None:
            return segment
        if segment and segment[0].kind == "ann":
            self.annotation(segment[0].text, self.pending)
            self.pending = self.restated = None
            return segment[1:]
        whole = parse_tokens(segment)
        restated = _restates(self.pending, whole) if whole is not None else None
        if restated is not None:
            self.pending, self.restated = restated
            return []
        if self.restated is None:
            written, percent = _leading_number(segment)
            self.out.append(_settle(self.pending, written, percent))
            self.pending = None
        self.flush()
        return segment

    def annotation(self, content: str, prose: Node | None) -> None:
        equation = _annotation(content)
        if equation is None:
            self.bad += 1
        elif prose is None or _operates(equation.expression) or not _prose_computes(
            prose, equation.written
        ):
            self.out.append(equation)
        else:  # `$1375 - $230 = $<<1145=1145>>`: the computation is the prose before it
            self.out.append(_settle(prose, equation.written, False))

    def flush(self) -> None:
        if self.pending is not None and self.restated is not None:
            self.out.append(Equation(self.pending, self.restated))
        if self.restated is not None:
            self.pending = self.restated = None


def _prose_computes(prose: Node, written: Fraction | None) -> bool:
    """Whether the prose before a bare-number annotation computes that number."""
    if written is None:
        return False
    return _near(evaluate(prose), written) or _near(evaluate(_strip_pct(prose)), written)


def _split(tokens: list[Token], kind: str) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    for token in tokens:
        if token.kind == kind:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _after_last(tokens: list[Token], kind: str) -> list[Token]:
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i].kind == kind:
            return tokens[i + 1 :]
    return tokens


def _longest_suffix(tokens: list[Token]) -> Node | None:
    """The widest expression ending right before `=`: prose may put `-` or `(` ahead of it."""
    for start in range(max(0, len(tokens) - MAX_EXPRESSION_TOKENS), len(tokens)):
        node = parse_tokens(tokens[start:])
        if node is not None:
            return node
    return None


def _places(value: Fraction) -> int | None:
    """Decimal places of a written number (3.25 -> 2), None when it has no short decimal form."""
    for places in range(MAX_PLACES + 1):
        if (value * 10**places).denominator == 1:
            return places
    return None


def _near(exact: Fraction | None, written: Fraction) -> bool:
    return exact is not None and rounds_to(exact, written)


def rounds_to(exact: Fraction, written: Fraction) -> bool:
    """Whether `written` is `exact` rounded (or cut) to its own number of decimals.

    `<<10/3=3.33>>` is a rounding, so a later 3.33 is that step; `<<3*4=13>>`
    is a slip, so a later 13 is a new number.
    """
    places = _places(written)
    if places is None:
        return exact == written
    return abs(exact - written) < Fraction(1, 10**places)


# ================================================================ the computation graph


@dataclass(frozen=True, slots=True)
class _Init:
    value: Fraction


@dataclass(frozen=True, slots=True)
class _Compute:
    op: str
    args: tuple[int, ...]
    value: Fraction


_Node = _Init | _Compute


class _Graph:
    """Steps under construction, addressed by index; names are given once pruned.

    `question`: the problem's text, when known; read (`question_mentions`) only when an
    answer repeats a number in one sum or product.
    """

    def __init__(self, question: str | None = None) -> None:
        self.nodes: list[_Node] = []
        # The inits of each value, first made first: usually one (`48` read twice is one
        # 48), more where the text has two quantities of that value (see `apart`).
        self.inits: dict[Fraction, list[int]] = {}
        self.question = question
        self._mentions: Counter[Fraction] | None = None
        # (node, exact value, written value) of each equation so far, in order.
        self.results: list[tuple[int, Fraction, Fraction | None]] = []

    def add_equation(self, equation: Equation) -> None:
        """Lower one equation, all or nothing; raises TraceError when it cannot be evaluated."""
        size = len(self.nodes)
        try:
            node = self.lower(equation.expression)
        except TraceError:
            # Drop its partial steps: half an equation is not something the writer computed.
            del self.nodes[size:]
            kept = {v: [i for i in ids if i < size] for v, ids in self.inits.items()}
            self.inits = {v: ids for v, ids in kept.items() if ids}
            raise
        self.results.append((node, self.nodes[node].value, equation.written))

    def lower(self, node: Node) -> int:
        if isinstance(node, Num):
            return self.literal(node.value)
        if isinstance(node, Neg):
            value = node.operand.value if isinstance(node.operand, Num) else None
            if value is not None and (
                (value != 0 and self.match(-value) is not None) or self.match(value) is None
            ):
                return self.literal(-value)  # `-3`: a negative number
            # `-(a+b)`, or `-24` where 24 is an earlier result: negate the step.
            zero, operand = self.constant(Fraction(0)), self.lower(node.operand)
            return self.binary("-", zero, operand, _literal(node.operand))
        if isinstance(node, Pct):  # `100%` is 100/100: two inits, see `binary`
            hundred = Fraction(100)
            return self.binary("/", self.lower(node.operand), self.constant(hundred), hundred)
        if node.op in ("+", "*"):
            # `a+b+c` is one sum as written, so one n-ary step.
            operands = _chain(node, node.op)
            args = self.stated_apart([self.lower(x) for x in operands], operands)
            return self.compute(_OP_NAMES[node.op], args)
        left, right = self.lower(node.left), self.lower(node.right)
        return self.binary(node.op, left, right, _literal(node.right))

    def binary(self, op: str, left: int, right: int, written: Fraction | None) -> int:
        """`a-b`, `a/b`, `a//b`, `a^b`, never of one variable twice (`written`: the right
        operand's number as written, when it is one).

        Nobody writes `x-x` or `x/x` of one quantity, so equal operands are two quantities
        that happen to be equal (`$2/2` per liter: the price just computed, then the
        question's 2 liters): see `apart`. The text never says otherwise.
        """
        if right == left:
            left, right = self.apart(left, self.nodes[left].value if written is None else written)
        return self.compute(_OP_NAMES[op], [left, right])

    def apart(self, node: int, value: Fraction) -> tuple[int, int]:
        """Two different sources for a number that `node` stands for twice, as written `value`.

        An earlier result stays on the left; with two earlier results of that value the
        older goes left and the latest right (`5 miles / 5 mph`, the speed computed last);
        with one, the right is an init (the question's mention, or a unit: `60/60`); an
        init on the left gets a second init of the same value on the right.
        """
        results = self.matches(value)
        if node in results:
            older = results[results.index(node) + 1 :]
            if older:
                return older[0], node
            if self.init(value, 0) != node:
                return node, self.init(value, 0)
        inits = self.inits.get(value, [])
        return node, self.init(value, inits.index(node) + 1 if node in inits else 0)

    def stated_apart(self, args: list[int], operands: list[Node]) -> list[int]:
        """A number repeated in one sum or product stands for as many different quantities
        as the text gives it: the earlier results of that value (`40 + 40 + 10` wheels of
        bicycles and of cars), latest first, then as many inits as the question states it
        (`2 hours at 2 mph`: 2*2 is hours times speed; `20 + 20` tubs, 20 bought and the
        question's 20 in storage). Beyond those, the last source is used again: one
        quantity taken twice (`30 + 15 + 15` of one stated 15, `9 + 9` of one result).
        """
        written = [_literal(operand) for operand in operands]
        repeated = Counter(w for w in written if w is not None)
        sources = {w: self.sources(w, count) for w, count in repeated.items() if count > 1}
        seen: Counter[Fraction] = Counter()
        out = []
        for arg, number in zip(args, written, strict=True):
            mine = sources.get(number) if number is not None else None
            if number is not None and mine is not None and arg in mine:
                # (`arg in mine`: the number itself, not a negation computed from it)
                arg = mine[min(seen[number], len(mine) - 1)]
                seen[number] += 1
            out.append(arg)
        return out

    def mentions(self, value: Fraction) -> int:
        """How often the question states `value` (0 without a question)."""
        if self._mentions is None:
            self._mentions = question_mentions(self.question) if self.question else Counter()
        return self._mentions[value]

    def sources(self, value: Fraction, uses: int) -> list[int]:
        """The nodes a number used `uses` times in one sum or product may stand for."""
        results = self.matches(value)
        stated = self.mentions(value) if results else max(self.mentions(value), 1)
        inits = [self.init(value, i) for i in range(min(stated, uses - len(results)))]
        return results + [i for i in inits if i not in results]

    def literal(self, value: Fraction) -> int:
        """A number in the text: the latest earlier result it repeats, else an init.

        The written result counts too: after `<<10/3=3.33>>`, a later 3.33 is that step.
        """
        node = self.match(value)
        return self.constant(value) if node is None else node

    def match(self, value: Fraction) -> int | None:
        results = self.matches(value)
        return results[0] if results else None

    def matches(self, value: Fraction) -> list[int]:
        """The earlier results a number can repeat, latest first, each node once."""
        out: list[int] = []
        for node, exact, written in reversed(self.results):
            if (value == exact or (value == written and rounds_to(exact, value))) and (
                node not in out
            ):
                out.append(node)
        return out

    def constant(self, value: Fraction) -> int:
        """An init, shared by every use of the same number (`48` read twice is one 48)."""
        return self.init(value, 0)

    def init(self, value: Fraction, index: int) -> int:
        """The `index`-th init of `value` (0: the shared one), made when first asked for."""
        inits = self.inits.setdefault(value, [])
        while len(inits) <= index:
            inits.append(self._append(_Init(value)))
        return inits[index]

    def compute(self, op: str, args: list[int]) -> int:
        value = apply_op(op, [self.nodes[a].value for a in args])
        return self._append(_Compute(op, tuple(args), value))

    def _append(self, node: _Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def final(self, gold: Fraction) -> int | None:
        """The last computed step whose exact value is the gold answer."""
        for i in range(len(self.nodes) - 1, -1, -1):
            node = self.nodes[i]
            if isinstance(node, _Compute) and node.value == gold:
                return i
        return None

    def live(self, final: int) -> list[int]:
        """Indices that feed `final`, in order: everything else is a dead step."""
        seen, stack = {final}, [final]
        while stack:
            node = self.nodes[stack.pop()]
            if isinstance(node, _Compute):
                fresh = [a for a in node.args if a not in seen]
                seen.update(fresh)
                stack += fresh
        return sorted(seen)

    def to_trace(self, final: int) -> Trace:
        """Hybrid naming: inits n1.., intermediates step1.., the answer `result`."""
        names: dict[int, str] = {}
        steps: list[Step] = []
        counts = {"init": 0, "step": 0}
        for i in self.live(final):
            node = self.nodes[i]
            if isinstance(node, _Init):
                counts["init"] += 1
                names[i] = f"n{counts['init']}"
                steps.append(InitStep(var=names[i], value=node.value))
                continue
            if i == final:
                names[i] = "result"
            else:
                counts["step"] += 1
                names[i] = f"step{counts['step']}"
            args = tuple(names[a] for a in node.args)
            steps.append(ComputeStep(compute_op=node.op, args=args, var=names[i]))
        steps.append(QueryStep(var="result"))
        return Trace(expert=EXPERT, trace=tuple(steps))


def _literal(node: Node) -> Fraction | None:
    """The number a leaf writes (`3.33`, `-2`), or None for a computation."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Neg) and isinstance(node.operand, Num):
        return -node.operand.value
    return None


def _chain(node: Node, op: str) -> list[Node]:
    """Operands of a run of one associative operator: ((a+b)+c) -> [a, b, c]."""
    if isinstance(node, Bin) and node.op == op:
        return _chain(node.left, op) + _chain(node.right, op)
    return [node]


# ================================================================ the question

_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# Number words a question states quantities with, and the numbers an answer writes for
# them (`half` is /2 or *1/2 there). Only counted: see `question_mentions`.
_NUMBER_WORDS: dict[str, tuple[Fraction, ...]] = {
    **{word: (Fraction(n),) for n, word in enumerate(_UNITS)},
    **{word: (Fraction(10 * n),) for n, word in enumerate(_TENS, start=2)},
    "hundred": (Fraction(100),), "thousand": (Fraction(1000),), "dozen": (Fraction(12),),
    "once": (Fraction(1),), "twice": (Fraction(2),), "thrice": (Fraction(3),),
    **dict.fromkeys(("half", "halves"), (Fraction(2), Fraction(1, 2))),
    **dict.fromkeys(("double", "doubles", "doubled"), (Fraction(2),)),
    **dict.fromkeys(("triple", "triples", "tripled"), (Fraction(3),)),
    **dict.fromkeys(("third", "thirds"), (Fraction(3), Fraction(1, 3))),
    **dict.fromkeys(("quarter", "quarters", "fourth", "fourths"), (Fraction(4), Fraction(1, 4))),
    **dict.fromkeys(("fifth", "fifths"), (Fraction(5), Fraction(1, 5))),
}


def question_mentions(question: str) -> Counter[Fraction]:
    """How many times a question states each value, in digits (`$1,200`, `2.5`, `20%`) or
    in number words (`three`, `half`, `a dozen`).

    The conversion reads this to tell two quantities of one value (`2 hours at 2 miles per
    hour`: 2*2 is hours times speed, two inits) from one quantity used twice. A rough count:
    `twenty-five` counts 20 and 5.
    """
    counts: Counter[Fraction] = Counter()
    for token in _lex(question[:MAX_ANSWER_CHARS]):
        if token.kind == "num" and token.value is not None:
            counts[token.value] += 1
        elif token.kind == "word":
            counts.update(_NUMBER_WORDS.get(token.text.lower(), ()))
    return counts


# ================================================================ conversion


@dataclass(frozen=True, slots=True)
class Conversion:
    """The outcome of converting one answer. `ok`: the trace executed to the gold answer."""

    trace: Trace | None
    value: Fraction | None
    gold: Fraction | None
    ok: bool
    reason: str | None  # None when ok; else a stable failure reason
    equations: int = 0  # equations read from the answer (annotations and plain)


def _failed(reason: str, gold: Fraction | None = None, equations: int = 0,
            trace: Trace | None = None, value: Fraction | None = None) -> Conversion:
    return Conversion(trace, value, gold, False, reason, equations)


def convert(answer: str, question: str | None = None) -> Conversion:
    """A GSM8K answer -> its trace, executed and compared with `####`. Never raises.

    With the `question`, a value it states more than once can be that many inits in one
    sum or product (see `_Graph.stated_apart`); `a-b` and `a/b` never read one variable
    twice, with or without it.
    """
    if not isinstance(answer, str):
        return _failed(NOT_TEXT)
    if len(answer) > MAX_ANSWER_CHARS:
        return _failed(TOO_LONG)
    body, gold = split_gold(answer)
    if gold is None:
        return _failed(NO_GOLD)
    equations, bad = find_equations(body)
    if not equations:
        return _failed(UNPARSABLE if bad else NO_EQUATIONS, gold)
    graph, skipped = _build(equations, question if isinstance(question, str) else None)
    final = graph.final(gold)
    if final is None:
        return _failed(_why_unreached(graph, gold, bad, skipped), gold, len(equations))
    return _run(graph, final, gold, len(equations))


def _build(equations: list[Equation], question: str | None) -> tuple[_Graph, int]:
    """The graph of every evaluable equation, and how many could not be evaluated."""
    graph, skipped = _Graph(question), 0
    for equation in equations:
        try:
            graph.add_equation(equation)
        except TraceError:  # division by zero, or a power the runtime refuses
            skipped += 1
    return graph, skipped


def _why_unreached(graph: _Graph, gold: Fraction, bad: int, skipped: int) -> str:
    if bad:
        return UNPARSABLE
    if skipped:
        return "unevaluable_expression"
    if gold in graph.inits:
        return ANSWER_IS_LITERAL
    return NO_STEP_REACHES_GOLD


def _run(graph: _Graph, final: int, gold: Fraction, count: int) -> Conversion:
    if len(graph.live(final)) + 1 > DEFAULT_LIMITS.max_steps:
        return _failed(TOO_MANY_STEPS, gold, count)
    try:
        trace = graph.to_trace(final)
    except ValidationError:
        return _failed(INVALID_TRACE, gold, count)
    outcome = execute(trace)
    if outcome.error is not None:
        return _failed(EXEC_ERROR_PREFIX + outcome.error.kind.value, gold, count, trace)
    if outcome.value != gold:
        return _failed(WRONG_VALUE, gold, count, trace, outcome.value)
    return Conversion(trace, outcome.value, gold, True, None, count)


# ================================================================ reference sets


def load_reference(path: str | Path) -> Iterator[dict[str, Any]]:
    """Records of a GSM8K-format JSONL file ({"question", "answer"} per line)."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{lineno}: not JSON: {err.msg}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object")
            yield record


@dataclass(frozen=True, slots=True)
class ReferenceReport:
    """How much of a reference set converts to traces that reach the gold answer."""

    total: int
    ok: int
    reasons: Counter[str] = field(default_factory=Counter)
    # Converted traces with a step reading one variable twice, by op (`repeated_operands`), and
    # the 1-based record numbers of those with such a step of `NEVER_REPEATED` (none expected).
    repeated: Counter[str] = field(default_factory=Counter)
    self_op_records: tuple[int, ...] = ()

    @property
    def fraction(self) -> float:
        return self.ok / self.total if self.total else 0.0


# Ops whose two operands are always two quantities (`x-x` and `x/x` of one are never meant).
NEVER_REPEATED = frozenset({"sub", "div", "floordiv", "pow"})


def repeated_operands(trace: Trace) -> set[str]:
    """The ops of the trace's steps that name one variable twice among their arguments.

    `add` and `mul` may (doubling, a square: one quantity used twice); an op of
    `NEVER_REPEATED` never does in a converted trace.
    """
    return {step.compute_op for step in trace.steps
            if isinstance(step, ComputeStep) and len(set(step.args)) < len(step.args)}


def reference_report(path: str | Path) -> ReferenceReport:
    """Convert every answer in a GSM8K-format file (with its question) and count the failure
    reasons, and the traces that read one variable twice in a step."""
    total, ok, reasons, repeated = 0, 0, Counter[str](), Counter[str]()
    self_op_records: list[int] = []
    for record in load_reference(path):
        total += 1
        answer, question = record.get("answer"), record.get("question")
        conversion = convert(answer, question)  # type: ignore[arg-type]  # checked inside
        if conversion.ok and conversion.trace is not None:
            ok += 1
            ops = repeated_operands(conversion.trace)
            repeated.update(ops)
            if ops & NEVER_REPEATED:
                self_op_records.append(total)
        else:
            reasons[conversion.reason or "unknown"] += 1
    return ReferenceReport(total, ok, reasons, repeated, tuple(self_op_records))
