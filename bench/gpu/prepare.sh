#!/usr/bin/env bash
# prepare.sh - build here what bench/gpu/check.sh runs on a GPU machine that has the
# driver and the CUDA Toolkit but none of this project's build dependencies: the
# CUDA-path test binary with the shared libraries it needs (found with ldd; the C
# library and the loader stay behind), scale_run, and the example template's variants
# generated and compiled here (scale_emit: libclang + NVRTC) for the given profile, and
# the matrix-core probe (test_matrix_core's gpu_* tests) with its sources, the wgmma
# probe (test_wgmma's gpu_* tests) with its sm_90a cubin built here by nvcc, and the GEMM
# variants gemm_emit compiles here (gemm_mma, gemm_simt and gemm_wgmma subsets, 4096^3 and
# decode)
# with gemm_gpu, which checks and times them against cuBLAS there; and attn_simt's
# variants (attn_emit) with attn_gpu, which checks and times them there; and the
# autotune command with the templates, for a short tuning run's provenance.
#
#   bench/gpu/prepare.sh [OUT_DIR=.carry] [PROFILE=h100]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.carry}
profile=${2:-h100}
scripts/build.sh >/dev/null
rm -rf "$out" && mkdir -p "$out/bin" "$out/lib" "$out/scale"
cp build/test_meas build/test_matrix_core build/test_wgmma build/scale_run build/gemm_gpu \
  build/attn_gpu build/autotune "$out/bin/"
for bin in "$out"/bin/*; do
  ldd "$bin" | awk '$3 ~ /^\// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*) ;;
      *) cp -L -n "$lib" "$out/lib/" ;;
    esac
  done
done
build/scale_emit "$out/scale" --device "$profile"
build/gemm_emit "$out/gemm" --device "$profile"
build/attn_emit "$out/attn" --device "$profile"
# The mma.sync/ldmatrix probe's sources (test_matrix_core compiles them there with NVRTC),
# and the templates `autotune gemm` tunes there (check.sh step 9).
mkdir -p "$out/src/tests/data"
cp -r tests/data/pl "$out/src/tests/data/" && cp -r templates "$out/src/"
# The wgmma probe, compiled here for sm_90a (test_wgmma loads it from
# $AT_WGMMA_PROBE_CUBIN; without it, it compiles the sources above with NVRTC there).
"${NVCC:-/usr/local/cuda/bin/nvcc}" -arch=sm_90a -cubin -std=c++17 -Itemplates/common \
  -x cu tests/data/pl/wgmma_kernels.cu -o "$out/wgmma_kernels.sm_90a.cubin"
cp bench/gpu/check.sh bench/gpu/torch_axpby.py bench/gpu/torch_attn.py "$out/"
# With TUNED_DB=<a database holding h100 winners> (bench/gpu/import_gemm.sh makes one from
# gemm_gpu's measurements): the tuned header emitted from it and tuned_gemm_bench, nvcc's
# build of it against cuBLAS.
if [ -n "${TUNED_DB:-}" ]; then
  mkdir -p "$out/tuned"
  build/autotune emit-header gemm --device "$profile" --db "$TUNED_DB" --dtype f16 --layout NN \
    --out "$out/tuned/tuned_h100.h"
  # sm_90a: the header may hold gemm_wgmma winners (arch_specific, docs/templates.md).
  "${NVCC:-/usr/local/cuda/bin/nvcc}" -std=c++17 -arch=sm_90a -O2 -isystem templates \
    -isystem templates/common -I"$out/tuned" bench/gpu/tuned_gemm_bench.cu -lcublas \
    -o "$out/bin/tuned_gemm_bench"
fi
du -sh "$out"
