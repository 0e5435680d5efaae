#!/usr/bin/env bash
# check.sh - what only a GPU can tell, run on the GPU machine from what prepare.sh built:
#  1. the CUDA measurement backend's tests (load an NVRTC cubin, launch, verify, time,
#     and a planted illegal address reported as a status);
#  2. every variant of the example template, generated and compiled elsewhere, verified
#     and timed on this GPU (scale_run);
#  3. the registers our cubin reader reported for each variant against cuobjdump's;
#  4. PyTorch doing the same arithmetic (y = a*x + b*y) and a plain copy, as a peer and
#     a measured bandwidth ceiling, timed the same way;
#  5. the matrix-core probe: mma.sync m16n8k16 f16/bf16, ldmatrix x1/x2/x4 (.trans), the
#     f16/bf16 conversions and the warp collectives on this GPU against the host
#     emulation of their documented layouts, bit for bit;
#  5b. the wgmma probe: wgmma.mma_async m64nNk16 f16/bf16, N = 64/128/256, every
#     swizzle mode, A and B K-major and MN-major (imm-trans-a/b = 1; 24 tests each), one
#     and two warpgroups, scale-d 0/1, four wgmmas in one group, on this GPU (sm_90)
#     against the integer product and the host emulation, bit for bit;
#  6. the GEMM variants (gemm_mma and gemm_simt, 4096^3 and 16x4096x4096 f16 NN; gemm_wgmma
#     at 4096^3 f16 NT and NN, compiled for sm_90a) each verified against the host
#     reference and cuBLAS, then timed against cuBLAS in the same run (gemm_gpu);
#  7. with prepare.sh's TUNED_DB: a header emit-header wrote from H100 winners, compiled
#     with nvcc, run through its launcher against cuBLAS (tuned_gemm_bench);
#  8. attention: attn_simt variants for four problems checked at a small shape against
#     the host reference and at full size against a reference kernel, timed (attn_gpu),
#     and PyTorch's scaled_dot_product_attention on the same problems;
#  9. a short `autotune gemm` run (NVRTC, this GPU): its run records the driver, the
#     CUDA version, the GPU's name and uuid and its clocks at start and end (NVML), and
#     its ok trials their SM clock; --gpu 99 is refused (exit 2) and creates nothing.
#
#   bash check.sh CARRY_DIR OUT_DIR
set -uo pipefail
carry=${1:?carry dir}; out=${2:?out dir}
# Our libraries for our binaries only: python and nvidia-smi keep the machine's own.
ours() { LD_LIBRARY_PATH="$carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }
status=0
echo "== device"; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
echo "== 1. CUDA backend tests"
ours "$carry/bin/test_meas" --verbose --jobs 1 2>&1 | tee "$out/test_meas.txt" | grep -E "PASS|FAIL|SKIP|Synthesis" || status=1
grep -q "Failing: 0 | Crashing: 0" "$out/test_meas.txt" || status=1
echo "== 2. scale variants on this GPU"
ours "$carry/bin/scale_run" "$carry/scale" --reps 20 --json "$out/scale.jsonl" 2>&1 | tee "$out/scale.txt" || status=1
echo "== 3. registers: our cubin reader vs cuobjdump"
cuobjdump=$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)
if [ -x "$cuobjdump" ]; then
  "$cuobjdump" -res-usage "$carry/scale/scale.cubin" > "$out/cuobjdump.txt" 2>&1
  sed -n 's/^ *Function \(.*\):$/\1/p; s/^ *REG:\([0-9]*\).*/\1/p' "$out/cuobjdump.txt" \
    | paste - - | sort > "$out/regs_cuobjdump.tsv"
  grep -v '^#' "$carry/scale/variants.tsv" | cut -f1,6 | sort > "$out/regs_ours.tsv"
  if [ -s "$out/regs_ours.tsv" ] && diff "$out/regs_ours.tsv" "$out/regs_cuobjdump.tsv"; then
    echo "$(wc -l < "$out/regs_ours.tsv") kernels: registers agree with cuobjdump"
  else
    echo "registers differ from cuobjdump (above)"; status=1
  fi
else
  echo "no cuobjdump here"; status=1
fi
echo "== 4. PyTorch peer"
python3 "$carry/torch_axpby.py" 2>&1 | tee "$out/torch.txt" || status=1
echo "== 5. matrix-core probe vs the host emulation"
AT_PL_SOURCE_DIR="$carry/src" ours "$carry/bin/test_matrix_core" --verbose --jobs 1 \
  --filter 'matrix_core/gpu_*' > "$out/probe.txt" 2>&1
grep -E "gpu probe:|Synthesis" "$out/probe.txt"
grep -q "Tested: 5 | Passing: 5 | Failing: 0 | Crashing: 0" "$out/probe.txt" || status=1
echo "== 5b. wgmma probe vs the host emulation"
AT_PL_SOURCE_DIR="$carry/src" AT_WGMMA_PROBE_CUBIN="$carry/wgmma_kernels.sm_90a.cubin" \
  ours "$carry/bin/test_wgmma" --verbose --jobs 1 --filter 'wgmma/gpu_*' \
  > "$out/wgmma_probe.txt" 2>&1
grep -E "gpu probe:|Synthesis" "$out/wgmma_probe.txt"
grep -q "Tested: 48 | Passing: 48 | Failing: 0 | Crashing: 0" "$out/wgmma_probe.txt" || status=1
echo "== 6. GEMM variants vs cuBLAS"
if [ -d "$carry/gemm" ]; then
  ours "$carry/bin/gemm_gpu" "$carry/gemm" --reps 20 --json "$out/gemm.jsonl" 2>&1 |
    tee "$out/gemm.txt" || status=1
  grep -q " [1-9][0-9]* failed" "$out/gemm.txt" && status=1
fi
echo "== 7. a tuned header's launcher vs cuBLAS"
if [ -x "$carry/bin/tuned_gemm_bench" ]; then
  ours "$carry/bin/tuned_gemm_bench" 2>&1 | tee "$out/tuned.txt" || status=1
fi
echo "== 8. attention variants, and PyTorch's SDPA"
if [ -d "$carry/attn" ]; then
  ours "$carry/bin/attn_gpu" "$carry/attn" --reps 20 --json "$out/attn.jsonl" 2>&1 |
    tee "$out/attn.txt" || status=1
  grep -q " [1-9][0-9]* failed" "$out/attn.txt" && status=1
  python3 "$carry/torch_attn.py" 2>&1 | tee "$out/torch_attn.txt" || status=1
fi
echo "== 9. a tuning run's provenance (NVML) and --gpu"
# the profile of this GPU, as the tuner's own detection names it (`autotune devices`):
# the tuner refuses to measure an H200 as h100 (sm_90's first); h100 when none matches
dev=$(ours "$carry/bin/autotune" devices --json 2>/dev/null | python3 -c \
  'import json, sys; d = json.load(sys.stdin)["detected"]; print(d and d[0]["profile"] or "h100")' \
  2>/dev/null || echo h100)
db="$out/prov.db"
rm -f "$db" "$out/nogpu.db"
AUTOTUNE_TEMPLATES="$carry/src/templates" AUTOTUNE_CACHE_DIR="$out/cache" \
  ours "$carry/bin/autotune" gemm --device $dev --m 256 --n 256 --k 256 --budget 3 \
  --template "$carry/src/templates/gemm/gemm_simt.h" --db "$db" 2>&1 | tee "$out/prov.txt" \
  || status=1
ours "$carry/bin/autotune" db export --db "$db" > "$out/prov.jsonl" || status=1
for want in '"driver":"[0-9]' '"runtime":"cuda [0-9]' '"gpu_index":0,' '"gpu_uuid":"GPU-' \
    '"sm_clock_start_mhz":[0-9]' '"power_limit_start_w":[0-9]' '"sm_clock_end_mhz":[0-9]' \
    '"status":"ok".*"sm_clock_mhz":[0-9]*,"throttled":[01]'; do
  grep -q "$want" "$out/prov.jsonl" && echo "recorded: $want" ||
    { echo "missing from the run: $want"; status=1; }
done
ours "$carry/bin/autotune" gemm --device $dev --m 256 --n 256 --k 256 --gpu 99 \
  --db "$out/nogpu.db" > "$out/nogpu.txt" 2>&1
code=$?
cat "$out/nogpu.txt"
if [ "$code" = 2 ] && [ ! -e "$out/nogpu.db" ]; then echo "--gpu 99: exit 2, no database"
else echo "--gpu 99: exit $code$([ -e "$out/nogpu.db" ] && echo ', database created')"; status=1; fi
exit $status
