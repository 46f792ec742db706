"""Diagnostics: one record type for every problem, rendered as `file:line:col: error[code]: ...`."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Span:
    """Where a construct sits: 1-based line and column, end exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def point(file: str, line: int = 1, col: int = 1) -> Span:
        return Span(file, line, col, line, col + 1)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem in a `.task` file. `code` is stable (scripts and tests key on it)."""

    code: str
    severity: Severity
    message: str
    span: Span
    notes: tuple[str, ...] = field(default=())  # context: rendered `= note: ...`
    helps: tuple[str, ...] = field(default=())  # what to do: rendered `= help: ...`

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def headline(self) -> str:
        s = self.span
        return f"{s.file}:{s.line}:{s.col}: {self.severity}[{self.code}]: {self.message}"

    def to_json(self) -> dict[str, Any]:
        s = self.span
        return {"file": s.file, "line": s.line, "col": s.col, "end_line": s.end_line,
                "end_col": s.end_col, "severity": str(self.severity), "code": self.code,
                "message": self.message, "notes": list(self.notes), "help": list(self.helps)}


Help = str | Iterable[str | None] | None


def _helps(help: Help) -> tuple[str, ...]:
    if help is None:
        return ()
    if isinstance(help, str):
        return (help,)
    return tuple(h for h in help if h)


def error(code: str, message: str, span: Span, *notes: str, help: Help = None) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, span, tuple(notes), _helps(help))


def warning(code: str, message: str, span: Span, *notes: str, help: Help = None) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, message, span, tuple(notes), _helps(help))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The `help:` text for a misspelt name: the closest candidates (difflib, the ratio
    Python's own NameError suggestions use), or None when nothing is close. Case is
    ignored for the match (`Price` finds `price`); the candidate is shown as written."""
    by_lower: dict[str, str] = {}
    for c in candidates:
        if c != name:
            by_lower.setdefault(c.lower(), c)
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    if not close:
        return None
    # Only the near-best: `max_lenght` is `max_length`, not also `max_places`.
    ratio = {c: difflib.SequenceMatcher(None, name.lower(), c).ratio() for c in close}
    close = [c for c in close if ratio[c] >= ratio[close[0]] - 0.1]
    shown = [f"`{by_lower[c]}`" for c in close]
    return "did you mean " + (shown[0] if len(shown) == 1
                              else ", ".join(shown[:-1]) + " or " + shown[-1]) + "?"


@lru_cache(maxsize=16)
def source_lines(text: str) -> tuple[str, ...]:
    """The lines of a source as the parser numbers them: split at "\\n" only, without the "\\r"
    of a CRLF ending. (str.splitlines also breaks at \\r, \\v, \\f, \\x1c-\\x1e, \\x85, \\u2028
    and \\u2029: a file holding one would get its carets drawn under the wrong line.) Split
    once per source: positions are looked up per template and per diagnostic, and splitting
    the file each time made 10,000 templates quadratic."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return tuple(line[:-1] if line.endswith("\r") else line for line in lines)


def render(diag: Diagnostic, sources: dict[str, str] | None = None) -> str:
    """The headline, then the source line with a caret under the span, then notes."""
    lines = [diag.headline()]
    # Only a .task file is ever quoted: the loader reads no other file as a source
    # (tasklang.confine), and this keeps any other text out of an excerpt.
    text = (sources or {}).get(diag.span.file) if diag.span.file.endswith(".task") else None
    if text is not None:
        src_lines = source_lines(text)
        if 1 <= diag.span.line <= len(src_lines):
            src = src_lines[diag.span.line - 1].expandtabs(1)
            width = 1
            if diag.span.end_line == diag.span.line:
                width = max(1, diag.span.end_col - diag.span.col)
            width = min(width, max(1, len(src) - diag.span.col + 1))
            gutter = f"{diag.span.line:>4} | "
            lines.append(gutter + src)
            lines.append(" " * (len(gutter) + diag.span.col - 1) + "^" + "~" * (width - 1))
    lines += [f"     = note: {n}" for n in diag.notes]
    lines += [f"     = help: {h}" for h in diag.helps]
    return "\n".join(lines)


def sort_key(diag: Diagnostic) -> tuple[str, int, int, str]:
    return (diag.span.file, diag.span.line, diag.span.col, diag.code)


def render_all(diags: Iterable[Diagnostic], sources: dict[str, str] | None = None) -> str:
    return "\n".join(render(d, sources) for d in sorted(diags, key=sort_key))


def to_json(diags: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in sorted(diags, key=sort_key)], indent=1)


class TaskError(Exception):
    """Raised with the diagnostics that stopped a stage (the one exception family)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.headline() for d in diagnostics[:3]))
        self.diagnostics = diagnostics


# `# allow: few-template-repeats, raw-float` at the end of a line: the author has seen those
# warnings for what that line declares and accepts them (as ruff's noqa comments accept a lint). Errors can
# never be allowed: they stand for a dataset that would leak, truncate or lie.
_ALLOW = re.compile(r"#.*?\ballow:\s*([a-z0-9\-]+(?:\s*,\s*[a-z0-9\-]+)*)")


def allowed_codes(line: str) -> frozenset[str]:
    """The warning codes an `# allow: a, b` comment on this source line accepts."""
    m = _ALLOW.search(line)
    return frozenset(c.strip() for c in m.group(1).split(",")) if m else frozenset()


def apply_allows(diags: Iterable[Diagnostic], sources: dict[str, str]
                 ) -> tuple[list[Diagnostic], int]:
    """(diagnostics left, warnings allowed): a warning goes when its own line allows its code."""
    lines: dict[str, tuple[str, ...]] = {}
    kept, allowed = [], 0
    for d in diags:
        if not d.is_error and d.span.file in sources:
            text = lines.get(d.span.file)
            if text is None:
                text = lines[d.span.file] = source_lines(sources[d.span.file])
            if 1 <= d.span.line <= len(text) and d.code in allowed_codes(text[d.span.line - 1]):
                allowed += 1
                continue
        kept.append(d)
    return kept, allowed
