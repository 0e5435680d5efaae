/*
 * bench_search.c - how fast each search strategy finds a good config: every strategy runs
 * on the `replay` backend (tuner/measure/meas_replay.c) over a fully measured space for 20 seeds
 * or more, and the median fraction of the optimum reached (best time of the space / best
 * time found so far) is printed against the number of evaluations.
 *
 *   bench_search [--seeds N]                       a SYNTHETIC space (said in the output)
 *   bench_search --db FILE --device D --kernel K --m M --n N --k K [--dtype T] [--layout L]
 *                                                  trials of a real (exhaustive) run
 *
 * The synthetic space is the shape of templates/gemm/gemm_mma.h's on an H100-like device
 * (BM, BN, BK, WM, WN, STAGES with its warp-tile constraints) for 4096^3, its times from
 * a deterministic cost model (roofline, wave quantization over 132 SMs, shared-memory
 * occupancy, pipeline depth, +-8% hash noise, 3% of configs failing), written as trials
 * into a temporary database and read back through replay like real trials. The model
 * strategy gets the cost model without its noise, stage and occupancy terms: an
 * imperfect model, as real ones are. With --db no model is known and `model` is skipped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hash.h"
#include "db/db.h"
#include "tuner/compile/compile.h"
#include "tuner/search/search.h"
#include "tuner/measure/replay.h"

#define MAXP 4096
static const int checkpoints[] = {1, 2, 5, 10, 20, 50, 100, 200, 400};
#define NCP (int)(sizeof checkpoints / sizeof checkpoints[0])

struct bench {
  struct meas_replay *r;
  const char **configs;
  size_t n;
  double best_so_far[512];
  size_t evals;
};

static int eval(void *ctx, size_t p, double *cost)
{
  struct bench *b = ctx;
  struct meas_result m;
  if (meas_replay_lookup(b->r, b->configs[p], &m) != AT_OK)
    return AT_NOT_FOUND; /* never happens: the space is the replay's own configs */
  *cost = m.status == DB_TRIAL_OK ? m.median_us : INFINITY;
  double prev = b->evals ? b->best_so_far[b->evals - 1] : INFINITY;
  if (b->evals < 512)
    b->best_so_far[b->evals] = fmin(prev, *cost);
  b->evals++;
  return AT_OK;
}

static uint64_t hash(const char *s)
{
  uint64_t h = hash_fnv1a64(HASH_FNV1A64_SEED, s, strlen(s));
  return h ^ (h >> 31);
}

/* The synthetic H100-like cost of one config (us), and the model's cruder guess. */
static double synth_cost(int bm, int bn, int bk, int wm, int wn, int st, double *model)
{
  const double M = 4096, N = 4096, K = 4096, sms = 132, peak = 989e12 * 0.75, bw = 3.35e12;
  double blocks = ceil(M / bm) * ceil(N / bn);
  double smem = (double)st * (bm + bn) * bk * 2;
  int per_sm = (int)fmin(fmin(228.0 * 1024 / (smem + 1024), 2048.0 / (wm * wn * 32)), 32);
  if (per_sm < 1)
    return -1;
  double waves = ceil(blocks / (sms * per_sm)), weff = blocks / (waves * sms * per_sm);
  double ai = 2.0 * bm * bn / ((bm + bn) * 2.0);
  double rate = fmin(peak, ai * bw * 4);
  double base = 2 * M * N * K / (rate * weff) * 1e6;
  *model = base;
  double pipe = st == 2 ? 1.25 : st == 3 ? 1.05 : 1.0;
  double occ = per_sm * wm * wn >= 8 ? 1.0 : 1.15;
  double warp = (bm / wm) * (bn / wn) >= 2048 ? 1.0 : 1.1;
  return base * pipe * occ * warp;
}

static int synthesise(const char *path)
{
  static const int BM[] = {16, 32, 64, 128, 256}, BN[] = {32, 64, 128, 256}, BK[] = {16, 32, 64},
                   WM[] = {1, 2, 4}, WN[] = {1, 2, 4, 8}, ST[] = {2, 3, 4};
  struct db *db = NULL;
  int rc = db_open(path, DB_CREATE, &db);
  if (rc != AT_OK)
    return rc;
  struct db_run run;
  db_run_init(&run);
  run.strategy = "exhaustive", run.args = "bench_search: SYNTHETIC cost model";
  db_uuid(run.uuid);
  char now[32];
  db_now(now);
  run.started_at = now;
  if ((rc = db_put_run(db, &run, NULL)) != AT_OK || (rc = db_begin(db)) != AT_OK)
    goto out;
  for (int a = 0; a < 5; a++)
    for (int b = 0; b < 4; b++)
      for (int c = 0; c < 3; c++)
        for (int d = 0; d < 3; d++)
          for (int e = 0; e < 4; e++)
            for (int f = 0; f < 3; f++) {
              int bm = BM[a], bn = BN[b], wm = WM[d], wn = WN[e];
              double wt = (double)(bm / wm) * (bn / wn);
              if (bm % (wm * 16) || bn % (wn * 16) || wm * wn < 2 || wm * wn > 8 ||
                  wt < 512 || wt > 4096)
                continue;
              char cfg[128];
              snprintf(cfg, sizeof cfg, "BK=%d,BM=%d,BN=%d,STAGES=%d,WM=%d,WN=%d", BK[c], bm,
                       bn, ST[f], wm, wn);
              double model, t = synth_cost(bm, bn, BK[c], wm, wn, ST[f], &model);
              t *= 0.92 + 0.16 * (double)(hash(cfg) % 1000) / 1000.0;
              struct db_trial tr;
              db_trial_init(&tr);
              db_uuid(tr.uuid);
              memcpy(tr.run_uuid, run.uuid, sizeof tr.run_uuid);
              tr.device = "h100";
              tr.arch = "sm_90";
              tr.vendor = "nvidia";
              tr.kernel = "synthetic_mma";
              tr.kernel_hash = "0000000000000000";
              tr.problem = (struct db_problem){.op = "gemm", .dtype = "f16", .layout = "NN",
                                               .ndims = 3, .dim_names = {"m", "n", "k"},
                                               .dims = {4096, 4096, 4096}};
              tr.config = cfg;
              bool fails = t < 0 || hash(cfg) % 100 < 3;
              tr.status = fails ? DB_TRIAL_LAUNCH_ERROR : DB_TRIAL_OK;
              tr.time_median_us = fails ? NAN : t;
              tr.message = fails ? "synthetic failure" : NULL;
              if ((rc = db_put_trial(db, &tr, NULL)) != AT_OK)
                goto out;
            }
  rc = db_commit(db);
out:
  db_close(db);
  return rc;
}

/* The model's guess for a synthetic config text. */
static double synth_model(const char *cfg)
{
  int bk, bm, bn, st, wm, wn;
  double model = INFINITY;
  if (sscanf(cfg, "BK=%d,BM=%d,BN=%d,STAGES=%d,WM=%d,WN=%d", &bk, &bm, &bn, &st, &wm, &wn) == 6 &&
      synth_cost(bm, bn, bk, wm, wn, st, &model) < 0)
    model = INFINITY;
  return model;
}

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
  const char *dbp = NULL, *device = "h100", *kernel = "synthetic_mma", *dtype = "f16",
             *layout = "NN";
  long m = 4096, n = 4096, k = 4096, seeds = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--db")) dbp = argv[i + 1];
    else if (!strcmp(argv[i], "--device")) device = argv[i + 1];
    else if (!strcmp(argv[i], "--kernel")) kernel = argv[i + 1];
    else if (!strcmp(argv[i], "--dtype")) dtype = argv[i + 1];
    else if (!strcmp(argv[i], "--layout")) layout = argv[i + 1];
    else if (!strcmp(argv[i], "--m")) m = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--n")) n = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--k")) k = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--seeds")) seeds = atol(argv[i + 1]);
    else {
      fprintf(stderr, "bench_search: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  char *tmp = NULL, *path = NULL;
  bool synthetic = !dbp;
  if (synthetic) {
    if (os_mkdtemp("bench-search", &tmp) != AT_OK || !(path = os_strdupf("%s/s.db", tmp)) ||
        synthesise(path) != AT_OK) {
      fprintf(stderr, "bench_search: %s\n", at_last_error());
      return 1;
    }
    dbp = path;
  }
  struct db_problem p = {.op = "gemm", .dtype = dtype, .layout = layout, .ndims = 3,
                         .dim_names = {"m", "n", "k"}, .dims = {m, n, k}};
  struct bench b = {0};
  if (meas_replay_open(dbp, device, kernel, &p, &b.r) != AT_OK || meas_replay_count(b.r) < 2) {
    fprintf(stderr, "bench_search: no trials of %s on %s in '%s': %s\n", kernel, device, dbp,
            at_last_error());
    return 1;
  }
  b.n = meas_replay_count(b.r);
  b.configs = malloc(b.n * sizeof *b.configs);
  double *model = malloc(b.n * sizeof *model), opt = INFINITY;
  for (size_t i = 0; i < b.n; i++) {
    b.configs[i] = meas_replay_config(b.r, i);
    model[i] = synth_model(b.configs[i]);
    struct meas_result tm;
    meas_replay_lookup(b.r, b.configs[i], &tm);
    if (tm.status == DB_TRIAL_OK && tm.median_us < opt)
      opt = tm.median_us;
  }
  int32_t *coords = NULL;
  size_t nd = 0;
  if (meas_coords_from_configs(b.configs, b.n, &coords, &nd) != AT_OK) {
    fprintf(stderr, "bench_search: %s\n", at_last_error());
    return 1;
  }
  printf("bench_search: %s space: %zu configs of %s on %s, %s %s %ldx%ldx%ld, optimum %.1f us\n",
         synthetic ? "SYNTHETIC (deterministic cost model, not measured)" : "measured",
         b.n, kernel, device, dtype, layout, m, n, k, opt);
  printf("median fraction of the optimum reached (optimum / best found) over %ld seeds\n",
         seeds);
  printf("%-11s", "evals");
  for (int c = 0; c < NCP; c++)
    if ((size_t)checkpoints[c] <= b.n)
      printf(" %6d", checkpoints[c]);
  printf("\n");
  for (int s = 0; s < SEARCH_STRATEGY_COUNT; s++) {
    if (s == SEARCH_MODEL && !synthetic)
      continue;
    double *frac = calloc((size_t)seeds * NCP, sizeof *frac);
    for (long seed = 1; seed <= seeds; seed++) {
      struct search_space sp = {.npoints = b.n, .ndims = nd, .coords = coords, .model = model};
      struct search_opts o = {.strategy = (enum search_strategy)s, .seed = (uint64_t)seed,
                              .budget = 400};
      struct search_result res;
      b.evals = 0;
      search_run(&sp, &o, eval, &b, &res);
      for (int c = 0; c < NCP; c++) {
        size_t at = (size_t)checkpoints[c] < b.evals ? (size_t)checkpoints[c] : b.evals;
        double best = at ? b.best_so_far[at - 1] : INFINITY;
        frac[c * seeds + seed - 1] = isfinite(best) ? opt / best : 0;
      }
    }
    printf("%-11s", search_strategy_name((enum search_strategy)s));
    for (int c = 0; c < NCP; c++) {
      if ((size_t)checkpoints[c] > b.n)
        continue;
      qsort(frac + c * seeds, (size_t)seeds, sizeof *frac, cmp_d);
      printf(" %6.3f", frac[c * seeds + seeds / 2]);
    }
    printf("\n");
    free(frac);
  }
  free(coords);
  free(model);
  free(b.configs);
  meas_replay_close(b.r);
  if (tmp) {
    unlink(path);
    char *wal = os_strdupf("%s-wal", path), *shm = os_strdupf("%s-shm", path);
    if (wal)
      unlink(wal);
    if (shm)
      unlink(shm);
    free(wal);
    free(shm);
    os_rmdir(tmp);
  }
  free(tmp);
  free(path);
  return 0;
}
