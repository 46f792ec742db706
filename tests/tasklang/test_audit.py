"""audit: generator audit, lint statistics, coverage of a reference set, text/JSON/HTML output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tasklang import api
from tasklang.audit import AuditReport, AuditUsageError, PluralChecker, leftover_placeholders
from tasklang.audit_report import render_html, render_json, render_text
from tasklang.cli import main
from tasklang.vocab import find_vocab, load_vocab

from .helpers import REPO, TASKS, write

LIBRARY = """
    vocab people from "people"
    vocab items from "items"

    # GSM8K's Natalia: 48/2 = 24, 48 + 24 = 72.
    pattern half_then_add {
        let who = pick people
        let n = int 4..60 step 2
        template "{who} sold clips to {n} friends in April and half as many in May. "
                 "How many clips did {who.subj} sell in total?"
        trace arithmetic {
            init n
            init two = 2
            step1 = div(n, two)
            result = add(n, step1)
            query result
        }
    }

    # rate x time
    pattern rate {
        let rate = int 2..9
        let hours = int 2..9
        template "A machine makes {rate} toys per hour. How many toys does it make in {hours} hours?"
        trace rate_equation {
            init rate
            init hours
            result = mul(rate, hours)
            query result
        }
    }

    # Broken: {thing} is already plural, so "{thing}s" renders "appless".
    pattern bad_plural {
        let who = pick people
        let thing = pick items
        let n = int 2..9
        let m = int 2..9
        template "{who} has {n} {thing}s and buys {m} more. How many does {who.subj} have?"
        trace arithmetic {
            init n
            init m
            result = add(n, m)
            query result
        }
    }

    # Broken: the answer can be negative (no `require answer > 0`).
    pattern negative {
        let a = int 1..5
        let b = int 1..10
        template "Tom has {a} apples and eats {b}. How many are left?"
        trace arithmetic {
            init a
            init b
            result = sub(a, b)
            query result
        }
    }

    dataset small {
        patterns half_then_add, rate
        split train 30
        split val 10
        seed 3
    }
    """

REFERENCE = [
    {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as "
                 "many clips in May. How many clips did Natalia sell altogether?",
     "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
               "Natalia sold 48+24 = <<48+24=72>>72 clips altogether.\n#### 72"},
    {"question": "Omar's quail lay 16 eggs a day. He fries three and puts four into cakes. He "
                 "sells the others at $2 each. What does he earn?",
     "answer": "Omar sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs a day.\n"
               "He earns 9 * 2 = $<<9*2=18>>18 a day.\n#### 18"},
    {"question": "A printer prints 7 pages per minute. How many pages in 6 minutes?",
     "answer": "It prints 7 * 6 = <<7*6=42>>42 pages.\n#### 42"},
]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("audit")
    lib = write(tmp, LIBRARY, "lib.task")
    ref = tmp / "ref.jsonl"
    ref.write_text("".join(json.dumps(r) + "\n" for r in REFERENCE), encoding="utf-8")
    return lib, ref


@pytest.fixture(scope="module")
def report(files: tuple[Path, Path]) -> AuditReport:
    lib, ref = files
    return api.audit([str(lib)], str(ref), n=12, seed=1)


def test_broken_patterns_fail(report: AuditReport) -> None:
    assert report.failing == ["bad_plural", "negative"]
    by_name = {p.name: p for p in report.patterns}
    assert "plural" in by_name["bad_plural"].issues
    assert "negative-answer" in by_name["negative"].issues  # the lint registry's code
    assert by_name["rate"].ok and by_name["half_then_add"].ok
    assert by_name["rate"].checked == 12


def test_domain_size_exact_when_enumerable(report: AuditReport) -> None:
    by_name = {p.name: p for p in report.patterns}
    assert by_name["rate"].domain.to_json() == {"value": 64, "method": "exact", "exact": True,
                                                "upper_bound": 64}
    assert by_name["negative"].domain.value == 50  # answer-free: every payload is producible


def test_coverage_counts_and_ranking(report: AuditReport) -> None:
    data = report.to_json()
    assert data["expressible_fraction"] == 1.0
    assert data["coverage_fraction"] == pytest.approx(2 / 3)
    assert data["loose_coverage_fraction"] == pytest.approx(2 / 3)
    (first,) = data["uncovered_shapes"]
    assert first["rank"] == 1 and first["count"] == 1
    assert first["shape"] == "mul(L,sub(sub(L,L),L))"
    assert first["example"]["line"] == 2 and "Omar" in first["example"]["question"]
    assert data["coverage_by_pattern"]["half_then_add"]["strict"] == 1
    assert data["coverage_by_pattern"]["rate"]["example_lines"] == [3]
    assert data["coverage_by_expert"]["rate_equation"]["strict"] == 1


def test_uncovered_shapes_ranked_by_frequency(tmp_path: Path, files: tuple[Path, Path]) -> None:
    lib, _ = files
    problems = [REFERENCE[2], REFERENCE[1], REFERENCE[1], REFERENCE[0],
                {"question": "q", "answer": "no computation here\n#### 5"}]
    ref = tmp_path / "r.jsonl"
    ref.write_text("".join(json.dumps(r) + "\n" for r in problems), encoding="utf-8")
    data = api.audit([str(lib)], str(ref), n=2).to_json()
    assert data["expressible_fraction"] == pytest.approx(4 / 5)
    assert data["coverage_fraction"] == pytest.approx(2 / 5)
    assert data["reference"]["not_expressible"] == {"no_equations": 1}
    assert [(s["shape"], s["count"]) for s in data["uncovered_shapes"]] == \
        [("mul(L,sub(sub(L,L),L))", 2)]


def test_json_keys(report: AuditReport) -> None:
    data = json.loads(render_json(report))
    for key in ("patterns", "failing_patterns", "expressible_fraction", "coverage_fraction",
                "loose_coverage_fraction", "uncovered_shapes", "datasets", "coverage_by_expert"):
        assert key in data
    pattern = data["patterns"][0]
    for key in ("name", "rejection_rate", "domain", "shapes", "issues", "ok", "samples_checked"):
        assert key in pattern
    (ds,) = data["datasets"]
    assert ds["name"] == "small" and ds["tokens"]["exact"] is False
    assert set(ds["tokens"]["prompt"]) == {"p50", "p95", "max"}


def test_without_reference_coverage_is_null(files: tuple[Path, Path]) -> None:
    data = api.audit([str(files[0])], None, n=2).to_json()
    assert data["coverage_fraction"] is None and data["expressible_fraction"] is None
    assert data["uncovered_shapes"] == []


def test_html_is_self_contained(report: AuditReport) -> None:
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<svg" in page and "<style>" in page
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert "mul(L,sub(sub(L,L),L))" in page


def test_text_report(report: AuditReport) -> None:
    text = render_text(report)
    assert "bad_plural" in text and "FAIL" in text
    assert "strict coverage (same graph shape): 2 (66.7%)" in text
    assert "result: FAILED: bad_plural, negative" in text


def test_dataset_lints(tmp_path: Path) -> None:
    lib = write(tmp_path, """
        pattern a {
            let x = int 2..9
            let y = int 2..9
            template "{x} and {y}, one"
            template "{x} and {y}, two"
            trace arithmetic {
                init x
                init y
                result = add(x, y)
                query result
            }
        }
        pattern b {
            let x = int 2..9
            let y = int 2..9
            template "{x} times {y}"
            trace arithmetic {
                init x
                init y
                total = mul(x, y)
                query total
            }
        }
        dataset d {
            patterns a, b
            split train 20
        }
        """)
    report = api.audit([str(lib)], None, n=2)
    (ds,) = report.datasets
    few = [r for r in ds.template_repeats if r["few"]]
    assert {r["template"] for r in few} == {"a/0", "a/1"}
    assert few[0]["per_template"] == 5.0
    assert ds.query_targets == {"arithmetic": {"result": ["a"], "total": ["b"]}}
    assert any("queries result, total" in w for w in ds.warnings)
    assert ds.token_sample == 20


def test_plural_checker() -> None:
    path = find_vocab("items", REPO)
    assert path is not None
    checker = PluralChecker([load_vocab("items", path)])
    for bad in ("Ann has 3 coinss.", "two sandwichs", "5 boxs", "three knifes", "some cherrys",
                "1 apples", "the glasss", "two dishs", "four childs"):
        assert checker.problems(bad), bad
    for good in ("Ann has 3 coins.", "two sandwiches", "5 boxes", "the glasses", "1 apple",
                 "3 days and 2 monkeys", "James's stomachs", "$1 apples", "0.1 apples",
                 "11 apples"):
        assert not checker.problems(good), good


def test_render_check_helpers() -> None:
    assert leftover_placeholders("Hi {name}, ok", "Hi {who}, ok") == ["{name}"]
    assert leftover_placeholders("Put {nebula} here", "Put {{{w}}} here") == []
    assert leftover_placeholders("cost ${price}", "cost ${p}") == ["${price}"]


def test_cli_exit_codes_and_output(tmp_path: Path, files: tuple[Path, Path]) -> None:
    lib, ref = files
    out = tmp_path / "report.json"
    r = run("audit", str(lib), "--against", str(ref), "-n", "3", "--format", "json",
            "-o", str(out))
    assert r.exit_code == 1, r.output
    assert r.stdout == ""
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["failing_patterns"] == ["bad_plural", "negative"]
    assert "strict coverage 0.6667" in r.stderr
    assert not list(tmp_path.glob(".*tmp*"))


def test_cli_passing_library_exits_0(tmp_path: Path, files: tuple[Path, Path]) -> None:
    lib = write(tmp_path, LIBRARY.split("# Broken")[0].replace('vocab items from "items"', ""))
    r = run("audit", str(lib), "--against", str(files[1]), "-n", "2", "-q", "--format", "html")
    assert r.exit_code == 0, r.output
    assert "<svg" in r.stdout and r.stderr.count("\n") == 1


def test_cli_input_errors_exit_1(tmp_path: Path, files: tuple[Path, Path]) -> None:
    lib, _ = files
    r = run("audit", str(tmp_path / "missing.task"))
    assert r.exit_code == 1 and "missing.task" in r.stderr and "Traceback" not in r.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(REFERENCE[0]) + "\n{not json\n", encoding="utf-8")
    r = run("audit", str(lib), "--against", str(bad))
    assert r.exit_code == 1 and f"{bad}:2: not JSON" in r.stderr
    bad.write_text(json.dumps({"question": "q"}) + "\n", encoding="utf-8")
    r = run("audit", str(lib), "--against", str(bad))
    assert r.exit_code == 1 and f"{bad}:1:" in r.stderr and '"answer"' in r.stderr
    r = run("audit", str(lib), "--against", str(tmp_path / "nope.jsonl"))
    assert r.exit_code == 1 and "no such file" in r.stderr
    with pytest.raises(AuditUsageError):
        api.audit([str(tmp_path / "missing.task")])


def test_check_errors_fail_without_traceback(tmp_path: Path) -> None:
    lib = write(tmp_path, """
        pattern p {
            let a = int 1..zz
            template "{a}"
            answer "{a}"
        }
        """)
    r = run("audit", str(lib), "-q")
    assert r.exit_code == 1
    assert "undefined-name" in r.stdout and "Traceback" not in r.output


def test_deterministic(files: tuple[Path, Path]) -> None:
    lib, ref = files
    first = render_json(api.audit([str(lib)], str(ref), n=3, seed=5))
    assert first == render_json(api.audit([str(lib)], str(ref), n=3, seed=5))


@pytest.mark.slow
def test_shipped_library_passes() -> None:
    report = api.audit([str(TASKS)], None, n=5)
    assert report.patterns and report.failing == [], [
        (p.name, [i.message for i in p.issues.values()]) for p in report.patterns if not p.ok]
