#!/usr/bin/env bash
# Interleaved speed comparison (A B A B ...) of candle and PyTorch on the issue-7 configuration:
# d_model 128, 4 layers, 4 heads, vocab 64, context 64, batch 32, AdamW, 2 threads.
# Usage: benches/compare_speed.sh [ROUNDS] (needs `cargo build --release` and `pip install torch`).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
args=(--d-model 128 --layers 4 --heads 4 --vocab 64 --ctx 64 --batch 32 --steps 20 --warmup 3 --threads 2)
candle=() torch=()
for i in $(seq 1 "$rounds"); do
  c=$(./target/release/clusterscope bench train "${args[@]}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["steps_per_s"])')
  t=$(python3 benches/torch_reference.py --bench "${args[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["steps_per_s"])')
  echo "round $i: candle $c steps/s, torch $t steps/s"
  candle+=("$c") torch+=("$t")
done
python3 - "${candle[@]}" -- "${torch[@]}" <<'PY'
import statistics as st, sys
a = sys.argv[1:]; i = a.index("--"); c = [float(x) for x in a[:i]]; t = [float(x) for x in a[i+1:]]
ratios = [x / y for x, y in zip(c, t)]
print(f"median candle {st.median(c):.2f} steps/s, torch {st.median(t):.2f} steps/s, median ratio candle/torch {st.median(ratios):.2f}x")
PY
