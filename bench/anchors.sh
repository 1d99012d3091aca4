#!/usr/bin/env bash
# bench/anchors.sh — `pmklc compress -p max` against JARVIS3 -l 32 (the
# anchor of issue #17), one row per input, both tools on the same bytes in
# the same run.
#
#   JARVIS3=/path/to/JARVIS3 bench/anchors.sh [BUILD_DIR]   (default: build)
#   FILES="h4 ecoli_536" ...                                 (a subset)
#
# JARVIS3 is not part of this project: build it yourself from its public
# source (cobilab/jarvis3) and point JARVIS3 at the binary; without it the
# JARVIS3 columns say n/a. Inputs: the eval genomes, the train role's
# genomes (eukaryotes dmel_chr2r, pfal_3d7, scer_chr1/2; measured only), the
# DNACorpus sequences, and two pieces of hsap_chrx70m (bases [32 Mi, 36 Mi) and [32 Mi, 48 Mi)).
# Every input is first reduced to its A/C/G/T bases, upper-cased, in order
# (headers, line breaks and other letters removed): that is what JARVIS3
# codes, and both tools get exactly that file. bits/base = 8 x output bytes /
# bases; MB/s = bases / seconds of one process on one core (pmklc -j 1);
# the last columns are our size and compression speed over JARVIS3's in
# this run. Our round trips are checked with cmp (JARVIS3's are not run).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
pmklc=$build/pmklc
[ -x "$pmklc" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
jarvis=${JARVIS3:-}
[ -z "$jarvis" ] || [ -x "$jarvis" ] || { echo "JARVIS3=$jarvis is not executable" >&2; exit 1; }

corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
"$root/../shared/data/corpus" "$corpus" eval train dnacorpus >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

acgt() { grep -v '^>' "$1" | tr -d '\n\r' | tr acgt ACGT | tr -cd ACGT; }
names=()
for n in ecoli_536 msmeg_mc2 mlep_tn hsap_chrx70m dmel_chr2r pfal_3d7 mtub_h37rv scer_chr2 scer_chr1 lambda; do
  acgt "$corpus/$n.fa" > "$tmp/$n"; names+=("$n")
done
for n in AeCa HaHi HePy; do tr -cd ACGT < "$corpus/$n" > "$tmp/$n"; names+=("$n"); done
# hsap pieces: bases [32 Mi, 36 Mi) and [32 Mi, 48 Mi)
dd if="$tmp/hsap_chrx70m" of="$tmp/hsap_4M" bs=1048576 skip=32 count=4 status=none
dd if="$tmp/hsap_chrx70m" of="$tmp/hsap_16M" bs=1048576 skip=32 count=16 status=none
names=(hsap_4M hsap_16M "${names[@]}")
if [ -n "${FILES:-}" ]; then
  keep=()
  for f in "${names[@]}"; do for n in $FILES; do [ "$f" = "$n" ] && keep+=("$f"); done; done
  names=("${keep[@]}")
fi

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
now() { date +%s.%N; }
bpb() { awk -v b="$1" -v n="$2" 'BEGIN { printf "%.4f", 8 * b / n }'; }
mbs() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.2f", n / s / 1e6; else printf "n/a" }'; }

echo "## bench/anchors.sh, $(date -u +%F), $(nproc) cores, $(uname -m)"
echo
echo "| input | bases | max bits/base | max comp MB/s | max dec MB/s | max peak RSS MiB | JARVIS3 -l 32 bits/base | JARVIS3 comp MB/s | max / JARVIS3 size | max / JARVIS3 comp speed |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in "${names[@]}"; do
  f=$tmp/$n
  nb=$(wc -c < "$f")
  t0=$(now)
  /usr/bin/time -f %M -o "$tmp/rss" "$pmklc" compress -p max -j 1 -c "$f" > "$tmp/c"
  t1=$(now)
  "$pmklc" decompress -c "$tmp/c" > "$tmp/d"
  t2=$(now)
  cmp -s "$tmp/d" "$f" || { echo "ROUND TRIP FAILED: $n" >&2; exit 1; }
  ours=$(wc -c < "$tmp/c")
  ocm=$(mbs "$nb" "$(secs "$t0" "$t1")")
  row="| $n | $nb | $(bpb "$ours" "$nb") | $ocm | $(mbs "$nb" "$(secs "$t1" "$t2")") | $(awk '{printf "%.0f", $1/1024}' "$tmp/rss") |"
  if [ -n "$jarvis" ]; then
    mkdir -p "$tmp/j"; cp "$f" "$tmp/j/$n"
    t0=$(now)
    (cd "$tmp/j" && "$jarvis" -l 32 -f "$n" > /dev/null 2>&1)
    t1=$(now)
    js=$(wc -c < "$tmp/j/$n.jc")
    jcm=$(mbs "$nb" "$(secs "$t0" "$t1")")
    row+=" $(bpb "$js" "$nb") | $jcm | $(awk -v a="$ours" -v b="$js" 'BEGIN { printf "%.3f", a / b }') |"
    row+=" $(awk -v a="$ocm" -v b="$jcm" 'BEGIN { printf "%.2f", a / b }') |"
    rm -rf "$tmp/j"
  else
    row+=" n/a | n/a | n/a | n/a |"
  fi
  echo "$row"
done
