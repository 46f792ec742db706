"""import gsm8k: converted-ok problems only, compiler record format, grading, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runtime import grade
from tasklang import api
from tasklang.cli import main
from tasklang.importer import InputError
from tasklang.record import payload_of

from .helpers import compile_file, read_jsonl, tree_bytes, write

PROBLEMS = [
    {"question": "Natalia sold 48 clips in April and half as many in May. How many in total?",
     "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
               "Natalia sold 48+24 = <<48+24=72>>72 clips altogether.\n#### 72"},
    {"question": "No gold mark here.", "answer": "It is 3 + 4 = <<3+4=7>>7."},
    {"question": "Weng earns $12 an hour. She worked 50 minutes. How much did she earn?",
     "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\n"
               "Working 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10"},
    {"question": "Nothing is computed.", "answer": "The answer is simply stated.\n#### 5"},
    {"question": "Natalia sold 48 clips in April and half as many in May. How many in total?",
     "answer": "48/2 = <<48/2=24>>24, 48+24 = <<48+24=72>>72\n#### 72"},
    {"question": "A farm has 3 pens of 4 sheep and 2 more sheep. How many sheep?",
     "answer": "3 * 4 = <<3*4=12>>12 sheep in pens.\n12 + 2 = <<12+2=14>>14\n#### 14"},
]
KEPT_LINES = [1, 3, 6]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture()
def ref(tmp_path: Path) -> Path:
    path = tmp_path / "ref.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in PROBLEMS) + "\n", encoding="utf-8")
    return path


def test_keeps_exactly_the_converted_problems(tmp_path: Path, ref: Path) -> None:
    result = api.import_gsm8k(str(ref), tmp_path / "out")
    assert (result.total, result.kept) == (6, 3)
    assert dict(result.reasons) == {"no_gold": 1, "no_equations": 1, "duplicate_question": 1}
    records = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert [int(payload_of(r)["index"]) + 1 for r in records] == KEPT_LINES
    assert [r["answer"] for r in records] == ["72", "10", "14"]
    assert [r["id"] for r in records] == ["out/train/0000000", "out/train/0000001",
                                          "out/train/0000002"]
    for r in records:
        assert r["pattern"] == "gsm8k_import" and r["template_id"] == "gsm8k"
        assert r["expert"] == "arithmetic" and r["experts"] == ["arithmetic"]
        assert r["prompt"][1]["content"] == PROBLEMS[int(payload_of(r)["index"])]["question"]
        graded = grade(r["completion"][0]["content"], r["answer"], expert=r["expert"])
        assert graded.reward == 1.0 and graded.status == "correct"
    report = json.loads((tmp_path / "out" / "import_report.json").read_text(encoding="utf-8"))
    assert report["reasons"] == {"duplicate_question": 1, "no_equations": 1, "no_gold": 1}
    assert report["example_lines"] == {"duplicate_question": [5], "no_equations": [4],
                                       "no_gold": [2]}
    assert (report["problems"], report["kept"], report["dropped"]) == (6, 3, 3)


def test_record_fields_match_the_compiler(tmp_path: Path, ref: Path) -> None:
    task = write(tmp_path, """
        pattern p {
            let a = int 2..9
            let b = int 2..9
            template "{a} plus {b}?"
            trace arithmetic {
                init a
                init b
                result = add(a, b)
                query result
            }
        }
        dataset d {
            patterns p
            split train 3
        }
        """)
    compile_file(task, tmp_path / "build")
    compiled = read_jsonl(tmp_path / "build" / "d" / "train.jsonl")[0]
    api.import_gsm8k(str(ref), tmp_path / "imp")
    imported = read_jsonl(tmp_path / "imp" / "train.jsonl")[0]
    assert list(imported) == list(compiled)
    assert imported["prompt"][0] == compiled["prompt"][0]  # same default system prompt
    built = json.loads((tmp_path / "build" / "d" / "manifest.json").read_text(encoding="utf-8"))
    manifest = json.loads((tmp_path / "imp" / "manifest.json").read_text(encoding="utf-8"))
    assert set(built) <= set(manifest)
    assert manifest["splits"]["train"]["size"] == 3 and manifest["counts"]["train"]["patterns"] \
        == {"gsm8k_import": 3}


def test_val_split_deterministic_and_output_byte_identical(tmp_path: Path, ref: Path) -> None:
    api.import_gsm8k(str(ref), tmp_path / "one" / "a", split_val=1, seed=4)
    api.import_gsm8k(str(ref), tmp_path / "two" / "a", split_val=1, seed=4)
    assert tree_bytes(tmp_path / "one" / "a") == tree_bytes(tmp_path / "two" / "a")
    train = read_jsonl(tmp_path / "one" / "a" / "train.jsonl")
    val = read_jsonl(tmp_path / "one" / "a" / "val.jsonl")
    assert len(train) == 2 and len(val) == 1
    assert val[0]["split"] == "val" and val[0]["id"] == "a/val/0000000"
    indices = {payload_of(r)["index"] for r in train + val}
    assert indices == {"0", "2", "5"}
    seeds = {payload_of(read_jsonl(p / "val.jsonl")[0])["index"]
             for p in [tmp_path / f"s{s}" for s in range(8)]
             if api.import_gsm8k(str(ref), p, split_val=1, seed=int(p.name[1:])).kept}
    assert len(seeds) > 1  # the seed decides which problem goes to val


def test_rewrite_replaces_output_atomically(tmp_path: Path, ref: Path) -> None:
    out = tmp_path / "out"
    api.import_gsm8k(str(ref), out, split_val=1)
    api.import_gsm8k(str(ref), out)
    assert sorted(p.name for p in out.iterdir()) == ["import_report.json", "manifest.json",
                                                     "train.jsonl"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_errors(tmp_path: Path, ref: Path) -> None:
    with pytest.raises(InputError, match="only 3 problems converted"):
        api.import_gsm8k(str(ref), tmp_path / "x", split_val=4)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(PROBLEMS[0]) + "\n\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:3: expected an object"):
        api.import_gsm8k(str(bad), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_an_unwritable_out_is_refused_before_the_input_is_converted(tmp_path: Path, ref: Path) -> None:
    # OUT is checked first: with an input that is missing as well, the error is about OUT, so
    # nothing was read or converted (with the full GSM8K file that is seconds saved, not lost)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for args in ((), ("--as-task",)):
        r = run("import", "gsm8k", str(tmp_path / "missing.jsonl"), "-o", str(blocker / "out"), *args)
        assert r.exit_code == 1, r.output
        assert r.stderr == f"tasklang: error: cannot write {blocker / 'out'}: Not a directory\n"
    r = run("import", "gsm8k", str(ref), "-o", str(blocker / "out"))
    assert r.exit_code == 1 and "cannot write" in r.stderr and blocker.read_text() == "x"


def test_cli(tmp_path: Path, ref: Path) -> None:
    r = run("import", "gsm8k", str(ref), "-o", str(tmp_path / "out"), "--split-val", "1")
    assert r.exit_code == 0, r.output
    assert "kept 3 of 6 problems (train 2, val 1)" in r.stderr
    assert "no_gold 1" in r.stderr
    r = run("import", "gsm8k", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o2"))
    assert r.exit_code == 1 and "no such file" in r.stderr and "Traceback" not in r.output
    none = tmp_path / "none.jsonl"
    none.write_text(json.dumps(PROBLEMS[1]) + "\n", encoding="utf-8")
    r = run("import", "gsm8k", str(none), "-o", str(tmp_path / "o3"))
    assert r.exit_code == 1 and "nothing written" in r.stderr
    assert not (tmp_path / "o3").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": 5}\n', encoding="utf-8")
    r = run("import", "gsm8k", str(bad), "-o", str(tmp_path / "o4"))
    assert r.exit_code == 1 and f"{bad}:1:" in r.stderr
