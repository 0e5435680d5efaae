#!/usr/bin/env bash
# product.sh - the product itself on a GPU node (bench/gpu/prepare_product.sh builds what it
# needs here first; docs/gpu.md says how to repeat it). No side harness: the steps are the
# commands a user runs, from bundles, with no LLVM and no compiler but nvcc for step 4:
#  1. `autotune devices --json`: the GPU detected, against the h200 profile;
#  2. `autotune gemm --bundle` f16 and bf16, NN, on 4096^3, 8192^3, 16x4096x4096 and
#     64x8192x8192, the strategy and budget the bundles were made for (model, 16 a
#     template), recorded in one database with the run's provenance;
#  3. `autotune attention --bundle` on two problems (4x32x1024, d 128; 4x32x2048, d 64,
#     causal);
#  4. `autotune emit-header gemm --mode kernels` from that database, built with nvcc into
#     tuned_gemm_bench, which checks the header's launcher against cuBLAS on five shapes
#     and times both in the same program;
#  5. PyTorch's scaled_dot_product_attention on step 3's problems, against the times step 3
#     recorded (product_sdpa.py);
#  6. the summary (product_summary.py): per problem the best variant, its default, the
#     naive baseline; the ratios to cuBLAS and SDPA; the provenance.
# Every step has its own time limit; a failed step is said and the rest go on.
#
#   bash bench/gpu/product.sh [CARRY=.carry-product] [OUT=$OUT]
set -uo pipefail
cd "$(dirname "$0")/../.."
C=${1:-.carry-product}
O=${2:-${OUT:-/tmp/product-out}}
. bench/gpu/lib.sh
gpu_setup "$C" "$O" product.db

step "1. autotune devices"
timeout 60 "$A" devices --json >"$O/devices.json" 2>>"$LOG" || echo "   devices failed" | tee -a "$LOG"
cat "$O/devices.json" >>"$LOG"

step "2. autotune gemm from bundles (f16, bf16)"
for dt in f16 bf16; do
  run 200 "$A" gemm --bundle "$C/gemm_$dt" --dtype "$dt" --layout NN --shapes "$C/shapes.txt" \
    --db "$DB"
done

step "3. autotune attention from bundles"
run 90 "$A" attention --bundle "$C/attn_1" --batch 4 --heads 32 --seqlen 1024 --head-dim 128 \
  --db "$DB"
run 90 "$A" attention --bundle "$C/attn_2" --batch 4 --heads 32 --seqlen 2048 --head-dim 64 \
  --causal --db "$DB"

step "4. emit-header from this database, nvcc, the header against cuBLAS"
AUTOTUNE_TEMPLATES="$PWD/$C/gemm_f16/templates" AUTOTUNE_CACHE_DIR="$PWD/$C/gemm_f16/cache" \
  run 60 "$A" emit-header gemm --device h200 --db "$DB" --mode kernels --out "$O/tuned_h200.h"
if [ -s "$O/tuned_h200.h" ]; then
  run 180 nvcc -std=c++17 -arch=sm_90a -O2 -isystem "$C/gemm_f16/templates" \
    -isystem "$C/gemm_f16/templates/common" -I"$O" -DTUNED_HEADER='"tuned_h200.h"' \
    bench/gpu/tuned_gemm_bench.cu -lcublas -o /tmp/tuned_gemm_bench
  timeout 120 /tmp/tuned_gemm_bench 4096,4096,4096 8192,8192,8192 16,4096,4096 \
    64,8192,8192 127,129,65 >"$O/header_vs_cublas.txt" 2>&1 ||
    echo "   the header bench failed (see header_vs_cublas.txt)" | tee -a "$LOG"
fi

step "5. SDPA on the attention problems"
PYTHONUNBUFFERED=1 timeout 120 python3 bench/gpu/product_sdpa.py "$DB" >"$O/sdpa.txt" 2>&1 ||
  echo "   the SDPA step failed (see sdpa.txt)" | tee -a "$LOG"

step "6. summary"
python3 bench/gpu/product_summary.py "$DB" "$O/header_vs_cublas.txt" "$O/sdpa.txt" \
  >"$O/summary.md" 2>>"$LOG" || echo "   the summary failed" | tee -a "$LOG"
cat "$O/summary.md"
step "done"
