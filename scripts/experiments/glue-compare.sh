#!/usr/bin/env bash
# Fine-tune several methods on the same GLUE tasks and seeds, headless, then summarise them with
# `dps-tui report` (mean, std, median, min, max per task × method; paired differences against
# vanilla with a bootstrap 95% interval).
#
#   scripts/experiments/glue-compare.sh --tasks "rte mrpc" --seeds "42 43 44" \
#       --methods "vanilla dps-dense" [--train-size 500] [--model DIR|ID] [--data-dir DIR] \
#       [--out DIR] [--bin PATH] [--threads N] [--preset NAME] [--set k=v]...
#
# --preset runs every task from that preset (`--preset lowres-1000 --tasks "rte mrpc"`, or
# `--preset ood-snli --tasks snli`) instead of each task's own GLUE preset.
# Every run is a normal run folder under OUT/runs/<tag>/; its stdout events go to OUT/logs/. A
# finished run is not run again and an interrupted one resumes from its last checkpoint
# (written every 100 steps), so the script can be stopped and restarted at any time. The
# report goes to OUT/results.md (and stdout). With
# --train-size N, each run trains on N examples drawn with the run's seed for the preset's
# num_epochs epochs (max_steps unset; the DPS stage length follows from those steps).
set -euo pipefail

tasks="rte"; seeds="42"; methods="vanilla dps-dense"; train_size=""
model="../shared/models/all-MiniLM-L6-v2"; data_dir="../shared/glue"
out="glue-compare"; bin=""; threads=""; preset=""; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tasks) tasks="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    --train-size) train_size="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --data-dir) data_dir="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --preset) preset="$2"; shift 2 ;;
    --set) extra+=(--set "$2"); shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "glue-compare: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/../.."
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="target/release/dps-tui"
fi
mkdir -p "$out/logs" "$out/runs"

for task in $tasks; do
  for seed in $seeds; do
    for method in $methods; do
      tag="$task-$method-s$seed${train_size:+-n$train_size}"
      log="$out/logs/$tag.jsonl"
      runs="$out/runs/$tag"
      run_dir=$(find "$runs" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -n 1 || true)
      # Finished: a `done` event that is not an early stop (a run stopped by a signal
      # checkpointed first and resumes below).
      if [ -n "$run_dir" ] && grep '"event":"done"' "$run_dir/events.jsonl" 2>/dev/null \
          | grep -qv '"stopped_early":true'; then
        echo "== $tag: done already ($run_dir)" >&2
        continue
      fi
      if [ -n "$run_dir" ] && ls "$run_dir"/checkpoints/step-*/trainer_state.json >/dev/null 2>&1; then
        # Interrupted: carry on from its last checkpoint (bit-identical to an unbroken run).
        args=(train --headless --resume "$run_dir")
      else
        [ -n "$run_dir" ] && rm -rf "$run_dir"
        args=(train --headless --preset "${preset:-$task}" --model "$model" --data-dir "$data_dir"
              --out "$runs" --set "task=$task" --set "method=$method" --set "seed=$seed"
              --set checkpoint_every=100)
        # A subsample trains num_epochs epochs of itself, not the preset's max_steps.
        [ -n "$train_size" ] && args+=(--set "train_size=$train_size" --set max_steps=null)
        args+=("${extra[@]}")
      fi
      [ -n "$threads" ] && args+=(--threads "$threads")
      echo "== $tag: $bin ${args[*]}" >&2
      if ! "$bin" "${args[@]}" >> "$log" 2>> "$out/logs/$tag.stderr"; then
        echo "== $tag FAILED: see $out/logs/$tag.stderr" >&2
        continue
      fi
    done
  done
done

# Groups over seeds and paired comparisons against vanilla (markdown; --json for JSON).
"$bin" report "$out/runs" | tee "$out/results.md"
