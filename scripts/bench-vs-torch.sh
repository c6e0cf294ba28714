#!/usr/bin/env bash
# Training throughput of dps-tui against the PyTorch baseline on the same machine, run
# alternately so that both see the same load, with the ratios the performance targets use.
#
#   scripts/bench-vs-torch.sh [--python PY] [--model DIR] [--data-dir DIR] [--threads N]
#       [--steps N] [--rounds R] [--epoch-steps N] [--bin PATH] [--no-epoch]
#
# PY is a Python with torch + transformers (see ../shared/baseline/README.md for the install);
# default: $PYTHON or python3. For each round it runs, in turn: dps-tui vanilla, torch vanilla
# (dropout 0), dps-tui dps-dense, torch dps-dense, all at batch 16 × seq 128. Then one RTE
# epoch of dps-tui with dynamic padding (and padded to 128 for reference). Peak memory is the
# maximum resident set size from /usr/bin/time. Raw outputs go to bench-vs-torch/ .
set -euo pipefail

py="${PYTHON:-python3}"; model="../shared/models/all-MiniLM-L6-v2"; data_dir="../shared/glue"
threads=2; steps=20; rounds=2; epoch_steps=156; bin=""; epoch=1
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
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench-vs-torch: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
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

for r in $(seq 1 "$rounds"); do
  ours vanilla "$r"; torch vanilla "$r"; ours dps-dense "$r"; torch dps-dense "$r"
done
if [ "$epoch" = 1 ]; then
  f="$out/ours-rte-epoch"
  /usr/bin/time -v "$bin" bench --model "$model" --task rte --data-dir "$data_dir" \
    --steps "$epoch_steps" --threads "$threads" --group-by-length > "$f.json" 2> "$f.err"
  jq -c --argjson rss "$(rss "$f.err")" '{who:"dps-tui", method:"vanilla", task:"rte",
      results:.results, rss_mib:$rss}' "$f.json" | tee -a "$out/results.jsonl"
fi

python3 - "$out/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(who, method, key):
    v = [r[key] for r in rows if r.get("who") == who and r.get("method") == method and key in r and "task" not in r]
    return statistics.median(v) if v else float("nan")
ov, tv = med("dps-tui", "vanilla", "examples_per_s"), med("torch", "vanilla", "examples_per_s")
od, td = med("dps-tui", "dps-dense", "s_per_step"), med("torch", "dps-dense", "s_per_step")
os_, ts = med("dps-tui", "vanilla", "s_per_step"), med("torch", "vanilla", "s_per_step")
orss = max(r["rss_mib"] for r in rows if r["who"] == "dps-tui")
trss = max(r["rss_mib"] for r in rows if r["who"] == "torch")
print("| measure | dps-tui | PyTorch | ratio | target |")
print("|---|---|---|---|---|")
print(f"| 16×128 vanilla, examples/s | {ov:.2f} | {tv:.2f} | {ov/tv:.2f}× | ≥ 1.0× |")
epoch = [r for r in rows if r.get("task") == "rte"]
if epoch:
    res = {x["padding"]: x["examples_per_sec"] for x in epoch[0]["results"]}
    dyn = res.get("dynamic", float("nan"))
    print(f"| RTE epoch, dynamic padding vs torch padded to 128, examples/s | {dyn:.2f} | {tv:.2f} | {dyn/tv:.2f}× | ≥ 1.5× |")
    if "dynamic_grouped" in res:
        g = res["dynamic_grouped"]
        print(f"| RTE epoch, dynamic padding + group_by_length vs torch padded, examples/s | {g:.2f} | {tv:.2f} | {g/tv:.2f}× | ≥ 1.5× |")
    if "padded_128" in res:
        print(f"| (dps-tui RTE epoch padded to 128, examples/s) | {res['padded_128']:.2f} | | | |")
print(f"| dps-dense / vanilla step time | {od/os_:.3f} | {td/ts:.3f} | | ≤ 1.05 |")
print(f"| peak memory (max RSS, MiB) | {orss:.0f} | {trss:.0f} | {orss/trss:.2f}× | ≤ 1.0× |")
PY
