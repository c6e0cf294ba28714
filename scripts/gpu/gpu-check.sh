#!/usr/bin/env bash
# The CUDA check of dps-tui on a GPU host, in two halves.
#
#   scripts/gpu/gpu-check.sh pack [DIR]   here (Rust, network, ../shared): builds the CUDA binary
#                                     (scripts/gpu/build-cuda.sh) and puts everything the check needs
#                                     into DIR (default gpu-check-bundle/), under 64 MiB.
#   DIR/gpu-check.sh [OUT.json]       on the GPU host (x86-64, NVIDIA driver for CUDA 13, Python
#                                     with PyTorch + transformers; no Rust, no network): runs
#                                     everything below in under 10 minutes and writes one JSON
#                                     file (default DIR/gpu-check-results.json).
#
# The run: (1) parity of the model, its gradients and one AdamW step with the PyTorch reference
# (tiny-bert) on the GPU, and the same on the CPU for comparison; (2) training-step bench at 16x128
# and 32x128, vanilla and dps-dense, MiniLM's shape with random weights; (3) the PyTorch
# baseline's step on the same GPU, same shapes, for the ratio; (4) a short real run: RTE, MiniLM
# (f16 copy of its weights when it fits the budget, else random weights), 60 steps + one eval.
# GPU_CHECK_DEVICE=cpu runs the same sequence on the CPU (a dry run of the script itself).
set -euo pipefail

BUDGET_MIB=64

pack() {
  local repo dir bin shared
  repo="$(cd "$(dirname "$0")/../.." && pwd)"
  dir="${1:-$repo/gpu-check-bundle}"
  shared="$repo/../shared"
  [ -d "$shared/reference/tiny-bert" ] || { echo "gpu-check pack: $shared/reference/tiny-bert not found (needs ../shared beside the checkout)" >&2; exit 1; }
  bin="$("$repo/scripts/gpu/build-cuda.sh" | tail -n 1)"
  rm -rf "$dir" && mkdir -p "$dir/lib" "$dir/tiny-bert" "$dir/minilm" "$dir/glue/RTE" "$dir/baseline"
  cp "$bin" "$dir/dps-tui"
  strip "$dir/dps-tui" 2>/dev/null || true
  cp -L "${DPS_CUDA_CACHE:-$HOME/.cache/dps-tui/cuda-13.0}/py/nvidia/cu13/lib/libcudart.so.13" "$dir/lib/"
  cp "$0" "$dir/gpu-check.sh"
  cp "$repo/scripts/gpu/torch_gpu_bench.py" "$dir/"
  cp "$shared"/reference/tiny-bert/{config.json,model.safetensors,classifier.safetensors,case.safetensors} "$dir/tiny-bert/"
  local m="$shared/models/all-MiniLM-L6-v2"
  cp "$m"/{config.json,tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt} "$dir/minilm/"
  cp "$shared"/glue/RTE/{train.tsv,dev.tsv} "$dir/glue/RTE/"
  cp "$shared"/baseline/{torch_finetune.py,dps.py} "$dir/baseline/"
  local used
  used=$(du -sm "$dir" | cut -f1)
  # MiniLM's weights as f16 (43 MiB) only if the bundle stays under budget.
  if [ $((used + 44)) -lt "$BUDGET_MIB" ]; then
    python3 "$repo/scripts/gpu/to_f16.py" "$m/model.safetensors" "$dir/minilm/model.safetensors"
  else
    echo "gpu-check pack: no room for MiniLM's weights ($used MiB used); the real run will use random weights" >&2
  fi
  used=$(du -sm "$dir" | cut -f1)
  [ "$used" -lt "$BUDGET_MIB" ] || { echo "gpu-check pack: $dir is $used MiB, over $BUDGET_MIB MiB" >&2; exit 1; }
  echo "gpu-check pack: $dir ($used MiB); on the GPU host run: $(basename "$dir")/gpu-check.sh" >&2
  echo "$dir"
}

run_check() {
  local here out work t0
  here="$(cd "$(dirname "$0")" && pwd)"
  out="${1:-$here/gpu-check-results.json}"
  work="$(mktemp -d)"
  t0=$(date +%s)
  cd "$here"
  # cuBLAS, cuRAND and NVRTC come from PyTorch's wheels (site-packages/nvidia/*/lib); libcudart
  # from the bundle; the driver from the system.
  local pylibs
  pylibs=$(python3 - <<'EOF' 2>/dev/null || true
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
libs = [d for r in roots for d in glob.glob(os.path.join(r, "nvidia", "*", "lib"))]
libs += [d for r in roots for d in glob.glob(os.path.join(r, "torch", "lib"))]
print(":".join(libs))
EOF
)
  export LD_LIBRARY_PATH="$here/lib:${pylibs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local B="$here/dps-tui" DEVICE="${GPU_CHECK_DEVICE:-cuda}"
  step() { # name, seconds, command...: stdout to $work/name.out, stderr to $work/name.err
    local name=$1 secs=$2; shift 2
    echo "gpu-check: $name" >&2
    if timeout "$secs" "$@" >"$work/$name.out" 2>"$work/$name.err"; then echo 0 >"$work/$name.rc"; else echo $? >"$work/$name.rc"; fi
  }
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$work/gpu.txt" 2>&1 || true
  ldd "$B" >"$work/ldd.txt" 2>&1 || true
  step parity_gpu 90 "$B" parity --reference tiny-bert --device "$DEVICE"
  step parity_cpu 30 "$B" parity --reference tiny-bert --device cpu
  for bs in 16 32; do
    for m in vanilla dps-dense; do
      step "bench_${m}_${bs}x128" 50 "$B" bench --model random:minilm/config.json --device "$DEVICE" \
        --method "$m" --batch "$bs" --seq 128 --steps 20
    done
    step "torch_${bs}x128" 80 env DPS_BASELINE="$here/baseline" python3 torch_gpu_bench.py \
      --model minilm --bench --method both --dropout 0 --batch-size "$bs" --max-seq-length 128
  done
  local model=minilm
  if [ ! -f minilm/model.safetensors ]; then
    python3 -c "from transformers import BertConfig, BertModel; BertModel(BertConfig.from_pretrained('minilm')).save_pretrained('$work/minilm-random', safe_serialization=True)" >/dev/null 2>&1 &&
      cp minilm/*.json minilm/vocab.txt "$work/minilm-random/" 2>/dev/null && model="$work/minilm-random"
  fi
  step real_run 120 "$B" train --preset rte --headless --device "$DEVICE" --model "$model" \
    --data-dir glue --out "$work/runs" --set max_steps=60 --set eval_every=60
  python3 - "$work" "$out" "$(( $(date +%s) - t0 ))" "$model" <<'EOF'
import glob, json, os, sys
work, out, secs, model = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def read(name, ext):
    p = os.path.join(work, f"{name}.{ext}")
    return open(p).read() if os.path.exists(p) else ""
def step(name):
    rc = read(name, "rc").strip()
    return {"rc": int(rc) if rc else None, "stderr_tail": read(name, "err")[-1500:]}
def json_lines(text, prefix=""):
    rows = []
    for line in text.splitlines():
        if line.startswith(prefix + "{"):
            try:
                rows.append(json.loads(line[len(prefix):]))
            except ValueError:
                pass
    return rows
res = {"device": os.environ.get("GPU_CHECK_DEVICE", "cuda"), "seconds": secs, "gpu": read("gpu", "txt").strip(), "ldd": read("ldd", "txt"),
       "note": "dps-tui: MiniLM shape, random weights, dropout 0; torch: torch_finetune.py --bench on cuda, same shape, dropout 0"}
for p in ("parity_gpu", "parity_cpu"):
    res[p] = {**step(p), "result": (json_lines(read(p, "out")) or [None])[-1]}
res["bench"], res["torch"], res["ratio_dps_tui_over_torch"] = [], [], {}
for bs in (16, 32):
    torch_rows = json_lines(read(f"torch_{bs}x128", "out"), "SUMMARY ")
    res["torch"].append({**step(f"torch_{bs}x128"), "batch": bs, "results": torch_rows})
    for m in ("vanilla", "dps-dense"):
        name = f"bench_{m}_{bs}x128"
        r = (json_lines(read(name, "out")) or [None])[-1]
        res["bench"].append({**step(name), "batch": bs, "method": m, "result": r})
        t = [x for x in torch_rows if x.get("method") == m]
        if r and t:
            res["ratio_dps_tui_over_torch"][f"{m} {bs}x128"] = r["median_s_per_step"] / t[0]["median_s_per_step"]
events = [json.loads(l) for l in read("real_run", "out").splitlines() if l.startswith("{")]
res["real_run"] = {**step("real_run"), "model": model,
                   "start": next((e for e in events if e.get("event") == "start"), None),
                   "last_step": next((e for e in reversed(events) if e.get("event") == "step"), None),
                   "evals": [e for e in events if e.get("event") == "eval"],
                   "done": next((e for e in events if e.get("event") == "done"), None)}
if res["real_run"]["start"]:
    res["real_run"]["start"].pop("config", None)
json.dump(res, open(out, "w"), indent=1)
print(out)
EOF
  rm -rf "$work"
}

case "${1:-}" in
  pack) shift; pack "$@" ;;
  *) run_check "$@" ;;
esac
