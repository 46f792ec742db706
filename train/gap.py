"""`tasklang eval gap`: measure the gap before training, as notes 001 learned to.

The notes trained a model for a skill its base model already had: the base model looked
incapable only because it was asked in a format it did not know. So the base model is
measured with its chat template AND with the plain `Instruction: ... Response:` cue, the
other model (an instruct model, or a trained one) beside it on the same records, and the
gap is confirmed only when every threshold holds against the base model in every format:
base accuracy low, other accuracy high, a paired McNemar test that rejects, and an effect
(Cohen's h) that is large. The defaults are the notes' gates: base <= 30%, other >= 80%,
p < 0.01, h >= 0.5.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .evaluate import compare
from .stats import small_sample_warning, wilson

BASE_FORMATS = ("chat", "plain")


@dataclass(frozen=True)
class Thresholds:
    """The gates a gap must pass (notes 001's by default)."""

    base_max: float = 0.30
    other_min: float = 0.80
    alpha: float = 0.01
    min_h: float = 0.5

    def __post_init__(self) -> None:
        for name in ("base_max", "other_min", "alpha"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"gap threshold {name} must be in [0, 1], got {value}")


def arm_summary(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One model in one prompt format: n, correct, accuracy and its Wilson interval."""
    n = len(results)
    k = sum(1 for r in results if r["correct"])
    return {"n": n, "correct": k, "accuracy": k / n if n else 0.0, "wilson95": wilson(k, n).to_json()}


def checks(base_acc: float, other_acc: float, p: float, h: float, t: Thresholds) -> dict[str, bool]:
    """Each gate, by name, and whether it holds."""
    return {
        f"base <= {t.base_max:g}": base_acc <= t.base_max,
        f"other >= {t.other_min:g}": other_acc >= t.other_min,
        f"p < {t.alpha:g}": p < t.alpha,
        f"h >= {t.min_h:g}": h >= t.min_h,
    }


def comparison(base: Sequence[Mapping[str, Any]], other: Sequence[Mapping[str, Any]],
               t: Thresholds) -> dict[str, Any]:
    """Base in one format against the other model, paired by id: the discordant counts
    b (only base right) and c (only other right), McNemar's exact p, Cohen's h (positive when
    the other model is better) and the gates."""
    paired = compare(base, other)
    gates = checks(paired["accuracy_a"], paired["accuracy_b"], paired["mcnemar_p"], paired["cohens_h"], t)
    return {
        "n": paired["n"],
        "b": paired["only_a_correct"],
        "c": paired["only_b_correct"],
        "both_correct": paired["both_correct"],
        "neither_correct": paired["neither_correct"],
        "mcnemar_p": paired["mcnemar_p"],
        "cohens_h": paired["cohens_h"],
        "checks": gates,
        "passed": all(gates.values()),
    }


def report(
    arms: Mapping[str, Sequence[Mapping[str, Any]]],
    skipped: Mapping[str, str],
    thresholds: Thresholds,
    other_arm: str,
) -> dict[str, Any]:
    """The gap report from each arm's graded results (`base.chat`, `base.plain`, `other.chat`).
    The verdict is `gap` only when every measured base format passes every gate."""
    other = arms[other_arm]
    comparisons = {
        name: comparison(results, other, thresholds)
        for name, results in arms.items()
        if name.startswith("base.")
    }
    failed = [
        f"{name}: {gate} fails"
        for name, c in comparisons.items()
        for gate, ok in c["checks"].items()
        if not ok
    ]
    out: dict[str, Any] = {
        "arms": {name: arm_summary(results) for name, results in arms.items()},
        "comparisons": comparisons,
        "skipped": dict(skipped),
        "thresholds": asdict(thresholds),
        "verdict": "gap" if comparisons and not failed else "no gap",
        "failed": failed,
    }
    warning = small_sample_warning(len(other))
    if warning:
        out["warning"] = warning
    return out


def render(rep: Mapping[str, Any]) -> list[str]:
    """The text form of a report, one line per arm, comparison and verdict."""
    lines = []
    for name, arm in rep["arms"].items():
        lo, hi = arm["wilson95"]
        lines.append(
            f"{name:<12} {arm['correct']:>5}/{arm['n']:<5} accuracy {arm['accuracy']:.4f}  "
            f"(95% Wilson {lo:.4f}-{hi:.4f})"
        )
    for name, why in rep["skipped"].items():
        lines.append(f"{name:<12} not measured: {why}")
    for name, c in rep["comparisons"].items():
        lines.append(
            f"{name} vs other: b={c['b']} (only base right), c={c['c']} (only other right); "
            f"McNemar exact p={c['mcnemar_p']:.3g}; Cohen's h={c['cohens_h']:+.3f}"
        )
        lines.append("  " + "; ".join(f"{gate} {'yes' if ok else 'NO'}" for gate, ok in c["checks"].items()))
    if rep["verdict"] == "gap":
        lines.append("verdict: gap (every gate holds against the base model in every format)")
    else:
        lines.append("verdict: no gap (" + "; ".join(rep["failed"] or ["nothing was compared"]) + ")")
    return lines


def reused_base_arms(
    directory: Path, base: str, records: Sequence[Mapping[str, Any]], max_new_tokens: int, dtype: str
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """The base arms (and skipped formats) of an earlier `eval gap -o DIRECTORY`, when they
    answer the same question: the same base model spec, the same records in the same order and
    the same token budget and precision. Greedy decoding would give the same answers again, so measuring the
    base model before training and comparing it after costs its arms once. Anything else
    raises DataError, naming what differs."""
    from .data import DataError

    report_path = directory / "gap.json"
    try:
        before = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"--base-results {directory}: no readable gap.json ({_why(err)})") from err
    differs = [
        f"{what} {theirs!r} here {ours!r}"
        for what, theirs, ours in (
            ("base model", before.get("base"), base),
            ("max new tokens", before.get("max_new_tokens"), max_new_tokens),
            ("dtype", before.get("dtype"), dtype),
        )
        if theirs != ours
    ]
    if differs:
        raise DataError(f"--base-results {directory}: measured with " + "; ".join(differs))
    ids = [r["id"] for r in records]
    arms: dict[str, list[dict[str, Any]]] = {}
    for name in before.get("arms", {}):
        if not name.startswith("base."):
            continue
        path = directory / f"{name}.jsonl"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
            rows = [json.loads(line) for line in lines if line.strip()]
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"--base-results {directory}: cannot read {path.name} ({_why(err)})") from err
        if [r.get("id") for r in rows] != ids:
            raise DataError(
                f"--base-results {directory}: {path.name} answered other records "
                f"({len(rows)} results, {len(ids)} records here; the same data, split and -n are needed)"
            )
        arms[name] = rows
    if not arms:
        raise DataError(f"--base-results {directory}: gap.json lists no base arm")
    return arms, dict(before.get("skipped", {}))


def _why(err: OSError | json.JSONDecodeError) -> str:
    """The reason alone: the path is in the message already ("[Errno 2] ...: '/x/gap.json'" is not)."""
    if isinstance(err, json.JSONDecodeError):
        return f"not JSON: {err.msg}, line {err.lineno}"
    from tasklang.exits import reason

    return reason(err)


def evaluate_arms(
    base: str,
    other: str,
    records: list[dict[str, Any]],
    max_new_tokens: int,
    batch_size: int,
    other_format: str = "chat",
    placement: Any = None,
    base_arms: tuple[dict[str, list[dict[str, Any]]], dict[str, str]] | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Greedy graded results of each arm, and the base formats that could not be measured
    (a base model without a chat template has no chat format). One model in memory at a time,
    on `placement` (a train.devices.Placement; None: where it loads, the CPU). `base_arms`
    (from `reused_base_arms`) stands in for measuring the base model again."""
    import gc

    from .devices import place
    from .models import load
    from .sft import evaluate_model

    def loaded(name: str) -> tuple[Any, Any]:
        if placement is None:
            return load(name, records)
        model, tok = load(name, records, dtype=placement.torch_dtype())
        return place(model, placement, train=False), tok

    if base_arms is not None:
        arms, skipped = dict(base_arms[0]), dict(base_arms[1])
        model, tok = loaded(other)
        arms[f"other.{other_format}"] = evaluate_model(model, tok, records, other_format, max_new_tokens,
                                                       batch_size, desc=f"other {other_format}")
        return arms, skipped
    arms = {}
    skipped = {}
    model, tok = loaded(base)
    for fmt in BASE_FORMATS:
        if fmt == "chat" and not getattr(tok, "chat_template", None):
            skipped["base.chat"] = "the base tokenizer has no chat template"
            continue
        arms[f"base.{fmt}"] = evaluate_model(model, tok, records, fmt, max_new_tokens, batch_size,
                                             desc=f"base {fmt}")
    if other == base and f"base.{other_format}" in arms:
        # The same model in the same format: greedy decoding gives the same answers again, so
        # reuse them (`eval gap --model M --model M` measures M's two formats for one arm's cost).
        arms[f"other.{other_format}"] = arms[f"base.{other_format}"]
        return arms, skipped
    del model, tok
    gc.collect()
    model, tok = loaded(other)
    arms[f"other.{other_format}"] = evaluate_model(model, tok, records, other_format, max_new_tokens,
                                                   batch_size, desc=f"other {other_format}")
    return arms, skipped
