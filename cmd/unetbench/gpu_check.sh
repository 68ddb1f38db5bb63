#!/usr/bin/env bash
# gpu_check.sh: the prepared GPU check, in one run, for a machine with an NVIDIA GPU, a python3 with
# CUDA PyTorch and JAX's CUDA PJRT plugin, and no Go (binaries from `make gpu-bundle`).
#
#   bash cmd/unetbench/gpu_check.sh BUNDLE OUT
#
# BUNDLE is `make gpu-bundle`'s folder (bin/unetbench, bin/msdkit, data/Task04_Hippocampus); OUT
# receives every log. Steps, each under its own time limit so one failure does not eat the rest:
#   1. find JAX's xla_cuda_plugin.so in python3's site-packages and ptxas for XLA_FLAGS;
#   2. unetbench 3D U-Net training steps, ours (XLA) against PyTorch on CUDA, float32 then bf16;
#   3. a short Task04 training run (GPU 8 GB plan, bf16) with sliding-window validation Dice.
# GPU_CHECK_STEPS (default 300) sets the training steps, GPU_CHECK_TORCH_DEVICE (default cuda)
# PyTorch's device, GPU_CHECK_BENCH_STEPS (default 20) the benchmark steps.
set -uo pipefail
bundle=${1:?usage: gpu_check.sh BUNDLE OUT}
out=${2:?usage: gpu_check.sh BUNDLE OUT}
steps=${GPU_CHECK_STEPS:-300}
bench=${GPU_CHECK_BENCH_STEPS:-20}
device=${GPU_CHECK_TORCH_DEVICE:-cuda}
mkdir -p "$out"
log() { echo "== $*" | tee -a "$out/summary.txt"; }

py=$(command -v python3 || true)
site=$("$py" -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null || true)
plugin=$(ls "$site"/jax_plugins/xla_cuda*/xla_cuda_plugin.so 2>/dev/null | sort -r | head -n 1)
log "python3 ${py:-none}; site-packages ${site:-none}; JAX CUDA plugin ${plugin:-none}"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv | tee -a "$out/summary.txt"
fi
backend=auto
if [[ -n "$plugin" ]]; then
  backend="xla:$plugin"
  export MSDKIT_PYTHON_SITE="$site" GOPJRT_CUDA_CHECKS=0
  ptxas=$(find "$site/nvidia" -name ptxas -type f 2>/dev/null | head -n 1)
  if [[ -n "$ptxas" && "${XLA_FLAGS:-}" != *xla_gpu_cuda_data_dir* ]]; then
    export XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_cuda_data_dir=$(dirname "$(dirname "$ptxas")")"
  fi
fi
log "backend $backend; XLA_FLAGS=${XLA_FLAGS:-}"

for prec in float32 bf16; do
  log "unetbench 3D, $prec, $bench steps"
  timeout 300 "$bundle/bin/unetbench" -nets 3d -steps "$bench" -backend "$backend" -precision "$prec" \
    -torch "${py:-}" -torch-device "$device" >"$out/unetbench-$prec.txt" 2>&1
  log "exit $?"
  grep -E '^\| 3D|GPU memory|^backend|needs XLA' "$out/unetbench-$prec.txt" | tee -a "$out/summary.txt"
done

log "Task04 plan (GPU 8 GB) and $steps training steps"
timeout 60 "$bundle/bin/msdkit" plan -task Task04_Hippocampus -data "$bundle/data" -budget "GPU 8 GB" \
  -o "$out/plans.json" >"$out/plan.txt" 2>&1
log "plan exit $?"
tail -n 3 "$out/plan.txt" | tee -a "$out/summary.txt"
timeout 420 "$bundle/bin/msdkit" train -task Task04_Hippocampus -data "$bundle/data" -work "$out/work" \
  -plans "$out/plans.json" -out "$out/run" -steps "$steps" -val-every 100 -checkpoint-every "$steps" \
  -quiet -backend "$backend" >"$out/train.txt" 2>&1
log "train exit $?"
grep -E '^training|backend|needs XLA|trained|Dice|mean' "$out/train.txt" | tail -n 12 | tee -a "$out/summary.txt"
