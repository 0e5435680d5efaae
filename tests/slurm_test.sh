#!/usr/bin/env bash
# slurm_test.sh - a real Slurm on this machine, for the cluster path (docs/cluster.md):
# start munged, slurmctld and slurmd on localhost from a generated slurm.conf (all state in
# a temporary folder, ports picked free), submit examples/slurm/tune-array.sbatch as
# `sbatch --array=0-3` of a small host-device tuning shard, wait, merge the four shard
# databases with examples/slurm/merge.sh, and compare with an unsharded run of the same
# work: the same (template, problem, config, status) set, and the same winners. Every
# daemon it starts is stopped by its pid on exit. Exit 77 (ctest: skipped) with the
# reason when Slurm cannot be installed or started here; never a silent pass.
#   usage: tests/slurm_test.sh AUTOTUNE
set -uo pipefail
AUTOTUNE=$(readlink -f "${1:?usage: slurm_test.sh AUTOTUNE}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SKIP=77
skip() { echo "SKIP: slurm_test: $*"; exit "$SKIP"; }
fail() { echo "FAIL: slurm_test: $*" >&2; exit 1; }

for t in munged slurmctld slurmd sbatch squeue sinfo sqlite3; do
  command -v "$t" >/dev/null || skip "$t not found (scripts/setup.sh installs slurm-wlm, munge and sqlite3)"
done

W=$(mktemp -d /tmp/at-slurm.XXXXXX)
pids=()
cleanup() {
  for f in "$W"/slurmd.pid "$W"/slurmctld.pid "$W"/munged.pid; do
    [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for f in "$W"/slurmd.pid "$W"/slurmctld.pid "$W"/munged.pid; do
    [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
  done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# a free TCP port pair for slurmctld and slurmd
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=$((20000 + RANDOM % 20000))
while ! port_free "$base" || ! port_free $((base + 1)); do base=$((base + 2)); done

# munge, with its own key, socket and files
head -c 1024 /dev/urandom > "$W/munge.key"
chmod 400 "$W/munge.key"
mkdir -p "$W/munge"
chmod 700 "$W/munge"
munged --force --key-file="$W/munge.key" --socket="$W/munge/munge.sock" \
  --pid-file="$W/munged.pid" --log-file="$W/munged.log" --seed-file="$W/munge.seed" \
  >"$W/munged.out" 2>&1 || skip "munged does not start: $(tail -c 300 "$W/munged.out" "$W/munged.log" 2>/dev/null | tr '\n' ' ')"

user=$(id -un)
cpus=$(nproc)
mkdir -p "$W/state" "$W/spool"
cat > "$W/slurm.conf" <<CONF
ClusterName=attest
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$W/munge/munge.sock
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF="$W/slurm.conf"
slurmctld -f "$SLURM_CONF" >"$W/slurmctld.out" 2>&1 ||
  skip "slurmctld does not start: $(tail -c 400 "$W/slurmctld.log" "$W/slurmctld.out" 2>/dev/null | tr '\n' ' ')"
slurmd -f "$SLURM_CONF" -N localhost >"$W/slurmd.out" 2>&1 ||
  skip "slurmd does not start: $(tail -c 400 "$W/slurmd.log" "$W/slurmd.out" 2>/dev/null | tr '\n' ' ')"
# the node must come up idle
up=""
for _ in $(seq 1 60); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -1)
  case "$state" in idle*|mix*|alloc*) up=1; break ;; esac
  sleep 0.5
done
[ -n "$up" ] || skip "the Slurm node does not come up (state '${state:-none}'): $(tail -c 400 "$W/slurmd.log" | tr '\n' ' ')"

# the work: one small shape, a small exhaustive space, on the host device
out="$W/out"
mkdir -p "$out"
export AUTOTUNE OUT_DIR="$out"
export AT_TUNE_ARGS="gemm --device host --m 16 --n 16 --k 16 --template gemm_simt --strategy exhaustive --budget 5 --jobs 1 --timeout 60"
jid=$(sbatch --parsable --array=0-3 --chdir="$W" --output="$W/job-%A_%a.out" \
  "$ROOT/examples/slurm/tune-array.sbatch") || fail "sbatch refused the array: $jid"
jid=${jid%%;*}
deadline=$((SECONDS + 150))
while squeue -h -j "$jid" 2>/dev/null | grep -q .; do
  [ $SECONDS -lt $deadline ] || fail "the array $jid did not finish in 150 s: $(squeue -j "$jid")"
  sleep 1
done
for i in 0 1 2 3; do
  [ -s "$out/shard-$i.db" ] || fail "shard $i wrote no database: $(cat "$W"/job-"${jid}"_"$i".out 2>/dev/null | tail -5)"
  args=$(sqlite3 "$out/shard-$i.db" "SELECT args FROM runs")
  case "$args" in *"--shard $i/4"*) ;; *) fail "shard $i did not run as shard $i/4 from Slurm's variables: $args" ;; esac
done
"$ROOT/examples/slurm/merge.sh" "$out/merged.db" "$out"/shard-*.db >/dev/null || fail "merge failed"

# the same work unsharded, outside Slurm
# shellcheck disable=SC2086
env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT "$AUTOTUNE" $AT_TUNE_ARGS --db "$out/whole.db" >/dev/null 2>&1 ||
  fail "the unsharded run failed"

set_of() {
  sqlite3 "$1" "SELECT k.template || ' ' || p.dims || ' ' || c.text || ' ' || t.status FROM trials t
    JOIN kernels k ON k.id = t.kernel_id JOIN problems p ON p.id = t.problem_id
    JOIN configs c ON c.id = t.config_id ORDER BY 1"
}
a=$(set_of "$out/merged.db"); b=$(set_of "$out/whole.db")
[ -n "$b" ] || fail "the unsharded run recorded nothing"
[ "$a" = "$b" ] || fail "the merged shards measured other work than the unsharded run:
--- merged
$a
--- unsharded
$b"
n=$(printf '%s\n' "$a" | wc -l)
dup=$(sqlite3 "$out/merged.db" "SELECT count(*) - count(DISTINCT kernel_id || ',' || problem_id || ',' || config_id) FROM trials")
[ "$dup" = 0 ] || fail "$dup trials measured by two shards"
# the winners. The unsharded run timed the same work again on a shared CPU, so its times
# (and with them which of two configs within noise wins) are another draw: comparing
# winners across the two runs tests the machine's noise, not the merge. What the merge
# must do is exact: every merged trial carries the times its shard measured (joined by
# trial uuid), and each merged winner is the fastest 'ok' trial of its (device, template,
# problem) among all the shards' trials, with that trial's time.
moved=""
for i in 0 1 2 3; do
  m=$(sqlite3 "$out/merged.db" "ATTACH '$out/shard-$i.db' AS s;
    SELECT count(*) FROM s.trials st LEFT JOIN trials t ON t.uuid = st.uuid
    WHERE t.id IS NULL OR t.status <> st.status OR t.time_median_us IS NOT st.time_median_us
      OR t.time_min_us IS NOT st.time_min_us OR t.time_max_us IS NOT st.time_max_us")
  [ "$m" = 0 ] || moved="$moved shard $i: $m trials missing or with other times;"
done
[ -z "$moved" ] || fail "the merge did not keep the shards' measurements:$moved"
wrong=$(sqlite3 -separator ' ' "$out/merged.db" "SELECT k.template, p.dims, c.text, w.time_median_us,
    (SELECT min(t2.time_median_us) FROM trials t2 WHERE t2.device_id = w.device_id
       AND t2.kernel_id = w.kernel_id AND t2.problem_id = w.problem_id AND t2.status = 'ok')
  FROM winners w JOIN trials t ON t.id = w.trial_id JOIN kernels k ON k.id = w.kernel_id
  JOIN problems p ON p.id = w.problem_id JOIN configs c ON c.id = t.config_id
  WHERE t.status <> 'ok' OR t.time_median_us <> w.time_median_us
     OR w.time_median_us > (SELECT min(t2.time_median_us) FROM trials t2 WHERE
       t2.device_id = w.device_id AND t2.kernel_id = w.kernel_id AND t2.problem_id = w.problem_id
       AND t2.status = 'ok')")
[ -z "$wrong" ] || fail "merged winners that are not the fastest ok trial (template dims config winner-us fastest-us):
$wrong"
unkeyed=$(sqlite3 "$out/merged.db" "SELECT count(*) FROM (SELECT DISTINCT device_id, kernel_id,
  problem_id FROM trials WHERE status = 'ok') k LEFT JOIN winners w USING (device_id, kernel_id,
  problem_id) WHERE w.trial_id IS NULL")
[ "$unkeyed" = 0 ] || fail "$unkeyed (device, template, problem) keys with ok trials have no merged winner"
keys() { sqlite3 "$1" "SELECT d.name || ' ' || k.template || ' ' || p.dims FROM winners w JOIN devices d
  ON d.id = w.device_id JOIN kernels k ON k.id = w.kernel_id JOIN problems p ON p.id = w.problem_id
  ORDER BY 1"; }
wm=$(keys "$out/merged.db"); ww=$(keys "$out/whole.db")
[ -n "$wm" ] || fail "the merged database has no winners"
[ "$wm" = "$ww" ] || fail "winners for other (device, template, problem) keys: merged
$wm
unsharded
$ww"

echo "ok: slurm array $jid: 4 shards, $n trials merged, the same set as the unsharded run"
