"""The `tasklang` command: a thin click layer over the API modules; no logic of its own."""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, NoReturn

import click

from . import exits
from .decontaminate import DEFAULT_NGRAM, MAX_NGRAM, MIN_NGRAM
from .exits import CommandError, InputUnreadable, OutputUnwritable
from .version import __version__

# The table and its reasons live in tasklang/exits.py (and README "Exit codes").
EXIT_OK = exits.OK
EXIT_FAILED = exits.FAILED  # found problems, or could not read an input / write an output
EXIT_USAGE = exits.USAGE  # bad options (click uses 2 as well)
EXIT_INTERNAL = exits.INTERNAL  # a bug in tasklang: one line, traceback with TASKLANG_DEBUG=1


def _say(line: str) -> None:
    """One line on stderr; a closed stderr is not worth a second error."""
    with contextlib.suppress(OSError):
        click.echo(line, err=True)


def _quiet_broken_pipe() -> NoReturn:
    """stdout was closed by the reader (`| head`): stop quietly. Later flushes (at exit)
    go to /dev/null instead of raising a second BrokenPipeError."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (tests' captured streams)
        pass
    sys.exit(exits.BROKEN_PIPE)


# click >= 8.2 answers a group called without a command with its help, as a usage error
_HELP_FOR_NO_ARGS: tuple[type[Exception], ...] = tuple(
    t for t in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if t is not None)


def _usage_line(err: click.UsageError) -> NoReturn:
    """click's usage errors (an unknown or missing option, a value out of range) in the
    house form: one line naming the command's --help, exit 2, instead of click's three."""
    if isinstance(err, _HELP_FOR_NO_ARGS):
        raise err  # the help text itself, as click shows it
    names: list[str] = []
    at = err.ctx
    while at is not None and at.parent is not None:
        names.insert(0, at.info_name or "")
        at = at.parent
    command = " ".join(["tasklang", *names])
    message = " ".join(err.format_message().split()).rstrip(".")
    _say(f"tasklang: error: {message} (see `{command} --help`)")
    sys.exit(err.exit_code)


class _Group(click.Group):
    """The one place where failures become exit codes (tasklang/exits.py has the table):
    a CommandError or any OSError is one line and exit 1, a bad option one line and exit 2,
    a broken pipe is quiet, anything else is an internal error in one line instead of a
    traceback."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:  # `tasklang --bogus`: parsed here, before any subcommand runs
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:
            _usage_line(err)

    def invoke(self, ctx: click.Context) -> Any:
        import errno
        import os

        try:
            return super().invoke(ctx)
        except click.UsageError as err:  # a subcommand's options, parsed inside this invoke
            _usage_line(err)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            _say("tasklang: interrupted")
            sys.exit(exits.INTERRUPTED)
        except CommandError as err:
            _say(f"tasklang: error: {err.message}")
            sys.exit(err.code)
        except OSError as err:
            if isinstance(err, BrokenPipeError) or err.errno == errno.EPIPE:
                _quiet_broken_pipe()
            if os.environ.get("TASKLANG_DEBUG"):
                raise
            _say(f"tasklang: error: {exits.os_error_line(err)}")
            sys.exit(exits.FAILED)
        except Exception as err:  # noqa: BLE001 - the last line of defence
            if os.environ.get("TASKLANG_DEBUG"):
                raise
            _say(f"tasklang: internal error: {type(err).__name__}: {err}")
            _say("tasklang: please report this; TASKLANG_DEBUG=1 shows the traceback")
            sys.exit(exits.INTERNAL)


def fail_usage(message: str) -> NoReturn:
    """A bad option (exit 2); a bad or unreadable input is CommandError (exit 1)."""
    raise CommandError(message, exits.USAGE)


def _read_text(path: str) -> str:
    try:
        if path == "-":  # bytes, decoded as files are: the locale's codec may be strict
            return sys.stdin.buffer.read().decode("utf-8", errors="replace")
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise InputUnreadable(path, err) from None


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
    from runtime import UsageError
    from runtime.records import judge_record

    try:
        record = _json_record(line)
    except json.JSONDecodeError as err:
        return {"line": number, "status": "input_error", "error": f"not JSON: {err.msg}"}
    except (RecursionError, ValueError) as err:  # valid JSON this grader refuses to hold
        return {"line": number, "status": "input_error", "error": _refused_json(err)}
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return {"line": number, "status": "input_error",
                "error": 'each line must be an object with a string "text"'}
    out: dict[str, Any] = {"line": number}
    if "id" in record:
        out["id"] = record["id"]
    try:
        graded = judge_record(record["text"], record, loader=loader)  # type: ignore[arg-type]
    except UsageError as err:
        return {**out, "status": "input_error", "error": str(err)}
    return {**out, **graded.to_json()}


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_record(line: str) -> Any:
    """json.loads, refusing what would not round-trip as standard JSON (1e999999, NaN)."""
    return json.loads(line, parse_float=_finite_float, parse_constant=_no_constant)


def _refused_json(err: Exception) -> str:
    if isinstance(err, RecursionError):
        return "not JSON this grader reads: nested too deeply"
    if "integer string conversion" in str(err):
        return "not JSON this grader reads: an integer over 4300 digits"
    return f"not JSON this grader reads: {str(err)[:200]}"


def _input_lines(path: str) -> Any:
    """(number, text or None, decode error) per line of a file or stdin, read as bytes so that a
    bad byte spoils its own line only; streamed, so `grade | head` stops early."""
    try:
        fh = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as err:
        raise InputUnreadable(path, err) from None
    try:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte-order mark
            try:
                yield number, raw.decode("utf-8"), None
            except UnicodeDecodeError as err:
                yield number, None, (f"not UTF-8: byte 0x{raw[err.start]:02x} at column "
                                     f"{err.start + 1}")
    except OSError as err:
        raise InputUnreadable(path, err) from None
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Graded outputs apart from input lines that could not be graded (input_error)."""
    graded = [r for r in results if r["status"] != "input_error"]
    statuses = Counter(r["status"] for r in graded)
    rewards = [r["reward"] for r in graded if isinstance(r.get("reward"), int | float)]
    return {
        "n": len(graded),
        "statuses": dict(sorted(statuses.items())),
        "mean_reward": (sum(rewards) / len(rewards)) if rewards else None,
        "correct": statuses.get("correct", 0),
        "input_errors": len(results) - len(graded),
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
    Exits 1 if some lines could not be graded (they get status input_error, whatever
    they hold: bad bytes, bad JSON, deep nesting, huge numbers), after grading the rest.
    """
    results = []
    for number, line, bad in _input_lines(infile):
        if line is not None and not line.strip():
            continue
        try:
            result = ({"line": number, "status": "input_error", "error": bad}
                      if line is None else _grade_line(line, number, loader))
            shown = json.dumps(result, sort_keys=True)
        except (RecursionError, ValueError, OverflowError) as err:  # this line only
            result = {"line": number, "status": "input_error",
                      "error": f"cannot grade this line: {type(err).__name__}"}
            shown = json.dumps(result, sort_keys=True)
        results.append(result)
        click.echo(shown)
    summary = _summary(results)
    if fmt == "json":
        click.echo(json.dumps(summary, sort_keys=True), err=True)
    else:
        mean = "-" if summary["mean_reward"] is None else f"{summary['mean_reward']:.4f}"
        click.echo(f"graded {summary['n']} outputs, mean reward {mean}", err=True)
        for status, count in summary["statuses"].items():
            click.echo(f"  {status:<32} {count}", err=True)
        if summary["input_errors"]:
            click.echo(f"{summary['input_errors']} input line(s) not graded (input_error)",
                       err=True)
    if summary["input_errors"]:
        sys.exit(EXIT_FAILED)



# ---------------------------------------------------------------- .task commands

_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                       show_default=True)


def _confined(command: Any) -> Any:
    """--root, --allow-path and --allow-network, passed on as one `load` (LoadOptions): what
    the .task files may name (tasklang.confine)."""
    import functools

    @functools.wraps(command)
    def wrapper(*args: Any, root: str | None, allow_path: tuple[str, ...], allow_network: bool,
                **kwargs: Any) -> Any:
        from .confine import LoadOptions

        load = LoadOptions(None if root is None else Path(root),
                           tuple(Path(p) for p in allow_path), allow_network)
        return command(*args, load=load, **kwargs)

    dirs = click.Path(exists=True, file_okay=False)
    for option in reversed([
        click.option("--root", type=dirs, default=None, metavar="DIR",
                     help="Project root: what the .task files name (imports, vocabularies, "
                          "references, tokenizers) must lie inside it. Default: the common "
                          "directory of PATHS."),
        click.option("--allow-path", type=dirs, multiple=True, metavar="DIR",
                     help="Also allow files under DIR (repeatable)."),
        click.option("--allow-network", is_flag=True, envvar="TASKLANG_ALLOW_NETWORK",
                     help="Allow a tokenizer that is a model hub id (downloads it; also "
                          "TASKLANG_ALLOW_NETWORK=1)."),
    ]):
        wrapper = option(wrapper)
    return wrapper


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
@click.option("--no-sample", "no_sample", is_flag=True,
              help="Static checks only: skip sampling each dataset's patterns (preflight).")
@_FORMAT
@_confined
def check_cmd(paths: tuple[str, ...], no_sample: bool, fmt: str, load: Any) -> None:
    """Check .task files (or directories of them): every error and warning, with positions.
    Each dataset's patterns are also sampled as compile would (satisfiable, domain, token
    budget, raw floats) unless --no-sample."""
    from .api import check

    checked = check(list(paths), load, sample=not no_sample)
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
@_confined
def preview(file: str, pattern: str | None, count: int, seed: int, fmt: str, load: Any) -> None:
    """Show rendered samples: question, gold trace and executed answer."""
    from .api import preview as run_preview

    checked, items = run_preview([file], pattern, count, seed, load)
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
    from .code_answers import tests_json

    ex = item.example
    if ex is None:
        return {"pattern": item.pattern, "rejected": item.rejected}
    return {"pattern": ex.pattern, "template_id": ex.template_id, "question": ex.question,
            "completion": ex.completion, "answer": ex.answer, "payload": dict(ex.payload),
            **({} if ex.function is None else {"function": ex.function,
                                                "tests": tests_json(ex.tests)})}


@main.command("compile")
@click.argument("paths", nargs=-1, required=True)
@click.option("-o", "--out", "out", required=True, type=click.Path(),
              help="Output directory; each dataset goes to OUT/<dataset>/.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes; the output bytes do not depend on it.")
@click.option("--dataset", "only", multiple=True, help="Build only these datasets.")
@click.option("--decontaminate", "benchmarks", multiple=True, metavar="FILE",
              help="Benchmark (JSONL with question/prompt, or one item per line): a question "
                   "sharing an n-gram with it fails the build. Repeatable; every dataset.")
@click.option("--decontaminate-ngram", "ngram", type=click.IntRange(MIN_NGRAM, MAX_NGRAM),
              default=DEFAULT_NGRAM,
              show_default=True, help="n-gram size for --decontaminate files.")
@click.option("--seed", type=int, default=None,
              help="Override every dataset's seed (recorded in the manifest).")
@click.option("--size", "sizes", multiple=True, metavar="SPLIT=N",
              help="Override a split's size, e.g. --size train=1000. Repeatable; recorded in "
                   "the manifest.")
@_FORMAT
@_confined
def compile_cmd(paths: tuple[str, ...], out: str, workers: int, only: tuple[str, ...],
                benchmarks: tuple[str, ...], ngram: int, seed: int | None, sizes: tuple[str, ...],
                fmt: str, load: Any) -> None:
    """Compile .task files into verified datasets (train/val/test JSONL, manifest.json and a
    dataset card README.md)."""
    from .api import compile_paths
    from .overrides import Overrides, parse_size

    try:
        overrides = Overrides(seed, dict(parse_size(s) for s in sizes))
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--size") from None

    bars: list[Any] = []

    def progress(split: str, total: int) -> Any:
        if total < 5000 or not sys.stderr.isatty():
            return None
        bar = click.progressbar(length=total, label=f"{split:>8}", file=sys.stderr)
        bar.__enter__()
        bars.append(bar)
        return bar.update

    try:
        checked, results = compile_paths(list(paths), Path(out), workers, progress, list(only),
                                         benchmarks, ngram, load, overrides)
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
                shown = ", ".join(f"{k} {v}" for k, v in r.counts.items())
                click.echo(f"{r.dataset}: {shown} -> {r.out_dir}", err=True)
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
        raise OutputUnwritable(path, err) from None


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
@click.option("-o", "--out", "out", default=None, type=click.Path(),
              help="Write the report here (atomically) instead of stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")
@_confined
def audit_cmd(paths: tuple[str, ...], against: str | None, fmt: str, count: int, seed: int,
              top: int, out: str | None, quiet: bool, load: Any) -> None:
    """Audit .task files: every pattern samples and solves, lint statistics per dataset,
    and (with --against) coverage of a reference set by computation-graph shape.

    Exits 0 when every pattern passes, 1 when a pattern fails its generator audit (or the
    files have errors, a path is missing or a reference line is bad), 2 on bad options.
    """
    import time

    from .api import audit
    from .audit import AuditUsageError
    from .audit_report import render_html, render_json, render_text

    started = time.perf_counter()
    if out is not None and not Path(out).resolve().parent.is_dir():
        raise CommandError(f"cannot write {out}: no directory {Path(out).resolve().parent}")

    def progress(message: str) -> None:
        if not quiet:
            click.echo(f"audit: {message}", err=True)

    try:
        report = audit(list(paths), against, count, seed, top, progress, load)
    except AuditUsageError as err:  # a missing path or a bad reference file: exit 1
        raise CommandError(str(err)) from None
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
@click.option("-o", "--out", "out", required=True, type=click.Path(),
              help="Output directory (replaced atomically).")
@click.option("--split-val", type=click.IntRange(0), default=0, show_default=True,
              help="Problems moved to a val split (chosen deterministically by hashing).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--system", default=None, help="System prompt (default: the compiler's, "
                                             "naming the experts).")
@click.option("--as-task", "as_task", is_flag=True,
              help="Write .task patterns (one per problem, its question as the template) "
                   "instead of records; see docs/IMPORT.md.")
@click.option("--decontaminate", "decontaminate", multiple=True, metavar="BENCH",
              help="With --as-task: reject problems sharing an n-gram with this benchmark "
                   "(repeatable).")
@click.option("--decontaminate-ngram", type=click.IntRange(MIN_NGRAM, MAX_NGRAM),
              default=DEFAULT_NGRAM, show_default=True)
@click.option("--lines", "lines", default=None, metavar="FIRST-LAST",
              help="With --as-task: only the problems on these lines (1-based, inclusive), "
                   "e.g. 1-6000 to hold out the rest.")
def import_gsm8k_cmd(ref: str, out: str, split_val: int, seed: int, system: str | None,
                     as_task: bool, decontaminate: tuple[str, ...],
                     decontaminate_ngram: int, lines: str | None) -> None:
    """Convert a GSM8K-format JSONL file (question, answer) into train/val JSONL records,
    or, with --as-task, into .task patterns.

    Keeps the problems whose converted trace reaches the gold answer; the others are
    counted by reason in OUT/import_report.json (OUT/astask_report.json with --as-task).
    Exits 1 when no problem converts.
    """
    from .api import import_gsm8k
    from .importer import InputError, OptionError

    if as_task:
        if split_val or system is not None or seed:
            fail_usage("--split-val, --seed and --system do not apply with --as-task")
        _import_as_task(ref, out, decontaminate, decontaminate_ngram, _line_range(lines))
        return
    if decontaminate or lines is not None:
        fail_usage("--decontaminate and --lines apply with --as-task")

    try:
        result = import_gsm8k(ref, Path(out), split_val, seed, system)
    except OptionError as err:
        fail_usage(str(err))
    except InputError as err:  # unreadable input or a bad line: exit 1
        raise CommandError(str(err)) from None
    reasons = _reasons(result.reasons)
    if result.out_dir is None:
        _nothing_written(result.total, "converted", reasons)
    sizes = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    click.echo(f"import: kept {result.kept} of {result.total} problems ({sizes}) -> "
               f"{result.out_dir}", err=True)
    click.echo(f"import: dropped {result.total - result.kept}: {reasons}", err=True)


def _reasons(reasons: Counter[str]) -> str:
    """An importer's reasons for dropping problems, most common first, as one text."""
    return ", ".join(f"{k} {v}" for k, v in reasons.most_common()) or "none"


def _nothing_written(total: int, verb: str, reasons: str) -> NoReturn:
    click.echo(f"import: none of {total} problems {verb} ({reasons}); nothing written", err=True)
    sys.exit(EXIT_FAILED)


def _line_range(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    first, sep, last = text.partition("-")
    if not (sep and first.isdigit() and last.isdigit() and 1 <= int(first) <= int(last)):
        fail_usage(f"--lines {text}: expected FIRST-LAST, two line numbers from 1, FIRST <= LAST")
    return int(first), int(last)


def _import_as_task(ref: str, out: str, benches: tuple[str, ...], ngram: int,
                    lines: tuple[int, int] | None) -> None:
    from .astask import benchmark_index, import_as_task
    from .importer import InputError

    try:
        index = benchmark_index(benches, ngram) if benches else None
        result = import_as_task(ref, Path(out), index, lines=lines)
    except InputError as err:
        raise CommandError(str(err)) from None
    reasons = _reasons(result.reasons)
    if result.out_dir is None:
        _nothing_written(result.total, "could be templated", reasons)
    click.echo(f"import: templated {len(result.patterns)} of {result.total} problems into "
               f"{len(result.files)} file(s) -> {result.out_dir}", err=True)
    click.echo(f"import: rejected {result.total - len(result.patterns)}: {reasons} "
               f"(lines in {Path(result.out_dir) / 'astask_report.json'})", err=True)


# `train` and `eval` live in train/ (the optional extra); registering them imports no torch.
def _register_train() -> None:
    from train.cli import register

    register(main)


_register_train()

if __name__ == "__main__":
    main()
