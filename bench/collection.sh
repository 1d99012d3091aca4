#!/usr/bin/env bash
# bench/collection.sh — store-level references on the `collection` role
# (4 strains of K. pneumoniae; issue #6).
#
#   [REF_OPTS="--ref-depth 1 --ref-segments 2"] bench/collection.sh [BUILD_DIR] [ORDER]
#   (defaults: build, corpus order; ORDER "reverse" copies them last-first;
#   REF_OPTS: `pmklc archive` options of the store with references)
#
# Prints, per file and in total, bits per base (A/C/G/T counted outside
# header lines):
#  * alone:   `pmklc compress -p max -B 4M` of each file (4 MiB = the store's
#             archive group), container bytes;
#  * mount:   the four copied into a fresh mount, archived offline
#             (`pmklc archive -j 2`, profile max, references on), counting
#             every stored value: block values, reference segments, sketches
#             and object records (pmklc stat), and the RocksDB files;
#  * no-refs: the same store built with -o references=off;
#  * zstd --long=27 -19 over the concatenation.
# Then random 4 KiB reads of each dependent file (one the reference store
# keeps in under half the bytes of coding it alone) in both stores: uncached
# (a fresh mount per read: empty block and reference caches) and cached (the
# same offset again), median of 5 offsets, and the worst ratio; then every
# file's md5 through both mounts against the source.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
order=${2:-forward}
pmklc=$build/pmklc
randread=$build/pmklc_randread
for b in "$pmklc" "$randread"; do
  [ -x "$b" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
done
corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
"$root/../shared/data/corpus" "$corpus" collection eval >/dev/null
unrelated=${UNRELATED:-ecoli_536}  # another genus: must pick no reference
names=()
while IFS=$'\t' read -r name role _; do
  [[ $name == \#* || -z $name ]] && continue
  [ "$role" = collection ] && names+=("$name")
done < "$root/../shared/data/corpus.tsv"
if [ "$order" = reverse ]; then
  rev=(); for ((i=${#names[@]}-1; i>=0; i--)); do rev+=("${names[$i]}"); done; names=("${rev[@]}")
fi

work=$(mktemp -d /var/tmp/pmklc-collection.XXXXXX)
cleanup() { for m in "$work"/mnt*; do fusermount3 -u "$m" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
bases() { grep -v '^[>;]' "$1" | tr -cd 'ACGTacgt' | wc -c; }
bpb() { awk -v b="$1" -v n="$2" 'BEGIN { printf "%.4f", n ? 8 * b / n : 0 }'; }

declare -A nb alone
total_b=0; total_alone=0
for n in "${names[@]}"; do
  nb[$n]=$(bases "$corpus/$n.fa")
  alone[$n]=$("$pmklc" compress -p max -B 4M -c "$corpus/$n.fa" | wc -c)
  total_b=$((total_b + nb[$n])); total_alone=$((total_alone + alone[$n]))
done
zst=$(for n in "${names[@]}"; do cat "$corpus/$n.fa"; done | zstd -q -19 --long=27 -c | wc -c)

# Builds store $1, archived with `pmklc archive` options $2, from the files
# ${names[@]} (or those in $3); prints
# "stored disk seconds objects segment_bytes dependent_bytes".
build_store() {
  local store=$work/$1 mnt=$work/mnt-$1
  local list=("${names[@]}")
  [ -n "${3:-}" ] && read -r -a list <<< "$3"
  mkdir -p "$mnt"
  "$pmklc" mount -o archive_profile=off "$store" "$mnt"
  for n in "${list[@]}"; do cp "$corpus/$n.fa" "$mnt/"; done
  fusermount3 -u "$mnt"; sleep 0.5
  local t0=$(date +%s.%N)
  "$pmklc" archive -j 2 $2 "$store" > /dev/null 2>&1
  local t1=$(date +%s.%N)
  "$pmklc" stat --json "$store" > "$work/$1.json"
  python3 - "$work/$1.json" "$t0" "$t1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(j["stored_bytes"], j["disk_bytes"], "%.1f" % (float(sys.argv[3]) - float(sys.argv[2])),
      j["references"]["objects"], j["references"]["stored_bytes"], j["references"]["dependent_stored_bytes"])
PY
}
read -r s_ref d_ref t_ref objs seg_bytes dep_bytes < <(build_store refs "${REF_OPTS:-}")
"$pmklc" stat --files "$work/refs" > "$work/refs.files"
read -r s_alone d_alone t_alone _ _ _ < <(build_store alone "--references off")
# The unrelated genome: its cost in the reference store (with it minus
# without it) against a store holding it alone.
read -r s_with _ _ _ _ _ < <(build_store with-unrelated "" "${names[*]} $unrelated")
read -r s_only _ _ _ _ _ < <(build_store unrelated-only "" "$unrelated")

echo "# bench/collection.sh ($order order${REF_OPTS:+, $REF_OPTS}) — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
# Per file in the reference store: pmklc stat --files (its groups, and the
# segments its links stand for; a dependent file counts only its own groups).
printf "%-16s %10s %12s %10s %12s %10s\n" file bases "alone B" "alone b/b" "mount B" "mount b/b"
total_mount=0
for n in "${names[@]}"; do
  m=$(awk -F'\t' -v p="$n.fa" '$3 == p { print $1 }' "$work/refs.files")
  total_mount=$((total_mount + m))
  printf "%-16s %10d %12d %10s %12d %10s\n" "$n" "${nb[$n]}" "${alone[$n]}" "$(bpb "${alone[$n]}" "${nb[$n]}")" \
    "$m" "$(bpb "$m" "${nb[$n]}")"
done
printf "%-16s %10d %12d %10s %12d %10s\n" total "$total_b" "$total_alone" "$(bpb "$total_alone" "$total_b")" \
  "$total_mount" "$(bpb "$total_mount" "$total_b")"
echo
printf "%-34s %12s %10s\n" "store (4 files, archived)" "bytes" "bits/base"
printf "%-34s %12d %10s\n" "mount, references: stored values" "$s_ref" "$(bpb "$s_ref" "$total_b")"
printf "%-34s %12d %10s\n" "mount, references: RocksDB files" "$d_ref" "$(bpb "$d_ref" "$total_b")"
printf "%-34s %12d %10s\n" "mount, references=off: stored" "$s_alone" "$(bpb "$s_alone" "$total_b")"
printf "%-34s %12d %10s\n" "mount, references=off: RocksDB" "$d_alone" "$(bpb "$d_alone" "$total_b")"
printf "%-34s %12d %10s\n" "zstd -19 --long=27, concatenated" "$zst" "$(bpb "$zst" "$total_b")"
echo "reference objects: $objs ($seg_bytes stored bytes of segments); dependent groups: $dep_bytes bytes"
echo "archive time: references ${t_ref}s, alone ${t_alone}s (pmklc archive -j 2)"
printf "unrelated %s: %d bytes in the reference store (with - without it), %d bytes in a store of its own (%+.3f%%)\n" \
  "$unrelated" "$((s_with - s_ref))" "$s_only" "$(awk -v a=$((s_with - s_ref)) -v b="$s_only" 'BEGIN{print 100*(a-b)/b}')"

# Random reads of each dependent file, median of 5 offsets.
readcost() {  # store file -> "uncached_us cached_us" medians
  local store=$work/$1 mnt=$work/mnt-$1 u=() c=()
  for seed in 1 2 3 4 5; do
    "$pmklc" mount -o archive_profile=off "$store" "$mnt"
    u+=("$("$randread" "$mnt/$2.fa" 1 "$seed" | awk '{print $3}')")
    c+=("$("$randread" "$mnt/$2.fa" 1 "$seed" | awk '{print $3}')")
    fusermount3 -u "$mnt"; sleep 0.3
  done
  printf "%s\n" "${u[@]}" | sort -n | sed -n 3p | tr '\n' ' '
  printf "%s\n" "${c[@]}" | sort -n | sed -n 3p
}
echo
worst=0
for n in "${names[@]}"; do
  m=$(awk -F'\t' -v p="$n.fa" '$3 == p { print $1 }' "$work/refs.files")
  [ $((2 * m)) -lt "${alone[$n]}" ] || continue  # coded alone (a reference): not dependent
  read -r ru rc < <(readcost refs "$n")
  read -r au ac < <(readcost alone "$n")
  r=$(awk -v a="$ru" -v b="$au" 'BEGIN{printf "%.2f", a/b}')
  worst=$(awk -v a="$r" -v b="$worst" 'BEGIN{print (a > b) ? a : b}')
  printf "random 4 KiB read of %s (median of 5, us): uncached %s with references vs %s alone (%sx); cached %s vs %s\n" \
    "$n" "$ru" "$au" "$r" "$rc" "$ac"
done
echo "worst uncached ratio over the dependent files: ${worst}x"

# Every file, byte-exact, through both stores.
for st in refs alone; do
  "$pmklc" mount -o archive_profile=off "$work/$st" "$work/mnt-$st"
  for n in "${names[@]}"; do
    cmp -s "$corpus/$n.fa" "$work/mnt-$st/$n.fa" || { echo "MISMATCH: $st $n" >&2; exit 1; }
  done
  fusermount3 -u "$work/mnt-$st"; sleep 0.3
done
echo "all files byte-exact through both mounts"
