#!/usr/bin/env python3
"""scikit-learn doing the same per-checkpoint work as `analyze_checkpoint`.

Data: the exact points `cargo bench --bench analysis` times. That bench
writes them before measuring, as .npy files under target/analysis-bench/
(relative to the crate root):

    seen.npy           float32 (layers, n_seen, d)
    unseen.npy         float32 (layers, n_unseen, d)
    seen_labels.npy    int64   (n_seen,)
    unseen_labels.npy  int64   (n_unseen,)
    restarts.txt       k-means restarts used by the Rust bench

So run the Rust bench first (any filter that runs it works, e.g.
`cargo bench --bench analysis -- analyze_checkpoint`), then

    pip install numpy scipy scikit-learn threadpoolctl
    python3 benches/sklearn_analysis.py [--reps 20] [--data DIR]

Per layer it runs PCA(2) fitted on the seen points and applied to seen and
unseen points, KMeans(n_clusters=K, n_init=restarts, init="k-means++")
on the seen points, predict on the unseen points, ARI and AMI on both sets,
Hungarian-matched F1 (scipy) and nearest-task-centroid accuracy, which is
what the Rust side computes. It prints the median time per checkpoint and
per piece, once with scikit-learn's default threading and once limited to a
single thread (the Rust bench reports both 1 and 2 threads).
"""
import argparse
import os
import statistics
import time

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score
from threadpoolctl import threadpool_limits

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "target", "analysis-bench")


def hungarian_f1(t, p):
    classes, ti = np.unique(t, return_inverse=True)
    clusters, pi = np.unique(p, return_inverse=True)
    c = np.zeros((len(classes), len(clusters)), dtype=np.int64)
    np.add.at(c, (ti, pi), 1)
    rows, cols = linear_sum_assignment(c, maximize=True)
    a, b = c.sum(axis=1), c.sum(axis=0)
    return sum(2.0 * c[r, k] / (a[r] + b[k]) for r, k in zip(rows, cols) if c[r, k] > 0) / len(classes)


def analyze_layer(seen, unseen, ys, yu, k, restarts, seed, timings):
    t0 = time.perf_counter()
    pca = PCA(n_components=2).fit(seen)
    pca.transform(seen)
    pca.transform(unseen)
    t1 = time.perf_counter()
    km = KMeans(n_clusters=k, n_init=restarts, init="k-means++", random_state=seed).fit(seen)
    pu = km.predict(unseen)
    t2 = time.perf_counter()
    for truth, pred in ((ys, km.labels_), (yu, pu)):
        adjusted_rand_score(truth, pred)
        adjusted_mutual_info_score(truth, pred)
        hungarian_f1(truth, pred)
    cents = np.stack([seen[ys == t].mean(axis=0) for t in range(k)])
    d2 = ((unseen[:, None, :] - cents[None, :, :]) ** 2).sum(axis=2)
    float((d2.argmin(axis=1) == yu).mean())
    t3 = time.perf_counter()
    timings["pca"] += t1 - t0
    timings["kmeans"] += t2 - t1
    timings["scores"] += t3 - t2


def run(data, reps):
    seen = np.load(os.path.join(data, "seen.npy"))
    unseen = np.load(os.path.join(data, "unseen.npy"))
    ys = np.load(os.path.join(data, "seen_labels.npy"))
    yu = np.load(os.path.join(data, "unseen_labels.npy"))
    with open(os.path.join(data, "restarts.txt")) as f:
        restarts = int(f.read().strip())
    k = int(ys.max()) + 1
    layers, n_seen, d = seen.shape
    print(f"data: {layers} layers, {n_seen} seen + {unseen.shape[1]} unseen points, d={d}, k={k}, "
          f"n_init={restarts}")
    for label, threads in (("default threads", None), ("1 thread", 1)):
        with threadpool_limits(limits=threads):
            totals, parts = [], {"pca": [], "kmeans": [], "scores": []}
            for rep in range(reps + 2):
                timings = {"pca": 0.0, "kmeans": 0.0, "scores": 0.0}
                t0 = time.perf_counter()
                for layer in range(layers):
                    analyze_layer(seen[layer], unseen[layer], ys, yu, k, restarts, rep, timings)
                total = time.perf_counter() - t0
                if rep >= 2:  # the first two are warm-up
                    totals.append(total)
                    for key, v in timings.items():
                        parts[key].append(v)
            med = statistics.median(totals) * 1e3
            pieces = ", ".join(f"{key} {statistics.median(v) * 1e3:.1f} ms" for key, v in parts.items())
            print(f"sklearn ({label}): {med:.1f} ms per checkpoint (median of {reps}); "
                  f"per checkpoint: {pieces}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    run(args.data, args.reps)


if __name__ == "__main__":
    main()
