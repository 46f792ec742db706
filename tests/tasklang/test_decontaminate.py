"""decontaminate: normalisation, the benchmark index, and the hard compile error it makes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tasklang import api
from tasklang.cli import main
from tasklang.decontaminate import (
    BenchmarkError,
    BenchmarkSource,
    Index,
    load_benchmark,
    normalise,
    tokens,
)
from tasklang.diagnostics import Span

from .helpers import all_diagnostics, error_codes, tree_bytes, write

# Three GSM8K *train* problems (lines 1-3 of the train split): the stand-in benchmark.
BENCH = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
    "in May. How many clips did Natalia sell altogether in April and May?",
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of "
    "babysitting. How much did she earn?",
    "Betty is saving money for a new wallet which costs $100. Betty has only half of the money "
    "she needs. Her parents decided to give her $15 for that purpose, and her grandparents "
    "twice as much as her parents. How much more money does Betty need to buy the wallet?",
]

# The second problem with its numbers turned into template slots: a planted copy.
PLANTED = ('"Weng earns ${rate} an hour for babysitting. Yesterday, she just did {minutes} '
           'minutes of babysitting. How much did she earn?"')
CLEAN = '"A tutor is paid {rate} dollars per hour. What does a job of {minutes} hours pay?"'

TASK = """
    pattern pay {{
        let rate = int 2..40
        let minutes = int 2..60
        template {template}
        trace arithmetic {{
            init rate
            init minutes
            result = mul(rate, minutes)
            query result
        }}
    }}
    dataset pay_ds {{
        patterns pay
        split train 30
        split val 10
        {extra}
    }}
    """


def bench_file(tmp: Path, name: str = "bench.jsonl", items: list[str] = BENCH) -> Path:
    path = tmp / name
    path.write_text("".join(json.dumps({"question": q, "answer": "#### 1"}) + "\n"
                            for q in items), encoding="utf-8")
    return path


def task(tmp: Path, template: str = PLANTED, extra: str = 'decontaminate "bench.jsonl"') -> Path:
    return write(tmp, TASK.format(template=template, extra=extra))


def source(path: Path, ngram: int = 13) -> BenchmarkSource:
    return BenchmarkSource(path, path.name, ngram, Span.point(path.name), "statement")


# ---------------------------------------------------------------- normalisation


def test_normalise_examples() -> None:
    assert normalise("Janet's ducks lay 16 eggs per day.") == "janet s ducks lay <n> eggs per day"
    for number in ("1,200", "3.5", "$4", "25%", "$1,234.50", "3/4", ".5", "10:30", "3rd"):
        assert normalise(f"It costs {number} today") == "it costs <n> today", number
    assert normalise("5-10 minutes, 1 1/2 cups") == "<n> <n> minutes <n> <n> cups"
    assert normalise("Three times as many, twice, a dozen") == "<n> times as many <n> a <n>"
    assert normalise("twenty-five") == "<n> <n>"  # one placeholder per number word
    assert normalise("Someone alone at 5th, 5thousand") == "someone alone at <n> <n> <n>"


_WORD = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'", min_size=1, max_size=8)
_SEP = st.sampled_from([" ", ", ", ". ", "? ", " (", ") ", "! "])
_NUMBER = st.one_of(
    st.integers(0, 10**9).map(str),
    st.integers(1000, 10**9).map(lambda n: f"{n:,}"),
    st.tuples(st.integers(0, 10**6), st.integers(0, 99)).map(lambda t: f"{t[0]}.{t[1]:02d}"),
    st.integers(0, 10**6).map(lambda n: f"${n:,}"),
    st.integers(0, 100).map(lambda n: f"{n}%"),
    st.tuples(st.integers(1, 99), st.integers(1, 99)).map(lambda t: f"{t[0]}/{t[1]}"),
)


@st.composite
def _texts_with_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """One sentence skeleton filled with two independent draws of numbers."""
    words = draw(st.lists(st.tuples(_WORD, _SEP), min_size=1, max_size=12))
    slots = len(words)
    a = draw(st.lists(_NUMBER, min_size=slots, max_size=slots))
    b = draw(st.lists(_NUMBER, min_size=slots, max_size=slots))

    def fill(numbers: list[str]) -> str:
        return "".join(f"{w}{sep}{n} " for (w, sep), n in zip(words, numbers, strict=True))

    return fill(a), fill(b)


@given(_texts_with_numbers())
def test_changing_numbers_never_changes_the_normalised_text(pair: tuple[str, str]) -> None:
    a, b = pair
    assert normalise(a) == normalise(b)
    assert not any(ch.isdigit() for ch in normalise(a))


@given(st.text("abcdefghijklmnopqrstuvwxyz0123456789 ,.$%'-?", max_size=80))
def test_case_never_changes_the_normalised_text(text: str) -> None:
    assert normalise(text.upper()) == normalise(text) == normalise(text.title())


# ---------------------------------------------------------------- the index


def test_index_finds_the_shared_words_and_the_benchmark_line(tmp_path: Path) -> None:
    index = Index([load_benchmark(source(bench_file(tmp_path)))])
    hit = index.first_overlap("WENG earns $30 an hour for babysitting. Yesterday, she just did "
                              "7 minutes of it.")
    assert hit is not None
    assert hit.words == "weng earns <n> an hour for babysitting yesterday she just did <n> minutes"
    assert index.where(hit) == "bench.jsonl:2"
    assert index.first_overlap("A tutor is paid 30 dollars per hour for babysitting.") is None


def test_benchmark_formats(tmp_path: Path) -> None:
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"prompt": [{"role": "system", "content": "x"},
                                           {"role": "user", "content": BENCH[1]}]}) + "\n"
                    + json.dumps({"prompt": BENCH[0]}) + "\n", encoding="utf-8")
    plain = tmp_path / "bench.txt"
    plain.write_text("\n" + BENCH[2] + "\n\n", encoding="utf-8")
    for path, items, line in ((chat, 2, 1), (plain, 1, 2)):
        bench = load_benchmark(source(path))
        assert bench.items == items
        assert bench.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert line in bench.grams.values()


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read bad.jsonl: no such file"),
    (b"\xff\xfe{}", "cannot read bad.jsonl: not UTF-8"),
    (b'{"question": "ok"}\n{"answer": "1"}\n', 'bad.jsonl:2: needs a "question" string'),
    (b'{"question": "ok"}\nnot json\n', "bad.jsonl:2: not JSON"),
    (b'{"prompt": [{"role": "system", "content": "x"}]}\n', 'bad.jsonl:1: needs a "question"'),
    (b"\n\n", "bad.jsonl holds no items"),
])
def test_bad_benchmark_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BenchmarkError, match=message.replace("(", r"\(")):
        load_benchmark(source(path))
    # ... and in a dataset: a clear diagnostic at the statement, nothing built
    src = task(tmp_path, CLEAN, 'decontaminate "bad.jsonl"')
    checked, results = api.compile_paths([str(src)], tmp_path / "out")
    diags = all_diagnostics(checked, results)
    # A missing file is found when the paths are resolved (check), the others when read.
    assert error_codes(diags) == ["missing-decontaminate" if content is None else "bad-benchmark"]
    assert ("no benchmark file 'bad.jsonl'" if content is None else message) in diags[0].message
    assert diags[0].span.line == 16  # the decontaminate statement
    assert not (tmp_path / "out" / "pay_ds").exists()


# ---------------------------------------------------------------- the compile error


def test_a_planted_copy_fails_the_build_and_names_everything(tmp_path: Path) -> None:
    bench_file(tmp_path)
    src = task(tmp_path)
    out = tmp_path / "out"
    (out / "pay_ds").mkdir(parents=True)
    (out / "pay_ds" / "train.jsonl").write_text("the previous build\n", encoding="utf-8")
    before = tree_bytes(out)
    checked, results = api.compile_paths([str(src)], out)
    diags = all_diagnostics(checked, results)
    assert error_codes(diags) == ["benchmark-overlap"]
    d = next(d for d in diags if d.code == "benchmark-overlap")
    assert d.span.file == str(src) or d.span.file.endswith("t.task")
    assert d.span.line == 4  # the template statement
    assert d.message == ("dataset pay_ds, pattern pay, template pay/0: 40 question(s) (train 30, "
                         "val 10) share 13-word runs with 1 item of bench.jsonl")
    assert len(d.notes) == 3 + 1  # three quoted offenders and the suggestion
    assert 'pay_ds/val/0000000 (split val) shares "weng earns <n> an hour for babysitting ' \
           'yesterday she just did <n> minutes" with bench.jsonl:2' in d.notes[0]
    assert not results[0].ok
    assert tree_bytes(out) == before  # the old dataset untouched, no temporary left


def test_a_clean_dataset_passes_and_its_manifest_records_the_check(tmp_path: Path) -> None:
    bench = bench_file(tmp_path)
    src = task(tmp_path, CLEAN)
    checked, results = api.compile_paths([str(src)], tmp_path / "out")
    assert checked.ok and results[0].ok, [d.headline() for d in all_diagnostics(checked, results)]
    manifest = json.loads((tmp_path / "out" / "pay_ds" / "manifest.json").read_text())
    record = manifest["decontamination"]
    assert record == [{"file": "bench.jsonl", "sha256": hashlib.sha256(bench.read_bytes())
                       .hexdigest(), "ngram": 13, "origin": "statement", "items": 3,
                       "ngrams": record[0]["ngrams"], "short_items": 0, "overlaps": 0}]
    assert record[0]["ngrams"] > 50


def test_ngram_size_decides_how_short_a_copy_is_caught(tmp_path: Path) -> None:
    bench_file(tmp_path)
    ten_words = '"A sitter earns ${rate} an hour for babysitting. Yesterday, she did {minutes}."'
    for extra, ok in (('decontaminate "bench.jsonl"', True),
                      ('decontaminate "bench.jsonl" ngram 8', False)):
        checked, results = api.compile_paths([str(task(tmp_path, ten_words, extra))],
                                             tmp_path / "out")
        assert checked.ok and results[0].ok is ok


def test_workers_find_the_same_overlaps(tmp_path: Path) -> None:
    bench_file(tmp_path)
    src = write(tmp_path, TASK.format(template=PLANTED, extra='decontaminate "bench.jsonl"')
                .replace("split train 30", "split train 600"))
    found = []
    for workers in (1, 2):
        checked, results = api.compile_paths([str(src)], tmp_path / "out", workers)
        found.append([(d.message, d.notes) for d in all_diagnostics(checked, results)])
    assert found[0] == found[1] and "610 question(s)" in found[0][0][0]


def test_the_system_prompt_is_checked_once(tmp_path: Path) -> None:
    bench_file(tmp_path)
    extra = (f'decontaminate "bench.jsonl"\n system "Example: {BENCH[0]} Answer: 72"')
    checked, results = api.compile_paths([str(task(tmp_path, CLEAN, extra))], tmp_path / "out")
    diags = all_diagnostics(checked, results)
    assert error_codes(diags) == ["benchmark-overlap"]
    assert "the system prompt shares" in diags[0].message and "bench.jsonl:1" in diags[0].message


@pytest.mark.parametrize("ngram", ["2", "65", "8.5"])
def test_bad_ngram_is_a_check_error(tmp_path: Path, ngram: str) -> None:
    bench_file(tmp_path)
    checked = api.check([str(task(tmp_path, CLEAN, f'decontaminate "bench.jsonl" ngram {ngram}'))])
    assert error_codes(checked.diagnostics) == ["bad-ngram"]


def test_statements_parse_repeatable_with_spans(tmp_path: Path) -> None:
    extra = 'decontaminate "a.jsonl"\n        decontaminate "b.txt" ngram 8'
    checked = api.check([str(task(tmp_path, CLEAN, extra))])
    ds = checked.program.datasets["pay_ds"]
    assert [(d.path, d.ngram, d.span.line) for d in ds.decontaminate] == [
        ("a.jsonl", None, 16), ("b.txt", 8, 17)]


# ---------------------------------------------------------------- the command line


def test_cli_option_fails_on_a_copy_and_passes_a_clean_dataset(tmp_path: Path) -> None:
    bench = bench_file(tmp_path, "elsewhere.jsonl")
    planted = task(tmp_path, PLANTED, "")
    run = CliRunner().invoke
    r = run(main, ["compile", str(planted), "-o", str(tmp_path / "out"),
                   "--decontaminate", str(bench)])
    assert r.exit_code == 1
    assert "error[benchmark-overlap]" in r.stderr and "elsewhere.jsonl:2" in r.stderr
    assert "pay_ds: not written" in r.stderr
    clean = task(tmp_path, CLEAN, "")
    r = run(main, ["compile", str(clean), "-o", str(tmp_path / "out"), "--decontaminate",
                   str(bench), "--decontaminate", str(bench), "--decontaminate-ngram", "8"])
    assert r.exit_code == 0, r.stderr
    manifest = json.loads((tmp_path / "out" / "pay_ds" / "manifest.json").read_text())
    assert [(b["ngram"], b["origin"], b["overlaps"]) for b in manifest["decontamination"]] == [
        (8, "command line", 0), (8, "command line", 0)]


def test_cli_bad_benchmark_is_one_clear_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["compile", str(task(tmp_path, CLEAN, "")), "-o",
                                  str(tmp_path / "out"), "--decontaminate", "nowhere.jsonl"])
    assert r.exit_code == 1
    assert "nowhere.jsonl:1:1: error[bad-benchmark]: cannot read nowhere.jsonl: no such file" \
        in r.stderr
    assert "Traceback" not in r.output
    assert not (tmp_path / "out").exists()


def test_tokens_are_plain_words() -> None:
    assert tokens("Ünïcode café, 3 crème – 4€ × 2_0\x00ok") == [
        "ünïcode", "café", "0", "crème", "0", "0", "0", "ok"]


@given(st.text(max_size=60) | st.text(st.characters(max_codepoint=127), max_size=60))
def test_the_ascii_table_agrees_with_the_regex(text: str) -> None:
    from tasklang.decontaminate import _NUMBERS, _PUNCT, _WORD_MAP

    words = _PUNCT.sub(" ", _NUMBERS.sub(" 0 ", text.lower())).split()
    assert tokens(text) == [_WORD_MAP.get(w, w) for w in words]
