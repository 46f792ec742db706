"""Lowering of trace sugar: number arguments and nested ops become explicit steps.

`r = mul(hours, 60)` is written to the model as `init c60 = 60` then `r = mul(hours, c60)`,
and `r = add(mul(a, b), c)` as `step1 = mul(a, b)` then `r = add(step1, c)`: the trace a
model learns stays init/compute/query, and every check, the gold grounding (a constant must
be a unit constant, stated in the question or in the dataset's `constants`) and the skeletons
see only plain steps. Generated names are deterministic and never clash with a name the
block writes itself.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import count

from . import ast


def constant_name(value: Fraction) -> str:
    """`c60` for 60, `c0_25` for 0.25, `cneg1` for -1 (literals are finite decimals)."""
    if value < 0:
        return "cneg" + constant_name(-value)[1:]
    if value.denominator == 1:
        return f"c{value.numerator}"
    whole, frac = divmod(value, 1)
    digits = ""
    while frac:  # a decimal literal: finitely many digits
        frac *= 10
        digit, frac = divmod(frac, 1)
        digits += str(int(digit))
    return f"c{whole}_{digits}"


def _user_names(steps: tuple[ast.TStmt, ...]) -> set[str]:
    names: set[str] = set()
    stack: list[object] = list(steps)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.TVar):
            names.add(node.text.split(".")[0])
        elif isinstance(node, ast.TInit | ast.TQuery):
            stack.append(node.var)
        elif isinstance(node, ast.TOp):
            stack += [*node.args, *([node.out] if node.out else [])]
        elif isinstance(node, ast.TCall):
            stack += node.args
    return names


class _Lowering:
    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.constants: dict[Fraction, str] = {}  # each constant inited once, at first use
        self.steps = count(1)
        self.out: list[ast.TStmt] = []

    def fresh(self, base: str) -> str:
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name

    def arg(self, a: ast.TArg) -> ast.TVar:
        if isinstance(a, ast.TVar):
            return a
        if isinstance(a, ast.TConst):
            name = self.constants.get(a.value)
            if name is None:
                name = self.constants[a.value] = self.fresh(constant_name(a.value))
                var = ast.TVar(name, False, a.span)
                self.out.append(ast.TInit(var, ast.Num(a.value, a.span), False, a.span))
            return ast.TVar(name, False, a.span)
        args = tuple(self.arg(x) for x in a.args)
        out = ast.TVar(self.fresh(f"step{next(self.steps)}"), False, a.span)
        self.out.append(ast.TOp(out, a.op, args, a.span))
        return out

    def stmt(self, s: ast.TStmt) -> None:
        if isinstance(s, ast.TOp) and not all(isinstance(a, ast.TVar) for a in s.args):
            s = ast.TOp(s.out, s.op, tuple(self.arg(a) for a in s.args), s.span)
        self.out.append(s)


def lower_steps(steps: tuple[ast.TStmt, ...]) -> tuple[ast.TStmt, ...]:
    """The block's steps with constants and nested ops made explicit (unchanged without)."""
    if all(not isinstance(s, ast.TOp) or all(isinstance(a, ast.TVar) for a in s.args)
           for s in steps):
        return steps
    lowering = _Lowering(_user_names(steps))
    for s in steps:
        lowering.stmt(s)
    return tuple(lowering.out)
