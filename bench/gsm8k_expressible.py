"""How much of GSM8K the runtime can express: answers converted to traces that reach `####`.

Prints the fraction of reference answers whose converted trace executes to the
gold answer (each converted with its question), the failure reasons, how many converted
traces read one variable twice in a step (by op: `add`/`mul` may, `sub`/`div` never
should), and the wall time.

    python bench/gsm8k_expressible.py [PATH] [--examples N] [--unstated]

`--unstated` adds a rough count of converted traces that init a value their question does
not state (as digits; and as digits, number words or a unit constant).

PATH defaults to ../shared/data/gsm8k_train.jsonl relative to the repository root.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from runtime.gsm8k import (  # noqa: E402
    convert,
    load_reference,
    question_mentions,
    reference_report,
    tokenize,
)
from runtime.ops import InitStep  # noqa: E402

DEFAULT_PATH = REPO.parent / "shared" / "data" / "gsm8k_train.jsonl"
# The unit constants, for this rough count only: the runtime's grounding owns its table.
UNIT_CONSTANTS = frozenset(Fraction(n) for n in (1, 2, 7, 10, 12, 24, 60, 100, 1000, 3600, 52, 365))


def _unstated(path: Path) -> None:
    """Converted traces with an init the question does not state: in digits, and in digits,
    number words (`question_mentions`) or a unit constant."""
    traces = digits_only = neither = 0
    values: Counter[Fraction] = Counter()
    for record in load_reference(path):
        question = record.get("question")
        conversion = convert(record.get("answer"), question)  # type: ignore[arg-type]
        if conversion.trace is None or not conversion.ok or not isinstance(question, str):
            continue
        traces += 1
        digits = {t.value for t in tokenize(question) if t.kind == "num"}
        stated = digits | set(question_mentions(question)) | UNIT_CONSTANTS
        inits = [s.value for s in conversion.trace.steps if isinstance(s, InitStep)]
        digits_only += any(v not in digits for v in inits)
        unstated = [v for v in inits if v not in stated]
        neither += bool(unstated)
        values.update(v for v in unstated if v is not None)
    top = ", ".join(f"{v} ({n})" for v, n in values.most_common(8))
    print(f"traces with an init the question does not write in digits: {digits_only}/{traces}")
    print(f"  ...nor as a number word or unit constant: {neither}/{traces} (most: {top})")


def _examples(path: Path, count: int) -> None:
    """The first `count` failures of each reason, to look at."""
    shown: dict[str, int] = {}
    for index, record in enumerate(load_reference(path)):
        conversion = convert(record.get("answer"), record.get("question"))  # type: ignore[arg-type]
        reason = conversion.reason
        if reason is None or shown.get(reason, 0) >= count:
            continue
        shown[reason] = shown.get(reason, 0) + 1
        print(f"\n--- line {index + 1}: {reason}\n{record.get('answer')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--examples", type=int, default=0, help="failures to print per reason")
    parser.add_argument("--unstated", action="store_true",
                        help="count traces that init a value the question does not state")
    args = parser.parse_args()
    if not args.path.is_file():
        sys.exit(f"no such file: {args.path}")
    start = time.perf_counter()
    report = reference_report(args.path)
    elapsed = time.perf_counter() - start
    print(f"file: {args.path}")
    print(f"expressible: {report.ok}/{report.total} = {report.fraction:.4f}")
    for reason, count in report.reasons.most_common():
        print(f"  {reason:28s} {count:5d}  ({count / max(report.total, 1):.2%})")
    repeated = ", ".join(f"{op} {n}" for op, n in sorted(report.repeated.items())) or "none"
    print(f"traces with a step reading one variable twice: {repeated}")
    print(f"  of sub/div/floordiv/pow: {len(report.self_op_records)}"
          + (f" (records {list(report.self_op_records)[:20]})" if report.self_op_records else ""))
    print(f"wall time: {elapsed:.2f} s ({report.total / max(elapsed, 1e-9):.0f} answers/s)")
    if args.unstated:
        _unstated(args.path)
    if args.examples:
        _examples(args.path, args.examples)


if __name__ == "__main__":
    main()
