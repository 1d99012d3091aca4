#!/usr/bin/env bash
# bench/gpu_check.sh — the one script to run on a lent GPU machine: builds with
# CUDA, lists the GPUs, checks every CUDA kernel against its CPU variant bit
# for bit, and times both. Prints a table; exits non-zero on any mismatch.
#   bench/gpu_check.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-gpu}
[ -x /usr/local/cuda/bin/nvcc ] || { echo "no nvcc at /usr/local/cuda/bin/nvcc" >&2; exit 1; }
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPMKLC_TESTS=ON >/dev/null
cmake --build "$build" --target pmklc unit_tests pmklc_toknet_gpu -j"$(nproc)"
"$build/pmklc" devices
# The *Cuda* tests compare against the CPU variants and skip without a GPU.
"$build/tests/unit_tests" --gtest_filter='*Cuda*:*Devices*:Pack2Bit.*:Tokens.*' --gtest_also_run_disabled_tests
# The token network (the DMs' kernels): B streams on the GPU against the CPU,
# bit for bit, with steps per second for both (64 streams, then 1024).
"$build/pmklc_toknet_gpu" 64 2000
"$build/pmklc_toknet_gpu" 1024 500
