#!/usr/bin/env python3
"""bench-vs-torch.sh's summary: per-round ratios of dps-tui against PyTorch, and their table.

    bench_summary.py --build RESULTS.jsonl [--meta META.json] --out SUMMARY.json
    bench_summary.py --markdown SUMMARY.json [--no-caption]

--build pairs the runs of each round (results.jsonl, one JSON line per run) into ratios:
  - 16x128 vanilla examples/s, dps-tui / PyTorch (target >= 1.0);
  - dps-dense / vanilla step time, for dps-tui (target <= 1.05) and for PyTorch (reference);
  - per task, packed examples/s over PyTorch's dynamic padding (target >= 1.5) and over
    PyTorch padded to 128 (target >= 2.0);
  - peak memory (max RSS), dps-tui / PyTorch, the round's largest process on each side
    (target <= 1.0).
Each measure gets the median ratio, its min and max over rounds, the per-round values, the
medians of the raw figures, and met / missed judged on the median. META.json (machine,
settings, command line, written by bench-vs-torch.sh) is copied in.

--markdown prints SUMMARY.json as the markdown table of docs/performance.md, with a caption
(command, rounds, machine, load, date) unless --no-caption.
"""
import argparse
import json
import statistics
import sys

TARGETS = {
    "fixed_vanilla": {"op": ">=", "value": 1.0},
    "dps_dense_over_vanilla": {"op": "<=", "value": 1.05},
    "packed_vs_dynamic": {"op": ">=", "value": 1.5},
    "packed_vs_padded_128": {"op": ">=", "value": 2.0},
    "peak_memory": {"op": "<=", "value": 1.0},
}
TASK_NAMES = {"rte": "RTE", "mrpc": "MRPC", "stsb": "STS-B", "sts-b": "STS-B", "cola": "CoLA",
              "sst2": "SST-2", "sst-2": "SST-2", "qnli": "QNLI", "qqp": "QQP", "mnli": "MNLI",
              "wnli": "WNLI"}
WHO = {"dps-tui": "dps-tui", "torch": "PyTorch"}


def meets(value, target):
    return value >= target["value"] if target["op"] == ">=" else value <= target["value"]


def series(who, what, unit, values):
    """One side's raw figure: per-round values (round -> value) and their median."""
    return {"who": who, "what": what, "unit": unit,
            "median": statistics.median(values.values()) if values else None,
            "per_round": [{"round": r, "value": v} for r, v in sorted(values.items())]}


def measure(mid, label, kind, target_key, a, b):
    """The ratio a / b in each round where both were measured."""
    av = {d["round"]: d["value"] for d in a["per_round"]}
    bv = {d["round"]: d["value"] for d in b["per_round"]}
    per_round = [{"round": r, "a": av[r], "b": bv[r], "ratio": av[r] / bv[r]}
                 for r in sorted(av) if r in bv and av[r] is not None and bv[r]]
    if not per_round:
        return None
    ratios = [p["ratio"] for p in per_round]
    m = {"id": mid, "label": label, "kind": kind, "rounds": len(per_round),
         "median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
         "per_round": per_round, "target": None, "met": None, "rounds_meeting_target": None,
         "a": a, "b": b}
    if target_key:
        t = dict(TARGETS[target_key], key=target_key)
        m["target"] = t
        m["met"] = meets(m["median"], t)
        m["rounds_meeting_target"] = sum(meets(x, t) for x in ratios)
    return m


def build(results_path, meta_path):
    rows = [json.loads(line) for line in open(results_path) if line.strip()]
    meta = json.load(open(meta_path)) if meta_path else {}
    settings = meta.get("settings", {})

    def pick(key, **match):
        """round -> row[key] for the rows matching every field of `match`."""
        got = {}
        for r in rows:
            if all(r.get(k) == v for k, v in match.items()) and r.get(key) is not None:
                got[r["round"]] = r[key]
        return got

    measures = []
    fixed = [r for r in rows if r.get("kind") == "fixed"]
    if fixed:
        ov = pick("examples_per_s", kind="fixed", who="dps-tui", method="vanilla")
        tv = pick("examples_per_s", kind="fixed", who="torch", method="vanilla")
        measures.append(measure(
            "fixed_vanilla", "16×128 vanilla, examples/s", "speed", "fixed_vanilla",
            series("dps-tui", "vanilla", "examples/s", ov),
            series("torch", "vanilla", "examples/s", tv)))
        for who, target in (("dps-tui", "dps_dense_over_vanilla"), ("torch", None)):
            d = pick("s_per_step", kind="fixed", who=who, method="dps-dense")
            v = pick("s_per_step", kind="fixed", who=who, method="vanilla")
            measures.append(measure(
                f"dps_dense_over_vanilla_{'ours' if who == 'dps-tui' else 'torch'}",
                f"16×128 dps-dense / vanilla step time, {WHO[who]}", "step_time", target,
                series(who, "dps-dense", "s/step", d), series(who, "vanilla", "s/step", v)))
    tasks = list(dict.fromkeys(r["task"] for r in rows if r.get("kind") == "epoch"))
    epoch_steps = settings.get("epoch_steps")
    for task in tasks:
        packed = pick("examples_per_s", kind="epoch", who="dps-tui", task=task, padding="packed")
        steps = sorted({r["steps"] for r in rows if r.get("kind") == "epoch"
                        and r.get("task") == task and r.get("who") == "dps-tui"})
        grouped = any(r.get("group_by_length") for r in rows if r.get("task") == task)
        name = TASK_NAMES.get(task.lower(), task.upper())
        n = "/".join(map(str, steps))
        order = "length-grouped" if grouped else "random"
        if epoch_steps == 0:
            span = f"whole epoch ({n} steps), {order} order"
        else:
            span = f"{n} {order} batch{'' if steps == [1] else 'es'}"
        for padding, mid, what in (("longest", "packed_vs_dynamic", "dynamic padding"),
                                   ("max_length", "packed_vs_padded_128", "padded to 128")):
            other = pick("examples_per_s", kind="epoch", who="torch", task=task, padding=padding)
            measures.append(measure(
                f"{mid}_{task}", f"{name}, {span}, packed vs PyTorch {what}, examples/s",
                "speed", mid, series("dps-tui", "packed", "examples/s", packed),
                series("torch", padding, "examples/s", other)))
    peak = {}
    for r in rows:
        if r.get("rss_mib") is not None:
            k = (r["who"], r["round"])
            peak[k] = max(peak.get(k, 0), r["rss_mib"])
    measures.append(measure(
        "peak_memory", "peak memory (max RSS), MiB", "memory", "peak_memory",
        series("dps-tui", "peak", "MiB", {rd: v for (w, rd), v in peak.items() if w == "dps-tui"}),
        series("torch", "peak", "MiB", {rd: v for (w, rd), v in peak.items() if w == "torch"})))
    measures = [m for m in measures if m]
    targeted = [m for m in measures if m["target"]]
    return {
        "schema": "bench-vs-torch summary 1",
        "command": meta.get("command"), "date": meta.get("date"), "date_end": meta.get("date_end"),
        "machine": meta.get("machine", {}), "settings": settings,
        "torch_version": next((r["torch"] for r in rows if r.get("torch")), None),
        "rounds": max((r["round"] for r in rows), default=0),
        "targets": TARGETS,
        "targets_met": sum(m["met"] for m in targeted), "targets_total": len(targeted),
        "measures": measures,
    }


def fmt_raw(s, kind):
    v = s["median"]
    if v is None:
        return "–"
    if kind == "memory":
        return f"{v:,.0f}"
    if s["unit"] == "s/step":
        return f"{v:.3f} s"
    return f"{v:.2f}"


def fmt_ratio(v, kind):
    return f"{v:.3f}" if kind == "step_time" else f"{v:.2f}×"


def fmt_range(lo, hi, kind):
    return f"{lo:.3f}–{hi:.3f}" if kind == "step_time" else f"{lo:.2f}–{hi:.2f}×"


def fmt_target(t, kind):
    if not t:
        return "–"
    op = "≥" if t["op"] == ">=" else "≤"
    return f"{op} {t['value']:.2f}" if kind == "step_time" else f"{op} {t['value']:.1f}×"


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def markdown(summary, caption=True):
    lines = []
    if caption:
        m, s = summary.get("machine", {}), summary.get("settings", {})
        load = lambda u: u.split("load average:")[-1].strip() if u else "?"
        lines.append(f"Command: `{summary.get('command')}`")
        lines.append("")
        lines.append(
            f"{plural(summary.get('rounds'), 'round')}, dps-tui and PyTorch alternating in each (even rounds "
            f"in reverse order), {plural(s.get('threads'), 'thread')}; the ratio is the median of the "
            f"per-round ratios, the raw figures are medians over rounds. "
            f"{m.get('nproc')} cores ({m.get('cpu_model') or 'CPU model unknown'}), "
            f"load average {load(m.get('uptime_start'))} at the start and "
            f"{load(m.get('uptime_end'))} at the end; {summary.get('date')}"
            + (f", PyTorch {summary['torch_version']}" if summary.get("torch_version") else "")
            + ".")
        lines.append("")
    lines.append("| measure | dps-tui | PyTorch | ratio (median) | min–max over rounds | target "
                 "| on the median |")
    lines.append("|---|---|---|---|---|---|---|")
    for x in summary["measures"]:
        k, a, b = x["kind"], x["a"], x["b"]
        if a["who"] == b["who"]:  # one side's own ratio, e.g. dps-dense / vanilla
            cells = {a["who"]: f"{fmt_raw(a, k)} / {fmt_raw(b, k)}"}
        else:
            cells = {a["who"]: fmt_raw(a, k), b["who"]: fmt_raw(b, k)}
        if x["target"]:
            verdict = (f"{'met' if x['met'] else 'missed'} "
                       f"({x['rounds_meeting_target']} of {plural(x['rounds'], 'round')})")
        else:
            verdict = "reference"
        lines.append(f"| {x['label']} | {cells.get('dps-tui', '')} | {cells.get('torch', '')} "
                     f"| {fmt_ratio(x['median'], k)} | {fmt_range(x['min'], x['max'], k)} "
                     f"| {fmt_target(x['target'], k)} | {verdict} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--build", metavar="RESULTS.jsonl", help="results.jsonl to summarise")
    mode.add_argument("--markdown", metavar="SUMMARY.json", help="summary.json to print as markdown")
    ap.add_argument("--meta", metavar="META.json", help="--build: machine, settings and command line")
    ap.add_argument("--out", metavar="SUMMARY.json", help="--build: where to write the summary")
    ap.add_argument("--no-caption", action="store_true", help="--markdown: the table only")
    args = ap.parse_args()
    if args.build:
        if not args.out:
            ap.error("--build needs --out SUMMARY.json")
        summary = build(args.build, args.meta)
        if not summary["measures"]:
            sys.exit(f"bench_summary: no complete round in {args.build}")
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=1, ensure_ascii=False)
            f.write("\n")
    else:
        print(markdown(json.load(open(args.markdown)), caption=not args.no_caption))


if __name__ == "__main__":
    main()
