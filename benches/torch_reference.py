#!/usr/bin/env python3
"""The clusterscope model in PyTorch: the reference for numerics and speed (same weights, same batches).

Same architecture as src/model (token + learned position embeddings, pre-LN blocks of causal
multi-head attention with one fused qkv projection and a tanh-GELU MLP, final LayerNorm, separate
LM head, LayerNorm eps 1e-5), same AdamW (decoupled decay on matrices only, bias-corrected),
same loss (next-token cross-entropy over every position of random sequences). Parameter names
match ours, so our safetensors load directly.

  # numerics: train both on the same batches from the same initial weights
  clusterscope bench train --steps 10 --warmup 0 --threads 2 --export /tmp/nx
  python3 benches/torch_reference.py --check /tmp/nx

  # speed: one JSON line like `clusterscope bench train --json`
  python3 benches/torch_reference.py --bench --steps 20 --warmup 3 --threads 2

  # either on a GPU (TF32 off, so the numbers compare with full-precision f32)
  python3 benches/torch_reference.py --bench --device cuda

PyTorch is a benchmark tool only (`pip install torch safetensors numpy`), never a dependency of
the app or of CI.
"""
import argparse, json, math, os, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, d_ff):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(d, 3 * d)
        self.attn.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = nn.Module()
        self.mlp.fc = nn.Linear(d, d_ff)
        self.mlp.proj = nn.Linear(d_ff, d)

    def forward(self, x):
        b, t, d = x.shape
        h, hd = self.heads, d // self.heads
        q, k, v = self.attn.qkv(self.ln1(x)).view(b, t, 3, h, hd).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp.proj(F.gelu(self.mlp.fc(self.ln2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, vocab, ctx, d, layers, heads, d_ff):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos_emb = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList([Block(d, heads, d_ff) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.head = nn.Linear(d, vocab)
        layers = max(layers, 1)
        for name, p in self.named_parameters():  # GPT-2 init, as src/model/init.rs
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif "ln" in name:
                nn.init.ones_(p)
            elif name.endswith("attn.proj.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers))
            else:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, tokens):
        t = tokens.shape[1]
        x = self.tok_emb(tokens) + self.pos_emb.weight[:t]
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))


def optimizer(model, lr, beta1, beta2, eps, wd):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}],
                             lr=lr, betas=(beta1, beta2), eps=eps)


def step(model, opt, seq):
    logits = model(seq[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), seq[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def check(d, device):
    from safetensors.torch import load_file
    meta = json.load(open(os.path.join(d, "candle.json")))
    tokens = torch.from_numpy(np.load(os.path.join(d, "tokens.npy"))).to(device)
    model = Gpt(meta["vocab"], meta["ctx"], meta["d_model"], meta["layers"], meta["heads"], meta["d_ff"])
    model.load_state_dict(load_file(os.path.join(d, "init.safetensors")), strict=True)
    model.to(device)
    opt = optimizer(model, meta["lr"], meta["beta1"], meta["beta2"], meta["eps"], meta["weight_decay"])
    worst_abs = worst_rel = 0.0
    print(f"{'step':>4} {'candle':>12} {'torch':>12} {'abs diff':>10} {'rel diff':>10}")
    for i, ours in enumerate(meta["losses"]):
        theirs = step(model, opt, tokens[i])
        a = abs(theirs - ours)
        r = a / abs(theirs)
        worst_abs, worst_rel = max(worst_abs, a), max(worst_rel, r)
        print(f"{i:>4} {ours:>12.7f} {theirs:>12.7f} {a:>10.2e} {r:>10.2e}")
    print(json.dumps({"steps": len(meta["losses"]), "max_abs_diff": worst_abs, "max_rel_diff": worst_rel}))


def bench(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = Gpt(a.vocab, a.ctx, a.d_model, a.layers, a.heads, 4 * a.d_model).to(a.device)
    opt = optimizer(model, 1e-3, 0.9, 0.999, 1e-8, 0.01)
    g = torch.Generator().manual_seed(a.seed)
    for i in range(a.warmup + a.steps):
        if i == a.warmup:
            t0 = time.perf_counter()
        # step() reads the loss back (.item()), which waits for the GPU: each step is timed whole.
        loss = step(model, opt, torch.randint(0, a.vocab, (a.batch, a.ctx + 1), generator=g).to(a.device))
    sps = a.steps / (time.perf_counter() - t0)
    print(json.dumps({"impl": "torch", "torch": torch.__version__, "device": a.device, "steps_per_s": sps,
                      "tokens_per_s": sps * a.batch * a.ctx, "threads": a.threads, "final_loss": loss}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--check", metavar="DIR")
    p.add_argument("--bench", action="store_true")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    for name, default in [("d-model", 128), ("layers", 4), ("heads", 4), ("vocab", 64), ("ctx", 64), ("batch", 32),
                          ("steps", 20), ("warmup", 3), ("threads", 2), ("seed", 0)]:
        p.add_argument(f"--{name}", type=int, default=default)
    a = p.parse_args()
    # Full f32 on the GPU, as clusterscope computes: TF32 would differ by ~1e-3.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if a.check:
        check(a.check, a.device)
    else:
        bench(a)
