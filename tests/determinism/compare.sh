#!/usr/bin/env bash
# compare.sh A B [FILE...] — runs two builds of codec_digest (different -march
# flavours) on the same inputs and fails unless both print the same lines
# (same container bytes for every input and profile, all round trips ok).
set -euo pipefail
a=$1 b=$2
shift 2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$a" "$@" > "$out/a"
"$b" "$@" > "$out/b"
cat "$out/a"
if ! diff -u "$out/a" "$out/b"; then
  echo "FAIL: the two codec builds ($a, $b) wrote different bytes" >&2
  exit 1
fi
echo "identical: $(basename "$a") and $(basename "$b"), $(wc -l < "$out/a") (input, profile) pairs"
