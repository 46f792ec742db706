"""Code answers: run a model-written Python function against test cases in a sandbox.

The code-answer variant of research note 004: the model writes e.g.
`def evaluate_rpn(expression: str) -> int`, and the function is run against generated
test cases. Model code is hostile until proven otherwise, so it runs in a separate
process, `python -I -S` (isolated mode: no site-packages, no PYTHON* variables, no user
directories), with every layer below that this machine allows; `CodeResult.mechanisms`
names the ones that were in force for a run, `mechanisms()` probes them.

Kernel side (set in the child between fork and exec, `_Confiner`):
- rlimits: RLIMIT_CPU (CPU seconds), RLIMIT_AS (memory), RLIMIT_FSIZE (largest file),
  RLIMIT_NOFILE (open files), RLIMIT_CORE 0, RLIMIT_NPROC 1 (no fork, no threads);
- `netns`: a new, empty network namespace (`unshare(CLONE_NEWNET)`, root only; without
  root, a user namespace is tried too): no interface but a loopback that is down;
- `landlock-vN`: Landlock (Linux >= 5.13) allows reading only the interpreter's files and
  the system libraries, and reading/writing only the private temporary directory; with
  ABI >= 4 every TCP bind/connect is refused, with ABI >= 6 signals to processes outside
  the sandbox and abstract unix sockets are refused too;
- `uid-N`: as root, the child drops to a fresh random uid (a unique uid is what makes
  RLIMIT_NPROC bite: the kernel never applies it to uid 0). Needs an interpreter that
  other users may execute; a root-only interpreter (e.g. under /root) is replaced by a
  world-readable one of the same version (/usr/bin/python3.X) when there is one;
- `no-new-privs`, a new session (the whole process group is killed at the end), a parent
  death signal, a minimal environment, the temporary directory as cwd, HOME and TMPDIR.

Interpreter side (the harness, before any model code runs):
- `audit-hook`: a `sys.addaudithook` hook refuses process creation (os.system, fork,
  exec, spawn, subprocess), sockets, ctypes, mmap, signals to other processes, file
  system changes, directory listings, every `open` (the model code needs no file), and
  importing any module that is not already loaded, and (unless `allow_eval`) compiling text
  at run time: `eval`/`exec`/`compile` of a string, or typing's string annotations, which
  would solve "parse this expression without eval" with `eval` (only `@dataclass` and
  `namedtuple` may, from inside their own modules). Audit hooks cannot be removed, and
  this one keeps no state the model code could reach; still, PEP 578 hooks are not a
  security boundary on their own (object introspection reaches `os`, whose calls the
  hook then refuses one by one): the kernel layers are the boundary where they exist;
- `import-guard`: the model's `import` statements may only name modules of
  `SandboxLimits.allowed_imports` (preloaded before the hook is installed);
- what it prints through `sys.stdout` is counted and capped per run (raw writes to the
  file descriptors go to a pipe the parent drains and caps); each case runs under a timer.

The confinement runs as a `preexec_fn`: safe in a
single-threaded grader; in a threaded one it relies on fork copying no held lock that
the confinement needs (it only calls libc through ctypes, `os` and `resource`).

The parent enforces the wall clock: each test case must report within `case_timeout_s`
(a C-level loop that ignores the timer is killed from outside), the whole run within
`timeout_s`, and at most `result_bytes` may come back. Outputs are compared with the
expected values in the parent, which the child never sees: the value must have the
same type (bool is not int, tuple is not list, 14.0 is not 14) and be equal.

Reward: 1.0 when every case passes. Otherwise `partial_credit * fraction passed`, so
the default `partial_credit=0.0` is all-or-nothing (the notes' exact-match verdict) and
`partial_credit=1.0` pays the fraction of cases passed (a denser RL signal that also pays
for special-casing the visible examples; use with care). Statuses, for eval breakdowns:
- `correct`; `wrong_answer`: it ran, and a case returned a wrong value or raised;
- `exec_error:refused`: the sandbox refused something (an import, a file, a process...);
- `exec_error:timeout`: a case or the run hit its time or CPU limit;
- `exec_error:output_limit`: it printed or returned too much;
- `exec_error:crash`: the process died (memory exhausted in C, a signal, ...);
- `exec_error:load`: the module raised while loading, or the function is missing;
- `exec_error:sandbox`: the sandbox itself could not run (or a test case was not plain data);
- `parse_failure`: no code, a syntax error, or no top-level definition of the function.

Nothing here raises for any model text, and the temporary directory is always removed.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import functools
import json
import math
import os
import re
import resource
import secrets
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._sandbox_harness import decode, encode
from .errors import ParseFailure, ParseReason, UsageError
from .grade import CORRECT, EXEC_ERROR_PREFIX, PARSE_FAILURE, WRONG_ANSWER, Grade

ALLOWED_IMPORTS = frozenset({
    "math", "cmath", "re", "string", "collections", "itertools", "functools", "operator",
    "heapq", "bisect", "fractions", "decimal", "numbers", "typing", "dataclasses", "enum",
    "statistics", "copy", "array",
})


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """Bounds of one sandboxed run (all test cases of one answer)."""

    case_timeout_s: float = 2.0  # wall clock per test case (and for loading the module)
    timeout_s: float = 10.0  # wall clock for the whole run, interpreter start included
    cpu_s: int = 10  # RLIMIT_CPU for the whole process
    memory_bytes: int = 512 * 2**20  # RLIMIT_AS
    file_bytes: int = 2**20  # RLIMIT_FSIZE
    open_files: int = 32  # RLIMIT_NOFILE
    output_bytes: int = 64 * 2**10  # what the code may print, per run
    result_bytes: int = 2**20  # what may come back from the child, all cases together
    max_code_chars: int = 50_000
    allowed_imports: frozenset[str] = ALLOWED_IMPORTS
    # Whether the model code may compile text at run time (eval, exec, compile of a string).
    # Off: an answer must compute, not hand the problem to Python's own evaluator.
    allow_eval: bool = False
    drop_privileges: bool = True  # as root: run under a fresh random uid
    python: str | None = None  # the interpreter; None: this one, or a same-version one others can run


DEFAULT_SANDBOX = SandboxLimits()

Case = tuple[Sequence[Any], Any]  # (positional arguments, expected return value)


@dataclass(frozen=True, slots=True)
class CaseResult:
    """`status`: passed, wrong, error:<Exception>, refused, timeout, output_limit, crash,
    bad_result (not plain data, or too large), not_run (after the first failure)."""

    index: int
    status: str
    got: str | None = None  # repr of the returned value, truncated

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True, slots=True)
class CodeResult:
    grade: Grade
    cases: tuple[CaseResult, ...] = ()
    mechanisms: tuple[str, ...] = ()
    message: str = ""
    code: str | None = None  # the extracted source

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.cases)

    @property
    def total(self) -> int:
        return len(self.cases)

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.cases else 0.0


# ---------------------------------------------------------------- extracting the code

_FENCE_BLOCK = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
_OPEN_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n", re.MULTILINE)
_CODE_START = re.compile(r"^(?:async\s+def|def|class|import|from|@)\b|^[A-Za-z_]\w*\s*=", re.MULTILINE)


def extract_code(text: str, function: str) -> str | None:
    """The source that defines `function`: a fenced block, or the code part of plain text."""
    blocks = [m.group(2) for m in _FENCE_BLOCK.finditer(text)]
    if not blocks:
        opened = _OPEN_FENCE.search(text)  # an unterminated fence: the rest is code
        if opened is not None:
            blocks = [text[opened.end():]]
    if blocks:
        defining = [b for b in blocks if _defines(b, function)]
        return defining[0] if defining else None
    start = _CODE_START.search(text)
    if start is None:
        return None
    lines = text[start.start():].splitlines()
    # Plain text: drop trailing prose lines until what is left parses.
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end]) + "\n"
        if _parse(candidate) is not None:
            return candidate if _defines(candidate, function) else None
        if len(lines) - end > 50:
            break
    return "\n".join(lines) + "\n"


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


def _defines(source: str, function: str) -> bool:
    tree = _parse(source)
    if tree is None:
        return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(function)}\s*\(", source, re.M) is not None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            return True
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == function for t in node.targets):
            return True
    return False


# ---------------------------------------------------------------- comparing values


def same(got: Any, expected: Any) -> bool:
    """Exact comparison: same type all the way down, and equal."""
    if type(got) is not type(expected):
        return False
    if isinstance(got, list | tuple):
        return len(got) == len(expected) and all(same(a, b) for a, b in zip(got, expected, strict=True))
    if isinstance(got, dict):
        return got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in got)
    if isinstance(got, float):
        return got == expected or (math.isnan(got) and math.isnan(expected))
    return bool(got == expected)


# ---------------------------------------------------------------- confinement (fork -> exec)

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on x86_64 and aarch64
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_FS_EXECUTE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 2, 1 << 3
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_RIGHTS = _FS_EXECUTE | (1 << 1) | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_HARNESS = Path(__file__).with_name("_sandbox_harness.py")
_SYSTEM_LIBS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        return libc
    except (OSError, AttributeError):
        return None


def _landlock_abi() -> int:
    libc = _libc()
    if libc is None or not sys.platform.startswith("linux"):
        return 0
    try:
        abi = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                           ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(0, int(abi))


@dataclass
class _Confiner:
    """The preexec function: runs in the child after fork, before exec. Must never raise."""

    limits: SandboxLimits
    workdir: str
    read_roots: tuple[str, ...]
    uid: int | None
    report_fd: int
    abi: int
    applied: list[str] = field(default_factory=list)

    def __call__(self) -> None:
        for step in (self._rlimits, self._netns, self._no_new_privs, self._landlock, self._drop_uid,
                     self._death_signal):
            with contextlib.suppress(BaseException):  # a missing layer is reported, not fatal
                step()
        with contextlib.suppress(BaseException):
            os.write(self.report_fd, ("M " + ",".join(self.applied) + "\n").encode())

    def _rlimits(self) -> None:
        lim = self.limits
        cpu = max(1, int(math.ceil(lim.cpu_s)))
        for which, value in ((resource.RLIMIT_CPU, (cpu, cpu + 1)),
                             (resource.RLIMIT_AS, (lim.memory_bytes, lim.memory_bytes)),
                             (resource.RLIMIT_FSIZE, (lim.file_bytes, lim.file_bytes)),
                             (resource.RLIMIT_NOFILE, (lim.open_files, lim.open_files)),
                             (resource.RLIMIT_CORE, (0, 0)),
                             (resource.RLIMIT_NPROC, (1, 1))):
            resource.setrlimit(which, value)
        self.applied.append("rlimits")

    def _netns(self) -> None:
        libc = _libc()
        if libc is None:
            return
        if libc.unshare(_CLONE_NEWNET) == 0 or (
                os.geteuid() != 0 and libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0):
            self.applied.append("netns")

    def _no_new_privs(self) -> None:
        libc = _libc()
        if libc is not None and libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
            self.applied.append("no-new-privs")

    def _landlock(self) -> None:
        libc, abi = _libc(), self.abi
        if libc is None or abi < 1 or "no-new-privs" not in self.applied:
            return
        fs = (1 << 13) - 1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0) \
            | (_FS_IOCTL_DEV if abi >= 5 else 0)
        attr = _RulesetAttr(fs, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
                            _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0)
        size = 24 if abi >= 6 else 16 if abi >= 4 else 8
        ruleset = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr),
                               ctypes.c_size_t(size), ctypes.c_uint32(0))
        if ruleset < 0:
            return
        try:
            read = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
            rules = [(p, read) for p in self.read_roots] + [(self.workdir, fs)]
            for path, access in rules:
                self._allow(libc, ruleset, path, access)
            if libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) == 0:
                self.applied.append(f"landlock-v{abi}")
        finally:
            os.close(ruleset)

    @staticmethod
    def _allow(libc: Any, ruleset: int, path: str, access: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                access &= _FILE_RIGHTS
            rule = _PathBeneathAttr(access, fd)
            libc.syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                         ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0))
        finally:
            os.close(fd)

    def _drop_uid(self) -> None:
        if self.uid is None:
            return
        os.setgroups([])
        os.setgid(self.uid)
        os.setuid(self.uid)
        self.applied.append(f"uid-{self.uid}")

    def _death_signal(self) -> None:
        libc = _libc()
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# ---------------------------------------------------------------- choosing the interpreter


@dataclass(frozen=True, slots=True)
class _Interpreter:
    path: str
    read_roots: tuple[str, ...]  # what Landlock lets it read
    others_can_run: bool  # whether a fresh uid can execute it and read its library


def _others_can_reach(path: str) -> bool:
    p = Path(path)
    try:
        for part in [p, *p.parents]:
            mode = part.stat().st_mode
            if not mode & stat.S_IXOTH:
                return False
        return True
    except OSError:
        return False


@functools.lru_cache(maxsize=8)
def _interpreter(choice: str | None) -> _Interpreter | None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [choice] if choice else [
        os.path.realpath(sys.executable), f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    found: list[_Interpreter] = []
    for path in candidates:
        info = _probe(path, version if not choice else None)
        if info is not None:
            found.append(info)
            if info.others_can_run:
                return info
    return found[0] if found else None


def _probe(path: str, version: str | None) -> _Interpreter | None:
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        return None
    script = ("import json, os, sys; print(json.dumps([sys.base_prefix, os.path.dirname(os.__file__),"
              " '%d.%d' % sys.version_info[:2]]))")
    try:
        out = subprocess.run([path, "-I", "-S", "-c", script], capture_output=True, text=True,
                             timeout=20, env={"PATH": "/usr/bin:/bin"}, check=True).stdout
        prefix, stdlib, got = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if version is not None and got != version:
        return None
    real = os.path.realpath(path)
    roots = tuple(dict.fromkeys([real, os.path.realpath(prefix), os.path.realpath(stdlib),
                                 *(p for p in _SYSTEM_LIBS if os.path.exists(p))]))
    return _Interpreter(real, roots, _others_can_reach(real) and _others_can_reach(stdlib))


# ---------------------------------------------------------------- running


def run_code(text: Any, function: str, cases: Sequence[Case], *,
             limits: SandboxLimits = DEFAULT_SANDBOX, partial_credit: float = 0.0) -> CodeResult:
    """Extract `function` from model text and run it against `cases` in the sandbox."""
    if not isinstance(text, str) or not text.strip():
        return _parse_failure(ParseReason.EMPTY, "no model output")
    if len(text) > limits.max_code_chars:
        return _parse_failure(ParseReason.TOO_LARGE,
                              f"{len(text)} characters (limit {limits.max_code_chars})")
    source = extract_code(text, function)
    if source is None:
        return _parse_failure(ParseReason.NOT_A_TRACE, f"no code defining {function}() found")
    if _parse(source) is None:
        return _parse_failure(ParseReason.NOT_A_TRACE, "the code does not parse", source)
    if not _defines(source, function):
        return _parse_failure(ParseReason.NOT_A_TRACE, f"the code defines no {function}()", source)
    return run_source(source, function, cases, limits=limits, partial_credit=partial_credit)


def grade_code(text: Any, function: str, cases: Sequence[Case], *,
               limits: SandboxLimits = DEFAULT_SANDBOX, partial_credit: float = 0.0) -> Grade:
    """`run_code(...).grade`: 1.0 only if every case passes (see the module docstring)."""
    return run_code(text, function, cases, limits=limits, partial_credit=partial_credit).grade


def run_source(source: str, function: str, cases: Sequence[Case], *,
               limits: SandboxLimits = DEFAULT_SANDBOX, partial_credit: float = 0.0) -> CodeResult:
    """Run already-extracted source. Never raises; always removes its temporary directory."""
    if not cases:
        return CodeResult(Grade(EXEC_ERROR_PREFIX + "sandbox", 0.0), message="no test cases", code=source)
    try:
        job_cases = [json.loads(json.dumps(encode(tuple(args)))) for args, _ in cases]
        expected = [exp for _, exp in cases]
        for e in expected:
            encode(e)
    except (ValueError, TypeError) as err:
        return CodeResult(Grade(EXEC_ERROR_PREFIX + "sandbox", 0.0), message=f"bad test case: {err}",
                          code=source)
    workdir = None
    try:
        workdir = tempfile.mkdtemp(prefix="tasklang-sandbox-")
        return _run(source, function, job_cases, expected, limits, partial_credit, workdir)
    except Exception as err:  # the sandbox itself failed; the model gets nothing, we never raise
        return CodeResult(Grade(EXEC_ERROR_PREFIX + "sandbox", 0.0), message=f"sandbox error: {err!r}",
                          code=source)
    finally:
        if workdir is not None:
            _remove(workdir)


def cases_from_records(records: Sequence[Mapping[str, Any]], arg: str = "e",
                       convert: Callable[[str], Any] = int) -> list[Case]:
    """Test cases from compiled exact-text records (tasks/procedural): the payload value
    `arg` is the one argument, `convert(answer)` the expected value. E.g. RPN records give
    `(("3 4 + 2 *",), 14)`; for brackets pass `convert=lambda a: a == "True"`. A record's
    `payload` is JSON text (tasklang.record); an already decoded mapping is accepted too."""
    return [((_payload(r)[arg],), convert(r["answer"])) for r in records]


def _payload(record: Mapping[str, Any]) -> Mapping[str, Any]:
    payload = record["payload"]
    return json.loads(payload) if isinstance(payload, str) else payload


def record_cases(record: Mapping[str, Any]) -> list[Case]:
    """The test cases of a compiled code-answer record (`tasklang compile`): its `tests`, a
    list of `{"args": <JSON list>, "expected": <JSON value>}` (JSON text, so that the column
    types are the same in every record). UsageError if they are malformed."""
    tests = record.get("tests")
    if not isinstance(tests, list) or not tests:
        raise UsageError('"tests" must be a non-empty list of {"args", "expected"}')
    cases: list[Case] = []
    for i, test in enumerate(tests):
        try:
            args, expected = json.loads(test["args"]), json.loads(test["expected"])
        except (TypeError, KeyError, ValueError) as err:
            raise UsageError(f'"tests"[{i}]: not {{"args": JSON text, "expected": JSON text}} '
                             f"({type(err).__name__})") from None
        if not isinstance(args, list):
            raise UsageError(f'"tests"[{i}]: "args" must be a JSON list')
        cases.append((tuple(args), expected))
    return cases


def grade_record(text: Any, record: Mapping[str, Any], *, limits: SandboxLimits = DEFAULT_SANDBOX,
                 partial_credit: float = 0.0) -> CodeResult:
    """Run model text against a code-answer record's own test cases:
    `run_code(text, record["function"], record_cases(record))`. UsageError for a record that
    is not a code-answer record; model text never raises."""
    function = record.get("function")
    if not isinstance(function, str) or not function.isidentifier():
        raise UsageError('"function" must be the name of the function to test')
    return run_code(text, function, record_cases(record), limits=limits,
                    partial_credit=partial_credit)


def mechanisms(limits: SandboxLimits = DEFAULT_SANDBOX) -> tuple[str, ...]:
    """The isolation layers a run gets on this machine (runs a trivial function)."""
    return run_source("def f():\n    return 1\n", "f", [((), 1)], limits=limits).mechanisms


def _run(source: str, function: str, job_cases: list[Any], expected: list[Any], limits: SandboxLimits,
         partial_credit: float, workdir: str) -> CodeResult:
    interp = _interpreter(limits.python)
    if interp is None:
        return CodeResult(Grade(EXEC_ERROR_PREFIX + "sandbox", 0.0), message="no usable interpreter")
    uid = None
    if limits.drop_privileges and os.geteuid() == 0 and interp.others_can_run \
            and _others_can_reach(os.path.dirname(workdir)):
        uid = (1 << 20) + secrets.randbelow(1 << 29)  # unique: RLIMIT_NPROC counts per uid
    job = {"source": source, "function": function, "cases": job_cases,
           "allowed_imports": sorted(limits.allowed_imports), "output_bytes": limits.output_bytes,
           "case_timeout_s": limits.case_timeout_s, "max_value_chars": limits.result_bytes // 4,
           "allow_eval": limits.allow_eval}
    Path(workdir, "job.json").write_text(json.dumps(job), encoding="utf-8")
    shutil.copyfile(_HARNESS, Path(workdir, "harness.py"))
    if uid is not None:
        for p in (workdir, f"{workdir}/job.json", f"{workdir}/harness.py"):
            os.chown(p, uid, uid)
    fds: list[int] = []
    try:
        result_r, result_w = os.pipe()
        fds += [result_r, result_w]
        output_r, output_w = os.pipe()  # stdout and stderr: drained and capped by the parent
        fds += [output_r, output_w]
        confiner = _Confiner(limits, workdir, interp.read_roots, uid, result_w, _landlock_abi())
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LC_ALL": "C.UTF-8",
               "LANG": "C.UTF-8"}
        proc = subprocess.Popen(
            [interp.path, "-I", "-S", "harness.py", str(result_w)], cwd=workdir, env=env,
            stdin=subprocess.DEVNULL, stdout=output_w, stderr=output_w, pass_fds=(result_w,),
            close_fds=True, start_new_session=True, preexec_fn=confiner)
        for fd in (result_w, output_w):
            os.close(fd)
            fds.remove(fd)
        try:
            # All-or-nothing grading stops at the first failed case: a hostile answer costs little.
            run = _Collector(expected, limits, stop_early=partial_credit == 0)
            run.collect(result_r, output_r)
        finally:
            _kill(proc)
    finally:
        for fd in fds:
            os.close(fd)
    return _result(run, partial_credit, source)


class _Collector:
    """Reads the child's messages until every case reported, a deadline passed, the child
    died, it printed or returned too much, or (with `stop_early`) a case failed."""

    STARTUP_S = 3.0  # interpreter start and preloading, before the first deadline
    GRACE_S = 0.5  # the child's own timer fires first; this is for code that ignores it

    def __init__(self, expected: list[Any], limits: SandboxLimits, stop_early: bool) -> None:
        self.expected, self.limits, self.stop_early = expected, limits, stop_early
        self.mechanisms: list[str] = []
        self.loaded: dict[str, Any] | None = None
        self.cases: dict[int, CaseResult] = {}
        self.ended = ""  # why collection stopped
        self.output = b""  # the first bytes the child printed on its own stdout/stderr
        self.output_size = 0
        self.result_size = 0

    def collect(self, result_fd: int, output_fd: int) -> None:
        start = time.monotonic()
        overall = start + self.limits.timeout_s
        self.deadline = start + self.STARTUP_S + self.limits.case_timeout_s
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(result_fd, selectors.EVENT_READ)
            sel.register(output_fd, selectors.EVENT_READ)
            while not self.ended:
                now = time.monotonic()
                if now >= min(self.deadline, overall):
                    self.ended = "timeout"
                    break
                for key, _ in sel.select(min(self.deadline, overall) - now):
                    chunk = os.read(key.fd, 65536)
                    if key.fd == output_fd:
                        self._output(chunk, sel, output_fd)
                        continue
                    if not chunk:
                        self.ended = "crash"  # the child exited or died before finishing
                        break
                    self.result_size += len(chunk)
                    if self.result_size > self.limits.result_bytes:
                        self.ended = "output_limit"
                        break
                    *lines, buf = (buf + chunk).split(b"\n")
                    for line in lines:
                        self._message(line)
                        if self.ended:
                            break

    def _output(self, chunk: bytes, sel: selectors.BaseSelector, fd: int) -> None:
        if not chunk:
            sel.unregister(fd)
            return
        self.output_size += len(chunk)
        self.output = (self.output + chunk)[:2000]
        if self.output_size > self.limits.output_bytes:
            self.ended = "output_limit"

    def _message(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace")
        if text.startswith("M ") and not self.mechanisms:
            self.mechanisms = [m for m in text[2:].split(",") if m]
            return
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        if "loaded" in msg and self.loaded is None:
            self.loaded = msg
            if not msg["loaded"]:
                self.ended = "load"
        elif isinstance(msg.get("i"), int) and 0 <= msg["i"] < len(self.expected) \
                and msg["i"] not in self.cases:
            case = _case(msg, self.expected[msg["i"]])
            self.cases[case.index] = case
            if len(self.cases) == len(self.expected):
                self.ended = "done"
            elif self.stop_early and not case.passed:
                self.ended = "failed"
        else:
            return
        self.deadline = time.monotonic() + self.limits.case_timeout_s + self.GRACE_S


# A case that never reported, by why the run ended; and the status of a failed run.
_MISSING = {"timeout": "timeout", "crash": "crash", "output_limit": "output_limit"}
_FAILED = {"timeout": "timeout", "crash": "crash", "output_limit": "output_limit",
           "refused": "refused"}


def _result(run: _Collector, partial_credit: float, source: str) -> CodeResult:
    missing = _MISSING.get(run.ended, "not_run")
    cases = tuple(run.cases.get(i, CaseResult(i, missing)) for i in range(len(run.expected)))
    mechs = tuple(run.mechanisms + (["audit-hook", "import-guard"] if run.loaded else []))
    passed = sum(c.passed for c in cases)
    if run.loaded is None or not run.loaded.get("loaded"):
        if run.loaded is None:
            status = _FAILED.get(run.ended, "crash")
            message = f"the sandbox gave no answer ({run.ended})"
            if run.output:
                message += ": " + run.output.decode("utf-8", "replace")[-300:]
        else:
            status = "refused" if run.loaded.get("refused") else "load"
            message = f"{run.loaded.get('error')}: {run.loaded.get('message')}"
        return CodeResult(Grade(EXEC_ERROR_PREFIX + status, 0.0), cases, mechs, message, source)
    if passed == len(cases):
        return CodeResult(Grade(CORRECT, 1.0), cases, mechs, "all cases passed", source)
    first = next(c for c in cases if not c.passed)
    status = EXEC_ERROR_PREFIX + _FAILED[first.status] if first.status in _FAILED else WRONG_ANSWER
    reward = float(partial_credit) * passed / len(cases)
    return CodeResult(Grade(status, reward), cases, mechs, f"{passed}/{len(cases)} cases passed", source)


def _case(msg: dict[str, Any], expected: Any) -> CaseResult:
    i, status = msg["i"], msg.get("status")
    if status != "ok":
        return CaseResult(i, str(status)[:80])
    try:
        got = decode(json.loads(msg.get("value", "")))
    except (ValueError, TypeError, KeyError, IndexError, RecursionError):
        return CaseResult(i, "bad_result")
    shown = repr(got)[:200]
    return CaseResult(i, "passed" if same(got, expected) else "wrong", shown)


def _parse_failure(reason: ParseReason, message: str, source: str | None = None) -> CodeResult:
    return CodeResult(Grade(PARSE_FAILURE, 0.0, error=ParseFailure(reason, message)), message=message,
                      code=source)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process group while the leader is still unreaped (its id cannot be reused)."""
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), lambda: os.kill(proc.pid, signal.SIGKILL)):
        with contextlib.suppress(OSError):
            kill()
    with contextlib.suppress(Exception):
        proc.wait(timeout=5)


def _remove(workdir: str) -> None:
    def unlock(func: Any, path: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(path), 0o700)
            os.chmod(path, 0o700)
            func(path)

    shutil.rmtree(workdir, onerror=unlock)
    if os.path.exists(workdir):
        shutil.rmtree(workdir, ignore_errors=True)
