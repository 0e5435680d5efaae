#!/usr/bin/env bash
# test.sh - the whole test suite, twice: a normal build (build/) with warnings as errors,
# then the Sanitize build (build-san/, AddressSanitizer + UndefinedBehaviorSanitizer).
# Fails on the first failing build or test.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# One compile cache for both passes (tests/helpers.h, th_cache_dir): fresh, so the normal
# pass compiles every variant itself; the Sanitize pass reads those compiles back.
AT_TEST_CACHE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/autotune-test-cache.XXXXXX")
export AT_TEST_CACHE_DIR
trap 'rm -rf "$AT_TEST_CACHE_DIR"' EXIT

echo "== normal build =="
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== sanitize build (ASan + UBSan) =="
cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=Sanitize -DAT_WERROR=ON >/dev/null
cmake --build build-san
# (the sanitizer options each test runs with are set in CMakeLists.txt, AT_TEST_SAN_ENV)
ctest --test-dir build-san --output-on-failure -j "$jobs"
echo "== all tests passed =="
