#!/usr/bin/env bash
# bench/archive_reads.sh — reads of archived data (issue #19): part 4 of
# bench/archive.sh, which describes it; runs alone too.
#
#   bench/archive_reads.sh [BUILD_DIR] [PROFILE] [THREADS] [REGIONS] [NAMES]
#     Defaults: build, max, 2 (archive_threads), 1000 (faidx regions), the
#     eval genomes (NAMES: corpus names, comma-separated, for a quick run)
#
# Three stores of the eval genomes, archived with PROFILE: whole groups (the
# default), archive_split=1M and archive_split=512K; the first also holds
# fast-tier copies (f/, copied after its archive pass). Every measurement
# starts from a remount and, where allowed, a drop of the page cache.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
profile=${2:-max}
threads=${3:-2}
nregions=${4:-1000}
names=${5:-}
pmklc=$build/pmklc
randread=$build/pmklc_randread
codecbench=$build/pmklc_codecbench
for b in "$pmklc" "$randread" "$codecbench"; do
  [ -x "$b" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
done
have_samtools=1
command -v samtools >/dev/null || { have_samtools=0; echo "samtools is not installed (apt install samtools): the faidx rows are skipped" >&2; }
corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
"$root/../shared/data/corpus" "$corpus" eval train >/dev/null
files=()
while IFS=$'\t' read -r name role _; do
  [[ $name == \#* || -z $name ]] && continue
  if [ -n "$names" ]; then [[ ",$names," == *",$name,"* ]] && files+=("$corpus/$name.fa"); continue; fi
  [ "$role" = eval ] && files+=("$corpus/$name.fa")
done < "$root/../shared/data/corpus.tsv"
big=$(ls -S "${files[@]}" | head -1)
bigname=$(basename "$big")

work=$(mktemp -d /var/tmp/pmklc-reads.XXXXXX)
stores=(whole s1m s512k)
declare -A split=([whole]=0 [s1m]=1M [s512k]=512K)
cleanup() {
  for s in "${stores[@]}"; do fusermount3 -u "$work/$s/mnt" 2>/dev/null || true; done
  sleep 0.5; rm -rf "$work"
}
trap cleanup EXIT
drop() { sync; if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi; }
mount_it() {  # STORE [EXTRA OPTIONS]
  mkdir -p "$work/$1/mnt"
  "$pmklc" mount "$work/$1/store" "$work/$1/mnt" \
    -o "log_level=warn,archive_delay=3600,archive_threads=$threads,archive_profile=$profile,archive_split=${split[$1]}${2:+,$2}"
}
umount_it() { fusermount3 -u "$work/$1/mnt"; sleep 1; }
fresh() { umount_it "$1"; drop; mount_it "$1" "${2:-}"; }  # STORE [EXTRA]
now() { date +%s.%N; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

# Indexes for samtools, made from the sources and copied in beside each file.
if [ $have_samtools = 1 ]; then
  mkdir -p "$work/src"
  for f in "${files[@]}"; do cp "$f" "$work/src/"; samtools faidx "$work/src/$(basename "$f")"; done
fi
total=0
for f in "${files[@]}"; do total=$((total + $(stat -c %s "$f"))); done
declare -A stored t_arch
for s in "${stores[@]}"; do
  mount_it "$s"
  mkdir "$work/$s/mnt/a"
  for f in "${files[@]}"; do
    cp "$f" "$work/$s/mnt/a/"
    [ $have_samtools = 1 ] && cp "$work/src/$(basename "$f").fai" "$work/$s/mnt/a/"
  done
  sync
  t0=$(now); "$pmklc" archive --wait "$work/$s/store" >/dev/null; t1=$(now)
  t_arch[$s]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  stored[$s]=$("$pmklc" stat --json "$work/$s/store" | field "['tiers']['archived']['stored_bytes']")
  if [ "$s" = whole ]; then
    mkdir "$work/$s/mnt/f"
    for f in "${files[@]}"; do
      cp "$f" "$work/$s/mnt/f/"
      [ $have_samtools = 1 ] && cp "$work/src/$(basename "$f").fai" "$work/$s/mnt/f/"
    done
    sync
  fi
  umount_it "$s"
done

# Random 4 KiB reads of the largest file, each in another 4 MiB group.
group=$((4 << 20))
n=40
mount_it whole; fresh whole
rr_cold=$("$randread" "$work/whole/mnt/a/$bigname" $n 7 $group)
fresh whole
rr_recall=$("$randread" "$work/whole/mnt/a/$bigname" $n 7 $group)
fresh whole
rr_fast=$("$randread" "$work/whole/mnt/f/$bigname" $n 7 $group)
umount_it whole
declare -A rr_split
for s in s1m s512k; do
  drop; mount_it "$s" recall_size=0
  rr_split[$s]=$("$randread" "$work/$s/mnt/a/$bigname" $n 7 $group)
  umount_it "$s"
done
head -c $((8 << 20)) "$big" | tail -c "$group" > "$work/slice"
dec=$("$codecbench" "$work/slice" "$profile" "$group" | awk '{print $5}')

# Sequential reads (md5 of every file), the model decoding every group.
seq_read() {  # STORE DIR EXTRA -> seconds
  drop; mount_it "$1" "recall_size=0${3:+,$3}"
  local t0 t1 bad=0
  t0=$(now)
  for f in "${files[@]}"; do
    [ "$(md5sum < "$work/$1/mnt/$2/$(basename "$f")")" = "$(md5sum < "$f")" ] || bad=1
  done
  t1=$(now)
  umount_it "$1"
  [ $bad = 0 ] || { echo "MISMATCH reading $1/$2" >&2; return 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
sq_w1=$(seq_read whole a read_threads=1)
sq_wd=$(seq_read whole a "")
sq_s1=$(seq_read s1m a read_threads=1)
sq_sd=$(seq_read s1m a "")
sq_f=$(seq_read whole f "")

# samtools faidx of random regions, each its own run (as a pipeline would).
faidx_run() {  # STORE DIR -> "p50_ms p99_ms max_ms total_s", checks every region's output
  drop; mount_it "$1" recall_size=0
  python3 - "$work/regions" "$work/$1/mnt/$2" "$work/src" <<'EOF'
import subprocess, sys, time
regions, mnt, src = sys.argv[1], sys.argv[2], sys.argv[3]
lat = []
bad = 0
t0 = time.monotonic()
for line in open(regions):
    f, reg = line.split()
    a = time.monotonic()
    out = subprocess.run(["samtools", "faidx", f"{mnt}/{f}", reg], capture_output=True, check=True).stdout
    lat.append(time.monotonic() - a)
    ref = subprocess.run(["samtools", "faidx", f"{src}/{f}", reg], capture_output=True, check=True).stdout
    bad += out != ref
total = sum(lat)
lat.sort()
print(f"{lat[len(lat)//2]*1e3:.1f} {lat[len(lat)*99//100]*1e3:.1f} {lat[-1]*1e3:.1f} {total:.1f} {bad}")
EOF
  umount_it "$1"
}
declare -A fx
if [ $have_samtools = 1 ]; then
  python3 - "$work/src" "$nregions" > "$work/regions" <<'EOF'
import os, random, sys
src, n = sys.argv[1], int(sys.argv[2])
seqs = []
for fai in sorted(x for x in os.listdir(src) if x.endswith(".fai")):
    for line in open(os.path.join(src, fai)):
        name, length = line.split("\t")[:2]
        if int(length) > 100: seqs.append((fai[:-4], name, int(length)))
rng = random.Random(7)
weights = [s[2] for s in seqs]
for f, name, length in rng.choices(seqs, weights=weights, k=n):
    s = rng.randrange(1, length - 99)
    print(f, f"{name}:{s}-{s + 99}")
EOF
  fx[whole]=$(faidx_run whole a)
  fx[s1m]=$(faidx_run s1m a)
  fx[s512k]=$(faidx_run s512k a)
  fx[fast]=$(faidx_run whole f)
fi

echo "## bench/archive_reads.sh, $(date -u +%F), $(nproc) cores, profile $profile, eval genomes ($total bytes), largest $bigname"
echo
echo "| store | archive --wait (s, $threads threads) | archived stored bytes | vs whole groups |"
echo "|---|---|---|---|"
for s in "${stores[@]}"; do
  awk -v name="$s (archive_split=${split[$s]})" -v t="${t_arch[$s]}" -v b="${stored[$s]}" -v w="${stored[whole]}" \
    'BEGIN { printf "| %s | %s | %d | %+.2f%% |\n", name, t, b, 100 * (b / w - 1) }'
done
echo
echo "| random 4 KiB read of $bigname, each in another 4 MiB group, after a remount | p50 µs | p99 µs | mean µs | reads |"
echo "|---|---|---|---|---|"
echo "| whole groups, first time (a model decode of the group) | ${rr_cold// / | } |"
echo "| whole groups, again after the next remount (recall tier) | ${rr_recall// / | } |"
echo "| archive_split=1M, first time (recall off: a decode of one part) | ${rr_split[s1m]// / | } |"
echo "| archive_split=512K, first time (recall off) | ${rr_split[s512k]// / | } |"
echo "| the fast-tier copy | ${rr_fast// / | } |"
awk -v d="$dec" -v g="$group" -v c="$rr_cold" -v r="$rr_recall" -v f="$rr_fast" -v a="${rr_split[s1m]}" -v b="${rr_split[s512k]}" 'BEGIN {
  split(c, C, " "); split(r, R, " "); split(f, F, " "); split(a, A, " "); split(b, B, " ");
  ms = g / d / 1e3;
  printf "\none 4 MiB group of %s decodes in %.0f ms (codecbench, %s MB/s)\n", "it", ms, d;
  printf "p50 / one group decode: whole %.2f, split 1M %.2f, split 512K %.2f (issue #19: at most 0.33)\n", C[1] / 1e3 / ms, A[1] / 1e3 / ms, B[1] / 1e3 / ms;
  printf "recall / fast tier at p50: %.2fx (issue #19: at most 2x)\n", R[1] / F[1] }'
echo
echo "| sequential read (md5 of every eval file, recall off) | seconds | MB/s |"
echo "|---|---|---|"
for row in "whole groups, read_threads=1:$sq_w1" "whole groups, read_threads=$(nproc) (default):$sq_wd" \
           "archive_split=1M, read_threads=1:$sq_s1" "archive_split=1M, read_threads=$(nproc) (default):$sq_sd" \
           "the fast-tier copies:$sq_f"; do
  awk -v name="${row%%:*}" -v t="${row##*:}" -v n="$total" 'BEGIN { printf "| %s | %s | %.2f |\n", name, t, n / t / 1e6 }'
done
awk -v a="$sq_w1" -v b="$sq_wd" 'BEGIN { printf "whole groups, default / 1 thread: %.2fx (issue #19: at least 1.8x on 2 cores)\n", a / b }'
if [ $have_samtools = 1 ]; then
  echo
  echo "| samtools faidx, $nregions random 100-base regions over the eval genomes, one run each, after a remount (recall off) | p50 ms | p99 ms | max ms | total s | wrong |"
  echo "|---|---|---|---|---|---|"
  echo "| whole groups | ${fx[whole]// / | } |"
  echo "| archive_split=1M | ${fx[s1m]// / | } |"
  echo "| archive_split=512K | ${fx[s512k]// / | } |"
  echo "| the fast-tier copies | ${fx[fast]// / | } |"
fi
