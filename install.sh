#!/usr/bin/env bash
# install.sh — installs exactly the Debian packages pmklcfs needs to build,
# test and run. Idempotent; safe to re-run. Needs root (or sudo).
#
#   ./install.sh            build + runtime + test dependencies
#
# Packages (why each):
#   build-essential cmake ninja-build pkg-config   toolchain (C++20, CMake+Ninja)
#   libfuse3-dev fuse3                              FUSE low-level API + fusermount3/mount helper
#   librocksdb-dev                                  the store
#   libspdlog-dev                                   logging (stderr / syslog)
#   libzstd-dev libxxhash-dev                       generic codec, block checksums (xxh3)
#   libcli11-dev                                    the pmklc CLI
#   libgtest-dev                                    unit tests
#   libsystemd-dev                                  sd_notify for Type=notify units
#   libtorch-dev                                    trains the static models (never in encode/decode)
#   attr                                            getfattr/setfattr used by mount tests
#   rsync                                           mount tests copy trees with rsync
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(build-essential cmake ninja-build pkg-config
      libfuse3-dev fuse3 librocksdb-dev libspdlog-dev
      libzstd-dev libxxhash-dev libcli11-dev libgtest-dev libsystemd-dev
      libtorch-dev attr rsync samtools munge slurm-wlm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install.sh: all ${#PKGS[@]} packages present"
