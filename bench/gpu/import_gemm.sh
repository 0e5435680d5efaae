#!/usr/bin/env bash
# import_gemm.sh - turn what gemm_gpu measured on a GPU (its --json output: one line per
# variant, verified or not, median time) into trials of a tuning database, so that the
# rest of autotune (query, emit-header) sees them like any tuning run's. Only verified
# variants become trials (status ok, time_median_us); a variant the harness could not
# verify is left out, not recorded as a kernel failure. The kernel hash is the current
# template's: run this from the tree the measured cubins were compiled from.
#
#   bench/gpu/import_gemm.sh GEMM_JSONL DB DEVICE DATE [BUILD_DIR]
#   e.g. bench/gpu/import_gemm.sh bench/results/.../gemm.jsonl h100.db h100 2026-11-26T23:45:00Z
set -euo pipefail
in=${1:?gemm.jsonl}; db=${2:?database}; device=${3:?device profile}; when=${4:?ISO date}
build=${5:-build}
bin="$build/autotune"
arch=$("$bin" devices --json | grep -o "\"name\":\"$device\",[^}]*" | grep -o '"arch":"[^"]*"' |
  head -1 | cut -d'"' -f4)
[ -n "$arch" ] || { echo "import_gemm: unknown device $device" >&2; exit 2; }
hash_of() {
  "$bin" generate "templates/gemm/$1.h" --device "$device" --stats --json |
    grep -o '"hash":"[^"]*"' | head -1 | cut -d'"' -f4
}
mma=$(hash_of gemm_mma) simt=$(hash_of gemm_simt) wgmma=$(hash_of gemm_wgmma)
run=$(printf '%s' "$in $when" | md5sum | cut -c1-32)
tmp=$(mktemp)
{
  echo '{"autotune_jsonl":1,"schema":1}'
  printf '{"type":"run","uuid":"%s","host":"%s","started_at":"%s","ended_at":"%s","toolchain":"nvrtc 13.0","driver":null,"autotune_version":"%s","strategy":"bench/gpu/gemm_gpu","args":"measured on %s by bench/gpu/gemm_gpu; imported from %s by bench/gpu/import_gemm.sh"}\n' \
    "$run" "gpu" "$when" "$when" "$("$bin" --version | cut -d' ' -f2)" "$device" "$(basename "$(dirname "$in")")/$(basename "$in")"
  grep '"verified":true' "$in" | while read -r line; do
    variant=$(printf '%s' "$line" | grep -o '"variant":"[^"]*"' | cut -d'"' -f4)
    config=$(printf '%s' "$line" | grep -o '"config":"[^"]*"' | cut -d'"' -f4)
    m=$(printf '%s' "$line" | grep -o '"m":[0-9]*' | cut -d: -f2)
    n=$(printf '%s' "$line" | grep -o '"n":[0-9]*' | cut -d: -f2)
    k=$(printf '%s' "$line" | grep -o '"k":[0-9]*' | cut -d: -f2)
    us=$(printf '%s' "$line" | grep -o '"median_us":[0-9.e+-]*' | cut -d: -f2)
    layout=$(printf '%s' "$line" | grep -o '"layout":"[A-Z]*"' | cut -d'"' -f4)
    layout=${layout:-NN} # gemm_gpu wrote no layout before it took NT/TN/TT: NN
    case "$variant" in
      at_gemm_mma_*) kernel=gemm_mma hash=$mma ;;
      at_gemm_simt_*) kernel=gemm_simt hash=$simt ;;
      at_gemm_wgmma_*) kernel=gemm_wgmma hash=$wgmma ;;
      *) continue ;;
    esac
    uuid=$(printf '%s' "$run $variant $m $n $k" | md5sum | cut -c1-32)
    tflops=$(awk -v m="$m" -v n="$n" -v k="$k" -v us="$us" 'BEGIN {printf "%.6g", 2*m*n*k/(us*1e6)}')
    printf '{"type":"trial","uuid":"%s","run":"%s","device":"%s","arch":"%s","vendor":"nvidia","kernel":"%s","kernel_hash":"%s","op":"gemm","dtype":"f16","layout":"%s","dims":{"m":%s,"n":%s,"k":%s},"config":"%s","status":"ok","time_median_us":%s,"time_min_us":null,"time_max_us":null,"time_spread":null,"repetitions":20,"tflops":%s,"gbps":null,"registers":null,"spills":null,"shared_bytes":null,"occupancy":null,"message":null,"created_at":"%s"}\n' \
      "$uuid" "$run" "$device" "$arch" "$kernel" "$hash" "$layout" "$m" "$n" "$k" "$config" "$us" "$tflops" "$when"
  done
} > "$tmp"
"$bin" db import "$tmp" --db "$db"
rm -f "$tmp"
