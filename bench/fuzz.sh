#!/usr/bin/env bash
# fuzz.sh - run every libFuzzer target (fuzz/README.md) for a number of executions and
# report, per target, the executions done, the seconds, the rate, the coverage and the
# crashes (a crash leaves its input as build-fuzz/artifacts/<target>/crash-*).
#
#   bench/fuzz.sh [-n RUNS] [-s SEED] [-j JOBS] [TARGET ...]   RUNS per target (1000000)
#   bench/fuzz.sh --smoke                                        CI: a short fixed-seed pass
#
# The checked-in corpus (fuzz/corpus/<name>/) is read, never written: new inputs go to
# build-fuzz/corpus/<name>/. Targets: expr pragma jsonl shapes options (all by default).
# -j: targets run at once (1). --smoke runs each with -seed=1 and a few thousand runs
# sized to a few seconds, for `ctest -R fuzz_smoke` (under 60 s with the build); it
# exits 77 (ctest: skipped) with the reason when no clang has libFuzzer. Exit 1 when a
# target crashed or failed to build.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-$root/build-fuzz}
runs=1000000 seed=1 jobs=1 smoke=0 targets=()
while (($#)); do
  case $1 in
  -n) runs=$2; shift 2 ;;
  -s) seed=$2; shift 2 ;;
  -j) jobs=$2; shift 2 ;;
  --smoke) smoke=1; shift ;;
  -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
  *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(expr pragma jsonl shapes options)

# runs of the smoke pass: a few seconds each on one loaded core
declare -A smoke_runs=([expr]=20000 [pragma]=600 [jsonl]=1500 [shapes]=10000 [options]=50000)
declare -A max_len=([expr]=4096 [pragma]=4096 [jsonl]=8192 [shapes]=1024 [options]=1024)

if [[ -n ${FUZZ_SKIP:-} ]]; then
  echo "fuzz.sh: skipped: $FUZZ_SKIP"
  exit 77
fi
names=()
for t in "${targets[@]}"; do names+=("fuzz_$t"); done
FUZZ_TARGETS="${names[*]}" "$root/fuzz/build.sh" "$out"
rc=$?
if ((rc == 3)); then
  echo "fuzz.sh: skipped: no clang with libFuzzer here (fuzz/build.sh says why above)"
  exit 77
elif ((rc)); then
  echo "fuzz.sh: a target failed to build" >&2
  exit 1
fi

run_one() {
  local t=$1 n=$runs log=$out/logs/$t.log
  ((smoke)) && n=${smoke_runs[$t]}
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t" "$out/logs"
  local dict=() corpus=("$out/corpus/$t")
  [[ -f $root/fuzz/$t.dict ]] && dict=(-dict="$root/fuzz/$t.dict")
  [[ -d $root/fuzz/corpus/$t ]] && corpus+=("$root/fuzz/corpus/$t")
  local scratch=
  if ((smoke)); then # a fixed pass: new inputs go to a scratch folder, dropped after
    scratch=$(mktemp -d)
    corpus[0]=$scratch
  fi
  local start=$SECONDS
  "$out/fuzz_$t" -runs="$n" -seed="$seed" -max_len="${max_len[$t]}" -timeout=30 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
    "${dict[@]}" "${corpus[@]}" >"$log" 2>&1
  local code=$? secs=$((SECONDS - start))
  [[ -n $scratch ]] && rm -rf "$scratch"
  local done execs cov crashes
  done=$(grep -E '^Done [0-9]+ runs' "$log" | tail -1)
  execs=$(grep -E 'stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
  [[ -n $execs ]] || execs=$(echo "$done" | awk '{print $2}')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  crashes=$(ls "$out/artifacts/$t" 2>/dev/null | grep -cE '^(crash|leak|timeout|oom)-')
  local rate=0
  ((secs > 0)) && rate=$((${execs:-0} / secs))
  printf '%-8s %10s execs %6ss %8s/s  cov %-6s crashes %s  exit %s\n' "$t" "${execs:-?}" \
    "$secs" "$rate" "${cov:-?}" "$crashes" "$code" | tee "$out/logs/$t.summary"
  ((code == 0))
}

failed=0
if ((jobs > 1)); then
  pids=()
  for t in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= jobs)); do wait -n; done
    run_one "$t" >/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  for t in "${targets[@]}"; do cat "$out/logs/$t.summary"; done
else
  for t in "${targets[@]}"; do run_one "$t" || failed=1; done
fi
if ((failed)); then
  echo "fuzz.sh: a target crashed or failed: see $out/logs/ and $out/artifacts/" >&2
  exit 1
fi
