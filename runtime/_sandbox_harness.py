"""The sandbox harness: runs inside the sandboxed child as `python -I -S harness.py FD`.

runtime/sandbox.py copies this file into the run's temporary directory with `job.json`
(the model's source, the function name, the test inputs and the limits). It imports only
the standard library. It loads everything the model code may import, then installs an
audit hook that cannot be removed, then runs the code and reports one JSON line per
test case on file descriptor FD. Expected outputs never enter the child: the parent
compares. `encode`/`decode` are shared with the parent (a tagged JSON form that keeps
bool/int/float and tuple/list apart).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import signal
import sys
from typing import Any

# Audit events refused once the model code runs (prefix match). `open` refuses every file
# (the model code needs none), `import` loading any module not already loaded.
DENIED_EVENTS = (
    "open", "import", "gc.", "sys._current_frames",
    "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "os.kill",
    "os.killpg", "os.startfile", "os.putenv", "os.unsetenv", "os.remove", "os.rmdir",
    "os.rename", "os.link", "os.symlink", "os.truncate", "os.chmod", "os.chown", "os.chflags",
    "os.lchflags", "os.setxattr", "os.removexattr", "os.getxattr", "os.listxattr", "os.mkdir",
    "os.listdir", "os.scandir", "os.chdir", "os.utime", "os.add_dll_directory",
    "subprocess.", "socket.", "ctypes.", "_ctypes.", "mmap.", "resource.", "shutil.", "pty.",
    "signal.", "fcntl.", "glob.", "winreg.", "code.__new__", "sys.addaudithook",
    "sys.setprofile", "sys.settrace", "cpython.remote_debugger",
)


def make_hook(denied: tuple[str, ...], compilers: frozenset[str] | None = None) -> Any:
    """The audit hook. It is kept nowhere the model code can reach, its only state is its
    defaults, and it calls nothing the model code could monkeypatch (no module globals).

    With `compilers` (files of the standard library), text is compiled only when those
    files ask for it, from inside themselves: `@dataclass` and `namedtuple` build their
    methods from source, but `eval`, `exec` or `compile` of a string written or chosen by
    the model code (directly, or through typing's string annotations) is refused. A task
    that asks for a parser "without eval" is otherwise solved by `return eval(expression)`."""

    def hook(event: str, args: tuple[Any, ...], _denied: tuple[str, ...] = denied,
             _startswith: Any = str.startswith, _refuse: type[Exception] = PermissionError,
             _compilers: frozenset[str] | None = compilers, _frame: Any = sys._getframe) -> None:
        if _startswith(event, _denied):
            raise _refuse("sandbox: " + event + " refused")
        if event == "compile" and _compilers is not None:
            # The caller, and for a private function its caller too (a direct call of
            # dataclasses' `_create_fn` from the model code is not `@dataclass`).
            caller = _frame(1)
            outer = caller.f_back if _startswith(caller.f_code.co_name, "_") else caller
            if caller.f_code.co_filename not in _compilers or outer is None \
                    or outer.f_code.co_filename not in _compilers:
                raise _refuse("sandbox: compiling text at run time (eval, exec, compile) refused")

    return hook


COMPILING_MODULES = ("dataclasses", "collections")  # build methods from source text


def encode(value: Any, depth: int = 0) -> Any:
    """A JSON-able form that keeps types; ValueError for anything but plain data."""
    if depth > 20:
        raise ValueError("nested too deeply")
    t = type(value)
    if value is None:
        return ["n"]
    if t in (bool, int, str):
        return [t.__name__[0], value]
    if t is float:
        return ["f", repr(value)]
    if t in (list, tuple):
        return ["l" if t is list else "t", [encode(v, depth + 1) for v in value]]
    if t is dict:
        return ["d", [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]]
    raise ValueError(f"unsupported result type {t.__name__}")


def decode(data: Any) -> Any:
    tag = data[0]
    if tag == "n":
        return None
    if tag in ("b", "i", "s"):
        if type(data[1]) is not {"b": bool, "i": int, "s": str}[tag]:
            raise ValueError("bad value")
        return data[1]
    if tag == "f":
        return float(data[1])
    if tag in ("l", "t"):
        items = [decode(v) for v in data[1]]
        return items if tag == "l" else tuple(items)
    if tag == "d":
        return {decode(k): decode(v) for k, v in data[1]}
    raise ValueError(f"bad tag {tag!r}")


def refused(err: BaseException) -> bool:
    """Whether the sandbox refused something (the audit hook or the import guard)."""
    return isinstance(err, (PermissionError, ImportError)) and str(err).startswith("sandbox:")


class OutputLimit(BaseException):
    pass


class CaseTimeout(BaseException):
    pass


class Sink:
    """sys.stdout/sys.stderr of the model code: counts, keeps nothing, fails past the limit."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size, self.exceeded = limit, 0, False

    def write(self, s: str) -> int:
        self.size += len(s)
        if self.size > self.limit:
            self.exceeded = True
            raise OutputLimit("printed more than the sandbox allows")
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class Harness:
    def __init__(self, fd: int, job: dict[str, Any]) -> None:
        self.fd = fd
        self.job = job
        self.allowed = frozenset(job["allowed_imports"])

    def send(self, obj: dict[str, Any]) -> None:
        data = (json.dumps(obj) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]

    def guarded_import(self, name: str, globals: Any = None, locals: Any = None,
                       fromlist: Any = (), level: int = 0) -> Any:
        if level != 0 or name.split(".")[0] not in self.allowed:
            raise ImportError(f"sandbox: import of {name!r} refused")
        return builtins.__import__(name, globals, locals, fromlist, level)

    def timed(self, fn: Any, *args: Any) -> Any:
        signal.setitimer(signal.ITIMER_REAL, self.job["case_timeout_s"])
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def namespace(self) -> dict[str, Any]:
        """The globals of the model code: a real module `solution` (dataclasses and pickle look
        their class's module up in sys.modules) whose builtins import only allowed modules."""
        safe = dict(builtins.__dict__)
        safe["__import__"] = self.guarded_import
        for name in ("breakpoint", "input", "exit", "quit", "help", "copyright", "credits", "license"):
            safe.pop(name, None)
        module = type(sys)("solution")
        module.__dict__["__builtins__"] = safe
        sys.modules["solution"] = module
        return module.__dict__

    def run(self) -> None:
        for name in sorted(self.allowed):  # loaded now: nothing can be loaded after the hook
            with contextlib.suppress(Exception):
                __import__(name)
        cases = [tuple(decode(a)) for a in self.job["cases"]]
        namespace = self.namespace()
        sink = Sink(self.job["output_bytes"])
        compilers = None
        if not self.job.get("allow_eval", False):
            compilers = frozenset(getattr(sys.modules.get(m), "__file__", None) or "?"
                                  for m in COMPILING_MODULES)
        try:  # before the hook: it refuses compiling text, and this is the harness's own
            code: Any = compile(self.job["source"], "<solution>", "exec")
        except BaseException as err:
            code = err

        def on_alarm(signum: int, frame: Any) -> None:
            raise CaseTimeout()

        signal.signal(signal.SIGALRM, on_alarm)
        sys.stdout = sys.stderr = sink  # type: ignore[assignment]
        sys.stdin = None  # type: ignore[assignment]
        sys.setrecursionlimit(2000)
        sys.addaudithook(make_hook(DENIED_EVENTS, compilers))  # kept nowhere the code can reach
        try:
            if isinstance(code, BaseException):
                raise code
            self.timed(exec, code, namespace)
            fn = namespace.get(self.job["function"])
            if not callable(fn):
                raise NameError(f"the answer defines no function {self.job['function']}")
        except BaseException as err:
            self.send({"loaded": False, "error": type(err).__name__, "message": str(err)[:300],
                       "refused": refused(err)})
            return
        self.send({"loaded": True})
        for i, args in enumerate(cases):
            self.send({"i": i, **self.case(fn, args, sink)})

    def case(self, fn: Any, args: tuple[Any, ...], sink: Sink) -> dict[str, Any]:
        try:
            value = self.timed(fn, *args)
            if sink.exceeded:
                raise OutputLimit()
        except CaseTimeout:
            return {"status": "timeout"}
        except OutputLimit:
            return {"status": "output_limit"}
        except BaseException as err:
            return {"status": "refused" if refused(err) else "error:" + type(err).__name__,
                    "message": str(err)[:200]}
        try:
            out = json.dumps(encode(value))
        except BaseException as err:
            return {"status": "bad_result", "message": str(err)[:200]}
        if len(out) > self.job["max_value_chars"]:
            return {"status": "bad_result", "message": "value too large"}
        return {"status": "ok", "value": out}


def main() -> None:
    fd = int(sys.argv[1])
    try:
        with open("job.json", encoding="utf-8") as fh:
            job = json.load(fh)
        Harness(fd, job).run()
    finally:
        os._exit(0)  # no atexit handlers or finalizers of the model code


if __name__ == "__main__":
    main()
