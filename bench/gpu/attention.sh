#!/usr/bin/env bash
# attention.sh - attention on an H200 through the product (`autotune attention --bundle`
# and its tuning database, no side harness), against PyTorch's SDPA in the same run; one
# device call of at most 8 minutes (bench/gpu/prepare_attention.sh builds the carry
# folder here first: the GPU node has no LLVM). Steps, each with its own time limit; a
# failed step is said and the rest go on:
#  1. the GPU (nvidia-smi, `autotune devices --json`);
#  2. prefill, bf16 hd128, 32 heads, seqlen 1k/4k/16k at 64k tokens, causal and not:
#     `autotune attention --bundle` per problem, every trial into one database;
#  3. decode, bf16 hd128, 32 query / 8 KV heads, one query, batch 1/16/64, SK 4k/32k, and
#     a speculative-decoding step (batch 16, 4 queries, SK 4k):
#     `autotune attention --decode --bundle` per problem, the same database;
#  4. attention_sdpa.py: the device-to-device copy bandwidth (the memory ceiling,
#     measured now), SDPA's flash and cuDNN backends on the prefill problems and SDPA
#     (enable_gqa) on the decode problems, against the best time each problem has in the
#     database: a markdown table (summary.md) with the device.
#
#   bash bench/gpu/attention.sh [CARRY=.carry-attention] [OUT=$OUT]
#   bash bench/gpu/attention.sh --dry-run [CARRY]   # here: the commands and their checks
set -uo pipefail
cd "$(dirname "$0")/../.."
DRY=0
if [ "${1:-}" = --dry-run ]; then
  DRY=1
  shift
fi
C=${1:-.carry-attention}
O=${2:-${OUT:-/tmp/attention-out}}
. bench/gpu/attention_problems.sh
mkdir -p "$O"
export LD_LIBRARY_PATH="$PWD/$C/lib:${LD_LIBRARY_PATH:-}"
export AUTOTUNE_LIBCLANG=             # as on a GPU node without LLVM
export AUTOTUNE_CACHE_DIR="$(mktemp -d)" # the bundles are the only cache
A="$PWD/$C/bin/autotune"
DB="$O/attention.db"
LOG="$O/log.txt"
: >"$LOG"
step() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$LOG"; }
run() { # TIMEOUT CMD...: run (or, dry, check the bundle is there and say it), log, say a failure
  local t=$1; shift
  if [ $DRY = 1 ]; then
    local b
    b=$(printf '%s\n' "$@" | grep -A1 -x -- --bundle | tail -1)
    [ -f "$b/bundle.json" ] && echo "   ok: $b/bundle.json" | tee -a "$LOG" ||
      echo "   missing: $b/bundle.json" | tee -a "$LOG"
    echo "   would run (limit ${t}s): $*" | tee -a "$LOG"
    # the arguments as the product parses them: exit 2 is bad input; here, with no GPU,
    # a good command line stops at the device instead
    local err rc
    err=$(timeout 60 "$@" 2>&1 >/dev/null); rc=$?
    err=${err%%$'\n'*}
    if [ "$rc" = 2 ]; then
      echo "   BAD ARGUMENTS (exit 2): $err" | tee -a "$LOG"
    else
      echo "   arguments accepted (exit $rc here: $err)" | tee -a "$LOG"
    fi
    return 0
  fi
  timeout -k 10 "$t" "$@" >>"$LOG" 2>&1; local rc=$?
  [ $rc -eq 0 ] || echo "   step failed: exit $rc ($*)" | tee -a "$LOG"
  return 0
}
[ -x "$A" ] || { echo "autotune: no $A (run bench/gpu/prepare_attention.sh first)" >&2; exit 2; }

step "1. the GPU"
if [ $DRY = 0 ]; then
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv >>"$LOG" 2>&1
  timeout 60 "$A" devices --json >"$O/devices.json" 2>>"$LOG" || echo "   devices failed" | tee -a "$LOG"
fi

# Limits: 6 prefill x 30 s + 7 decode x 20 s + SDPA 120 s = 7.3 minutes at most, inside the
# 8 of one device call (PREFILL_LIMIT, DECODE_LIMIT and SDPA_LIMIT, in seconds, override
# them: h200.sh shrinks them to the time its call has left); a prefill variant at 16k may
# run ~0.1-1 s a launch, so a short timing budget. A step cut short keeps the trials it
# recorded, and the tensor-core templates go first so that it has measured them (a SIMT
# variant of a 16k prefill may take a second a launch).
PT="--template attn_wgmma --template attn_mma --template attn_simt"
DT="--template attn_decode_mma --template attn_decode --template attn_wgmma --template attn_mma"
DT="$DT --template attn_simt"
step "2. prefill from bundles"
for s in $PREFILL_SEQLENS; do
  for c in 0 1; do
    # shellcheck disable=SC2046,SC2086
    run "${PREFILL_LIMIT:-30}" "$A" attention --bundle "$C/$(prefill_name "$s" "$c")" --device h200 \
      $(prefill_args "$s" "$c") $PT --variant-time 0.3 --timeout 12 --db "$DB"
  done
done

step "3. decode from bundles"
while read -r b k q; do
  # shellcheck disable=SC2046,SC2086
  run "${DECODE_LIMIT:-20}" "$A" attention --bundle "$C/$(decode_name "$b" "$k" "$q")" \
    --device h200 $(decode_args "$b" "$k" "$q") $DT --variant-time 0.1 --timeout 8 --db "$DB"
done < <(decode_problems)

step "4. SDPA and the summary"
if [ $DRY = 1 ]; then
  python3 bench/gpu/attention_sdpa.py --dry-run "$DB" | tee "$O/summary.md"
else
  PYTHONUNBUFFERED=1 timeout -k 10 "${SDPA_LIMIT:-120}" python3 bench/gpu/attention_sdpa.py \
    "$DB" >"$O/summary.md" 2>>"$LOG" || echo "   the SDPA step failed (see log.txt)" |
    tee -a "$LOG"
  cat "$O/summary.md"
fi
step "done"
