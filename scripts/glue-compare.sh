#!/usr/bin/env bash
# Fine-tune several methods on the same GLUE tasks and seeds, headless, and write a markdown
# table of dev metrics (mean ± sample std over seeds) plus wall times.
#
#   scripts/glue-compare.sh --tasks "rte mrpc" --seeds "42 43 44" \
#       --methods "vanilla dps-dense" [--train-size 500] [--model DIR|ID] [--data-dir DIR] \
#       [--out DIR] [--bin PATH] [--threads N] [--set k=v]...
#
# Every run is a normal run folder under OUT/runs/; its stdout events go to OUT/logs/. A run
# whose log already holds a `done` event is not run again, so the script can be stopped and
# restarted. The table goes to OUT/results.md (and stdout). Needs jq and python3. With
# --train-size N, each run trains on N examples drawn with the run's seed for the preset's
# num_epochs epochs (max_steps unset; the DPS stage length follows from those steps).
set -euo pipefail

tasks="rte"; seeds="42"; methods="vanilla dps-dense"; train_size=""
model="../shared/models/all-MiniLM-L6-v2"; data_dir="../shared/glue"
out="glue-compare"; bin=""; threads=""; extra=()
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
    --set) extra+=(--set "$2"); shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "glue-compare: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="target/release/dps-tui"
fi
command -v jq >/dev/null || { echo "glue-compare: jq not found (apt-get install jq)" >&2; exit 2; }
mkdir -p "$out/logs" "$out/runs"

for task in $tasks; do
  for seed in $seeds; do
    for method in $methods; do
      tag="$task-$method-s$seed${train_size:+-n$train_size}"
      log="$out/logs/$tag.jsonl"
      if [ -f "$log" ] && grep -q '"event":"done"' "$log"; then
        echo "== $tag: done already ($log)" >&2
        continue
      fi
      args=(train --headless --preset "$task" --model "$model" --data-dir "$data_dir"
            --out "$out/runs" --set "method=$method" --set "seed=$seed")
      # A subsample trains num_epochs epochs of itself, not the preset's max_steps.
      [ -n "$train_size" ] && args+=(--set "train_size=$train_size" --set max_steps=null)
      args+=("${extra[@]}")
      [ -n "$threads" ] && args+=(--threads "$threads")
      echo "== $tag: $bin ${args[*]}" >&2
      start=$(date +%s.%N)
      if ! "$bin" "${args[@]}" > "$log" 2> "$out/logs/$tag.stderr"; then
        echo "== $tag FAILED: see $out/logs/$tag.stderr" >&2
        continue
      fi
      end=$(date +%s.%N)
      jq -cn --arg tag "$tag" --argjson s "$start" --argjson e "$end" \
        '{event:"wall", tag:$tag, seconds:($e - $s)}' >> "$log"
    done
  done
done

python3 - "$out" "$tasks" "$seeds" "$methods" "${train_size:-full}" <<'PY' | tee "$out/results.md"
import json, statistics, sys, pathlib
out, tasks, seeds, methods, size = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split(), sys.argv[5]
suffix = "" if size == "full" else f"-n{size}"
print(f"| task | train size | method | seeds | dev metrics (mean ± std) | wall time per run |")
print("|---|---|---|---|---|---|")
for task in tasks:
    for method in methods:
        metrics, walls, used = {}, [], []
        for seed in seeds:
            p = pathlib.Path(out, "logs", f"{task}-{method}-s{seed}{suffix}.jsonl")
            if not p.exists():
                continue
            done, wall = None, None
            for line in p.read_text().splitlines():
                try:
                    ev = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if ev.get("event") == "done":
                    done = ev
                elif ev.get("event") == "wall":
                    wall = ev["seconds"]
            if done is None:
                continue
            used.append(seed)
            for k, v in (done.get("metrics") or {}).items():
                if isinstance(v, (int, float)):
                    metrics.setdefault(k, []).append(float(v))
            if wall is not None:
                walls.append(wall)
        if not used:
            continue
        def fmt(vs):
            m = statistics.mean(vs)
            return f"{m:.4f} ± {statistics.stdev(vs):.4f}" if len(vs) > 1 else f"{m:.4f}"
        cells = ", ".join(f"{k} {fmt(v)}" for k, v in sorted(metrics.items()))
        wall = f"{statistics.mean(walls):.0f} s" if walls else "?"
        print(f"| {task} | {size} | {method} | {' '.join(used)} | {cells} | {wall} |")
PY
