#!/bin/bash
# merge.sh - merge the shard databases of tune-array.sbatch into one (docs/cluster.md),
# then check it. Run it on any node once every array task has finished (or submit it
# with sbatch --dependency=afterok:<array job id>). Merging is idempotent: a shard merged
# twice adds nothing.
#   usage: examples/slurm/merge.sh MERGED.db SHARD.db...
#   e.g.   examples/slurm/merge.sh tuning.db autotune-shards/shard-*.db
set -euo pipefail
AUTOTUNE=${AUTOTUNE:-autotune}
[ $# -ge 2 ] || { echo "usage: merge.sh MERGED.db SHARD.db..." >&2; exit 2; }
out=$1
shift
"$AUTOTUNE" db merge "$out" "$@"
"$AUTOTUNE" db check --db "$out"
"$AUTOTUNE" db stats --db "$out"
