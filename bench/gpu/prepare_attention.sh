#!/usr/bin/env bash
# prepare_attention.sh - build here what bench/gpu/attention.sh needs on an H200 node that
# has a driver, PyTorch and no LLVM (the pattern of prepare_product.sh):
#   bin/autotune and lib/ (its shared libraries, not libclang or CUDA);
#   prefill_s<S>[_causal]/: bundles (autotune bundle attention) for the h200 profile, bf16,
#       head dim 128, 32 heads, seqlen S = 1k, 4k, 16k with batch 64k / S (about 64k
#       tokens each), causal and not: the variants `--strategy model --budget N` measures
#       of every attention template that fits a prefill problem (the attention cost
#       model's picks, spread over what it cannot tell apart: docs/search.md);
#   decode_b<B>_k<SK>/: bundles for decode, bf16, 32 query over 8 KV heads, head dim 128,
#       one new query, batch 1, 16, 64, SK 4k and 32k (attn_decode and every other
#       template that fits a decode problem; `--strategy random`: the model barely tells
#       their splits apart).
# Bundles are made with this machine's compile cache, so a second prepare compiles little.
# The carry folder must stay under the device tool's 64 MiB: the budgets bound it.
#
#   bench/gpu/prepare_attention.sh [CARRY=.carry-attention] [PREFILL_BUDGET=8] [DECODE_BUDGET=16]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.carry-attention}
pbudget=${2:-8}
dbudget=${3:-16}
. bench/gpu/attention_problems.sh
. bench/gpu/lib.sh
carry_binary "$out"
A=build/autotune
for s in $PREFILL_SEQLENS; do
  for c in 0 1; do
    # shellcheck disable=SC2046
    "$A" bundle attention --device h200 $(prefill_args "$s" "$c") --strategy model \
      --budget "$pbudget" --out "$out/$(prefill_name "$s" "$c")"
  done
done
decode_problems | while read -r b k q; do
  # shellcheck disable=SC2046
  "$A" bundle attention --device h200 $(decode_args "$b" "$k" "$q") --strategy random \
    --budget "$dbudget" --out "$out/$(decode_name "$b" "$k" "$q")"
done
du -sh "$out" "$out"/*
