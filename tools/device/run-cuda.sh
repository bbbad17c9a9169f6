#!/usr/bin/env bash
# On the `device` tool's GPU machine, after tools/device/prepare.sh here: the CUDA half as `tox -e cuda` runs it
# (tox cannot install anything there), with the image's own python, torch, transformers and pytest, and what the
# image lacks from the carried wheels. Results (JSON, logs) go to $OUT (the tool's) or out/device.
#   bash tools/device/run-cuda.sh [speed|accuracy|again|all] [extra pytest options...]
# speed:    random:bert-base, the quick profile's cells plus batch 32 (the issue's goals: b1 s128, b32 s512)
# accuracy: every CUDA variant's gate on the default model (carried in FP16, loaded as FP32)
# again:    speed a second time on the same cache: what the compiled variants reuse (build and compile seconds)
set -uo pipefail
cd "$(dirname "$0")/../.."
phase=${1:-all}
shift || true
out=${OUT:-out/device}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1
export FASTBERT_VARIANTS_CACHE=${FASTBERT_VARIANTS_CACHE:-/tmp/fastbert-variants-cache}
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv; python3 -c \
  'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'
} 2>&1 | tee "$out/machine.txt"
status=0
speed() {  # $1: a name for the files; the rest: extra pytest options
  local name=$1
  shift
  python3 -m pytest -p no:cacheprovider benchmarks/test_latency.py --fastbert-devices cuda --fastbert-profile quick \
    --fastbert-model random:bert-base --fastbert-batch-sizes 1,32 --benchmark-json "$out/$name.json" "$@" 2>&1 | tee "$out/$name.log"
  return "${PIPESTATUS[0]}"
}
case $phase in
  speed|all) speed speed "${@}" || status=$? ;;&
  accuracy|all)
    python3 -m pytest -p no:cacheprovider accuracy/test_degradation.py --fastbert-devices cuda --fastbert-profile quick \
      --fastbert-model .devcache/default-fp16 --fastbert-accuracy-json "$out/accuracy.json" "$@" 2>&1 | tee "$out/accuracy.log"
    [ "${PIPESTATUS[0]}" = 0 ] || status=1 ;;&
  again|all) speed speed-again "${@}" || status=$? ;;
  speed|accuracy) ;;
  *) echo "unknown phase $phase: use speed, accuracy, again or all"; exit 2 ;;
esac
exit "$status"
