#!/usr/bin/env python3
"""torch.profiler's per-op times for fixed-shape training steps of a BERT sequence classifier,
split into the phases `dps-tui bench` reports (forward, backward, optimizer).

    profile_torch_step.py --model DIR [--batch 16] [--seq 128] [--threads 2] [--dropout 0]
        [--warmup 3] [--steps 5] [--profile-steps 3] [--top 12]

DIR holds a BERT config.json; the weights are random (they do not change the speed). Each step
is the baseline's (`torch_finetune.py --bench`): synthetic full-length batches, eager
attention, loss.backward(), clip_grad_norm_(1.0), AdamW, zero_grad. After --warmup untimed
steps, --steps timed steps give the median step and phase times (no profiler running), then
--profile-steps steps run under the profiler. Prints, per phase, the median wall seconds per
step and the ops with the most self time per profiled step (an op's self time is its own, children excluded;
intra-op threads run inside it), then one JSON line: `SUMMARY {...}`.
"""
import argparse
import collections
import json
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile, record_function

PHASES = ("forward", "backward", "optimizer")
MATMUL = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="folder with a BERT config.json")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--profile-steps", type=int, default=3)
    ap.add_argument("--top", type=int, default=12)
    a = ap.parse_args()
    from transformers import BertConfig, BertForSequenceClassification, logging as hf_logging
    hf_logging.set_verbosity_error()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    cfg = BertConfig.from_pretrained(a.model, num_labels=2, hidden_dropout_prob=a.dropout,
                                     attention_probs_dropout_prob=a.dropout,
                                     attn_implementation="eager")
    model = BertForSequenceClassification(cfg)
    model.train()
    no_decay = ("bias", "LayerNorm.weight")
    groups = [{"params": [p for n, p in model.named_parameters()
                          if not any(k in n for k in no_decay)], "weight_decay": 0.01},
              {"params": [p for n, p in model.named_parameters()
                          if any(k in n for k in no_decay)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=2e-5, eps=1e-8)
    g = torch.Generator().manual_seed(42)
    B, L = a.batch, a.seq

    def step(walls):
        ids = torch.randint(1000, cfg.vocab_size, (B, L), generator=g)
        ids[:, 0], ids[:, -1] = 101, 102
        y = torch.randint(0, 2, (B,), generator=g)
        t0 = time.perf_counter()
        with record_function("forward"):
            loss = model(input_ids=ids, token_type_ids=torch.zeros_like(ids),
                         attention_mask=torch.ones_like(ids), labels=y).loss
        t1 = time.perf_counter()
        with record_function("backward"):
            loss.backward()
        t2 = time.perf_counter()
        with record_function("optimizer"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        walls.append((t1 - t0, t2 - t1, t3 - t2))

    for _ in range(a.warmup):
        step([])
    walls, profiled = [], []
    for _ in range(a.steps):
        step(walls)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(a.profile_steps):
            step(profiled)
    events = list(prof.events())
    spans = [(e.time_range.start, e.time_range.end, e.name) for e in events if e.name in PHASES]
    per_op = {p: collections.Counter() for p in PHASES}
    for e in events:
        if e.name in PHASES:
            continue
        phase = next((n for s, t, n in spans if s <= e.time_range.start < t), None)
        if phase:
            per_op[phase][e.name] += e.self_cpu_time_total / 1e6 / a.profile_steps
    summary = {"who": "torch", "torch": torch.__version__, "threads": torch.get_num_threads(),
               "batch": B, "seq": L, "dropout": a.dropout, "steps": a.steps,
               "profile_steps": a.profile_steps, "phases": {}}
    for i, p in enumerate(PHASES):
        wall = sorted(w[i] for w in walls)[len(walls) // 2]
        ops = per_op[p]
        mm = sum(v for k, v in ops.items() if k in MATMUL)
        print(f"{p}: {wall:.3f} s/step (median wall), self times per step: matmul {mm:.3f} s, "
              f"all ops {sum(ops.values()):.3f} s", file=sys.stderr)
        for name, v in ops.most_common(a.top):
            print(f"    {name:<50} {v * 1e3:8.1f} ms", file=sys.stderr)
        summary["phases"][p] = {"wall_s": wall, "matmul_self_s": mm,
                                "ops_self_s": sum(ops.values()),
                                "top_ops_s": dict(ops.most_common(a.top))}
    summary["step_s"] = sorted(sum(w) for w in walls)[len(walls) // 2]
    summary["profiled_step_s"] = sorted(sum(w) for w in profiled)[len(profiled) // 2]
    print(f"step: {summary['step_s']:.3f} s (median of {a.steps}), under the profiler "
          f"{summary['profiled_step_s']:.3f} s", file=sys.stderr)
    print("SUMMARY " + json.dumps(summary))


if __name__ == "__main__":
    main()
