#!/usr/bin/env bash
# Real screenshots of the terminal UI: runs the dps-tui binary under tmux on the demo preset,
# captures the pane with its colours (`tmux capture-pane -e -p`) and renders each capture to a
# PNG in screenshots/ with scripts/docs/ansi2png.py.
#
#   scripts/docs/screenshots.sh
#
# Needs tmux, Pillow and the DejaVu Sans Mono font. Set PYTHON to an interpreter with Pillow:
#   python3 -m venv /tmp/dps-shots-venv && /tmp/dps-shots-venv/bin/pip install pillow
#   PYTHON=/tmp/dps-shots-venv/bin/python scripts/docs/screenshots.sh
# Other settings: DPS_TUI_BIN (default: cargo build, then target/debug/dps-tui),
# WIDTH and HEIGHT (terminal size in cells, default 140×40).
# Real runs, when given: REPLAY_RUN=<run folder> adds screenshots/replay.png (the replay viewer,
# scrubbed back to mid-run); COMPARE_RUNS="<run folder> <run folder> ..." adds
# screenshots/compare.png. MINILM_RUN=<run folder of a MiniLM run> adds
# screenshots/minilm-dashboard.png (its replay at the end, default lens),
# screenshots/minilm-kept.png (lens 4: kept share per head / row group) and
# screenshots/minilm-zoom.png (layer 4's value matrix up close). The shipped ones come from
#   dps-tui train --preset rte --model ../shared/models/all-MiniLM-L6-v2 --data-dir ../shared/glue \
#     --headless --threads 1 --set max_steps=100 --set eval_every=0 --out /tmp/runs
# ONLY_RUNS=1 takes just the real runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-python3}
W=${WIDTH:-140}
H=${HEIGHT:-40}
OUT=screenshots

command -v tmux >/dev/null || { echo "tmux not found. Fix: apt-get install tmux" >&2; exit 1; }
if ! "$PY" -c 'import PIL' 2>/dev/null; then
  echo "$PY has no Pillow. Fix: python3 -m venv /tmp/dps-shots-venv && /tmp/dps-shots-venv/bin/pip install pillow," >&2
  echo "then: PYTHON=/tmp/dps-shots-venv/bin/python $0" >&2
  exit 1
fi
if [ -z "${DPS_TUI_BIN:-}" ]; then
  cargo build --quiet
  DPS_TUI_BIN=target/debug/dps-tui
fi
BIN=$(realpath "$DPS_TUI_BIN")

tmp=$(mktemp -d)
sock=""
n_sessions=0
cleanup() {
  local i
  for i in $(seq "$n_sessions"); do tmux -S "$tmp/tmux-$i.sock" kill-server 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$OUT"

tm() { tmux -S "$sock" -f /dev/null "$@"; }

# Start the binary with these arguments in a fresh tmux server (a private socket in $tmp), W×H cells.
start() {
  [ -n "$sock" ] && tm kill-server 2>/dev/null || true
  n_sessions=$((n_sessions + 1))
  sock="$tmp/tmux-$n_sessions.sock"
  local cmd
  cmd=$(printf '%q ' "$BIN" "$@")
  tm new-session -d -x "$W" -y "$H" "cd $(printf '%q' "$PWD") && $cmd; sleep 600"
}

# Wait (up to 60 s) until the pane shows this text.
wait_for() {
  local i
  for i in $(seq 600); do
    if tm capture-pane -p -t 0 | grep -qF -- "$1"; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for '$1'; the pane shows:" >&2
  tm capture-pane -p -t 0 >&2
  exit 1
}

# Wait until the status bar's step counter reaches $1.
wait_step() {
  local i n
  for i in $(seq 1200); do
    n=$(tm capture-pane -p -t 0 | grep -o ' step [0-9]*/' | tail -1 | tr -dc 0-9 || true)
    if [ -n "$n" ] && [ "$n" -ge "$1" ]; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for step $1" >&2
  exit 1
}

# Capture the pane with colours and render it to $OUT/$1.png.
shot() {
  sleep 0.3 # let the frame for the last key land
  tm capture-pane -e -p -t 0 >"$tmp/$1.ans"
  "$PY" scripts/docs/ansi2png.py "$tmp/$1.ans" "$OUT/$1.png" --cols "$W" --rows "$H"
  echo "$OUT/$1.png"
}

if [ -z "${ONLY_RUNS:-}" ]; then
# 1. The preset picker, with the demo preset highlighted.
start --out "$tmp/runs"
wait_for "run settings"
tm send-keys -t 0 End
wait_for "presets/demo.yaml"
shot picker
tm send-keys -t 0 q

# 2. The dashboard mid-run: the demo preset, long enough to show several stages and evaluations.
start --preset demo --out "$tmp/runs" --set max_steps=1000 --set update_ratio=0.02
wait_step 320
shot dashboard

# 3. The heatmap zoom: the heatmap has the focus; move to a feed-forward matrix, enter.
for _ in 1 2 3 4 5 6 7 8 9 10; do tm send-keys -t 0 Down; done
tm send-keys -t 0 Enter
wait_for "selected "
shot zoom
tm send-keys -t 0 Escape
wait_for "events" # back on the dashboard (a key sent right after Escape would read as alt-key)

# 4. The help overlay.
tm send-keys -t 0 '?'
wait_for "close this help"
shot help
fi

# 5. The replay viewer on a real run, scrubbed back to the middle of the run.
if [ -n "${REPLAY_RUN:-}" ]; then
  start replay "$(realpath "$REPLAY_RUN")"
  wait_for "replay "
  for _ in $(seq 25); do tm send-keys -t 0 PageUp; done
  shot replay
fi

# 6. Compare of real runs.
if [ -n "${COMPARE_RUNS:-}" ]; then
  runs=()
  for r in $COMPARE_RUNS; do runs+=("$(realpath "$r")"); done
  start compare "${runs[@]}"
  wait_for " compare "
  shot compare
fi

# 7. A real MiniLM run: the heatmap in the default lens and in lens 4, and one matrix up close.
if [ -n "${MINILM_RUN:-}" ]; then
  start replay "$(realpath "$MINILM_RUN")"
  wait_for "replay "
  tm send-keys -t 0 Tab # a replay opens with the focus on the loss chart
  # Rows are layer × (q k v o ffn_in ffn_out): 26 rows down is layer 4's v.
  for _ in $(seq 26); do tm send-keys -t 0 Down; done
  wait_for "L4 v ·"
  shot minilm-dashboard
  tm send-keys -t 0 4
  wait_for "bright = kept"
  shot minilm-kept
  tm send-keys -t 0 1 Enter
  wait_for "selected per head"
  shot minilm-zoom
fi

