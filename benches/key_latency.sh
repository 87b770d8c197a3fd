#!/usr/bin/env bash
# Key-to-frame latency of the app while it trains the default experiment on both cores: tmux
# runs the binary, types N keys (arrows, hjkl, a, u, c, m) 50 ms apart, quits, and the app's own
# --latency-log gives the milliseconds from reading each key to the frame that shows it.
# usage: benches/key_latency.sh [BIN] [N]      (needs tmux)
set -euo pipefail
BIN=${1:-target/release/clusterscope}
N=${2:-200}
dir=$(mktemp -d)
log="$dir/latency.log"
name="cslat$$"
tmux new-session -d -s "$name" -x 160 -y 48 "$BIN --threads 2 --latency-log $log train --out $dir/s"
sleep 4
keys=(Left Right Up Down h l j k a a u u c c m m)
for i in $(seq 1 "$N"); do
    tmux send-keys -t "$name" "${keys[$((i % ${#keys[@]}))]}"
    sleep 0.05
done
tmux send-keys -t "$name" q
for _ in $(seq 1 120); do
    tmux has-session -t "$name" 2>/dev/null || break
    sleep 0.5
done
tmux kill-session -t "$name" 2>/dev/null || true
python3 - "$log" <<'PY'
import sys, statistics
v = sorted(float(l) for l in open(sys.argv[1]) if not l.startswith("probe"))
p = lambda q: v[min(len(v) - 1, int(q * len(v)))]
print(f"{len(v)} keys: median {statistics.median(v):.2f} ms, p99 {p(0.99):.2f} ms, max {v[-1]:.2f} ms")
PY
rm -rf "$dir"
