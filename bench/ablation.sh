#!/usr/bin/env bash
# bench/ablation.sh — what each kind of knowledge of the neural profile earns
# (issue #5), in bits per nucleotide, with sizes of whole containers
# (`pmklc compress`, every stream and header counted):
#
#   max     context models only (`-p max`)
#   +DM     + the dynamic networks   (-p neural --models dm   --no-select)
#   +SPuM   + the shipped public net (-p neural --models spum --no-select)
#   +SPrM   + a private net trained on the collection (--models sprm --private)
#   all     every candidate          (--models dm,spum[,sprm] --no-select)
#   neural  the profile as shipped: the selector's choice (and --private on
#           the collection), with the models it chose
# and step-wise model passing (SMP=1, on SMP_FILES): 1 MiB blocks so that a
# genome has several; max1m = max at 1 MiB; w1, w2, w4 = DM with W = 1, 2, 4
# blocks coded at once (SMP on: the bytes must be identical); cold = W = 2,
# SMP off (each block's DMs start from their initial weights).
# The private model's bytes are stored in each container that uses it; the
# table gives bits/nt without them (as in a store, where one model serves
# every file) and the model's size in the heading.
#
#   bench/ablation.sh [BUILD_DIR]
#   FILES="HePy AeCa" SMP=0 CONFIGS="neural" JOBS=2 bench/ablation.sh  (subsets;
#   max always runs)
# Default files: the eval role without hsap_chrx70m (add it with FILES),
# DNACorpus, and the collection. JOBS: compressions run at once (default 2;
# speeds are not measured here: bench/codec.sh does that).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
pmklc=$build/pmklc
[ -x "$pmklc" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
JOBS=${JOBS:-2}
SMP=${SMP:-1}
corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
"$root/../shared/data/corpus" "$corpus" eval collection dnacorpus >/dev/null
FILES=${FILES:-"ecoli_536 msmeg_mc2 mlep_tn HePy AeCa HaHi kpn_hs11286 kpn_kp1084 kpn_mgh78578 kpn_ntuh_k2044"}
path() { if [ -f "$corpus/$1.fa" ]; then echo "$corpus/$1.fa"; else echo "$corpus/$1"; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# The private model: trained on the collection (pmklc train file) with the
# defaults of `pmklc train private` (SPRM_ARGS), or SPRM=FILE.pmkm to reuse
# one trained so before (its training log is then not printed).
SPRM_ARGS=${SPRM_ARGS:-"--ctx 32 --hidden 256 --examples 3000000 --epochs 6"}
sprm=$tmp/sprm-collection.pmkm
if [ -n "${SPRM:-}" ]; then
  cp "$SPRM" "$sprm"
  echo "reused private model $SPRM" > "$tmp/train.log"
  sprm_bytes=$(wc -c < "$sprm")
elif "$pmklc" train file --help >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  "$pmklc" train file --out "$sprm" $SPRM_ARGS \
    $(for n in kpn_hs11286 kpn_kp1084 kpn_mgh78578 kpn_ntuh_k2044; do path $n; done) 2>"$tmp/train.log" ||
    { cat "$tmp/train.log" >&2; exit 1; }
  sprm_bytes=$(wc -c < "$sprm")
else
  echo "no pmklc-train (libtorch-dev): SPrM rows skipped" >&2
  sprm=""
  sprm_bytes=0
fi

configs=(max dm spum all neural)
[ -n "$sprm" ] && configs=(max dm spum sprm all neural)
[ -n "${CONFIGS:-}" ] && configs=(max $CONFIGS)
smp_configs=()
[ "$SMP" = 1 ] && smp_configs=(max1m w1 w2 w4 cold)

# nt FILE: nucleotides (ACGT/acgt outside header lines)
nt() { grep -v '^>' "$1" | tr -cd 'ACGTacgt' | wc -c; }
is_collection() { case $1 in kpn_*) return 0 ;; *) return 1 ;; esac; }

run() {  # run NAME CONFIG -> writes $tmp/NAME.CONFIG (bytes, minus the private model record)
  local name=$1 cfg=$2 f args=() extra=0
  f=$(path "$name")
  case $cfg in
    max) args=(-p max) ;;
    dm) args=(-p neural --models dm --no-select) ;;
    spum) args=(-p neural --models spum --no-select) ;;
    sprm) is_collection "$name" || { echo "-" > "$tmp/$name.$cfg"; return; }
          args=(-p neural --models sprm --no-select --private "$sprm"); extra=$((sprm_bytes + 4)) ;;
    all) args=(-p neural --models dm,spum --no-select)
         if [ -n "$sprm" ] && is_collection "$name"; then
           args=(-p neural --models dm,spum,sprm --no-select --private "$sprm"); extra=$((sprm_bytes + 4)); fi ;;
    neural) args=(-p neural)
            if [ -n "$sprm" ] && is_collection "$name"; then args+=(--private "$sprm"); extra=$((sprm_bytes + 4)); fi ;;
    w1) args=(-p neural --models dm --no-select -B 1M -j 1) ;;
    w2) args=(-p neural --models dm --no-select -B 1M -j 2) ;;
    w4) args=(-p neural --models dm --no-select -B 1M -j 4) ;;
    cold) args=(-p neural --models dm --no-select -B 1M -j 2 --no-smp) ;;
    max1m) args=(-p max -B 1M) ;;
  esac
  "$pmklc" compress "${args[@]}" -c "$f" > "$tmp/$name.$cfg.pmk"
  "$pmklc" decompress -c "$tmp/$name.$cfg.pmk" | cmp -s - "$f" || { echo "ROUND TRIP FAILED: $name $cfg" >&2; exit 1; }
  echo $(( $(wc -c < "$tmp/$name.$cfg.pmk") - extra )) > "$tmp/$name.$cfg"
  rm -f "$tmp/$name.$cfg.pmk"
}
export -f run path is_collection
export pmklc tmp corpus sprm sprm_bytes

SMP_FILES=${SMP_FILES:-"ecoli_536 kpn_hs11286"}
jobs_list=()
for n in $FILES; do
  for c in "${configs[@]}"; do jobs_list+=("$n $c"); done
  for m in $SMP_FILES; do [ "$m" = "$n" ] && for c in "${smp_configs[@]}"; do jobs_list+=("$n $c"); done; done
done
printf '%s\n' "${jobs_list[@]}" | xargs -P "$JOBS" -L 1 bash -c 'run "$0" "$1"'

bits() { awk -v b="$1" -v n="$2" 'BEGIN { if (b == "-" || n == 0) printf "-"; else printf "%.4f", 8 * b / n }'; }
echo "## bench/ablation.sh, $(date -u +%F), $(nproc) cores"
echo
[ -n "$sprm" ] && echo "Private model (SPrM): trained on the 4 collection genomes, $sprm_bytes bytes; $(grep -o 'final training loss.*\|reused private model.*' "$tmp/train.log" | tail -1)." && echo
hdr="| file | nucleotides |"; sep="|---|---|"
for c in "${configs[@]}" "${smp_configs[@]}"; do hdr+=" $c |"; sep+="---|"; done
echo "$hdr"; echo "$sep"
declare -A sum_b sum_n
for n in $FILES; do
  f=$(path "$n"); cnt=$(nt "$f")
  row="| $n | $cnt |"
  for c in "${configs[@]}" "${smp_configs[@]}"; do
    b=$(cat "$tmp/$n.$c" 2>/dev/null || echo -)
    row+=" $(bits "$b" "$cnt") |"
  done
  echo "$row"
done
echo
echo "Mean bits/nt over the files each configuration ran on, and the change against max on the same files"
echo "(SMP rows against max1m):"
for c in "${configs[@]}" "${smp_configs[@]}"; do
  for n in $FILES; do
    b=$(cat "$tmp/$n.$c" 2>/dev/null || echo -); [ "$b" = "-" ] && continue
    base=max; case $c in w1|w2|w4|cold) base=max1m ;; esac
    echo "$b $(cat "$tmp/$n.$base") $(nt "$(path "$n")")"
  done | awk -v c="$c" '{ s += 8 * $1 / $3; m += 8 * $2 / $3; k++ }
    END { if (k) printf "- %s: %.4f over %d files (baseline %.4f): %+.2f%%\n", c, s / k, k, m / k, 100 * (s - m) / m }'
done
for n in $SMP_FILES; do
  [ -f "$tmp/$n.w1" ] || continue
  if cmp -s <(cat "$tmp/$n.w1") <(cat "$tmp/$n.w2") && cmp -s <(cat "$tmp/$n.w1") <(cat "$tmp/$n.w4"); then
    echo "- $n: W = 1, 2, 4 wrote the same number of bytes"
  else
    echo "- $n: W = 1, 2, 4 DIFFER"
  fi
done
