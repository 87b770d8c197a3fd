"""Writes tests/fixtures/hf/<name>/generate.json: what transformers' greedy `generate` continues a
few prompts with, for tests/pretrained_probe.rs to check the pretrained prober's continuation
against. It reads the committed fixture files (config.json, model.safetensors, tokenizer.json)
and changes none of them; the ids come from tokenizer.json itself, which scripts/hf_fixtures.py
checked equal to transformers' tokenizer's.

    python3 -m venv /tmp/hf-venv
    /tmp/hf-venv/bin/pip install torch transformers safetensors tokenizers
    /tmp/hf-venv/bin/python scripts/hf_generate_reference.py

The Rust tests need none of this: the references are committed.
"""

import json
import os

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "hf")
NAMES = ["llama", "gpt2", "qwen2", "mistral", "gpt_neox"]
# What the prober asks for: a short continuation.
MAX_NEW_TOKENS = 8
PROMPTS = [
    "Translate to French: the cat",
    "Question: what is 2 + 3? Answer:",
    "hello world, hello again!",
    "A lazy fox",
]


def main():
    torch.manual_seed(0)
    for name in NAMES:
        d = os.path.join(ROOT, name)
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        eos = model.generation_config.eos_token_id
        out = {"max_new_tokens": MAX_NEW_TOKENS, "eos_token_id": eos, "prompts": PROMPTS, "ids": [], "generated": []}
        for p in PROMPTS:
            ids = tok.encode(p).ids
            x = torch.tensor([ids])
            with torch.no_grad():
                y = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False,
                                   max_new_tokens=MAX_NEW_TOKENS, pad_token_id=eos if eos is not None else 0)
            out["ids"].append(ids)
            out["generated"].append(y[0, len(ids):].tolist())
        with open(os.path.join(d, "generate.json"), "w") as f:
            json.dump(out, f, separators=(",", ":"))
            f.write("\n")
        print(name, out["generated"])


if __name__ == "__main__":
    main()
