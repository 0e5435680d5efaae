#!/usr/bin/env bash
# prepare_h200.sh - here, before a lease: what bench/gpu/h200.sh carries. prepare_gemm14.sh
# and prepare_attention.sh, then two explore bundles inside .carry-gemm14 (its binary):
#   explore_tma/: gemm_tma alone, bf16 NN, 4096^3 and 8192^3, TMA_BUDGET random variants
#                 a problem (seed 1): which of its parameters pay on the chip;
#   explore_dec/: every template that fits the decode problems (bf16 NT, M = 1, 16, 64,
#                 N = K = 4096), DEC_BUDGET random variants a template and problem.
# Both go into .carry-h200/carry.tgz, the one folder h200.sh's device call carries.
#
#   bash bench/gpu/prepare_h200.sh [TMA_BUDGET=96] [DEC_BUDGET=24]
set -euo pipefail
cd "$(dirname "$0")/../.."
tb=${1:-96}
db=${2:-24}
C=.carry-gemm14
bash bench/gpu/prepare_gemm14.sh "$C"
bash bench/gpu/prepare_attention.sh .carry-attention
printf '4096 4096 4096\n8192 8192 8192\n' >"$C/explore_tma.txt"
printf '1 4096 4096\n16 4096 4096\n64 4096 4096\n' >"$C/explore_dec.txt"
echo "--strategy random --budget $tb --seed 1" >"$C/explore_tma.args"
echo "--strategy random --budget $db --seed 1" >"$C/explore_dec.args"
# shellcheck disable=SC2046
build/autotune bundle gemm --device h200 --dtype bf16 --layout NN --shapes "$C/explore_tma.txt" \
  --template gemm_tma $(cat "$C/explore_tma.args") --out "$C/explore_tma"
# shellcheck disable=SC2046
build/autotune bundle gemm --device h200 --dtype bf16 --layout NT --shapes "$C/explore_dec.txt" \
  $(cat "$C/explore_dec.args") --out "$C/explore_dec"
# raw they are over the device tool's 64 MiB (about 70); gzip holds them in about 20
rm -rf .carry-h200 && mkdir -p .carry-h200
tar czf .carry-h200/carry.tgz "$C" .carry-attention
du -sh "$C" .carry-attention .carry-h200
