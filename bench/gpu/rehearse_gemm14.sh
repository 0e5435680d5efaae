#!/usr/bin/env bash
# rehearse_gemm14.sh - here, without a GPU: steps 2 and 3 of gemm14.sh (emit-header, then
# nvcc building gemm14_bench.cu with that header) on a database of planted h200 winners,
# so that the header of gemm_tma and gemm_skinny winners is known to build before a GPU
# is lent (on the GPU a failed build costs the comparison of every problem with those
# winners: gemm14.sh then falls back to the older templates).
#
# One winner per problem of gemm14.sh, taken from `autotune generate`'s valid configs,
# chosen to reach every kind of launch the header can hold: the squares and the prefill
# problems get gemm_tma variants with stream-K, split-K, the hybrid, 2x1 / 1x2 clusters
# with multicast, persistent tiles and the shared-memory epilogue; decode gets gemm_skinny
# (split-K through the workspace, mma and SIMT). The times are planted (no GPU): the
# database only says "this config won"; nothing here is measured.
#
#   bash bench/gpu/rehearse_gemm14.sh [CARRY=.carry-gemm14] [WORK=/tmp/rehearse-gemm14]
# Needs: bench/gpu/prepare_gemm14.sh run first (the templates of the bundle), nvcc with
# cuBLASLt (the CUDA Toolkit); exit 0 when the header builds, 1 when it does not.
set -euo pipefail
cd "$(dirname "$0")/../.."
C=${1:-.carry-gemm14}
W=${2:-/tmp/rehearse-gemm14}
[ -d "$C/gemm_llama/templates" ] || { echo "rehearse_gemm14: run bench/gpu/prepare_gemm14.sh first ($C)" >&2; exit 2; }
NVCC=${CUDA_PATH:-/usr/local/cuda}/bin/nvcc
command -v "$NVCC" >/dev/null || { echo "rehearse_gemm14: no nvcc at $NVCC" >&2; exit 2; }
rm -rf "$W" && mkdir -p "$W"
A=$PWD/build/autotune
export AUTOTUNE_TEMPLATES="$PWD/$C/gemm_llama/templates"

# problem: M N K dtype layout template predicate (python over the config's params)
cat >"$W/problems.txt" <<'EOF'
1024 1024 1024 f16 NN gemm_tma SCHED==2 and CWG==2
2048 2048 2048 f16 NN gemm_tma SCHED==1 and SPLITS==2 and EPI==1
4096 4096 4096 f16 NN gemm_tma CLUSTER==1 and MCAST==1 and BM==128 and BN==256 and CWG==2 and REGS==1
8192 8192 8192 f16 NN gemm_tma PERSIST==1 and RASTER==1 and GROUP==8 and BN==256 and EPI==1
1024 1024 1024 bf16 NN gemm_tma SCHED==3
2048 2048 2048 bf16 NN gemm_tma SCHED==2 and CWG==1 and BM==128
4096 4096 4096 bf16 NN gemm_tma CLUSTER==2 and MCAST==1 and BM==256 and BN==128
8192 8192 8192 bf16 NN gemm_tma BM==128 and BN==256 and STAGES==4 and WAIT==1
4096 4096 4096 bf16 NT gemm_tma CLUSTER==1 and MCAST==0 and EPI==1
4096 14336 4096 bf16 NT gemm_tma PERSIST==1 and BN==256 and CWG==2
4096 4096 14336 bf16 NT gemm_tma SCHED==3 and CWG==2
1 4096 4096 bf16 NT gemm_skinny KSPLIT>1 and MMA==0
16 4096 4096 bf16 NT gemm_skinny KSPLIT>1 and MMA==1
64 4096 4096 bf16 NT gemm_skinny MMA==1
EOF

run_uuid=$(printf 'beef%028d' 0)
{
  echo '{"autotune_jsonl":1,"schema":4}'
  printf '{"type":"run","uuid":"%s","host":"rehearsal","started_at":"2026-12-04T00:00:00Z","ended_at":"2026-12-04T00:00:01Z","toolchain":"nvrtc","driver":"none","autotune_version":"0.1.0","strategy":"planted","args":"bench/gpu/rehearse_gemm14.sh"}\n' "$run_uuid"
} >"$W/planted.jsonl"
i=0
while read -r m n k dt lay tpl pred; do
  ta=0; tb=0; [ "$lay" = NT ] && tb=1
  "$A" generate "$tpl" --device h200 --m "$m" --n "$n" --k "$k" --dim TA=$ta --dim TB=$tb \
    --dtype "$dt" --json >"$W/space.json"
  python3 - "$W/space.json" "$pred" "$m" "$n" "$k" "$dt" "$lay" "$run_uuid" "$i" \
    >>"$W/planted.jsonl" <<'PY'
import json, sys
space, pred, m, n, k, dt, lay, run, i = sys.argv[1:]
s = json.load(open(space))
pick = None
for v in s["variants"]:
    p = {kv.split("=")[0]: int(kv.split("=")[1]) for kv in v["config"].split(",")}
    if eval(pred, {}, p):
        pick = v["config"]
        break
if pick is None:
    sys.exit(f"rehearse_gemm14: no {s['kernel']} config with {pred} for {m}x{n}x{k} {dt} {lay}")
print(json.dumps({"type": "trial", "uuid": "%032x" % (0xbeef0000 + int(i)), "run": run,
                  "device": "h200", "arch": "sm_90", "vendor": "nvidia",
                  "kernel": s["kernel"], "kernel_hash": s["hash"], "op": "gemm", "dtype": dt,
                  "layout": lay, "dims": {"m": int(m), "n": int(n), "k": int(k)},
                  "config": pick, "status": "ok", "time_median_us": 100.0,
                  "time_min_us": 100.0, "time_max_us": 100.0, "repetitions": 5,
                  "created_at": "2026-12-04T00:00:01Z"}))
print(f"  {m}x{n}x{k} {dt} {lay}: {s['kernel']} {pick}", file=sys.stderr)
PY
  i=$((i + 1))
done <"$W/problems.txt"
"$A" db import --db "$W/planted.db" "$W/planted.jsonl"
"$A" emit-header gemm --device h200 --db "$W/planted.db" --mode kernels --out "$W/tuned_h200.h"
if "$NVCC" -std=c++17 -gencode=arch=compute_90a,code=sm_90a -O2 \
  -isystem "$C/gemm_llama/templates" -isystem "$C/gemm_llama/templates/common" -I"$W" \
  -DTUNED_HEADER='"tuned_h200.h"' bench/gpu/gemm14_bench.cu -lcublasLt -o "$W/gemm14_bench" \
  -Xptxas -v 2>"$W/nvcc.log"; then
  echo "rehearse_gemm14: gemm14_bench.cu builds with the header of $i planted winners (compiled for sm_90a)"
  # ptxas -v: per kernel "Compiling entry function", "N bytes spill stores", "Used R registers"
  awk '/Compiling entry function .*at_tuned_gemm/ { k++ } /bytes spill stores/ && k { s += $5 }
       /Used [0-9]+ registers/ && k { r = $5 > r ? $5 : r }
       /serializ/ { w++ }
       END { printf "  ptxas: %d header kernels, at most %d registers, %d spilled bytes, %d serialized-wgmma warnings\n", k, r, s, w }' \
    "$W/nvcc.log"
else
  echo "rehearse_gemm14: the header does not build; $W/nvcc.log:" >&2
  head -30 "$W/nvcc.log" >&2
  exit 1
fi
