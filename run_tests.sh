#!/usr/bin/env bash
# run_tests.sh — installs dependencies, builds, and runs every test:
# unit tests (GoogleTest) and tests on real FUSE mounts (need root and /dev/fuse;
# they skip with a message otherwise). Genome tests lay out real genomes with
# ../shared/data/corpus when it exists.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
./install.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPMKLC_TESTS=ON
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure --timeout 1500 "$@"
