#!/usr/bin/env bash
# The optional `torch` feature: burn's libtorch backend, PyTorch's own kernels (oneDNN on the CPU,
# cuDNN on NVIDIA GPUs), built against a PyTorch installed from PyPI. The default build needs none
# of this.
#
#   bash scripts/torch.sh venv           a virtual environment with torch==2.9.0 (the version
#                                        burn-tch 0.22's torch-sys links) from PyPI: about 3.7 GB
#                                        downloaded (the CUDA wheel and NVIDIA's libraries, which
#                                        PyPI's Linux torch always brings), 6.8 GB installed, in
#                                        $SLICEPLAN_TORCH_VENV (default ~/.cache/sliceplan/torch-venv)
#   bash scripts/torch.sh build [ARGS]   cargo build --release --features torch [ARGS] against it;
#                                        the binaries find libtorch in that environment by their
#                                        run path (keep it where it is)
#   bash scripts/torch.sh test           the tests of the feature: libtorch's device, a forward
#                                        pass and an Adam step against flex, a short demo training
#   bash scripts/torch.sh bench          bench_train and bench_conv: flex, tch and PyTorch side by
#                                        side in one run
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SLICEPLAN_TORCH_VENV:-$HOME/.cache/sliceplan/torch-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sliceplan/target}"

make_venv() {
  if "$venv/bin/python" -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.9.0")' 2>/dev/null; then
    return 0
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check torch==2.9.0 numpy
}

# torch-sys asks the active Python for PyTorch's headers and libraries.
activate() {
  make_venv
  export VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" LIBTORCH_USE_PYTORCH=1
}

case "${1:-}" in
  venv) make_venv ;;
  build) shift; activate; cargo build --release --features torch "$@" ;;
  test)
    activate
    cargo test --release --features torch --lib train::torch
    cargo test --release --features torch --test train tch_backend
    ;;
  bench)
    activate
    cargo run --release --features torch --example bench_train -- --python "$venv/bin/python"
    cargo run --release --features torch --example bench_conv -- --python "$venv/bin/python"
    ;;
  *) echo "usage: bash scripts/torch.sh venv | build [cargo args] | test | bench" >&2; exit 2 ;;
esac
