/*
 * fixture.h - building small tuning databases for the tests through the db.h API.
 */
#ifndef AT_TESTS_FIXTURE_H
#define AT_TESTS_FIXTURE_H

#include "db/db.h"

/* Open (creating) a database at path; asserts success. */
struct db *fx_open(const char *path);
/* Add a run; its uuid into run_uuid[DB_UUID_LEN + 1]. */
void fx_run(struct db *db, char *run_uuid);
/* Add an ok gemm f16 NN trial: device (with its arch and vendor), kernel, shape, config,
 * time. Returns the trial uuid in a static buffer. */
const char *fx_gemm(struct db *db, const char *run_uuid, const char *device,
                    const char *arch, const char *vendor, const char *kernel, int64_t m,
                    int64_t n, int64_t k, const char *config, double time_us);
/* The same with a status other than ok. */
void fx_gemm_failed(struct db *db, const char *run_uuid, const char *device,
                    const char *kernel, int64_t m, int64_t n, int64_t k, const char *config,
                    enum db_trial_status status);
/* A database at dir/file whose one trial is an ok winner (5 us) of `kernel` (its hash)
 * in `config` for `problem` on device/arch (vendor "host" for a host:... device, else
 * arch_of's): what emit-header reads. Returns its path, malloc'd. */
char *fx_winner_db(const char *dir, const char *file, const char *device, const char *arch,
                   const char *kernel, const char *kernel_hash, const struct db_problem *problem,
                   const char *config);

#endif
