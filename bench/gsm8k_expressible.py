"""How much of GSM8K the runtime can express: answers converted to traces that reach `####`.

Prints the fraction of reference answers whose converted trace executes to the
gold answer (each converted with its question), the failure reasons, how many converted
traces read one variable twice in a step (by op: `add`/`mul` may, `sub`/`div` never
should), and the wall time.

    python bench/gsm8k_expressible.py [PATH] [--examples N]

PATH defaults to ../shared/data/gsm8k_train.jsonl relative to the repository root.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from runtime.gsm8k import convert, load_reference, reference_report  # noqa: E402

DEFAULT_PATH = REPO.parent / "shared" / "data" / "gsm8k_train.jsonl"


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
    if args.examples:
        _examples(args.path, args.examples)


if __name__ == "__main__":
    main()
