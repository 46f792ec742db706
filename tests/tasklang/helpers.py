"""Helpers of the tasklang tests: writing .task snippets, checking and compiling them."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

from tasklang import api
from tasklang.diagnostics import Diagnostic

REPO = Path(__file__).resolve().parents[2]
TASKS = REPO / "tasks"
SHIPPED = sorted(TASKS.rglob("*.task"))
GOLDEN = Path(__file__).resolve().parent / "golden"
BROKEN = Path(__file__).resolve().parent / "broken"


def write(tmp: Path, text: str, name: str = "t.task") -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def codes(diags: list[Diagnostic]) -> list[str]:
    return sorted(d.code for d in diags)


def error_codes(diags: list[Diagnostic]) -> list[str]:
    return sorted(d.code for d in diags if d.is_error)


def check_text(tmp: Path, text: str) -> api.Checked:
    return api.check([str(write(tmp, text))])


def compile_file(path: Path, out: Path, workers: int = 1) -> tuple[api.Checked, list[Any]]:
    return api.compile_paths([str(path)], out, workers)


def all_diagnostics(checked: api.Checked, results: list[Any]) -> list[Diagnostic]:
    return list(checked.diagnostics) + [d for r in results for d in r.diagnostics]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path -> bytes), hidden ones included."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def shrink_splits(text: str, size: int) -> str:
    """The same .task text with every split at most `size` examples (fast compiles)."""
    return re.sub(r"(split\s+\w+\s+)(\d+)", lambda m: m.group(1) + str(min(size, int(m.group(2)))),
                  text)


def support_files(src: Path) -> list[Path]:
    """Files under `src` that .task files name besides vocabularies: tokenizers
    (`tokenizer "tokenizer.json"` is relative to the .task file) and the reference solutions
    of code answers (`reference "code/evaluate_rpn.py"`)."""
    return sorted([*src.rglob("*.json"), *src.rglob("*.py")])


def copy_tasks(src: Path, dest: Path, size: int | None = None, seed: int | None = None
               ) -> list[Path]:
    """Copy every .task file under `src` into `dest` (relative imports keep working),
    optionally with smaller splits or another seed, with their support files. Returns the
    .task copies."""
    for f in support_files(src):
        target = dest / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.read_bytes())
    out = []
    for f in sorted(src.rglob("*.task")):
        text = f.read_text(encoding="utf-8")
        if size is not None:
            text = shrink_splits(text, size)
        if seed is not None:
            text = re.sub(r"\bseed\s+\d+", f"seed {seed}", text)
        target = dest / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        out.append(target)
    return out
