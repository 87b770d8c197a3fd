#!/usr/bin/env bash
# Builds clusterscope with candle's CUDA backend on a machine with no CUDA installed (and no
# GPU): the CUDA 13.0 toolchain and libraries come from NVIDIA's PyPI wheels, installed once into
# a cache folder.
#
#   scripts/cuda-build.sh check    cargo clippy --features cuda (compiles every CUDA kernel, links nothing)
#   scripts/cuda-build.sh build    cargo build --release --features cuda: target/cuda/release/clusterscope
#   scripts/cuda-build.sh env      print the environment the build uses (eval it to run cargo yourself)
#
# Every version is pinned to CUDA 13.0 because they must agree with each other and with the
# GPU's driver (580, CUDA 13.0, on the machines we are lent): candle 0.11's cudarc knows toolkits
# up to 13.0's line it was released with, and an unpinned nvidia-nvvm resolves to a newer cicc
# whose PTX the 13.0 ptxas rejects.
#
# Linking: candle-core turns on cudarc's `dynamic-linking`, so the binary is linked against
# libcuda, libcudart, libcublas, libcublasLt, libcurand and libnvrtc. The wheels provide all but
# libcuda, which is the GPU driver itself; the build links against a stub with the driver's
# soname (libcuda.so.1) made here from the driver functions cudarc binds, and at run time the
# real driver is found instead. The CUDA libraries are found at run time through
# LD_LIBRARY_PATH (this script prints it); the CPU build is unaffected by any of this.
#
# Environment: CLUSTERSCOPE_CUDA_CACHE (default ~/.cache/clusterscope-cuda) holds the wheels, the
# link folder and the target directory, so a second run reuses the compiled kernels;
# CUDA_COMPUTE_CAP (default 90, the H200) is the GPU architecture the kernels are compiled for.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-build}
cache=${CLUSTERSCOPE_CUDA_CACHE:-$HOME/.cache/clusterscope-cuda}
toolchain=(
  "nvidia-cuda-nvcc==13.0.88"
  "nvidia-cuda-runtime==13.0.96"
  "nvidia-cuda-crt==13.0.88"
  "nvidia-cuda-cccl==13.0.85"
  "nvidia-nvvm==13.0.88"
)
# Only a linked binary needs these (about 600 MB installed).
libraries=(
  "nvidia-cublas==13.0.2.14"
  "nvidia-curand==10.4.0.35"
  "nvidia-cuda-nvrtc==13.0.88"
)

# Installs wheels into $1 unless its marker says they are there; atomic, so an interrupted
# install is redone rather than half used.
install() {
  local dir=$1
  shift
  if [ -f "$dir/.complete" ]; then return; fi
  echo "installing $* into $dir" >&2
  rm -rf "$dir.tmp"
  python3 -m pip install --quiet --no-deps --disable-pip-version-check --target "$dir.tmp" "$@"
  touch "$dir.tmp/.complete"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
}

install "$cache/toolchain-13.0" "${toolchain[@]}"
cu=$cache/toolchain-13.0/nvidia/cu13
# nvcc looks for cicc and libdevice beside itself (nvvm/), where the nvvm wheel puts them.
export PATH="$cu/bin:$PATH"
export CUDA_ROOT="$cu" CUDA_PATH="$cu" CUDA_HOME="$cu" CUDA_TOOLKIT_ROOT_DIR="$cu"
# candle-kernels asks nvidia-smi for the architecture otherwise, and there is no GPU here.
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"

case $mode in
  check)
    cargo clippy --release --features cuda --all-targets -- -D warnings
    ;;
  build | env)
    install "$cache/libraries-13.0" "${libraries[@]}"
    libs=$cache/libraries-13.0/nvidia/cu13/lib
    link=$cache/link
    mkdir -p "$link"
    # The linker wants unversioned names; the wheels ship only the versioned ones.
    for name in cudart:"$cu/lib" cublas:"$libs" cublasLt:"$libs" curand:"$libs" nvrtc:"$libs"; do
      lib=${name%%:*}
      dir=${name#*:}
      so=$(ls "$dir"/lib"$lib".so.* | head -n 1)
      ln -sf "$so" "$link/lib$lib.so"
    done
    if [ ! -f "$link/libcuda.so" ]; then
      # Every driver function cudarc can call, as an empty function, under the driver's soname.
      cudarc=$(cargo metadata --format-version 1 --features cuda |
        python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cudarc").rsplit("/", 1)[0])')
      grep -rhoE '^\s+fn cu[A-Za-z0-9_]+' "$cudarc/src/driver/sys" | sed 's/.*fn //' | sort -u |
        sed 's/.*/void &(void) {}/' > "$link/libcuda-stub.c"
      [ -s "$link/libcuda-stub.c" ] || { echo "no driver functions found in $cudarc" >&2; exit 1; }
      cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$link/libcuda.so" "$link/libcuda-stub.c"
    fi
    export RUSTFLAGS="${RUSTFLAGS:-} -L native=$link"
    runtime="$cu/lib:$libs"
    if [ "$mode" = env ]; then
      printf 'export PATH=%q CUDA_ROOT=%q CUDA_COMPUTE_CAP=%q CARGO_TARGET_DIR=%q RUSTFLAGS=%q\n' \
        "$PATH" "$CUDA_ROOT" "$CUDA_COMPUTE_CAP" "$CARGO_TARGET_DIR" "$RUSTFLAGS"
      printf '# at run time:\nexport LD_LIBRARY_PATH=%q\n' "$runtime"
      exit 0
    fi
    cargo build --release --features cuda
    out=target/cuda/release
    mkdir -p "$out"
    cp "$CARGO_TARGET_DIR/release/clusterscope" "$out/clusterscope"
    strip "$out/clusterscope"
    echo "built $out/clusterscope; run it with LD_LIBRARY_PATH=$runtime" >&2
    ;;
  *)
    echo "usage: scripts/cuda-build.sh check|build|env" >&2
    exit 2
    ;;
esac
