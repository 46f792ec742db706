"""program: paths -> one Program (imports followed once, names global, vocabularies loaded)."""

from __future__ import annotations

from pathlib import Path

from tasklang import api
from tasklang.program import load_program

from .helpers import codes, write

PATTERN = 'pattern {name} {{ let a = int 1..9 template "{{a}}" answer "{{a}}" }}\n'


def test_missing_path(tmp_path: Path) -> None:
    checked = api.check([str(tmp_path / "nope.task")])
    (d,) = checked.diagnostics
    assert d.code == "missing-file" and d.is_error
    assert checked.result is None


def test_directory_without_task_files(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi", encoding="utf-8")
    checked = api.check([str(tmp_path)])
    assert codes(checked.diagnostics) == ["no-task-files"]


def test_directory_is_searched_recursively_in_order(tmp_path: Path) -> None:
    write(tmp_path, PATTERN.format(name="b"), "sub/b.task")
    write(tmp_path, PATTERN.format(name="a"), "a.task")
    program, diags = load_program([str(tmp_path)])
    assert not diags
    assert [Path(r).name for r in program.roots] == ["a.task", "b.task"]
    assert sorted(program.patterns) == ["a", "b"]


def test_imports_are_relative_and_loaded_once(tmp_path: Path) -> None:
    write(tmp_path, 'import "lib/common.task"\n' + PATTERN.format(name="main"), "main.task")
    write(tmp_path, 'import "../main.task"\n' + PATTERN.format(name="common"), "lib/common.task")
    program, diags = load_program([str(tmp_path / "main.task"), str(tmp_path / "lib/common.task")])
    assert not diags  # the cycle is followed once, the root named twice is not an error
    assert sorted(program.patterns) == ["common", "main"]
    assert len(program.modules) == 2
    assert len(program.roots) == 2


def test_names_are_global_across_files(tmp_path: Path) -> None:
    write(tmp_path, PATTERN.format(name="p"), "a.task")
    write(tmp_path, PATTERN.format(name="p"), "b.task")
    checked = api.check([str(tmp_path)])
    (d,) = checked.diagnostics
    assert d.code == "duplicate-name" and Path(d.span.file).name == "b.task"
    assert "first declared at" in d.notes[0]


def test_syntax_error_in_one_file_does_not_hide_the_others(tmp_path: Path) -> None:
    write(tmp_path, "pattern broken {\n", "a.task")
    write(tmp_path, 'pattern p { let a = int 1..zz template "{a}" answer "{a}" }\n', "b.task")
    assert codes(api.check([str(tmp_path)]).diagnostics) == ["syntax", "undefined-name"]


def test_file_hashes_cover_sources_and_vocabularies(checked_library: api.Checked) -> None:
    program = checked_library.program
    names = {Path(p).name for p in program.file_hashes}
    assert {"core.task", "experts.task", "people.yaml", "items.yaml", "producers.yaml"} <= names
    assert all(len(h) == 64 for h in program.file_hashes.values())


def test_vocab_beside_the_task_file_wins(tmp_path: Path) -> None:
    write(tmp_path, "type: person\nfields: [name, subj]\nentries:\n  - {name: Zed, subj: he}\n",
          "people.yaml")
    write(tmp_path, 'vocab people from "people"\n', "t.task")
    program, diags = load_program([str(tmp_path / "t.task")])
    assert not diags
    assert [str(e) for e in program.vocabs["people"].entries] == ["Zed"]


def test_default_vocab_is_found_from_anywhere(tmp_path: Path) -> None:
    write(tmp_path, 'vocab people from "people"\n', "deep/down/t.task")
    program, diags = load_program([str(tmp_path / "deep/down/t.task")])
    assert not diags and len(program.vocabs["people"].entries) >= 40


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    """Editors on Windows save UTF-8 with a BOM; it is not part of the program."""
    path = tmp_path / "bom.task"
    path.write_bytes(b"\xef\xbb\xbf" + PATTERN.format(name="p").encode())
    checked = api.check([str(path)])
    assert not checked.diagnostics, [d.headline() for d in checked.diagnostics]
