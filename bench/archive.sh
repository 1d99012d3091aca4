#!/usr/bin/env bash
# bench/archive.sh — the archiver on the eval and collection genomes.
#
#   bench/archive.sh [BUILD_DIR] [PROFILE] [THREADS] [PART]
#     Defaults: build, max, 2, all. PART: store (1-3 below), reads (4), all.
#
# 1. Copies every eval and collection genome into a fresh mount
#    (archive_delay=3600, so nothing is archived by itself), then times
#    `pmklc archive --wait` (archive_threads=THREADS).
# 2. Stored bytes before and after (pmklc stat: block values of both tiers and
#    reference segments, and
#    the RocksDB files after a remount), against `pmklc compress -p PROFILE` of
#    the same files (sum of the container sizes).
# 3. After a remount (empty caches): md5 of every file against the source
#    (sequential read of archived data, timed), then random 4 KiB reads of the
#    largest file: uncached (each in another archived group: a whole group is
#    decoded) and cached (the same offsets again), next to the time one group
#    of that file takes to decode (pmklc_codecbench on a group-sized slice).
# 4. Reads of archived data (issue #19), the eval genomes only, in one run:
#    one store archived with the defaults, one with archive_split=1M and one
#    with 512K (region reads), and fast-tier copies of the same files:
#    - cold random 4 KiB reads of the largest file, each in another 4 MiB
#      group, after a remount: first time (model decode; with split groups
#      of one part), second time after another remount (recall tier), and
#      the fast-tier copy;
#    - sequential read MB/s (md5 of every file, recall_size=0) at
#      read_threads=1 and at the default (one per core), and the fast tier;
#    - `samtools faidx` of 1,000 random 100-base regions over the eval
#      genomes, each its own samtools run, after a remount: p50, p99, total;
#    - the stored bytes of each store (the ratio cost of split groups).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
profile=${2:-max}
threads=${3:-2}
part=${4:-all}
pmklc=$build/pmklc
randread=$build/pmklc_randread
codecbench=$build/pmklc_codecbench
for b in "$pmklc" "$randread" "$codecbench"; do
  [ -x "$b" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
done
corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
"$root/../shared/data/corpus" "$corpus" eval collection >/dev/null
files=()
while IFS=$'\t' read -r name role _; do
  [[ $name == \#* || -z $name ]] && continue
  case $role in eval|collection) files+=("$corpus/$name.fa") ;; esac
done < "$root/../shared/data/corpus.tsv"

work=$(mktemp -d /var/tmp/pmklc-archive.XXXXXX)
mnt=$work/mnt; store=$work/store
mkdir -p "$mnt"
cleanup() { fusermount3 -u "$mnt" 2>/dev/null || true; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
mount_it() { "$pmklc" mount "$store" "$mnt" -o "log_level=warn,archive_delay=3600,archive_threads=$threads,archive_profile=$profile"; }
drop() { sync; if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi; }
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

reads_part() { "$root/bench/archive_reads.sh" "$build" "$profile" "$threads"; }
if [ "$part" = reads ]; then reads_part; exit; fi
total=0
for f in "${files[@]}"; do total=$((total + $(stat -c %s "$f"))); done
mount_it
for f in "${files[@]}"; do cp "$f" "$mnt/"; done
sync
before=$("$pmklc" stat --json "$store")
t0=$(now); "$pmklc" archive --wait "$store" >/dev/null; t1=$(now)
t_arch=$(sub "$t1" "$t0")
after=$("$pmklc" stat --json "$store")
fusermount3 -u "$mnt"; sleep 1
disk_after=$("$pmklc" stat --json "$store" | field "['disk_bytes']")
per_file=$("$pmklc" stat --files "$store")

# The standalone profile, two files at a time.
t0=$(now)
printf '%s\n' "${files[@]}" | xargs -P 2 -I{} sh -c '"$0" compress -p "$1" -f -c "$2" > "$3/$(basename "$2").pmklc"' "$pmklc" "$profile" {} "$work"
t1=$(now)
t_comp=$(sub "$t1" "$t0")
container=0
for f in "${files[@]}"; do container=$((container + $(stat -c %s "$work/$(basename "$f").pmklc"))); done

drop; mount_it
t0=$(now)
bad=0
for f in "${files[@]}"; do
  [ "$(md5sum < "$mnt/$(basename "$f")")" = "$(md5sum < "$f")" ] || { echo "MISMATCH $(basename "$f")" >&2; bad=1; }
done
t1=$(now)
t_read=$(sub "$t1" "$t0")
big=$(ls -S "${files[@]}" | head -1)
fusermount3 -u "$mnt"; sleep 1; drop; mount_it
rr_cold=$("$randread" "$mnt/$(basename "$big")" 5 11)
rr_warm=$("$randread" "$mnt/$(basename "$big")" 5 11)
fusermount3 -u "$mnt"; sleep 1
group=$((4 << 20))  # format::kGroupBytes, the default archive group
head -c $((8 << 20)) "$big" | tail -c "$group" > "$work/slice"
dec=$("$codecbench" "$work/slice" "$profile" "$group" | awk '{print $5}')

fast_stored=$(echo "$before" | field "['tiers']['fast']['stored_bytes']")
# Block values of both tiers and reference segments: with references the
# related files' groups move into reference objects, which the tiers'
# block values do not count.
stored_after=$(echo "$after" | field "['stored_bytes']")
echo "## bench/archive.sh, $(date -u +%F), $(nproc) cores, profile $profile, archive_threads=$threads"
echo
echo "| | value |"
echo "|---|---|"
echo "| files (eval + collection) | ${#files[@]}, $total bytes |"
echo "| stored before archiving (fast tier, block values) | $fast_stored |"
echo "| stored after \`pmklc archive --wait\` (block values, both tiers, and reference segments) | $stored_after |"
echo "| RocksDB files after archiving and unmount | $disk_after |"
echo "| \`pmklc compress -p $profile\`, sum of the containers | $container |"
awk -v a="$stored_after" -v c="$container" -v d="$disk_after" 'BEGIN { printf "| archived vs compress | %+.2f%% (stored values), %+.2f%% (RocksDB files) |\n", 100 * (a / c - 1), 100 * (d / c - 1) }'
awk -v t="$t_arch" -v b="$total" -v n="$threads" 'BEGIN { printf "| archive --wait | %.1f s, %.2f MB/s (%d threads) |\n", t, b / t / 1e6, n }'
awk -v t="$t_comp" -v b="$total" 'BEGIN { printf "| compress -p, 2 files at a time | %.1f s, %.2f MB/s |\n", t, b / t / 1e6 }'
awk -v t="$t_read" -v b="$total" 'BEGIN { printf "| md5 of every file after remount (sequential read of archived data) | %.1f s, %.2f MB/s |\n", t, b / t / 1e6 }'
echo "| random 4 KiB read of $(basename "$big"), uncached (p50 p99 mean µs, count) | $rr_cold |"
echo "| the same reads again, cached | $rr_warm |"
awk -v d="$dec" -v g="$group" 'BEGIN { printf "| one %d MiB group of it decodes at (codecbench) | %s MB/s, i.e. %.0f ms per group |\n", g / 1048576, d, g / d / 1e3 }'
echo "| md5 of every file | $([ $bad = 0 ] && echo identical || echo MISMATCH) |"
# Per file, after archiving (pmklc stat --files: its groups and blocks and
# the reference segments it links to, so the files coded against others
# count those too): bits per nucleotide (ACGT/acgt outside header lines),
# and the same scaled by RocksDB files / block values (every stored byte).
echo
echo "| file | nucleotides | stored bytes | bits/nt (values) | bits/nt (RocksDB files, pro rata) |"
echo "|---|---|---|---|---|"
for f in "${files[@]}"; do
  b=$(basename "$f")
  st=$(printf '%s\n' "$per_file" | awk -F'\t' -v p="$b" '$3 == p { print $1 }')
  nt=$(grep -v '^>' "$f" | tr -cd 'ACGTacgt' | wc -c)
  awk -v s="$st" -v n="$nt" -v d="$disk_after" -v a="$stored_after" -v name="$b" \
    'BEGIN { printf "| %s | %d | %d | %.4f | %.4f |\n", name, n, s, 8 * s / n, 8 * s / n * d / a }'
done
if [ "$part" = all ]; then echo; reads_part || bad=1; fi
exit $bad
