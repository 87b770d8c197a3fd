#!/usr/bin/env bash
# The device check, run on a lent GPU machine as one command (about 3-5 minutes on an H200):
#   scripts/gpu-check.sh            (OUT: where the results go; default /tmp/gpu-check)
# It needs the CUDA binary built here by `scripts/cuda-build.sh build` (carried as target/cuda)
# and, on the GPU machine, PyTorch with its CUDA libraries (whose cuBLAS and runtime the binary
# loads too). It prints the GPU; times `bench train --device cuda` against PyTorch on the same GPU,
# interleaved (A B A B), for the standard configuration and a larger one; checks 10 steps of
# losses from the same initial weights against the CPU run (1e-4 relative) and against PyTorch on
# the GPU; trains the default experiment headless on the GPU; and opens that session on the CPU
# (show, probe). Everything lands in $OUT/gpu-check.json; the logs beside it.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
bin=${CLUSTERSCOPE_BIN:-target/cuda/release/clusterscope}
# The CUDA libraries of the pip packages (PyTorch's), for the binary's cuBLAS, cuRAND, NVRTC, runtime.
libs=$(python3 - <<'PY'
import glob, os, site
dirs = sorted({os.path.dirname(p) for sp in site.getsitepackages()
               for p in glob.glob(os.path.join(sp, "nvidia", "**", "lib*.so*"), recursive=True)})
print(":".join(dirs))
PY
)
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
log() { echo "== $*" | tee -a "$out/check.log" >&2; }

log "GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
ldd "$bin" > "$out/ldd.txt" 2>&1
standard=(--d-model 128 --layers 4 --heads 4 --vocab 64 --ctx 64 --batch 32)
large=(--d-model 512 --layers 8 --heads 8 --vocab 64 --ctx 128 --batch 128)
timing=(--steps 50 --warmup 5)

# One configuration, two rounds of A B: clusterscope then PyTorch, both on the GPU.
speed() {
  local name=$1
  shift
  for round in 1 2; do
    log "speed $name round $round: clusterscope"
    "$bin" bench train --device cuda "$@" "${timing[@]}" --json > "$out/speed-$name-cs-$round.json" 2>> "$out/check.log"
    log "speed $name round $round: torch"
    python3 benches/torch_reference.py --bench --device cuda "$@" "${timing[@]}" > "$out/speed-$name-torch-$round.json" 2>> "$out/check.log"
  done
}
speed standard "${standard[@]}"
speed large "${large[@]}"

log "losses: 10 steps from the same weights on the GPU and on the CPU"
"$bin" bench train --device cuda "${standard[@]}" --steps 10 --warmup 0 --export "$out/nx-cuda" --json > "$out/nx-cuda.json" 2>> "$out/check.log"
"$bin" bench train --device cpu "${standard[@]}" --steps 10 --warmup 0 --export "$out/nx-cpu" --json > "$out/nx-cpu.json" 2>> "$out/check.log"
python3 benches/torch_reference.py --check "$out/nx-cuda" --device cuda > "$out/nx-torch.txt" 2>> "$out/check.log"

log "the default experiment, headless, on the GPU"
start=$(date +%s.%N)
"$bin" train --headless --device cuda --json --out "$out/session" > "$out/train.json" 2> "$out/train.log"
train_rc=$?
train_s=$(python3 -c "import time; print(round(time.time() - $start, 2))")
log "the GPU-trained session on the CPU"
"$bin" show "$out/session" --json > "$out/show.json" 2>> "$out/check.log"
show_rc=$?
"$bin" probe "$out/session" "please invert the symbol" --input A --device cpu --json > "$out/probe.json" 2>> "$out/check.log"
probe_rc=$?

OUT_DIR=$out TRAIN_RC=$train_rc TRAIN_S=$train_s SHOW_RC=$show_rc PROBE_RC=$probe_rc python3 - <<'PY' | tee "$out/gpu-check.json"
import json, os, statistics
out = os.environ["OUT_DIR"]
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except Exception as e:
        return {"error": f"{name}: {e}"}
def speed(name):
    cs = [load(f"speed-{name}-cs-{r}.json") for r in (1, 2)]
    th = [load(f"speed-{name}-torch-{r}.json") for r in (1, 2)]
    try:
        ratios = [c["steps_per_s"] / t["steps_per_s"] for c, t in zip(cs, th)]
        return {"clusterscope_steps_per_s": [c["steps_per_s"] for c in cs],
                "torch_steps_per_s": [t["steps_per_s"] for t in th],
                "ratio_clusterscope_over_torch": ratios, "median_ratio": statistics.median(ratios)}
    except Exception as e:
        return {"error": str(e), "clusterscope": cs, "torch": th}
def losses():
    try:
        gpu = json.load(open(os.path.join(out, "nx-cuda", "candle.json")))["losses"]
        cpu = json.load(open(os.path.join(out, "nx-cpu", "candle.json")))["losses"]
        rel = max(abs(g - c) / abs(c) for g, c in zip(gpu, cpu))
        return {"gpu": gpu, "cpu": cpu, "max_rel_diff": rel, "within_1e-4": rel <= 1e-4,
                "vs_torch_on_gpu": load("nx-torch.txt")}
    except Exception as e:
        return {"error": str(e)}
print(json.dumps({
    "gpu": open(os.path.join(out, "gpu.txt")).read().strip() if os.path.exists(os.path.join(out, "gpu.txt")) else None,
    "speed": {"standard": speed("standard"), "large": speed("large")},
    "losses_gpu_vs_cpu": losses(),
    "default_experiment": {"exit": int(os.environ["TRAIN_RC"]), "wall_s": float(os.environ["TRAIN_S"]),
                           "summary": load("train.json")},
    "cpu_opens_gpu_session": {"show_exit": int(os.environ["SHOW_RC"]), "probe_exit": int(os.environ["PROBE_RC"]),
                              "probe": load("probe.json") if os.environ["PROBE_RC"] == "0" else None},
}, indent=1))
PY
