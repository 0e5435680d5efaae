#!/usr/bin/env bash
# attn_decode_sweep.sh - the full correctness sweep of templates/attention/attn_decode.h
# (with AT_DECODE_TEMPLATE=attn_decode_mma: of attn_decode_mma.h, f16 and bf16, on the
# host's space and h100's; AT_DECODE_TEMPLATE=attn_decode_mfma: of attn_decode_mfma.h,
# f16 as gfx942 on mi300x's space and bf16 as gfx90a on mi250x's) on the host device
# (emulated; no GPU): every combination of
# decode of 1 and 7 queries, 300 and 4,099 keys, GQA 1:1, 4:1 and 8:1, head dims 64 and
# 128, paged and not, causal and not (96 problems, dtypes and LSE rotating, every fourth
# as gfx942 with waves of 64), each with a sample of configs covering every value of
# every parameter, or with every valid config (--all: hours on two cores). Each variant is launched twice on one
# workspace and checked against an f64 reference (O, LSE, the workspace left zero):
# tests/test_attn_decode.c's full_sweep test, which CI skips. Prints the per-problem
# lines and the total; results go in bench/results/2026-12-03-attn-decode.md by hand.
#
#   bench/attn_decode_sweep.sh [--all] [BUILD=build]
#   AT_DECODE_SMX=1 bench/attn_decode_sweep.sh   (only the configs with SMX=1, the
#                                                 lane-group softmax; 0: only SMX=0)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=full
if [ "${1:-}" = --all ]; then
  mode=all
  shift
fi
build=${1:-build}
cmake --build "$build" --target test_attn_decode >/dev/null
start=$(date +%s)
AT_DECODE_SWEEP=$mode nice -n "${AT_NICE:-10}" "$build/test_attn_decode" --filter 'attn_decode/full_sweep' \
  --verbose --jobs 1 2>&1 | grep -E 'attn_decode(_mma|_mfma)? (host|full)|\[(ERR|FAIL|PASS)' || true
echo "wall: $(( $(date +%s) - start )) s on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
