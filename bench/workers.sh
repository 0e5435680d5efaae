#!/usr/bin/env bash
# workers.sh - the speed-up of dealing measurement to 2 host workers (--gpus 0,1) over 1
# (--gpus 0), on the same work, measured on this machine's CPU with the SIMT emulator:
#
#   autotune gemm --device host --m 64 --n 64 --k 64 --template gemm_simt \
#     --strategy exhaustive --budget 16 --variant-time 0.1
#
# Both arms use all the CPUs: one worker runs the emulator on every CPU, two workers each
# on half (docs/cluster.md), so the ratio is what dealing whole variants to processes
# gains over splitting one variant's blocks across threads. The compile cache is warmed
# first, so both arms compile nothing; each arm runs REPS times, alternating, each into a
# fresh database, and every run's trial set is checked to be the same. Prints each run's
# wall time, then min and median per arm and their ratio (1 worker / 2 workers).
#
#   bench/workers.sh [--reps N] [--build DIR] [-- EXTRA ARGS]     (defaults: 5, build/)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=5 build=build
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--reps N] [--build DIR] [-- EXTRA ARGS]" >&2; exit 2 ;;
  esac
done
at=$(readlink -f "$build/autotune")
args=(gemm --device host --m 64 --n 64 --k 64 --template gemm_simt --strategy exhaustive
      --budget 16 --variant-time 0.1 "$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export AUTOTUNE_CACHE_DIR="$tmp/cache"
"$at" "${args[@]}" --db "$tmp/warm.db" >/dev/null 2>&1 # the compile cache, warmed

work() { sqlite3 "$1" "SELECT k.template || ' ' || c.text || ' ' || t.status FROM trials t
  JOIN kernels k ON k.id = t.kernel_id JOIN configs c ON c.id = t.config_id ORDER BY 1"; }
want=$(work "$tmp/warm.db")
run() { # ARM N -> seconds
  local db="$tmp/$1-$2.db" t0 t1
  t0=$(date +%s.%N)
  "$at" "${args[@]}" --gpus "$1" --db "$db" >/dev/null 2>&1
  t1=$(date +%s.%N)
  [ "$(work "$db")" = "$want" ] || { echo "workers.sh: --gpus $1 measured other work" >&2; exit 1; }
  echo "$t1 - $t0" | bc -l
}
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f %.2f\n", v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
: > "$tmp/one" ; : > "$tmp/two"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs"
echo "work: ${args[*]} ($(printf '%s\n' "$want" | wc -l) trials)"
for i in $(seq 1 "$reps"); do
  a=$(run 0 "$i"); b=$(run 0,1 "$i")
  echo "$a" >> "$tmp/one"; echo "$b" >> "$tmp/two"
  printf 'rep %d: 1 worker %.2f s, 2 workers %.2f s\n' "$i" "$a" "$b"
done
read -r min1 med1 < <(stats < "$tmp/one")
read -r min2 med2 < <(stats < "$tmp/two")
printf '1 worker:  min %s s, median %s s\n2 workers: min %s s, median %s s\n' "$min1" "$med1" "$min2" "$med2"
printf 'speed-up (1 worker / 2 workers): min %.2fx, median %.2fx\n' \
  "$(echo "$min1 / $min2" | bc -l)" "$(echo "$med1 / $med2" | bc -l)"
