#!/usr/bin/env bash
# bench/codec.sh — the FASTA codec profiles against general compressors, one
# table row per file (eval, collection and robust roles, plus the DNACorpus
# sequences AeCa, HaHi, HePy).
#
#   bench/codec.sh [BUILD_DIR]            (default: build)
#   PROFILES="fast max" FILES="HePy AeCa" bench/codec.sh   (subsets; default: fast balanced max)
#
# Columns: input bytes and nucleotides (ACGT/acgt outside header lines); for
# each pmklc profile (the container of `pmklc compress -p P`): output bytes,
# bits per nucleotide (8 x output / nucleotides), one-thread compress and
# decompress MB/s (bench/codecbench.cc, in process) and the CLI's peak RSS;
# then zstd -3 (bytes, bits/nt and its own one-thread in-process MB/s from
# `zstd -b3`, the same-run speed baseline), zstd -19 --long=27, xz -9 and
# bzip2 -9 (bytes and bits/nt). Later issues add their profiles to PROFILES.
# With JARVIS3=/path/to/JARVIS3 (built by you in /tmp from its public source,
# never part of this project), a second table follows: `max` against
# JARVIS3 -l 32 on the same ACGT bytes in the same run (bench/anchors.sh;
# issue #17), with bits/base and MB/s for both and the ratios.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
pmklc=$build/pmklc
bench=$build/pmklc_codecbench
[ -x "$pmklc" ] && [ -x "$bench" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
PROFILES=(${PROFILES:-fast balanced max})

corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
"$root/../shared/data/corpus" "$corpus" eval collection robust dnacorpus >/dev/null
files=()
while IFS=$'\t' read -r name role _; do
  [[ $name == \#* || -z $name ]] && continue
  case $role in eval|collection|robust) files+=("$corpus/$name.fa") ;; esac
done < "$root/../shared/data/corpus.tsv"
files+=("$corpus/AeCa" "$corpus/HaHi" "$corpus/HePy")
if [ -n "${FILES:-}" ]; then
  keep=()
  for f in "${files[@]}"; do
    for n in $FILES; do [ "$(basename "$f" .fa)" = "$n" ] && keep+=("$f"); done
  done
  files=("${keep[@]}")
fi

bits() { awk -v b="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.3f", 8 * b / n; else printf "n/a" }'; }
size_of() { wc -c | tr -d ' '; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

hdr="| file | bytes | nucleotides |"
sep="|---|---|---|"
for p in "${PROFILES[@]}"; do
  hdr+=" $p bytes | $p bits/nt | $p comp MB/s | $p dec MB/s | $p peak RSS MiB |"
  sep+="---|---|---|---|---|"
done
hdr+=" zstd -3 bytes (bits/nt) | zstd -3 comp / dec MB/s | zstd -19 --long=27 | xz -9 | bzip2 -9 |"
sep+="---|---|---|---|---|"
echo "## bench/codec.sh, $(date -u +%F), $(nproc) cores, zstd $(zstd --version | grep -o 'v[0-9.]*' | head -1)"
echo
echo "$hdr"
echo "$sep"
for f in "${files[@]}"; do
  name=$(basename "$f" .fa)
  row="| $name |"
  first=1
  for p in "${PROFILES[@]}"; do
    read -r bytes nt _ cmb dmb < <("$bench" "$f" "$p")
    /usr/bin/time -f %M -o "$tmp/rss" "$pmklc" compress -p "$p" -c "$f" > "$tmp/c"
    out=$(size_of < "$tmp/c")
    rss=$(awk '{printf "%.0f", $1/1024}' "$tmp/rss")
    "$pmklc" decompress -c "$tmp/c" | cmp -s - "$f" || { echo "ROUND TRIP FAILED: $f" >&2; exit 1; }
    if [ $first = 1 ]; then row+=" $bytes | $nt |"; first=0; fi
    row+=" $out | $(bits "$out" "$nt") | $cmb | $dmb | $rss |"
  done
  z3=$(zstd -3 -T1 -c "$f" | size_of)
  zb=$(zstd -b3 -i2 -T1 "$f" 2>&1 | tr '\r' '\n' | grep -E 'MB/s.*MB/s' | tail -1 | sed -E 's/.*, *([0-9.]+) MB\/s, *([0-9.]+) MB\/s.*/\1 \/ \2/')
  z19=$(zstd -19 --long=27 -T1 -c "$f" | size_of)
  x9=$(xz -9 -T1 -c "$f" | size_of)
  b9=$(bzip2 -9 -c "$f" | size_of)
  row+=" $z3 ($(bits "$z3" "$nt")) | $zb | $z19 ($(bits "$z19" "$nt")) | $x9 ($(bits "$x9" "$nt")) | $b9 ($(bits "$b9" "$nt")) |"
  echo "$row"
done

if [ -n "${JARVIS3:-}" ]; then
  echo
  "$root/bench/anchors.sh" "$build"
fi
