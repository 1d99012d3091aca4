#!/usr/bin/env bash
# bench/distributed.sh — archiving through work units (issue #20): export,
# workers, ingest, against a local pass over a copy of the same store, in
# one run.
#
#   bench/distributed.sh [BUILD_DIR] [PROFILE] [SHARDS] [COPIES]
#     (the distributed pass is exported with --references off, to compare
#     it with the local pass; a second export of a copy plans references,
#     for its cost)
#     Defaults: build, max, 2 (workers run side by side, one thread each),
#     1 (COPIES: each eval and collection genome is copied in that many
#     times, for more group values to ingest)
#
# Prints: export, each worker and ingest (seconds, MB/s of file data; ingest
# also MB/s of group values), both ways an unmounted store ingests (SST
# files ingested at once, the default, and one WriteBatch a group, as a
# mounted store's daemon does, into a copy), the local `pmklc archive -j
# SHARDS --references off` of a copy, and whether the stores hold the same
# bytes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
profile=${2:-max}
shards=${3:-2}
copies=${4:-1}
pmklc=$build/pmklc
[ -x "$pmklc" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
corpus=${PMKLC_CORPUS:-/tmp/pmklc-bench-corpus}
"$root/../shared/data/corpus" "$corpus" eval collection >/dev/null
files=()
while IFS=$'\t' read -r name role _; do
  [[ $name == \#* || -z $name ]] && continue
  case $role in eval|collection) files+=("$corpus/$name.fa") ;; esac
done < "$root/../shared/data/corpus.tsv"
work=$(mktemp -d /var/tmp/pmklc-dist.XXXXXX)
cleanup() { fusermount3 -u "$work/mnt" 2>/dev/null || true; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

mkdir -p "$work/mnt"
"$pmklc" mount "$work/store" "$work/mnt" -o log_level=warn,archive_delay=3600
total=0
for c in $(seq 1 "$copies"); do
  for f in "${files[@]}"; do
    cp "$f" "$work/mnt/c$c-$(basename "$f")"
    total=$((total + $(stat -c %s "$f")))
  done
done
sync
fusermount3 -u "$work/mnt"; sleep 1
cp -a "$work/store" "$work/local"
cp -a "$work/store" "$work/refs-store"

t0=$(now); "$pmklc" archive -p "$profile" -j "$shards" --references off "$work/local" >/dev/null; t1=$(now)
t_local=$(secs "$t0" "$t1")
t0=$(now); "$pmklc" archive "$work/store" -p "$profile" --references off --export "$work/job" --shards "$shards" >/dev/null; t1=$(now)
t_export=$(secs "$t0" "$t1")
# The same export planning references (the default): what the planner costs there.
t0=$(now); "$pmklc" archive "$work/refs-store" -p "$profile" --export "$work/refs-job" --shards "$shards" -j "$(nproc)" > "$work/refs-export.txt"; t1=$(now)
t_export_r=$(secs "$t0" "$t1")
unit_bytes=$(du -sb "$work/job/units" | cut -f1)
t0=$(now)
for i in $(seq 0 $((shards - 1))); do
  ( s0=$(now); "$pmklc" archive --work "$work/job" --shard "$i/$shards" > "$work/w$i.txt"; s1=$(now); secs "$s0" "$s1" > "$work/w$i.time" ) &
done
wait
t1=$(now)
t_work=$(secs "$t0" "$t1")
cp -a "$work/store" "$work/store-b"
sync
t0=$(now); "$pmklc" archive "$work/store" --ingest "$work/job" --ingest-as files > "$work/ingest.txt"; t1=$(now)
t_ingest=$(secs "$t0" "$t1")
sync
t0=$(now); "$pmklc" archive "$work/store-b" --ingest "$work/job" --ingest-as batches > "$work/ingest-b.txt"; t1=$(now)
t_ingest_b=$(secs "$t0" "$t1")
values=$("$pmklc" stat --json "$work/store" | field "['tiers']['archived']['stored_bytes']")
local_values=$("$pmklc" stat --json "$work/local" | field "['tiers']['archived']['stored_bytes']")
b_values=$("$pmklc" stat --json "$work/store-b" | field "['tiers']['archived']['stored_bytes']")
fsck=$("$pmklc" fsck "$work/store" | tail -1)

echo "## bench/distributed.sh, $(date -u +%F), $(nproc) cores, profile $profile, $shards shards, eval + collection x $copies ($total bytes)"
echo
echo "| step | seconds | MB/s of file data | notes |"
echo "|---|---|---|---|"
awk -v t="$t_local" -v n="$total" -v j="$shards" 'BEGIN { printf "| local `pmklc archive -j %d --references off` (a copy) | %s | %.2f | |\n", j, t, n / t / 1e6 }'
awk -v t="$t_export" -v n="$total" -v u="$unit_bytes" 'BEGIN { printf "| export, `--references off` | %s | %.1f | %d bytes of units |\n", t, n / t / 1e6, u }'
awk -v t="$t_export_r" -v n="$total" -v r="$(sed 's/^[^:]*: exported //; s/ into .*//' "$work/refs-export.txt")" 'BEGIN { printf "| export planning references (the default) | %s | %.1f | %s |\n", t, n / t / 1e6, r }'
for i in $(seq 0 $((shards - 1))); do
  echo "| worker $i (one thread) | $(cat "$work/w$i.time") | | $(cat "$work/w$i.txt" | sed 's/.*: coded/coded/') |"
done
awk -v t="$t_work" -v n="$total" 'BEGIN { printf "| all workers, side by side | %s | %.2f | |\n", t, n / t / 1e6 }'
awk -v t="$t_ingest" -v n="$total" -v v="$values" 'BEGIN { printf "| ingest, SST files (`--ingest-as files`, the default) | %s | %.1f | %.1f MB/s of group values (%d bytes) |\n", t, n / t / 1e6, v / t / 1e6, v }'
awk -v t="$t_ingest_b" -v n="$total" -v v="$values" -v f="$t_ingest" 'BEGIN { printf "| ingest, one WriteBatch a group (`--ingest-as batches`, as a mount) | %s | %.1f | %.1f MB/s of group values; files take %.2fx its time |\n", t, n / t / 1e6, v / t / 1e6, f / t }'
echo
echo "ingest (files): $(sed 's/^[^:]*: //' "$work/ingest.txt" | head -1)"
echo "ingest (batches): $(sed 's/^[^:]*: //' "$work/ingest-b.txt" | head -1)"
echo "stored group values: distributed $values, batches $b_values, local $local_values ($([ "$values" = "$local_values" ] && [ "$b_values" = "$local_values" ] && echo same || echo DIFFERENT))"
echo "fsck: $fsck"
[ "$values" = "$local_values" ] && [ "$b_values" = "$local_values" ]
