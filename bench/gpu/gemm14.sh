#!/usr/bin/env bash
# gemm14.sh - issue 13's benchmark through the product, one device call (under 8 minutes):
#  1. `autotune gemm --bundle` on the fourteen problems (bench/gpu/prepare_gemm14.sh built
#     the bundles here): the squares NN in f16 and bf16, the Llama-3-8B prefill and decode
#     problems bf16 NT; recorded in one database;
#  1b. the product's own winner and its measured median per problem (`autotune query`,
#     winners.md: decode in GB/s, whether or not its launcher builds in step 3);
#  2. `autotune emit-header gemm --mode kernels --device h200` from that database;
#  3. nvcc builds bench/gpu/gemm14_bench.cu with that header: each winner checked
#     against cuBLASLt, then timed against cuBLASLt's default heuristic and its own
#     search over the top heuristic algorithms, in the same program;
#  3a. 1024^3 f16 once more without the L2 flush (ours and cuBLASLt warm: is the ~20 us
#     there a cold start?);
#  3b. ncu's counters (ncu.txt) of 4096^3 and 1024^3 f16, each alone: the winner's kernel
#     and cuBLASLt's (speed of light, warp states, scheduler, memory); at 1024^3 the
#     kernel's own duration against the product's event timing tells whether the ~20 us
#     floor measured there is the kernel or the timing around it;
#  4. the tables (winners.md, gemm14.md) and the logs under $OUT.
# Each step has its own time limit, each variant 8 s (a hung TMA pipeline is killed and
# recorded as such, not waited on for the default minute); a failed step is said and the
# rest go on (the harness calls the header's _ws launchers with a zeroed workspace of _workspace_size bytes; a
# header that does not build is emitted again without the two newest templates' winners,
# gemm_skinny and gemm_tma; without any header, step 3 still times cuBLASLt alone).
#
#   bash bench/gpu/gemm14.sh [CARRY=.carry-gemm14] [OUT=$OUT]
set -uo pipefail
cd "$(dirname "$0")/../.."
C=${1:-.carry-gemm14}
O=${2:-${OUT:-/tmp/gemm14-out}}
. bench/gpu/lib.sh
gpu_setup "$C" "$O" gemm14.db
rm -f /tmp/gemm14_bench

step "1. autotune gemm from bundles (squares f16 and bf16 NN, Llama bf16 NT)"
# the newest templates first: a step cut short by its limit has measured them
T="--template gemm_tma --template gemm_skinny --template gemm_wgmma --template gemm_mma --template gemm_simt"
for dt in f16 bf16; do
  # shellcheck disable=SC2086
  run 70 "$A" gemm --bundle "$C/gemm_$dt" --dtype "$dt" --layout NN --shapes "$C/squares.txt" \
    $T --timeout 8 --db "$DB"
done
# shellcheck disable=SC2086
run 110 "$A" gemm --bundle "$C/gemm_llama" --dtype bf16 --layout NT --shapes "$C/llama.txt" \
  $T --timeout 8 --db "$DB"

step "1b. the product's own winners (autotune query: its measured median per problem)"
: >"$O/winners.jsonl"
while read -r m n k; do
  for dt in f16 bf16; do
    timeout 20 "$A" query gemm --device h200 --db "$DB" --dtype $dt --layout NN --m $m --n $n \
      --k $k --json >>"$O/winners.jsonl" 2>>"$LOG"
  done
done <"$C/squares.txt"
while read -r m n k; do
  timeout 20 "$A" query gemm --device h200 --db "$DB" --dtype bf16 --layout NT --m $m --n $n \
    --k $k --json >>"$O/winners.jsonl" 2>>"$LOG"
done <"$C/llama.txt"
python3 - "$O/winners.jsonl" >"$O/winners.md" 2>>"$LOG" <<'PY'
import json, sys
print("| problem | dtype layout | winner (the product's timing) | us | TFLOP/s | GB/s (A, B, C once) |")
print("|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    w = json.loads(line)
    if w.get("match") != "exact":
        continue
    m, n, k = w["dims"]["m"], w["dims"]["n"], w["dims"]["k"]
    us = w["time_median_us"]
    gbs = 2.0 * (m * k + k * n + m * n) / (us * 1e-6) / 1e9
    print(f"| {m}x{n}x{k} | {w['dtype']} {w['layout']} | {w['kernel']} | {us:.1f} | "
          f"{w['tflops']:.0f} | {gbs:.0f} |")
PY

step "2. emit-header from this database"
export AUTOTUNE_TEMPLATES="$PWD/$C/gemm_llama/templates" AUTOTUNE_CACHE_DIR="$PWD/$C/gemm_llama/cache"
run 20 "$A" emit-header gemm --device h200 --db "$DB" --mode kernels --out "$O/tuned_h200.h"

step "3. nvcc, the winners against cuBLASLt"
NV="nvcc -std=c++17 -gencode=arch=compute_90a,code=sm_90a -O2"
INC="-isystem $C/gemm_llama/templates -isystem $C/gemm_llama/templates/common -I$O"
if [ -s "$O/tuned_h200.h" ]; then
  run 90 $NV $INC -DTUNED_HEADER='"tuned_h200.h"' bench/gpu/gemm14_bench.cu -lcublasLt \
    -o /tmp/gemm14_bench
fi
if [ ! -x /tmp/gemm14_bench ] && [ -s "$O/tuned_h200.h" ]; then
  # A header that does not build: again without the newest templates' winners
  # (gemm_skinny, gemm_tma), so that the other problems still compare.
  echo "   the header did not build: again without gemm_skinny's and gemm_tma's winners" | tee -a "$LOG"
  run 30 "$A" emit-header gemm --device h200 --db "$DB" --mode kernels \
    --kernel gemm_simt,gemm_mma,gemm_wgmma,gemm_naive --out "$O/tuned_h200_noskinny.h"
  run 90 $NV $INC -DTUNED_HEADER='"tuned_h200_noskinny.h"' bench/gpu/gemm14_bench.cu \
    -lcublasLt -o /tmp/gemm14_bench
fi
if [ ! -x /tmp/gemm14_bench ]; then
  echo "   no header build: cuBLASLt alone" | tee -a "$LOG"
  run 120 $NV -DGEMM14_NO_HEADER bench/gpu/gemm14_bench.cu -lcublasLt -o /tmp/gemm14_bench
fi
timeout 60 /tmp/gemm14_bench >"$O/gemm14.md" 2>&1 ||
  echo "   the bench failed or found wrong results (see gemm14.md)" | tee -a "$LOG"

step "3a. 1024^3 f16 again with the inputs left in L2 (GEMM14_WARM): a cold-start floor?"
if [ -x /tmp/gemm14_bench ]; then
  GEMM14_ONLY=0 GEMM14_WARM=1 timeout -k 5 30 /tmp/gemm14_bench >"$O/gemm14_warm.md" 2>&1 ||
    echo "   the warm 1024^3 run failed (see gemm14_warm.md)" | tee -a "$LOG"
fi

step "3b. ncu: the 1024^3 and 4096^3 f16 winners and cuBLASLt's, hardware counters"
# problem i alone (GEMM14_ONLY); ours picked by name (the header's kernels are
# at_tuned_gemm_v*), cuBLASLt's as the process's first kernel (its default algorithm's
# first warm-up: memsets and copies are no kernels to ncu); counters by replay, clocks
# left alone (METHOD.md). 1024^3: the kernel's own duration against the product's ~20 us
# there tells the kernel from the timing around it.
if command -v ncu >/dev/null && [ -x /tmp/gemm14_bench ]; then
  : >"$O/ncu.txt"
  for only in 0 2; do # 1024^3 first: the open question
    for who in ours cublaslt; do
      sel="--launch-count 1"
      [ "$who" = ours ] && sel="--kernel-name regex:at_tuned --launch-count 1"
      echo "==== problem $only (2: 4096^3 f16, 0: 1024^3 f16), $who" >>"$O/ncu.txt"
      # shellcheck disable=SC2086
      GEMM14_ONLY=$only timeout -k 5 45 ncu --clock-control none $sel \
        --section SpeedOfLight --section WarpStateStats --section SchedulerStats \
        --section MemoryWorkloadAnalysis /tmp/gemm14_bench >>"$O/ncu.txt" 2>&1 ||
        echo "   ncu ($only, $who) failed or ran out of time (see ncu.txt)" | tee -a "$LOG"
    done
  done
fi

step "4. the tables"
cat "$O/winners.md" "$O/gemm14.md"
step "done"
