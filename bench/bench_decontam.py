"""Decontamination benchmark: index a GSM8K-test-sized benchmark, scan a million questions.

    python bench/bench_decontam.py [--n 1000000] [--pool 50000] [--reference GSM8K_TRAIN]

On one core:
* index build: read, normalise and index the stand-in benchmark (the LAST 1,319 problems of
  GSM8K train: the size of GSM8K test, which this project does not use);
* scan: `Index.first_overlap` over n questions, cycling through a pool of real compiled
  questions (every pattern of tasks/gsm/library.task, drawn by the compiler's own
  `candidate`), with normalisation alone timed beside it;
* compile overhead: `compile_paths` of tasks/gsm/core.task at 20,000 examples, with and
  without `--decontaminate`.

Times are CPU seconds of this process (`time.process_time`): on a shared machine wall time
measures the neighbours; on an idle core the two agree.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_compile import resized  # noqa: E402

from tasklang.api import check, compile_paths, datasets_of  # noqa: E402
from tasklang.budget import ByteUpperBound  # noqa: E402
from tasklang.build import Failure, candidate, make_context  # noqa: E402
from tasklang.decontaminate import (  # noqa: E402
    BenchmarkSource,
    Index,
    load_benchmark,
    tokens,
)
from tasklang.diagnostics import Span  # noqa: E402

LIBRARY = ROOT / "tasks" / "gsm" / "library.task"
CORE = ROOT / "tasks" / "gsm" / "core.task"
TEST_SIZE = 1319  # problems in GSM8K test


def stand_in(reference: Path, out: Path) -> Path:
    lines = reference.read_text(encoding="utf-8").splitlines()[-TEST_SIZE:]
    path = out / "stand_in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def questions(n: int, tmp: Path) -> list[str]:
    """n compiled questions of the library's train split (resized to n)."""
    checked = check([str(resized(LIBRARY, n, tmp))])
    assert checked.ok and checked.result is not None, checked.diagnostics
    ds = datasets_of(checked)[0]
    ctx = make_context(checked.program, checked.result, ds, ByteUpperBound())
    split = next(s for s in ctx.splits if s.name == "train")
    drawn = (candidate(ctx, split.name, i, 0) for i in range(int(split.size)))
    return [ex.question for ex in drawn if not isinstance(ex, Failure)]


def full_compile(bench: Path | None, n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        task = resized(CORE, n, Path(tmp))
        start = time.process_time()
        checked, results = compile_paths([str(task)], Path(tmp) / "out",
                                         decontaminate=[str(bench)] if bench else [])
        elapsed = time.process_time() - start
        assert checked.ok and results and all(r.ok for r in results), [
            d.headline() for r in results for d in r.diagnostics]
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="questions scanned")
    parser.add_argument("--pool", type=int, default=50_000, help="distinct compiled questions")
    parser.add_argument("--reference", type=Path,
                        default=ROOT.parent / "shared" / "data" / "gsm8k_train.jsonl")
    parser.add_argument("--compile-n", type=int, default=20_000)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, one used")
    with tempfile.TemporaryDirectory() as tmp:
        bench = stand_in(args.reference, Path(tmp))
        start = time.process_time()
        loaded = load_benchmark(BenchmarkSource(bench, bench.name, 13, Span.point("b"), "bench"))
        index = Index([loaded])
        built = time.process_time() - start
        print(f"index build: {loaded.items:,} items, {len(loaded.grams):,} 13-grams in "
              f"{built * 1000:.0f} ms")
        pool = questions(args.pool, Path(tmp))
        words = sum(len(tokens(q)) for q in pool) / len(pool)
        print(f"pool: {len(pool):,} compiled questions, {words:.1f} words on average")

        start = time.process_time()
        for q in itertools.islice(itertools.cycle(pool), args.n):
            tokens(q)
        normalised = time.process_time() - start
        start = time.process_time()
        hits = 0
        first = index.first_overlap
        for q in itertools.islice(itertools.cycle(pool), args.n):
            if first(q) is not None:
                hits += 1
        scanned = time.process_time() - start
        print(f"scan: {args.n:,} questions in {scanned:.1f} s ({args.n / scanned:,.0f}/s, "
              f"{scanned / args.n * 1e6:.1f} us each, of which normalisation "
              f"{normalised / args.n * 1e6:.1f} us); {hits:,} overlapping")
        plain = full_compile(None, args.compile_n)
        checked = full_compile(bench, args.compile_n)
        n = args.compile_n + max(1, args.compile_n // 10)
        print(f"compile core.task, {n:,} examples, 1 worker: {plain:.2f} s without, "
              f"{checked:.2f} s with --decontaminate ({(checked - plain) / n * 1e6:+.1f} us "
              "per example)")


if __name__ == "__main__":
    main()
