#!/usr/bin/env bash
# compile_on_demand.sh - the wall time of a budgeted run on a GPU that is not here,
# today's engine against an earlier commit's, each from an empty compile cache:
#
#   autotune gemm --device h100 --m 4096 --n 4096 --k 4096 --budget 50
#
# Before the one engine (issue 11), a GPU run compiled every valid variant whatever the
# budget; now it compiles the strategy's picks and each template's default. Prints each
# run's wall time, the variants compiled and valid per template, and the ratio. The
# earlier commit is built in a temporary worktree; its run is stopped at --cap seconds
# (then its time is reported as "more than CAP").
#
#   bench/compile_on_demand.sh [--before REV] [--cap SEC] [--build DIR] [-- EXTRA ARGS]
#   (defaults: b018947, the last commit before the engine; 1800 s; build/)
# Compiled for sm_90 (NVRTC) on this machine: nothing is measured on a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
before=b018947 cap=1800 build=build
while [ $# -gt 0 ]; do
  case "$1" in
    --before) before=$2; shift 2 ;;
    --cap) cap=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--before REV] [--cap SEC] [--build DIR] [-- EXTRA ARGS]" >&2; exit 2 ;;
  esac
done
args=(gemm --device h100 --m 4096 --n 4096 --k 4096 --budget 50 --json "$@")
tmp=$(mktemp -d)
cleanup() { git worktree remove --force "$tmp/old" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT

git worktree add -q --detach "$tmp/old" "$before"
echo "building $before in a temporary worktree ..." >&2
cmake -S "$tmp/old" -B "$tmp/old/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAT_TESTS=OFF >/dev/null
cmake --build "$tmp/old/build" --target autotune >/dev/null

# one run: LABEL BINARY -> "seconds status" on stdout, its JSON in $tmp/LABEL.json
run() {
  local label=$1 bin=$2 t0 t1 rc=0
  mkdir -p "$tmp/$label-cache"
  t0=$(date +%s.%N)
  AUTOTUNE_CACHE_DIR="$tmp/$label-cache" timeout "$cap" "$bin" "${args[@]}" \
    --db "$tmp/$label.db" >"$tmp/$label.json" 2>"$tmp/$label.err" || rc=$?
  t1=$(date +%s.%N)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $rc"
}
read -r s_new rc_new < <(run new "$build/autotune")
read -r s_old rc_old < <(run old "$tmp/old/build/autotune")

counts() { # per template: name compiled/valid, from the JSON
  grep -o '"template":"[^"]*"[^{]*"valid":[0-9]*\(,"compiled":[0-9]*\)\?' "$1" |
    sed 's/"template":"\([^"]*\)".*"valid":\([0-9]*\)\(,"compiled":\([0-9]*\)\)\?/\1 \4\/\2/' |
    sed 's/ \//  all\//' | tr '\n' ' '
}
fmt() { [ "$2" = 124 ] && echo "more than $cap s (stopped)" || printf '%.1f s' "$1"; }
echo "autotune ${args[*]} (compiled for sm_90; no GPU here, nothing measured)"
echo "  today ($(git rev-parse --short HEAD)): $(fmt "$s_new" "$rc_new"); compiled/valid: $(counts "$tmp/new.json")"
echo "  before ($before):  $(fmt "$s_old" "$rc_old"); compiled/valid: $(counts "$tmp/old.json")"
if [ "$rc_old" = 124 ]; then
  awk -v c="$cap" -v n="$s_new" 'BEGIN { printf "  ratio: before / today > %.1fx\n", c / n }'
else
  awk -v o="$s_old" -v n="$s_new" 'BEGIN { printf "  ratio: before / today = %.2fx\n", o / n }'
fi
