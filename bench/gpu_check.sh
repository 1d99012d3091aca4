#!/usr/bin/env bash
# bench/gpu_check.sh — the one check to run on a lent GPU machine (issue #18).
# The device machine has CUDA but not the Debian packages this tree builds
# with, and its time is short, so the binaries and the data are made here
# and carried:
#
#   bench/gpu_check.sh prepare [BUILD_DIR] [CORPUS_DIR]    (here, no GPU needed)
#     builds pmklc, unit_tests, pmklc_cm_gpu, pmklc_neural_gpu and
#     pmklc_toknet_gpu with the
#     CUDA kernels (sm_80, sm_90), copies them stripped into .gpu/bin with
#     the shared libraries they need beyond libc/libstdc++ (.gpu/lib), and
#     packs the genomes as `-p fast` containers (.gpu/data: E. coli 536 and
#     16 MiB of human chrX at base 32 Mi, about 5 MB). .gpu is git-ignored;
#     the device tool carries it:
#   run(command="bench/gpu_check.sh run", carry=[".gpu"], timeout_s=540)
#
#   bench/gpu_check.sh run                                  (there)
#     the *Cuda* tests (GPU against CPU bit for bit), then the streams of
#     balanced and max on the GPU against the CPU (pmklc_cm_gpu: 256 and
#     1024 streams of 1 MiB; bytes equal, cross decoding, MB/s), then
#     `pmklc compress --device cuda` against `--device cpu` on each genome
#     (balanced, and max with --independent-blocks; the same container
#     bytes, decoded both ways), then neural: its batch driver
#     (pmklc_neural_gpu: 256 sub-blocks of 128 Ki bases in chains of 8,
#     GPU against CPU slices) and `compress -p neural -B 131072` of E. coli
#     (each step under `timeout`, since one GPU thread codes one sub-block),
#     then the token network's kernels. Prints a table last; exits non-zero
#     on any mismatch. The full log goes to $OUT/gpu_check.log when $OUT is set.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
g=$root/.gpu
mode=${1:-run}

if [ "$mode" = prepare ]; then
  build=${2:-$root/build}
  corpus=${3:-/tmp/pmklc-bench-corpus}
  [ -x /usr/local/cuda/bin/nvcc ] || { echo "no nvcc at /usr/local/cuda/bin/nvcc" >&2; exit 1; }
  [ -f "$corpus/ecoli_536.fa" ] || "$root/../shared/data/corpus" "$corpus" eval train >/dev/null
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target pmklc unit_tests pmklc_cm_gpu pmklc_neural_gpu pmklc_toknet_gpu -j"$(nproc)"
  [ -f "$build/CMakeFiles/pmklc_kernels.dir/kernels/cuda/cm_slim.cu.o" ] ||
    { echo "the build has no CUDA kernels" >&2; exit 1; }
  rm -rf "$g"
  mkdir -p "$g/bin" "$g/lib" "$g/data"
  grep -qx '/.gpu/' "$root/.git/info/exclude" 2>/dev/null || echo '/.gpu/' >> "$root/.git/info/exclude"
  for b in "$build/pmklc" "$build/tests/unit_tests" "$build/pmklc_cm_gpu" "$build/pmklc_neural_gpu" "$build/pmklc_toknet_gpu"; do
    strip --strip-all -o "$g/bin/$(basename "$b")" "$b"
    ldd "$b" | awk '$3 ~ /^\// {print $3}' | while read -r l; do
      case $(basename "$l") in
        libc.so*|libm.so*|libgcc_s.so*|libstdc++.so*|ld-linux*|libpthread.so*|libdl.so*|librt.so*|libcuda.so*) ;;
        *) cp -L "$l" "$g/lib/" ;;
      esac
    done
  done
  # The genomes, as fast containers (2 bits a base).
  "$build/pmklc" compress -p fast -f -o "$g/data/ecoli_536.fa.pmklc" "$corpus/ecoli_536.fa"
  python3 - "$corpus/hsap_chrx70m.fa" "$g/data/hsap16.fa" <<'EOF'
import sys
seq = "".join(l.strip() for l in open(sys.argv[1]) if not l.startswith(">"))
piece = seq[32 << 20:(32 << 20) + (16 << 20)]
with open(sys.argv[2], "w") as f:
    f.write(">hsap_chrx70m:33554432-50331648\n")
    for i in range(0, len(piece), 60):
        f.write(piece[i:i + 60] + "\n")
EOF
  "$build/pmklc" compress -p fast -f -o "$g/data/hsap16.fa.pmklc" "$g/data/hsap16.fa"
  rm -f "$g/data/hsap16.fa"
  du -sh "$g" "$g"/*
  echo "prepared: run(command=\"bench/gpu_check.sh run\", carry=[\".gpu\"], timeout_s=540)"
  exit 0
fi

[ "$mode" = run ] || { echo "usage: bench/gpu_check.sh prepare [BUILD_DIR] [CORPUS_DIR] | run" >&2; exit 2; }
[ -x "$g/bin/pmklc" ] || { echo "no $g/bin: run 'bench/gpu_check.sh prepare' first and carry .gpu" >&2; exit 2; }
export LD_LIBRARY_PATH=$g/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
log=${OUT:-/tmp}/gpu_check.log
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$g/bin
fail=0
table=()
exec > >(tee "$log") 2>&1
{
  "$bin/pmklc" devices
  nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv 2>/dev/null || true
  # GPU against CPU, bit for bit (each skips without a GPU: a skip here is a failure).
  "$bin/unit_tests" --gtest_filter='*Cuda*:CmBatch.*:NeuralBatch.*:Devices.*:Pack2Bit.*:NucleotideCm.Slim*' > "$work/unit" 2>&1 ||
    fail=1
  cat "$work/unit"
  grep -q '\[  SKIPPED \]' "$work/unit" && { echo "FAIL: a CUDA test skipped on the GPU machine"; fail=1; }
  grep -q '\[  FAILED  \]' "$work/unit" && fail=1
  for f in "$g"/data/*.pmklc; do
    n=$(basename "$f" .pmklc)
    "$bin/pmklc" decompress -c "$f" > "$work/$n"
  done
  # The batch driver: balanced at 256 and 1024 streams of 1 MiB (about 46
  # MiB of GPU memory each), max at 128 and 512 (about 75 MiB each; its CPU
  # rows take most of the time).
  for run in "balanced 256" "balanced 1024" "max 128" "max 512"; do
    set -- $run
    "$bin/pmklc_cm_gpu" -p "$1" -n "$2" -b 1048576 "$work"/*.fa > "$work/cm$1$2" 2>&1 || fail=1
    cat "$work/cm$1$2"
    table+=("$(sed -n "s/^| \([0-9]\)/| $1 \1/p" "$work/cm$1$2" || true)")
    [ -n "${table[-1]}" ] || table[-1]="| $1 $2 | failed |"
  done
  # The product: compress on the GPU and on the CPU, the same bytes (max with
  # --independent-blocks: its default primes each block with the ones before,
  # which runs on the CPU).
  for prof in balanced "max --independent-blocks"; do
  for fa in "$work"/*.fa; do
    n=$(basename "$fa")
    sz=$(stat -c %s "$fa")
    t0=$(date +%s.%N)
    # (-B 1 MiB on both: what compress uses on a GPU without -B)
    "$bin/pmklc" compress -v -p $prof -B 1048576 --device cuda -j 64 -c "$fa" > "$work/$n.gpu" 2> "$work/$n.gpu.err" || fail=1
    t1=$(date +%s.%N)
    "$bin/pmklc" compress -p $prof -B 1048576 --device cpu -j "$(nproc)" -c "$fa" > "$work/$n.cpu" || fail=1
    t2=$(date +%s.%N)
    cat "$work/$n.gpu.err"
    same=yes
    cmp -s "$work/$n.gpu" "$work/$n.cpu" || { same=NO; fail=1; }
    "$bin/pmklc" decompress --device cpu -c "$work/$n.gpu" | cmp -s - "$fa" || { same="$same, gpu->cpu WRONG"; fail=1; }
    "$bin/pmklc" decompress --device cuda -j 64 -c "$work/$n.cpu" | cmp -s - "$fa" || { same="$same, cpu->gpu WRONG"; fail=1; }
    table+=("$(awk -v n="$n" -v s="$sz" -v a="$t0" -v b="$t1" -v c="$t2" -v same="$same" \
      -v p="$prof" 'BEGIN { printf "| compress -p %s %s | %.1f MB | gpu %.2f MB/s | cpu all cores %.2f MB/s | bytes equal, decoded both ways: %s |", p, n, s/1e6, s/1e6/(b-a), s/1e6/(c-b), same }')")
  done
  done
  # neural: the batch driver at scale, then the product on E. coli (bounded:
  # a sub-block is one GPU thread's work).
  timeout 150 "$bin/pmklc_neural_gpu" -n 256 -b 131072 -c 8 "$work"/*.fa > "$work/neural" 2>&1 || fail=1
  cat "$work/neural"
  table+=("$(sed -n 's/^| \([0-9]\)/| neural \1/p' "$work/neural" || true)")
  [ -n "${table[-1]}" ] || table[-1]="| neural 256 | failed or over 150 s |"
  fa=$work/ecoli_536.fa
  if [ -f "$fa" ]; then
    sz=$(stat -c %s "$fa")
    t0=$(date +%s.%N)
    timeout 150 "$bin/pmklc" compress -v -p neural -B 131072 --device cuda -j 64 -c "$fa" > "$work/n.gpu" 2> "$work/n.gpu.err" || fail=1
    t1=$(date +%s.%N)
    "$bin/pmklc" compress -p neural -B 131072 --device cpu -j "$(nproc)" -c "$fa" > "$work/n.cpu" || fail=1
    t2=$(date +%s.%N)
    cat "$work/n.gpu.err"
    same=yes
    cmp -s "$work/n.gpu" "$work/n.cpu" || { same=NO; fail=1; }
    "$bin/pmklc" decompress --device cpu -c "$work/n.gpu" | cmp -s - "$fa" || { same="$same, gpu->cpu WRONG"; fail=1; }
    table+=("$(awk -v s="$sz" -v a="$t0" -v b="$t1" -v c="$t2" -v same="$same" \
      'BEGIN { printf "| compress -p neural -B 131072 ecoli_536.fa | %.1f MB | gpu %.2f MB/s | cpu all cores %.2f MB/s | bytes equal, gpu->cpu decoded: %s |", s/1e6, s/1e6/(b-a), s/1e6/(c-b), same }')")
  fi
  "$bin/pmklc_toknet_gpu" 64 2000 || fail=1
  "$bin/pmklc_toknet_gpu" 1024 500 || fail=1
}
echo
echo "| profile, streams | block | cpu 1 thread MB/s | cpu all threads MB/s | gpu MB/s | gpu / 1 core | bytes equal |"
echo "|---|---|---|---|---|---|---|"
for r in "${table[@]}"; do echo "$r"; done
[ $fail -eq 0 ] && echo "gpu_check: all matched" || { echo "gpu_check: FAILED (see above)"; exit 1; }
