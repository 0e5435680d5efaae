/*
 * fixture.c - see fixture.h.
 */
#include "tests/fixture.h"

#include <criterion/criterion.h>
#include <string.h>

#include "tests/helpers.h"

struct db *fx_open(const char *path)
{
  struct db *db = NULL;
  int rc = db_open(path, DB_CREATE, &db);
  cr_assert_eq(rc, AT_OK, "db_open(%s): %s", path, at_last_error());
  return db;
}

void fx_run(struct db *db, char *run_uuid)
{
  char now[32];
  db_now(now);
  struct db_run r;
  db_run_init(&r);
  r.host = "testhost", r.started_at = now, r.autotune_version = "0.1.0";
  r.strategy = "exhaustive", r.args = "autotune gemm --test";
  db_uuid(r.uuid);
  cr_assert_eq(db_put_run(db, &r, NULL), AT_OK, "%s", at_last_error());
  strcpy(run_uuid, r.uuid);
}

static void fill(struct db_trial *t, const char *run_uuid, const char *device,
                 const char *arch, const char *vendor, const char *kernel, int64_t m,
                 int64_t n, int64_t k, const char *config)
{
  db_trial_init(t);
  db_uuid(t->uuid);
  strcpy(t->run_uuid, run_uuid);
  t->device = device;
  t->arch = arch;
  t->vendor = vendor;
  t->kernel = kernel;
  t->kernel_hash = "0123abcd";
  t->problem = (struct db_problem){.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 3,
                                   .dim_names = {"m", "n", "k"}, .dims = {m, n, k}};
  t->config = config;
}

static const char *arch_of(const char *device)
{
  if (!strcmp(device, "mi300x") || !strcmp(device, "mi325x"))
    return "gfx942";
  if (!strcmp(device, "mi250x") || !strcmp(device, "mi210"))
    return "gfx90a";
  if (!strcmp(device, "h100") || !strcmp(device, "h200"))
    return "sm_90";
  if (!strcmp(device, "a100"))
    return "sm_80";
  return "host";
}

const char *fx_gemm(struct db *db, const char *run_uuid, const char *device,
                    const char *arch, const char *vendor, const char *kernel, int64_t m,
                    int64_t n, int64_t k, const char *config, double time_us)
{
  static char uuid[DB_UUID_LEN + 1];
  struct db_trial t;
  fill(&t, run_uuid, device, arch, vendor, kernel, m, n, k, config);
  t.time_median_us = t.time_min_us = t.time_max_us = time_us;
  t.time_spread = 0;
  t.repetitions = 10;
  t.tflops = 2.0 * (double)m * (double)n * (double)k / (time_us * 1e6);
  bool inserted = false;
  cr_assert_eq(db_put_trial(db, &t, &inserted), AT_OK, "%s", at_last_error());
  cr_assert(inserted);
  strcpy(uuid, t.uuid);
  return uuid;
}

void fx_gemm_failed(struct db *db, const char *run_uuid, const char *device,
                    const char *kernel, int64_t m, int64_t n, int64_t k, const char *config,
                    enum db_trial_status status)
{
  struct db_trial t;
  const char *arch = arch_of(device);
  const char *vendor = arch[0] == 'g' ? "amd" : arch[0] == 's' ? "nvidia" : "host";
  fill(&t, run_uuid, device, arch, vendor, kernel, m, n, k, config);
  t.status = status;
  t.message = "planted failure";
  cr_assert_eq(db_put_trial(db, &t, NULL), AT_OK, "%s", at_last_error());
}

char *fx_winner_db(const char *dir, const char *file, const char *device, const char *arch,
                   const char *kernel, const char *kernel_hash, const struct db_problem *problem,
                   const char *config)
{
  char *path = th_path(dir, file);
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  struct db_trial t;
  db_trial_init(&t);
  db_uuid(t.uuid);
  strcpy(t.run_uuid, run);
  t.device = device, t.arch = arch;
  t.vendor = strncmp(device, "host", 4) == 0 ? "host" : strncmp(arch, "gfx", 3) == 0 ? "amd" : "nvidia";
  t.kernel = kernel, t.kernel_hash = kernel_hash;
  t.problem = *problem;
  t.config = config;
  t.status = DB_TRIAL_OK;
  t.time_median_us = t.time_min_us = t.time_max_us = 5;
  t.repetitions = 5;
  cr_assert_eq(db_put_trial(db, &t, NULL), AT_OK, "%s", at_last_error());
  db_close(db);
  return path;
}
