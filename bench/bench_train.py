"""Trainer benchmarks (issue 5), side by side in one run.

1. SFT tokens/s: train.sft.Trainer against a plain torch loop (forward, loss, backward,
   clip, AdamW step) on the same tiny model, the same batches, the same number of steps.
2. Padding waste with and without packing on the same data.
3. Eval generation: batched (left padding) against one prompt at a time, same prompts,
   same greedy settings.

    python bench/bench_train.py --data build/demo_rate_arith

`--data` is a compiled dataset directory (default: compiles tasks/demo/rate_arith.task into
a temporary directory).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from train import data as D  # noqa: E402
from train.generate import Sampling, generate  # noqa: E402
from train.models import TinySpec, build_tiny, parameter_count  # noqa: E402
from train.sft import Schedule, Trainer  # noqa: E402


def dataset(path: str | None) -> Path:
    if path:
        return Path(path)
    from tasklang.api import LoadOptions, compile_paths

    out = Path(tempfile.mkdtemp(prefix="bench-train-"))
    # The demo imports ../gsm/experts.task: the project root is tasks/, not tasks/demo/.
    checked, _ = compile_paths([str(ROOT / "tasks" / "demo" / "rate_arith.task")], out,
                               options=LoadOptions(root=ROOT / "tasks"))
    assert checked.ok
    return out / "demo_rate_arith"


def fresh(records: list[dict], seed: int = 0):
    return build_tiny(records, TinySpec(seed=seed))


def plain_loop(model, batches: list[D.Batch], lr: float) -> float:
    """The reference: nothing but the arithmetic of a training step."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    start = time.perf_counter()
    for batch in batches:
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False).logits
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]),
            batch.labels[:, 1:].reshape(-1),
            ignore_index=D.IGNORE,
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def ours(model, tokenizer, batches: list[D.Batch], lr: float) -> float:
    trainer = Trainer(model, tokenizer, Schedule(lr=lr, warmup=0.0), total_steps=len(batches))
    start = time.perf_counter()
    for batch in batches:
        trainer.train_step(batch)
    return time.perf_counter() - start


def bench_sft(records: list[dict], steps: int, batch_size: int, repeats: int) -> None:
    model, tok = fresh(records)
    examples = D.encode_all(tok, records)
    batches = list(D.batches(examples, batch_size, tok.pad_token_id, random.Random(0)))[:steps]
    tokens = sum(b.real_tokens for b in batches)
    print(
        f"model: tiny Llama, {parameter_count(model) / 1e6:.2f}M parameters; "
        f"{steps} steps of batch {batch_size}"
    )
    rows = {"plain torch loop": [], "tasklang Trainer": []}
    for _ in range(repeats):  # interleaved, so drift in machine load hits both alike
        model, _ = fresh(records)
        rows["plain torch loop"].append(tokens / plain_loop(model, batches, 1e-3))
        model, _ = fresh(records)
        rows["tasklang Trainer"].append(tokens / ours(model, tok, batches, 1e-3))
    best = {k: max(v) for k, v in rows.items()}
    print(f"| loop | tokens/s (best of {repeats}) |")
    print("|---|---:|")
    for name, value in best.items():
        print(f"| {name} | {value:,.0f} |")
    print(
        f"ratio tasklang / plain: {best['tasklang Trainer'] / best['plain torch loop']:.3f}x "
        "(target >= 0.95x)\n"
    )


def bench_padding(records: list[dict], batch_size: int) -> None:
    _, tok = fresh(records)
    examples = D.encode_all(tok, records)
    print("| batching | rows | positions | padding share |")
    print("|---|---:|---:|---:|")
    for name, packing in (("padded batches", False), ("packed rows", True)):
        bs = list(D.batches(examples, batch_size, tok.pad_token_id, random.Random(0), packing=packing))
        positions = sum(b.input_ids.numel() for b in bs)
        real = sum(b.real_tokens for b in bs)
        print(
            f"| {name} | {sum(b.input_ids.shape[0] for b in bs):,} | {positions:,} | "
            f"{1 - real / positions:.1%} |"
        )
    print()


def bench_generation(records: list[dict], n: int, batch_size: int, max_new: int) -> None:
    model, tok = fresh(records)
    prompts = [D.prompt_ids(tok, r, "chat") for r in records[:n]]
    sampling = Sampling(max_new_tokens=max_new)
    # An untrained model rarely emits eos, so every prompt generates max_new tokens in both modes.
    t = time.perf_counter()
    batched = generate(model, tok, prompts, sampling, batch_size=batch_size)
    t_batched = time.perf_counter() - t
    t = time.perf_counter()
    single = generate(model, tok, prompts, sampling, batch_size=1)
    t_single = time.perf_counter() - t
    tokens_b = sum(len(g.token_ids) for g in batched)
    tokens_s = sum(len(g.token_ids) for g in single)
    print(f"| generation ({n} prompts, up to {max_new} new tokens, greedy) | seconds | new tokens/s |")
    print("|---|---:|---:|")
    print(f"| one prompt at a time | {t_single:.2f} | {tokens_s / t_single:,.0f} |")
    print(f"| batched, batch {batch_size}, left padding | {t_batched:.2f} | {tokens_b / t_batched:,.0f} |")
    print(f"speed-up: {t_single / t_batched:.1f}x (target >= 8x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--gen-n", type=int, default=64)
    ap.add_argument("--gen-batch", type=int, default=32)
    ap.add_argument("--gen-tokens", type=int, default=64)
    args = ap.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    data = dataset(args.data)
    records = D.read_records(D.split_file(data, "train"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; data {data}\n")
    bench_sft(records, args.steps, args.batch_size, args.repeats)
    bench_padding(records, args.batch_size)
    bench_generation(records, args.gen_n, args.gen_batch, args.gen_tokens)


if __name__ == "__main__":
    main()
