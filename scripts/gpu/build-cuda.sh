#!/usr/bin/env bash
# Builds dps-tui with `--features cuda` on a machine with no GPU and no system CUDA.
#
# - nvcc, the CUDA headers and libcudart come from NVIDIA's PyPI wheels (CUDA 13.0, which the
#   R580 drivers of today's GPU hosts can run and candle's cudarc supports), installed once into
#   a cache folder ($DPS_CUDA_CACHE, default ~/.cache/dps-tui/cuda-13.0).
# - The driver, cuBLAS, cuBLASLt, cuRAND and NVRTC are linked against small stub libraries
#   generated here from cudarc's bindings (same sonames as CUDA 13's libraries); the GPU host's
#   real libraries are loaded at run time (driver from the system, the rest from PyTorch's
#   `nvidia/*/lib` folders through LD_LIBRARY_PATH, see scripts/gpu/gpu-check.sh).
# - CUDA_COMPUTE_CAP: 90 (Hopper) unless set. The kernels are compiled to PTX for it.
# - Separate target folder ($DPS_CUDA_TARGET, default target-cuda/), so the CPU build stays valid.
# - PROFILE=release (default) or PROFILE=dev.
#
# Idempotent: a second run reuses the cache and the target folder. The last line of output is
# the path of the binary.
set -euo pipefail
cd "$(dirname "$0")/../.."

CUDA_SERIES=13.0
NVCC_VERSION=13.0.88
CACHE="${DPS_CUDA_CACHE:-$HOME/.cache/dps-tui/cuda-$CUDA_SERIES}"
TARGET_DIR="${DPS_CUDA_TARGET:-target-cuda}"
PROFILE="${PROFILE:-release}"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"

log() { echo "build-cuda: $*" >&2; }

for tool in cargo python3 cc; do
  command -v "$tool" >/dev/null 2>&1 || { log "error: $tool not found (install it first)"; exit 1; }
done

# 1. nvcc + headers + libcudart from PyPI, installed once.
PY="$CACHE/py"
CUDA_ROOT="$PY/nvidia/cu13"
if [ ! -f "$CACHE/.wheels-$NVCC_VERSION" ]; then
  log "installing the CUDA $CUDA_SERIES compiler wheels into $CACHE"
  rm -rf "$PY" && mkdir -p "$CACHE"
  python3 -m pip install -q --disable-pip-version-check --no-deps --target "$PY" \
    "nvidia-cuda-nvcc==$NVCC_VERSION" "nvidia-nvvm==$NVCC_VERSION" \
    "nvidia-cuda-crt==$CUDA_SERIES.*" "nvidia-cuda-runtime==$CUDA_SERIES.*" \
    "nvidia-cuda-cccl==$CUDA_SERIES.*" 2>&1 | grep -v "Running pip as the 'root' user" >&2 || true
  [ -x "$CUDA_ROOT/bin/nvcc" ] && [ -x "$CUDA_ROOT/nvvm/bin/cicc" ] || {
    log "error: the wheels did not provide nvcc and cicc under $CUDA_ROOT (pip needs network access to PyPI once)"
    exit 1
  }
  touch "$CACHE/.wheels-$NVCC_VERSION"
fi
ln -sf libcudart.so.13 "$CUDA_ROOT/lib/libcudart.so"

# 2. Link stubs for the libraries the GPU host provides at run time. Every stub function returns
#    100, which the driver API reads as CUDA_ERROR_NO_DEVICE: run against the stubs, the binary
#    behaves as on a machine without a GPU (the check at the end relies on it).
cargo fetch --locked -q
CUDARC_VERSION=$(awk '/^name = "cudarc"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
CUDARC_SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"cudarc-$CUDARC_VERSION" | head -n 1)
[ -d "$CUDARC_SRC" ] || { log "error: cudarc $CUDARC_VERSION sources not found after cargo fetch"; exit 1; }
STUBS="$CUDA_ROOT/lib/stubs"
STAMP="$STUBS/.cudarc-$CUDARC_VERSION-nodevice-2"
if [ ! -f "$STAMP" ]; then
  log "generating link stubs from cudarc $CUDARC_VERSION"
  rm -rf "$STUBS" && mkdir -p "$STUBS"
  # module:library:soname
  for spec in driver:cuda:libcuda.so.1 nvrtc:nvrtc:libnvrtc.so.13 curand:curand:libcurand.so.10 \
              cublas:cublas:libcublas.so.13 cublaslt:cublasLt:libcublasLt.so.13; do
    IFS=: read -r module lib soname <<<"$spec"
    grep -oP '^pub unsafe fn \K\w+' "$CUDARC_SRC/src/$module/sys/mod.rs" | sort -u |
      sed 's/.*/int &(void) { return 100; }/' >"$STUBS/$lib.c"
    cc -shared -fPIC -Wl,-soname,"$soname" -o "$STUBS/lib$lib.so" "$STUBS/$lib.c"
    ln -sf "lib$lib.so" "$STUBS/$soname" # the name the binary asks for at run time
    rm "$STUBS/$lib.c"
  done
  touch "$STAMP"
fi

# 3. The build.
export CUDA_HOME="$CUDA_ROOT"
export PATH="$CUDA_ROOT/bin:$PATH"
export CUDARC_CUDA_VERSION=13000
log "cargo build --profile $PROFILE --features cuda (CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP, target $TARGET_DIR)"
cargo build --locked --profile "$PROFILE" --features cuda --target-dir "$TARGET_DIR" --bin dps-tui >&2

case "$PROFILE" in dev) DIR=debug ;; *) DIR="$PROFILE" ;; esac
BIN="$(cd "$TARGET_DIR/$DIR" && pwd)/dps-tui"
[ -x "$BIN" ] || { log "error: $BIN was not produced"; exit 1; }

# 4. The binary starts and, with no GPU (the stub driver), fails with the clear error.
SMOKE=$(mktemp -d)
trap 'rm -rf "$SMOKE"' EXIT
if LD_LIBRARY_PATH="$STUBS:$CUDA_ROOT/lib" "$BIN" train --preset demo --headless --device cuda \
  --set max_steps=1 --out "$SMOKE" >"$SMOKE/out" 2>"$SMOKE/err"; then
  log "error: --device cuda succeeded against the stub driver"; exit 1
fi
if ! grep -q "no usable CUDA GPU" "$SMOKE/err" || grep -q panicked "$SMOKE/err"; then
  log "error: --device cuda without a GPU did not give the clear error:"; cat "$SMOKE/err" >&2; exit 1
fi
log "no-GPU check: $(head -n 1 "$SMOKE/err")"
echo "$BIN"
