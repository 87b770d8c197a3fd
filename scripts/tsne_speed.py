#!/usr/bin/env python3
"""clusterscope's t-SNE against openTSNE on the same points and the same thread count.

    python3 scripts/tsne_speed.py [--threads 2] [--rounds 3] [--npy LAYER.npy ...]
        [--bin target/debug/examples/tsne_speed]

Points: 2,000 x 64 Gaussian blobs (10 clusters, made here with a fixed seed) and any .npy
given (e.g. `clusterscope export SESSION --layer 2 --out X` writes X/hidden_2.npy). Runs are
interleaved A B A B so drifting machine load hits both alike; prints each time, the medians
and the ratio openTSNE / clusterscope (above 1: clusterscope is faster), plus both layouts'
10-NN label purity on the blobs, so speed is not bought with a worse layout.

Same parameters on both sides: perplexity 30, 250 epochs of early exaggeration 12 then 500
more, Barnes-Hut theta 0.5, PCA initialisation, learning rate auto; openTSNE with
negative_gradient_method="bh" (its default below 10,000 points) and its default neighbours.
Build the Rust side first: `cargo build --example tsne_speed` (or --release for a release
binary; pass --bin).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def blobs(n=2000, d=64, k=10, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 10.0
    labels = np.arange(n) % k
    return (centres[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


def purity(layout, labels, k=10):
    d = ((layout[:, None, :] - layout[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :k]
    return float((labels[nn] == labels[:, None]).mean())


def run_open_tsne(x, threads):
    from openTSNE import TSNE

    t = time.perf_counter()
    emb = TSNE(
        perplexity=30,
        early_exaggeration_iter=250,
        early_exaggeration=12,
        n_iter=500,
        theta=0.5,
        negative_gradient_method="bh",
        initialization="pca",
        n_jobs=threads,
        random_state=0,
    ).fit(x)
    return time.perf_counter() - t, np.asarray(emb)


def run_ours(binary, path, threads, out):
    t = time.perf_counter()
    subprocess.run([binary, path, str(threads), out], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    return wall, np.load(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--npy", nargs="*", default=[])
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "debug/examples/tsne_speed"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    x, labels = blobs()
    sets = [("blobs 2000x64", os.path.join(tmp, "blobs.npy"), labels)]
    np.save(sets[0][1], x)
    sets += [(p, p, None) for p in args.npy]
    for name, path, lab in sets:
        data = np.load(path).astype(np.float32)
        ours, theirs = [], []
        for r in range(args.rounds):
            # A B A B ...: clusterscope first on even rounds, openTSNE first on odd ones.
            order = ["ours", "open"] if r % 2 == 0 else ["open", "ours"]
            for who in order:
                if who == "ours":
                    s, emb_ours = run_ours(args.bin, path, args.threads, os.path.join(tmp, "out.npy"))
                    ours.append(s)
                else:
                    s, emb_open = run_open_tsne(data, args.threads)
                    theirs.append(s)
        mo, mt = statistics.median(ours), statistics.median(theirs)
        print(f"{name} ({data.shape[0]}x{data.shape[1]}), {args.threads} threads")
        print(f"  clusterscope s: {' '.join(f'{v:.2f}' for v in ours)}  median {mo:.2f} (wall, process included)")
        print(f"  openTSNE     s: {' '.join(f'{v:.2f}' for v in theirs)}  median {mt:.2f}")
        print(f"  ratio openTSNE / clusterscope: {mt / mo:.2f}")
        if lab is not None:
            print(f"  10-NN purity: clusterscope {purity(emb_ours, lab):.3f}, openTSNE {purity(emb_open, lab):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
