#!/usr/bin/env bash
# The PyTorch side of a results comparison: runs ../shared/baseline/torch_finetune.py (the same
# recipe as the presets: lr 2e-5, batch 16, length 128, 3 epochs, warmup 0.1, weight decay 0.01,
# dropout per method) for each method and seed, one run at a time, and writes every finished
# run as one line of OUT/results.jsonl, the format `dps-tui report --import` reads:
#
#   scripts/experiments/torch-seeds.sh --python ~/torchvenv/bin/python --task MRPC --seeds "42 43 44 45 46"
#   dps-tui report results/full --import results/torch/results.jsonl
#
# Restartable: a run whose log (OUT/<task>-<method>-s<seed>.log) holds its SUMMARY line is not
# run again; an interrupted one starts over. --collect only rewrites results.jsonl from the logs.
set -euo pipefail

PYTHON=python3
TASK=MRPC
SEEDS="42 43 44 45 46"
METHODS="vanilla dps-dense"
OUT=results/torch
THREADS=1
SHARED=../shared
COLLECT_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PYTHON="$2"; shift 2 ;;
    --task) TASK="$2"; shift 2 ;;
    --seeds) SEEDS="$2"; shift 2 ;;
    --methods) METHODS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --shared) SHARED="$2"; shift 2 ;;
    --collect) COLLECT_ONLY=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

SCRIPT="$SHARED/baseline/torch_finetune.py"
MODEL="$SHARED/models/all-MiniLM-L6-v2"
DATA="$SHARED/glue/$TASK"
for f in "$SCRIPT" "$MODEL/config.json" "$DATA/train.tsv"; do
  [ -e "$f" ] || { echo "error: $f not found. Fix: pass --shared with the folder that holds baseline/, models/ and glue/" >&2; exit 2; }
done
mkdir -p "$OUT"
task_lc=$(echo "$TASK" | tr '[:upper:]' '[:lower:]')

if [ "$COLLECT_ONLY" = 0 ]; then
  "$PYTHON" -c "import torch, transformers" 2>/dev/null || {
    echo "error: $PYTHON cannot import torch and transformers. Fix: install them as $SHARED/baseline/README.md says, and pass --python" >&2; exit 2; }
  for s in $SEEDS; do
    for m in $METHODS; do
      log="$OUT/$task_lc-$m-s$s.log"
      if grep -q '^SUMMARY' "$log" 2>/dev/null; then echo "== $task_lc $m seed $s: done already"; continue; fi
      echo "== $task_lc $m seed $s ($(date -u +%H:%M:%S) UTC)"
      "$PYTHON" "$SCRIPT" --model "$MODEL" --task "$TASK" --data "$DATA" --method "$m" --seed "$s" \
        --threads "$THREADS" > "$log.part" 2>&1 && mv "$log.part" "$log" \
        || echo "   failed: see $log.part"
    done
  done
fi

# Every log with a SUMMARY line becomes one results line. The metric names are mapped to
# dps-tui's (acc_and_f1 and corr are the mean of their two parts, as combined_score is), and a
# dropout the script left to the model is the model's hidden_dropout_prob.
"$PYTHON" - "$OUT" "$MODEL/config.json" <<'EOF'
import glob, json, os, sys
out, model_config = sys.argv[1], sys.argv[2]
model_dropout = json.load(open(model_config)).get("hidden_dropout_prob")
rename = {"acc_and_f1": "combined_score", "corr": "combined_score"}
lines = []
for log in sorted(glob.glob(os.path.join(out, "*.log"))):
    summary = [l for l in open(log) if l.startswith("SUMMARY ")]
    if not summary:
        continue
    s = json.loads(summary[-1][len("SUMMARY "):])
    metrics = {rename.get(k, k): v for k, v in s["final"].items()}
    dropout = s["dropout"] if s["dropout"] is not None else model_dropout
    config = {"dropout": str(float(dropout)), "max_steps": str(s["max_steps"]),
              "batch_size": str(s["batch_size"]), "p": str(s["p"]),
              "update_ratio": str(s["update_ratio"])}
    lines.append(json.dumps({"source": "pytorch", "task": s["task"], "method": s["method"],
                             "seed": s["seed"], "metrics": metrics, "config": config}))
with open(os.path.join(out, "results.jsonl"), "w") as f:
    f.write("".join(l + "\n" for l in lines))
print(f"{len(lines)} finished runs in {os.path.join(out, 'results.jsonl')}")
EOF
