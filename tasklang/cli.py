"""The `tasklang` command: a thin click layer over the API modules; no logic of its own."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and found problems (bad input lines, failed checks)
EXIT_USAGE = 2  # bad options or unreadable inputs (click uses 2 as well)
EXIT_INTERNAL = 3  # a bug in tasklang: reported in one line, traceback only with TASKLANG_DEBUG=1


class _Group(click.Group):
    """Turns an unexpected exception into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("tasklang: interrupted", err=True)
            sys.exit(130)
        except Exception as err:  # noqa: BLE001 - the last line of defence
            import os

            if os.environ.get("TASKLANG_DEBUG"):
                raise
            click.echo(f"tasklang: internal error: {type(err).__name__}: {err}", err=True)
            click.echo("tasklang: please report this; TASKLANG_DEBUG=1 shows the traceback",
                       err=True)
            sys.exit(EXIT_INTERNAL)


def fail_usage(message: str) -> NoReturn:
    click.echo(f"tasklang: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _read_text(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        fail_usage(f"cannot read {path}: {err.strerror or err}")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tasklang")
def main() -> None:
    """tasklang: verified synthetic datasets for post-training small language models."""


_LOADER = click.option("--loader", type=click.Choice(["auto", "c", "python"]), default="auto",
                       show_default=True, help="YAML parser for non-canonical text.")


@main.command()
@click.argument("file", type=str)
@click.option("--answer", "-a", default=None, help="Reference answer (18, 18.0, $1,000, 3/4 ...).")
@click.option("--expert", "-e", default=None,
              help="Expected expert; for composed traces the sequence 'a+b'.")
@click.option("--question", "-q", default=None,
              help="The question the model answered: every init must be grounded in it.")
@click.option("--question-file", default=None, type=str,
              help="Read the question from this file (- for stdin).")
@click.option("--constant", "constants", multiple=True,
              help="A unit constant the question may use unstated (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@_LOADER
def solve(file: str, answer: str | None, expert: str | None, question: str | None,
          question_file: str | None, constants: tuple[str, ...], fmt: str, loader: str) -> None:
    """Grade one model output read from FILE (or - for stdin).

    With --question (or --question-file), an init value the question does not state is
    exec_error:ungrounded_init. Exits 0 whenever it graded, whatever the grade.
    """
    from runtime import UsageError, grade, render
    from runtime.grade import check_expected_expert
    from runtime.numbers import parse_trace_number

    if question is not None and question_file is not None:
        fail_usage("give --question or --question-file, not both")
    if question_file is not None:
        if question_file == "-" and file == "-":
            fail_usage("--question-file - and FILE - cannot both read stdin")
        question = _read_text(question_file)
    numbers = [parse_trace_number(c) for c in constants]
    if None in numbers:
        fail_usage(f"--constant: not a number: {constants[numbers.index(None)]!r}")
    try:
        check_expected_expert(expert)
    except UsageError as err:
        fail_usage(f"--expert: {err}")
    text = _read_text(file)
    try:
        result = grade(text, answer, expert=expert, loader=loader,  # type: ignore[arg-type]
                       question=question, constants=numbers)  # type: ignore[arg-type]
    except UsageError as err:
        fail_usage(f"--answer: {err}")
    except ValueError as err:  # e.g. --loader c without libyaml
        fail_usage(str(err))
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), sort_keys=True))
        return
    click.echo(f"status: {result.status}")
    click.echo(f"reward: {'-' if result.reward is None else result.reward}")
    click.echo(f"value:  {result.to_json()['value'] or '-'}")
    if result.experts:
        click.echo(f"expert: {' + '.join(result.experts)}")
    if result.error is not None:
        click.echo(f"error:  {result.error}")
    if result.trace is not None:
        click.echo("trace (canonical):")
        click.echo(render(result.trace).rstrip("\n"))


def _grade_line(line: str, number: int, loader: str) -> dict[str, Any]:
    from runtime import UsageError, expected_expert, grade, question_of

    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        return {"line": number, "status": "input_error", "error": f"not JSON: {err.msg}"}
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return {"line": number, "status": "input_error",
                "error": 'each line must be an object with a string "text"'}
    out: dict[str, Any] = {"line": number}
    if "id" in record:
        out["id"] = record["id"]
    if "tests" in record:
        return {**out, **_grade_code_line(record)}
    expert = record.get("expert")
    if expert is not None and not isinstance(expert, str):
        return {**out, "status": "input_error", "error": '"expert" must be a string'}
    experts = record.get("experts")
    if experts is not None and not (isinstance(experts, list)
                                    and all(isinstance(e, str) for e in experts)):
        return {**out, "status": "input_error", "error": '"experts" must be a list of strings'}
    expert = expected_expert(expert, experts)  # a compiled composed record: its sequence
    # "question" (a string), else a compiled record's own prompt: inits must be grounded.
    question = record.get("question", question_of(record.get("prompt")))
    if question is not None and not isinstance(question, str):
        return {**out, "status": "input_error", "error": '"question" must be a string'}
    constants = record.get("constants") or []
    if not isinstance(constants, list):
        return {**out, "status": "input_error", "error": '"constants" must be a list'}
    try:
        result = grade(record["text"], record.get("answer"), expert=expert,
                       loader=loader, question=question,  # type: ignore[arg-type]
                       constants=constants)
    except UsageError as err:
        return {**out, "status": "input_error", "error": f'"answer": {err}'}
    except (ValueError, TypeError, ZeroDivisionError) as err:  # a constant that is no number
        return {**out, "status": "input_error", "error": f'"constants": {err}'}
    return {**out, **result.to_json()}


def _grade_code_line(record: dict[str, Any]) -> dict[str, Any]:
    """A code-answer record (`function`, `tests`) with the model's `text`: run in the sandbox."""
    from runtime import UsageError
    from runtime.sandbox import grade_record

    try:
        result = grade_record(record["text"], record)
    except UsageError as err:
        return {"status": "input_error", "error": f"code record: {err}"}
    graded = result.grade.to_json()
    if graded["message"] is None and not result.grade.correct:
        graded["message"] = result.message  # the sandbox's reason: a refused import, a timeout
    return {**graded, "cases_passed": result.passed, "cases": result.total}


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    statuses = Counter(r["status"] for r in results)
    rewards = [r["reward"] for r in results if isinstance(r.get("reward"), int | float)]
    return {
        "n": len(results),
        "statuses": dict(sorted(statuses.items())),
        "mean_reward": (sum(rewards) / len(rewards)) if rewards else None,
        "correct": statuses.get("correct", 0),
        "input_errors": statuses.get("input_error", 0),
    }


@main.command("grade")
@click.argument("infile", type=str)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Format of the summary on stderr.")
@_LOADER
def grade_cmd(infile: str, fmt: str, loader: str) -> None:
    """Grade a JSONL file of model outputs ({"text", "answer", "expert"?, "question"?, "id"?}
    per line). With "question" (or a compiled record's "prompt") inits must be grounded in it.

    A line with "function" and "tests" (a compiled code-answer record plus the model's
    "text") is graded by running the function on the record's test cases in the sandbox.
    One JSON result per input line, in order, on stdout; a summary on stderr.
    Exits 1 if some lines could not be graded (they get status input_error).
    """
    text = _read_text(infile)
    results = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        result = _grade_line(line, number, loader)
        results.append(result)
        click.echo(json.dumps(result, sort_keys=True))
    summary = _summary(results)
    if fmt == "json":
        click.echo(json.dumps(summary, sort_keys=True), err=True)
    else:
        mean = "-" if summary["mean_reward"] is None else f"{summary['mean_reward']:.4f}"
        click.echo(f"graded {summary['n']} outputs, mean reward {mean}", err=True)
        for status, count in summary["statuses"].items():
            click.echo(f"  {status:<32} {count}", err=True)
    if summary["input_errors"]:
        sys.exit(EXIT_FAILED)



# ---------------------------------------------------------------- .task commands

_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                       show_default=True)


def _report(checked: Any, fmt: str) -> None:
    """Diagnostics to stderr (text) or as a JSON list on stdout (json)."""
    from .diagnostics import render_all, to_json

    if fmt == "json":
        click.echo(to_json(checked.diagnostics))
        return
    if checked.diagnostics:
        click.echo(render_all(checked.diagnostics, checked.sources), err=True)
    errors = sum(1 for d in checked.diagnostics if d.is_error)
    warnings = len(checked.diagnostics) - errors
    allowed = checked.allowed
    if errors or warnings or allowed:
        shown = f", {allowed} allowed by `# allow:` comments" if allowed else ""
        click.echo(f"{errors} error(s), {warnings} warning(s){shown}", err=True)


@main.command("check")
@click.argument("paths", nargs=-1, required=True)
@_FORMAT
def check_cmd(paths: tuple[str, ...], fmt: str) -> None:
    """Check .task files (or directories of them): every error and warning, with positions."""
    from .api import check

    checked = check(list(paths))
    _report(checked, fmt)
    if fmt == "text" and checked.ok:
        n = len(checked.program.patterns)
        click.echo(f"ok: {len(checked.program.sources)} file(s), {n} pattern(s), "
                   f"{len(checked.program.datasets)} dataset(s)", err=True)
    sys.exit(EXIT_OK if checked.ok else EXIT_FAILED)


@main.command()
@click.argument("file")
@click.option("--pattern", "-p", default=None, help="Only this pattern.")
@click.option("-n", "count", type=click.IntRange(1, 1000), default=3, show_default=True,
              help="Samples per pattern.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@_FORMAT
def preview(file: str, pattern: str | None, count: int, seed: int, fmt: str) -> None:
    """Show rendered samples: question, gold trace and executed answer."""
    from .api import preview as run_preview

    checked, items = run_preview([file], pattern, count, seed)
    if not checked.ok:
        _report(checked, "text" if fmt == "text" else fmt)
        sys.exit(EXIT_FAILED)
    if fmt == "json":
        click.echo(json.dumps([_preview_json(i) for i in items], indent=1))
        return
    for item in items:
        click.echo(f"── {item.pattern}" + ("" if item.example is None
                                            else f"  [{item.example.template_id}]"))
        if item.example is None:
            click.echo(f"   (no sample: {item.rejected})")
            continue
        click.echo(f"Q: {item.example.question}")
        click.echo(item.example.completion.rstrip("\n"))
        if item.example.function is not None:
            click.echo(f"tests ({len(item.example.tests)}):")
            for args, expected in item.example.tests:
                click.echo(f"  {item.example.function}({', '.join(map(repr, args))}) == {expected!r}")
            click.echo("")
            continue
        click.echo(f"A: {item.example.answer}\n")


def _preview_json(item: Any) -> dict[str, Any]:
    from .code_answers import record_fields

    ex = item.example
    if ex is None:
        return {"pattern": item.pattern, "rejected": item.rejected}
    return {"pattern": ex.pattern, "template_id": ex.template_id, "question": ex.question,
            "completion": ex.completion, "answer": ex.answer, "payload": dict(ex.payload),
            **record_fields(ex)}


@main.command("compile")
@click.argument("paths", nargs=-1, required=True)
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False),
              help="Output directory; each dataset goes to OUT/<dataset>/.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes; the output bytes do not depend on it.")
@click.option("--dataset", "only", multiple=True, help="Build only these datasets.")
@_FORMAT
def compile_cmd(paths: tuple[str, ...], out: str, workers: int, only: tuple[str, ...],
                fmt: str) -> None:
    """Compile .task files into verified datasets (train/val/test JSONL + manifest.json)."""
    from .api import compile_paths

    bars: list[Any] = []

    def progress(split: str, total: int) -> Any:
        if total < 5000 or not sys.stderr.isatty():
            return None
        bar = click.progressbar(length=total, label=f"{split:>8}", file=sys.stderr)
        bar.__enter__()
        bars.append(bar)
        return bar.update

    try:
        checked, results = compile_paths(list(paths), Path(out), workers, progress, list(only))
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)
    for r in results:
        checked.diagnostics.extend(r.diagnostics)
    failed = not checked.ok or not results or any(not r.ok for r in results)
    if fmt == "json":
        click.echo(json.dumps({
            "ok": not failed,
            "datasets": [{"name": r.dataset, "ok": r.ok, "dir": str(r.out_dir) if r.ok else None,
                          "counts": r.counts} for r in results],
            "diagnostics": [d.to_json() for d in checked.diagnostics],
        }, indent=1))
    else:
        _report(checked, "text")
        for r in results:
            if r.ok:
                sizes = ", ".join(f"{k} {v}" for k, v in r.counts.items())
                click.echo(f"{r.dataset}: {sizes} -> {r.out_dir}", err=True)
            else:
                click.echo(f"{r.dataset}: not written", err=True)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


# ---------------------------------------------------------------- audit and import


def _write_atomically(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file beside it: never a half-written report."""
    from .files import write_text_atomic

    try:
        write_text_atomic(Path(path), text)
    except OSError as err:
        fail_usage(f"cannot write {path}: {err.strerror or err}")


@main.command("audit")
@click.argument("paths", nargs=-1, required=True)
@click.option("--against", "against", default=None, metavar="REF.jsonl",
              help="Reference set in GSM8K format (JSONL: question, answer) to measure coverage.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True)
@click.option("-n", "count", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="Checked samples per pattern (each must grade 1.0 and render cleanly).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--top", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="Uncovered shapes listed.")
@click.option("-o", "--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Write the report here (atomically) instead of stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")
def audit_cmd(paths: tuple[str, ...], against: str | None, fmt: str, count: int, seed: int,
              top: int, out: str | None, quiet: bool) -> None:
    """Audit .task files: every pattern samples and solves, lint statistics per dataset,
    and (with --against) coverage of a reference set by computation-graph shape.

    Exits 0 when every pattern passes, 1 when a pattern fails its generator audit (or the
    files have errors), 2 on usage errors (missing paths, bad reference lines).
    """
    import time

    from .api import audit
    from .audit import AuditUsageError
    from .audit_report import render_html, render_json, render_text

    started = time.perf_counter()
    if out is not None and not Path(out).resolve().parent.is_dir():
        fail_usage(f"cannot write {out}: no directory {Path(out).resolve().parent}")

    def progress(message: str) -> None:
        if not quiet:
            click.echo(f"audit: {message}", err=True)

    try:
        report = audit(list(paths), against, count, seed, top, progress)
    except AuditUsageError as err:
        fail_usage(str(err))
    if fmt == "json":
        text = render_json(report)
    else:
        text = (render_html if fmt == "html" else render_text)(report, top)
    if out is None:
        click.echo(text, nl=False)
    else:
        _write_atomically(out, text)
    elapsed = time.perf_counter() - started
    failing = report.failing
    summary = f"{len(report.patterns)} pattern(s), {len(failing)} failing"
    if report.coverage is not None:
        data = report.to_json()
        summary += (f"; expressible {data['expressible_fraction']:.4f}, strict coverage "
                    f"{data['coverage_fraction']:.4f}, loose {data['loose_coverage_fraction']:.4f}"
                    if report.coverage.total else "; empty reference set")
    click.echo(f"audit: {summary}; {elapsed:.1f} s" + (f"; report in {out}" if out else ""),
               err=True)
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


@main.group("import")
def import_group() -> None:
    """Import reference sets as datasets in the compiler's record format."""


@import_group.command("gsm8k")
@click.argument("ref", type=str)
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False),
              help="Output directory (replaced atomically).")
@click.option("--split-val", type=click.IntRange(0), default=0, show_default=True,
              help="Problems moved to a val split (chosen deterministically by hashing).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--system", default=None, help="System prompt (default: the compiler's, "
                                             "naming the experts).")
def import_gsm8k_cmd(ref: str, out: str, split_val: int, seed: int, system: str | None) -> None:
    """Convert a GSM8K-format JSONL file (question, answer) into train/val JSONL records.

    Keeps the problems whose converted trace reaches the gold answer; the others are
    counted by reason in OUT/import_report.json. Exits 1 when no problem converts.
    """
    from .api import import_gsm8k
    from .importer import InputError

    try:
        result = import_gsm8k(ref, Path(out), split_val, seed, system)
    except InputError as err:
        fail_usage(str(err))
    reasons = ", ".join(f"{k} {v}" for k, v in result.reasons.most_common()) or "none"
    if result.out_dir is None:
        click.echo(f"import: none of {result.total} problems converted ({reasons}); "
                   "nothing written", err=True)
        sys.exit(EXIT_FAILED)
    sizes = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    click.echo(f"import: kept {result.kept} of {result.total} problems ({sizes}) -> "
               f"{result.out_dir}", err=True)
    click.echo(f"import: dropped {result.total - result.kept}: {reasons}", err=True)


# `train` and `eval` live in train/ (the optional extra); registering them imports no torch.
def _register_train() -> None:
    from train.cli import register

    register(main)


_register_train()

if __name__ == "__main__":
    main()
