/*
 * autotune.h - the public C API of autotune: status codes, and read-only lookups of
 * tuned kernel configurations in a tuning database.
 *
 * A program opens a tuning database written by `autotune gemm ...` (or merged, or
 * imported), asks for the best configuration for a (device, op, dtype, layout, shape),
 * and reads the configuration's parameters. The lookup returns the exact shape when it
 * was tuned, else the nearest tuned shape within AT_NEAREST_MAX_DISTANCE
 * (docs/database.md gives the distance), else a winner of another device of the same
 * architecture, else of the same vendor, and says which of these it used and how far. Every function returns an at_status (0 is AT_OK); the message
 * of the last failure on this thread is at_last_error().
 */
#ifndef AUTOTUNE_AUTOTUNE_H
#define AUTOTUNE_AUTOTUNE_H

#include <stdint.h>

/* AT_API marks what libautotune.so exports: these declarations and no other symbol
 * (the library is built with hidden visibility by default). */
#ifndef AT_API
#if defined(__GNUC__) || defined(__clang__)
#define AT_API __attribute__((visibility("default")))
#else
#define AT_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One status type for the whole project: enum value, name, message. New values go at
 * the end, so that a value keeps its number. AT_INTERRUPTED: a tuning run stopped by
 * SIGINT or SIGTERM; what it recorded is kept and --resume continues it. AT_IO: a named
 * file cannot be opened or created (the user's input); AT_DISK: the disk failed while
 * reading or writing (full, I/O error), which no change of input would fix. */
#define AT_STATUS_MAP(X)                                                  \
  X(OK, "ok")                                                             \
  X(NOMEM, "out of memory")                                               \
  X(USAGE, "bad usage or input")                                          \
  X(IO, "cannot read or write a file")                                    \
  X(NOT_A_DB, "file is not an autotune database")                         \
  X(DB_FUTURE, "database was written by a newer autotune")                \
  X(DB_CORRUPT, "database is corrupt")                                    \
  X(DB_BUSY, "database is locked by another process")                     \
  X(DB_READONLY, "database is read-only")                                 \
  X(SQL, "database error")                                                \
  X(NOT_FOUND, "nothing matches")                                         \
  X(PARSE, "cannot parse input")                                          \
  X(UNSUPPORTED, "not supported here")                                    \
  X(DEVICE, "a call to the GPU runtime failed")                           \
  X(INTERRUPTED, "interrupted by a signal")                               \
  X(DISK, "a write or read failed (disk full or I/O error)")

typedef enum at_status {
#define AT_STATUS_ENUM(name, msg) AT_##name,
  AT_STATUS_MAP(AT_STATUS_ENUM)
#undef AT_STATUS_ENUM
  AT_STATUS_COUNT
} at_status;

/* "AT_OK", "AT_NOMEM", ...; "AT_UNKNOWN" for a value outside the table. */
AT_API const char *at_status_name(int status);
/* The generic message of a status ("out of memory"). */
AT_API const char *at_status_message(int status);
/* The detailed message of the last failure on this thread ("" if none). */
AT_API const char *at_last_error(void);

/* The library's version, "MAJOR.MINOR.PATCH". */
AT_API const char *at_version(void);

#define AT_MAX_DIMS 8

/* A problem: op ("gemm"), dtype ("f16"), layout ("NN"; "" where the op has none),
 * and its named dimensions in the op's order (gemm: m, n, k). */
typedef struct at_problem {
  const char *op;
  const char *dtype;
  const char *layout;
  int ndims;
  const char *dim_names[AT_MAX_DIMS];
  int64_t dims[AT_MAX_DIMS];
} at_problem;

/* A gemm problem, dims m, n, k: packed operands (the smallest leading dimensions of the
 * layout) and one matrix product (batch 1), which is what `autotune gemm` measures. */
AT_API at_problem at_problem_gemm(const char *dtype, const char *layout, int64_t m,
                                  int64_t n, int64_t k);

/* A gemm call as a program makes it: its leading dimensions (0: packed, the smallest
 * legal value: lda = k for A 'N' and m for 'T', ldb = n for B 'N' and k for 'T', ldc = n)
 * and its batch count (0 or 1: one product). The key is that of at_problem_gemm, with
 * "lda", "ldb", "ldc" and "batch" added as dims, in that order, only where they differ
 * from the default (docs/database.md, "Lookup keys"): a winner measured packed never
 * answers a padded or batched call, nor the other way round. OUT: *problem (its strings
 * are static or the caller's). AT_USAGE for a layout other than NN, NT, TN, TT, a dim
 * below 1, a leading dimension below the packed one, or a negative batch. */
AT_API int at_problem_gemm_call(at_problem *problem, const char *dtype, const char *layout,
                                int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb,
                                int64_t ldc, int64_t batch);

/* How far a nearest tuned shape may be from the asked one and still answer: the
 * distance of docs/database.md, sqrt(sum_i ln(asked_i / tuned_i)^2). 2.0 is a factor of
 * e^2 = 7.4 in one dim, or of 3.2 in each of three; past it a lookup moves on to the
 * next rung (another device of the arch, then of the vendor) and answers AT_NOT_FOUND
 * when none is near enough: 1x1x1 never gets a 1024^3 winner (distance 12). */
#define AT_NEAREST_MAX_DISTANCE 2.0

typedef enum at_match {
  AT_MATCH_EXACT = 0,   /* this device, this exact shape */
  AT_MATCH_NEAREST = 1, /* this device, the nearest tuned shape */
  AT_MATCH_ARCH = 2,    /* another device of the same architecture */
  AT_MATCH_VENDOR = 3   /* another device of the same vendor */
} at_match;

typedef struct at_db at_db;
typedef struct at_config at_config;

/* Open a tuning database read-only and read every winner into memory, so that
 * at_best_config runs no SQL. OUT: *db, NULL on failure.
 * AT_IO (missing/unreadable), AT_NOT_A_DB, AT_DB_FUTURE, AT_DB_CORRUPT, AT_NOMEM.
 *
 * Snapshot: the handle answers from the winners as they were committed when it was
 * opened (or last refreshed); trials recorded later, by a tuner writing the same file,
 * are not seen until at_db_refresh. Threads: any number of threads may call
 * at_best_config on one handle at once (the index is read-only); at_db_refresh may run
 * while other threads look up: it loads a new snapshot, swaps it in, and frees the old
 * one once the lookups that started on it are done. at_db_close must not run while
 * another thread uses the handle. */
AT_API int at_db_open(const char *path, at_db **db);
/* Read the winners again: what was committed since open or the last refresh becomes
 * visible. On failure the handle keeps its previous snapshot. Safe while other threads
 * call at_best_config (two refreshes of one handle run one after the other). AT_OK, AT_NOMEM, AT_DB_CORRUPT, AT_DB_BUSY, AT_SQL. */
AT_API int at_db_refresh(at_db *db);
/* Close; NULL is accepted. */
AT_API void at_db_close(at_db *db);

/* The best configuration for `problem` on `device` (a profile name such as "mi300x" or
 * an arch such as "gfx942"). OUT: *config, to be freed with at_config_free; it is a
 * copy, valid after at_db_refresh. AT_NOT_FOUND when nothing in the chain matches (a
 * nearest shape farther than AT_NEAREST_MAX_DISTANCE does not: the message gives its
 * distance); AT_USAGE for a bad problem. */
AT_API int at_best_config(at_db *db, const char *device, const at_problem *problem,
                          at_config **config);
AT_API void at_config_free(at_config *config);

/* The canonical configuration text "KEY=VALUE,KEY=VALUE" (keys sorted). */
AT_API const char *at_config_text(const at_config *config);
/* One parameter as text; NULL if the config has no such key. */
AT_API const char *at_config_get(const at_config *config, const char *key);
/* One integer parameter. AT_NOT_FOUND if absent, AT_PARSE if not an integer. */
AT_API int at_config_get_int(const at_config *config, const char *key, int64_t *value);
AT_API at_match at_config_match(const at_config *config);
AT_API const char *at_match_name(at_match match); /* "exact", "nearest", "arch", "vendor" */
AT_API const char *at_config_kernel(const at_config *config);   /* template name */
AT_API const char *at_config_device(const at_config *config);   /* device the trial ran on */
/* The shape that was tuned (equal to the asked one for an exact match). */
AT_API int64_t at_config_dim(const at_config *config, int i);
AT_API double at_config_time_us(const at_config *config);       /* median time of the winner */
/* The distance from the asked shape to the tuned one (docs/database.md); 0 for an
 * exact shape, at most AT_NEAREST_MAX_DISTANCE. */
AT_API double at_config_distance(const at_config *config);

#ifdef __cplusplus
}
#endif
#endif
