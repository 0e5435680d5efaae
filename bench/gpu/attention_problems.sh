# attention_problems.sh - the problems of bench/gpu/attention.sh, one copy, sourced by it
# and by prepare_attention.sh so that the bundles and the runs name the same problems.
# Prefill: bf16, 32 heads, head dim 128, seqlen S with batch 65536 / S (about 64k tokens
# a problem), causal and not. Decode: bf16, one new query (causal: it sees the whole
# cache), 32 query heads over 8 KV heads, head dim 128, batch B, SK keys.
PREFILL_SEQLENS="1024 4096 16384"
PREFILL_TOKENS=65536
DECODE_BATCHES="1 16 64"
DECODE_KV="4096 32768"

prefill_name() { echo "prefill_s$1$([ "$2" = 1 ] && echo _causal)"; }
prefill_args() { # SEQLEN CAUSAL
  echo "--dtype bf16 --batch $((PREFILL_TOKENS / $1)) --heads 32 --seqlen $1 --head-dim 128" \
    "$([ "$2" = 1 ] && echo --causal)"
}
# Speculative decoding's verification step (BATCH:SK:SQ): 16 sequences each adding 4
# tokens (3 drafts and one of the target's) over a 4k cache, the decode problem with 16
# rows a KV head that attn_decode_mma is for (SIMT's arithmetic is about its bound there).
DECODE_SPEC="16:4096:4"
decode_name() { echo "decode_b$1_k$2$([ "${3:-1}" != 1 ] && echo "_q$3")"; }
# Batch 64 x 8 KV heads x 32k keys x 128 is 2^31 elements, one past the op's int limit
# (attn_problem_check): that problem runs with one page less, 32,752 keys.
decode_sk() { # BATCH SK
  if [ $(( $1 * 8 * $2 * 128 )) -gt 2147483647 ]; then echo $(( $2 - 16 )); else echo "$2"; fi
}
decode_args() { # BATCH SK [SQ]
  echo "--dtype bf16 --decode --batch $1 --heads 32 --kv-heads 8 --kv-seqlen $(decode_sk "$1" "$2")" \
    "--seqlen ${3:-1} --head-dim 128"
}
# every decode problem as BATCH SK SQ lines: the grid of one-query steps, then DECODE_SPEC
decode_problems() {
  for b in $DECODE_BATCHES; do for k in $DECODE_KV; do echo "$b $k 1"; done; done
  for s in $DECODE_SPEC; do echo "$s" | tr : ' '; done
}
