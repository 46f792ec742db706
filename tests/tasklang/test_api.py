"""api: check -> compile/preview chained; what each call returns when something is missing."""

from __future__ import annotations

from pathlib import Path

from tasklang import api

from .helpers import TASKS, codes, write

SMALL = """
    pattern p {
        let a = int 1..99
        template "{a}"
        answer "{a}"
    }
    dataset first {
        patterns p
        split train 5
        min_template_repeats 1
    }
    dataset second {
        patterns p
        split train 3
        min_template_repeats 1
    }
    """


def test_compile_unknown_dataset(tmp_path: Path) -> None:
    src = write(tmp_path, SMALL)
    checked, results = api.compile_paths([str(src)], tmp_path / "out", only=["third"])
    assert results == [] and codes(checked.diagnostics) == ["undefined-dataset"]
    assert "third" in checked.diagnostics[0].message


def test_compile_only_some_datasets(tmp_path: Path) -> None:
    src = write(tmp_path, SMALL)
    _, results = api.compile_paths([str(src)], tmp_path / "out", only=["second"])
    assert [r.dataset for r in results] == ["second"] and results[0].counts == {"train": 3}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["second"]


def test_compile_builds_datasets_of_named_files_not_imports(tmp_path: Path) -> None:
    write(tmp_path, SMALL, "lib.task")
    main = write(tmp_path, 'import "lib.task"\n', "main.task")
    checked, results = api.compile_paths([str(main)], tmp_path / "out")
    assert results == [] and codes(checked.diagnostics) == ["no-datasets"]


def test_datasets_of() -> None:
    checked = api.check([str(TASKS / "gsm" / "core.task")])
    assert [d.name for d in api.datasets_of(checked)] == ["gsm_core"]
    assert api.datasets_of(api.check([str(TASKS / "gsm" / "experts.task")])) == []


def test_preview_every_pattern_of_the_named_files() -> None:
    checked, items = api.preview([str(TASKS / "gsm" / "core.task")], None, 2)
    assert checked.ok
    names = [i.pattern for i in items]
    assert len(names) == 10 and len(set(names)) == 5
    assert all(i.example is not None and i.rejected is None for i in items)


def test_preview_one_pattern_and_unknown_pattern() -> None:
    core = str(TASKS / "gsm" / "core.task")
    _, items = api.preview([core], "times_more", 3)
    assert {i.pattern for i in items} == {"times_more"} and len(items) == 3
    checked, items = api.preview([core], "nope", 3)
    assert items == [] and codes(checked.diagnostics) == ["undefined-pattern"]


def test_preview_refuses_files_with_errors(tmp_path: Path) -> None:
    src = write(tmp_path, SMALL.replace('"{a}"', '"{b}"', 1))
    checked, items = api.preview([str(src)], None, 1)
    assert not checked.ok and items == []


def test_checked_exposes_sources_for_rendering(checked_library: api.Checked) -> None:
    checked = checked_library
    assert any(name.endswith("core.task") for name in checked.sources)
