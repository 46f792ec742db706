"""Grade throughput benchmark: model text -> reward on one core.

Prints completions graded per second for an 8-step trace and a 3-expert composed
trace, in the canonical rendering (the fast path) and in block-style YAML (the
bounded event loader, C and pure Python), beside PyYAML's own `load` of the same
documents as the reference, plus execute-only throughput from parsed objects.

    python bench/bench_grade.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable

import yaml

import runtime
from runtime.execute import execute

EIGHT_STEP = """expert: entity_track
trace:
- {op: init, var: produced, value: 16}
- {op: init, var: use1, value: 3}
- {op: compute, compute_op: sub, args: [produced, use1], var: step1}
- {op: init, var: use2, value: 4}
- {op: compute, compute_op: sub, args: [step1, use2], var: step2}
- {op: init, var: price, value: 2}
- {op: compute, compute_op: mul, args: [step2, price], var: result}
- {op: query, var: result}
"""

COMPOSED = """- expert: percentage
  trace:
  - {op: init, var: price, value: 80000}
  - {op: init, var: rate, value: 150}
  - {op: percent_increase, base: price, rate: rate, var: result}
  - {op: query, var: result}
- expert: arithmetic
  trace:
  - {op: init, var: prev, source: prev.result}
  - {op: init, var: cost, value: 130000}
  - {op: compute, compute_op: sub, args: [prev, cost], var: result}
  - {op: query, var: result}
- expert: arithmetic
  trace:
  - {op: init, var: prev, source: prev.result}
  - {op: init, var: partners, value: 2}
  - {op: compute, compute_op: div, args: [prev, partners], var: result}
  - {op: query, var: result}
"""
ANSWERS = {"8-step": "18", "3-expert": "35000"}
# The questions the traces answer: `grade(..., question=)` grounds every init in them.
QUESTIONS = {
    "8-step": "Janet's hens lay 16 eggs a day. She eats 3 and bakes with 4, and sells the rest "
              "at $2 each. How many dollars does she make a day?",
    "3-expert": "A house bought for $80,000 rises 150% in value and is sold; $130,000 of costs "
                "are paid, and 2 partners split the rest. What does each get?",
}


def block_style(text: str) -> str:
    """The same document re-dumped in block style: not canonical, so no fast path."""
    return yaml.safe_dump(yaml.safe_load(text), default_flow_style=False, sort_keys=False)


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second, timed over batches until `seconds` have passed."""
    fn()  # warm caches
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(200):
            fn()
        n += 200
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args()
    docs = {"8-step": EIGHT_STEP, "3-expert": COMPOSED}
    rows: list[tuple[str, str, float]] = []
    for name, text in docs.items():
        answer = ANSWERS[name]
        assert runtime.grade(text, answer).status == "correct", name
        assert runtime.grade(text, answer, question=QUESTIONS[name]).status == "correct", name
        block = block_style(text)
        assert runtime.grade(block, answer).status == "correct", name
        parsed = runtime.parse(text)
        cases: dict[str, Callable[[], object]] = {
            "pyyaml CSafeLoader load only (reference)":
                lambda t=text: yaml.load(t, Loader=yaml.CSafeLoader),
            "pyyaml SafeLoader load only (reference)":
                lambda t=text: yaml.load(t, Loader=yaml.SafeLoader),
            "grade, canonical text (fast path)": lambda t=text, a=answer: runtime.grade(t, a),
            # RL grades many samples of one prompt: the question's numbers are cached.
            "grade, canonical text, with question":
                lambda t=text, a=answer, q=QUESTIONS[name]: runtime.grade(t, a, question=q),
            "grade, block YAML, C loader":
                lambda t=block, a=answer: runtime.grade(t, a, loader="c"),
            "grade, block YAML, Python loader":
                lambda t=block, a=answer: runtime.grade(t, a, loader="python"),
            "execute only (parsed trace)": lambda p=parsed: execute(p),
        }
        for case, fn in cases.items():
            rows.append((name, case, rate(fn, args.seconds)))
    if args.json:
        print(json.dumps([{"doc": d, "case": c, "per_s": round(r)} for d, c, r in rows], indent=1))
        return
    print(f"python {platform.python_version()} on {platform.machine()}, one core, "
          f"libyaml={yaml.__with_libyaml__}")
    print(f"{'document':<10} {'case':<44} {'per second':>12}")
    for doc, case, per_s in rows:
        print(f"{doc:<10} {case:<44} {per_s:>12,.0f}")


if __name__ == "__main__":
    main()
