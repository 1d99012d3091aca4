#!/usr/bin/env bash
# The layout of docs/architecture.md, checked:
#  1. the non-mount commands (a program of pmklc_cli only) link neither
#     libfuse nor libsystemd, and work: compress, decompress, stat, fsck;
#  2. the mount binary does link libfuse (so check 1 can see it);
#  3. no file in fs/ holds the archiver or the reference planner.
# Usage: check_layout.sh NOFUSE_BIN PMKLC_BIN SOURCE_DIR
set -u
nofuse=$1 pmklc=$2 src=$3
pass=0 fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
if ldd "$nofuse" | grep -Eq 'libfuse|libsystemd'; then
  bad "the non-mount commands link: $(ldd "$nofuse" | grep -Eo 'lib(fuse|systemd)[^ ]*' | tr '\n' ' ')"
else
  ok "the non-mount commands link neither libfuse nor libsystemd"
fi
if ldd "$pmklc" | grep -q libfuse3; then ok "pmklc (mount) links libfuse3"; else bad "pmklc does not link libfuse3?"; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '>x\nACGTACGTTTGACCA\n' > "$tmp/x.fa"
cp "$tmp/x.fa" "$tmp/x.orig"
if "$nofuse" compress "$tmp/x.fa" && rm "$tmp/x.fa" && "$nofuse" decompress "$tmp/x.fa.pmklc" && cmp -s "$tmp/x.fa" "$tmp/x.orig"; then
  ok "compress and decompress run without FUSE"
else
  bad "compress/decompress round trip"
fi
"$nofuse" stat "$tmp/no-store" 2>/dev/null; rc=$?
if [ "$rc" -ne 0 ]; then ok "stat of a missing store fails cleanly ($rc)"; else bad "stat of a missing store succeeded"; fi
if grep -lE 'class (Archiver|RefPlanner|StoreRefs)\b' "$src"/fs/*.h "$src"/fs/*.cc 2>/dev/null; then
  bad "fs/ holds the archiver or the reference planner"
else
  ok "fs/ holds neither the archiver nor the reference planner"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
