"""runtime.sandbox: model-written functions run against test cases, hostile ones get 0 and do nothing.

Every hostile program below must get reward 0 within a few seconds, leave nothing behind
(no file outside the sandbox, no process, no temporary directory) and leave this process
alive. The hostile programs are written the way a model could write them (imports), and
again reaching `os` through object introspection, which the import guard cannot stop: the
audit hook and, where the machine allows, the kernel layers must.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import pytest

from runtime import sandbox
from runtime.sandbox import SandboxLimits, cases_from_records, grade_code, run_code
from tasklang.generators import brackets, rpn

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the sandbox needs POSIX rlimits")

LIMITS = SandboxLimits(case_timeout_s=1.0, timeout_s=4.0)
FAST = 5.0  # seconds: "within a few seconds", interpreter start included


def _rpn_cases(n: int = 12) -> list[sandbox.Case]:
    rng = random.Random(4)
    out: list[sandbox.Case] = []
    for i in range(n):
        s = rpn(rng, 3 + i % 5)
        value = dict(s.fields)["value"]
        assert isinstance(value, Fraction) and value.denominator == 1
        out.append(((s.text,), int(value)))
    return out


CASES = _rpn_cases()

RPN_BODY = """stack: list[int] = []
for token in expression.split():
    if token in ("+", "-", "*"):
        b, a = stack.pop(), stack.pop()
        stack.append(a + b if token == "+" else a - b if token == "-" else a * b)
    else:
        stack.append(int(token))
return stack[0]"""


def answer(body: str, prelude: str = "", name: str = "evaluate_rpn") -> str:
    """A model answer defining `name(expression)` with `body`, in a fenced block."""
    lines = "\n".join("    " + line for line in body.splitlines())
    return f"```python\n{prelude}def {name}(expression: str) -> int:\n{lines}\n```"


HONEST = "Here is a stack-based evaluator:\n\n" + answer(RPN_BODY) + \
    "\n\nIt pushes numbers and applies each operator to the top two."
WRONG = HONEST.replace("a - b if", "b - a if")  # operands of `-` swapped

# `os`'s globals, reached without any import statement.
OS = ("[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]"
      ".__init__.__globals__")


@pytest.fixture
def evil() -> Iterator[Path]:
    path = Path(f"/tmp/evil_{secrets.token_hex(8)}")
    yield path
    if path.exists():
        path.unlink()


def _harness_processes(under: Path) -> list[str]:
    """Sandbox harness processes working below `under` (this test's own temporary folder:
    another test run on the machine has its own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if b"harness.py" in cmd and cwd.startswith(str(under)):
                found.append(entry.name)
    return found


@contextmanager
def _private_tempdir() -> Iterator[Path]:
    """tempfile's folder pointed at a fresh one for the call, so what the sandbox leaves is
    counted there, not among the sandboxes of other runs sharing /tmp."""
    private = Path(tempfile.mkdtemp(prefix="tasklang-hostile-"))
    saved = tempfile.tempdir
    tempfile.tempdir = str(private)
    try:
        yield private
    finally:
        tempfile.tempdir = saved


def run_hostile(text: str) -> sandbox.CodeResult:
    """Run a hostile answer: it must be stopped (refused import, error, limit), not merely
    return a wrong value, within FAST seconds, leaving no directory and no process."""
    with _private_tempdir() as private:
        start = time.monotonic()
        result = run_code(text, "evaluate_rpn", CASES, limits=LIMITS)
        assert time.monotonic() - start < FAST
        stopped = result.grade.status.startswith("exec_error:") or result.cases[0].status.startswith("error:")
        assert stopped, result
        assert not list(private.glob("tasklang-sandbox-*")), "temporary directory left behind"
        if sys.platform.startswith("linux"):
            assert not _harness_processes(private), "sandbox process left behind"
    shutil.rmtree(private, ignore_errors=True)
    return result


# ---------------------------------------------------------------- honest answers


def test_correct_solution_gets_full_reward() -> None:
    r = run_code(HONEST, "evaluate_rpn", CASES, limits=LIMITS)
    assert (r.grade.status, r.grade.reward) == ("correct", 1.0)
    assert r.passed == r.total == len(CASES) and r.fraction == 1.0
    assert "rlimits" in r.mechanisms and "audit-hook" in r.mechanisms


def test_wrong_solution_gets_nothing() -> None:
    r = run_code(WRONG, "evaluate_rpn", CASES, limits=LIMITS)
    assert (r.grade.status, r.grade.reward) == ("wrong_answer", 0.0)
    assert r.fraction < 1.0


def test_partial_credit_is_opt_in() -> None:
    half = answer("return 14 if expression == '3 4 + 2 *' else 0")
    cases = [(("3 4 + 2 *",), 14), (("1 1 +",), 2)]
    assert grade_code(half, "evaluate_rpn", cases, limits=LIMITS).reward == 0.0
    g = grade_code(half, "evaluate_rpn", cases, limits=LIMITS, partial_credit=1.0)
    assert (g.status, g.reward) == ("wrong_answer", 0.5)


def test_brackets_solution_and_bool_results() -> None:
    rng = random.Random(9)
    structures = [brackets(rng, 4) for _ in range(10)]
    cases = [((s.text,), dict(s.fields)["balanced"]) for s in structures]
    code = answer("stack = []\npairs = {')': '(', ']': '[', '}': '{'}\nfor ch in expression:\n"
                  "    if ch in '([{':\n        stack.append(ch)\n"
                  "    elif not stack or stack.pop() != pairs[ch]:\n        return False\n"
                  "return not stack", name="is_balanced")
    assert grade_code(code, "is_balanced", cases, limits=LIMITS).reward == 1.0
    as_int = code.replace("return not stack", "return int(not stack)")
    assert grade_code(as_int, "is_balanced", cases, limits=LIMITS).reward == 0.0  # 1 is not True


def test_cases_from_compiled_records() -> None:
    records = [{"payload": {"d": "3", "e": "3 4 + 2 *"}, "answer": "14"},
               {"payload": {"d": "3", "e": "([)]"}, "answer": "False"}]
    assert cases_from_records(records[:1]) == [(("3 4 + 2 *",), 14)]
    assert cases_from_records(records[1:], convert=lambda a: a == "True") == [(("([)]",), False)]


def test_allowed_libraries_work() -> None:
    prelude = ("from collections import Counter, deque, namedtuple\nfrom dataclasses import dataclass\n"
               "from fractions import Fraction\nfrom typing import List\nimport functools, math, re\n"
               "P = namedtuple('P', 'a b')\n@dataclass\nclass Box:\n    v: int\n"
               "@functools.lru_cache(None)\ndef sq(n):\n    return n * n\n")
    body = ("assert Counter('aab')['a'] == 2 and deque([1]).pop() == 1 and math.isqrt(16) == 4\n"
            "assert re.fullmatch(r'[0-9 +*-]+', expression) and Fraction(1, 2) * 2 == 1\n"
            "assert Box(P(1, 2).a).v == 1 and sq(3) == 9\n" + RPN_BODY)
    assert grade_code(answer(body, prelude), "evaluate_rpn", CASES, limits=LIMITS).reward == 1.0


@pytest.mark.parametrize(("returned", "expected"), [
    ("True", 1), ("1", True), ("1.0", 1), ("[1]", (1,)), ("(1,)", [1]), ("'1'", 1),
])
def test_outputs_compare_with_their_types(returned: str, expected: object) -> None:
    code = answer(f"return {returned}")
    assert grade_code(code, "evaluate_rpn", [(("x",), expected)], limits=LIMITS).reward == 0.0


def test_an_object_that_equals_everything_is_refused() -> None:
    code = answer("return Anything()", prelude="class Anything:\n    def __eq__(self, other):\n"
                                               "        return True\n")
    r = run_code(code, "evaluate_rpn", CASES, limits=LIMITS)
    assert r.grade.reward == 0.0 and r.cases[0].status == "bad_result"


# ---------------------------------------------------------------- extraction


@pytest.mark.parametrize("text", [
    HONEST,
    answer(RPN_BODY).strip("`").removeprefix("python\n"),  # plain code
    "Sure:\n" + answer(RPN_BODY).strip("`").removeprefix("python\n") + "That is all.",  # code in prose
    "```\n" + answer(RPN_BODY).strip("`").removeprefix("python\n"),  # unterminated fence
])
def test_extraction_forms(text: str) -> None:
    assert grade_code(text, "evaluate_rpn", CASES, limits=LIMITS).reward == 1.0


@pytest.mark.parametrize(("text", "why"), [
    (None, "no model output"), ("", "no model output"), ("   \n", "no model output"),
    ("I cannot do that.", "no code"), ("```python\ndef other(x):\n    return x\n```", "no code"),
    ("```python\ndef evaluate_rpn(e):\n    return (\n```", "does not parse"),
    ("def evaluate_rpn(e):\n" + "    x = 1\n" * 20_000, "characters"),
])
def test_unusable_text_is_a_parse_failure(text: str | None, why: str) -> None:
    r = run_code(text, "evaluate_rpn", CASES, limits=LIMITS)
    assert (r.grade.status, r.grade.reward) == ("parse_failure", 0.0)
    assert why in r.message


def test_function_missing_at_run_time_is_a_load_error() -> None:
    r = run_code("def evaluate_rpn(e):\n    return 1\ndel evaluate_rpn\n", "evaluate_rpn", CASES,
                 limits=LIMITS)
    assert (r.grade.status, r.grade.reward) == ("exec_error:load", 0.0)


# ---------------------------------------------------------------- hostile answers

HOSTILE = {
    "infinite loop": answer("while True:\n    pass"),
    "loop in C": answer("return 10 ** 10 ** 10"),
    "fork bomb": answer("while True:\n    os.fork()", prelude="import os\n"),
    "fork bomb via introspection": answer(f"g = {OS}\nwhile True:\n    g['fork']()"),
    "10 GB allocation": answer("return len(bytearray(10 * 2**30))"),
    "deep recursion": answer("return evaluate_rpn(expression) + 1"),
    "deep recursion, limit raised": answer(f"g = {OS}\ng['sys'].setrecursionlimit(10**8)\n"
                                           "return evaluate_rpn(expression) + 1"),
    "printing megabytes": answer("print('x' * 10**7)\nreturn 14"),
    "writing megabytes to fd 1": answer(f"g = {OS}\ng['write'](1, b'x' * 10**7)\nreturn 14"),
    "reading /etc/passwd": answer("return open('/etc/passwd').read()"),
    "reading /etc/passwd via os": answer(f"g = {OS}\nreturn g['read'](g['open']('/etc/passwd', 0), 99)"),
    "socket": answer("socket.create_connection(('127.0.0.1', 9))\nreturn 14", prelude="import socket\n"),
    "ctypes": answer("return ctypes.CDLL(None).getpid()", prelude="import ctypes\n"),
    "subprocess": answer("return subprocess.run(['id']).returncode", prelude="import subprocess\n"),
    "killing the grader": answer(f"g = {OS}\ng['kill'](g['getppid'](), 9)\nreturn 14"),
    "listing /": answer(f"g = {OS}\nreturn len(g['listdir']('/'))"),
    "__import__": answer("return __import__('os').getpid()"),
}

# Programs whose hostile act is creating EVIL: it must not exist afterwards.
WRITERS = {
    "open outside the sandbox": "open('{evil}', 'w').write('x')\nreturn 14",
    "os.open outside the sandbox":
        "g = " + OS + "\ng['open']('{evil}', g['O_CREAT'] | g['O_WRONLY'])\nreturn 14",
    "os.system touch": "import_os = " + OS + "\nimport_os['system']('touch {evil}')\nreturn 14",
    "os.system after import os": "os.system('touch {evil}')\nreturn 14",
    "posix_spawn touch":
        "g = " + OS + "\ng['posix_spawn']('/usr/bin/touch', ['touch', '{evil}'], {{}})\nreturn 14",
    "ctypes system": "ctypes.CDLL(None).system(b'touch {evil}')\nreturn 14",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_program_gets_nothing(name: str) -> None:
    r = run_hostile(HOSTILE[name])
    assert r.grade.reward == 0.0, (name, r.grade, r.message, r.cases[:2])
    assert not r.grade.correct


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_hostile_writes_have_no_effect(name: str, evil: Path) -> None:
    prelude = "import os\n" if "import os" in name else "import ctypes\n" if "ctypes" in name else ""
    r = run_hostile(answer(WRITERS[name].format(evil=evil), prelude=prelude))
    assert r.grade.reward == 0.0, (name, r.grade, r.message)
    assert not evil.exists()


# -- redteam: Python's own evaluator. `return eval(expression)` was full reward on every
# arithmetic_code record ("without eval", says its prompt); the RPN one evals each operator.
EVAL_BODY = ("stack: list[int] = []\nfor token in expression.split():\n"
             "    if token in ('+', '-', '*'):\n        b, a = stack.pop(), stack.pop()\n"
             "        stack.append({call})\n    else:\n        stack.append(int(token))\n"
             "return stack[0]")
EVALUATORS = {
    "eval": EVAL_BODY.format(call="eval(f'{a}{token}{b}')"),
    "eval from __builtins__": EVAL_BODY.format(call="__builtins__['eval'](f'{a}{token}{b}')"),
    "exec": EVAL_BODY.format(call="(ns := {}, exec(f'r = {a}{token}{b}', ns), ns['r'])[2]"),
    "compile then eval": EVAL_BODY.format(call="eval(compile(f'{a}{token}{b}', 's', 'eval'))"),
    "eval reached by introspection": EVAL_BODY.format(
        call=OS + "['__builtins__']['eval'](f'{a}{token}{b}')"),
    "typing's string annotations": "import typing\n" + EVAL_BODY.format(
        call="typing.get_type_hints(type('T', (), {'__annotations__': "
             "{'r': f'lambda: {a}{token}{b}'}}))['r']()"),
    "dataclasses' private _create_fn": "import dataclasses\n" + EVAL_BODY.format(
        call="dataclasses._create_fn('f', [], [f'return {a}{token}{b}'])()"),
}


@pytest.mark.parametrize("name", sorted(EVALUATORS))
def test_compiling_text_at_run_time_is_refused(name: str) -> None:
    r = run_code(answer(EVALUATORS[name]), "evaluate_rpn", CASES, limits=LIMITS)
    assert (r.grade.status, r.grade.reward) == ("exec_error:refused", 0.0), (name, r.message)
    assert "compiling text" in r.message or r.cases[0].status == "refused", r


def test_dataclasses_and_namedtuples_still_work_and_eval_can_be_allowed() -> None:
    """The honest controls: @dataclass and namedtuple build methods from source inside their
    own modules, which is allowed; `allow_eval=True` gives eval back."""
    prelude = ("from collections import namedtuple\nfrom dataclasses import dataclass\n"
               "Pair = namedtuple('Pair', 'a b')\n@dataclass\nclass Box:\n    n: int\n")
    body = RPN_BODY.replace("stack.append(int(token))", "stack.append(Box(int(token)).n)") \
        .replace("b, a = stack.pop(), stack.pop()", "b, a = Pair(stack.pop(), stack.pop())")
    assert grade_code(answer(body, prelude), "evaluate_rpn", CASES, limits=LIMITS).correct
    allowed = SandboxLimits(case_timeout_s=1.0, timeout_s=4.0, allow_eval=True)
    assert grade_code(answer(EVALUATORS["eval"]), "evaluate_rpn", CASES, limits=allowed).correct


def test_printing_is_capped_per_run() -> None:
    r = run_hostile(HOSTILE["printing megabytes"])
    assert r.grade.status == "exec_error:output_limit"
    small = answer("print('working on', expression)\n" + RPN_BODY)
    assert grade_code(small, "evaluate_rpn", CASES, limits=LIMITS).reward == 1.0


@pytest.mark.parametrize("name", ["reading /etc/passwd", "socket", "fork bomb via introspection"])
def test_refusals_have_their_own_status(name: str) -> None:
    assert run_hostile(HOSTILE[name]).grade.status == "exec_error:refused"


def test_an_endless_loop_is_stopped_by_the_case_timeout() -> None:
    r = run_hostile(HOSTILE["infinite loop"])
    assert r.grade.status == "exec_error:timeout" and r.cases[0].status == "timeout"


def test_garbage_never_raises() -> None:
    for text in ["\x00", "```", "def evaluate_rpn(", "```python\n\x00\n```",
                 "def evaluate_rpn(e):\n\treturn\x00", "(" * 5000,
                 "def evaluate_rpn(e):\n" + "    " * 200 + "pass"]:
        g = grade_code(text, "evaluate_rpn", CASES, limits=LIMITS)
        assert g.reward == 0.0


def test_bad_test_cases_are_not_the_model_s_fault() -> None:
    r = run_code(HONEST, "evaluate_rpn", [((object(),), 1)], limits=LIMITS)
    assert r.grade.status == "exec_error:sandbox" and "bad test case" in r.message


# ---------------------------------------------------------------- the kernel layers alone


def test_kernel_layers_hold_without_the_audit_hook(evil: Path) -> None:
    """Plain Python under the confinement only (no harness, no hook): whatever layers
    this machine has must refuse what they are for. Layers it lacks are skipped."""
    interp = sandbox._interpreter(None)
    assert interp is not None
    work = tempfile.mkdtemp(prefix="tasklang-sandbox-")
    uid = (1 << 20) + secrets.randbelow(1 << 29) if os.geteuid() == 0 and interp.others_can_run else None
    if uid is not None:
        os.chown(work, uid, uid)
    probe = f'''
import os, socket
def attempt(name, fn):
    try:
        fn()
        print(name, "allowed")
    except OSError:
        print(name, "refused")
attempt("read", lambda: open("/etc/passwd").read())
attempt("write", lambda: open("{evil}", "w").write("x"))
attempt("connect", lambda: socket.create_connection(("127.0.0.1", 9), timeout=1))
attempt("fork", lambda: os.waitpid(os.fork(), 0))
attempt("sandbox", lambda: open("mine.txt", "w").write("x"))
'''
    read_fd, write_fd = os.pipe()
    try:
        confiner = sandbox._Confiner(LIMITS, work, interp.read_roots, uid, write_fd,
                                     sandbox._landlock_abi())
        out = subprocess.run([interp.path, "-I", "-S", "-c", probe], cwd=work, pass_fds=(write_fd,),
                             preexec_fn=confiner, capture_output=True, text=True, timeout=30)
        os.close(write_fd)
        layers = os.read(read_fd, 4096).decode().split()[1].split(",")
    finally:
        os.close(read_fd)
        sandbox._remove(work)
    seen = dict(line.split() for line in out.stdout.splitlines())
    assert seen["sandbox"] == "allowed"
    landlock = any(m.startswith("landlock") for m in layers)
    if landlock:
        assert seen["read"] == seen["write"] == "refused"
    if landlock or "netns" in layers:
        assert seen["connect"] == "refused"
    if any(m.startswith("uid-") for m in layers) or os.geteuid() != 0:
        assert seen["fork"] == "refused"
    assert not evil.exists()
    if not (landlock and "netns" in layers):
        pytest.skip(f"only these kernel layers on this machine: {layers}")


def test_mechanisms_are_reported() -> None:
    layers = sandbox.mechanisms(LIMITS)
    assert {"rlimits", "audit-hook", "import-guard"} <= set(layers)
