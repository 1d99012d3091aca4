#!/usr/bin/env bash
# quickstart.sh — install, build, create and mount a default pmklcfs store,
# copy a real genome in, read it back and print the stored size.
#
#   STORE=~/.local/share/pmklcfs/default   (override with PMKLC_STORE)
#   MOUNT=~/pmklcfs                        (override with PMKLC_MOUNT)
#
# The genome is Escherichia coli 536 (NC_008253, 5.0 MB), taken from Debian's
# bowtie-examples package so nothing outside Debian's archive is needed.
# The mount stays up afterwards; unmount with: fusermount3 -u ~/pmklcfs
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
./install.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target pmklc
PMKLC=$PWD/build/pmklc

STORE=${PMKLC_STORE:-$HOME/.local/share/pmklcfs/default}
MOUNT=${PMKLC_MOUNT:-$HOME/pmklcfs}
mkdir -p "$(dirname "$STORE")" "$MOUNT"
if ! mountpoint -q "$MOUNT"; then
  "$PMKLC" mount "$STORE" "$MOUNT"
fi
echo "mounted $STORE on $MOUNT"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sandbox=(); [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
( cd "$work" && apt-get download "${sandbox[@]}" bowtie-examples >/dev/null )
dpkg-deb -x "$work"/bowtie-examples_*.deb "$work/x"
gunzip -c "$work/x/usr/share/doc/bowtie/examples/genomes/NC_008253.fna.gz" > "$work/ecoli_536.fa"

cp "$work/ecoli_536.fa" "$MOUNT/ecoli_536.fa"
sync "$MOUNT/ecoli_536.fa"
orig=$(md5sum < "$work/ecoli_536.fa" | cut -c1-32)
back=$(md5sum < "$MOUNT/ecoli_536.fa" | cut -c1-32)
echo "md5 written:   $orig"
echo "md5 read back: $back"
[ "$orig" = "$back" ] || { echo "MISMATCH"; exit 1; }
"$PMKLC" stat "$STORE"
echo "OK: genome stored and read back identical. Unmount with: fusermount3 -u $MOUNT"
