#!/usr/bin/env bash
# fullspace.sh - compile EVERY valid variant of each GEMM template for each arch it
# targets (issue 5's compile sweep): gemm_mfma for gfx942 (mi300x) and gfx90a (mi250x),
# gemm_mma for sm_90 (h100) and sm_80 (a100), gemm_wgmma for sm_90a (h100), gemm_simt for
# all four; f16, NN, the default 4096^3 problem. Prints per pair: valid variants, ok / pruned / compile errors,
# variants that spill, and the occupancy distribution of the ok ones. Compiles go
# through the disk cache, so a second run is fast. Long: hours on 2 cores cold.
#
#   bench/fullspace.sh [BUILD_DIR] [OUT_DIR] [JOBS]
set -eu   # no pipefail: a grep with no match (no spills) is a count of 0, not a failure
build=${1:-build}
out=${2:-bench/results/fullspace}
jobs=${3:-$(nproc)}
bin="$build/autotune"
mkdir -p "$out"
pairs="gemm_mfma:mi300x gemm_mfma:mi250x gemm_mma:h100 gemm_mma:a100 gemm_wgmma:h100
gemm_simt:mi300x gemm_simt:mi250x gemm_simt:h100 gemm_simt:a100"
printf '%-10s %-7s %-7s %6s %6s %7s %7s %7s  %s\n' template device arch valid ok pruned c.err spills \
  "occupancy of ok variants (value: count)"
for p in $pairs; do
  t=${p%%:*} d=${p##*:}
  j="$out/$t-$d.json"
  "$bin" generate "templates/gemm/$t.h" --device "$d" --dim TA=0 --dim TB=0 --dtype f16 \
    --compile --jobs "$jobs" --json > "$j.tmp" && mv "$j.tmp" "$j"
  arch=$(grep -o '"target":"[^"]*"' "$j" | head -1 | cut -d'"' -f4) # sm_90a for gemm_wgmma
  valid=$(grep -o '"valid":[0-9]*' "$j" | head -1 | cut -d: -f2)
  ok=$(grep -o '"status":"ok"' "$j" | wc -l)
  pruned=$(grep -o '"status":"pruned"' "$j" | wc -l)
  cerr=$(grep -o '"status":"compile_error"' "$j" | wc -l)
  # spills: NVIDIA spill_bytes > 0, AMD vgpr_spills/sgpr_spills > 0
  spills=$(grep -o '"spill_bytes":[0-9-]*,"vgpr_spills":[0-9-]*,"sgpr_spills":[0-9-]*' "$j" |
    awk -F'[:,]' '$2 > 0 || $4 > 0 || $6 > 0' | wc -l)
  occ=$(grep -o '"status":"ok"[^}]*"occupancy":[0-9.]*' "$j" | grep -o '"occupancy":[0-9.]*' |
    cut -d: -f2 | awk '{printf "%.2f\n", $1}' | sort -n | uniq -c |
    awk '{printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1}')
  printf '%-10s %-7s %-7s %6s %6s %7s %7s %7s  %s\n' "$t" "$d" "$arch" "$valid" "$ok" "$pruned" \
    "$cerr" "$spills" "$occ"
done
