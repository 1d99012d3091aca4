#!/usr/bin/env bash
# bench/follow.sh — read-only followers (issue #20 item 5): a writer mount
# and a `-o ro_follow=SECONDS` mount of the same store on this machine.
#
#   bench/follow.sh [BUILD_DIR] [SECONDS] [TRIALS]
#     Defaults: build, 1, 20
#
# Prints, in one run:
#  - how long a file written and fsync'ed on the writer takes to appear,
#    whole, through the follower (TRIALS files of lambda, 49 KB; polled
#    every 20 ms), against the interval;
#  - what one catch-up costs (the follower's own log: the open of a new
#    view, and moving its loaded inodes over);
#  - a whole read (md5sum) of the eval genomes through the follower against
#    the same read through the writer, each from a fresh mount (the fast
#    tier: both decode the same blocks), and whether the bytes are the same.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
interval=${2:-1}
trials=${3:-20}
pmklc=$build/pmklc
[ -x "$pmklc" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
"$root/../shared/data/corpus" "$corpus" eval train >/dev/null
files=()
while IFS=$'\t' read -r name role _; do
  [[ $name == \#* || -z $name ]] && continue
  [ "$role" = eval ] && files+=("$corpus/$name.fa")
done < "$root/../shared/data/corpus.tsv"
work=$(mktemp -d /var/tmp/pmklc-follow.XXXXXX)
cleanup() {
  fusermount3 -u "$work/fol" 2>/dev/null || true
  fusermount3 -u "$work/mnt" 2>/dev/null || true
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
mkdir -p "$work/mnt" "$work/fol"
"$pmklc" mount "$work/store" "$work/mnt" -o log_level=warn,archive_delay=3600
total=0
for f in "${files[@]}"; do
  cp "$f" "$work/mnt/"
  total=$((total + $(stat -c %s "$f")))
done
sync
"$pmklc" mount -f "$work/store" "$work/fol" -o "ro_follow=$interval,log_level=debug" 2> "$work/follower.log" &
for _ in $(seq 1 100); do mountpoint -q "$work/fol" && break; sleep 0.1; done
sleep "$((interval + 1))"

# 1. visibility
lat=()
want=$(md5sum < "$corpus/lambda.fa" | cut -c1-32)
for t in $(seq 1 "$trials"); do
  t0=$(now)
  cp "$corpus/lambda.fa" "$work/mnt/v$t.fa"
  sync "$work/mnt/v$t.fa"
  until [ -f "$work/fol/v$t.fa" ] && [ "$(md5sum < "$work/fol/v$t.fa" | cut -c1-32)" = "$want" ]; do sleep 0.02; done
  lat+=("$(secs "$t0" "$(now)")")
  sleep "0.$((RANDOM % 10))"
done
read -r p50 p90 max < <(printf '%s\n' "${lat[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%s %s %s\n", v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)], v[NR] }')

# 2. catch-up cost, from the follower's log
grep -o 'opened in [0-9.]* ms, [0-9]* loaded inode(s) moved over in [0-9.]* ms' "$work/follower.log" |
  awk '{ print $3, $11 }' | sort -n > "$work/catchups.txt"
read -r opens open_p50 open_max move_max < <(awk '{ o[NR] = $1; m = ($2 > m ? $2 : m) } END { printf "%d %s %s %s\n", NR, o[int((NR + 1) / 2)], o[NR], m }' "$work/catchups.txt")

# 3. whole reads, each through a fresh mount
fusermount3 -u "$work/fol"; wait || true
fusermount3 -u "$work/mnt"; sleep 1
"$pmklc" mount "$work/store" "$work/mnt" -o log_level=warn,archive_delay=3600
t0=$(now); ( cd "$work/mnt" && md5sum $(for f in "${files[@]}"; do basename "$f"; done) ) > "$work/w.md5"; t_w=$(secs "$t0" "$(now)")
"$pmklc" mount "$work/store" "$work/fol" -o "ro_follow=$interval"
t0=$(now); ( cd "$work/fol" && md5sum $(for f in "${files[@]}"; do basename "$f"; done) ) > "$work/f.md5"; t_f=$(secs "$t0" "$(now)")
same=$(cmp -s "$work/w.md5" "$work/f.md5" && echo same || echo DIFFERENT)

echo "## bench/follow.sh, $(date -u +%F), $(nproc) cores, ro_follow=$interval, $trials trials"
echo
echo "| measure | result |"
echo "|---|---|"
echo "| written + fsync'ed on the writer → read whole through the follower | p50 ${p50} s, p90 ${p90} s, max ${max} s (interval ${interval} s; bound interval + 5 s) |"
echo "| catch-ups that opened a new view | $opens: open p50 ${open_p50} ms, max ${open_max} ms; moving the loaded inodes over at most ${move_max} ms |"
awk -v n="$total" -v a="$t_w" -v b="$t_f" 'BEGIN { printf "| md5sum of the eval genomes (%d bytes), fresh mounts | writer %.2f s (%.0f MB/s), follower %.2f s (%.0f MB/s): follower %.2fx the writer'"'"'s time |\n", n, a, n / a / 1e6, b, n / b / 1e6, b / a }'
echo "| bytes through both | $same |"
[ "$same" = same ]
