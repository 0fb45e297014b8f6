#!/usr/bin/env bash
# Every GPU path sliceplan has, measured in one call on a GPU machine, side by side with PyTorch.
#
#   here (with Rust):   bash scripts/gpu-bench.sh build
#       builds stripped binaries into gpu-bench/ (carry that folder): bench_train and sliceplan
#       with the default features (wgpu, WGSL kernels); bench_train-vulkan with burn's `vulkan`
#       feature (SPIR-V kernels) when GPU_BENCH_VULKAN=1 (a second full build of burn, about 20
#       minutes on 2 cores); bench_train-torch with `--features torch` when GPU_BENCH_TORCH=1
#       (run it inside a virtual environment holding `pip install torch==2.9.0`, the version
#       burn-tch 0.22 links; the build records that version in gpu-bench/torch-version).
#   there (no Rust):    bash scripts/gpu-bench.sh run [OUT]
#       runs what gpu-bench/ holds and prints (and writes to OUT/gpu-bench.md, default
#       ./gpu-bench-out) one section per path:
#         ## wgpu (WGSL)              bench_train --backend wgpu: its table of the reference 2D and
#                                     3D U-Nets (reference-unet.md), ms per training step and per
#                                     inference, sliceplan against PyTorch CUDA eager run by the
#                                     same call (TF32 on, and strict float32), with the ratios
#         ## wgpu with vulkan (SPIR-V) the same table from bench_train-vulkan, or "not built"
#         ## tch CUDA                  the same table from bench_train-torch, or "not built", or
#                                     "not run" when the machine's PyTorch is another version
#                                     than the one it was built against (libtorch's C++ ABI
#                                     changes between versions); it runs on that PyTorch's lib/
#         ## kernel cache              `sliceplan train` (demo, 2D, 20 steps, wgpu) in two fresh
#                                     processes sharing one empty kernel cache: warm-up seconds of
#                                     the first (compiles and autotunes) and of the second (reads
#                                     the cache)
#       PyTorch CUDA eager is the reference in every table (examples/reference/unet_reference.py
#       with `torch` importable by python3). A path that fails says so in its section; the others
#       still run. Exit code 0 when every built path ran.
set -uo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
bin=gpu-bench

build() {
  set -e
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sliceplan/target}"
  mkdir -p "$bin"
  cargo build --release --example bench_train --bin sliceplan
  cp "$CARGO_TARGET_DIR/release/examples/bench_train" "$bin/bench_train"
  cp "$CARGO_TARGET_DIR/release/sliceplan" "$bin/sliceplan"
  if [ "${GPU_BENCH_VULKAN:-0}" = 1 ]; then
    CARGO_TARGET_DIR="$CARGO_TARGET_DIR-vulkan" cargo build --release --example bench_train --features vulkan
    cp "$CARGO_TARGET_DIR-vulkan/release/examples/bench_train" "$bin/bench_train-vulkan"
  fi
  if [ "${GPU_BENCH_TORCH:-0}" = 1 ]; then
    # The same target folder: cargo keeps both feature sets' artefacts (only the final binary
    # is overwritten, and it was copied above).
    LIBTORCH_USE_PYTORCH=1 cargo build --release --example bench_train --features torch
    cp "$CARGO_TARGET_DIR/release/examples/bench_train" "$bin/bench_train-torch"
    python -c 'import torch; print(torch.__version__.split("+")[0])' > "$bin/torch-version"
  fi
  strip "$bin"/* 2>/dev/null || true
  cp examples/reference/unet_reference.py "$bin/"
  ls -la "$bin"
}

section() {
  printf '\n## %s\n\n' "$1"
}

table() {
  local exe="$1" backend="$2"
  if [ ! -x "$exe" ]; then
    echo "not built (see scripts/gpu-bench.sh build)"
    return 0
  fi
  "$exe" --backend "$backend" --reference "$bin/unet_reference.py" 2>&1 || {
    echo "FAILED: $exe --backend $backend"
    return 1
  }
}

torch_cuda() {
  local built here lib
  built="$(cat "$bin/torch-version" 2>/dev/null)"
  here="$(python3 -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null)"
  if [ -x "$bin/bench_train-torch" ] && [ "$built" != "$here" ]; then
    echo "not run: built against PyTorch ${built:-?}, this machine's python3 has ${here:-none}"
    return 0
  fi
  lib="$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)"
  LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" table "$bin/bench_train-torch" tch
}

warm_up() {
  local exe="$bin/sliceplan" cache plan
  cache="$(mktemp -d)"
  plan="$(mktemp -d)/plan.json"
  "$exe" plan --data demo --budget-slices 40 --holdout 4 --out "$plan" --quiet || return 1
  for n in 1 2; do
    SLICEPLAN_KERNEL_CACHE="$cache" "$exe" train --data demo --plan "$plan" --model 2d \
      --backend wgpu --steps 20 --out "$(mktemp -d)/run" --json --quiet |
      grep -E '"(warmup_seconds|train_seconds|backend)"' | tr -d ' ,' | sed "s/^/process $n: /"
  done
}

run() {
  local out="${1:-gpu-bench-out}" failed=0
  mkdir -p "$out"
  exec > >(tee "$out/gpu-bench.md") 2>&1
  echo "# sliceplan GPU paths ($(date -u +%Y-%m-%dT%H:%MZ))"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  section "wgpu (WGSL)"
  table "$bin/bench_train" wgpu || failed=1
  section "wgpu with vulkan (SPIR-V)"
  table "$bin/bench_train-vulkan" wgpu || failed=1
  section "tch CUDA"
  torch_cuda || failed=1
  section "kernel cache"
  warm_up || { echo "FAILED: the warm-up runs"; failed=1; }
  return "$failed"
}

case "$mode" in
  build) build ;;
  run) shift; run "$@" ;;
  *) echo "usage: bash scripts/gpu-bench.sh build | run [OUT]" >&2; exit 2 ;;
esac
