#!/usr/bin/env bash
# gemm_tma.sh - the first GPU check of templates/common/at_tma.h and templates/gemm/gemm_tma.h
# (NOT YET RUN: prepared in a session without a GPU). One device call on an H100/H200
# machine, from the repository root, with the build carried or made there
# (scripts/build.sh), results under OUT (default $OUT):
#  1. the TMA unit tests and the GEMM template's tests (host emulation, NVRTC/nvcc for
#     sm_90a), to see the machine's toolkit agrees with the one they were written on;
#  2. `autotune gemm` on the GPU for 4096^3 f16 in NT (both operands K-major) and NN (B
#     N-major: the MN-major boxes), 16 x 4096 x 4096 NT (decode) and 1024^3 NT (64
#     tiles of 128 x 128 for 132 SMs: where split-K / stream-K, SCHED 1-3, should win
#     over SCHED 0; the trials' configs say which SCHED won): gemm_tma and
#     gemm_wgmma (the cp.async baseline) each with a budget of 32 variants besides their
#     defaults, every measured variant verified against the reference first, with the
#     tensor maps from the driver's cuTensorMapEncodeTiled (meas_cuda's tmap_encode); the
#     run prints per template the best time and TFLOP/s and the speed-up over gemm_naive,
#     all measured in the same run, and writes --json summaries.
# A failure to verify is a trial with status verify_failed in OUT/tma.db (sqlite3 OUT/tma.db
# "select status, count(*) from trials group by status" says how many).
#
#   bash bench/gpu/gemm_tma.sh [OUT_DIR]     (about 8 minutes on 16 cores)
set -uo pipefail
out=${1:-${OUT:?give OUT_DIR}}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin="$here/build"
status=0
echo "== device"; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
echo "== 1. unit tests"
for t in test_tma test_gemm_tma test_gemm_tma_sk; do
  "$bin/$t" --jobs 4 > "$out/$t.txt" 2>&1 || status=1
  tail -1 "$out/$t.txt"
done
echo "== 2. gemm_tma and gemm_wgmma on this GPU"
dev=$(nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200 && echo h200 || echo h100)
for p in "NT 4096 4096 4096" "NN 4096 4096 4096" "NT 16 4096 4096" "NT 1024 1024 1024"; do
  set -- $p
  "$bin/autotune" gemm --device "$dev" --template gemm_tma --template gemm_wgmma \
    --dtype f16 --layout "$1" --m "$2" --n "$3" --k "$4" --budget 32 --strategy model \
    --db "$out/tma.db" --json > "$out/gemm_$1_$2.json" 2> "$out/gemm_$1_$2.txt" || status=1
  cat "$out/gemm_$1_$2.txt" | tail -12
done
command -v sqlite3 > /dev/null &&
  sqlite3 "$out/tma.db" "select k.template, t.status, count(*) from trials t join kernels k on k.id = t.kernel_id group by 1, 2" |
  tee "$out/statuses.txt"
exit $status
