#!/usr/bin/env bash
# prepare_gemm14.sh - build here what bench/gpu/gemm14.sh needs on a GPU node without LLVM:
# bin/autotune and lib/ (lib.sh, carry_binary), and three bundles for the h200 profile
# holding exactly the variants `autotune gemm --strategy model --budget N` measures on
# issue 13's problems (every gemm template that applies: gemm_simt, gemm_mma, gemm_wgmma,
# gemm_tma, gemm_skinny where M <= 64, and the naive baseline), compiled here by NVRTC:
#   gemm_f16/, gemm_bf16/: NN, 1024^3, 2048^3, 4096^3, 8192^3 (squares.txt);
#   gemm_llama/: bf16 NT (the weight N x K, as a model stores it), Llama-3-8B prefill at
#               M = 4096 (N x K = 4096 x 4096, 14336 x 4096, 4096 x 14336) and decode
#               M = 1, 16, 64 at 4096 x 4096 (llama.txt).
#
#   bench/gpu/prepare_gemm14.sh [CARRY=.carry-gemm14] [BUDGET=8]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.carry-gemm14}
budget=${2:-8}
. bench/gpu/lib.sh
carry_binary "$out"
printf '1024 1024 1024\n2048 2048 2048\n4096 4096 4096\n8192 8192 8192\n' >"$out/squares.txt"
printf '4096 4096 4096\n4096 14336 4096\n4096 4096 14336\n1 4096 4096\n16 4096 4096\n64 4096 4096\n' \
  >"$out/llama.txt"
for dt in f16 bf16; do
  build/autotune bundle gemm --device h200 --dtype "$dt" --layout NN --shapes "$out/squares.txt" \
    --strategy model --budget "$budget" --out "$out/gemm_$dt"
done
build/autotune bundle gemm --device h200 --dtype bf16 --layout NT --shapes "$out/llama.txt" \
  --strategy model --budget "$budget" --out "$out/gemm_llama"
du -sh "$out" "$out"/*
