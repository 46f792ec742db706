"""Mutation fuzzing campaign of .task files (the long one; the suite runs a few seconds of it).

    python bench/fuzz_tasks.py [--seed 1] [--n 2000] [--timeout 60] [--small]
    python bench/fuzz_tasks.py --seed 1 --case 17 --show      # reproduce one case

Cases come from tests/tasklang/mutations.py (shipped tasks and golden inputs, splits shrunk to 8,
with one to four mutations each). Each case runs in a forked child with a wall-clock limit, so a
hang is counted (as a timeout) instead of stopping the campaign. Reported: cases run, how many
checked clean and were compiled, internal errors (exceptions escaping tasklang.api) grouped by
exception type and innermost frame with the first reproducer of each, diagnostics without a
usable file:line:col, and timeouts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.tasklang.mutations import (  # noqa: E402 - after the path is set
    SEEDS,
    SMALL,
    Case,
    Outcome,
    crash_class,
    make_case,
    run_case,
)


def _child(conn: Connection, case: Case, tmp: Path) -> None:
    conn.send(run_case(case, tmp=tmp))
    conn.close()


def run_limited(case: Case, timeout: float) -> Outcome | None:
    """The case's outcome, or None when it ran past `timeout` seconds (killed). The parent
    owns the temporary folder, so a killed case leaves nothing behind."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    tmp = Path(tempfile.mkdtemp(prefix="tasklang-fuzz-"))
    try:
        proc = ctx.Process(target=_child, args=(child, case, tmp))
        proc.start()
        child.close()
        outcome = parent.recv() if parent.poll(timeout) else None
        proc.join(1)
        if proc.is_alive():
            proc.kill()
            proc.join()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return outcome


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=2000, help="cases to run")
    ap.add_argument("--start", type=int, default=0, help="first case index")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    ap.add_argument("--small", action="store_true", help="only the small seeds (the suite's)")
    ap.add_argument("--case", type=int, help="run this one case and show it")
    ap.add_argument("--show", action="store_true", help="print the mutant's text")
    ap.add_argument("--json", action="store_true", help="the summary as JSON")
    args = ap.parse_args()
    names = SMALL if args.small else None
    run_case(make_case(args.seed, 0, names))  # warm the parser tables before forking

    if args.case is not None:
        case = make_case(args.seed, args.case, names)
        if args.show:
            print(case.data.decode("utf-8", errors="backslashreplace"))
        outcome = run_limited(case, args.timeout)
        print(f"case {args.seed}/{args.case}: {case.name}, ops {list(case.ops)}", file=sys.stderr)
        print(outcome if outcome is not None else f"timeout after {args.timeout}s",
              file=sys.stderr)
        return 0

    start = time.perf_counter()
    ops: Counter[str] = Counter()
    crashes: dict[str, list[str]] = {}
    problems: dict[str, list[str]] = {}
    timeouts: list[str] = []
    clean = compiled = 0
    slowest = (0.0, "")
    for i in range(args.start, args.start + args.n):
        if (i - args.start) % 100 == 0 and i > args.start:
            print(f"... {i - args.start} cases, {sum(map(len, crashes.values()))} internal "
                  f"errors, {len(timeouts)} timeouts", file=sys.stderr, flush=True)
        case = make_case(args.seed, i, names)
        ops.update(case.ops)
        ref = f"--seed {args.seed} --case {i}" + (" --small" if args.small else "")
        outcome = run_limited(case, args.timeout)
        if outcome is None:
            timeouts.append(f"{ref} ({case.name}, {list(case.ops)})")
            continue
        clean += outcome.checked_ok
        compiled += outcome.compiled
        slowest = max(slowest, (outcome.seconds, ref))
        if outcome.crash is not None:
            crashes.setdefault(crash_class(outcome), []).append(
                f"{ref} ({case.name}, {list(case.ops)}): {outcome.crash}")
        for p in outcome.problems:
            problems.setdefault(p.split(":")[0], []).append(f"{ref}: {p}")
    seconds = time.perf_counter() - start
    summary = {
        "seed": args.seed, "cases": args.n, "seeds": len(names or SEEDS),
        "seconds": round(seconds, 1), "cases_per_second": round(args.n / seconds, 2),
        "checked_clean": clean, "compiled": compiled,
        "internal_errors": sum(len(v) for v in crashes.values()),
        "internal_error_classes": {k: {"count": len(v), "first": v[0]} for k, v in crashes.items()},
        "span_problems": sum(len(v) for v in problems.values()),
        "span_problem_classes": {k: {"count": len(v), "first": v[0]} for k, v in problems.items()},
        "timeouts": len(timeouts), "timeout_cases": timeouts[:20],
        "slowest": {"seconds": round(slowest[0], 2), "case": slowest[1]},
        "mutations": dict(sorted(ops.items())),
    }
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{args.n} cases (seed {args.seed}) in {seconds:.1f} s: {clean} checked clean, "
              f"{compiled} compiled; {summary['internal_errors']} internal errors in "
              f"{len(crashes)} classes, {summary['span_problems']} span problems, "
              f"{len(timeouts)} timeouts (> {args.timeout:g} s)")
        for k, v in sorted(crashes.items(), key=lambda kv: -len(kv[1])):
            print(f"  internal error x{len(v)}: {k}\n    first: {v[0]}")
        for k, v in problems.items():
            print(f"  span problem x{len(v)}: {k}\n    first: {v[0]}")
        for t in timeouts[:20]:
            print(f"  timeout: {t}")
    return 1 if crashes or problems or timeouts else 0


if __name__ == "__main__":
    sys.exit(main())
