#!/usr/bin/env bash
# One GPU lease's worth of checks (issue 13 item 8), run from the repository root on the lent
# machine with the wheels of bench/gpu_wheels.sh carried in .whl/ and the figures written to $OUT:
#   bash bench/gpu_session.sh
# GPU_SESSION_DRY=1 runs the same steps on the CPU with tiny sizes: a check of this script before
# a lease (its figures mean nothing), about a minute here.
# 1. the image's versions and the GPU; 2. bench/gpu_check.py (tiny model, bf16 then fp32, through
# tasklang's functions); 3. the same placement through the commands a user types: `tasklang train
# sft --device auto` and `tasklang eval --device auto` on the dataset gpu_check compiled.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=$PWD:/tmp/site
else
    export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ "${GPU_SESSION_DRY:-0}" = 1 ]; then
    tiny='{"num_hidden_layers": 1}'
    check_args=(--device cpu --steps 12 --batch-size 4 --val-n 2 --eval-n 4 --eval-batch 4 --max-new-tokens 16
           --tiny-config "$tiny")
    cli_train=(--steps 2 --batch-size 4 --val-n 2 --max-new-tokens 16 --tiny-config "$tiny")
    cli_eval=(-n 4 --max-new-tokens 16)
else
    check_args=(--device cuda)
    cli_train=(--steps 200 --batch-size 32 --val-n 32)
    cli_eval=(-n 128)
fi
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt"
else
    echo "no nvidia-smi on this machine" | tee "$OUT/nvidia-smi.txt"
fi
python3 -c "import sys, torch, transformers, peft, accelerate; print(sys.version.split()[0], torch.__version__,
transformers.__version__, peft.__version__, accelerate.__version__, torch.cuda.is_available())" \
    | tee "$OUT/versions.txt"
timeout 360 python3 bench/gpu_check.py "${check_args[@]}" --out "$OUT/gpu_check.json" --work /tmp/gc 2>&1 \
    | tee "$OUT/gpu_check.log"
check=${PIPESTATUS[0]}
data=/tmp/gc/data/demo_rate_arith
{
    echo "== tasklang train sft --device auto"
    timeout 150 python3 -m tasklang.cli train sft --model tiny --data "$data" -o /tmp/cli-run --overwrite \
        --device auto "${cli_train[@]}" 2>&1 | tail -25
    echo "rc=${PIPESTATUS[0]}"
    echo "== tasklang eval --device auto"
    timeout 90 python3 -m tasklang.cli eval --model /tmp/cli-run --data "$data/val.jsonl" "${cli_eval[@]}" \
        -o "$OUT/cli_eval.jsonl" --device auto --format json 2>&1 | tail -40
    echo "rc=${PIPESTATUS[0]}"
} 2>&1 | tee "$OUT/cli.log"
exit "$check"
