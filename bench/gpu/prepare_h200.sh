#!/usr/bin/env bash
# prepare_h200.sh - here, before a lease: what bench/gpu/h200.sh carries. prepare_gemm14.sh
# and prepare_attention.sh, then five explore bundles inside .carry-gemm14 (its binary):
#   explore_deep/, explore_deepw/: 1024^3 f16 NN, tiles of 128 rows on two consumer
#                 warpgroups (GROUP 1) through every ring depth 2-8 and wait depth:
#                 gemm_wgmma 128 x 64 with BK 32 (the first run's 1024^3 winner, 19.6 us
#                 at its deepest ring then, 5) and gemm_tma 128 x 64, 128 x 128 and
#                 128 x 256 (register split, no cluster, direct epilogue; 29 configs):
#                 does a deeper ring lift the ~20 us every template measured there
#                 (cuBLASLt 8.9; the one data-parallel gemm_tma config measured there
#                 had one stage in flight, multicast), and does TMA beat cp.async on
#                 the same tile?
#   explore_pp/:  gemm_tma at 4096^3 f16 NN, 128 x 128 tiles on two consumers (register
#                 split, data-parallel, GROUP 8, no cluster, EPI 1): sharing each tile or
#                 taking turns (PINGPONG), crossed with stages, wait depth and
#                 persistence: whether the turns pay (never measured; the cost model
#                 ranks these tiles below 128 x 256, so the gemm14 run does not pick them);
#   explore_tma/: gemm_tma at 4096^3 f16 NN, every config of the first H200 run's winning
#                 tile (256 x 128, two consumers with the register split, data-parallel,
#                 GROUP 8): stages, wait depth, persistence, raster, epilogue, clusters and
#                 multicast crossed (--where, exhaustive): what each costs, one at a time;
#   explore_sk/:  gemm_tma's 128 x 256 tile (two consumers, register split, 3 stages, WAIT
#                 1, direct epilogue, grouped raster, no cluster) data-parallel (plain
#                 and persistent), stream-K and the hybrid at 4096 x 4096 x 1024 (A and B
#                 16 MiB, within L2), 2048^3 and 4096^3 (64 MiB, over it): does stream-K's
#                 cost follow its operands out of L2 (docs/tma.md's hypothesis: 374 us by
#                 arithmetic at 4096^3, 377 measured), and what is left at 2048^3?
#   explore_dec/: every template that fits the decode problems (bf16 NT, M = 1, 16, 64,
#                 N = K = 4096), DEC_BUDGET random variants a template and problem.
# All go into .carry-h200/carry.tgz, the one folder h200.sh's device call carries, with
# BUILT_FROM (the commit) beside it.
#
#   bash bench/gpu/prepare_h200.sh [DEC_BUDGET=24]
set -euo pipefail
cd "$(dirname "$0")/../.."
db=${1:-24}
C=.carry-gemm14
bash bench/gpu/prepare_gemm14.sh "$C"
bash bench/gpu/prepare_attention.sh .carry-attention
printf '1024 1024 1024\n' >"$C/explore_deep.txt"
cp "$C/explore_deep.txt" "$C/explore_deepw.txt"
echo "--dtype f16 --layout NN --template gemm_tma --strategy exhaustive" \
  "--where BM=128,CWG=2,REGS=1,SCHED=0,GROUP=1,RASTER=0,CLUSTER=0,EPI=0,PINGPONG=0" \
  >"$C/explore_deep.args"
echo "--dtype f16 --layout NN --template gemm_wgmma --strategy exhaustive" \
  "--where BM=128,BN=64,BK=32,WGS=2,GROUP=1" >"$C/explore_deepw.args"
printf '4096 4096 4096\n' >"$C/explore_tma.txt"
cp "$C/explore_tma.txt" "$C/explore_pp.txt"
echo "--dtype f16 --layout NN --template gemm_tma --strategy exhaustive" \
  "--where BM=128,BN=128,CWG=2,REGS=1,SCHED=0,GROUP=8,CLUSTER=0,EPI=1,RASTER=0" \
  >"$C/explore_pp.args"
printf '4096 4096 1024\n2048 2048 2048\n4096 4096 4096\n' >"$C/explore_sk.txt"
echo "--dtype f16 --layout NN --template gemm_tma --strategy exhaustive" \
  "--where BM=128,BN=256,CWG=2,REGS=1,STAGES=3,WAIT=1,EPI=0,GROUP=8,RASTER=1,CLUSTER=0,PINGPONG=0" \
  >"$C/explore_sk.args"
printf '1 4096 4096\n16 4096 4096\n64 4096 4096\n' >"$C/explore_dec.txt"
echo "--dtype f16 --layout NN --template gemm_tma --strategy exhaustive" \
  "--where BM=256,BN=128,CWG=2,REGS=1,SCHED=0,GROUP=8" >"$C/explore_tma.args"
echo "--dtype bf16 --layout NT --strategy random --budget $db --seed 1" >"$C/explore_dec.args"
for x in explore_sk explore_deep explore_deepw explore_pp explore_tma explore_dec; do
  # shellcheck disable=SC2046 # the args file holds several words
  build/autotune bundle gemm --device h200 --shapes "$C/$x.txt" $(cat "$C/$x.args") \
    --out "$C/$x"
done
# raw they are over the device tool's 64 MiB (about 70); gzip holds them in about 20
rm -rf .carry-h200 && mkdir -p .carry-h200
# which tree it was built from (" dirty": uncommitted changes in its code), so that a
# later session can tell whether the carry is current before a lease: compare with
# `git rev-parse HEAD`; h200.sh prints it at the head of its log
code="templates tuner db generator base include bench/gpu CMakeLists.txt"
# shellcheck disable=SC2086 # the paths are words
dirty=$(git diff --quiet HEAD -- $code 2>/dev/null || echo " dirty")
echo "$(git rev-parse HEAD)$dirty" >"$C/BUILT_FROM"
tar czf .carry-h200/carry.tgz "$C" .carry-attention
cp "$C/BUILT_FROM" .carry-h200/
du -sh "$C" .carry-attention .carry-h200
