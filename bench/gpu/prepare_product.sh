#!/usr/bin/env bash
# prepare_product.sh - build here what bench/gpu/product.sh needs to run the product itself
# (`autotune gemm`, `autotune attention`, `emit-header`) on a GPU node that has a driver,
# nvcc, cuBLAS and PyTorch but no LLVM and none of this project's packages:
#   bin/autotune and lib/ (the shared libraries it needs: SQLite, msgpack; no libclang,
#       which it opens only to parse a template, and no CUDA, which it opens at run time);
#   gemm_f16/, gemm_bf16/: bundles (autotune bundle) for the h200 profile and the shapes
#       in shapes.txt, holding exactly the variants `--strategy model --budget N` measures
#       (the picks and each template's default), compiled here by NVRTC for sm_90/sm_90a;
#   attn_1/, attn_2/: bundles for two attention problems (`--strategy random --budget N`).
# Bundles are made with this machine's caches, so a second prepare compiles nothing.
#
#   bench/gpu/prepare_product.sh [CARRY=.carry-product] [BUDGET=16]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.carry-product}
budget=${2:-16}
. bench/gpu/lib.sh
carry_binary "$out"
printf '4096 4096 4096\n8192 8192 8192\n16 4096 4096\n64 8192 8192\n' >"$out/shapes.txt"
A=build/autotune
for dt in f16 bf16; do
  "$A" bundle gemm --device h200 --dtype "$dt" --layout NN --shapes "$out/shapes.txt" \
    --strategy model --budget "$budget" --out "$out/gemm_$dt"
done
"$A" bundle attention --device h200 --batch 4 --heads 32 --seqlen 1024 --head-dim 128 \
  --strategy random --budget "$budget" --out "$out/attn_1"
"$A" bundle attention --device h200 --batch 4 --heads 32 --seqlen 2048 --head-dim 64 \
  --causal --strategy random --budget "$budget" --out "$out/attn_2"
du -sh "$out" "$out"/*
