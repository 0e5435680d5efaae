#!/usr/bin/env bash
# sweep.sh - issue 5's full correctness sweep, in parts that survive being stopped:
# every valid variant of every GEMM template x 7 shapes x 4 layouts x the dtypes it
# takes, run on the host device (bench_gemm_sweep; --emulate for the GPU templates).
# Each part is one bench_gemm_sweep run (a template, a device, one shard of its configs)
# whose output goes to OUT_DIR/<template>-<device>-<i>of<n>.log; a part whose log ends in
# its summary line is done and is skipped, so running the script again goes on where it
# stopped. A part stopped half way starts again from the beginning of that part (its
# compiles are in the disk cache by then). At the end (or when stopped) it prints the
# done parts' summaries and totals.
#
#   bench/sweep.sh [BUILD_DIR] [OUT_DIR] [PART_FILTER]
#
# PART_FILTER, a grep -E pattern, runs only the parts whose name matches
# (e.g. 'gemm_mma-h100'). Exit 0 when every part that ran or was done has failures 0.
set -eu
build=${1:-build}
out=${2:-bench/results/sweep}
only=${3:-.}
bin="$build/bench_gemm_sweep"
[ -x "$bin" ] || { echo "sweep.sh: $bin: not built (scripts/build.sh)" >&2; exit 2; }
mkdir -p "$out"

# template:device(:emulate):shards[:tag:extra,args]. Shards keep a part under about 40
# minutes on 2 cores. gemm_tma (issue 13) is a part per layout and dtype: its TMA boxes
# need 16-byte strides (--aligned shapes), and each of its layouts is some 16,000
# variants, four parts of about 17 minutes each (2026-12-05-tma-sweep.md).
parts="gemm_simt:host::1
gemm_mma:h100:emulate:2
gemm_wgmma:h100:emulate:1
gemm_mfma:mi300x:emulate:4
gemm_mma:a100:emulate:2
gemm_mfma:mi250x:emulate:3"
for l in NT TN NN TT; do
  for dt in bf16 f16; do
    parts+=" gemm_tma:h100:emulate:4:$l-$dt:--aligned,--layouts,$l,--dtypes,$dt"
  done
done

summary_re='^gemm_[a-z]+ on .*[0-9]+ runs, failures [0-9]+'
for p in $parts; do
  IFS=: read -r t d emu n tag extra <<<"$p"
  for ((i = 0; i < n; i++)); do
    name="$t-$d${tag:+-$tag}-${i}of$n"
    echo "$name" | grep -qE "$only" || continue
    log="$out/$name.log"
    if [ -f "$log" ] && tail -3 "$log" | grep -qE "$summary_re"; then
      continue
    fi
    args=("$t")
    if [ "$emu" = emulate ]; then args+=(--emulate "$d"); else args+=(--device "$d"); fi
    [ "$n" -gt 1 ] && args+=(--shard "$i/$n")
    if [ -n "$extra" ]; then
      IFS=, read -r -a more <<<"$extra"
      args+=("${more[@]}")
    fi
    echo "== $name: bench_gemm_sweep ${args[*]} ($(date -u +%H:%M:%S))"
    {
      echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(hostname) $(nproc) CPUs: bench_gemm_sweep ${args[*]}"
      "$bin" "${args[@]}" || true
    } >"$log.tmp" 2>&1
    mv "$log.tmp" "$log"
    tail -2 "$log"
  done
done

echo "== done parts"
fail=0 done_parts=0 runs=0 failures=0
for log in "$out"/*.log; do
  [ -f "$log" ] || continue
  line=$(grep -E "$summary_re" "$log" | tail -1) || continue
  echo "$(basename "$log" .log): $line"
  done_parts=$((done_parts + 1))
  r=$(echo "$line" | sed -E 's/.* = ([0-9]+) runs.*/\1/')
  f=$(echo "$line" | sed -E 's/.*failures ([0-9]+).*/\1/')
  runs=$((runs + r)) failures=$((failures + f))
  [ "$f" -eq 0 ] || fail=1
done
echo "parts done: $done_parts, runs: $runs, failures: $failures"
exit $fail
