"""Several sampled answers per prompt: pass@k and the majority vote, beside greedy.

Greedy decoding answers once; people who evaluate reasoning models also sample K answers
at a temperature and report pass@k (Chen et al. 2021: the chance that one of k samples is
right, estimated without bias from all K) and the majority vote (self-consistency: the
answer most samples executed to). Every sample is graded by the runtime, like greedy ones.
Samples are seeded per (seed, record id, sample index), so a run is reproducible and a
record's samples do not depend on which other records were evaluated with it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.exact import strip_output
from runtime.grade import CORRECT, PARSE_FAILURE, WRONG_ANSWER
from runtime.records import record_kind

from .distributed import LOCAL, Engine
from .stats import mean_pass_at_k, wilson


@dataclass(frozen=True)
class SamplingPlan:
    """K samples per prompt at `temperature` and `top_p`, seeded by `seed`."""

    k: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError("samples: K must be >= 1")
        if self.temperature <= 0:
            raise ValueError("samples: the temperature must be > 0 (greedy is always run)")
        if not 0 < self.top_p <= 1:
            raise ValueError("samples: top-p must be in (0, 1]")


def vote_key(result: Mapping[str, Any], record: Mapping[str, Any]) -> Hashable | None:
    """What a graded sample answered, for the vote: the value its trace executed to (trace
    records, only when the trace ran: right or wrong answer), the normalised text (exact-text
    records), or None (no executed answer; code records, whose answers are functions, have none)."""
    kind = record_kind(record)
    if kind == "code":
        return None
    if kind == "exact":
        return strip_output(str(result["output"])) if result["status"] != PARSE_FAILURE else None
    return result.get("value") if result["status"] in (CORRECT, WRONG_ANSWER) else None


def majority(keys: Sequence[Hashable | None]) -> tuple[Hashable | None, int]:
    """The most frequent answer and its count, None answers left out. A tie goes to the
    answer that a sample gave first (the lowest sample index), so the vote is deterministic."""
    counts: dict[Hashable, int] = {}
    first: dict[Hashable, int] = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, i)
    if not counts:
        return None, 0
    best = min(counts, key=lambda key: (-counts[key], first[key]))
    return best, counts[best]


def record_votes(record: Mapping[str, Any], samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One record's K graded samples -> correct count, the vote and whether it is right."""
    keys = [vote_key(s, record) for s in samples]
    winner, votes = majority(keys)
    # Every sample with the winning answer has the same grade: take the first one's.
    right = winner is not None and bool(next(s for s, k in zip(samples, keys, strict=True)
                                             if k == winner)["correct"])
    return {
        "id": record.get("id"),
        "samples": len(samples),
        "correct": sum(1 for s in samples if s["correct"]),
        "majority_answer": None if winner is None else str(winner),
        "majority_votes": votes,
        "majority_correct": right,
    }


def summarize_samples(per_record: Sequence[Mapping[str, Any]], plan: SamplingPlan) -> dict[str, Any]:
    """pass@k for every k <= K and the majority-vote accuracy (with its Wilson interval)."""
    n = len(per_record)
    counts = [(int(r["samples"]), int(r["correct"])) for r in per_record]
    right = sum(1 for r in per_record if r["majority_correct"])
    return {
        "k": plan.k,
        "temperature": plan.temperature,
        "top_p": plan.top_p,
        "seed": plan.seed,
        "pass_at": {str(k): mean_pass_at_k(counts, k) for k in range(1, plan.k + 1)},
        "majority_accuracy": right / n if n else 0.0,
        "majority_wilson95": wilson(right, n).to_json(),
        "majority_correct": right,
        "no_answer": sum(1 for r in per_record if r["majority_answer"] is None),
    }


def sample_records(
    model: Any,
    tokenizer: Any,
    records: Sequence[dict[str, Any]],
    prompt_format: str,
    max_new_tokens: int,
    plan: SamplingPlan,
    batch_size: int = 32,
    engine: Engine = LOCAL,
) -> list[list[dict[str, Any]]]:
    """K graded samples per record, in the records' order. With several processes (`engine`,
    a train.distributed.Engine) each samples its share of the answers and all get them all."""
    from . import data as D
    from .evaluate import grade_outputs
    from .generate import Sampling, generate, row_seed
    from .runs import progress

    prompts, seeds, owners = [], [], []
    for i, record in enumerate(records):
        ids = D.prompt_ids(tokenizer, record, prompt_format)
        key = record.get("id", i)
        for j in range(plan.k):
            prompts.append(ids)
            seeds.append(row_seed(plan.seed, key, j))
            owners.append(record)
    sampling = Sampling(max_new_tokens, do_sample=True, temperature=plan.temperature, top_p=plan.top_p)
    mine = engine.shard(range(len(prompts)))
    bar = progress(len(mine), "samples", "ans", show=engine.main)
    outs = generate(model, tokenizer, [prompts[i] for i in mine], sampling, batch_size, on_batch=bar.update,
                    seeds=[seeds[i] for i in mine], synced=engine.sharded)
    bar.close()
    graded = engine.gather(grade_outputs([owners[i] for i in mine], [o.text for o in outs]), len(prompts))
    return [graded[i * plan.k : (i + 1) * plan.k] for i in range(len(records))]
