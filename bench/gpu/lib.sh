# lib.sh - what the bench/gpu scripts share; sourced, never run.
#
# Here (the prepare_*.sh scripts):
#   carry_binary DIR   build, then put bin/autotune and lib/ (the shared libraries it links:
#                      SQLite, msgpack; not libc's, not libclang/LLVM, which it opens only
#                      to parse a template, and not CUDA, which it opens at run time) in a
#                      fresh DIR, for a GPU node that has none of this project's packages.
# There (the scripts a device call runs), after `cd` to the repository root:
#   gpu_setup CARRY OUT DBNAME
#                      use CARRY's binary and libraries with no libclang (as on a node
#                      without LLVM) and an empty compile cache (the bundles are the only
#                      one); set A (the binary), DB (OUT/DBNAME), LOG (OUT/log.txt, emptied)
#                      and write the GPU's name, driver, clocks and power limit to LOG.
#   step TEXT...       a timestamped heading, on the terminal and in LOG.
#   run TIMEOUT CMD... run CMD with a time limit, its output to LOG; a failure is said and
#                      the script goes on (every step's results stand on their own).

carry_binary() {
  local out=$1 lib
  scripts/build.sh >/dev/null
  rm -rf "$out" && mkdir -p "$out/bin" "$out/lib"
  cp build/autotune "$out/bin/"
  ldd build/autotune | awk '$3 ~ /^\// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libclang*|libLLVM*) ;;
      *) cp -L -n "$lib" "$out/lib/" ;;
    esac
  done
}

gpu_setup() {
  local carry=$1 out=$2
  mkdir -p "$out"
  export LD_LIBRARY_PATH="$PWD/$carry/lib:${LD_LIBRARY_PATH:-}"
  export AUTOTUNE_LIBCLANG=
  AUTOTUNE_CACHE_DIR="$(mktemp -d)"
  export AUTOTUNE_CACHE_DIR
  A="$PWD/$carry/bin/autotune"
  DB="$out/$3"
  LOG="$out/log.txt"
  : >"$LOG"
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv \
    >>"$LOG" 2>&1 || echo "   (nvidia-smi failed)" >>"$LOG"
}

step() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$LOG"; }

run() {
  local t=$1 rc=0
  shift
  timeout -k 10 "$t" "$@" >>"$LOG" 2>&1 || rc=$?
  [ $rc -eq 0 ] || echo "   step failed: exit $rc ($*)" | tee -a "$LOG"
  return 0
}
