#!/usr/bin/env python3
"""Turn finished run folders into `dps-tui report --import` lines, so results outlive the folders.

    scripts/experiments/archive-runs.py ROOT [--source NAME] >> docs/results/NAME.jsonl
    dps-tui report ROOT --import docs/results/NAME.jsonl

Every run folder under ROOT whose events.jsonl ends with a `done` event that is not an early stop
gives one line: task, method, seed, the final metrics (eval tasks' `<task>/<metric>` included) and
the configuration keys as text. The source (default `dps-tui-archive`) keeps archived runs apart
from live run folders: `report` pairs runs within one source only, so archive every run of an
experiment, old and new, the same way.
"""
import argparse
import json
import os
import sys


def finished_runs(root):
    for dirpath, _dirs, files in os.walk(root):
        if "events.jsonl" in files:
            yield dirpath


def line_of(run):
    start = done = None
    with open(os.path.join(run, "events.jsonl"), encoding="utf-8") as f:
        for raw in f:
            try:
                e = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if e.get("event") == "start" and start is None:
                start = e
            elif e.get("event") == "done":
                done = e
    if start is None or done is None or done.get("stopped_early"):
        return None
    config = start.get("config", {})

    def text(v):
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (list, dict)):
            return json.dumps(v, sort_keys=True)
        return str(v)

    return {
        "task": start["task"],
        "method": start["method"],
        "seed": config.get("seed"),
        "metrics": done.get("metrics", {}),
        "config": {k: text(v) for k, v in sorted(config.items())},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root")
    ap.add_argument("--source", default="dps-tui-archive")
    a = ap.parse_args()
    n = 0
    for run in sorted(finished_runs(a.root)):
        line = line_of(run)
        if line is None:
            print(f"left out {run}: not finished", file=sys.stderr)
            continue
        print(json.dumps({"source": a.source, **line}, sort_keys=True))
        n += 1
    print(f"{n} runs archived", file=sys.stderr)


if __name__ == "__main__":
    main()
