#!/usr/bin/env bash
# Builds dps-tui with `--features mkl`: Intel MKL's sgemm runs the matrix products (the linear
# layers' forward and both backward products, and the attention core) instead of the gemm crate.
#
# - MKL comes from PyPI's `mkl` wheel, installed once into a virtualenv in a cache folder
#   ($DPS_MKL_CACHE, default ~/.cache/dps-tui/mkl). Nothing is linked at build time: the binary
#   loads libmkl_rt.so.3 at its first product from the folder recorded here, or from
#   $DPS_MKL_LIB when that is set at run time. DPS_GEMM=crate runs the gemm crate in the same
#   binary (for A/B timings).
# - Separate target folder ($DPS_MKL_TARGET, default target-mkl/), so the default build stays
#   valid.
# - Not the default build: on the 2-core AMD EPYC the figures in docs/performance.md come from,
#   MKL's sgemm is slower than the gemm crate on the model's shapes (see "GEMM engines" there).
#   It is for Intel CPUs, where MKL measured about twice the gemm crate's GFLOP/s.
#
# Idempotent. The last line of output is the path of the binary.
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE="${DPS_MKL_CACHE:-$HOME/.cache/dps-tui/mkl}"
TARGET_DIR="${DPS_MKL_TARGET:-target-mkl}"
log() { echo "build-mkl: $*" >&2; }

for tool in cargo python3; do
  command -v "$tool" >/dev/null 2>&1 || { log "error: $tool not found (install it first)"; exit 1; }
done
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || {
  log "error: the PyPI mkl wheel is for Linux x86-64; this is $(uname -s)-$(uname -m)"; exit 1; }

if [ ! -f "$CACHE/lib/libmkl_rt.so.3" ]; then
  log "installing the PyPI mkl wheel into $CACHE (about 1 GB)"
  python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install --quiet mkl
  lib=$(find "$CACHE/venv" -name libmkl_rt.so.3 -print -quit)
  [ -n "$lib" ] || { log "error: the mkl wheel installed no libmkl_rt.so.3 under $CACHE/venv"; exit 1; }
  ln -sfn "$(dirname "$lib")" "$CACHE/lib"
fi
lib_dir=$(cd "$CACHE/lib" && pwd -P)

log "building with --features mkl into $TARGET_DIR (MKL from $lib_dir)"
DPS_MKL_LIB="$lib_dir" CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --features mkl
echo "$TARGET_DIR/release/dps-tui"
