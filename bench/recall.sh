#!/usr/bin/env bash
# bench/recall.sh — reads of archived data through the recall tier (issue
# #19), against the fast tier, in one run.
#
#   bench/recall.sh [BUILD_DIR] [GENOME|FASTA] [PROFILE] [READS]
#     Defaults: build, ecoli_536 (from the corpus), max, 30 (a 5 MB genome
#     has 40 blocks of 128 KiB: reads of a block already read are cache hits,
#     the same ones in each pass)
#
# One mount (archive_delay=3600): GENOME is copied in twice, as a.fa (then
# archived with PROFILE) and f.fa (left in the fast tier). Then, each after
# a remount and a drop of the page cache where allowed, READS random 4 KiB
# reads (bench/randread.cc, the same offsets each time) of:
#   1. a.fa, first time: each read decodes its archived group (the model);
#   2. a.fa, second time after a remount: served by the recall tier;
#   3. f.fa: the fast tier.
# Prints p50, p99 and mean (µs) of each, and 2. / 3. (the issue's bar: at
# most 2x at p50), and what `pmklc stat` says of the tier. Then the
# sequential read (md5) of a.fa after a remount with recall_size=0 (every
# group decoded by its model) at read_threads=1 and at the default (one
# per core), twice each.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
genome=${2:-ecoli_536}
profile=${3:-max}
reads=${4:-30}
pmklc=$build/pmklc
randread=$build/pmklc_randread
for b in "$pmklc" "$randread"; do [ -x "$b" ] || { echo "build first: cmake --build $build" >&2; exit 1; }; done
corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
if [ -f "$genome" ]; then
  src=$genome  # a FASTA file given by path
else
  [ -f "$corpus/$genome.fa" ] || "$root/../shared/data/corpus" "$corpus" eval train collection >/dev/null
  src=$corpus/$genome.fa
fi
work=$(mktemp -d /var/tmp/pmklc-recall.XXXXXX)
mnt=$work/mnt; store=$work/store
mkdir -p "$mnt"
cleanup() { fusermount3 -u "$mnt" 2>/dev/null || true; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
extra=""
mount_it() { "$pmklc" mount "$store" "$mnt" -o "log_level=warn,archive_delay=3600,archive_profile=$profile$extra"; }
remount() { fusermount3 -u "$mnt"; sleep 1; sync; if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi; mount_it; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

mount_it
cp "$src" "$mnt/a.fa"
sync
"$pmklc" archive --wait "$store" >/dev/null
cp "$src" "$mnt/f.fa"
sync
remount
cold=$("$randread" "$mnt/a.fa" "$reads" 7)
remount
recall=$("$randread" "$mnt/a.fa" "$reads" 7)
stat=$("$pmklc" stat --json "$store")
remount
fast=$("$randread" "$mnt/f.fa" "$reads" 7)
[ "$(md5sum < "$mnt/a.fa")" = "$(md5sum < "$src")" ] && same=identical || same=MISMATCH
# Sequential reads of the archived copy, the model decoding every group.
now() { date +%s.%N; }
seq_read() {  # read_threads value ("" = default) -> seconds
  extra=",recall_size=0${1:+,read_threads=$1}"
  remount
  local t0 t1
  t0=$(now); md5sum < "$mnt/a.fa" > /dev/null; t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
s1a=$(seq_read 1); sda=$(seq_read ""); s1b=$(seq_read 1); sdb=$(seq_read "")
size=$(stat -c %s "$src")
echo "## bench/recall.sh, $(date -u +%F), $(nproc) cores, $(basename "$src") ($(stat -c %s "$src") bytes), profile $profile, $reads random 4 KiB reads"
echo
echo "| read of the archived copy | p50 µs | p99 µs | mean µs | reads |"
echo "|---|---|---|---|---|"
echo "| first after a remount (model decode of each group) | ${cold// / | } |"
echo "| again after the next remount (recall tier) | ${recall// / | } |"
echo "| the fast-tier copy, after a remount | ${fast// / | } |"
awk -v r="$recall" -v f="$fast" -v c="$cold" 'BEGIN { split(r, a, " "); split(f, b, " "); split(c, d, " ");
  printf "\nrecall / fast tier at p50: %.2fx; first read (model) / recall, means: %.0fx\n", a[1] / b[1], d[3] / a[3] }'
echo "recall tier after the second pass: $(echo "$stat" | field "['recall']['entries']") entries, $(echo "$stat" | field "['recall']['stored_bytes']") bytes stored, $(echo "$stat" | field "['recall']['hits']") hits, $(echo "$stat" | field "['recall']['misses']") misses"
echo "md5 of the archived copy: $same"
awk -v n="$size" -v a="$s1a" -v b="$s1b" -v c="$sda" -v d="$sdb" -v cores="$(nproc)" 'BEGIN {
  printf "\n| sequential read of the archived copy (recall off) | seconds | MB/s |\n|---|---|---|\n";
  printf "| read_threads=1 | %s, %s | %.2f, %.2f |\n", a, b, n / a / 1e6, n / b / 1e6;
  printf "| read_threads=%d (default) | %s, %s | %.2f, %.2f |\n", cores, c, d, n / c / 1e6, n / d / 1e6;
  printf "default / 1 thread: %.2fx (mean of the two runs)\n", (a + b) / (c + d) }' 
[ "$same" = identical ]
