#!/bin/sh
# sweep.sh - the full compile sweep of templates/gemm/gemm_mfma.h: every valid variant of
# the f16 space (4096^3, layout TT: the CLI's dims start at 1) for mi300x (gfx942) and
# mi250x (gfx90a), compiled with clang-hip, one JSON report per device in $OUT (default
# .). Usage: tests/data/gemm_mfma/sweep.sh [path/to/autotune] (run from the source root;
# the test_gemm_mfma compile tests take a sample of what this compiles).
set -eu
AT=${1:-build/autotune}
OUT=${OUT:-.}
for dev in mi300x mi250x; do
  start=$(date +%s)
  "$AT" generate templates/gemm/gemm_mfma.h --device "$dev" --dim TA=1 --dim TB=1 \
    --dtype f16 --compile --no-cache --json >"$OUT/sweep_$dev.json" 2>"$OUT/sweep_$dev.err" ||
    echo "autotune failed for $dev: $?"
  echo "$dev: $(($(date +%s) - start)) s"
done
