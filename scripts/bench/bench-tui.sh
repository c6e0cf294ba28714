#!/usr/bin/env bash
# What the TUI costs: the same short training run, headless and with the dashboard attached
# (in a detached tmux session of 200 × 60), alternately, and the median seconds per step of each
# from the runs' event logs. Both runs see the same batches (same preset, seed and data), so
# their step times are comparable; the TUI run's steps include whatever the UI thread takes from
# the training threads.
#
#   scripts/bench/bench-tui.sh [--model DIR] [--data-dir DIR] [--task rte] [--steps 40]
#       [--rounds 2] [--threads N] [--bin PATH] [--out DIR]
#
# Prints one JSON line per run and a summary line with the ratio headless/TUI throughput.
# Needs tmux and jq. Run folders go to OUT (default bench-tui/).
set -euo pipefail

model="../shared/models/all-MiniLM-L6-v2"; data_dir="../shared/glue"; task="rte"
steps=40; rounds=2; threads=""; bin=""; out="bench-tui"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --data-dir) data_dir="$2"; shift 2 ;;
    --task) task="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench-tui: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/../.."
for tool in tmux jq; do
  command -v "$tool" >/dev/null || { echo "bench-tui: $tool not found (apt-get install $tool)" >&2; exit 2; }
done
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="target/release/dps-tui"
fi
bin="$(realpath "$bin")"
mkdir -p "$out"
out="$(realpath "$out")"

common=(--preset "$task" --set "max_steps=$steps" --set eval_every=0 --set checkpoint_every=0
        --set keep_best=false)
case "$model" in demo) ;; *) common+=(--model "$model") ;; esac
[ "$task" = demo ] || common+=(--data-dir "$(realpath "$data_dir")")
[ -n "$threads" ] && common+=(--threads "$threads")

# Median step_seconds over the steps after the first three, from a run folder's event log.
median_step() {
  jq -s '[.[] | select(.event == "step" and .step > 3) | .step_seconds] | sort
         | if length == 0 then null else .[(length / 2 | floor)] end' "$1/events.jsonl"
}

# The only run folder under $1.
run_folder() {
  find "$1" -mindepth 2 -maxdepth 2 -name events.jsonl -printf '%h\n' | head -n 1
}

wait_done() { # folder-parent, timeout seconds
  local deadline=$((SECONDS + $2)) f
  while [ $SECONDS -lt $deadline ]; do
    f="$(run_folder "$1")"
    if [ -n "$f" ] && grep -q '"event":"done"' "$f/events.jsonl"; then
      echo "$f"; return 0
    fi
    sleep 1
  done
  echo "bench-tui: no done event under $1 after $2 s" >&2
  return 1
}

head_all=(); tui_all=()
for round in $(seq 1 "$rounds"); do
  dir="$out/round$round"
  rm -rf "$dir"; mkdir -p "$dir/headless" "$dir/tui"

  "$bin" train --headless "${common[@]}" --out "$dir/headless" > "$dir/headless.jsonl" 2> "$dir/headless.stderr"
  h="$(median_step "$(run_folder "$dir/headless")")"

  sock="$dir/tmux.sock"
  cmd="$(printf '%q ' "$bin" "${common[@]}" --out "$dir/tui") 2> $(printf '%q' "$dir/tui.stderr")"
  tmux -S "$sock" -f /dev/null new-session -d -x 200 -y 60 "$cmd; sleep 600"
  if ! f="$(wait_done "$dir/tui" $((steps * 30 + 120)))"; then
    tmux -S "$sock" kill-server 2>/dev/null || true
    exit 1
  fi
  tmux -S "$sock" send-keys -t 0 q; sleep 0.5; tmux -S "$sock" send-keys -t 0 y; sleep 1
  tmux -S "$sock" kill-server 2>/dev/null || true
  t="$(median_step "$f")"

  jq -cn --argjson r "$round" --argjson h "$h" --argjson t "$t" \
    '{round: $r, headless_s_per_step: $h, tui_s_per_step: $t}'
  head_all+=("$h"); tui_all+=("$t")
done

python3 - "${head_all[*]}" "${tui_all[*]}" <<'PY'
import json, statistics, sys
h = [float(x) for x in sys.argv[1].split()]
t = [float(x) for x in sys.argv[2].split()]
mh, mt = statistics.median(h), statistics.median(t)
print(json.dumps({"summary": True, "headless_median_s_per_step": mh, "tui_median_s_per_step": mt,
                  "tui_throughput_vs_headless": mh / mt, "tui_cost_percent": 100 * (mt / mh - 1)}))
PY
