#!/usr/bin/env python3
"""Convert public copies of SNLI, MNLI dev matched and SciTail test into the layouts dps-tui reads.

Stdlib only. Reads checkouts of three public GitHub repositories:

- Tikquuss/nli_dataset (commit 6a11ce6): Stanford-nli/snli_1.0_{dev,test}.csv and
  Multi-genre-nli/multinli_1.0_dev_matched.csv, CSV with pairID,sentence1,sentence2,label
  (the unstripped copies; rows labelled `-` are still present).
- academic-repository/cat (commit 9c98ebb): data/snli/{train,test}.csv, 20,000 pairs drawn
  from SNLI train; tab-separated, no header: label, label (repeated), sentence1, sentence2,
  with labels 1 = neutral, 2 = contradiction, 3 = entailment.
- felipessalvatore/NLI_datasets (commit 9551b73): nli_datasets/scitail/dev.csv, which holds
  SciTail's *test* split (2,126 pairs), CSV premise,hypothesis,label with labels
  entailment / not_entailment.

Writes (see src/data/nli.rs and src/data/glue.rs):

  <nli-out>/snli_1.0/snli_1.0_{dev,test}.jsonl   {"sentence1","sentence2","gold_label"} per line,
                                                 `-` rows kept (the reader drops them)
  <nli-out>/snli_1.0/snli_1.0_train.jsonl        the cat pairs (train.csv then test.csv), minus
                                                 any (sentence1, sentence2) also in dev or test
  <nli-out>/SciTailV1.1/tsv_format/scitail_1.0_test.tsv   premise<TAB>hypothesis<TAB>label,
                                                 entails / neutral, no header
  <glue-out>/MNLI/dev_matched.tsv                GLUE MNLI columns (12, as GLUE's train.tsv:
                                                 sentence1 = 8, sentence2 = 9, gold_label last);
                                                 `-` rows dropped; columns the source lacks
                                                 (promptID, genre, parses, label1) left empty

and, with --link-glue / --link-sick, symlinks <glue-out>/{CoLA,MRPC,STS-B,RTE,WNLI} and
<nli-out>/SICK to those folders. Tabs and line breaks inside sentences become spaces in TSV
output. Prints the row and label counts of each file written, and the first 16 hex digits of
its SHA-256 (the same sources give the same files, line order included).

Example:
  python3 scripts/experiments/prepare-nli.py --nli-dataset SRC/nli_dataset --cat SRC/cat \\
      --nli-datasets SRC/NLI_datasets --nli-out data/nli --glue-out data/nli/glue \\
      --link-glue GLUE_DIR --link-sick SICK_DIR

where SRC/<name> are clones of the three repositories, GLUE_DIR a GLUE folder in the original
layout (CoLA/, MRPC/, ...) and SICK_DIR a folder holding SICK.txt. `data/` is git-ignored.
"""

import argparse
import collections
import csv
import hashlib
import json
import os
from pathlib import Path

CAT_LABELS = {"1": "neutral", "2": "contradiction", "3": "entailment"}
SNLI_LABELS = {"entailment", "neutral", "contradiction", "-"}
SCITAIL_LABELS = {"entailment": "entails", "not_entailment": "neutral"}
MNLI_HEADER = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
               "sentence2_binary_parse", "sentence1_parse", "sentence2_parse",
               "sentence1", "sentence2", "label1", "gold_label"]
GLUE_LINKS = ["CoLA", "MRPC", "STS-B", "RTE", "WNLI"]


def read_csv(path, header):
    """Rows of a comma-separated file with quoting, checking its header."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if rows[0] != header:
        raise SystemExit(f"{path}: header {rows[0]}, expected {header}")
    return rows[1:]


def tsv_field(text):
    return text.replace("\r\n", " ").replace("\t", " ").replace("\r", " ").replace("\n", " ")


def check_label(path, label, allowed):
    if label not in allowed:
        raise SystemExit(f"{path}: unexpected label {label!r}")
    return label


def write_jsonl(path, pairs):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for s1, s2, label in pairs:
            obj = {"sentence1": s1, "sentence2": s2, "gold_label": label}
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    report(path, [p[2] for p in pairs])


def write_tsv(path, rows, header=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in ([header] if header else []) + rows:
            f.write("\t".join(tsv_field(x) for x in row) + "\n")
    report(path, [r[-1] for r in rows])


def report(path, labels):
    counts = collections.Counter(labels)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    print(f"{path}: {len(labels)} rows; " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; sha256 {digest}")


def snli(args):
    """SNLI dev/test from nli_dataset, train from cat; returns nothing, writes three files."""
    out = args.nli_out / "snli_1.0"
    seen = set()
    for split in ["dev", "test"]:
        path = args.nli_dataset / "Stanford-nli" / f"snli_1.0_{split}.csv"
        rows = read_csv(path, ["pairID", "sentence1", "sentence2", "label"])
        pairs = [(r[1], r[2], check_label(path, r[3], SNLI_LABELS)) for r in rows]
        seen.update((s1, s2) for s1, s2, _ in pairs)
        write_jsonl(out / f"snli_1.0_{split}.jsonl", pairs)
    train, overlap = [], 0
    for name in ["train.csv", "test.csv"]:
        path = args.cat / "data" / "snli" / name
        with open(path, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        for line in filter(None, lines):
            label, label2, s1, s2 = line.split("\t")
            if label != label2 or label not in CAT_LABELS:
                raise SystemExit(f"{path}: unexpected labels in {line!r}")
            if (s1, s2) in seen:
                overlap += 1
                continue
            train.append((s1, s2, CAT_LABELS[label]))
    print(f"snli train: dropped {overlap} pairs also in SNLI dev or test")
    write_jsonl(out / "snli_1.0_train.jsonl", train)


def mnli(args):
    path = args.nli_dataset / "Multi-genre-nli" / "multinli_1.0_dev_matched.csv"
    rows = read_csv(path, ["pairID", "sentence1", "sentence2", "label"])
    kept = [r for r in rows if check_label(path, r[3], SNLI_LABELS) != "-"]
    out = [[str(i), "", pid, "", "", "", "", "", s1, s2, "", label]
           for i, (pid, s1, s2, label) in enumerate(kept)]
    write_tsv(args.glue_out / "MNLI" / "dev_matched.tsv", out, MNLI_HEADER)


def scitail(args):
    path = args.nli_datasets / "nli_datasets" / "scitail" / "dev.csv"
    rows = read_csv(path, ["premise", "hypothesis", "label"])
    out = [[p, h, SCITAIL_LABELS[check_label(path, lab, SCITAIL_LABELS)]] for p, h, lab in rows]
    write_tsv(args.nli_out / "SciTailV1.1" / "tsv_format" / "scitail_1.0_test.tsv", out)


def link(target, name):
    if name.is_symlink() or name.exists():
        if name.is_symlink() and os.readlink(name) == str(target):
            return
        raise SystemExit(f"{name} exists and is not a link to {target}")
    name.parent.mkdir(parents=True, exist_ok=True)
    name.symlink_to(target, target_is_directory=True)
    print(f"{name} -> {target}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nli-dataset", type=Path, required=True, help="checkout of Tikquuss/nli_dataset")
    ap.add_argument("--cat", type=Path, required=True, help="checkout of academic-repository/cat")
    ap.add_argument("--nli-datasets", type=Path, required=True,
                    help="checkout of felipessalvatore/NLI_datasets")
    ap.add_argument("--nli-out", type=Path, required=True, help="NLI data folder (nli_dir)")
    ap.add_argument("--glue-out", type=Path, required=True, help="GLUE-layout folder (data_dir)")
    ap.add_argument("--link-glue", type=Path, help="folder holding CoLA, MRPC, STS-B, RTE, WNLI")
    ap.add_argument("--link-sick", type=Path, help="folder holding SICK.txt")
    args = ap.parse_args()
    snli(args)
    mnli(args)
    scitail(args)
    if args.link_glue:
        for task in GLUE_LINKS:
            link(args.link_glue / task, args.glue_out / task)
    if args.link_sick:
        link(args.link_sick, args.nli_out / "SICK")


if __name__ == "__main__":
    main()
