#!/usr/bin/env bash
# build.sh - configure and build autotune in build/ (Release with debug info, warnings
# as errors). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAT_WERROR=ON "$@" >/dev/null
cmake --build build
