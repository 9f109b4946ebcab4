#!/usr/bin/env bash
# The GPU check of issue 12, as one call on a machine with an NVIDIA GPU, CuPy and PyTorch with
# CUDA already installed (it installs nothing else; under 5 minutes):
#   1. the versions it runs with (pip list);
#   2. every row of the op table on the GPU against NumPy on the CPU, float64 and float32,
#      forward, backward and second order (tests/ops/test_array_api.py on CHAINRULE_TEST_DEVICE);
#   3. the digits MLP trained on the GPU (chainrule train --device cuda);
#   4. the fused kernels (Adam's update, the cross-entropy backward) run by CuPy against the
#      generic code (tests/test_fused_kernels.py; on a CPU those tests skip);
#   5. workloads (a) and (b) at batch 256 and (b) at 4096 against PyTorch CUDA on the same card,
#      and the fused kernels timed against the chains they replace (benchmarks/gpu_check.py):
#      gpu_check.json and gpu_check.md.
# The timeouts add up to 300 s: the whole check stays under 5 minutes even where a step hangs.
# Usage: bash benchmarks/gpu_check.sh [OUT_DIR]   (default: $OUT)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:?give an output folder or set OUT}}"
mkdir -p "$out"
status=0
python -m pip list 2>/dev/null | grep -i -E "^(cupy|torch|numpy|array.api|hypothesis|pytest) " | tee "$out/versions.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$out/versions.txt"
python -m pip install --quiet --no-deps -e . >/dev/null 2>&1 || export PYTHONPATH="$PWD"
CHAINRULE_TEST_DEVICE=cuda timeout 130 python -m pytest -q -p no:cacheprovider -W ignore \
    tests/ops/test_array_api.py 2>&1 | tail -15 | tee "$out/op_table.txt" || status=1
timeout 45 python -m chainrule train --device cuda --epochs 5 --out "$out/digits-run" \
    --overwrite 2>&1 | tail -6 | tee "$out/train.txt" || status=1
timeout 25 python -m pytest -q -p no:cacheprovider -W ignore -rs tests/test_fused_kernels.py \
    -k cupy 2>&1 | tail -8 | tee "$out/fused_kernels.txt" || status=1
timeout 100 python benchmarks/gpu_check.py --device cuda --out "$out" || status=1
exit $status
