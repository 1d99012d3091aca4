#!/usr/bin/env bash
# bench/roundtrip.sh — every file of the corpus (all roles and DNACorpus)
# through `pmklc compress -p P -j W` and `pmklc decompress -j W`, for each
# profile and W: byte-exact or it fails; prints sizes and bits per
# nucleotide (and checks that the container's bytes do not depend on W).
#
#   bench/roundtrip.sh [BUILD_DIR]
#   PROFILES="fast balanced max neural" WS="1 2" bench/roundtrip.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
pmklc=$build/pmklc
[ -x "$pmklc" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
PROFILES=${PROFILES:-"fast balanced max neural"}
WS=${WS:-"1 2"}
corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
"$root/../shared/data/corpus" "$corpus" >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
files=$(ls "$corpus"/*.fa "$corpus"/AeCa "$corpus"/HaHi "$corpus"/HePy)
echo "## bench/roundtrip.sh, $(date -u +%F), $(nproc) cores: profiles $PROFILES, W = $WS"
echo
echo "| file | bytes | nucleotides | profile | container bytes | bits/nt | W |"
echo "|---|---|---|---|---|---|---|"
fail=0
for f in $files; do
  name=$(basename "$f" .fa)
  nt=$(grep -v '^>' "$f" | tr -cd 'ACGTacgt' | wc -c)
  for p in $PROFILES; do
    first=""
    for w in $WS; do
      "$pmklc" compress -p "$p" -j "$w" -c "$f" > "$tmp/c.$w"
      if ! "$pmklc" decompress -j "$w" -c "$tmp/c.$w" | cmp -s - "$f"; then
        echo "ROUND TRIP FAILED: $name -p $p -j $w" >&2; fail=1
      fi
      if [ -z "$first" ]; then first=$tmp/c.$w
      elif ! cmp -s "$first" "$tmp/c.$w"; then echo "W CHANGED THE BYTES: $name -p $p -j $w" >&2; fail=1; fi
    done
    b=$(wc -c < "$first")
    echo "| $name | $(wc -c < "$f") | $nt | $p | $b | $(awk -v b="$b" -v n="$nt" 'BEGIN { if (n) printf "%.4f", 8*b/n; else printf "-" }') | $WS |"
  done
done
exit $fail
