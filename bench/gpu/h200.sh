#!/usr/bin/env bash
# h200.sh - everything a task's one H200 lease should run, as one device call of under
# ten minutes (a start costs a minute or more of the 15, so one call beats several):
#  1. attention.sh (issue 14: prefill and decode through `autotune attention --bundle`,
#     against SDPA), first and in a fixed slice (ATTN_SLICE seconds, 180 unless given):
#     attention has never been measured on a GPU, and in the order gemm14 first the
#     slice it got was whatever gemm14's 400 s left (as little as 125 s: skipped);
#  2. gemm14.sh (issue 13: the fourteen problems through `autotune gemm --bundle`, the
#     header of their winners against cuBLASLt), until EXPLORE_MIN seconds before the
#     deadline (its table comes before its ncu step: a cut takes the counters first);
#  3. while time is left (DEADLINE seconds after the start, 560 unless given): gemm_tma's
#     128 x 256 tile data-parallel, stream-K and hybrid at 4096 x 4096 x 1024, 2048^3 and
#     4096^3 f16 (does stream-K's cost follow its operands out of L2? docs/tma.md); 1024^3
#     f16 tiles of gemm_tma and gemm_wgmma through ring depths 2-8; gemm_tma's
#     128 x 128 tiles shared and taken in turns (PINGPONG) at 4096^3 f16; every config
#     of the first run's winning gemm_tma tile at 4096^3 f16 (its pipeline parameters
#     crossed: --where) and a random search of the decode problems (bf16 NT M = 1, 16,
#     64), from the explore bundles prepare_h200.sh builds (their arguments in
#     explore_*.args), into their own database: data for the next change, not the issue's
#     table.
# STEPS (default "attention gemm14 explore") names the steps to run, in that order: a
# second call of one lease (docs/gpu.md) runs only what the first left or what a change
# after it touched, e.g. STEPS=explore, or STEPS=attention DEADLINE=200.
# Everything lands in /tmp/h200 and then, as at most eight files, in $OUT: all.tgz (every
# log, database, header and table) and the tables and logs in plain text.
#
#   bash bench/gpu/prepare_h200.sh          # here, first
#   device run: bash bench/gpu/h200.sh      # carry .carry-h200 (.carry-gemm14 and
#                                           # .carry-attention in one .tgz); kind
#                                           # nvidia-h200: the device tool's first kind is
#                                           # an H100, which the tuner refuses to measure
#                                           # as h200 (the bundles' device)
#   bash bench/gpu/after_h200.sh FILES_AT   # here, after: the results on one page
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
T0=$SECONDS
DEADLINE=${DEADLINE:-560}
STEPS=" ${STEPS:-attention gemm14 explore} "
want() { [[ "$STEPS" == *" $1 "* ]]; }
O=${OUT:-/tmp/h200-out}
W=/tmp/h200
rm -rf "$W" && mkdir -p "$W" "$O"
left() { echo $((DEADLINE - (SECONDS - T0))); }
say() { echo "== +$((SECONDS - T0))s $*" | tee -a "$W/h200.log"; }

say "0. the carry (one compressed file: the folders raw are over the tool's 64 MiB)"
[ -d .carry-gemm14 ] || tar xzf .carry-h200/carry.tgz || say "no carry: .carry-h200/carry.tgz"
say "0. built from $(cat .carry-gemm14/BUILT_FROM 2>/dev/null || echo '? (a carry older than BUILT_FROM)')"
say "0. the binary on this image"
LD_LIBRARY_PATH=$PWD/.carry-gemm14/lib .carry-gemm14/bin/autotune --version 2>&1 |
  tee -a "$W/h200.log"
LD_LIBRARY_PATH=$PWD/.carry-gemm14/lib ldd .carry-gemm14/bin/autotune >>"$W/h200.log" 2>&1
say "1. attention.sh"
# its own limits (6 x 30 + 7 x 20 + 120 s) shrunk to the slice, SDPA kept whole
L=$((${ATTN_SLICE:-180} < $(left) - 60 ? ${ATTN_SLICE:-180} : $(left) - 60))
if ! want attention; then
  say "attention.sh: not in STEPS"
elif [ "$L" -gt 60 ]; then
  SDPA_LIMIT=$((L * 3 / 10 < 120 ? L * 3 / 10 : 120))
  PREFILL_LIMIT=$(((L - SDPA_LIMIT) * 6 / 10 / 6 < 30 ? (L - SDPA_LIMIT) * 6 / 10 / 6 : 30))
  DECODE_LIMIT=$(((L - SDPA_LIMIT) * 4 / 10 / 7 < 20 ? (L - SDPA_LIMIT) * 4 / 10 / 7 : 20))
  say "attention limits: prefill ${PREFILL_LIMIT} s, decode ${DECODE_LIMIT} s, SDPA ${SDPA_LIMIT} s a step"
  SDPA_LIMIT=$SDPA_LIMIT PREFILL_LIMIT=$PREFILL_LIMIT DECODE_LIMIT=$DECODE_LIMIT \
    timeout -k 10 $((L + 10)) bash bench/gpu/attention.sh .carry-attention "$W/attn" ||
    say "attention.sh: exit $?"
else
  say "attention.sh skipped: $(left) s left"
fi
say "2. gemm14.sh"
G=$(($(left) - ${EXPLORE_MIN:-40}))
want explore || G=$(left)
if ! want gemm14; then
  say "gemm14.sh: not in STEPS"
elif [ "$G" -gt 30 ]; then
  timeout -k 10 "$G" bash bench/gpu/gemm14.sh .carry-gemm14 "$W/gemm" || say "gemm14.sh: exit $?"
else
  say "gemm14.sh skipped: $(left) s left"
fi

say "3. explore"
C=.carry-gemm14
export LD_LIBRARY_PATH="$PWD/$C/lib:${LD_LIBRARY_PATH:-}" AUTOTUNE_LIBCLANG=
AUTOTUNE_CACHE_DIR="$(mktemp -d)"
export AUTOTUNE_CACHE_DIR
X="$W/explore.db"
# explore NAME MIN RESERVE: the explore bundle NAME when more than MIN seconds are left,
# stopped RESERVE seconds before the deadline
explore() {
  [ -d "$C/$1" ] && [ "$(left)" -gt "$2" ] || return 0
  # shellcheck disable=SC2046 # the args file holds several words
  timeout -k 5 $(($(left) - $3)) "$C/bin/autotune" gemm --bundle "$C/$1" --device h200 \
    --shapes "$C/$1.txt" $(cat "$C/$1.args") --timeout 8 --db "$X" \
    >>"$W/explore.log" 2>&1 || say "$1: exit $?"
}
if ! want explore; then
  say "explore: not in STEPS"
elif [ "$(left)" -gt 150 ]; then
  explore explore_sk 90 75
  explore explore_deep 70 50
  explore explore_deepw 65 50
  explore explore_pp 60 45
  explore explore_tma 40 15
  explore explore_dec 30 10
else # what gemm14 left: the ring depths at 1024^3 alone
  explore explore_deep 20 5
fi
say "done"

tar czf "$O/all.tgz" -C /tmp h200 2>/dev/null
for f in gemm/gemm14.md gemm/winners.md gemm/log.txt gemm/ncu.txt attn/summary.md attn/log.txt; do
  [ -f "$W/$f" ] && cp "$W/$f" "$O/$(echo "$f" | tr / _)"
done
cp "$W/h200.log" "$O/"
cat "$W/gemm/winners.md" "$W/gemm/gemm14.md" "$W/attn/summary.md" 2>/dev/null
