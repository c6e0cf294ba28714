#!/usr/bin/env python3
"""PyTorch's side of `dps-tui bench --gemm`: the linear layers' matrix products on a model's
shapes, as GFLOP/s, printed as one JSON object in the same layout.

    gemm_torch.py --model DIR [--threads N] [--rows 1000,2048] [--batch 16] [--seconds 0.5]

DIR holds a BERT-style config.json (only the sizes are read). For each layer shape (q/k/v/o,
FFN in and out per token; pooler and classifier per sequence) it times the three products that
training runs: F.linear(x, w, b) forward, and the backward's dx = g @ w and dw = g.T @ x (what
autograd's linear backward calls). Each runs 2 untimed times, then at least 5 times and for at
least --seconds; the median call time gives the GFLOP/s.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

MIN_REPS = 5
WARMUP = 2


def linears(cfg, labels=2):
    h, i, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    return [
        ("attn_qkvo", h, h, 4 * n, False),
        ("ffn_in", h, i, n, False),
        ("ffn_out", i, h, n, False),
        ("pooler", h, h, 1, True),
        ("classifier", h, labels, 1, True),
    ]


def time_calls(seconds, f):
    for _ in range(WARMUP):
        f()
    times = []
    start = time.perf_counter()
    while len(times) < MIN_REPS or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), len(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="folder with a BERT-style config.json")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows", default="1000,2048", help="token rows, comma-separated")
    ap.add_argument("--batch", type=int, default=16, help="rows of the pooler and classifier")
    ap.add_argument("--seconds", type=float, default=0.5, help="timed seconds per product")
    a = ap.parse_args()
    path = os.path.join(a.model, "config.json")
    try:
        cfg = json.load(open(path))
    except OSError as e:
        sys.exit(f"gemm_torch: cannot read {path}: {e} (pass --model DIR with a config.json)")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    results = []
    for name, in_f, out_f, count, per_seq in linears(cfg):
        for rows in [a.batch] if per_seq else [int(r) for r in a.rows.split(",")]:
            x = torch.randn(rows, in_f)
            w = torch.randn(out_f, in_f)
            b = torch.randn(out_f)
            g = torch.randn(rows, out_f)
            flops = 2.0 * rows * in_f * out_f
            products = {
                "forward": lambda: F.linear(x, w, b),
                "grad_input": lambda: torch.matmul(g, w),
                "grad_weight": lambda: torch.matmul(g.t(), x),
            }
            with torch.no_grad():
                for product, f in products.items():
                    s, reps = time_calls(a.seconds, f)
                    print(f"{name:<10} {product:<11} rows {rows:>5}: {s * 1e3:8.3f} ms, "
                          f"{flops / s / 1e9:6.1f} GFLOP/s ({reps} calls)", file=sys.stderr)
                    results.append({"layer": name, "product": product, "rows": rows, "in": in_f,
                                    "out": out_f, "count": count, "flops": flops, "median_s": s,
                                    "gflops": flops / s / 1e9, "reps": reps})
    print(json.dumps({"bench": "gemm", "who": "torch", "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
