#!/usr/bin/env bash
# bench/fs.sh — mount throughput and latency against a plain folder, same run.
#
#   bench/fs.sh [BUILD_DIR] [FILE_NAME]      (defaults: build, hsap_chrx70m)
#
# Lays out the genome with ../shared/data/corpus, then prints a table:
#   - cp into the mount vs cp into a plain temp folder (same disk)
#   - sequential read (cat > /dev/null) of uncached data: the mount is remounted
#     and the kernel page cache dropped (root) before each mount read; the plain
#     folder's file is dropped from the page cache the same way
#   - random 4 KiB reads (bench/randread.cc, readahead off): p50 and p99, after a
#     remount (daemon block cache empty)
#   - stored bytes (pmklc stat)
# Each figure is the median of 3 runs; speeds are also given as a ratio to the
# plain folder measured in the same run, since this machine is shared.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
name=${2:-hsap_chrx70m}
pmklc=$build/pmklc
randread=$build/pmklc_randread
[ -x "$pmklc" ] && [ -x "$randread" ] || { echo "build first: cmake --build $build" >&2; exit 1; }

corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
"$root/../shared/data/corpus" "$corpus" eval >/dev/null
src=$corpus/$name.fa
[ -f "$src" ] || { echo "no $src" >&2; exit 1; }
bytes=$(stat -c %s "$src")

work=$(mktemp -d /var/tmp/pmklc-bench.XXXXXX)
mnt=$work/mnt; store=$work/store; plain=$work/plain
mkdir -p "$mnt" "$plain"
cleanup() { fusermount3 -u "$mnt" 2>/dev/null || true; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT

# The fast tier is measured here: no archiving (bench/archive.sh measures it).
mount_it() { "$pmklc" mount "$store" "$mnt" -o log_level=warn,archive_profile=off; }
# pmklc mount waits (up to 10 s) for a just-unmounted daemon to release the store.
umount_it() { fusermount3 -u "$mnt"; }
drop() { sync; if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi; }
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a - b }'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mbps() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.0f", b / t / 1e6 }'; }

cat "$src" > /dev/null  # source in page cache: measure the destination only
mount_it
w_m=(); w_p=(); r_m=(); r_p=()
for i in 1 2 3; do
  t0=$(now); cp "$src" "$mnt/g$i.fa"; sync "$mnt/g$i.fa"; t1=$(now)
  w_m+=("$(sub "$t1" "$t0")")
  t0=$(now); cp "$src" "$plain/g$i.fa"; sync "$plain/g$i.fa"; t1=$(now)
  w_p+=("$(sub "$t1" "$t0")")
done
cmp "$src" "$mnt/g1.fa"
for i in 1 2 3; do
  umount_it; drop; mount_it
  t0=$(now); cat "$mnt/g$i.fa" > /dev/null; t1=$(now)
  r_m+=("$(sub "$t1" "$t0")")
  drop
  t0=$(now); cat "$plain/g$i.fa" > /dev/null; t1=$(now)
  r_p+=("$(sub "$t1" "$t0")")
done
umount_it; drop; mount_it
rr_m=$("$randread" "$mnt/g2.fa" 3000 7)
drop
rr_p=$("$randread" "$plain/g2.fa" 3000 7)
umount_it
stored=$("$pmklc" stat --json "$store" | sed -E 's/.*"stored_bytes":([0-9]+).*/\1/')
disk=$("$pmklc" stat --json "$store" | sed -E 's/.*"disk_bytes":([0-9]+).*/\1/')

wm=$(printf '%s\n' "${w_m[@]}" | median); wp=$(printf '%s\n' "${w_p[@]}" | median)
rm_=$(printf '%s\n' "${r_m[@]}" | median); rp=$(printf '%s\n' "${r_p[@]}" | median)
echo "## bench/fs.sh: $name ($bytes bytes), $(date -u +%F), $(nproc) cores"
echo
echo "| measure | pmklcfs mount | plain folder | mount / plain |"
echo "|---|---|---|---|"
echo "| cp in (MB/s, incl. fsync) | $(mbps "$wm") | $(mbps "$wp") | $(awk -v a="$wp" -v b="$wm" 'BEGIN{printf "%.2f", a/b}') |"
echo "| sequential read, uncached (MB/s) | $(mbps "$rm_") | $(mbps "$rp") | $(awk -v a="$rp" -v b="$rm_" 'BEGIN{printf "%.2f", a/b}') |"
read -r p50m p99m meanm _ <<<"$rr_m"; read -r p50p p99p meanp _ <<<"$rr_p"
echo "| random 4 KiB read p50 (µs) | $p50m | $p50p | |"
echo "| random 4 KiB read p99 (µs) | $p99m | $p99p | |"
echo "| stored bytes (block values) | $stored (3 copies) | $((bytes * 3)) | ratio $(awk -v a="$((bytes*3))" -v b="$stored" 'BEGIN{printf "%.3f", a/b}') |"
echo "| RocksDB files on disk | $disk | | |"
