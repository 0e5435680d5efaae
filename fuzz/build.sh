#!/usr/bin/env bash
# build.sh - build the libFuzzer targets into build-fuzz/ (or $1) with the first clang
# that has libFuzzer ($CLANG, clang-19 ... clang-14): fuzz_expr, fuzz_pragma, fuzz_jsonl,
# fuzz_shapes, fuzz_options. The code a target fuzzes is compiled here with
# -fsanitize=fuzzer,address,undefined (coverage and checks where the bugs would be);
# everything else it calls comes from the CMake build's libraries (build/, or $AT_BUILD),
# so run scripts/build.sh first. A target is rebuilt only when one of its sources or those
# libraries is newer. Exit 3 when no clang has libFuzzer (the caller may skip), 1 on a
# failed build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build-fuzz}
lib=${AT_BUILD:-$root/build}
mkdir -p "$out"

# the first clang whose libFuzzer links: $CLANG, else clang-19 down to clang-14, clang
# (Debian ships libFuzzer in libclang-rt-NN-dev, which may be there for an older clang
# only: the code is C11 and any of them builds it)
probe=$out/.probe.c
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)
{ (void)d; (void)n; return 0; }' >"$probe"
cc=
for c in ${CLANG:-} clang-19 clang-18 clang-17 clang-16 clang-15 clang-14 clang; do
  if command -v "$c" >/dev/null 2>&1 &&
    "$c" -fsanitize=fuzzer "$probe" -o "$out/.probe" 2>/dev/null; then
    cc=$c
    break
  fi
done
if [[ -z $cc ]]; then
  echo "fuzz/build.sh: no clang with libFuzzer (-fsanitize=fuzzer; Debian: libclang-rt-NN-dev)" >&2
  exit 3
fi

flags=(-std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -DAT_VERSION='"fuzz"' -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
  -DAT_TEMPLATES_DIR="\"$root/templates\"" -I"$root/include" -I"$root"
  -I/usr/lib/llvm-19/include)
libs=("$lib/libautotune_tool.a" "$lib/libautotune.a")
syslibs=(-L/usr/lib/llvm-19/lib -lclang-19 $(pkg-config --libs msgpack) -lsqlite3 -lpthread
  -ldl -lm)

# target: the sources compiled with it (instrumented); linked with the libraries or not
build() {
  local name=$1 link=$2
  shift 2
  local srcs=("$root/fuzz/$name.c" "$@") newest=0 t
  for s in "${srcs[@]}" ${link:+"${libs[@]}"}; do
    t=$(stat -c %Y "$s")
    ((t > newest)) && newest=$t
  done
  if [[ -x $out/$name ]] && (($(stat -c %Y "$out/$name") >= newest)); then
    return 0
  fi
  echo "fuzz/build.sh: building $name with $cc" >&2
  if [[ -n $link ]]; then
    "$cc" "${flags[@]}" "${srcs[@]}" "${libs[@]}" "${syslibs[@]}" -o "$out/$name"
  else
    "$cc" "${flags[@]}" "${srcs[@]}" -o "$out/$name"
  fi
}

if [[ -z ${FUZZ_TARGETS:-} ]]; then
  FUZZ_TARGETS="fuzz_expr fuzz_pragma fuzz_jsonl fuzz_shapes fuzz_options"
fi
for t in $FUZZ_TARGETS; do
  case $t in
  fuzz_expr) build fuzz_expr libs "$root/generator/expr.c" ;;
  fuzz_pragma) build fuzz_pragma libs "$root/generator/template.c" \
    "$root/generator/template_coords.c" "$root/generator/expr.c" "$root/generator/space.c" ;;
  fuzz_jsonl) build fuzz_jsonl libs "$root/db/jsonl.c" "$root/base/json.c" ;;
  fuzz_shapes) build fuzz_shapes libs "$root/tuner/ops/op_gemm_tune.c" "$root/tuner/ops/shapes.c" ;;
  fuzz_options) build fuzz_options libs "$root/tuner/cli/cli.c" "$root/tuner/cli/tune_cli.c" ;;
  *) echo "fuzz/build.sh: unknown target '$t'" >&2; exit 1 ;;
  esac
done
