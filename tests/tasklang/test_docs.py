"""docs/LANGUAGE.md stays true: its `task` examples check (and compile) as the manual says,
and it mentions every diagnostic code, format, function, generator and setting."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tasklang import api
from tasklang.expr import FUNCTIONS
from tasklang.formats import FORMATS
from tasklang.generators import GENERATORS
from tasklang.settings import SETTINGS

from .helpers import REPO
from .test_corpus import COMPILE_CODES, emitted_codes, expectations

MANUAL = REPO / "docs" / "LANGUAGE.md"
TEXT = MANUAL.read_text(encoding="utf-8")
BLOCKS = [(TEXT[: m.start()].count("\n") + 2, m.group(1))
          for m in re.finditer(r"```task\n(.*?)```", TEXT, re.S)]


def test_the_manual_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize(("line", "source"), BLOCKS, ids=[f"line{n}" for n, _ in BLOCKS])
def test_example(line: int, source: str, tmp_path: Path) -> None:
    path = tmp_path / f"example_{line}.task"
    path.write_text(source, encoding="utf-8")
    if 'reference "code/' in source:  # code answers use the shipped reference solutions
        shutil.copytree(REPO / "tasks" / "procedural" / "code", tmp_path / "code")
    want = expectations(path)
    if "dataset " in source and not want or {c for _, _, c in want} & COMPILE_CODES:
        checked, results = api.compile_paths([str(path)], tmp_path / "out")
        diags = list(checked.diagnostics) + [d for r in results for d in r.diagnostics]
        if not want:
            assert results and all(r.ok for r in results)
    else:
        diags = api.check([str(path)]).diagnostics
    got = {(d.span.line, str(d.severity), d.code) for d in diags}
    assert got == want, (f"docs/LANGUAGE.md example at line {line}",
                         [d.headline() for d in diags])


@pytest.mark.parametrize("code", sorted(emitted_codes()))
def test_every_diagnostic_code_is_documented(code: str) -> None:
    assert f"`{code}`" in TEXT


@pytest.mark.parametrize("name", sorted(FORMATS | set(FUNCTIONS) | set(GENERATORS) | set(SETTINGS)))
def test_every_builtin_is_documented(name: str) -> None:
    assert f"`{name}" in TEXT
