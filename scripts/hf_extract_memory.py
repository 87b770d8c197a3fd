"""Peak memory of hidden-state extraction against the bound: 1.3x the weights in f32 plus the
activations of one batch.

Runs, each under /usr/bin/time (peak resident set), on the model that hf_extract_speed.py writes:
- the extraction example (one forward pass over prompts.json: every layer at every position),
- `clusterscope analyze --data builtin` (the whole command: tokenising, batches of up to 4096
  tokens, the analysis and the session it writes),
- transformers doing the example's forward pass, for comparison.

The activations of one batch are counted as the buffers the fast path holds at once inside a
block (stream, normed stream, q|k|v, attention output, gate|up), the hidden states kept, and the
logits, all f32.

    cargo build --release --bin clusterscope --example hf_extract_speed
    python3 scripts/hf_extract_speed.py --dir /tmp/hf-speed --rounds 1   # writes the model once
    python3 scripts/hf_extract_memory.py --dir /tmp/hf-speed
"""

import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
EXAMPLE = os.path.join(TARGET, "release", "examples", "hf_extract_speed")
BINARY = os.path.join(TARGET, "release", "clusterscope")
BATCH_TOKENS = 4096  # src/train/extract.rs


def f32_weight_bytes(d):
    total = 0
    for name in os.listdir(d):
        if name.endswith(".safetensors"):
            with open(os.path.join(d, name), "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
            for key, t in header.items():
                if key != "__metadata__":
                    numel = 1
                    for s in t["shape"]:
                        numel *= s
                    total += 4 * numel
    return total


def activation_bytes(cfg, rows, hidden_rows):
    d, i = cfg["hidden_size"], cfg["intermediate_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads)
    hd = d // heads
    per_row = d + d + (heads + 2 * kv) * hd + heads * hd + 2 * i
    kept = hidden_rows * d * (cfg["num_hidden_layers"] + 1)
    return 4 * (rows * per_row + kept + cfg["vocab_size"])


def peak_kib(cmd, env):
    out = subprocess.run(["/usr/bin/time", "-f", "PEAK %M"] + cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {out.stderr.strip()[-500:]}")
    return int(re.findall(r"PEAK (\d+)", out.stderr)[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/hf-speed")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    with open(os.path.join(a.dir, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(a.dir, "prompts.json")) as f:
        ids = json.load(f)["ids"]
    weights = f32_weight_bytes(a.dir)
    mib = 1 << 20
    print(f"weights in f32: {weights / mib:.1f} MiB")
    example_rows = len(ids) * len(ids[0])
    cases = [
        ("extraction example", [EXAMPLE, a.dir, "1"], activation_bytes(cfg, example_rows, example_rows)),
    ]
    session = tempfile.mkdtemp(prefix="hf-memory-")
    out = os.path.join(session, "s")
    cases.append(("clusterscope analyze --data builtin",
                  [BINARY, "analyze", "--model", a.dir, "--data", "builtin", "--out", out],
                  activation_bytes(cfg, BATCH_TOKENS, BATCH_TOKENS)))
    for label, cmd, act in cases:
        peak = peak_kib(cmd, env) * 1024
        bound = 1.3 * weights + act
        print(f"{label}: peak RSS {peak / mib:.1f} MiB = {peak / weights:.2f}x the f32 weights;"
              f" one batch's activations {act / mib:.1f} MiB; bound 1.3x weights + activations"
              f" {bound / mib:.1f} MiB: {'within' if peak <= bound else 'OVER'}")
    here = os.path.dirname(os.path.abspath(__file__))
    torch_cmd = [sys.executable, "-c",
                 "import sys; sys.path.insert(0, %r); import hf_extract_speed as h; "
                 "h.transformers_side(%r, 1, %d)" % (here, a.dir, a.threads)]
    try:
        peak = peak_kib(torch_cmd, env) * 1024
        print(f"transformers, the example's forward pass: peak RSS {peak / mib:.1f} MiB = {peak / weights:.2f}x")
    except SystemExit as e:
        print(f"transformers not measured: {e}")


if __name__ == "__main__":
    main()
