"""Code answers: patterns whose answer is a Python function, graded on hidden test cases.

    function evaluate_rpn(expression: str) -> int
    tests 8 from generate rpn(difficulty = 1..7)
    reference "code/evaluate_rpn.py"

`function` names what the model must write, `tests` draws each example's hidden test cases
from a builtin generator, and `reference` is the gold completion. This module holds the
construct's three stages, beside the general ones they plug into: static checks
(`check_code`, called by `checks`), the sampler IR (`compile_code`, used by `compiler`) and
the compile-time proof that the reference passes every case of every written record in the
sandbox (`verify_references`, called by `build`), plus the record fields (`record_fields`).

Test cases never cross splits: each case belongs to one split, decided by hashing its input
with the dataset's seed, and a split only draws the cases it owns.
"""

from __future__ import annotations

import ast as pyast
import json
import keyword
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.sandbox import Case, CodeResult, SandboxLimits, record_cases, run_code

from . import ast
from .diagnostics import Diagnostic, did_you_mean, error
from .expr import EvalError, Structure, compile_expr, constant_number
from .generators import GENERATORS, Generator
from .limits import exceeded
from .rng import StreamRandom
from .splits import derive_seed

if TYPE_CHECKING:
    from .build import Context
    from .compiler import Example
    from .program import Program

RETURN_TYPES = ("int", "bool", "str")  # what a test case's expected value can be
PARAM_TYPES = ("str",)  # a case passes the generated structure's text
MAX_TESTS = 100  # cases per `tests` statement
MAX_CASE_DRAWS = 200  # draws to find a case the split owns (and, if possible, a new one)
VERIFY_BATCH = 5000  # cases per sandbox run when verifying a reference
VERIFY_LIMITS = SandboxLimits(case_timeout_s=2.0, timeout_s=120.0, cpu_s=120,
                              result_bytes=16 * 2**20)


# ---------------------------------------------------------------- checks


def check_code(p: ast.Pattern, reference: str | None, scope: Any, diags: list[Diagnostic]) -> None:
    """Diagnostics of `function`, `tests` and `reference` statements. `reference` is the
    solution's text (None if it could not be read); `scope` is the pattern's checking scope
    (`checks._Scope`): tests parameters may use its lets."""
    if not p.functions:
        stray: list[ast.Tests | ast.Reference] = [*p.tests, *p.references]
        for stmt in stray:
            what = "tests" if isinstance(stmt, ast.Tests) else "reference"
            diags.append(error("no-function", f"`{what}` belongs to a code answer, but pattern "
                               f"{p.name} declares no `function`", stmt.span,
                               help="add e.g. `function evaluate_rpn(expression: str) -> int`"))
        return
    fn = p.functions[0]
    extras: list[ast.Function | ast.Reference] = [*p.functions[1:], *p.references[1:]]
    for extra in extras:
        diags.append(error("answer-twice", "a code answer has one function and one reference",
                           extra.span))
    signature_ok = _check_signature(fn, diags)
    if not p.tests:
        diags.append(error("no-tests", f"{fn.name} has no test cases", fn.span,
                           help="add e.g. `tests 8 from generate rpn(difficulty = 1..7)`"))
    total = 0
    for tests in p.tests:
        _check_tests(tests, fn if signature_ok else None, scope, diags)
        total += int(tests.count) if tests.count.denominator == 1 and tests.count > 0 else 0
        if total > scope.limits.max_test_cases >= total - tests.count:  # once, where it passes
            diags.append(exceeded("max_test_cases", f"{fn.name} has {total} test cases by "
                                  f"this statement (limit {scope.limits.max_test_cases} per "
                                  "pattern)", tests.span, "every example runs every case"))
    if not p.references:
        diags.append(error("missing-reference", f"{fn.name} has no reference solution", fn.span,
                           'add `reference "path/to/solution.py"` (relative to this file): '
                           "it is the completion, and every test case is run against it"))
    elif reference is not None:
        _check_reference(fn, p.references[0], reference, diags)
    for template in p.templates:
        if fn.name not in template.text:
            diags.append(error("function-not-in-question", f"this template never names "
                               f"{fn.name}", template.span, "the model cannot know what to call "
                               "the function: state its signature in every template"))


def _check_signature(fn: ast.Function, diags: list[Diagnostic]) -> bool:
    before = len(diags)
    if keyword.iskeyword(fn.name):
        diags.append(error("bad-signature", f"{fn.name} is a Python keyword", fn.span))
    if len(fn.params) != 1:
        diags.append(error("bad-signature", f"{fn.name} takes {len(fn.params)} parameters; a "
                           "test case passes one generated text", fn.span,
                           help=f"declare one: {fn.name}(expression: str) -> {fn.returns}"))
    for param in fn.params:
        if keyword.iskeyword(param.name):
            diags.append(error("bad-signature", f"{param.name} is a Python keyword", param.span))
        if param.type not in PARAM_TYPES:
            diags.append(error("bad-signature", f"parameter {param.name}: {param.type} is not "
                               "supported; a test case passes the generated text as a str",
                               param.span))
    if fn.returns not in RETURN_TYPES:
        diags.append(error("bad-signature", f"return type {fn.returns} is not supported",
                           fn.span, f"supported: {', '.join(RETURN_TYPES)}"))
    return len(diags) == before


def _check_tests(t: ast.Tests, fn: ast.Function | None, scope: Any,
                 diags: list[Diagnostic]) -> None:
    if t.count.denominator != 1 or not 1 <= t.count <= MAX_TESTS:
        diags.append(error("bad-range", f"tests needs a whole count in 1..{MAX_TESTS}", t.span))
    gen = GENERATORS.get(t.generator)
    if gen is None:
        diags.append(error("unknown-generator", f"no generator {t.generator}", t.span,
                           f"known: {', '.join(sorted(GENERATORS))}",
                           help=did_you_mean(t.generator, GENERATORS)))
        return
    for arg in t.kwargs:
        param = gen.params.get(arg.name)
        if param is None:
            diags.append(error("unknown-parameter", f"{t.generator} has no parameter {arg.name}",
                               arg.span, f"parameters: {', '.join(gen.params)}",
                               help=did_you_mean(arg.name, gen.params)))
            continue
        bounds = [x for x in (arg.lo, arg.hi) if x is not None]
        for x in bounds:
            if scope.infer(x) not in ("number", "unknown"):
                diags.append(error("type-error", f"{arg.name} needs a number", x.span))
        lo, hi = constant_number(arg.lo), constant_number(arg.hi)
        for value, bound in ((lo, arg.lo), (hi, arg.hi)):
            if value is not None and bound is not None and not (
                    value.denominator == 1 and param.lo <= value <= param.hi):
                diags.append(error("bad-range", f"{arg.name} must be a whole number in "
                                   f"{param.lo}..{param.hi}", bound.span))
        if lo is not None and hi is not None and lo > hi:
            diags.append(error("bad-range", f"empty range {lo}..{hi}", arg.span))
    if fn is not None and fn.returns not in (gen.returns, "str"):
        diags.append(error("type-error", f"{t.generator} cases expect {gen.returns}, but "
                           f"{fn.name} is declared to return {fn.returns}", t.span,
                           help=f"declare `-> {gen.returns}` (or `-> str` for the answer text)"))


def _check_reference(fn: ast.Function, ref: ast.Reference, text: str,
                     diags: list[Diagnostic]) -> None:
    """Static only: the reference parses and defines the declared function. Running it is
    `verify_references`, once the cases exist."""
    try:
        tree = pyast.parse(text)
    except (SyntaxError, ValueError) as err:
        where = f" (line {err.lineno})" if isinstance(err, SyntaxError) and err.lineno else ""
        diags.append(error("bad-reference", f"{ref.path} is not valid Python{where}", ref.span,
                           str(getattr(err, "msg", err))))
        return
    defs = [n for n in tree.body if isinstance(n, pyast.FunctionDef) and n.name == fn.name]
    if not defs:
        diags.append(error("bad-reference", f"{ref.path} defines no top-level function "
                           f"{fn.name}", ref.span))
        return
    args = defs[-1].args
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    declared = [p.name for p in fn.params]
    if names != declared:
        diags.append(error("bad-reference", f"{ref.path} defines {fn.name}({', '.join(names)}), "
                           f"the pattern declares {fn.name}({', '.join(declared)})", ref.span,
                           "the completion teaches the reference's signature: make them agree"))


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


def record_fields(ex: Example) -> dict[str, Any]:
    """The keys a code-answer record adds (`{}` for other records)."""
    if ex.function is None:
        return {}
    return {"function": ex.function, "tests": tests_json(ex.tests)}


def record_fields_json(ex: Example) -> str:
    """`record_fields` as the tail of a JSON object (`""` for other records), matching
    `json.dumps(..., ensure_ascii=False)` byte for byte."""
    if ex.function is None:
        return ""
    text = json.dumps(record_fields(ex), ensure_ascii=False)
    return ", " + text[1:-1]


# ---------------------------------------------------------------- verification


def bind_splits(ctx: Context) -> None:
    """Give every code answer the dataset's splits, so each split draws only its own cases."""
    salt = f"{ctx.settings.seed}\x1f{ctx.name}\x1fcases"
    names = sorted(s.name for s in ctx.splits)
    for pattern in ctx.patterns:
        if pattern.code is not None:
            pattern.code.bind(names, salt)


def verify_references(ctx: Context, program: Program, out_dir: Path) -> list[Diagnostic]:
    """Run each code pattern's reference, in the sandbox, on every distinct case of every
    record written to `out_dir`: one process per pattern (and per VERIFY_BATCH cases), not
    one per record. Every record's completion is its pattern's reference, so this proves
    each record's completion passes its own cases."""
    code = {p.name: p.code for p in ctx.patterns if p.code is not None}
    if not code:
        return []
    cases: dict[str, dict[str, Case]] = {name: {} for name in code}
    for split in ctx.splits:
        with (out_dir / f"{split.name}.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                if record["pattern"] in code:
                    for case, raw in zip(record_cases(record), record["tests"], strict=True):
                        cases[record["pattern"]].setdefault(raw["args"] + raw["expected"], case)
    diags = []
    for name, answer in code.items():
        found = list(cases[name].values())
        for start in range(0, len(found), VERIFY_BATCH):
            batch = found[start:start + VERIFY_BATCH]
            result = run_code(answer.completion, answer.function, batch, limits=VERIFY_LIMITS)
            if not result.grade.correct:
                diags.append(_failure(program.patterns[name], answer, batch, result, len(found)))
                break
    return diags


def _failure(p: ast.Pattern, answer: CodeAnswer, batch: list[Case], result: CodeResult,
             total: int) -> Diagnostic:
    span = p.references[0].span if p.references else p.span
    failed = next((c for c in result.cases if not c.passed), None)
    sandbox = f"sandbox: {result.grade.status}: {result.message}"
    if failed is None or failed.status == "not_run":
        return error("reference-fails", f"the reference of {p.name} does not run", span, sandbox)
    args, expected = batch[failed.index]
    call = f"{answer.function}({', '.join(repr(a) for a in args)})"
    got = f"returned {failed.got}" if failed.status == "wrong" else f"failed ({failed.status})"
    notes = [f"{p.name}: {result.passed} of {total} distinct cases passed before this one"]
    if failed.status != "wrong":
        notes.append(sandbox)
    return error("reference-fails", f"{call} {got}, expected {expected!r}", span, *notes)
