"""Builds the pretrained-model fixtures that tests/pretrained.rs checks clusterscope against.

For each supported architecture this writes, under tests/fixtures/hf/<name>/, a tiny randomly
initialised (seeded) transformers model as a Hugging Face checkout would hold it -- config.json,
model.safetensors, tokenizer.json -- plus reference.json: for a few prompts, the ids that
transformers' tokenizer gives, every layer of `output_hidden_states` (f32), and the logits at the
last position. Two variants more: llama-sharded (the llama weights in two shards with an index)
and llama-bf16 (weights stored in bf16; its reference runs the bf16-rounded weights in f32).

Regenerate (any recent torch + transformers; CPU is enough, it takes seconds):

    python3 -m venv /tmp/hf-venv
    /tmp/hf-venv/bin/pip install torch transformers safetensors tokenizers
    /tmp/hf-venv/bin/python scripts/hf_fixtures.py

The Rust tests need none of this: the fixtures are committed.
"""

import json
import os
import shutil

import torch
from safetensors.torch import load_file, save_file
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "hf")

CORPUS = [
    "the cat sat on the mat and the dog sat on the log",
    "a quick brown fox jumps over the lazy dog",
    "hello world, hello again! numbers: 12 345 6789",
    "Transformers learn to follow instructions; clusters form by task.",
    "copy reverse sort count: abc cba abc 3",
]

PROMPTS = [
    "the cat sat on the mat",
    "hello world, hello again!",
    "A lazy fox: 345 clusters",
]


# Qwen2's own split, which its tokenizer.json carries and transformers' Qwen2 tokenizer imposes.
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def byte_level_tokenizer(vocab_size, qwen2=False):
    """GPT-2 style: byte-level BPE, no special tokens added to an encoding; with `qwen2`, split
    first by Qwen2's pattern (one digit a piece)."""
    tok = Tokenizer(models.BPE())
    if qwen2:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok, {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}


def llama_tokenizer(vocab_size):
    """Llama style: metaspace BPE whose post-processor puts <s> first."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"])
    tok.train_from_iterator(CORPUS, trainer)
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
    )
    return tok, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


def randomise(model, seed):
    """Weights far from transformers' init (std 0.02, zero biases, unit norms), so that every
    tensor, bias and norm gain included, changes the hidden states measurably."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "norm" in name or ".ln_" in name or name.endswith("ln_f.weight"):
                p.copy_(1.0 + 0.2 * noise if name.endswith("weight") else 0.2 * noise)
            else:
                p.copy_(0.3 * noise)


def short(values):
    """Seven significant digits: far finer than the tests' 1e-4, and a third smaller."""
    return [float(f"{v:.7g}") for v in values]


def reference(model, hf_tok):
    out = {"prompts": PROMPTS, "ids": [], "hidden": [], "last_logits": []}
    for prompt in PROMPTS:
        ids = hf_tok(prompt)["input_ids"]
        with torch.no_grad():
            res = model(torch.tensor([ids]), output_hidden_states=True)
        out["ids"].append(ids)
        out["hidden"].append([[short(row) for row in h[0].float().tolist()] for h in res.hidden_states])
        out["last_logits"].append(short(res.logits[0, -1].float().tolist()))
    return out


def write(name, model, tok, special):
    d = os.path.join(ROOT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **special)
    fast.save_pretrained(d)
    model.save_pretrained(d, safe_serialization=True)
    hf_tok = AutoTokenizer.from_pretrained(d)
    raw = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    for p in PROMPTS:
        if hf_tok(p)["input_ids"] != raw.encode(p).ids:
            raise SystemExit(f"{name}: transformers' ids differ from tokenizer.json's own for {p!r}")
    # The reference reads the checkpoint back as transformers would, in f32: bf16 weights are
    # widened on load, and buffers such as rotary inv_freq are computed afresh, not rounded.
    saved = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    ref = reference(saved, hf_tok)
    keep = {"config.json", "tokenizer.json", "model.safetensors"}
    for f in os.listdir(d):
        if f not in keep:
            os.remove(os.path.join(d, f))
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
    return d


def build(cls, config, seed):
    torch.manual_seed(seed)
    config._attn_implementation = "eager"
    model = cls(config).eval()
    randomise(model, seed)
    return model


def main():
    os.makedirs(ROOT, exist_ok=True)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)

    tok, special = llama_tokenizer(150)
    v = tok.get_vocab_size() + 6  # a padded embedding table, as real checkpoints have
    llama_scaling = {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64,
    }
    cfg = LlamaConfig(vocab_size=v, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5,
                      rope_theta=10000.0, rope_scaling=llama_scaling, tie_word_embeddings=False,
                      bos_token_id=1, eos_token_id=2, **small)
    llama = build(LlamaForCausalLM, cfg, 1)
    llama_dir = write("llama", llama, tok, special)

    cfg = MistralConfig(vocab_size=v, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5,
                        rope_theta=1000.0, sliding_window=4, tie_word_embeddings=False, **small)
    write("mistral", build(MistralForCausalLM, cfg, 2), tok, special)

    qtok, qspecial = byte_level_tokenizer(300, qwen2=True)
    cfg = Qwen2Config(vocab_size=qtok.get_vocab_size() + 4, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6,
                      rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False, **small)
    write("qwen2", build(Qwen2ForCausalLM, cfg, 3), qtok, qspecial)

    btok, bspecial = byte_level_tokenizer(300)
    bv = btok.get_vocab_size()

    cfg = GPT2Config(vocab_size=bv, n_positions=64, n_embd=32, n_layer=2, n_head=4, layer_norm_epsilon=1e-5,
                     bos_token_id=0, eos_token_id=0)
    write("gpt2", build(GPT2LMHeadModel, cfg, 4), btok, bspecial)

    cfg = GPTNeoXConfig(vocab_size=bv, max_position_embeddings=256, rotary_pct=0.25, rotary_emb_base=10000,
                        use_parallel_residual=True, layer_norm_eps=1e-5, tie_word_embeddings=False,
                        hidden_act="gelu", bos_token_id=0, eos_token_id=0, **small)
    write("gpt_neox", build(GPTNeoXForCausalLM, cfg, 5), btok, bspecial)

    cfg = GPTNeoXConfig(vocab_size=bv, max_position_embeddings=256, rotary_pct=0.5, rotary_emb_base=10000,
                        use_parallel_residual=False, layer_norm_eps=1e-5, tie_word_embeddings=False,
                        hidden_act="gelu", bos_token_id=0, eos_token_id=0, **small)
    write("gpt_neox-serial", build(GPTNeoXForCausalLM, cfg, 6), btok, bspecial)

    # The llama weights again, in two shards named by an index.
    d = os.path.join(ROOT, "llama-sharded")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(llama_dir, d)
    weights = load_file(os.path.join(d, "model.safetensors"))
    os.remove(os.path.join(d, "model.safetensors"))
    names = sorted(weights)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map, total = {}, 0
    for i, half in enumerate(halves):
        shard = f"model-{i + 1:05d}-of-00002.safetensors"
        save_file({n: weights[n] for n in half}, os.path.join(d, shard), metadata={"format": "pt"})
        for n in half:
            weight_map[n] = shard
            total += weights[n].numel() * weights[n].element_size()
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

    # The llama weights stored in bf16; the reference is the bf16-rounded model run in f32.
    write("llama-bf16", llama.to(torch.bfloat16), tok, special)

    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(ROOT) for f in fs)
    print(f"fixtures written under {ROOT}: {total} bytes")


if __name__ == "__main__":
    main()
