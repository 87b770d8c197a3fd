#!/usr/bin/env python3
"""Share of held-out probes whose largest |attribution| falls on one of the task's own words.

A task's own words are the instruction words that no other task's distributions use (on the
default experiment, its two keywords, e.g. `invert` and `flip`). Every unseen analysis point of
the session (or the first N per task) is probed at the last checkpoint through the binary:

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
    own = [w - set().union(*(o for j, o in enumerate(task_words) if j != i)) for i, w in enumerate(task_words)]
    points = json.loads((session / "points.json").read_text())
    taken = defaultdict(int)
    hits, total, correct = 0, 0, 0
    per_task = defaultdict(lambda: [0, 0])
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
        hits += hit
        total += 1
        correct += r["answer"] == p["output"]
        per_task[p["task"]][0] += hit
        per_task[p["task"]][1] += 1
    names = [t["name"] for t in spec["tasks"]]
    for t, (h, n) in sorted(per_task.items()):
        print(f"{names[t]:>10}: {h}/{n} (own words: {', '.join(sorted(own[t]))})")
    print(f"largest |attribution| on the task's own words in {hits}/{total} held-out probes "
          f"({100 * hits / max(total, 1):.1f}%); answers right: {correct}/{total}")


if __name__ == "__main__":
    sys.exit(main())
