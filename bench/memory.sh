#!/usr/bin/env bash
# bench/memory.sh — the mount daemon's resident memory under random writes,
# against its own memory budget (README §Memory), in the same run.
#
#   bench/memory.sh FSX [BUILD_DIR] [OPS] [-- MOUNT_OPTIONS]
#
# FSX is xfstests' fsx (built by hand in /tmp; not part of this project).
# One mount (default options unless given), fsx runs OPS (default 100000)
# random operations on one 8 MiB file; the daemon's RSS is sampled every
# 5 s, during and 20 s after the run. Prints a table of the samples and
# the peak as a fraction of the budget that `pmklc stat --json` reports.
set -euo pipefail
fsx=${1:?usage: bench/memory.sh FSX [BUILD_DIR] [OPS] [-- MOUNT_OPTIONS]}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${2:-$root/build}
ops=${3:-100000}
opts=archive_delay=3600
if [ "${4:-}" = "--" ] && [ -n "${5:-}" ]; then opts=$5; fi
pmklc=$build/pmklc
[ -x "$pmklc" ] && [ -x "$fsx" ] || { echo "need $pmklc and $fsx" >&2; exit 1; }

work=$(mktemp -d /var/tmp/pmklc-mem.XXXXXX)
mnt=$work/mnt; store=$work/store
mkdir -p "$mnt"
cleanup() { fusermount3 -u "$mnt" 2>/dev/null || true; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
"$pmklc" mount "$store" "$mnt" -o "$opts"
pid=$(pgrep -nf "pmklc mount $store") || { echo "no daemon" >&2; exit 1; }
rss() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }

echo "| time (s) | RSS (MiB) | phase |"
echo "|---|---|---|"
start=$(date +%s)
"$fsx" -q -N "$ops" -l 8388608 -S 7 "$mnt/f" > "$work/fsx.log" 2>&1 &
fsx_pid=$!
peak=0
sample() {
  local r; r=$(rss)
  echo "| $(( $(date +%s) - start )) | $r | $1 |"
  peak=$(awk -v a="$peak" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
}
while kill -0 "$fsx_pid" 2>/dev/null; do sample "fsx running"; sleep 5; done
wait "$fsx_pid" || { echo "fsx failed:" >&2; tail -5 "$work/fsx.log" >&2; exit 1; }
for _ in 1 2 3 4; do sleep 5; sample "after the run"; done
budget=$("$pmklc" stat --json "$store" | grep -o '"memory_budget_bytes":[0-9]*' | cut -d: -f2)
echo
echo "fsx: $(tail -1 "$work/fsx.log")"
awk -v p="$peak" -v b="$budget" -v o="$ops" -v opt="$opts" 'BEGIN {
  printf "| ops | options | peak RSS | budget | peak / budget |\n|---|---|---|---|---|\n"
  printf "| %d | %s | %.1f MiB | %.0f MiB | %.3f |\n", o, opt, p, b / 1048576, p * 1048576 / b }'
