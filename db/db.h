/*
 * db.h - the tuning database: a SQLite file holding every trial ever run, with its
 * provenance, and the winners derived from them. All SQL of the project lives in db/.
 *
 * Records cross this interface denormalised (a trial names its device, kernel, problem
 * and config by value), so that put, iterate, merge, export and import are one
 * mechanism: iterate a source, put into a destination. A put is idempotent on the
 * record's uuid; trials are never updated or deleted (triggers refuse it).
 * Design notes and invariants: docs/database.md.
 */
#ifndef AT_DB_DB_H
#define AT_DB_DB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "autotune/autotune.h"

#define DB_SCHEMA_VERSION 4
#define DB_UUID_LEN 32 /* hex characters */

struct db;

enum db_open_flags {
  DB_READONLY = 1, /* open an existing file read-only; no migration */
  DB_CREATE = 2    /* create the file if missing (read-write) */
};

/*
 * Open `path`. Read-write opens migrate an older schema forward; read-only opens of an
 * older schema fail with AT_DB_FUTURE's sibling message asking for `autotune db init`.
 * OUT: *out (NULL on failure). Returns AT_OK, AT_IO (missing, unreadable, unwritable),
 * AT_NOT_A_DB, AT_DB_CORRUPT, AT_DB_FUTURE (newer schema), AT_DB_BUSY, AT_NOMEM.
 */
int db_open(const char *path, int flags, struct db **out);
void db_close(struct db *db);
const char *db_path(const struct db *db);
int db_schema_version(struct db *db);

/* Transactions: put many records in one. */
int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db);

/* Trial statuses, in the order of the schema's CHECK constraint. */
#define DB_TRIAL_STATUS_MAP(X)                                            \
  X(OK, "ok")                                                             \
  X(COMPILE_ERROR, "compile_error")                                       \
  X(VERIFY_FAILED, "verify_failed")                                       \
  X(LAUNCH_ERROR, "launch_error")                                         \
  X(FAULT, "fault")                                                       \
  X(TIMEOUT, "timeout")                                                   \
  X(PRUNED, "pruned")

enum db_trial_status {
#define DB_TS_ENUM(name, text) DB_TRIAL_##name,
  DB_TRIAL_STATUS_MAP(DB_TS_ENUM)
#undef DB_TS_ENUM
  DB_TRIAL_STATUS_COUNT
};
const char *db_trial_status_name(enum db_trial_status s);
/* Parse "ok", "fault", ...; -1 if unknown. */
int db_trial_status_parse(const char *text);

/* The state of a GPU's clocks at one instant; -1 / NAN where not known. */
struct db_clocks {
  int64_t sm_mhz, mem_mhz;
  double power_limit_w;
};

/* Who executes a run: the process, identified so that a pid reused by another process
 * does not pass for it (docs/database.md, "Run owners"). Strings may be NULL. */
struct db_owner {
  const char *host;        /* gethostname() */
  const char *boot;        /* /proc/sys/kernel/random/boot_id: pids and start times are
                              per boot */
  int64_t pid;             /* -1: no owner recorded (a run of schema 2) */
  int64_t start;           /* the pid's start time, /proc/PID/stat field 22 (clock ticks
                              since boot) */
  const char *heartbeat_at; /* ISO 8601 UTC: the owner's last sign of life */
};

/* A run: one invocation of the tuner. Strings may be NULL (stored as NULL) except uuid;
 * integers are -1 and doubles NAN where not known (db_run_init). */
struct db_run {
  char uuid[DB_UUID_LEN + 1];
  const char *host;
  const char *started_at;  /* ISO 8601 UTC, "2026-11-26T20:30:00Z" */
  const char *ended_at;    /* NULL while running */
  const char *toolchain;   /* "nvrtc 13.0; clang 19.1.7" */
  const char *driver;      /* "580.159.03" (NVML), "6.8.5" (amdgpu), "host" on the host */
  const char *autotune_version;
  const char *strategy;
  const char *args;        /* the command line */
  /* provenance (schema 3): what makes a device figure comparable with another */
  const char *runtime;     /* "cuda 13.0" (the driver's CUDA version), "rocm-smi 7.0.1";
                              NULL on the host */
  int64_t gpu_index;       /* the ordinal measured on (--gpu); -1 on the host */
  const char *gpu_name;    /* "NVIDIA H100 80GB HBM3"; NULL on the host */
  const char *gpu_uuid;    /* "GPU-5d7c...", the unique id; NULL on the host */
  const char *cpu;         /* the host's CPU model, /proc/cpuinfo */
  const char *os;          /* "Linux 6.8.0-45-generic" (uname) */
  struct db_clocks start_clocks, end_clocks;
  struct db_owner owner;
};

/* Fill a run with "missing" values. */
void db_run_init(struct db_run *r);

/* A problem: op, dtype, layout ("" when the op has none) and named dims. */
struct db_problem {
  const char *op;
  const char *dtype;
  const char *layout;
  int ndims;
  const char *dim_names[AT_MAX_DIMS];
  int64_t dims[AT_MAX_DIMS];
};

/* The key of a gemm call (query.c): op "gemm", dims m, n, k, then "lda", "ldb", "ldc"
 * and "batch", each only where it differs from the packed, single-product default (0
 * for a leading dim and 0 or 1 for batch mean the default). The tuner records it, the
 * lookups ask it: at_problem_gemm_call's contract (include/autotune/autotune.h).
 * OUT: *p (cleared first; its dim names are static). AT_USAGE with a message for a
 * layout other than NN/NT/TN/TT, a dim below 1, a leading dim below the packed one, or
 * a negative batch. */
int db_problem_gemm(struct db_problem *p, const char *dtype, const char *layout, int64_t m,
                    int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc,
                    int64_t batch);

/* Optional numbers: NAN for a missing double, -1 for a missing integer. */
struct db_trial {
  char uuid[DB_UUID_LEN + 1];
  char run_uuid[DB_UUID_LEN + 1];
  const char *device;        /* profile name, "mi300x" */
  const char *arch;          /* "gfx942" */
  const char *vendor;        /* "amd", "nvidia", "host" */
  const char *kernel;        /* template name, "gemm_mfma" */
  const char *kernel_hash;   /* content hash of the template, hex */
  struct db_problem problem;
  const char *config;        /* canonical "KEY=VALUE,..." (see db_config_canonical) */
  enum db_trial_status status;
  double time_median_us, time_min_us, time_max_us, time_spread; /* spread: (max-min)/median */
  int64_t repetitions;
  double tflops, gbps;
  int64_t registers, spills, shared_bytes;
  double occupancy;          /* 0..1 of the device's maximum waves/warps */
  const char *message;       /* why it failed or was pruned; NULL when ok */
  const char *created_at;    /* ISO 8601 UTC */
  /* schema 3: the lowest SM clock sampled around the measurement (MHz), and 1 when it
   * was below the run's highest clock so far (throttling), 0 when not; -1: not known */
  int64_t sm_clock_mhz, throttled;
  /* schema 4: the GPU that measured it, by ordinal on its node and by its UUID (on the
   * host device: a host worker's ordinal and synthetic uuid, docs/cluster.md); -1 and
   * NULL for a verdict measured nowhere (compile_error, pruned) or not known */
  int64_t gpu_ordinal;
  const char *gpu_uuid;
};

/* Fill a trial with "missing" values and an empty status of OK. */
void db_trial_init(struct db_trial *t);

/* A new random uuid (32 hex characters) into out[DB_UUID_LEN + 1]. */
void db_uuid(char *out);
/* The current time as ISO 8601 UTC into out[32]. */
void db_now(char *out);

/*
 * Canonical config text: "B=2,A=1" -> "A=1,B=2" (keys sorted, no spaces, no duplicates).
 * OUT: *out, malloc'd. AT_PARSE for text that is not KEY=VALUE pairs or repeats a key.
 */
int db_config_canonical(const char *text, char **out);
/* Canonical dims text "m=4096,n=4096,k=4096" (the op's order) into a malloc'd string. */
char *db_problem_dims_text(const struct db_problem *p);

/* Insert a run (idempotent on uuid; a known uuid with ended_at set updates ended_at only
 * when it was NULL). OUT: *inserted (may be NULL). */
int db_put_run(struct db *db, const struct db_run *run, bool *inserted);
/* Mark a run ended now, with the clocks at its end (NULL: not known). */
int db_end_run(struct db *db, const char *run_uuid, const struct db_clocks *end);

/* How db_claim_run found a run's owner. */
enum db_claim {
  DB_CLAIM_TAKEN,      /* no owner, or a dead one (pid gone or reused; another host's
                          or boot's lease stale): ownership is now `me`'s */
  DB_CLAIM_ALIVE,      /* owned by a live process on this host: nothing changed */
  DB_CLAIM_LEASED      /* owned by another host or boot whose heartbeat is fresher than
                          lease_s: nothing changed */
};
/* Take run `run_uuid` for `me` (host, boot, pid, start; its heartbeat is set now) unless
 * its recorded owner is alive, in one IMMEDIATE transaction, so that two processes
 * resuming at once cannot both take it. OUT: *claim; holder[holder_len]: the owner
 * found, in words ("pid 123 on node-1 (heartbeat 2026-...)"). AT_OK whatever the claim;
 * AT_NOT_FOUND when there is no such run; the database's errors. */
int db_claim_run(struct db *db, const char *run_uuid, const struct db_owner *me,
                 double lease_s, enum db_claim *claim, char *holder, size_t holder_len);
/* Set the run's heartbeat (owner.heartbeat_at) to now. */
int db_run_heartbeat(struct db *db, const char *run_uuid);

/* For tests and tools: create `path` as autotune made it at the older schema `version`
 * (1 .. DB_SCHEMA_VERSION), with no rows. AT_USAGE for another version; AT_IO. */
int db_create_at_version(const char *path, int version);
/* Insert a trial and, through the winners trigger, update the winners. Idempotent on
 * uuid. The run must exist (AT_USAGE otherwise). OUT: *inserted (may be NULL). */
int db_put_trial(struct db *db, const struct db_trial *t, bool *inserted);

/* The checks db_put_trial makes before it touches a database: uuid, the names (letters,
 * digits, '_.-+:'), status, an ok trial's time, the problem, the config's syntax.
 * AT_USAGE or AT_PARSE with a message naming the trial. */
int db_trial_check(const struct db_trial *t);
/* OUT: *has: whether run `uuid` is recorded. */
int db_has_run(struct db *db, const char *uuid, bool *has);

/* Iterate in insertion order. The record's strings live until the callback returns.
 * A non-zero return from the callback stops the iteration and is returned. */
typedef int (*db_run_fn)(void *ctx, const struct db_run *run);
typedef int (*db_trial_fn)(void *ctx, const struct db_trial *t);
int db_each_run(struct db *db, db_run_fn fn, void *ctx);
int db_each_trial(struct db *db, db_trial_fn fn, void *ctx);

struct db_stats {
  int64_t runs, devices, kernels, problems, configs, trials, winners;
  int64_t by_status[DB_TRIAL_STATUS_COUNT];
  int schema_version;
};
int db_stats(struct db *db, struct db_stats *out);

/* Integrity: SQLite's integrity_check and foreign_key_check, and the winners table
 * against a recomputation from trials. OUT: *problems (0 = healthy); the first problem
 * found is described in msg[msg_len]. */
int db_check(struct db *db, int64_t *problems, char *msg, size_t msg_len);

/* Query: the best configuration for a problem, with the device -> arch -> vendor chain. */
struct db_query {
  /* profile name; NULL to ask by arch alone (then a winner of any device of the arch
   * counts as exact or nearest, not as an arch fallback) */
  const char *device;
  const char *arch;     /* may be NULL */
  const char *vendor;   /* may be NULL */
  const struct db_problem *problem;
};

struct db_match {
  at_match match;
  char device[64];
  char kernel[128];
  char *config;         /* malloc'd canonical config text */
  int ndims;
  int64_t dims[AT_MAX_DIMS];  /* the tuned shape */
  double time_median_us;
  double tflops;
  double distance;      /* 0 for exact */
  char trial_uuid[DB_UUID_LEN + 1];
};
void db_match_release(struct db_match *m);

/* AT_NOT_FOUND (with a message naming the problem, and the distance of a nearest shape
 * refused past AT_NEAREST_MAX_DISTANCE) when nothing in the chain matches. */
int db_query_best(struct db *db, const struct db_query *q, struct db_match *out);

/* The in-memory index (index.c): every winner of the file, read in one snapshot, and a
 * lookup that answers as db_query_best does without SQL. Read-only once loaded, so
 * threads may share one. The index does not follow the file: load another to see
 * what was committed since. Load: AT_OK, AT_NOMEM, AT_DB_CORRUPT, or a SQL error. */
struct db_index;
int db_index_load(struct db *db, struct db_index **out);
void db_index_free(struct db_index *ix);
size_t db_index_winners(const struct db_index *ix);
/* A lookup's answer by the index: its strings point into the index (valid while it is). */
struct db_hit {
  at_match match;
  double distance;             /* 0 for exact */
  int ndims;
  int64_t dims[AT_MAX_DIMS];   /* the tuned shape */
  const char *device, *kernel, *config, *trial_uuid;
  const char *params;          /* the config split at its commas: nparams NUL-ended pairs */
  size_t kernel_len, config_len;
  int nparams;
  double time_median_us, tflops;
};
/* The best winner for q, as db_query_best answers it. OUT: *out. AT_NOT_FOUND (with the
 * message of db_query_best), AT_USAGE for a bad problem. */
int db_index_find(const struct db_index *ix, const struct db_query *q, struct db_hit *out);
/* The same for a device asked by name as the C API takes it: a profile name or an arch,
 * case-insensitively (dev_find's rules: an arch stands for every device of it, so its
 * winners count as exact or nearest), else a device of the file by its own name. */
int db_index_lookup(const struct db_index *ix, const char *device, const struct db_problem *p,
                    struct db_hit *out);
/* The same into a db_match (its config malloc'd), for comparing with db_query_best. */
int db_index_best(const struct db_index *ix, const struct db_query *q, struct db_match *out);

/* The distance between two shapes with the same dim names: sqrt(sum(ln(a_i/b_i)^2)). */
double db_shape_distance(int ndims, const int64_t *a, const int64_t *b);

/* Merge: put every run and trial of the database at src_path into db (idempotent).
 * OUT: counts of records added and already present. */
struct db_merge_stats {
  int64_t runs_added, runs_present, trials_added, trials_present;
};
int db_merge(struct db *db, const char *src_path, struct db_merge_stats *stats);

/* Every winner of `op` on `device` (the exact name recorded in trials: "h100", "host",
 * "host:mi300x"): one per template and problem, ordered by dtype, layout and problem id,
 * and within a problem best first as db_query_best ranks them (least median time, then
 * the earlier trial). So the first winner of each problem is the one db_query_best
 * returns, and problem id order is its distance-tie order: the tuned-header emitter reads
 * the database through this and dispatches as `autotune query` answers. Strings are
 * valid during the callback only. */
struct db_best {
  int64_t problem_id;
  const char *dtype, *layout, *dim_names; /* dim_names "m,n,k" */
  int ndims;
  int64_t dims[AT_MAX_DIMS];
  const char *kernel, *kernel_hash, *config;
  double time_median_us;
  const char *created_at;                 /* of the winning trial */
};
typedef int (*db_best_fn)(void *ctx, const struct db_best *b);
int db_each_winner(struct db *db, const char *device, const char *op, db_best_fn fn, void *ctx);
/* The dim names ("R,C") and dtype of the first problem recorded for `op`: how a query
 * for an op that only the database knows (one tuned with `autotune tune`) is spelled.
 * AT_NOT_FOUND (naming the op) when the database has none. */
int db_op_names(struct db *db, const char *op, char *dim_names, size_t dim_len, char *dtype,
                size_t dtype_len);

/* Export every run and trial as JSON lines; import them back (round-trip exact).
 * Import reads and checks every line first: a bad line (reported with its line number)
 * adds nothing. It then writes DB_IMPORT_CHUNK records per transaction, so that tuners
 * writing the same file wait seconds, not the whole import; a failure while writing
 * (a full disk, an interrupt, a device recorded with another arch) keeps the chunks
 * before it, and importing the same file again adds exactly the rest (puts are
 * idempotent on uuid). */
#define DB_IMPORT_CHUNK 1000
int db_export_jsonl(struct db *db, FILE *out);
/* Every trial as a CSV row (db/csv.c names the columns), with a header line; one-way:
 * import reads JSON lines. AT_DISK when writing failed. */
int db_export_csv(struct db *db, FILE *out);
/* db NULL: pass 1 alone (every line checked, each trial's run in the file), nothing
 * written: how `db import` checks an input before it creates a database. */
int db_import_jsonl(struct db *db, FILE *in, const char *name, struct db_merge_stats *stats);

/* The underlying handle, for db/ internals only. */
struct sqlite3 *db_handle(struct db *db);

#endif
