"""Golden files: tests/tasklang/golden/<name>.task compiles to exactly golden/<name>/expected/.

The expected directory holds the compiled `*.jsonl` files and `manifest.json`, byte for
byte. After an intended change of the output, regenerate them and review the diff:

    TASKLANG_UPDATE_GOLDEN=1 python -m pytest tests/tasklang/test_golden.py
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from tasklang import api

from .helpers import GOLDEN, REPO, tree_bytes

NAMES = sorted(p.stem for p in GOLDEN.glob("*.task"))
UPDATE = os.environ.get("TASKLANG_UPDATE_GOLDEN") == "1"


def compiled(name: str, out: Path) -> dict[str, bytes]:
    # A path relative to the repository root (the tests' working directory), so the
    # manifest names the files the same way on every machine.
    source = (GOLDEN / f"{name}.task").relative_to(REPO)
    checked, results = api.compile_paths([str(source)], out)
    assert checked.ok, [d.headline() for d in checked.diagnostics]
    assert len(results) == 1 and results[0].ok, [d.headline() for d in results[0].diagnostics]
    assert results[0].out_dir is not None
    return tree_bytes(results[0].out_dir)


def _diff(name: str, want: bytes, got: bytes) -> str:
    lines = difflib.unified_diff(want.decode().splitlines(), got.decode().splitlines(),
                                 "expected/" + name, "compiled/" + name, lineterm="", n=1)
    return "\n".join(list(lines)[:40])


def test_there_are_golden_inputs() -> None:
    assert NAMES, "no golden .task files"


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str, tmp_path: Path) -> None:
    got = compiled(name, tmp_path)
    expected_dir = GOLDEN / name / "expected"
    if UPDATE:
        shutil.rmtree(expected_dir, ignore_errors=True)
        expected_dir.mkdir(parents=True)
        for rel, data in got.items():
            (expected_dir / rel).write_bytes(data)
        return
    assert expected_dir.is_dir(), f"no {expected_dir}: run with TASKLANG_UPDATE_GOLDEN=1"
    want = tree_bytes(expected_dir)
    assert sorted(got) == sorted(want)
    for rel in sorted(want):
        assert got[rel] == want[rel], (
            f"{name}/{rel} differs from the golden file "
            f"(TASKLANG_UPDATE_GOLDEN=1 rewrites it):\n{_diff(rel, want[rel], got[rel])}")


@pytest.mark.parametrize("name", NAMES)
def test_golden_files_are_small(name: str) -> None:
    """Golden datasets stay readable in a diff: a few records each."""
    for path in (GOLDEN / name / "expected").glob("*.jsonl"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 12
