#!/usr/bin/env bash
# Training throughput and peak memory of dps-tui against the PyTorch baseline on the same
# machine, as per-round ratios, so that both sides see the same load and the noise shows.
#
#   scripts/bench/bench-vs-torch.sh [--python PY] [--model DIR] [--data-dir DIR] [--threads N]
#       [--rounds R] [--steps N] [--tasks rte,mrpc,stsb,cola] [--epoch-steps N]
#       [--group-by-length] [--bin PATH] [--no-epoch] [--no-fixed]
#
# PY is a Python with torch + transformers (see ../shared/baseline/README.md for the install);
# default: $PYTHON or python3. Without --bin it runs `cargo build --release` and uses that binary.
# Each of the R rounds (default 5) runs every measure once, dps-tui and PyTorch alternately:
#   - the fixed shape, batch 16 × seq 128, --steps timed steps (default 20): dps-tui vanilla,
#     PyTorch vanilla (dropout 0), dps-tui dps-dense, PyTorch dps-dense
#     (../shared/baseline/torch_finetune.py --bench);
#   - per task of --tasks: dps-tui `bench --task T --padding packed`, then PyTorch with dynamic
#     padding (`--padding longest`), then PyTorch padded to 128 (`--padding max_length`), each
#     over --epoch-steps batches of the task's training set in random order, seed 42
#     (0, the default, = one whole epoch; vanilla, dropout 0; torch_finetune.py --bench-epoch).
# Even rounds run the same sequence backwards, so that neither side always goes first.
# Peak memory is the maximum resident set size from /usr/bin/time.
# Per round it takes the ratios (16×128 vanilla examples/s dps-tui / PyTorch; dps-dense /
# vanilla step time for each side; per task packed / dynamic and packed / padded-to-128
# examples/s; peak memory dps-tui / PyTorch, the round's largest process on each side) and
# reports per measure the median ratio, its min–max over rounds and the medians of the raw
# figures, judged against the targets on the median: 16×128 vanilla ≥ 1.0×; packed ≥ 1.5×
# PyTorch's dynamic padding and ≥ 2.0× PyTorch padded to 128 on each task; dps-dense / vanilla
# ≤ 1.05 (dps-tui); peak memory ≤ 1.0× PyTorch's.
# Output, in bench-vs-torch/: results.jsonl (one line per run), the runs' raw outputs,
# summary.json (measures, per-round values, targets, machine, date, command line), and the
# markdown table printed at the end (scripts/bench/bench_summary.py --markdown SUMMARY.json
# prints it again).
set -euo pipefail

shell_word() { # one argument as the shell would need it typed
  if [[ "$1" =~ ^[A-Za-z0-9_./,:=@%+-]+$ ]]; then printf ' %s' "$1"
  else printf " '%s'" "${1//\'/\'\\\'\'}"; fi
}
cmdline="scripts/bench/bench-vs-torch.sh"
for a in "$@"; do cmdline+="$(shell_word "$a")"; done
py="${PYTHON:-python3}"; model="../shared/models/all-MiniLM-L6-v2"; data_dir="../shared/glue"
threads=2; steps=20; rounds=5; epoch_steps=0; bin=""; epoch=1; fixed=1
tasks="rte,mrpc,stsb,cola"; group=()
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
    --group-by-length) group=(--group-by-length); shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench-vs-torch: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "bench-vs-torch: $*" >&2; exit 2; }
for v in threads steps rounds epoch_steps; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "--${v//_/-} takes a whole number, not \`${!v}\`"
done
[ "$rounds" -ge 1 ] || die "--rounds must be at least 1"
[ "$fixed" = 1 ] || [ "$epoch" = 1 ] || die "--no-fixed and --no-epoch together leave nothing to run"
cd "$(dirname "$0")/../.."
summary_py="scripts/bench/bench_summary.py"
[ -f "$summary_py" ] || die "$summary_py not found"
torch_script="$(dirname "$model")/../baseline/torch_finetune.py"
[ -f "$torch_script" ] || torch_script="../shared/baseline/torch_finetune.py"
[ -f "$torch_script" ] || die "$torch_script not found (the PyTorch baseline script of ../shared/baseline)"
[ -f "$model/config.json" ] || die "$model/config.json not found; pass --model DIR"
command -v "$py" >/dev/null || die "$py not found; pass --python (see ../shared/baseline/README.md)"
"$py" -c "import torch, transformers" 2>/dev/null ||
  die "$py cannot import torch and transformers; pass --python (see ../shared/baseline/README.md)"
command -v jq >/dev/null || die "jq not found (install it, e.g. apt-get install jq)"
command -v python3 >/dev/null || die "python3 not found (it runs $summary_py)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (GNU time, for the peak memory; e.g. apt-get install time)"
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="target/release/dps-tui"
fi
[ -x "$bin" ] || die "$bin is not an executable; pass --bin PATH"
task_list=()
if [ "$epoch" = 1 ]; then
  IFS=, read -r -a task_list <<< "$tasks"
  [ "${#task_list[@]}" -gt 0 ] || die "--tasks is empty"
fi

glue_dir() { # task -> the GLUE folder name
  case "$1" in rte) echo RTE ;; mrpc) echo MRPC ;; stsb|sts-b) echo STS-B ;; cola) echo CoLA ;;
    sst2|sst-2) echo SST-2 ;; qnli) echo QNLI ;; qqp) echo QQP ;; mnli) echo MNLI ;;
    wnli) echo WNLI ;; *) echo "$1" ;; esac
}
for t in "${task_list[@]}"; do
  [ -f "$data_dir/$(glue_dir "$t")/train.tsv" ] ||
    die "$data_dir/$(glue_dir "$t")/train.tsv not found; pass --data-dir DIR or check --tasks"
done

out="bench-vs-torch"; mkdir -p "$out"
rm -f "$out"/ours-* "$out"/torch-* "$out/summary.json" "$out/summary.md"
: > "$out/results.jsonl"
jq -n --arg command "$cmdline" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg nproc "$(nproc)" --arg cpu "$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')" \
  --arg uptime "$(uptime)" --arg kernel "$(uname -sr)" \
  --arg version "$("$bin" --version 2>/dev/null | head -1 || true)" \
  --arg bin "$bin" --arg py "$py" --arg model "$model" --arg data_dir "$data_dir" \
  --arg tasks "$(IFS=,; echo "${task_list[*]}")" \
  --argjson rounds "$rounds" --argjson steps "$steps" --argjson epoch_steps "$epoch_steps" \
  --argjson threads "$threads" --argjson fixed "$fixed" --argjson epoch "$epoch" \
  --argjson group "$([ ${#group[@]} -gt 0 ] && echo true || echo false)" \
  '{command:$command, date:$date,
    machine:{nproc:($nproc|tonumber), cpu_model:$cpu, kernel:$kernel, uptime_start:$uptime},
    settings:{rounds:$rounds, steps:$steps, epoch_steps:$epoch_steps, threads:$threads,
      tasks:(if $epoch == 1 then ($tasks | split(",")) else [] end), fixed:($fixed == 1),
      epoch:($epoch == 1), group_by_length:$group, seed:42, batch:16, seq:128,
      model:$model, data_dir:$data_dir, bin:$bin, bin_version:$version, python:$py}}' \
  > "$out/meta.json"

rss() { # /usr/bin/time -v output -> MiB, or null
  awk '/Maximum resident set size/ { v = $NF / 1024 } END { print (v == "" ? "null" : v) }' "$1"
}
load1() { cut -d' ' -f1 /proc/loadavg; }
timed() { # label file -- command...: run under /usr/bin/time -v, stdout to FILE.out
  local label="$1" f="$2"; shift 3
  local rc=0
  /usr/bin/time -v "$@" > "$f.out" 2> "$f.err" || rc=$?
  if [ "$rc" != 0 ]; then
    echo "bench-vs-torch: $label failed (exit status $rc); the end of its messages ($f.err):" >&2
    # What the command printed, without /usr/bin/time's report after it.
    sed -e '/^Command exited with non-zero status/,$d' -e '/^Command terminated by signal/,$d' \
      -e '/^[[:space:]]*Command being timed:/,$d' "$f.err" | tail -n 15 >&2
    exit 1
  fi
}
torch_summary() { # label file: the last SUMMARY line of a torch_finetune.py run
  local s; s="$(grep '^SUMMARY' "$2.out" | tail -n 1 | sed 's/^SUMMARY //')"
  [ -n "$s" ] || { echo "bench-vs-torch: $1 printed no SUMMARY line; see $2.out and $2.err" >&2; exit 1; }
  printf '%s\n' "$s"
}

fixed_ours() { # method round slot
  local f="$out/ours-fixed-$1-r$2" l; l="$(load1)"
  timed "dps-tui bench --method $1 (round $2)" "$f" -- "$bin" bench --model "$model" \
    --method "$1" --batch 16 --seq 128 --steps "$steps" --threads "$threads"
  jq -c --arg m "$1" --argjson r "$2" --argjson slot "$3" --argjson load1 "$l" \
    --argjson rss "$(rss "$f.err")" \
    '{kind:"fixed", who:"dps-tui", method:$m, round:$r, slot:$slot, load1:$load1,
      s_per_step:.median_s_per_step, examples_per_s:.examples_per_sec, rss_mib:$rss,
      phases:.phases_median_s}' "$f.out" | tee -a "$out/results.jsonl"
}
fixed_torch() { # method round slot
  local f="$out/torch-fixed-$1-r$2" l; l="$(load1)"
  timed "torch_finetune.py --bench --method $1 (round $2)" "$f" -- "$py" "$torch_script" \
    --model "$model" --bench --method "$1" --dropout 0 --seed 42 --threads "$threads" \
    --bench-steps "$steps"
  torch_summary "torch_finetune.py --bench --method $1 (round $2)" "$f" |
    jq -c --arg m "$1" --argjson r "$2" --argjson slot "$3" --argjson load1 "$l" \
      --argjson rss "$(rss "$f.err")" \
      '{kind:"fixed", who:"torch", method:$m, round:$r, slot:$slot, load1:$load1,
        s_per_step:.median_s_per_step, examples_per_s, rss_mib:$rss, torch}' |
    tee -a "$out/results.jsonl"
}
epoch_ours() { # task round slot
  local f="$out/ours-$1-packed-r$2" l; l="$(load1)"
  timed "dps-tui bench --task $1 --padding packed (round $2)" "$f" -- "$bin" bench \
    --model "$model" --task "$1" --data-dir "$data_dir" --padding packed \
    --steps "$epoch_steps" --threads "$threads" "${group[@]}"
  jq -c --arg t "$1" --argjson r "$2" --argjson slot "$3" --argjson load1 "$l" \
    --argjson rss "$(rss "$f.err")" \
    '.results[0] | {kind:"epoch", who:"dps-tui", task:$t, padding, round:$r, slot:$slot,
      load1:$load1, group_by_length, steps, seconds, examples_per_s:.examples_per_sec,
      real_tokens_per_s:.real_tokens_per_sec, rss_mib:$rss}' "$f.out" |
    tee -a "$out/results.jsonl"
}
epoch_torch() { # task padding round slot
  local f="$out/torch-$1-$2-r$3" d l; d="$(glue_dir "$1")"; l="$(load1)"
  timed "torch_finetune.py --bench-epoch --task $d --padding $2 (round $3)" "$f" -- \
    "$py" "$torch_script" --bench-epoch --model "$model" --task "$d" --data "$data_dir/$d" \
    --padding "$2" --method vanilla --dropout 0 --seed 42 --threads "$threads" \
    --bench-steps "$epoch_steps" "${group[@]}"
  torch_summary "torch_finetune.py --bench-epoch --task $d --padding $2 (round $3)" "$f" |
    jq -c --arg t "$1" --argjson r "$3" --argjson slot "$4" --argjson load1 "$l" \
      --argjson rss "$(rss "$f.err")" \
      '{kind:"epoch", who:"torch", task:$t, padding, round:$r, slot:$slot, load1:$load1,
        group_by_length, steps:.steps_timed, seconds, examples_per_s, real_tokens_per_s,
        rss_mib:$rss, torch}' | tee -a "$out/results.jsonl"
}

# One round's sequence, dps-tui and PyTorch alternating; even rounds run it backwards.
sequence=()
if [ "$fixed" = 1 ]; then
  sequence+=("fixed_ours vanilla" "fixed_torch vanilla" "fixed_ours dps-dense" "fixed_torch dps-dense")
fi
for t in "${task_list[@]}"; do
  sequence+=("epoch_ours $t" "epoch_torch $t longest" "epoch_torch $t max_length")
done
n=${#sequence[@]}
for r in $(seq 1 "$rounds"); do
  for i in $(seq 0 $((n - 1))); do
    if [ $((r % 2)) = 1 ]; then j=$i; else j=$((n - 1 - i)); fi
    read -r -a job <<< "${sequence[$j]}"
    "${job[@]}" "$r" "$((i + 1))"
  done
  echo "bench-vs-torch: round $r of $rounds done: $(uptime)" >&2
done

jq --arg uptime "$(uptime)" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  '.machine.uptime_end = $uptime | .date_end = $date' "$out/meta.json" > "$out/meta.json.tmp"
mv "$out/meta.json.tmp" "$out/meta.json"
python3 "$summary_py" --build "$out/results.jsonl" --meta "$out/meta.json" --out "$out/summary.json"
python3 "$summary_py" --markdown "$out/summary.json" | tee "$out/summary.md"
