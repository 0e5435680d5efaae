#!/usr/bin/env bash
# sass.sh - what one variant compiles to on an NVIDIA target, read without a GPU: the
# variant's source as `autotune generate --out` writes it, compiled by nvcc for the arch
# (the tuner uses NVRTC, the same front end and ptxas), disassembled by cuobjdump, and for
# each loop of the kernel (a backward branch) its length and its instruction mix: static
# counts, the instructions between the loop's head and its branch back, blocks that
# branches skip included (an edge path inside the loop counts though an inside tile never
# runs it). This is
# how the 2026-12-05 findings were read: at_memcpy's byte loop (10 instructions to pack
# two halves), exp2f's subnormal path around MUFU.EX2, the per-key mask of every
# attention tile, gemm_tma's guarded epilogue (bench/results/2026-12-05-sass.md).
#
#   bench/sass.sh TEMPLATE.h 'CONFIG-REGEX' [ARCH] -- GENERATE-ARGS...
#   bench/sass.sh templates/gemm/gemm_tma.h 'BM=256,BN=128,.*CWG=2,EPI=0,.*STAGES=3,' \
#     sm_90a -- --device h200 --m 4096 --n 4096 --k 4096 --dtype f16
#
# The first variant whose config matches CONFIG-REGEX is taken. Output: ptxas's
# registers and spills, then per loop "loop START..END: N instructions" and its 12 most
# frequent opcodes; the SASS stays in $SASS_DIR (default /tmp/autotune-sass) as
# VARIANT.sass. cuobjdump is the CUDA toolkit's where it has one, else PyPI's
# nvidia-cuda-cuobjdump (and the nvdisasm it runs) installed once into $SASS_DIR/tools
# (the toolkit 13 here ships none: nvcc, ptxas and nvlink only).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: bench/sass.sh TEMPLATE.h CONFIG-REGEX [ARCH] -- GENERATE-ARGS..." >&2
  exit 2
fi
tmpl=$1 regex=$2
shift 2
arch=sm_90a
if [ $# -gt 0 ] && [ "$1" != -- ]; then arch=$1; shift; fi
[ "${1:-}" = -- ] && shift
cuda=${CUDA_HOME:-/usr/local/cuda}
dir=${SASS_DIR:-/tmp/autotune-sass}
mkdir -p "$dir"
objdump=$cuda/bin/cuobjdump
if [ ! -x "$objdump" ]; then
  objdump=$(find "$dir/tools" -name cuobjdump -type f -print -quit 2>/dev/null || true)
  if [ -z "$objdump" ]; then
    # (PyPI's cuobjdump 13.5 calls nvdisasm, a package of its own: both, in one install)
    python3 -m pip install -q --target "$dir/tools" nvidia-cuda-cuobjdump \
      nvidia-cuda-nvdisasm >&2
    objdump=$(find "$dir/tools" -name cuobjdump -type f -print -quit)
  fi
  chmod +x "$(dirname "$objdump")"/* 2>/dev/null || true
  export PATH="$(dirname "$objdump"):$PATH" # its nvdisasm, where cuobjdump looks
fi
gen=$dir/gen
rm -rf "$gen"
build/autotune generate "$tmpl" "$@" --out "$gen" --batch 100000 >/dev/null
name=$(awk -F'\t' -v re="$regex" 'NR > 1 && $2 ~ re {print $1; exit}' "$gen/variants.tsv")
[ -n "$name" ] || { echo "sass.sh: no variant's config matches '$regex'" >&2; exit 2; }
file=$gen/$(awk -F'\t' -v n="$name" '$1 == n {print $3}' "$gen/variants.tsv")
awk -F'\t' -v n="$name" '$1 == n {print "variant " $1 ": " $2}' "$gen/variants.tsv"
# the batch's shared part (everything before the first kernel's comment line), then the
# variant's own comment line and wrapper
first=$(grep -m1 -n '^extern "C" __global__' "$file" | cut -d: -f1)
at=$(grep -m1 -n "void .*$name(" "$file" | cut -d: -f1)
{ sed -n "1,$((first - 2))p" "$file"; sed -n "$((at - 1)),$((at + 3))p" "$file"; } >"$dir/$name.cu"
"$cuda/bin/nvcc" -std=c++17 -arch="$arch" -cubin -Itemplates/common -Xptxas -v \
  -o "$dir/$name.cubin" "$dir/$name.cu" 2>&1 | grep -E 'registers|spill|serialized' || true
"$objdump" -sass "$dir/$name.cubin" >"$dir/$name.sass"
echo "SASS: $dir/$name.sass"
# instructions as (address, text); a loop is a branch to a lower address
awk '
  function hex(h,   v, i) { # mawk has no strtonum
    v = 0; h = tolower(h); sub(/^0x/, "", h)
    for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
    return v
  }
  match($0, /\/\*[0-9a-f]+\*\/ +[^;]*;/) {
    s = substr($0, RSTART, RLENGTH); a = s; sub(/^\/\*/, "", a); sub(/\*\/.*/, "", a)
    t = s; sub(/^\/\*[0-9a-f]+\*\/ +/, "", t); sub(/ *;$/, "", t)
    n++; addr[n] = hex(a); text[n] = t
  }
  END {
    for (i = 1; i <= n; i++) {
      if (!match(text[i], /BRA (0x[0-9a-f]+)/)) continue
      to = hex(substr(text[i], RSTART + 4, RLENGTH - 4))
      if (to >= addr[i]) continue
      delete c; len = 0
      for (j = 1; j <= n; j++) {
        if (addr[j] < to || addr[j] > addr[i]) continue
        op = text[j]; sub(/^@!?U?P[0-9T] +/, "", op); sub(/ .*/, "", op)
        c[op]++; len++
      }
      printf "loop %x..%x: %d instructions\n ", to, addr[i], len
      for (k = 0; k < 12; k++) {
        best = ""; bn = 0
        for (op in c) if (c[op] > bn) { bn = c[op]; best = op }
        if (best == "") break
        printf " %s %d", best, bn; delete c[best]
      }
      printf "\n"
    }
  }' "$dir/$name.sass"
