#!/usr/bin/env python3
"""Share of held-out probes whose largest |attribution| falls on one of the task's naming words.

A task's naming words are the instruction words of its distributions that not every task uses:
filler shared by all tasks (`the`, `symbol`, `please`, ...) names none. Where each task has a
keyword of its own this is that keyword; where tasks are named by combinations of shared words
it is the task's share of them (on the default experiment, its two verbs, e.g. `flip` and
`turn`: `left` and `right` are in every task's instructions). Every unseen analysis point of the
session (or the first N per task) is probed at the last checkpoint through the binary, and the
words the largest |attribution| falls on are counted too:

    scripts/attribution_share.py SESSION_DIR [--per-task N] [--bin target/release/clusterscope]
"""
import argparse
import json
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path


def words_of(expression):
    return set(re.findall(r"[^\s()|?{}0-9,]+", expression))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("session")
    ap.add_argument("--per-task", type=int, default=20)
    ap.add_argument("--bin", default="target/release/clusterscope")
    args = ap.parse_args()
    session = Path(args.session)
    manifest = json.loads((session / "manifest.json").read_text())
    spec = tomllib.loads(manifest["experiment"])
    task_words = [set().union(*(words_of(d) for d in t["instructions"])) for t in spec["tasks"]]
    everywhere = set.intersection(*task_words)
    own = [w - everywhere for w in task_words]
    points = json.loads((session / "points.json").read_text())
    taken = defaultdict(int)
    hits, total, correct = 0, 0, 0
    per_task = defaultdict(lambda: [0, 0])
    top_words = defaultdict(int)
    for p in points:
        if p["seen"] or taken[p["task"]] >= args.per_task:
            continue
        taken[p["task"]] += 1
        out = subprocess.run(
            [args.bin, "probe", str(session), p["instruction"], "--input", p["input"], "--json"],
            capture_output=True, text=True, check=True,
        )
        r = json.loads(out.stdout)
        top = max(r["attribution"], key=lambda a: abs(a["value"]))
        hit = top["word"] in own[p["task"]]
        top_words[top["word"]] += 1
        hits += hit
        total += 1
        correct += r["answer"] == p["output"]
        per_task[p["task"]][0] += hit
        per_task[p["task"]][1] += 1
    names = [t["name"] for t in spec["tasks"]]
    for t, (h, n) in sorted(per_task.items()):
        print(f"{names[t]:>10}: {h}/{n} (naming words: {', '.join(sorted(own[t]))})")
    counts = ", ".join(f"{w} {n}" for w, n in sorted(top_words.items(), key=lambda kv: -kv[1]))
    print(f"largest |attribution| falls on: {counts}")
    print(f"largest |attribution| on the task's naming words in {hits}/{total} held-out probes "
          f"({100 * hits / max(total, 1):.1f}%); answers right: {correct}/{total}")


if __name__ == "__main__":
    sys.exit(main())
