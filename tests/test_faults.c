/*
 * test_faults.c - fault injection in the style of SQLite's own tests: a VFS shim,
 * registered as the default, wraps the real one and fails the Nth write (alternately
 * SQLITE_IOERR_WRITE and SQLITE_FULL), the Nth fsync or the Nth exclusive lock
 * (SQLITE_BUSY) while the database records a trial, imports JSON lines, merges another
 * database and migrates a schema. For every N up to the first one the operation
 * completes without reaching, the file is then healthy (integrity_check and db_check
 * find nothing) and holds exactly what was committed: the state before the operation
 * when it failed, the state after it when it succeeded (its export, and the number of
 * devices, kernels, problems, configs and winners).
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "tests/fixture.h"
#include "tests/helpers.h"

/* ---- the shim ---- */

enum fault_kind { FAULT_WRITE, FAULT_SYNC, FAULT_LOCK, FAULT_KINDS };
static const char *const kind_names[FAULT_KINDS] = {"write", "fsync", "lock"};

static struct {
  int armed;     /* a fault_kind, or -1 */
  int countdown; /* the armed kind's calls left before the failing one */
  int fired;     /* how many faults were injected since arming */
} inj = {-1, 0, 0};

static bool tick(enum fault_kind k)
{
  if (inj.armed != (int)k || inj.countdown <= 0 || --inj.countdown > 0)
    return false;
  inj.fired++;
  return true;
}

struct ffile {
  sqlite3_file base;
  sqlite3_file *real; /* follows this struct in the same allocation */
};

static sqlite3_vfs *real_vfs;

#define REAL(f) (((struct ffile *)(f))->real)

static int f_close(sqlite3_file *f)
{
  return REAL(f)->pMethods->xClose(REAL(f));
}
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
  return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
  if (tick(FAULT_WRITE))
    return inj.countdown % 2 ? SQLITE_FULL : SQLITE_IOERR_WRITE;
  return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
  if (tick(FAULT_WRITE))
    return SQLITE_IOERR_TRUNCATE;
  return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
  if (tick(FAULT_SYNC))
    return SQLITE_IOERR_FSYNC;
  return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
  return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int level)
{
  if (level >= SQLITE_LOCK_RESERVED && tick(FAULT_LOCK))
    return SQLITE_BUSY;
  return REAL(f)->pMethods->xLock(REAL(f), level);
}
static int f_unlock(sqlite3_file *f, int level)
{
  return REAL(f)->pMethods->xUnlock(REAL(f), level);
}
static int f_reserved(sqlite3_file *f, int *out)
{
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_control(sqlite3_file *f, int op, void *arg)
{
  return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
  return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_device(sqlite3_file *f)
{
  return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int f_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
  return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
  /* WAL's write lock: an exclusive lock taken (not released) */
  if ((flags & SQLITE_SHM_LOCK) && (flags & SQLITE_SHM_EXCLUSIVE) && tick(FAULT_LOCK))
    return SQLITE_BUSY;
  return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void f_shm_barrier(sqlite3_file *f)
{
  REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int f_shm_unmap(sqlite3_file *f, int del)
{
  return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
  return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
  return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods f_methods = {
    3,        f_close,   f_read,      f_write,    f_truncate,    f_sync,
    f_size,   f_lock,    f_unlock,    f_reserved, f_control,     f_sector,
    f_device, f_shm_map, f_shm_lock,  f_shm_barrier, f_shm_unmap, f_fetch,
    f_unfetch};

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
  (void)vfs;
  struct ffile *ff = (struct ffile *)f;
  ff->real = (sqlite3_file *)(ff + 1);
  ff->base.pMethods = NULL;
  int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
  if (ff->real->pMethods)
    ff->base.pMethods = &f_methods;
  return rc;
}

static sqlite3_vfs faulty;

static void shim_install(void)
{
  real_vfs = sqlite3_vfs_find(NULL);
  cr_assert(real_vfs && real_vfs->iVersion >= 2);
  faulty = *real_vfs;
  faulty.zName = "faulty";
  faulty.szOsFile = (int)sizeof(struct ffile) + real_vfs->szOsFile;
  faulty.xOpen = f_open;
  cr_assert_eq(sqlite3_vfs_register(&faulty, 1), SQLITE_OK);
}

/* ---- fixtures ---- */

static char *dir;

static void setup(void)
{
  dir = th_tmpdir();
  shim_install();
}

static void teardown(void)
{
  sqlite3_vfs_unregister(&faulty);
  th_rmtree(dir);
  free(dir);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 120);

static const char RUN[] = "00000000000000000000000000000001";

static void trial_of(struct db_trial *t, unsigned n)
{
  db_trial_init(t);
  snprintf(t->uuid, sizeof t->uuid, "%032x", 0x1000 + n);
  memcpy(t->run_uuid, RUN, sizeof RUN);
  t->device = n % 3 ? "h100" : "mi300x";
  t->arch = n % 3 ? "sm_90" : "gfx942";
  t->vendor = n % 3 ? "nvidia" : "amd";
  t->kernel = n % 2 ? "gemm_mma" : "gemm_simt";
  t->kernel_hash = "0123abcd";
  t->problem = (struct db_problem){.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 3,
                                   .dim_names = {"m", "n", "k"},
                                   .dims = {64 * (1 + n % 5), 64, 64}};
  static char cfg[32];
  snprintf(cfg, sizeof cfg, "BM=%u,BN=%u", 16 * (1 + n % 7), n); /* once per run */
  t->config = cfg;
  t->status = n % 4 ? DB_TRIAL_OK : DB_TRIAL_COMPILE_ERROR;
  t->time_median_us = 10.0 + n;
  t->message = n % 4 ? NULL : "error: no";
  t->created_at = "2026-12-03T12:00:00Z";
}

/* The pristine database: one run and 30 trials, checkpointed, no -wal. */
static char *pristine(const char *name, unsigned first)
{
  char *path = th_path(dir, name);
  struct db *db = fx_open(path);
  struct db_run r = {.host = "h", .started_at = "2026-12-03T12:00:00Z"};
  memcpy(r.uuid, RUN, sizeof RUN);
  cr_assert_eq(db_put_run(db, &r, NULL), AT_OK, "%s", at_last_error());
  cr_assert_eq(db_begin(db), AT_OK);
  for (unsigned i = first; i < first + 30; i++) {
    struct db_trial t;
    trial_of(&t, i);
    cr_assert_eq(db_put_trial(db, &t, NULL), AT_OK, "%s", at_last_error());
  }
  cr_assert_eq(db_commit(db), AT_OK);
  db_close(db);
  return path;
}

static void copy_file(const char *from, const char *to)
{
  size_t len = 0;
  char *b = th_read(from, &len);
  cr_assert(b, "cannot read %s", from);
  char wal[4200], shm[4200];
  snprintf(wal, sizeof wal, "%s-wal", to);
  snprintf(shm, sizeof shm, "%s-shm", to);
  unlink(wal), unlink(shm);
  cr_assert_eq(th_write(to, b, len), 0);
  free(b);
}

/* The database's content as its export; asserts it is healthy first. */
static char *state_of(const char *path)
{
  struct db *db = NULL;
  int rc = db_open(path, DB_CREATE, &db);
  cr_assert_eq(rc, AT_OK, "reopening after the fault: %s", at_last_error());
  int64_t problems = -1;
  char msg[512];
  cr_assert_eq(db_check(db, &problems, msg, sizeof msg), AT_OK, "%s", at_last_error());
  cr_assert_eq(problems, 0, "unhealthy after the fault: %s", msg);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  cr_assert_eq(db_export_jsonl(db, f), AT_OK, "%s", at_last_error());
  /* and the rows a trial names: a trial that failed must not leave its device behind */
  struct db_stats st;
  cr_assert_eq(db_stats(db, &st), AT_OK, "%s", at_last_error());
  fprintf(f, "devices %lld kernels %lld problems %lld configs %lld winners %lld\n",
          (long long)st.devices, (long long)st.kernels, (long long)st.problems,
          (long long)st.configs, (long long)st.winners);
  fclose(f);
  db_close(db);
  return text;
}

/* ---- the loop ---- */

typedef int (*op_fn)(const char *path, const void *arg);

struct tally {
  int points, failed, ok;
};

/* Run `op` on a copy of `base` with the Nth call of `kind` failing, for N = 1, 2, ...
 * until a run injects nothing. Each time the file must be healthy and hold exactly what
 * was committed: states[nstates - 1] when op succeeded, else one of the states before
 * it (an op of several transactions keeps the ones that committed). */
static struct tally fault_loop(const char *base, op_fn op, const void *arg,
                               enum fault_kind kind, char *const *states, int nstates)
{
  struct tally t = {0, 0, 0};
  char *work = th_path(dir, "work.db");
  for (int n = 1; n < 5000; n++) {
    copy_file(base, work);
    inj.armed = (int)kind, inj.countdown = n, inj.fired = 0;
    int rc = op(work, arg);
    int fired = inj.fired;
    inj.armed = -1;
    char *now = state_of(work);
    if (rc == AT_OK) {
      cr_assert_str_eq(now, states[nstates - 1],
                       "%s fault %d: ok, but the database is not the result",
                       kind_names[kind], n);
    } else {
      int i = 0;
      while (i < nstates - 1 && strcmp(now, states[i]) != 0)
        i++;
      cr_assert_lt(i, nstates - 1, "%s fault %d: failed (%s), but the database holds "
                   "what was never committed", kind_names[kind], n, at_last_error());
    }
    free(now);
    if (!fired) {
      cr_assert_eq(rc, AT_OK, "no fault, yet: %s", at_last_error());
      break;
    }
    t.points++;
    *(rc == AT_OK ? &t.ok : &t.failed) += 1;
  }
  free(work);
  return t;
}

/* The states the operation passes through: op(work, steps[i]) for each i (NULL: the
 * whole op, one state after); then every kind of fault. */
static void all_kinds(const char *what, const char *base, op_fn op, const void *arg,
                      op_fn step, int nsteps)
{
  char *work = th_path(dir, "expect.db");
  char *states[8];
  int nstates = 0;
  copy_file(base, work);
  states[nstates++] = state_of(work);
  if (step) {
    for (int i = 0; i < nsteps; i++) { /* one transaction at a time, as op commits them */
      cr_assert_eq(step(work, (void *)(intptr_t)i), AT_OK, "%s", at_last_error());
      states[nstates++] = state_of(work);
    }
  } else {
    cr_assert_eq(op(work, arg), AT_OK, "%s without faults: %s", what, at_last_error());
    states[nstates++] = state_of(work);
  }
  cr_assert_str_neq(states[0], states[nstates - 1], "%s changed nothing", what);
  for (int k = 0; k < FAULT_KINDS; k++) {
    struct tally t = fault_loop(base, op, arg, (enum fault_kind)k, states, nstates);
    fprintf(stderr, "faults: %s, %s: %d points, %d failed cleanly, %d completed\n", what,
            kind_names[k], t.points, t.failed, t.ok);
  }
  for (int i = 0; i < nstates; i++)
    free(states[i]);
  free(work);
}

/* ---- the operations ---- */

static int op_record(const char *path, const void *arg)
{
  (void)arg;
  struct db *db = NULL;
  int saved = inj.armed;
  inj.armed = -1; /* the open is not what is tested here */
  int rc = db_open(path, DB_CREATE, &db);
  inj.armed = saved;
  for (unsigned i = 100; rc == AT_OK && i < 103; i++) {
    struct db_trial t;
    trial_of(&t, i);
    rc = db_put_trial(db, &t, NULL); /* each in its own transaction, as the tuner does */
  }
  db_close(db);
  return rc;
}

/* Record trial 100 + (intptr_t)arg. */
static int op_record_one(const char *path, const void *arg)
{
  struct db *db = NULL;
  int saved = inj.armed;
  inj.armed = -1;
  int rc = db_open(path, DB_CREATE, &db);
  inj.armed = saved;
  struct db_trial t;
  trial_of(&t, 100 + (unsigned)(intptr_t)arg);
  if (rc == AT_OK)
    rc = db_put_trial(db, &t, NULL);
  db_close(db);
  return rc;
}

static int op_import(const char *path, const void *arg)
{
  const char *text = arg;
  struct db *db = NULL;
  int saved = inj.armed;
  inj.armed = -1;
  int rc = db_open(path, DB_CREATE, &db);
  inj.armed = saved;
  FILE *in = fmemopen((void *)text, strlen(text), "r");
  struct db_merge_stats st;
  if (rc == AT_OK)
    rc = db_import_jsonl(db, in, "faults.jsonl", &st);
  fclose(in);
  db_close(db);
  return rc;
}

static int op_merge(const char *path, const void *arg)
{
  struct db *db = NULL;
  int saved = inj.armed;
  inj.armed = -1;
  int rc = db_open(path, DB_CREATE, &db);
  inj.armed = saved;
  struct db_merge_stats st;
  if (rc == AT_OK)
    rc = db_merge(db, arg, &st);
  db_close(db);
  return rc;
}

static int op_migrate(const char *path, const void *arg)
{
  (void)arg;
  struct db *db = NULL;
  int rc = db_open(path, DB_CREATE, &db); /* the migration is the open */
  db_close(db);
  return rc;
}

Test(faults, record_survives_every_write_fsync_and_lock_fault)
{
  char *base = pristine("base.db", 0);
  all_kinds("record 1 trial", base, op_record_one, NULL, NULL, 0);
  all_kinds("record 3 trials", base, op_record, NULL, op_record_one, 3);
  free(base);
}

Test(faults, import_survives_every_write_fsync_and_lock_fault)
{
  char *base = pristine("base.db", 0), *src = pristine("src.db", 200);
  struct db *db = NULL;
  cr_assert_eq(db_open(src, DB_READONLY, &db), AT_OK);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  cr_assert_eq(db_export_jsonl(db, f), AT_OK);
  fclose(f);
  db_close(db);
  all_kinds("import 30 trials", base, op_import, text, NULL, 0);
  free(text), free(base), free(src);
}

Test(faults, merge_survives_every_write_fsync_and_lock_fault)
{
  char *base = pristine("base.db", 0), *src = pristine("src.db", 200);
  all_kinds("merge 30 trials", base, op_merge, src, NULL, 0);
  free(base), free(src);
}

Test(faults, migration_survives_every_write_fsync_and_lock_fault)
{
  /* a real schema-1 file (db_create_at_version) holding a current file's rows */
  char *now = pristine("now.db", 0), *base = th_path(dir, "v1.db");
  cr_assert_eq(db_create_at_version(base, 1), AT_OK, "%s", at_last_error());
  sqlite3 *h;
  cr_assert_eq(sqlite3_open(now, &h), SQLITE_OK);
  char *attach = sqlite3_mprintf("ATTACH %Q AS old", base);
  cr_assert_eq(sqlite3_exec(h, attach, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
  sqlite3_free(attach);
  cr_assert_eq(sqlite3_exec(h,
      "BEGIN;"
      "INSERT INTO old.devices SELECT * FROM main.devices;"
      "INSERT INTO old.kernels SELECT * FROM main.kernels;"
      "INSERT INTO old.problems SELECT * FROM main.problems;"
      "INSERT INTO old.configs SELECT * FROM main.configs;"
      "INSERT INTO old.runs SELECT id, uuid, host, started_at, ended_at, toolchain, driver, "
      "  autotune_version, strategy, args FROM main.runs;"
      "INSERT INTO old.trials SELECT id, uuid, run_id, device_id, kernel_id, problem_id, "
      "  config_id, status, time_median_us, time_min_us, time_max_us, time_spread, "
      "  repetitions, tflops, gbps, registers, spills, shared_bytes, occupancy, message, "
      "  created_at FROM main.trials;"
      "COMMIT", NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
  sqlite3_close(h);
  free(now);
  /* The state of a schema-1 file cannot be exported (the open migrates it), so the
   * check here is: healthy, and either still version 1 untouched or fully current. */
  char *work = th_path(dir, "work.db");
  struct tally t = {0, 0, 0};
  for (int k = 0; k < FAULT_KINDS; k++) {
    for (int n = 1; n < 5000; n++) {
      copy_file(base, work);
      inj.armed = k, inj.countdown = n, inj.fired = 0;
      int rc = op_migrate(work, NULL);
      int fired = inj.fired;
      inj.armed = -1;
      cr_assert_eq(sqlite3_open(work, &h), SQLITE_OK);
      sqlite3_stmt *st;
      cr_assert_eq(sqlite3_prepare_v2(h, "SELECT (SELECT user_version FROM pragma_user_version),"
                                         " (SELECT count(*) FROM kernels WHERE content_hash "
                                         "LIKE 'fnv1a64:%'), (SELECT count(*) FROM trials), "
                                         "(SELECT integrity_check FROM pragma_integrity_check)",
                                      -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
      cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
      int version = sqlite3_column_int(st, 0), tagged = sqlite3_column_int(st, 1);
      int trials = sqlite3_column_int(st, 2);
      cr_assert_str_eq((const char *)sqlite3_column_text(st, 3), "ok");
      sqlite3_finalize(st);
      sqlite3_close(h);
      cr_assert_eq(trials, 30, "%s fault %d lost trials", kind_names[k], n);
      if (rc == AT_OK)
        cr_assert(version == DB_SCHEMA_VERSION && tagged == 2, "%s fault %d: ok but version "
                  "%d, %d tagged", kind_names[k], n, version, tagged);
      else
        cr_assert((version == 1 && tagged == 0) ||
                  (version == DB_SCHEMA_VERSION && tagged == 2),
                  "%s fault %d: half migrated (version %d, %d tagged)", kind_names[k], n,
                  version, tagged);
      /* and it migrates, healthy, once the disk is well */
      char *s = state_of(work);
      free(s);
      if (!fired)
        break;
      t.points++;
      *(rc == AT_OK ? &t.ok : &t.failed) += 1;
    }
    fprintf(stderr, "faults: migrate 1 -> current, %s: %d points, %d failed cleanly, %d completed\n",
            kind_names[k], t.points, t.failed, t.ok);
    t = (struct tally){0, 0, 0};
  }
  free(work), free(base);
}
