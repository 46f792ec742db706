"""Evaluation: generate, grade with the runtime, and report what n can support.

The notes' evaluations lied three ways: a scoring heuristic that marked wrong answers
right, 10-example probes reported as results, and base models never measured first. Here
every output is graded by the same runtime that computed the dataset's answers, every
accuracy carries a Wilson interval, a small n gets a warning, and `--prompt-format plain`
measures a base model with the `Instruction: ... Response:` cue before anyone trains it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from runtime.grade import CORRECT, PARSE_FAILURE, WRONG_ANSWER
from runtime.numbers import format_number
from runtime.records import grade_record

from .stats import cohens_h, mcnemar_exact, small_sample_warning, wilson

BREAKDOWNS = ("expert", "pattern", "template_id", "language")


def grade_outputs(records: Sequence[Mapping[str, Any]], texts: Sequence[str]) -> list[dict[str, Any]]:
    """Per-example results in the records' order."""
    results = []
    for record, text in zip(records, texts, strict=True):
        grade = grade_record(text, record)
        results.append(
            {
                "id": record.get("id"),
                "correct": grade.status == CORRECT,
                "status": grade.status,
                "reward": grade.reward,
                "answer": record.get("answer"),
                # What the trace executed to (None when it did not run): the majority vote's key.
                "value": None if grade.value is None else format_number(grade.value),
                "expert": record.get("expert"),
                "pattern": record.get("pattern"),
                "template_id": record.get("template_id"),
                "language": record.get("language"),
                "output": text,
            }
        )
    return results


def _rate(results: Sequence[Mapping[str, Any]], keep: Callable[[Mapping[str, Any]], bool]) -> float:
    return sum(1 for r in results if keep(r)) / len(results) if results else 0.0


def _group(results: Iterable[Mapping[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in results:
        groups[str(r.get(key))].append(r)
    out = {}
    for name, members in sorted(groups.items()):
        k = sum(1 for r in members if r["correct"])
        out[name] = {
            "n": len(members),
            "accuracy": k / len(members),
            "wilson95": wilson(k, len(members)).to_json(),
        }
    return out


def summarize(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """n, accuracy with its Wilson 95% interval, parse and valid-trace rates, mean reward,
    statuses, breakdowns, and a warning when n is too small for fine claims."""
    n = len(results)
    k = sum(1 for r in results if r["correct"])
    rewards = [float(r["reward"]) for r in results if r.get("reward") is not None]
    statuses: dict[str, int] = defaultdict(int)
    for r in results:
        statuses[r["status"]] += 1
    summary: dict[str, Any] = {
        "n": n,
        "correct": k,
        "accuracy": k / n if n else 0.0,
        "wilson95": wilson(k, n).to_json(),
        "parse_rate": _rate(results, lambda r: r["status"] != PARSE_FAILURE),
        "valid_trace_rate": _rate(results, lambda r: r["status"] in (CORRECT, WRONG_ANSWER)),
        "mean_reward": sum(rewards) / len(rewards) if rewards else 0.0,
        "statuses": dict(sorted(statuses.items())),
        "by": {key: _group(results, key) for key in BREAKDOWNS},
    }
    warning = small_sample_warning(n)
    if warning:
        summary["warning"] = warning
    return summary


def compare(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Paired comparison by `id`: McNemar's exact test on the discordant pairs, Cohen's h.
    Only ids present in both are compared; the counts of the others are reported."""
    by_a = {r["id"]: bool(r["correct"]) for r in a}
    by_b = {r["id"]: bool(r["correct"]) for r in b}
    shared = [i for i in by_a if i in by_b]
    n = len(shared)
    both = sum(1 for i in shared if by_a[i] and by_b[i])
    only_a = sum(1 for i in shared if by_a[i] and not by_b[i])
    only_b = sum(1 for i in shared if by_b[i] and not by_a[i])
    acc_a = (both + only_a) / n if n else 0.0
    acc_b = (both + only_b) / n if n else 0.0
    out: dict[str, Any] = {
        "n": n,
        "accuracy_a": acc_a,
        "accuracy_b": acc_b,
        "wilson95_a": wilson(both + only_a, n).to_json(),
        "wilson95_b": wilson(both + only_b, n).to_json(),
        "both_correct": both,
        "only_a_correct": only_a,
        "only_b_correct": only_b,
        "neither_correct": n - both - only_a - only_b,
        "discordant": only_a + only_b,
        "mcnemar_p": mcnemar_exact(only_a, only_b),
        "cohens_h": cohens_h(acc_a, acc_b),
        "unpaired_a": len(by_a) - n,
        "unpaired_b": len(by_b) - n,
    }
    warning = small_sample_warning(n)
    if warning:
        out["warning"] = warning
    return out
