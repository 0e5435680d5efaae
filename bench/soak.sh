#!/usr/bin/env bash
# soak.sh - issue 15's concurrency soak: on one tuning database, for MINUTES minutes,
# 8 tuners (`autotune gemm --device host`, small shapes and budgets, one after another
# in each of 8 loops), one importer (`db import` of a fresh 5,000-trial export each
# round) and 2 readers (query, db stats, db export,
# now and then db check). At the end it prints what the tuners said they recorded
# against what the database holds, the imports' counts, and every lock abort or other
# failure, then runs db check. Exit 0 when nothing was lost, nothing aborted and the
# database is healthy.
#
#   bench/soak.sh [MINUTES] [BUILD_DIR] [WORK_DIR]
#
# MINUTES defaults to 2 (fractions work: 0.5). WORK_DIR (default: a fresh temporary
# folder) keeps the database and each process's log. SOAK_IMPORT sets the trials per
# import (5000; 200000 holds a writer for tens of seconds, as issue 15's import did).
set -u
minutes=${1:-2}
build=${2:-build}
work=${3:-$(mktemp -d "${TMPDIR:-/tmp}/autotune-soak-XXXXXX")}
bin="$build/autotune"
[ -x "$bin" ] || { echo "soak.sh: $bin: not built (scripts/build.sh)" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/autotune
mkdir -p "$work/logs"
db="$work/soak.db"
export AUTOTUNE_CACHE_DIR="$work/cache"
end=$(( $(date +%s) + $(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }') ))
"$bin" db init --db "$db" >/dev/null || exit 1

# A fresh export of n trials of one new run: new uuids every round, so each import adds
# them all and holds the write lock as long as a real one.
make_export() { # round n file
  awk -v r="$1" -v n="$2" 'BEGIN {
    srand(r * 7919 + 17);
    printf "{\"autotune_jsonl\":1,\"schema\":2}\n";
    run = sprintf("%08x%024x", r, 1);
    printf "{\"type\":\"run\",\"uuid\":\"%s\",\"host\":\"soak\",\"started_at\":\"2026-12-03T00:00:00Z\",\"ended_at\":\"2026-12-03T00:00:01Z\",\"toolchain\":null,\"driver\":null,\"autotune_version\":\"0.1.0\",\"strategy\":\"soak\",\"args\":\"bench/soak.sh\"}\n", run;
    for (i = 0; i < n; i++)
      printf "{\"type\":\"trial\",\"uuid\":\"%08x%024x\",\"run\":\"%s\",\"device\":\"mi300x\",\"arch\":\"gfx942\",\"vendor\":\"amd\",\"kernel\":\"gemm_mfma\",\"kernel_hash\":\"soak\",\"op\":\"gemm\",\"dtype\":\"f16\",\"layout\":\"NN\",\"dims\":{\"m\":%d,\"n\":%d,\"k\":4096},\"config\":\"BM=%d,BN=%d\",\"status\":\"ok\",\"time_median_us\":%.3f,\"time_min_us\":null,\"time_max_us\":null,\"time_spread\":null,\"repetitions\":5,\"tflops\":null,\"gbps\":null,\"registers\":null,\"spills\":null,\"shared_bytes\":null,\"occupancy\":null,\"message\":null,\"created_at\":\"2026-12-03T00:00:00Z\"}\n",
        r, i + 2, run, 64 * (1 + i % 97), 64 * (1 + int(i / 97) % 31), 16 * (1 + i % 13), i, 10 + rand() * 100;
  }' > "$3"
}

tuner() { # id
  local id=$1 i=0 log="$work/logs/tuner$1.log"
  while [ "$(date +%s)" -lt "$end" ]; do
    i=$((i + 1))
    local m=$(( 16 * (1 + (id * 7 + i) % 6) )) n=$(( 16 * (1 + (id + i * 3) % 5) ))
    echo "== tuner $id round $i: --m $m --n $n --k 32" >> "$log"
    "$bin" gemm --device host --m "$m" --n "$n" --k 32 --budget 1 --jobs 1 --seed "$i" \
      --db "$db" >> "$log" 2>&1
    echo "== exit $?" >> "$log"
  done
}

importer() {
  local r=0 log="$work/logs/importer.log"
  while [ "$(date +%s)" -lt "$end" ]; do
    r=$((r + 1))
    make_export "$r" "${SOAK_IMPORT:-5000}" "$work/import.jsonl"
    echo "== import round $r" >> "$log"
    "$bin" db import --db "$db" --json "$work/import.jsonl" >> "$log" 2>&1
    echo "== exit $?" >> "$log"
  done
}

reader() { # id
  local id=$1 i=0 log="$work/logs/reader$1.log"
  while [ "$(date +%s)" -lt "$end" ]; do
    i=$((i + 1))
    for cmd in "query gemm --device host --dtype f32 --m 32 --n 32 --k 32" "db stats" \
               "db export --out $work/reader$id.jsonl" \
               "query gemm --device mi300x --dtype f16 --m 1000 --n 300 --k 4096"; do
      echo "== reader $id: $cmd" >> "$log"
      $bin $cmd --db "$db" > /dev/null 2>> "$log"
      echo "== exit $?" >> "$log"
    done
    if [ $((i % 10)) = 0 ]; then
      echo "== reader $id: db check" >> "$log"
      "$bin" db check --db "$db" >> "$log" 2>&1
      echo "== exit $?" >> "$log"
    fi
  done
}

echo "soak: $minutes min on $db (host device): 8 tuners, 1 importer" \
  "(${SOAK_IMPORT:-5000} trials an import), 2 readers"
t0=$(date +%s)
pids=""
for id in 1 2 3 4 5 6 7 8; do tuner "$id" & pids="$pids $!"; done
importer & pids="$pids $!"
reader 1 & pids="$pids $!"
reader 2 & pids="$pids $!"
wait $pids
wall=$(( $(date +%s) - t0 ))

# Tuners print "run UUID in DB: N trials recorded"; imports print their counts as JSON.
printed=$(cat "$work"/logs/tuner*.log | sed -n 's/.*: \([0-9][0-9]*\) trials\{0,1\} recorded.*/\1/p' |
          awk '{ s += $1 } END { print s + 0 }')
runs=$(grep -c '^== tuner' "$work"/logs/tuner*.log | awk -F: '{ s += $2 } END { print s }')
tuner_fail=$(grep -h '^== exit' "$work"/logs/tuner*.log | grep -vc '^== exit 0$')
imported=$(grep -ho '"trials_added":[0-9]*' "$work/logs/importer.log" | cut -d: -f2 |
           awk '{ s += $1 } END { print s + 0 }')
imports=$(grep -c '^== import' "$work/logs/importer.log")
import_fail=$(grep '^== exit' "$work/logs/importer.log" | grep -vc '^== exit 0$')
reads=$(grep -hc '^== reader' "$work"/logs/reader*.log | awk '{ s += $1 } END { print s }')
# a query that finds nothing tuned yet exits 1 by design: not a failure of the reader
read_fail=$(grep -h '^autotune:' "$work"/logs/reader*.log | grep -vc 'no tuned')
locks=$(grep -hil 'locked' "$work"/logs/*.log | wc -l)
lock_lines=$(grep -hi 'locked' "$work"/logs/*.log | wc -l)
stored_tuner=$("$bin" db export --db "$db" | grep -c '"type":"trial".*"device":"host"')
stored_all=$("$bin" db stats --db "$db" --json | grep -o '"trials":[0-9]*' | cut -d: -f2)
"$bin" db check --db "$db" > "$work/check.log" 2>&1
check=$?

echo "wall:                 ${wall} s"
echo "tuner runs:           $runs ($tuner_fail exited non-zero)"
echo "trials printed:       $printed (by the tuners)"
echo "trials stored:        $stored_tuner (host device trials in the database)"
echo "imports:              $imports ($import_fail failed), $imported trials added"
echo "trials in database:   $stored_all (= stored + imported: $((stored_tuner + imported)))"
echo "reader commands:      $reads ($read_fail failed)"
echo "lock aborts:          $lock_lines lines saying 'locked', in $locks logs"
echo "db check:             $(cat "$work/check.log") (exit $check)"
echo "logs:                 $work/logs"
[ "$printed" = "$stored_tuner" ] && [ "$stored_all" = $((stored_tuner + imported)) ] &&
  [ "$tuner_fail" = 0 ] && [ "$import_fail" = 0 ] && [ "$read_fail" = 0 ] &&
  [ "$lock_lines" = 0 ] && [ "$check" = 0 ]
