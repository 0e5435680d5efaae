#!/usr/bin/env bash
# demo.sh - the main job on a machine without a GPU, as far as the tool goes today:
# list the device profiles (and any GPU present), generate and compile the example
# template's variants for mi300x (gfx942), build a tuning database from the
# example JSON lines (hand-written illustrative entries, NOT measurements), check it,
# and query it for an exact, a nearest and a same-arch answer.
set -euo pipefail
cd "$(dirname "$0")/.."
at=build/autotune
[ -x "$at" ] || scripts/build.sh
db=build/demo.db
rm -f "$db" "$db-wal" "$db-shm"

echo "\$ autotune devices"
$at devices
echo
echo "\$ autotune generate scale --device mi300x --stats"
$at generate scale --device mi300x --stats
echo "\$ autotune generate scale --device mi300x --compile   (gfx942 code objects, no GPU needed)"
$at generate scale --device mi300x --compile
echo
echo "(examples/data/example.jsonl holds hand-written illustrative entries, NOT measurements)"
echo "\$ autotune db import --db $db examples/data/example.jsonl"
$at db import --db "$db" examples/data/example.jsonl
$at db stats --db "$db"
$at db check --db "$db"
echo
echo "\$ autotune query gemm --device h100 --m 4096 --n 4096 --k 4096"
$at query gemm --device h100 --m 4096 --n 4096 --k 4096 --db "$db"
echo "\$ autotune query gemm --device h100 --m 8 --n 4096 --k 4096"
$at query gemm --device h100 --m 8 --n 4096 --k 4096 --db "$db"
echo "\$ autotune query gemm --device mi325x --m 4000 --n 4096 --k 4096"
$at query gemm --device mi325x --m 4000 --n 4096 --k 4096 --db "$db"
