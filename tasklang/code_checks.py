"""Code answers, check stage: the static diagnostics of `function`, `tests` and `reference`
(called by `checks`; the construct's other stages are `code_answers` and `code_verify`)."""

from __future__ import annotations

import ast as pyast
import keyword
from typing import Any

from . import ast
from .diagnostics import Diagnostic, did_you_mean, error
from .expr import constant_number
from .generators import GENERATORS
from .limits import exceeded

RETURN_TYPES = ("int", "bool", "str")  # what a test case's expected value can be
PARAM_TYPES = ("str",)  # a case passes the generated structure's text
MAX_TESTS = 100  # cases per `tests` statement


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
