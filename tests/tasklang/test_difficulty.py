"""`difficulty N` / `difficulty lo..hi` on a pattern (tasklang/difficulty.py): parsed, checked
with positioned diagnostics, and written into every record of the pattern and the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import check_text, compile_file, error_codes, read_jsonl, write

BODY = """
    let a = int 2..9
    template "Ann has {a} pens and buys {a} more. How many pens now?"
    answer "{a}"
"""


def _pattern(name: str, difficulty: str, family: str = "") -> str:
    return f"pattern {name} {family}{{\n    {difficulty}\n{BODY}}}\n"


def test_a_constant_a_range_and_a_family_member_are_accepted(tmp_path) -> None:
    text = (_pattern("one", "difficulty 2") + _pattern("span", "difficulty 1..3")
            + _pattern("fam", "difficulty n - 1", "for n in 2, 3, 4 "))
    checked = check_text(tmp_path, text)
    assert error_codes(checked.diagnostics) == []


@pytest.mark.parametrize(("statement", "code", "message"), [
    ("difficulty a", "bad-difficulty", "difficulty of p reads a"),
    ("difficulty 3..1", "bad-difficulty", "range 3..1 of p is empty"),
    ("difficulty 2000", "bad-difficulty", "difficulty of p is 2000"),
    ('difficulty "hard"', "bad-difficulty", "is not a number"),
    ("difficulty 1 / 0", "bad-difficulty", "cannot be computed"),
    ("difficulty 1\n    difficulty 2", "duplicate-difficulty", "states its difficulty twice"),
])
def test_bad_difficulties_are_positioned_errors(tmp_path, statement, code, message) -> None:
    checked = check_text(tmp_path, _pattern("p", statement))
    found = [d for d in checked.diagnostics if d.code == code]
    assert len(found) == 1 and message in found[0].message, [str(d) for d in checked.diagnostics]
    assert found[0].span.line in (2, 3) and found[0].span.col > 1


def test_a_family_reports_a_bad_difficulty_once_under_its_own_name(tmp_path) -> None:
    checked = check_text(tmp_path, _pattern("fam", "difficulty m", "for n in 2, 3 "))
    found = [d for d in checked.diagnostics if d.code == "bad-difficulty"]
    assert len(found) == 1 and "difficulty of fam reads m" in found[0].message
    assert "family's variable n" in found[0].notes[0]


def _dataset(patterns: str) -> str:
    return f"dataset d {{\n    patterns {patterns}\n    split train 12\n    split val 4\n}}\n"


def test_records_and_manifest_carry_each_patterns_range(tmp_path) -> None:
    text = (_pattern("plain", "note \"no difficulty\"") + _pattern("span", "difficulty 1..2.5")
            + _pattern("fam", "difficulty n * 2", "for n in 1, 2 ") + _dataset("plain, span, fam"))
    checked, results = compile_file(write(tmp_path, text), tmp_path / "out")
    assert checked.ok and results and all(r.ok for r in results)
    rows = read_jsonl(tmp_path / "out" / "d" / "train.jsonl")
    seen = {r["pattern"]: r.get("difficulty") for r in rows}
    assert seen == {"plain": None, "span": [1, 2.5], "fam_1": [2, 2], "fam_2": [4, 4]}
    manifest = json.loads((tmp_path / "out" / "d" / "manifest.json").read_text())
    assert manifest["difficulty"] == {"span": [1, 2.5], "fam_1": [2, 2], "fam_2": [4, 4]}


def test_a_dataset_without_difficulty_is_unchanged(tmp_path: Path) -> None:
    checked, results = compile_file(write(tmp_path, _pattern("plain", "note \"x\"") + _dataset("plain")),
                                    tmp_path / "out")
    assert checked.ok and results
    assert all(r["difficulty"] is None for r in read_jsonl(tmp_path / "out" / "d" / "train.jsonl"))
    assert "difficulty" not in json.loads((tmp_path / "out" / "d" / "manifest.json").read_text())


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 1000), st.integers(0, 1000))
def test_any_ordered_constant_range_is_accepted_and_a_reversed_one_refused(tmp_path_factory, a, b) -> None:
    tmp = tmp_path_factory.mktemp("d")
    checked = check_text(tmp, _pattern("p", f"difficulty {a}..{b}"))
    assert (error_codes(checked.diagnostics) == []) == (a <= b)
