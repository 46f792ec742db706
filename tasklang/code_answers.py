"""Code answers, compile stage: the sampler IR of `function` / `tests` / `reference`.

    function evaluate_rpn(expression: str) -> int
    tests 8 from generate rpn(difficulty = 1..7)
    reference "code/evaluate_rpn.py"

`function` names what the model must write, `tests` draws each example's hidden test cases
from a builtin generator, and `reference` is the gold completion. The construct has one
module per stage, beside the general ones they plug into: static checks (`code_checks`,
called by `checks`), this IR (`compile_code`, used by `compiler`), and the compile-time proof
that the reference passes every case of every written record in the sandbox
(`code_verify`, called by `build`). A record's `function` and `tests` are `tasklang.record`.

Test cases never cross splits: each case belongs to one split, decided by hashing its input
with the dataset's seed, and a split only draws the cases it owns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from runtime.sandbox import Case

from . import ast
from .expr import EvalError, Structure, compile_expr
from .generators import GENERATORS, Generator
from .rng import StreamRandom
from .splits import derive_seed

MAX_CASE_DRAWS = 200  # draws to find a case the split owns (and, if possible, a new one)


# ---------------------------------------------------------------- sampling


Env = Mapping[str, Any]
Fn = Callable[[Env], Any]


@dataclass(frozen=True, slots=True)
class CaseSpec:
    """One `tests` statement, compiled."""

    count: int
    generator: Generator
    ranges: tuple[tuple[str, Fn, Fn | None], ...]  # parameter, lo, hi (None: one value)


def _as_int(value: Any, what: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    raise EvalError(f"{what} must be a whole number, got {value!r}")


def expected_value(s: Structure, returns: str) -> Any:
    """The value a correct function returns for a generated structure: its answer as the
    declared Python type (`14`, `True`, or the answer text)."""
    if returns == "str":
        return s.answer
    if returns == "bool":
        if s.answer not in ("True", "False"):
            raise EvalError(f"answer {s.answer!r} is not True or False")
        return s.answer == "True"
    value = Fraction(s.answer)
    if value.denominator != 1:
        raise EvalError(f"answer {s.answer} is not a whole number")
    return int(value)


def case_key(args: Sequence[Any]) -> str:
    """A case's identity (and its `args` in the record): its arguments as JSON text."""
    return json.dumps(list(args), ensure_ascii=False)


@dataclass
class CodeAnswer:
    """What a code-answer pattern adds to its examples: the function and its test cases."""

    function: str
    returns: str
    specs: tuple[CaseSpec, ...]
    answer: str  # the reference solution's text
    completion: str  # the answer in a ```python fence
    splits: tuple[str, ...] = ()  # the dataset's splits: each owns the cases hashed to it
    salt: str = ""

    def bind(self, splits: Sequence[str], salt: str) -> None:
        self.splits, self.salt = tuple(splits), salt

    def owner(self, key: str) -> str | None:
        if not self.splits:
            return None
        return self.splits[derive_seed(self.salt, key) % len(self.splits)]

    def cases(self, env: Env, rng: StreamRandom | None, split: str | None) -> tuple[Case, ...]:
        """Each spec's cases, parameters spread over their ranges; raises EvalError."""
        if rng is None:  # preview and audit: the same payload gives the same cases
            rng = StreamRandom.of("cases", sorted((k, str(v)) for k, v in env.items()))
        out: list[Case] = []
        seen: set[str] = set()
        for spec in self.specs:
            for args in self._parameters(spec, env):
                out.append(self._case(spec.generator, args, rng, split, seen))
        return tuple(out)

    def _parameters(self, spec: CaseSpec, env: Env) -> Iterator[dict[str, int]]:
        gen = spec.generator
        bounds = []
        for name, lo_fn, hi_fn in spec.ranges:
            lo = _as_int(lo_fn(env), name)
            hi = lo if hi_fn is None else _as_int(hi_fn(env), name)
            param = gen.params[name]
            if lo > hi or lo < param.lo or hi > param.hi:
                raise EvalError(f"{gen.name}: {name} = {lo}..{hi} is outside "
                                f"{param.lo}..{param.hi}")
            bounds.append((name, lo, hi))
        defaults = {k: p.default for k, p in gen.params.items()}
        for i in range(spec.count):  # case i takes the i-th value of each range, cycling
            yield {**defaults, **{name: lo + i % (hi - lo + 1) for name, lo, hi in bounds}}

    def _case(self, gen: Generator, args: dict[str, int], rng: StreamRandom, split: str | None,
              seen: set[str]) -> Case:
        owned: tuple[str, Structure] | None = None
        for _ in range(MAX_CASE_DRAWS):
            s = gen.fn(rng, **args)
            key = case_key([s.text])
            if split is not None and self.owner(key) not in (None, split):
                continue
            owned = (key, s)
            if key not in seen:
                break  # otherwise keep looking for a case this example has not used yet
        if owned is None:
            raise EvalError(f"no {gen.name} case for split {split} in {MAX_CASE_DRAWS} draws "
                            f"({', '.join(f'{k} = {v}' for k, v in args.items())})")
        key, s = owned
        seen.add(key)
        return (s.text,), expected_value(s, self.returns)


def compile_code(p: ast.Pattern, reference: str | None) -> CodeAnswer | None:
    """IR of a checked pattern's code answer (None for other patterns)."""
    if not p.functions:
        return None
    fn = p.functions[0]
    specs = tuple(CaseSpec(int(t.count), GENERATORS[t.generator],
                           tuple((a.name, compile_expr(a.lo), None if a.hi is None
                                  else compile_expr(a.hi)) for a in t.kwargs))
                  for t in p.tests)
    answer = (reference or "").rstrip() + "\n"
    return CodeAnswer(fn.name, fn.returns, specs, answer, f"```python\n{answer}```")


# ---------------------------------------------------------------- records


def tests_json(cases: Sequence[Case]) -> list[dict[str, str]]:
    """The record's `tests`: arguments and expected value of each case as JSON text, so every
    record has the same column types whatever the function returns (Arrow, under
    `datasets.load_dataset`, refuses a column that is a number here and a boolean there)."""
    return [{"args": case_key(args), "expected": json.dumps(expected, ensure_ascii=False)}
            for args, expected in cases]


def bind_splits(codes: Iterable[CodeAnswer], splits: Iterable[str], seed: int, dataset: str) -> None:
    """Give every code answer the dataset's splits, so each split draws only its own cases."""
    salt = f"{seed}\x1f{dataset}\x1fcases"
    names = sorted(splits)
    for code in codes:
        code.bind(names, salt)
