"""tasklang as a library (tasklang.project): records equal compile's lines byte for byte,
streams never repeat a held-out payload or question, to_hf, overrides, errors, score."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import tasklang
from tasklang.cli import main
from tasklang.splits import normalise_question

from ..conftest import REPO, LibraryBuild
from .helpers import GOLDEN, write

# A small domain (29 * 29 payloads, val + test take 120): a stream that ignored the held-out
# splits would draw one of their payloads about once in seven draws.
SMALL = """
pattern add {
    let a = int 1..29
    let b = int 1..29
    template for train "Add {a} and {b}."
    template for val "What is {a} plus {b}?"
    template for test "Find {a} + {b}."
    trace arithmetic {
        init a
        init b
        result = add(a, b)
        query result
    }
}

dataset small {
    patterns add
    split train 200
    split val 60 held_out
    split test 60 held_out
}
"""


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def _keys(records: list[dict]) -> tuple[set[str], set[str]]:
    return ({r["pattern"] + r["payload"] for r in records},
            {normalise_question(r["prompt"][1]["content"]) for r in records})


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tasklang.Dataset:
    return tasklang.load(write(tmp_path_factory.mktemp("small"), SMALL)).dataset("small")


@pytest.mark.parametrize(("name", "file"), [("procedural", "procedural/procedural.task"),
                                            ("procedural_code", "procedural/procedural_code.task"),
                                            ("operators", "operators/operators.task")])
def test_records_are_the_compiled_lines_byte_for_byte(compiled_library: LibraryBuild, name: str,
                                                      file: str) -> None:
    ds = tasklang.load(REPO / "tasks" / file).dataset(name)
    built = compiled_library.dirs[name]
    for split, size in ds.splits.items():
        n = None if size <= 1000 else 200  # a large train: its first 200 lines
        want = (built / f"{split}.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
        got = [_line(r) for r in ds.records(split, n)]
        assert got == want[:len(got)] and len(got) == (size if n is None else n), (name, split)


def test_seed_and_sizes_are_compile_s_flags(tmp_path: Path) -> None:
    source = GOLDEN / "word_problems.task"
    result = CliRunner().invoke(main, ["compile", str(source), "-o", str(tmp_path), "--seed", "7",
                                       "--size", "train=6", "--size", "val=3"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "golden_word_problems"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["overrides"] == {"seed": 7, "sizes": {"train": 6, "val": 3}}
    assert manifest["settings"]["seed"] == 7 and manifest["splits"]["train"]["size"] == 6
    ds = tasklang.load(source, sizes={"train": 6, "val": 3}).dataset("golden_word_problems")
    for split in ("train", "val", "test"):
        want = (out / f"{split}.jsonl").read_text(encoding="utf-8")
        assert "".join(_line(r) for r in ds.records(split, seed=7)) == want
    assert "".join(_line(r) for r in ds.records("val")) != (out / "val.jsonl").read_text()
    assert "--seed 7, --size train=6, --size val=3" in (out / "README.md").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--size", "train"], "expected SPLIT=N"), (["--size", "train=x"], "not a whole number"),
    (["--size", "train=0"], "at least 1")])
def test_a_bad_size_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["compile", str(GOLDEN / "word_problems.task"), "-o",
                                       str(tmp_path), *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_size_for_an_undeclared_split_is_a_diagnostic(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["compile", str(GOLDEN / "word_problems.task"), "-o",
                                       str(tmp_path), "--size", "tset=3"])
    assert result.exit_code == 1 and "error[undefined-split]" in result.output
    assert not (tmp_path / "golden_word_problems").exists()


def test_a_stream_never_repeats_a_held_out_payload_or_question(small: tasklang.Dataset) -> None:
    held = small.records("val") + small.records("test")
    payloads, questions = _keys(held)
    drawn = list(itertools.islice(small.stream(), 3000))
    got_payloads, got_questions = _keys(drawn)
    assert not got_payloads & payloads and not got_questions & questions
    assert len(got_payloads) > 600  # most of the 841 - 120 fresh payloads: it did explore
    assert [r["id"] for r in drawn[:2]] == ["small/stream/0000000", "small/stream/0000001"]
    assert all(tasklang.score(r["completion"][0]["content"], r).correct for r in drawn[:50])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**63), skip=st.integers(0, 300))
def test_any_seeded_stream_stays_off_the_held_out_splits(small: tasklang.Dataset, seed: int,
                                                         skip: int) -> None:
    payloads, questions = _keys(small.records("val") + small.records("test"))
    got = list(itertools.islice(small.stream(seed), skip, skip + 20))
    got_payloads, got_questions = _keys(got)
    assert not got_payloads & payloads and not got_questions & questions
    again = list(itertools.islice(small.stream(seed), skip, skip + 20))
    assert again == got  # deterministic


def test_to_hf_and_iterable_stream(small: tasklang.Dataset) -> None:
    datasets = pytest.importorskip("datasets")
    val = small.to_hf("val")
    assert isinstance(val, datasets.Dataset) and val.num_rows == 60
    assert val[0] == small.records("val", 1)[0]
    it = small.to_hf(small.stream(seed=3))
    assert isinstance(it, datasets.IterableDataset)
    assert list(itertools.islice(iter(it), 3)) == list(itertools.islice(small.stream(seed=3), 3))


def test_every_shipped_dataset_concatenates(compiled_library: LibraryBuild, tmp_path: Path) -> None:
    """The dataset card's YAML is what `datasets` loads the build directory with; every
    dataset gets the same features, so all of them concatenate."""
    datasets = pytest.importorskip("datasets")
    parts = [datasets.load_dataset(str(d), split="val", cache_dir=str(tmp_path / d.name))
             for d in compiled_library.dirs.values()]
    both = datasets.concatenate_datasets(parts)
    assert both.num_rows == sum(p.num_rows for p in parts)
    assert {r.split("/")[0] for r in both["id"]} == set(compiled_library.dirs)
    code = next(r for r in both if r["function"] is not None)
    assert tasklang.score(code["completion"][0]["content"], code).correct


def test_load_errors_render_as_the_cli_does(tmp_path: Path) -> None:
    bad = write(tmp_path, SMALL.replace("int 1..29\n    let b", "int 1..\n    let b"))
    with pytest.raises(tasklang.ProjectError) as caught:
        tasklang.load(bad)
    text = str(caught.value)
    assert f"{bad}:3:9: error[syntax]" in text and "^" in text and caught.value.diagnostics
    project = tasklang.load(write(tmp_path, SMALL, "ok.task"))
    with pytest.raises(tasklang.ProjectError, match="did you mean `small`"):
        project.dataset("smal")
    with pytest.raises(tasklang.ProjectError, match="did you mean `test`"):
        project.dataset("small").records("tset")


def test_score_is_the_record_dispatch(small: tasklang.Dataset) -> None:
    record = small.records("val", 1)[0]
    assert tasklang.score(record["completion"][0]["content"], record).reward == 1.0
    wrong = record["completion"][0]["content"].replace("compute_op: add", "compute_op: sub")
    assert tasklang.score(wrong, record).status == "wrong_answer"
    assert tasklang.score("no trace at all", record).reward == 0.0


def test_import_tasklang_stays_light() -> None:
    code = "import sys, tasklang; print('tasklang.project' in sys.modules, 'lark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO, env={"PYTHONPATH": str(REPO)})
    assert out.stdout.split() == ["False", "False"]


def test_the_dataset_card_header_is_the_record_schema(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    import yaml

    bench = write(tmp_path, '{"question": "Who wrote the tale of the silver harbour?"}\n', "b.jsonl")
    result = CliRunner().invoke(main, ["compile", str(GOLDEN / "code_answers.task"), "-o",
                                       str(tmp_path / "o"), "--decontaminate", str(bench)])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "o" / "code_answers" / "README.md").read_text(encoding="utf-8")
    _, head, body = card.split("---\n", 2)
    header = yaml.safe_load(head)
    features = datasets.Features._from_yaml_list(header["dataset_info"]["features"])
    assert features == datasets.Features.from_dict(tasklang.record.FEATURES)
    assert header["dataset_info"]["splits"] == [{"name": "train", "num_examples": 4},
                                               {"name": "val", "num_examples": 2}]
    assert header["configs"][0]["data_files"][0] == {"split": "train", "path": "train.jsonl"}
    assert header["license"] == "unknown"
    assert "b.jsonl | " in body and "| 1 | 0 |" in body  # one item, no overlap
    assert "## Checks passed" in body and "max_length 1024" in body


def test_a_dataset_s_license_setting_reaches_its_card(tmp_path: Path) -> None:
    licensed = SMALL.replace("    patterns add\n", '    patterns add\n    license "cc-by-4.0"\n')
    source = write(tmp_path, licensed)
    result = CliRunner().invoke(main, ["compile", str(source), "-o", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "\nlicense: cc-by-4.0\n" in (tmp_path / "o" / "small" / "README.md").read_text()
