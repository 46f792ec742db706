"""Exit codes of every tasklang command, and the errors that map onto them (one home).

    0    ok
    1    the command ran and found problems (diagnostics, bad input lines, failing checks),
         or could not read an input or write an output (missing file, not a directory,
         read-only, disk full, name too long, permission denied, OUT locked by another run)
    2    usage: bad options (click's own code for a bad option is 2 as well; cli._usage_line
         puts click's three-line message on one line)
    3    internal error: a bug in tasklang (one line; TASKLANG_DEBUG=1 shows the traceback)
    130  interrupted (Ctrl-C)
    141  stdout was closed early (`tasklang preview | head`): quiet, like a tool killed by
         SIGPIPE, so that `set -o pipefail` still tells a truncated output apart

`cli._Group.invoke` turns the exceptions below (and any other OSError) into one line on
stderr and these codes; commands raise them instead of exiting themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

OK = 0
FAILED = 1
USAGE = 2
INTERNAL = 3
INTERRUPTED = 130
BROKEN_PIPE = 141  # 128 + SIGPIPE


def reason(err: OSError) -> str:
    """The operating system's words for `err` ("Read-only file system"), without the path."""
    return err.strerror or str(err) or type(err).__name__


class CommandError(Exception):
    """A failure the user can act on: one line `tasklang: error: MESSAGE`, exit `code`."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class InputUnreadable(CommandError):
    def __init__(self, path: str | Path, err: OSError) -> None:
        super().__init__(f"cannot read {path}: {reason(err)}")


class OutputUnwritable(CommandError):
    def __init__(self, path: str | Path, err: OSError) -> None:
        super().__init__(f"cannot write {path}: {reason(err)}")
        self.path, self.err = Path(path), err


class OutputBusy(CommandError):
    def __init__(self, path: str | Path, pid: int | None) -> None:
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"{path} is being written by {who}; try again when it has finished")
        self.pid = pid


def os_error_line(err: OSError) -> str:
    """An OSError nobody wrapped: name the path it concerns when it has one."""
    where = err.filename if err.filename is not None else None
    return f"{os.fsdecode(where)}: {reason(err)}" if where is not None else reason(err)
