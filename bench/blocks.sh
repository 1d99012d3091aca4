#!/usr/bin/env bash
# bench/blocks.sh — the trade of `pmklc compress -p max`'s whole-file
# context (each 16 MiB block coded against the 4 blocks before it) against
# `--independent-blocks` (each block alone), on one multi-block genome.
#
#   bench/blocks.sh [BUILD_DIR] [FILE] [W]   (defaults: build, hsap_chrx70m.fa of the eval role, nproc)
#
# One row per mode: container bytes and bits per nucleotide (ACGT/acgt
# outside header lines), wall seconds of compress and decompress at -j 1 and
# -j W, and peak RSS of decompress -j W. Every decompress is checked with cmp.
# Wall time includes everything the CLI does (reading, coding, writing).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
pmklc=$build/pmklc
[ -x "$pmklc" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
if [ -n "${2:-}" ]; then
  f=$2
else
  "$root/../shared/data/corpus" "$corpus" eval >/dev/null
  f=$corpus/hsap_chrx70m.fa
fi
w=${3:-$(nproc)}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

nt=$(grep -v '^>' "$f" | tr -cd 'ACGTacgt' | wc -c)
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "## bench/blocks.sh, $(date -u +%F), $(nproc) cores, $(basename "$f") ($nt nucleotides), W = $w"
echo
echo "| mode | bytes | bits/nt | compress -j 1 s | compress -j $w s | decompress -j 1 s | decompress -j $w s | decompress -j $w peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|"
for mode in whole independent; do
  opt=(); [ $mode = independent ] && opt=(--independent-blocks)
  t0=$(now); "$pmklc" compress -p max -j 1 "${opt[@]}" -c "$f" > "$tmp/c1"; t1=$(now)
  "$pmklc" compress -p max -j "$w" "${opt[@]}" -c "$f" > "$tmp/cw"; t2=$(now)
  cmp -s "$tmp/c1" "$tmp/cw" || { echo "-j changed the container ($mode)" >&2; exit 1; }
  "$pmklc" decompress -j 1 -c "$tmp/c1" | cmp -s - "$f" || { echo "ROUND TRIP FAILED ($mode)" >&2; exit 1; }
  t3=$(now)
  /usr/bin/time -f %M -o "$tmp/rss" "$pmklc" decompress -j "$w" -c "$tmp/c1" | cmp -s - "$f" ||
    { echo "ROUND TRIP FAILED ($mode, -j $w)" >&2; exit 1; }
  t4=$(now)
  b=$(stat -c %s "$tmp/c1")
  echo "| $mode | $b | $(awk -v b="$b" -v n="$nt" 'BEGIN { printf "%.4f", 8 * b / n }') | $(secs "$t0" "$t1") | $(secs "$t1" "$t2") | $(secs "$t2" "$t3") | $(secs "$t3" "$t4") | $(awk '{ printf "%.0f", $1 / 1024 }' "$tmp/rss") |"
done
