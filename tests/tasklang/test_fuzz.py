"""Mutation fuzzing: valid .task files (shipped tasks and golden inputs) with bytes flipped,
tokens deleted, duplicated, swapped or inserted, lines spliced in from other files, deep
nesting, huge numbers, long names and random unicode (tests/tasklang/mutations.py).

A bounded, seeded campaign: check() returns diagnostics and never raises, each with a file and
a line:col inside it; a mutant that still checks clean compiles (small splits) without raising;
the CLI exits 0 or 1 with no traceback and no "internal error" (exit 3). The long campaign
over every seed file is bench/fuzz_tasks.py (figures in docs/BENCHMARKS.md); a failure here
names its case, which `python bench/fuzz_tasks.py --seed S --case I --small --show` replays.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tasklang import api
from tasklang.cli import main

from .mutations import SANDBOXED, SEEDS, SMALL, make_case, materialise, run_case

SEED = 11  # the campaign; every case is a pure function of (SEED, index)
CASES = 60  # about 40 ms each: the campaign takes a few seconds
CLI_CASES = 12


def test_seeds_are_valid() -> None:
    """The fuzzer starts from files that check clean: its mutants are near misses."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in SMALL:
            checked = api.check([str(materialise(Path(tmp), name, SEEDS[name].encode("utf-8")))])
            assert checked.ok, (name, [d.headline() for d in checked.diagnostics if d.is_error])


@pytest.mark.parametrize("block", range(4))
def test_check_and_compile_never_raise(block: int) -> None:
    """Four blocks of the campaign, so that a failure names fewer cases to replay."""
    failures = []
    for index in range(block * CASES // 4, (block + 1) * CASES // 4):
        case = make_case(SEED, index, SMALL)
        outcome = run_case(case, compile_clean=case.name not in SANDBOXED)
        if outcome.crash or outcome.problems:
            failures.append(f"--seed {SEED} --case {index} ({case.name}, {list(case.ops)}): "
                            f"{outcome.crash or outcome.problems}")
    assert not failures, "\n".join(failures)


def test_cli_exits_cleanly_on_mutants() -> None:
    runner = CliRunner()
    for index in range(CASES, CASES + CLI_CASES):
        case = make_case(SEED, index, SMALL)
        with tempfile.TemporaryDirectory() as tmp:
            path = materialise(Path(tmp), case.name, case.data)
            commands = [["check", str(path)], ["check", "--format", "json", str(path)]]
            if case.name not in SANDBOXED:
                commands.append(["compile", str(path), "-o", str(Path(tmp) / "o")])
            for args in commands:
                result = runner.invoke(main, args)
                output = result.output + (result.stderr if result.stderr_bytes is not None else "")
                where = f"--seed {SEED} --case {index} ({case.name}, {list(case.ops)}) {args[0]}"
                assert result.exit_code in (0, 1), (where, result.exit_code, output[-2000:])
                assert "Traceback" not in output and "internal error" not in output, (
                    where, output[-2000:])
                assert result.exception is None or isinstance(result.exception, SystemExit)
            shutil.rmtree(Path(tmp) / "o", ignore_errors=True)


def test_the_campaign_is_deterministic_and_mutates() -> None:
    """Case i is the same bytes every time, and differs from its seed file."""
    first = [make_case(SEED, i, SMALL) for i in range(20)]
    assert first == [make_case(SEED, i, SMALL) for i in range(20)]
    assert all(c.data != SEEDS[c.name].encode("utf-8") for c in first[:20]) or sum(
        c.data == SEEDS[c.name].encode("utf-8") for c in first) <= 2
    assert len({op for c in first for op in c.ops}) >= 6


def test_known_crasher_generate_with_derived_difficulty() -> None:
    """Found by this fuzzer's family: a derived generator parameter out of its range."""
    text = ('pattern p {\n  let n = int 1..3\n  let e = generate rpn(difficulty = n - 5)\n'
            '  template "{e}"\n  answer "{e.answer}"\n}\n'
            'dataset d { patterns p split train 3 min_template_repeats 1 }\n')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.task"
        path.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(main, ["compile", str(path), "-o", str(Path(tmp) / "o")])
        assert result.exit_code in (0, 1), result.output


def test_known_crasher_a_split_name_too_long_for_a_file_name() -> None:
    """Found by the campaign (seed 2, case 816): a 300-character split name made compile raise
    OSError "File name too long" writing `<split>.jsonl`; now it is a check diagnostic."""
    text = ('pattern p {\n  let a = int 1..9\n  template "{a}"\n  answer "{a}"\n}\n'
            f'dataset d {{\n  patterns p\n  split {"v" * 300} 3\n  min_template_repeats 1\n}}\n')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.task"
        path.write_text(text, encoding="utf-8")
        checked, results = api.compile_paths([str(path)], Path(tmp) / "o")
        assert results == []
        (d,) = checked.diagnostics
        assert (d.code, d.span.line, d.span.col) == ("name-too-long", 8, 3)
