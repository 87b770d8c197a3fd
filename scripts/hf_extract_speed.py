"""Hidden-state extraction speed, clusterscope against transformers, on the same model, prompts
and threads, interleaved A B A B so that a change in the machine's load hits both alike.

The model is a random Llama of about 100M parameters (hidden 768, 12 layers, 12 heads, 4
key-value heads, MLP 2048, vocabulary 32000), written once to DIR with a batch of prompts
(prompts.json: token ids, so both sides read exactly the same tokens). Extraction is one forward
pass returning every layer's hidden state at every position plus the last position's logits.

    pip install torch transformers safetensors tokenizers
    cargo build --release --example hf_extract_speed
    python3 scripts/hf_extract_speed.py --dir /tmp/hf-speed --threads 2 --rounds 3

`--side transformers` runs only the transformers side once (one JSON line).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
EXAMPLE = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "examples",
                       "hf_extract_speed")


def make(d, batch, tokens):
    if os.path.exists(os.path.join(d, "prompts.json")):
        return
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=32000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                      num_attention_heads=12, num_key_value_heads=4, max_position_embeddings=2048,
                      tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(d, safe_serialization=True)
    # Any tokenizer whose ids fit the vocabulary: the prompts are token ids already.
    shutil.copy(os.path.join(ROOT, "tests", "fixtures", "hf", "llama", "tokenizer.json"), d)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 32000, (batch, tokens), generator=gen).tolist()
    with open(os.path.join(d, "prompts.json"), "w") as f:
        json.dump({"ids": ids}, f)
    print(f"wrote a random Llama of {params / 1e6:.1f}M parameters to {d}", file=sys.stderr)


def transformers_side(d, reps, threads):
    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="sdpa").eval()
    with open(os.path.join(d, "prompts.json")) as f:
        ids = torch.tensor(json.load(f)["ids"])
    b, t = ids.shape

    def run():
        with torch.inference_mode():
            out = model(ids, output_hidden_states=True, logits_to_keep=1)
            return out.hidden_states[-1].numpy().copy()

    run()
    start = time.perf_counter()
    for _ in range(reps):
        run()
    secs = time.perf_counter() - start
    return {"impl": "transformers", "tokens_per_s": round(reps * b * t / secs, 1), "batch": b, "tokens": t,
            "reps": reps, "threads": threads, "layers": model.config.num_hidden_layers + 1}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/hf-speed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--side", choices=["both", "transformers"], default="both")
    a = ap.parse_args()
    make(a.dir, a.batch, a.tokens)
    if a.side == "transformers":
        print(json.dumps(transformers_side(a.dir, a.reps, a.threads)))
        return
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    ours, theirs = [], []
    for r in range(a.rounds):
        out = subprocess.run([EXAMPLE, a.dir, str(a.reps)], env=env, check=True, capture_output=True, text=True)
        c = json.loads(out.stdout.strip().splitlines()[-1])
        out = subprocess.run([sys.executable, __file__, "--dir", a.dir, "--side", "transformers", "--reps",
                              str(a.reps), "--threads", str(a.threads)], env=env, check=True, capture_output=True,
                             text=True)
        t = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"round {r + 1}: clusterscope {c['tokens_per_s']} tokens/s, transformers {t['tokens_per_s']} tokens/s")
        ours.append(c["tokens_per_s"])
        theirs.append(t["tokens_per_s"])
    ratios = [c / t for c, t in zip(ours, theirs)]
    print(f"median clusterscope {statistics.median(ours):.1f} tokens/s, transformers {statistics.median(theirs):.1f}"
          f" tokens/s, median ratio clusterscope/transformers {statistics.median(ratios):.2f}x"
          f" ({a.batch}x{a.tokens} tokens, {a.threads} threads)")


if __name__ == "__main__":
    main()
