"""Session fixtures shared by every test directory: the shipped library, checked and compiled
once.

Compiling all of tasks/ costs about 12 CPU seconds (checks and a 1,000-sample preflight per
pattern, whatever the split sizes); eight tests used to pay it each. Now the library is built
twice per session at most: `compiled_library` through the API with one worker, and
`compiled_library_again` as differently as the bytes must not care (the CLI, two workers,
another working directory), for the tests that compare two builds. The folders are shared:
tests read them and never write into them.
"""

from __future__ import annotations

from contextlib import chdir
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
TASKS = REPO / "tasks"


@dataclass(frozen=True)
class LibraryBuild:
    out: Path  # the OUT folder: one folder per dataset, nothing else
    dirs: dict[str, Path]  # dataset name -> its folder, in the order the compiler built them
    output: str  # what the CLI printed on stdout (empty for the API build)
    diagnostics: tuple[Any, ...] = ()  # the API build's warnings (Diagnostic records)


@pytest.fixture(scope="session")
def checked_library() -> Any:
    """`tasklang.api.check` of all of tasks/ (about 2 s), once per session. Read it only."""
    from tasklang import api

    with chdir(REPO):
        return api.check([str(TASKS)])


@pytest.fixture(scope="session")
def compiled_library(tmp_path_factory: pytest.TempPathFactory) -> LibraryBuild:
    """Every dataset of tasks/, compiled through `tasklang.api.compile_paths` (one worker)."""
    from tasklang import api

    out = tmp_path_factory.mktemp("library") / "out"
    with chdir(REPO):
        checked, results = api.compile_paths([str(TASKS)], out)
    assert checked.ok, [d.headline() for d in checked.diagnostics if d.is_error]
    assert results and all(r.ok for r in results), [
        d.headline() for r in results for d in r.diagnostics]
    return LibraryBuild(out, {r.dataset: out / r.dataset for r in results}, "",
                        tuple(checked.diagnostics) + tuple(d for r in results for d in r.diagnostics))


@pytest.fixture(scope="session")
def compiled_library_again(tmp_path_factory: pytest.TempPathFactory) -> LibraryBuild:
    """tasks/ compiled a second time by `tasklang compile tasks/ -o OUT --workers 2`, run from
    a working directory outside the repository."""
    import json

    from click.testing import CliRunner

    from tasklang.cli import main

    root = tmp_path_factory.mktemp("library_again")
    out = root / "out"
    with chdir(root):
        result = CliRunner().invoke(main, ["compile", str(TASKS), "-o", str(out), "--workers",
                                           "2", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return LibraryBuild(out, {d["name"]: out / d["name"] for d in data["datasets"]},
                        result.stdout)
