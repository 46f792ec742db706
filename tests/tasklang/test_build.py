"""build: determinism, worker independence, leak-free splits, exact mixtures, atomic output."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tasklang import api
from tasklang.cli import main
from tasklang.record import payload_of
from tasklang.splits import allocate, normalise_question, payload_key

from ..conftest import LibraryBuild
from .helpers import GOLDEN, REPO, read_jsonl, tree_bytes, write

# ---------------------------------------------------------------- shared builds


def build(paths: list[Path], out: Path) -> list[Path]:
    checked, results = api.compile_paths([str(p) for p in paths], out)
    assert checked.ok, [d.headline() for d in checked.diagnostics]
    assert results and all(r.ok for r in results), [
        d.headline() for r in results for d in r.diagnostics]
    return [r.out_dir for r in results]


HELD_OUT = """
    vocab words from "words"
    pattern copy {
        let w = pick words
        let n = int 1..500
        template for train "Repeat: {w} {n}"
        template for train "Echo {w} {n}"
        template for val "Parrot {w} {n}"
        template for test "Mirror {w} {n}"
        template for train lang de "Wiederhole: {w} {n}"
        template for val lang de "Sag nach: {w} {n}"
        template for test lang de "Spiegle {w} {n}"
        answer "{w} {n}"
    }
    pattern sum {
        let a = int 1..300
        let b = int 1..300
        template for train "What is {a} plus {b}?"
        template for val "Add {a} and {b}."
        template for test "Sum {a} and {b}."
        template for train lang de "Was ist {a} plus {b}?"
        template for val lang de "Addiere {a} und {b}."
        template for test lang de "Summiere {a} und {b}."
        trace arithmetic {
            init a
            init b
            result = add(a, b)
            query result
        }
    }
    dataset mixed {
        patterns copy: 3, sum
        split train 300
        split val 60 held_out
        split test 40 held_out
        language de 0.25
        seed 99
        min_template_repeats 1
    }
    """


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, compiled_library: LibraryBuild
           ) -> dict[str, Path]:
    """Every shipped dataset (the session's build), the golden ones and a held-out mixture."""
    root = tmp_path_factory.mktemp("builds")
    dirs = build([GOLDEN], root / "out")
    src = write(root, HELD_OUT, "mixed.task")
    dirs += build([src], root / "out")
    return {**compiled_library.dirs, **{d.name: d for d in dirs}}


def records(d: Path) -> dict[str, list[dict[str, Any]]]:
    manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    return {split: read_jsonl(d / info["file"]) for split, info in manifest["splits"].items()}


# ---------------------------------------------------------------- determinism


def test_compiling_twice_gives_identical_bytes(tmp_path: Path) -> None:
    first = build([GOLDEN], tmp_path / "a")
    second = build([GOLDEN], tmp_path / "b")
    assert [d.name for d in first] == [d.name for d in second]
    for a, b in zip(first, second, strict=True):
        assert tree_bytes(a) == tree_bytes(b)


@pytest.mark.slow
def test_the_library_compiles_to_the_same_bytes_whatever_the_workers(
        compiled_library: LibraryBuild, compiled_library_again: LibraryBuild) -> None:
    """The session's two builds of tasks/: API with one worker, CLI with two (more examples
    than one worker chunk, so the pool really runs), from two working directories."""
    assert list(compiled_library.dirs) == list(compiled_library_again.dirs)
    for name, here in compiled_library.dirs.items():
        assert tree_bytes(here) == tree_bytes(compiled_library_again.dirs[name]), name


def _cli_compile(src: Path, out: Path, workers: int) -> dict[str, bytes]:
    result = CliRunner().invoke(main, ["compile", str(src), "-o", str(out),
                                       "--workers", str(workers)])
    assert result.exit_code == 0, result.output
    return tree_bytes(out)


def test_workers_do_not_change_the_bytes(tmp_path: Path) -> None:
    """More examples than one worker chunk (512), so the pool really runs."""
    src = write(tmp_path, """
        vocab people from "people"
        pattern p {
            let who = pick people
            let a = int 1..100000
            let b = int 1..9
            template "{who} has {a} and gets {b} more."
            trace arithmetic {
                init a
                init b
                result = add(a, b)
                query result
            }
        }
        dataset big {
            patterns p
            split train 1100
            split val 30
            unique payloads
        }
        """)
    one = _cli_compile(src, tmp_path / "one", 1)
    two = _cli_compile(src, tmp_path / "two", 2)
    assert one == two
    assert len(read_jsonl(tmp_path / "two" / "big" / "train.jsonl")) == 1100


def test_the_seed_changes_the_data(tmp_path: Path) -> None:
    text = HELD_OUT.replace("seed 99", "seed {seed}")
    a = build([write(tmp_path, text.replace("{seed}", "1"), "a.task")], tmp_path / "a")[0]
    b = build([write(tmp_path, text.replace("{seed}", "2"), "b.task")], tmp_path / "b")[0]
    qa = {r["prompt"][1]["content"] for r in read_jsonl(a / "train.jsonl")}
    qb = {r["prompt"][1]["content"] for r in read_jsonl(b / "train.jsonl")}
    assert len(qa & qb) < len(qa) // 10  # neighbouring seeds: nearly disjoint datasets


@pytest.mark.slow
def test_manifest_does_not_depend_on_the_working_directory(
        compiled_library: LibraryBuild, compiled_library_again: LibraryBuild) -> None:
    """The same sources compiled from two working directories (the repository and a folder
    outside it: the session's two builds) give the same manifest."""
    name = next(iter(compiled_library.dirs))
    here, there = compiled_library.dirs[name], compiled_library_again.dirs[name]
    assert (here / "train.jsonl").read_bytes() == (there / "train.jsonl").read_bytes()
    a, b = (json.loads((d / "manifest.json").read_text(encoding="utf-8")) for d in (here, there))
    differ = {k: (a[k], b[k]) for k in a if a[k] != b.get(k)}
    assert not differ, f"manifest entries that depend on the working directory: {differ}"


# ---------------------------------------------------------------- leaks


def test_no_split_shares_a_payload_or_a_question(builds: dict[str, Path]) -> None:
    for name, d in builds.items():
        seen_payload: dict[bytes, str] = {}
        seen_question: dict[str, str] = {}
        for split, recs in records(d).items():
            for r in recs:
                pkey = payload_key(r["pattern"], tuple(payload_of(r).items()))
                qkey = normalise_question(r["prompt"][1]["content"])
                assert seen_payload.setdefault(pkey, split) == split, (name, r["id"])
                assert seen_question.setdefault(qkey, split) == split, (name, r["id"])


def test_unique_payloads_inside_a_split(builds: dict[str, Path]) -> None:
    for name in ("golden_operators", "mixed_unique"):
        if name not in builds:
            continue
        for split, recs in records(builds[name]).items():
            keys = [payload_key(r["pattern"], tuple(payload_of(r).items())) for r in recs]
            assert len(keys) == len(set(keys)), (name, split)


def test_held_out_templates_appear_in_no_other_split(builds: dict[str, Path]) -> None:
    checked_any = False
    for d in builds.values():
        manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        templates = {split: {r["template_id"] for r in recs} for split, recs in records(d).items()}
        for split, info in manifest["splits"].items():
            if info["templates"] != "held-out":
                continue
            checked_any = True
            others = set().union(*(t for s, t in templates.items() if s != split))
            assert not templates[split] & others, (d.name, split)
    assert checked_any


# ---------------------------------------------------------------- contents


def test_split_sizes_and_exact_mixture(builds: dict[str, Path]) -> None:
    d = builds["mixed"]
    for split, size in (("train", 300), ("val", 60), ("test", 40)):
        recs = records(d)[split]
        assert len(recs) == size
        counts = Counter(r["pattern"] for r in recs)
        expected = allocate(size, [("copy", Fraction(3)), ("sum", Fraction(1))])
        assert [counts["copy"], counts["sum"]] == expected


def test_language_share(builds: dict[str, Path]) -> None:
    recs = records(builds["mixed"])["train"]
    german = [r for r in recs if r["language"] == "de"]
    assert 40 <= len(german) <= 110  # 25% of 300, give or take sampling noise
    assert {r["template_id"] for r in german} <= {"copy/4", "sum/3"}
    english = [r for r in recs if r["language"] == "en"]
    assert {r["template_id"] for r in english} <= {"copy/0", "copy/1", "sum/0"}


def test_record_format(builds: dict[str, Path]) -> None:
    for name, d in builds.items():
        for split, recs in records(d).items():
            for i, r in enumerate(recs):
                code = r["function"] is not None  # code answers; every record has the keys
                assert list(r) == ["id", "split", "pattern", "expert", "experts", "template_id",
                                   "language", "payload", "answer", "prompt", "completion",
                                   "constants", "function", "tests", "difficulty"]
                assert isinstance(r["payload"], str)  # JSON text: one column type everywhere
                assert bool(r["tests"]) == code
                assert r["id"] == f"{name}/{split}/{i:07d}" and r["split"] == split
                assert [m["role"] for m in r["prompt"]] == ["system", "user"]
                assert [m["role"] for m in r["completion"]] == ["assistant"]
                assert all(isinstance(v, str) for v in payload_of(r).values())
                assert isinstance(r["answer"], str) and r["template_id"].startswith(r["pattern"])
                if code:
                    assert r["completion"][0]["content"] == f"```python\n{r['answer']}```"
                elif r["expert"] is None:
                    assert r["experts"] == [] and r["completion"][0]["content"] == r["answer"]
                elif len(r["experts"]) > 1:
                    assert r["expert"] == "composition"
                else:
                    assert r["experts"] == [r["expert"]]


def test_system_prompt_lists_the_experts(builds: dict[str, Path]) -> None:
    r = records(builds["gsm_core"])["train"][0]
    assert r["prompt"][0]["content"] == ("You are a helpful assistant with access to the "
                                         "following experts: entity_track, rate_equation, "
                                         "percentage, comparison, arithmetic")
    r = records(builds["golden_word_problems"])["train"][0]
    assert r["prompt"][0]["content"] == "Experts: entity_track, percentage, arithmetic, rate_equation"


def test_manifest(builds: dict[str, Path]) -> None:
    d = builds["mixed"]
    m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    assert m["tool"] == "tasklang" and m["dataset"] == "mixed"
    assert m["settings"]["seed"] == 99 and m["settings"]["languages"] == {"de": 0.25}
    assert m["patterns"] == {"copy": 3.0, "sum": 1.0}
    assert m["experts"] == ["arithmetic"]
    assert m["token_counting"]["exact"] is False
    for split, size in (("train", 300), ("val", 60), ("test", 40)):
        info = m["splits"][split]
        assert info["size"] == size and info["file"] == f"{split}.jsonl"
        assert info["templates"] == ("shared" if split == "train" else "held-out")
        assert sum(m["counts"][split]["patterns"].values()) == size
        assert m["tokens"][split]["total"]["max"] >= m["tokens"][split]["total"]["p50"] > 0
    import hashlib

    assert m["splits"]["val"]["sha256"] == hashlib.sha256((d / "val.jsonl").read_bytes()).hexdigest()
    assert any(name.endswith("mixed.task") for name in m["files"])
    assert any(name.endswith("words.yaml") for name in m["files"])


def test_manifest_text_is_stable_json(builds: dict[str, Path]) -> None:
    text = (builds["gsm_core"] / "manifest.json").read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n" == text


# ---------------------------------------------------------------- atomic output

GOOD = """
    pattern p {
        let a = int 1..99
        template "{a} is the number, write it back."
        answer "{a}"
    }
    dataset atomic {
        patterns p
        split train 20
        min_template_repeats 1
        max_length MAXLEN
    }
    """


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith(".")) if out.exists() else []


def test_failed_compile_leaves_nothing(tmp_path: Path) -> None:
    src = write(tmp_path, GOOD.replace("MAXLEN", "40"))
    checked, (result,) = api.compile_paths([str(src)], tmp_path / "out")
    assert not result.ok and [d.code for d in result.diagnostics] == ["token-budget"]
    assert not (tmp_path / "out" / "atomic").exists()
    assert _leftovers(tmp_path / "out") == []


def test_failed_compile_keeps_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build([write(tmp_path, GOOD.replace("MAXLEN", "1024"))], out)
    before = tree_bytes(out / "atomic")
    src = write(tmp_path, GOOD.replace("MAXLEN", "40").replace("1..99", "100..999"))
    _, (result,) = api.compile_paths([str(src)], out)
    assert not result.ok
    assert tree_bytes(out / "atomic") == before
    assert _leftovers(out) == []


def test_failure_while_generating_cleans_up(tmp_path: Path) -> None:
    """domain-exhausted happens half-way through a split: the partial files go too."""
    out = tmp_path / "out"
    build([write(tmp_path, GOOD.replace("MAXLEN", "1024"))], out)
    before = tree_bytes(out / "atomic")
    src = write(tmp_path, GOOD.replace("MAXLEN", "1024").replace("let a = int 1..99",
                "let top = 30\n        let a = int 1..top").replace(
                "split train 20", "split train 40\n        unique payloads"))
    _, (result,) = api.compile_paths([str(src)], out)
    assert [d.code for d in result.diagnostics] == ["domain-exhausted"]
    assert tree_bytes(out / "atomic") == before
    assert _leftovers(out) == []


def test_successful_compile_replaces_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build([write(tmp_path, GOOD.replace("MAXLEN", "1024"))], out)
    (out / "atomic" / "stale.txt").write_text("old", encoding="utf-8")
    build([write(tmp_path, GOOD.replace("MAXLEN", "1024").replace("seed", "seed"))], out)
    assert not (out / "atomic" / "stale.txt").exists()
    assert _leftovers(out) == []


def test_nothing_is_built_when_checks_fail(tmp_path: Path) -> None:
    src = write(tmp_path, GOOD.replace("MAXLEN", "1024").replace('"{a}"', '"{b}"'))
    checked, results = api.compile_paths([str(src)], tmp_path / "out")
    assert not checked.ok and results == []
    assert not (tmp_path / "out").exists()


def test_token_budget_names_the_worst_offenders(tmp_path: Path) -> None:
    src = write(tmp_path, GOOD.replace("MAXLEN", "60"))
    _, (result,) = api.compile_paths([str(src)], tmp_path / "out")
    (d,) = result.diagnostics
    assert d.code == "token-budget" and d.span.line == 10
    offenders = [n for n in d.notes if n.startswith("atomic/")]
    assert 1 <= len(offenders) <= 5
    assert "never truncates" in d.notes[-1]


def test_token_budget_counts_examples_not_violations(tmp_path: Path) -> None:
    """An example too long for both max_length and max_new_tokens is one example."""
    src = write(tmp_path, GOOD.replace("MAXLEN", "40\n        max_new_tokens 1"))
    _, (result,) = api.compile_paths([str(src)], tmp_path / "out")
    (d,) = result.diagnostics
    assert d.message.startswith("20 examples would be truncated"), d.message


def test_out_dir_holds_one_folder_per_dataset(compiled_library: LibraryBuild,
                                             tmp_path: Path) -> None:
    """A second compile into an OUT that holds the library adds its folders beside them."""
    shutil.copytree(compiled_library.out, tmp_path / "out")
    dirs = build([GOLDEN], tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [*compiled_library.dirs, *(d.name for d in dirs)])
    shutil.rmtree(tmp_path / "out")


def test_relative_paths_from_the_repository_root() -> None:
    assert Path.cwd() == REPO


def test_record_lines_are_exactly_json_dumps_of_the_record(checked_library: api.Checked) -> None:
    """The writer assembles lines directly for speed; they must equal json.dumps."""
    import json as _json

    from tasklang.api import datasets_of
    from tasklang.budget import ByteUpperBound
    from tasklang.build import candidate, make_context, record, record_line

    checked = checked_library
    assert checked.result is not None
    for ds in datasets_of(checked):
        ctx = make_context(checked.program, checked.result, ds, ByteUpperBound())
        split = ctx.splits[0].name
        for i in range(min(50, int(ctx.splits[0].size))):
            ex = candidate(ctx, split, i, 0)
            assert not hasattr(ex, "reasons")
            typed = record(ex, ctx, split, i)  # type: ignore[arg-type]
            assert record_line(ex, ctx, split, i) == _json.dumps(typed.to_json(),  # type: ignore[arg-type]
                                                                  ensure_ascii=False)


def test_domain_counts_only_picks_that_fit_max_tokens(tmp_path: Path) -> None:
    """Without a tokenizer the byte bound keeps only short words; the domain says so up front."""
    src = tmp_path / "ops.task"
    src.write_text('vocab words from "words"\n'
                   "pattern copy {\n  let w = pick words max_tokens 4\n"
                   '  template "Repeat exactly: {w}"\n  answer "{w}"\n}\n'
                   "dataset ops {\n  patterns copy\n  split train 100\n  unique payloads\n}\n")
    _, (result,) = api.compile_paths([str(src)], tmp_path / "out")
    assert not result.ok
    (d,) = [d for d in result.diagnostics if d.is_error]
    assert d.code == "domain-too-small" and "at most 2 distinct" in d.message
