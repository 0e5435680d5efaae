#!/usr/bin/env bash
# attn_mfma_sweep.sh - issue 14's full sweep of templates/attention/attn_mfma.h: every
# valid variant (not the CI sample) of each problem group of tests/test_attn_mfma.c run on
# the host device emulating gfx942 (f16) and gfx90a (bf16) over the group's problems and
# checked by the op, and every valid variant of the D = 128 causal GQA 32/8 space compiled
# with clang for gfx942 and gfx90a, each variant's VGPRs, AGPRs, LDS and waves per CU
# printed. It is test_attn_mfma with AT_ATTN_MFMA_FULL=1, one part per test so that a part
# that is done (its log ends in Criterion's synthesis) is skipped when the script runs
# again. Hours on two shared cores; compiles are cached in AUTOTUNE_CACHE_DIR.
#
#   bench/attn_mfma_sweep.sh [BUILD_DIR] [OUT_DIR]
#
# AT_ATTN_MFMA_GROUPS=3,5 (problem groups), AT_ATTN_MFMA_PSPLIT=1 (one PSPLIT) and
# AT_ATTN_MFMA_EVERY=N (every N-th config, N odd) in the environment narrow the emulation
# parts to a sample (bench/results/2026-12-04-attn-mfma-psplit.md).
#
# Exit 0 when every part passed.
set -eu
build=${1:-build}
out=${2:-bench/results/attn-mfma-sweep}
bin="$build/test_attn_mfma"
[ -x "$bin" ] || { echo "attn_mfma_sweep.sh: $bin: not built (cmake --build $build --target test_attn_mfma)" >&2; exit 2; }
mkdir -p "$out"
export AT_ATTN_MFMA_FULL=1
export AUTOTUNE_CACHE_DIR=${AUTOTUNE_CACHE_DIR:-$HOME/.cache/autotune}
rc=0
for part in sweep_gfx90a_bf16 sweep_gfx942_f16 sample_compiles_for_gfx942 sample_compiles_for_gfx90a; do
  log="$out/$part.log"
  if [ -f "$log" ] && grep -q 'Synthesis: Tested: 1 | Passing: 1' "$log"; then
    echo "$part: done before"
  else
    start=$(date +%s)
    nice -n 10 "$bin" --jobs 1 --filter "attn_mfma/$part" >"$log" 2>&1 || true
    echo "$part: $(( $(date +%s) - start )) s"
  fi
  grep -E '^attn_mfma .*(runs|variants)' "$log" || true
  grep -q 'Synthesis: Tested: 1 | Passing: 1' "$log" || { echo "$part: FAILED (see $log)"; rc=1; }
done
exit $rc
