#!/usr/bin/env bash
# demo.sh - the main job on a machine without a GPU: list the device profiles (and any
# GPU present), tune a 256^3 f16 GEMM on the host device (the SIMT emulator running the
# templates' own source; honest CPU timings, recorded in build/demo.db) and query the
# result for a nearby shape, generate and compile the example template's variants for
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
