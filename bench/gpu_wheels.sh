#!/usr/bin/env bash
# The wheels bench/gpu_check.py needs on the GPU machine beyond its image (torch, transformers,
# click, pyyaml, tqdm, matplotlib are there; tasklang's compiler and grader also import lark and
# pydantic). Run here, where pip reaches the index; carry DIR to the GPU machine and start its
# command with:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#       --target /tmp/site DIR/*.whl && export PYTHONPATH=$PWD:/tmp/site
# Versions are the ones tasklang is tested with here; pydantic_core must match pydantic exactly.
set -euo pipefail
dir=${1:-.whl}
mkdir -p "$dir"
for spec in lark==1.3.1 pydantic==2.13.4 pydantic_core==2.46.4 annotated-types==0.7.0 typing-inspection==0.4.2 \
        typing-extensions==4.16.0; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$dir" "$spec"
done
ls -l "$dir"
