"""Summarize `tasklang eval gap -o DIR` runs for docs/RESULTS.md: per arm n, accuracy, Wilson
95%, parse rate, valid traces, statuses, mean output length; per comparison the paired figures.

    python bench/gap_summary.py OUT/gap.trace.after OUT/gap.gsm.after -o bench/results/smollm2.json

It reads the arms' per-example files and grades nothing itself: the statuses are the runtime's.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from train.evaluate import summarize

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def last_number_is_answer(row: dict[str, Any]) -> bool:
    """A lenient side check, not the grade: does the output's last number equal the answer?
    It tells a model that knows the answer but not the trace format from one that knows neither."""
    numbers = NUMBER.findall(str(row["output"]).replace(",", ""))
    try:
        return bool(numbers) and float(numbers[-1]) == float(row["answer"])
    except (TypeError, ValueError):
        return False


def arm(path: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    s = summarize(rows)
    keep = ("n", "correct", "accuracy", "wilson95", "parse_rate", "valid_trace_rate", "statuses")
    out = {k: s[k] for k in keep}
    out["by_expert"] = s["by"].get("expert", {})
    out["mean_output_chars"] = sum(len(r["output"]) for r in rows) / len(rows) if rows else 0.0
    out["last_number_is_answer"] = sum(1 for r in rows if last_number_is_answer(r))
    return out


def gap_dir(directory: Path) -> dict[str, Any]:
    rep = json.loads((directory / "gap.json").read_text(encoding="utf-8"))
    keep = ("base", "other", "split", "max_new_tokens", "max_new_tokens_source", "device", "dtype",
            "comparisons", "verdict", "failed", "base_results")
    return {
        **{k: rep[k] for k in keep if k in rep},
        "arms": {name: arm(directory / f"{name}.jsonl") for name in rep["arms"]},
    }


def table(name: str, rep: dict[str, Any]) -> list[str]:
    lines = [f"## {name} (budget {rep['max_new_tokens']}, {rep['max_new_tokens_source']})",
             "| arm | n | correct | accuracy | 95% Wilson | parse rate | valid traces | statuses "
             "| last number = answer |",
             "|---|---:|---:|---:|---|---:|---:|---|---:|"]
    for arm_name, a in rep["arms"].items():
        lo, hi = a["wilson95"]
        statuses = ", ".join(f"{k} {v}" for k, v in a["statuses"].items())
        lines.append(f"| {arm_name} | {a['n']} | {a['correct']} | {a['accuracy']:.4f} | {lo:.3f}-{hi:.3f} | "
                     f"{a['parse_rate']:.2f} | {a['valid_trace_rate']:.2f} | {statuses} | "
                     f"{a['last_number_is_answer']} |")
    for cmp_name, c in rep["comparisons"].items():
        lines.append(f"{cmp_name} vs other: b={c['b']} c={c['c']} both={c['both_correct']} "
                     f"neither={c['neither_correct']} McNemar p={c['mcnemar_p']:.3g} h={c['cohens_h']:+.3f}")
    lines.append(f"verdict: {rep['verdict']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="eval gap -o directories")
    parser.add_argument("-o", "--out", type=Path, help="write the summaries as one JSON object")
    args = parser.parse_args(argv)
    missing = [str(d) for d in args.dirs if not (d / "gap.json").is_file()]
    if missing:
        print(f"gap_summary: no gap.json in {', '.join(missing)}", file=sys.stderr)
        return 1
    reports = {d.name: gap_dir(d) for d in args.dirs}
    for name, rep in reports.items():
        print("\n".join(table(name, rep)) + "\n")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(reports, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
