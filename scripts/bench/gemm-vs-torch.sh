#!/usr/bin/env bash
# Where the step's time goes, against PyTorch on the same machine, run alternately so that both
# see the same load: the linear layers' matrix products on the model's real shapes, one
# fixed-shape training step's phases, and the floor (the step's FLOPs at the best sustained
# GFLOP/s either library reaches on these shapes).
#
#   scripts/bench/gemm-vs-torch.sh [--python PY] [--model DIR] [--bin PATH] [--rounds R]
#       [--threads 1,2] [--rows 1000,2048] [--seconds 0.5] [--steps N] [--no-gemm] [--no-step]
#
# PY is a Python with torch + transformers (see ../shared/baseline/README.md); default $PYTHON
# or python3. Each round runs, per thread count: `dps-tui bench --gemm`, then
# scripts/bench/gemm_torch.py (forward, dx = g·w and dw = gᵀ·x of every linear layer at each
# --rows token count, the pooler and classifier at 16 rows). Then, per round, at the largest
# thread count: `dps-tui bench` (16 × 128, vanilla, dropout 0, --steps timed steps, phase
# split), then scripts/bench/profile_torch_step.py (--steps timed steps of the same training
# step, then 3 more under torch.profiler for the per-op split).
# Every measurement is one JSON line in gemm-vs-torch/results.jsonl; the medians over rounds,
# the ratios and the floor go to gemm-vs-torch/summary.json and are printed as tables.
set -euo pipefail

py="${PYTHON:-python3}"; model="../shared/models/all-MiniLM-L6-v2"; bin=""; rounds=3
threads="1,2"; rows="1000,2048"; seconds=0.5; steps=5; gemm=1; step=1
while [ $# -gt 0 ]; do
  case "$1" in
    --python) py="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --rows) rows="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --no-gemm) gemm=0; shift ;;
    --no-step) step=0; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "gemm-vs-torch: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/../.."
"$py" -c "import torch, transformers" 2>/dev/null || {
  echo "gemm-vs-torch: $py cannot import torch and transformers; pass --python (see ../shared/baseline/README.md)" >&2; exit 2; }
command -v jq >/dev/null || { echo "gemm-vs-torch: jq not found" >&2; exit 2; }
[ -f "$model/config.json" ] || { echo "gemm-vs-torch: $model/config.json not found; pass --model DIR" >&2; exit 2; }
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="target/release/dps-tui"
fi
out="gemm-vs-torch"; mkdir -p "$out"
: > "$out/results.jsonl"
top_threads="${threads##*,}"

gemm_ours() { # threads round
  local f="$out/ours-gemm-t$1-r$2"
  "$bin" bench --gemm --model "$model" --threads "$1" --gemm-rows "$rows" \
    --gemm-seconds "$seconds" > "$f.json" 2> "$f.err"
  jq -c --argjson r "$2" '. as $top | .results[] | {kind:"gemm", who:"dps-tui", round:$r,
      threads:$top.threads, step_flops:$top.step_flops} + .' "$f.json" >> "$out/results.jsonl"
}
gemm_torch() { # threads round
  local f="$out/torch-gemm-t$1-r$2"
  "$py" scripts/bench/gemm_torch.py --model "$model" --threads "$1" --rows "$rows" \
    --seconds "$seconds" > "$f.json" 2> "$f.err"
  jq -c --argjson r "$2" '. as $top | .results[] | {kind:"gemm", who:"torch", round:$r,
      threads:$top.threads} + .' "$f.json" >> "$out/results.jsonl"
}
step_ours() { # round
  local f="$out/ours-step-r$1"
  "$bin" bench --model "$model" --batch 16 --seq 128 --steps "$steps" \
    --threads "$top_threads" > "$f.json" 2> "$f.err"
  jq -c --argjson r "$1" '{kind:"step", who:"dps-tui", round:$r, threads, step_s:.median_s_per_step,
      phases:.phases_median_s}' "$f.json" | tee -a "$out/results.jsonl"
}
step_torch() { # round
  local f="$out/torch-step-r$1"
  "$py" scripts/bench/profile_torch_step.py --model "$model" --batch 16 --seq 128 \
    --threads "$top_threads" --steps "$steps" > "$f.log" 2> "$f.err"
  grep '^SUMMARY' "$f.log" | tail -1 | sed 's/^SUMMARY //' |
    jq -c --argjson r "$1" '{kind:"step", who:"torch", round:$r, threads, step_s, profiled_step_s,
      phases:(.phases | map_values(.wall_s)), matmul_self_s:(.phases | map_values(.matmul_self_s)),
      top_ops_s:(.phases | map_values(.top_ops_s))}' | tee -a "$out/results.jsonl"
}

for r in $(seq 1 "$rounds"); do
  if [ "$gemm" = 1 ]; then
    for t in ${threads//,/ }; do gemm_ours "$t" "$r"; gemm_torch "$t" "$r"; done
  fi
  if [ "$step" = 1 ]; then step_ours "$r"; step_torch "$r"; fi
  echo "round $r done: $(uptime)" >&2
done
uptime | tee "$out/uptime.txt"
python3 scripts/bench/gemm_summary.py "$out/results.jsonl" "$out/summary.json"
