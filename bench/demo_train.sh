#!/usr/bin/env bash
# The demonstrations of docs/RESULTS.md, end to end on the CPU. Usage:
#   bash bench/demo_train.sh [OUT]        (default OUT=runs/demo)
# Each step prints its wall time; the figures in RESULTS.md come from this script's output.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/demo}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
t() { local s=$SECONDS; "$@"; echo "[$(( SECONDS - s )) s] $*" >&2; }

# 1. Traces: rate_equation + arithmetic, val payloads never seen in training.
t tasklang compile tasks/demo/rate_arith.task --root tasks -o "$OUT/build"
DATA="$OUT/build/demo_rate_arith"
t tasklang eval --model tiny --data "$DATA/val.jsonl" -o "$OUT/untrained.val.jsonl" --max-new-tokens 160 -n 100
t tasklang train sft --model tiny --data "$DATA" -o "$OUT/sft" --overwrite --steps 2400 --batch-size 16 --lr 2e-3 \
    --eval-every 800 --val-n 64 --max-new-tokens 160 --time-limit 840
t tasklang eval --model "$OUT/sft" --data "$DATA/val.jsonl" -o "$OUT/sft.val.jsonl" --max-new-tokens 160
t tasklang train rl --model "$OUT/sft" --data "$DATA" -o "$OUT/rl" --overwrite --iterations 40 --prompts-per-step 8 -k 4 \
    --lr 2e-5 --kl 0.02 --eval-every 10 --val-n 64 --max-new-tokens 160
t tasklang eval --model "$OUT/rl" --data "$DATA/val.jsonl" -o "$OUT/rl.val.jsonl" --max-new-tokens 160
t tasklang eval compare "$OUT/sft.val.jsonl" "$OUT/rl.val.jsonl"

# 2. Operators: COPY / WRAP / EXTRACT, val phrasings and payloads held out.
t tasklang compile tasks/operators/operators.task -o "$OUT/build"
OPS="$OUT/build/operators"
t tasklang train sft --model tiny --data "$OPS" -o "$OUT/ops" --overwrite --steps 3000 --batch-size 32 --lr 2e-3 \
    --eval-every 500 --val-n 128 --max-new-tokens 24 --time-limit 840
t tasklang eval --model "$OUT/ops" --data "$OPS/val.jsonl" -o "$OUT/ops.val.jsonl" --max-new-tokens 24
# Which half of the held-out split fails: the same val payloads phrased with the train templates.
t tasklang eval --model "$OUT/ops" --data "$OPS/train.jsonl" -o "$OUT/ops.train.jsonl" --max-new-tokens 24 -n 1000
t python bench/phrasing_probe.py tasks/operators/operators.task "$OPS/val.jsonl" -o "$OUT/ops.probe_in.jsonl"
t tasklang eval --model "$OUT/ops" --data "$OUT/ops.probe_in.jsonl" -o "$OUT/ops.probe.jsonl" --max-new-tokens 24
t tasklang eval compare "$OUT/ops.val.jsonl" "$OUT/ops.probe.jsonl"
