"""import gsm8k --as-task: problems become patterns that check, compile and keep their meaning."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import grade
from tasklang import astask
from tasklang.astask_preflight import preflight_pattern
from tasklang.cli import main
from tasklang.importer import RefProblem
from tasklang.record import payload_of

from ..gsm8k_files import SAMPLE
from .helpers import read_jsonl, tree_bytes

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "astask_example.task"
EXAMPLE_LINES = 40  # the committed example templates the sample's first 40 problems

NATALIA = RefProblem(0, 1, "Natalia sold clips to 48 of her friends in April, and then she sold "
                     "half as many clips in May. How many clips did Natalia sell altogether?",
                     "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
                     "Natalia sold 48+24 = <<48+24=72>>72 clips altogether.\n#### 72")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def sample_slice(tmp: Path, first: int, last: int) -> Path:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[first - 1:last]
    path = tmp / "ref.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def problem(question: str, answer: str) -> RefProblem:
    return RefProblem(0, 7, question, answer)


# ---------------------------------------------------------------- one problem


def test_mentions_read_digits_money_percent_and_skip_attached_numbers() -> None:
    found = astask.mentions("On the 5th, at 3:30, Ann paid $1,250.50 for 12 pens, 20% off, 1/2 price.")
    assert [(m.value, m.money, m.comma, m.percent) for m in found] == [
        (Fraction("1250.50"), True, True, False), (Fraction(12), False, False, False),
        (Fraction(20), False, False, True)]


def test_a_problem_becomes_a_pattern_with_its_question_as_template() -> None:
    p = astask.template_problem(NATALIA, "ref.jsonl:1")
    text = p.text()
    assert text.startswith("# source: ref.jsonl:1\npattern gsm8k_line1 {")
    # 48/2 was whole: n is drawn among the values that keep it whole (a `where`).
    assert "let n = int 24..96 where is_int(n / 2)  # was 48" in text
    assert p.template == NATALIA.question.replace("48", "{n}")
    assert p.trace == ("init n", "init c2 = 2", "step1 = div(n, c2)", "result = add(n, step1)",
                       "query result")
    # The sum of whole numbers needs nothing: no hidden let, no require.
    assert "require" not in text and "hidden" not in text


def test_semantic_names_come_from_the_noun_after_the_number() -> None:
    p = astask.template_problem(problem(
        "Paddington has 40 more goats than Washington. If Washington has 140 goats, how many "
        "goats do they have in total?",
        "Paddington has 140+40 = <<140+40=180>>180 goats.\nIn total, they have 140+180 = "
        "<<140+180=320>>320 goats\n#### 320"), "r:7")
    assert [let.name for let in p.lets] == ["more_goats", "goats"]
    assert p.template.startswith("Paddington has {more_goats} more goats")


def test_money_and_percent_keep_their_format() -> None:
    p = astask.template_problem(problem(
        "A coat costs $80 and is sold at 25% off. What does it cost now?",
        "The discount is 80*25/100 = <<80*25/100=20>>20 dollars.\nIt costs 80-20 = "
        "<<80-20=60>>60\n#### 60"), "r:7")
    assert p.template == "A coat costs {dollars:money} and is sold at {percent}% off. What does it cost now?"
    percent = next(let for let in p.lets if let.name == "percent")
    assert percent.hi <= 100 and percent.integral


@pytest.mark.parametrize(("question", "answer", "reason"), [
    # `two daughters` and `2 hours`: which 2 does the trace read?
    ("Jerry's two daughters each play 8 games. Each game lasts 2 hours. How many hours?",
     "8*2 = <<8*2=16>>16\n16*2 = <<16*2=32>>32\n#### 32", astask.STATED_TWICE),
    # Two quantities of one value (2 hours, 2 miles an hour): which mention is which?
    ("A walker goes 2 hours at 2 miles per hour, then 5 more miles. How far does she go?",
     "2*2 = <<2*2=4>>4\n4+5 = <<4+5=9>>9\n#### 9", astask.SAME_VALUE),
    # 16 is a step and a stated number: the converter may have wired either one.
    ("A box has 4 rows of 4 cups and 16 plates. How many cups and plates?",
     "4*4 = <<4*4=16>>16 cups\n16+16 = <<16+16=32>>32\n#### 32", astask.RESULT_STATED),
    # 9 is stated nowhere (and no unit constant): the writer computed it in the head.
    ("Ann has 3 bags of 5 apples. How many apples does she have with her sister's?",
     "3*5 = <<3*5=15>>15\n15+9 = <<15+9=24>>24\n#### 24", astask.UNGROUNDED),
])
def test_unsafe_problems_are_rejected_with_their_reason(question: str, answer: str,
                                                        reason: str) -> None:
    with pytest.raises(astask.Rejected) as err:
        astask.template_problem(problem(question, answer), "r:7")
    assert err.value.reason == reason


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10 ** 6), st.booleans())
def test_a_whole_value_ranges_around_itself_on_its_own_grid(value: int, percent: bool) -> None:
    v = Fraction(value)
    lo, hi, step = astask.value_range(v, percent)
    assert lo <= v <= hi and step.denominator == 1 and (v - lo) % step == 0 and (hi - lo) % step == 0
    assert hi <= max(2 * v, lo + (astask.MIN_VALUES - 1) * step) and lo >= min(v, 2)
    assert lo >= v / 2 - step
    if percent and value <= 100:
        assert hi <= 100
    else:
        assert (hi - lo) / step + 1 >= astask.MIN_VALUES


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10 ** 5), st.sampled_from([10, 100, 1000]))
def test_a_decimal_value_keeps_a_fine_step_that_holds_it(numerator: int, denominator: int) -> None:
    v = Fraction(numerator, denominator)
    lo, hi, step = astask.value_range(v, False)
    assert lo <= v <= hi and (v - lo) % step == 0 and lo > 0
    assert (v / step).denominator == 1


# ---------------------------------------------------------------- a whole file


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Result]:
    tmp = tmp_path_factory.mktemp("astask")
    ref = sample_slice(tmp, 1, 60)
    out = tmp / "lib"
    return ref, out, run("import", "gsm8k", str(ref), "--as-task", "-o", str(out))


@pytest.fixture(scope="module")
def built(imported: tuple[Path, Path, Result]) -> tuple[Path, Result]:
    _, out, _ = imported
    build = out.parent / "build"
    return build, run("compile", str(out), "-o", str(build))


def test_output_checks_and_compiles_and_every_record_grades(imported: tuple[Path, Path, Result],
                                                            built: tuple[Path, Result]) -> None:
    ref, out, result = imported
    assert result.exit_code == 0, result.output
    report = json.loads((out / "astask_report.json").read_text(encoding="utf-8"))
    assert "templated {} of 60 problems".format(report["templated"]) in result.stderr
    assert report["templated"] + report["rejected"] == report["problems"] == 60
    assert sorted(r["line"] for r in report["rejected_lines"]) == sorted(
        set(range(1, 61)) - {int(p["source"].split(":")[1]) for p in report["patterns"]})
    assert sum(report["reasons"].values()) == report["rejected"]
    files = sorted(out.glob("*.task"))
    assert [f.name for f in files] == report["files"]
    checked = run("check", str(out))
    assert checked.exit_code == 0 and "0 error(s), 0 warning(s)" in checked.output, checked.output
    build, compiled = built
    assert compiled.exit_code == 0, compiled.output
    records = read_jsonl(build / "gsm8k_0001" / "train.jsonl")
    assert len(records) == astask.PER_PATTERN * report["templated"]
    for r in records:
        assert grade(r["completion"][0]["content"], r["answer"], expert="arithmetic",
                     question=r["prompt"][1]["content"], constants=r["constants"]).reward == 1.0


def test_templating_keeps_the_meaning(built: tuple[Path, Result]) -> None:
    """Natalia's clips, drawn anew: the answer is still n + n/2 for the n the question shows."""
    build, compiled = built
    assert compiled.exit_code == 0, compiled.output
    natalia = [r for r in read_jsonl(build / "gsm8k_0001" / "train.jsonl")
               if r["pattern"] == "gsm8k_line1"]
    assert len(natalia) == astask.PER_PATTERN
    for r in natalia:
        n = int(payload_of(r)["n"])
        assert f"clips to {n} of her friends" in r["prompt"][1]["content"]
        assert r["answer"] == str(n + n // 2) and n % 2 == 0 and 24 <= n <= 96


def test_decontamination_rejects_overlapping_problems(imported: tuple[Path, Path, Result],
                                                      tmp_path: Path) -> None:
    ref, out, _ = imported
    # The compiled library, checked against its own source, shares every question's words.
    r = run("compile", str(out), "-o", str(tmp_path / "b"), "--decontaminate", str(ref))
    assert r.exit_code == 1 and "benchmark-overlap" in r.output
    # The importer drops those problems up front, so nothing is left to write.
    r = run("import", "gsm8k", str(ref), "--as-task", "-o", str(tmp_path / "x"),
            "--decontaminate", str(ref))
    assert r.exit_code == 1 and "benchmark_overlap" in r.stderr and "nothing written" in r.stderr
    assert not (tmp_path / "x").exists()


def test_deterministic_and_line_ranges(imported: tuple[Path, Path, Result], tmp_path: Path) -> None:
    ref, out, _ = imported
    assert run("import", "gsm8k", str(ref), "--as-task", "-o", str(tmp_path / "again")).exit_code == 0
    assert tree_bytes(out) == tree_bytes(tmp_path / "again")
    r = run("import", "gsm8k", str(ref), "--as-task", "--lines", "1-10", "-o", str(tmp_path / "ten"))
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "ten" / "astask_report.json").read_text(encoding="utf-8"))
    assert report["problems"] == 10 and report["lines"] == [1, 10]


@pytest.mark.parametrize("args", [["--split-val", "1"], ["--lines", "9-3"], ["--lines", "x"]])
def test_bad_options_exit_2(tmp_path: Path, args: list[str]) -> None:
    r = run("import", "gsm8k", str(SAMPLE), "--as-task", "-o", str(tmp_path / "o"), *args)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_the_committed_example_is_what_the_importer_writes(tmp_path: Path) -> None:
    """tests/data/astask_example.task: the sample's first 40 problems, regenerated."""
    ref = sample_slice(tmp_path, 1, EXAMPLE_LINES)
    result = astask.template_all(astask.read_reference(ref), SAMPLE.name)
    assert astask.file_text(1, result.patterns, SAMPLE.name) == EXAMPLE.read_text(encoding="utf-8")


def test_the_manual_shows_the_committed_example() -> None:
    """docs/IMPORT.md's pattern is the example file's first, verbatim."""
    manual = (Path(__file__).resolve().parents[2] / "docs" / "IMPORT.md").read_text(encoding="utf-8")
    shown = manual.split("```task-fragment\n", 1)[1].split("```", 1)[0]
    assert shown in EXAMPLE.read_text(encoding="utf-8")


def test_a_missing_benchmark_is_one_line_and_exit_1(tmp_path: Path) -> None:
    r = run("import", "gsm8k", str(SAMPLE), "--as-task", "-o", str(tmp_path / "o"),
            "--decontaminate", str(tmp_path / "none.jsonl"))
    assert r.exit_code == 1 and "no such file" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_a_problem_with_nothing_to_vary_is_rejected() -> None:
    """Only number words: every init stays a constant, so every draw would be the original."""
    result = astask.template_all([problem("Ann has three bags of five apples. How many apples?",
                                          "3*5 = <<3*5=15>>15\n#### 15")], "r")
    assert result.rejected == [(7, astask.NOTHING)] and not result.patterns


def test_a_value_stated_twice_in_digits_is_one_let_shown_twice() -> None:
    """Whichever 20 the trace reads, every draw shows the same number in both places."""
    p = astask.template_problem(problem(
        "Tom reads 20 pages a day for 3 days. His sister reads 20 pages a day too. How many "
        "pages does Tom read?", "20*3 = <<20*3=60>>60\n#### 60"), "r:7")
    assert p.template == ("Tom reads {pages} pages a day for {days} days. His sister reads "
                          "{pages} pages a day too. How many pages does Tom read?")
    assert [let.name for let in p.lets] == ["pages", "days"]


def test_a_one_stays_literal() -> None:
    p = astask.template_problem(problem(
        "Sally eats 2 sandwiches on Saturday and 1 sandwich on Sunday. How many in all?",
        "2+1 = <<2+1=3>>3\n#### 3"), "r:7")
    assert p.template == ("Sally eats {sandwiches} sandwiches on Saturday and 1 sandwich on Sunday. "
                          "How many in all?")
    assert "init c1 = 1" in p.trace


# ---------------------------------------------------------------- the compiler's preflight and lints

MIRIAM = problem(
    "Miriam spent 30 minutes doing laundry, 15 minutes cleaning the bathroom, a certain amount of "
    "time cleaning her room, and 40 minutes doing homework. If she spent a total of two hours on "
    "these tasks, how long, in minutes, did she spend cleaning her room?",
    "There are 30+15+40=<<30+15+40=85>>85 minutes accounted for.\nShe spent 2*60=<<2*60=120>>120 "
    "minutes.\nShe spent 120-85=<<120-85=35>>35 minutes cleaning her room.\n#### 35")


def test_a_condition_over_several_lets_is_a_where_on_the_last() -> None:
    """The remaining time must stay positive: a `where` on the let drawn last (the one with the
    most values), so the lets above it stay uniform; no joint `require`."""
    text = astask.template_problem(MIRIAM, "r:7").text()
    assert "require" not in text and "hidden" not in text
    lets = [line.split()[1] for line in text.splitlines() if line.startswith("    let ")]
    assert lets == ["minutes", "minutes_3", "minutes_2"]
    assert "let minutes_2 = int 7..30 where ((2 * 60) - (minutes + minutes_2 + minutes_3)) > 0" in text


def test_a_range_whose_top_never_passes_is_cut_to_the_values_that_pass() -> None:
    """40 minutes ranges over 20..110, but above 90 nothing is left of two hours for the other
    tasks: the preflight's never-passes finding cuts the range, and then nothing is linted."""
    raw = next(let for let in astask.template_problem(MIRIAM, "r:7").lets if let.name == "minutes_3")
    assert (raw.lo, raw.hi) == (20, 110)
    result = astask.template_all([MIRIAM], "r")
    [p] = result.patterns
    cut = next(let for let in p.lets if let.name == "minutes_3")
    assert (cut.lo, cut.hi, cut.step) == (20, 90, 10)
    found = preflight_pattern(astask.file_text(1, [p], "r"), "gsm8k_0001", p.name)
    assert found.facts is not None and found.diagnostics == ()


def test_a_pattern_whose_answer_the_question_states_is_rejected() -> None:
    """Jose keeps n bottles, adds half as many and loses a third of all: n again, for every n,
    and the question shows it. No range makes that a computation."""
    jose = problem(
        "Jose is a collector of fine wines.  His private cellar currently holds 2400 bottles of "
        "imported wine and half as many bottles of domestic wine as imported wine.  If Jose holds "
        "a party and the guests drink one-third of all his wine, how many bottles will remain in "
        "his cellar?",
        "2400/2=<<2400/2=1200>>1200 bottles of domestic wine.\nIn total, he has "
        "2400+1200=<<2400+1200=3600>>3600 bottles of wine.\nThey will have consumed "
        "3600/3=<<3600/3=1200>>1200 bottles of wine.\nThe cellar will have "
        "3600-1200=<<3600-1200=2400>>2400 remaining bottles of wine.\n#### 2400")
    astask.template_problem(jose, "r:7")  # templates: only the compiler's lint sees it
    result = astask.template_all([jose], "r")
    assert result.rejected == [(7, astask.ANSWER_STATED)] and not result.patterns


def test_a_joint_condition_on_a_long_grid_stays_a_require() -> None:
    """A `where` that reads other lets is listed anew for each of their draws: on 1,731 cents
    every sample would be slow (the preflight's time limit), so it stays a `require`."""
    austin = problem(
        "Austin bought his seven friends each a robot. Each robot costs $8.75.  He was charged "
        "$7.22 total for tax. He left with $11.53 in change. How much did Austin start with?",
        "7 robots * $8.75 per robot = $<<7*8.75=61.25>>61.25 in total.\n$61.25 for the robots + "
        "$7.22 for tax = $<<61.25+7.22=68.47>>68.47 total.\n$68.47 + $11.53 in change = "
        "$<<68.47+11.53=80>>80 to start.\n#### 80")
    p = astask.template_problem(austin, "r:7")
    assert max(let.size() for let in p.lets) > astask.MAX_JOINT_WHERE
    assert " where " not in p.text() and "require is_int(result_value)" in p.text()
