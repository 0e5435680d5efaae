#!/usr/bin/env bash
# demo.sh - the main job on a machine without a GPU: list the device profiles (and any
# GPU present), tune a 256^3 f32 GEMM on the host device (the SIMT emulator running the
# templates' own source; honest CPU timings, recorded in build/demo.db) and query the
# result for a nearby shape, emit a tuned header from it and build and run a program with
# it (examples/gemm_app/main.cpp, on the host), tune attention through the same engine,
# tune a template of one's own
# (examples/own_kernel/transpose.h) and emit its winners as C parameters, generate and
# compile the example template's variants for
# mi300x (gfx942), and query a database imported from examples/data/example.jsonl
# (hand-written illustrative entries, NOT measurements) for nearest and same-arch answers.
set -euo pipefail
cd "$(dirname "$0")/.."
at=build/autotune
[ -x "$at" ] || scripts/build.sh
db=build/demo.db
rm -f "$db" "$db-wal" "$db-shm"

echo "\$ autotune devices"
$at devices
echo
echo "\$ autotune gemm --device host --dtype f32 --m 256 --n 256 --k 256   (the host device: the SIMT emulator)"
$at gemm --device host --dtype f32 --m 256 --n 256 --k 256 --db "$db"
echo "\$ autotune query gemm --device host --dtype f32 --m 200 --n 256 --k 256"
$at query gemm --device host --dtype f32 --m 200 --n 256 --k 256 --db "$db"
echo
mkdir -p build/demo
echo "\$ autotune emit-header gemm --device host --db $db --out build/demo/tuned_gemm.h"
$at emit-header gemm --device host --db "$db" --out build/demo/tuned_gemm.h
echo "\$ c++ examples/gemm_app/main.cpp (includes tuned_gemm.h) + libautotune, then run it"
c++ -std=c++17 -O2 examples/gemm_app/main.cpp -Ibuild/demo -Iinclude -isystem templates \
  -isystem templates/common build/libautotune.a -lsqlite3 -lpthread -ldl -lm \
  -o build/demo/gemm_app
build/demo/gemm_app
echo
echo "\$ autotune attention --device host --heads 2 --seqlen 64 --head-dim 32 --budget 4   (the same engine, the attention op)"
$at attention --device host --heads 2 --seqlen 64 --head-dim 32 --budget 4 --db "$db"
echo
echo "\$ autotune tune examples/own_kernel/transpose.h --device host --dim R=300 --dim C=500 --arg out=R*C --arg in=R*C --budget 8   (any template: your own kernel)"
$at tune examples/own_kernel/transpose.h --device host --dim R=300 --dim C=500 \
  --arg out=R*C --arg in=R*C --budget 8 --db "$db"
echo "\$ autotune query transpose --device host --dim R=1024 --dim C=1024"
$at query transpose --device host --dim R=1024 --dim C=1024 --db "$db"
echo "\$ autotune emit-header transpose --device host --mode params --out build/demo/tuned_transpose.h"
$at emit-header transpose --device host --db "$db" --mode params --out build/demo/tuned_transpose.h
echo
echo "\$ autotune generate scale --device mi300x --stats"
$at generate scale --device mi300x --stats
echo "\$ autotune generate scale --device mi300x --compile   (gfx942 code objects, no GPU needed)"
$at generate scale --device mi300x --compile
echo
example=build/example.db
rm -f "$example" "$example-wal" "$example-shm"
echo "(examples/data/example.jsonl holds hand-written illustrative entries, NOT measurements)"
echo "\$ autotune db import --db $example examples/data/example.jsonl"
$at db import --db "$example" examples/data/example.jsonl
$at db check --db "$example"
echo "\$ autotune query gemm --device h100 --m 8 --n 4096 --k 4096"
$at query gemm --device h100 --m 8 --n 4096 --k 4096 --db "$example"
echo "\$ autotune query gemm --device mi325x --m 4000 --n 4096 --k 4096"
$at query gemm --device mi325x --m 4000 --n 4096 --k 4096 --db "$example"
