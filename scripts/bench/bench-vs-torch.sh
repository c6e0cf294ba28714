#!/usr/bin/env bash
# Training throughput of dps-tui against the PyTorch baseline on the same machine, run
# alternately so that both see the same load, with the ratios the performance targets use.
#
#   scripts/bench/bench-vs-torch.sh [--python PY] [--model DIR] [--data-dir DIR] [--threads N]
#       [--steps N] [--rounds R] [--tasks rte,mrpc,stsb,cola] [--epoch-steps N]
#       [--group-by-length] [--bin PATH] [--no-epoch] [--no-fixed]
#
# PY is a Python with torch + transformers (see ../shared/baseline/README.md for the install);
# default: $PYTHON or python3. For each round it runs, in turn: dps-tui vanilla, torch vanilla
# (dropout 0), dps-tui dps-dense, torch dps-dense, all at batch 16 × seq 128. Then, per task,
# alternately with the same seed: dps-tui with packed batches, PyTorch with dynamic padding
# (`--padding longest`) and PyTorch padded to 128 (`--padding max_length`), each over
# --epoch-steps random batches of the task's training set (0 = one whole epoch; vanilla,
# dropout 0; ../shared/baseline/torch_finetune.py --bench-epoch). Peak memory is the maximum
# resident set size from /usr/bin/time. Raw outputs go to bench-vs-torch/ .
set -euo pipefail

py="${PYTHON:-python3}"; model="../shared/models/all-MiniLM-L6-v2"; data_dir="../shared/glue"
threads=2; steps=20; rounds=2; epoch_steps=0; bin=""; epoch=1; fixed=1
tasks="rte,mrpc,stsb,cola"; group=""
while [ $# -gt 0 ]; do
  case "$1" in
    --python) py="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --data-dir) data_dir="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --epoch-steps) epoch_steps="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --no-epoch) epoch=0; shift ;;
    --no-fixed) fixed=0; shift ;;
    --tasks) tasks="$2"; shift 2 ;;
    --group-by-length) group="--group-by-length"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench-vs-torch: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/../.."
torch_script="$(dirname "$model")/../baseline/torch_finetune.py"
[ -f "$torch_script" ] || torch_script="../shared/baseline/torch_finetune.py"
[ -f "$torch_script" ] || { echo "bench-vs-torch: $torch_script not found" >&2; exit 2; }
"$py" -c "import torch, transformers" 2>/dev/null || {
  echo "bench-vs-torch: $py cannot import torch and transformers; pass --python (see ../shared/baseline/README.md)" >&2; exit 2; }
command -v jq >/dev/null || { echo "bench-vs-torch: jq not found" >&2; exit 2; }
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="target/release/dps-tui"
fi
out="bench-vs-torch"; mkdir -p "$out"
: > "$out/results.jsonl"

rss() { grep "Maximum resident set size" "$1" | awk '{print $NF / 1024}'; }

ours() { # method round
  local f="$out/ours-$1-$2"
  /usr/bin/time -v "$bin" bench --model "$model" --method "$1" --batch 16 --seq 128 \
    --steps "$steps" --threads "$threads" > "$f.json" 2> "$f.err"
  jq -c --arg m "$1" --argjson r "$2" --argjson rss "$(rss "$f.err")" \
    '{who:"dps-tui", method:$m, round:$r, s_per_step:.median_s_per_step,
      examples_per_s:.examples_per_sec, rss_mib:$rss, phases:.phases_median_s}' \
    "$f.json" | tee -a "$out/results.jsonl"
}
torch() { # method round
  local f="$out/torch-$1-$2"
  /usr/bin/time -v "$py" "$torch_script" --model "$model" --bench --method "$1" --dropout 0 \
    --threads "$threads" --bench-steps "$steps" > "$f.log" 2> "$f.err"
  grep '^SUMMARY' "$f.log" | tail -1 | sed 's/^SUMMARY //' |
    jq -c --arg m "$1" --argjson r "$2" --argjson rss "$(rss "$f.err")" \
      '{who:"torch", method:$m, round:$r, s_per_step:.median_s_per_step,
        examples_per_s:.examples_per_s, rss_mib:$rss}' | tee -a "$out/results.jsonl"
}

glue_dir() { # task -> the GLUE folder name
  case "$1" in rte) echo RTE ;; mrpc) echo MRPC ;; stsb) echo STS-B ;; cola) echo CoLA ;;
    sst2) echo SST-2 ;; qnli) echo QNLI ;; qqp) echo QQP ;; mnli) echo MNLI ;; wnli) echo WNLI ;;
    *) echo "$1" ;; esac
}
epoch_ours() { # task
  local f="$out/ours-$1-epoch"
  /usr/bin/time -v "$bin" bench --model "$model" --task "$1" --data-dir "$data_dir" \
    --padding packed --steps "$epoch_steps" --threads "$threads" $group > "$f.json" 2> "$f.err"
  jq -c --arg t "$1" --argjson rss "$(rss "$f.err")" '.results[0] | {who:"dps-tui", task:$t,
      padding, group_by_length, steps, seconds, examples_per_s:.examples_per_sec,
      real_tokens_per_s:.real_tokens_per_sec, rss_mib:$rss}' "$f.json" | tee -a "$out/results.jsonl"
}
epoch_torch() { # task padding
  local f="$out/torch-$1-$2-epoch" d; d="$(glue_dir "$1")"
  /usr/bin/time -v "$py" "$torch_script" --bench-epoch --model "$model" --task "$d" \
    --data "$data_dir/$d" --padding "$2" --method vanilla --dropout 0 --seed 42 \
    --threads "$threads" --bench-steps "$epoch_steps" $group > "$f.log" 2> "$f.err"
  grep '^SUMMARY' "$f.log" | tail -1 | sed 's/^SUMMARY //' |
    jq -c --arg t "$1" --argjson rss "$(rss "$f.err")" '{who:"torch", task:$t, padding,
      group_by_length, steps:.steps_timed, seconds, examples_per_s, real_tokens_per_s,
      rss_mib:$rss}' | tee -a "$out/results.jsonl"
}

if [ "$fixed" = 1 ]; then
  for r in $(seq 1 "$rounds"); do
    ours vanilla "$r"; torch vanilla "$r"; ours dps-dense "$r"; torch dps-dense "$r"
  done
fi
if [ "$epoch" = 1 ]; then
  for t in ${tasks//,/ }; do
    epoch_ours "$t"; epoch_torch "$t" longest; epoch_torch "$t" max_length
  done
fi
uptime | tee "$out/uptime.txt"

python3 - "$out/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(who, method, key):
    v = [r[key] for r in rows if r.get("who") == who and r.get("method") == method and key in r and "task" not in r]
    return statistics.median(v) if v else float("nan")
ov, tv = med("dps-tui", "vanilla", "examples_per_s"), med("torch", "vanilla", "examples_per_s")
od, td = med("dps-tui", "dps-dense", "s_per_step"), med("torch", "dps-dense", "s_per_step")
os_, ts = med("dps-tui", "vanilla", "s_per_step"), med("torch", "vanilla", "s_per_step")
print("| measure | dps-tui | PyTorch | ratio | target |")
print("|---|---|---|---|---|")
if ov == ov:
    print(f"| 16×128 vanilla, examples/s | {ov:.2f} | {tv:.2f} | {ov/tv:.2f}× | ≥ 1.0× |")
    print(f"| dps-dense / vanilla step time | {od/os_:.3f} | {td/ts:.3f} | | ≤ 1.05 |")
def epoch(who, task, padding):
    v = [r for r in rows if r.get("who") == who and r.get("task") == task and r.get("padding") == padding]
    return v[-1] if v else None
for task in dict.fromkeys(r["task"] for r in rows if "task" in r):
    ours, dyn, pad = epoch("dps-tui", task, "packed"), epoch("torch", task, "longest"), epoch("torch", task, "max_length")
    if not ours:
        continue
    o = ours["examples_per_s"]
    steps = ours["steps"]
    g = " + group_by_length" if ours.get("group_by_length") else ""
    for other, name, target in ((dyn, "dynamic padding", "≥ 1.3×"), (pad, "padded to 128", "≥ 2.0×")):
        if other:
            print(f"| {task.upper()} {steps} steps{g}, packed vs PyTorch {name}, examples/s | {o:.2f} | {other['examples_per_s']:.2f} | {o/other['examples_per_s']:.2f}× | {target} |")
orss = max((r["rss_mib"] for r in rows if r["who"] == "dps-tui"), default=float("nan"))
trss = max((r["rss_mib"] for r in rows if r["who"] == "torch"), default=float("nan"))
print(f"| peak memory (max RSS, MiB) | {orss:.0f} | {trss:.0f} | {orss/trss:.2f}× | ≤ 1.0× |")
PY
