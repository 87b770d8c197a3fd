#!/usr/bin/env python3
"""What each command does with each kind of damage to a saved session, as a Markdown table.

Trains one tiny session with the binary, then for every damage case makes a fresh copy, damages
it and runs show, show --json, export, probe, check and train --resume on it, printing each
command's exit code and the first line it wrote on stderr (or stdout where stderr is empty).

    python3 scripts/damage_table.py [--bin target/release/clusterscope]

Standard library only; the session and its copies live in a temporary directory.
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SPEC = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "specs", "tiny.toml")
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv1a64(data):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return "fnv1a64:%016x" % h


def ckpt(d, step):
    return os.path.join(d, "checkpoints", "step-%06d" % step)


def edit_manifest(d, edit):
    p = os.path.join(d, "manifest.json")
    with open(p) as f:
        m = json.load(f)
    edit(m)
    with open(p, "w") as f:
        json.dump(m, f)


def garble_snapshot(d, step):
    with open(os.path.join(ckpt(d, step), "snapshot.json"), "w") as f:
        f.write('{"step": 12, "layers": [')


def change_snapshot_value(d, step):
    p = os.path.join(ckpt(d, step), "snapshot.json")
    with open(p) as f:
        s = json.load(f)
    s["loss"] = s.get("loss", 0.0) + 1.0
    with open(p, "w") as f:
        json.dump(s, f)


def delete_checkpoint(d, step):
    shutil.rmtree(ckpt(d, step))


def flip_bit(d, step):
    p = os.path.join(ckpt(d, step), "weights.safetensors")
    b = bytearray(open(p, "rb").read())
    b[len(b) - 9] ^= 0x10
    open(p, "wb").write(b)


def nan_weights(d, step):
    p = os.path.join(ckpt(d, step), "weights.safetensors")
    b = bytearray(open(p, "rb").read())
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8 : 8 + n])
    name = max(k for k in header if k != "__metadata__")
    at = 8 + n + header[name]["data_offsets"][0]
    b[at : at + 4] = struct.pack("<f", float("nan"))
    open(p, "wb").write(b)

    def fix(m):
        for c in m["checkpoints"]:
            if c["step"] == step:
                c["checksums"]["weights.safetensors"] = fnv1a64(bytes(b))

    edit_manifest(d, fix)


def truncate_weights(d, step):
    p = os.path.join(ckpt(d, step), "weights.safetensors")
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.truncate(size // 2)


def truncate_optimizer(d, step):
    for name in os.listdir(ckpt(d, step)):
        if name.startswith("optimizer"):
            p = os.path.join(ckpt(d, step), name)
            with open(p, "r+b") as f:
                f.truncate(os.path.getsize(p) // 2)


def fifo_snapshot(d, step):
    p = os.path.join(ckpt(d, step), "snapshot.json")
    os.remove(p)
    os.mkfifo(p)


def fifo_manifest(d, _step):
    p = os.path.join(d, "manifest.json")
    os.remove(p)
    os.mkfifo(p)


def garble_manifest(d, _step):
    with open(os.path.join(d, "manifest.json"), "w") as f:
        f.write("{ not json")


def outside_dir(d, step):
    def edit(m):
        for c in m["checkpoints"]:
            if c["step"] == step:
                c["dir"] = "../../../../../etc"

    edit_manifest(d, edit)


def delete_points(d, _step):
    os.remove(os.path.join(d, "points.json"))


def truncate_log(d, _step):
    p = os.path.join(d, "log.jsonl")
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.truncate(size - 7)


def every_checkpoint_garbled(d, _step):
    for name in os.listdir(os.path.join(d, "checkpoints")):
        with open(os.path.join(d, "checkpoints", name, "snapshot.json"), "w") as f:
            f.write("[")


CASES = [
    ("intact", None),
    ("garbled snapshot.json (one checkpoint)", garble_snapshot),
    ("snapshot.json edited (checksum mismatch)", change_snapshot_value),
    ("checkpoint directory deleted", delete_checkpoint),
    ("one bit flipped in weights", flip_bit),
    ("NaN in weights, checksum updated", nan_weights),
    ("weights truncated to half", truncate_weights),
    ("optimizer state truncated (last checkpoint)", truncate_optimizer),
    ("FIFO in place of snapshot.json", fifo_snapshot),
    ("checkpoint dir ../../../../../etc in manifest", outside_dir),
    ("log.jsonl cut mid-line", truncate_log),
    ("every snapshot garbled", every_checkpoint_garbled),
    ("points.json deleted", delete_points),
    ("manifest.json garbled", garble_manifest),
    ("FIFO in place of manifest.json", fifo_manifest),
]


def first_line(p):
    text = p.stderr.strip() or p.stdout.strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= 150 else line[:147] + "..."


def run(binary, args, timeout=60):
    try:
        p = subprocess.run([binary] + args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout (blocked)"
    return "exit %d: %s" % (p.returncode, first_line(p).replace("|", "\\|"))


def damaged_field(binary, d):
    p = subprocess.run([binary, "show", d, "--json"], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return "exit %d" % p.returncode
    damaged = json.loads(p.stdout).get("damaged", [])
    return "exit 0, damaged: [%s]" % ", ".join(str(x.get("step")) for x in damaged)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/clusterscope")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    tmp = tempfile.mkdtemp(prefix="damage-")
    base = os.path.join(tmp, "base")
    subprocess.run(
        [binary, "train", "--headless", "--experiment", SPEC, "--steps", "60", "--out", base],
        check=True,
        capture_output=True,
    )
    with open(os.path.join(base, "manifest.json")) as f:
        steps = [c["step"] for c in json.load(f)["checkpoints"]]
    mid, last = steps[len(steps) // 2], steps[-1]
    print("Session: tiny spec, 60 steps, checkpoints at %s; one-checkpoint damage at step %d" % (steps, mid))
    print("(the optimizer case damages step %d, the one a resume reads).\n" % last)
    print("| damage | show | show --json | export (that step) | probe (that step) | check | train --resume |")
    print("|---|---|---|---|---|---|---|")
    for label, damage in CASES:
        d = os.path.join(tmp, "case")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(base, d)
        step = last if damage is truncate_optimizer else mid
        if damage is not None:
            damage(d, step)
        out = os.path.join(tmp, "export")
        shutil.rmtree(out, ignore_errors=True)
        row = [
            run(binary, ["show", d]),
            damaged_field(binary, d),
            run(binary, ["export", d, "--checkpoint", str(step), "--out", out]),
            run(binary, ["probe", d, "do first", "--input", "A", "--checkpoint", str(step)]),
            run(binary, ["check", d]),
            run(binary, ["train", "--headless", "--resume", d, "--steps", "80"], timeout=120),
        ]
        print("| %s | %s |" % (label, " | ".join(row)))
        sys.stdout.flush()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
