#!/usr/bin/env bash
# after_h200.sh - here, after a lease: what bench/gpu/h200.sh's fetched files say, on one
# page, so the next change starts from the figures and not from the archive:
#   1. the trials by status, per database (gemm14, explore, attention);
#   2. the GEMM cost model scored on the new trials (build/bench_model: out of sample for
#      a model fitted to an earlier run);
#   3. per problem and template, the best time now against the previous run's, and the
#      configs both runs measured, time for time (what a template change did);
#   4. the decode explore: gemm_skinny with and without PF (the weight prefetch); the
#      4096^3 explore: gemm_tma's consumers sharing a tile or taking turns (PINGPONG);
#      the 1024^3 explore: 128-row tiles through every ring depth;
#      stream-K, the hybrid and data-parallel on one tile at 4096 x 4096 x 1024, 2048^3
#      and 4096^3 (docs/tma.md's L2 hypothesis);
#   5. the run's own tables (ours against cuBLASLt, attention against SDPA) and ncu's
#      durations and throughputs (the 1024^3 floor: kernel or timing);
#   6. the trials exported to OUT_DIR as JSON lines (gzip) for bench/results.
# Figures are the device's (measured on it); nothing is measured here.
#
#   bash bench/gpu/after_h200.sh FILES_AT [PREVIOUS.jsonl.gz] [OUT_DIR]
#     FILES_AT  the folder the device tool put $OUT's files in (all.tgz among them)
#     PREVIOUS  an earlier run's gemm14 export (default: the first H200 run's)
#     OUT_DIR   where the exports go (default: bench/results/<today>-h200)
set -euo pipefail
cd "$(dirname "$0")/../.."
src=${1:?usage: after_h200.sh FILES_AT [PREVIOUS.jsonl.gz] [OUT_DIR]}
prev=${2:-bench/results/2026-12-04-h200/gemm14-call2.jsonl.gz}
out=${3:-bench/results/$(date +%F)-h200}
[ -f "$src/all.tgz" ] || { echo "after_h200.sh: no all.tgz in '$src'" >&2; exit 2; }
A=build/autotune
if [ ! -x "$A" ] || [ ! -x build/bench_model ]; then scripts/build.sh >/dev/null; fi
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
tar xzf "$src/all.tgz" -C "$w"
mkdir -p "$out"

declare -A path=([gemm14]=gemm/gemm14.db [explore]=explore.db [attention]=attn/attention.db)
dbs=""
for name in gemm14 explore attention; do
  f="$w/h200/${path[$name]}"
  [ -f "$f" ] || continue
  "$A" db export --db "$f" >"$w/$name.jsonl"
  gzip -9 -c "$w/$name.jsonl" >"$out/$name.jsonl.gz"
  dbs="$dbs $name"
done
echo "# After the H200 run ($(date +%F)); exports in $out:$dbs"

echo
echo "## 1. trials by status"
for name in $dbs; do
  echo "$name: $(sqlite3 "$w/h200/${path[$name]}" "select group_concat(status || ' ' || n, ', ')
    from (select status, count(*) n from trials group by status)")"
done

echo
echo "## 2. the GEMM model on the new trials (out of sample)"
for name in gemm14 explore; do
  [ -f "$w/$name.jsonl" ] || continue
  echo "### $name"
  build/bench_model "$w/$name.jsonl" | tail -n 25 || echo "(no group of 3 or more ok trials)"
done

echo
echo "## 3. against the previous run ($prev)"
if [ -f "$w/gemm14.jsonl" ] && [ -f "$prev" ]; then
  gunzip -c "$prev" >"$w/prev.jsonl"
  "$A" db import --db "$w/prev.db" "$w/prev.jsonl" >/dev/null
  q="select p.dtype || ' ' || p.layout || ' ' || p.dims as problem, k.template as tpl,
       c.text as config, t.time_median_us as us
     from trials t join problems p on p.id = t.problem_id join kernels k on k.id = t.kernel_id
       join configs c on c.id = t.config_id where t.status = 'ok'"
  sqlite3 -header -column "$w/h200/gemm/gemm14.db" <<SQL
attach '$w/prev.db' as prev;
create temp view now_ as $q;
create temp view was_ as $(echo "$q" | sed 's/trials t/prev.trials t/; s/problems p/prev.problems p/;
  s/kernels k/prev.kernels k/; s/configs c/prev.configs c/');
.print best per problem and template (us): now, before, ratio
select n.problem, n.tpl, round(min(n.us), 1) as now_us,
  round((select min(w.us) from was_ w where w.problem = n.problem and w.tpl = n.tpl), 1) as was_us,
  round(min(n.us) / (select min(w.us) from was_ w where w.problem = n.problem and w.tpl = n.tpl), 3)
    as ratio
from now_ n group by n.problem, n.tpl order by n.problem, now_us;
.print
.print the same config in both runs (ratio now / before; a template change shows here)
select n.problem, n.tpl, round(n.us, 1) as now_us, round(w.us, 1) as was_us,
  round(n.us / w.us, 3) as ratio, substr(n.config, 1, 60) as config
from now_ n join was_ w on w.problem = n.problem and w.tpl = n.tpl and w.config = n.config
order by n.tpl, n.problem;
SQL
else
  echo "(no gemm14 database in this run, or no previous export)"
fi

echo
echo "## 4. decode: gemm_skinny with and without PF (explore and gemm14)"
for f in "$w/h200/explore.db" "$w/h200/gemm/gemm14.db"; do
  [ -f "$f" ] || continue
  sqlite3 -header -column "$f" "select p.dims, case when c.text like '%PF=1%' then 1 else 0 end
      as pf, count(*) as n, round(min(t.time_median_us), 2) as best_us,
      round(avg(t.time_median_us), 2) as mean_us
    from trials t join problems p on p.id = t.problem_id join kernels k on k.id = t.kernel_id
      join configs c on c.id = t.config_id
    where t.status = 'ok' and k.template = 'gemm_skinny' group by p.id, pf order by p.id, pf"
done

echo
echo "## 4b. gemm_tma at 4096^3: one tile shared by the two consumers or taken in turns"
f="$w/h200/explore.db"
if [ -f "$f" ]; then
  sqlite3 -header -column "$f" "select p.dims,
      case when c.text like '%PINGPONG=1%' then 'turns' else 'shared' end as consumers,
      count(*) as n, round(min(t.time_median_us), 1) as best_us,
      round(avg(t.time_median_us), 1) as mean_us
    from trials t join problems p on p.id = t.problem_id join kernels k on k.id = t.kernel_id
      join configs c on c.id = t.config_id
    where t.status = 'ok' and k.template = 'gemm_tma' and c.text like '%BM=128,BN=128,%'
    group by p.id, consumers order by p.id, consumers"
fi

echo
echo "## 4c. 1024^3 tiles of 128 rows on two consumers through ring depths 2-8 (gemm_tma, gemm_wgmma)"
if [ -f "$f" ]; then
  sqlite3 -header -column "$f" "select k.template, c.text as config,
      round(t.time_median_us, 1) as us
    from trials t join problems p on p.id = t.problem_id join kernels k on k.id = t.kernel_id
      join configs c on c.id = t.config_id
    where t.status = 'ok' and p.d0 = 1024 and p.d1 = 1024 and p.d2 = 1024
    order by k.template, us"
fi

echo
echo "## 4d. stream-K against data-parallel on one tile (128 x 256, 3 stages), operands in L2 or not"
if [ -f "$f" ]; then
  sqlite3 -header -column "$f" "select p.dims,
      case when c.text like '%SCHED=2,%' then 'stream-K' when c.text like '%SCHED=3,%'
        then 'hybrid' when c.text like '%PERSIST=1,%' then 'dp persistent' else 'dp' end as sched,
      round(min(t.time_median_us), 1) as us
    from trials t join problems p on p.id = t.problem_id join kernels k on k.id = t.kernel_id
      join configs c on c.id = t.config_id
    where t.status = 'ok' and k.template = 'gemm_tma' and c.text like '%BM=128,BN=256,%'
      and c.text like '%CLUSTER=0,%' and c.text like '%EPI=0,GROUP=8,%'
      and c.text like '%RASTER=1,%' and c.text like '%STAGES=3,WAIT=1%'
    group by p.id, sched order by p.id, sched"
fi

echo
echo "## 5. the run's tables and ncu's headline counters"
for f in gemm/winners.md gemm/gemm14.md gemm/gemm14_warm.md attn/summary.md; do
  [ -f "$w/h200/$f" ] && { echo "### $f"; cat "$w/h200/$f"; echo; }
done
if [ -f "$w/h200/gemm/ncu.txt" ]; then
  echo "### gemm/ncu.txt (per kernel: duration, SM and memory throughput, top stall)"
  grep -E "^====|^  [a-zA-Z_0-9<>:,]+\(|Duration|Compute \(SM\) Throughput|Memory Throughput|Stall" \
    "$w/h200/gemm/ncu.txt" | head -n 80
fi
