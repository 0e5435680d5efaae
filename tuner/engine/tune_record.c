/*
 * tune_record.c - the engine's run in the database: the canonical argument string by
 * which --resume finds a run (tune.h), opening or resuming the run with the trials it
 * already holds (the "known" answers that stand in for a measurement), the run record,
 * and one trial per outcome (tune_internal.h). The resume rules are the design note's
 * in tune.c.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/device.h"
#include "base/os.h"
#include "base/status.h"
#include "tuner/engine/bundle.h"
#include "tuner/engine/tune.h"
#include "tuner/engine/tune_internal.h"

/* ---- canonical arguments and resume ---- */

static void canonical(const struct tuner *tu, char *out, size_t len)
{
  const char *paths[TUNE_MAX_TEMPLATES + 1];
  size_t n = 0;
  for (size_t i = 0; i < tu->ntpls; i++)
    paths[n++] = tu->tpls[i].path;
  tune_canonical_args(tu->o, paths, n, out, len);
  /* the device, the op's own arguments (its problems, resolved) and the defaults */
  size_t used = strlen(out);
  used += (size_t)snprintf(out + used, used < len ? len - used : 0, " --device %s ",
                           tu->dev->name);
  if (tu->o->gpu != 0 && tu->dev->vendor != DEV_HOST && used < len)
    used += (size_t)snprintf(out + used, len - used, "--gpu %d ", tu->o->gpu);
  if (used < len)
    tu->op->canonical(tu->op, out + used, len - used);
  used += strlen(out + used);
  if (used < len)
    snprintf(out + used, len - used, " --budget %" PRId64 " --timeout %g --variant-time %g",
             tu->budget, tu->timeout_s, tu->variant_time_s);
}

void tune_canonical_args(const struct tune_opts *o, const char *const *template_paths,
                         size_t ntemplates, char *out, size_t len)
{
  size_t used = (size_t)snprintf(out, len, "%s", o->op->name);
  if (o->emulate && used < len)
    used += (size_t)snprintf(out + used, len - used, " --emulate %s", o->emulate);
  if (used < len)
    used += (size_t)snprintf(out + used, len - used, " --template ");
  for (size_t i = 0; i < ntemplates && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", template_paths[i]);
  if (used < len)
    used += (size_t)snprintf(out + used, len - used, " --strategy %s --time-budget %g "
                             "--seed %" PRIu64, search_strategy_name(o->strategy),
                             o->time_budget_s, o->seed);
  if (o->where && used < len)
    used += (size_t)snprintf(out + used, len - used, " --where %s", o->where);
  if (o->bundle && used < len)
    used += (size_t)snprintf(out + used, len - used, " --bundle %s", o->bundle->id);
  if (o->sanitize && used < len)
    used += (size_t)snprintf(out + used, len - used, " --sanitize");
  if (o->nshards > 1 && used < len) /* each shard is a run of its own */
    snprintf(out + used, len - used, " --shard %d/%d", o->shard, o->nshards);
}

struct find_run {
  const char *args;
  char uuid[DB_UUID_LEN + 1];
  char ended[DB_UUID_LEN + 1];       /* the latest ended one (tune_opts.resume_ended) */
};

static int find_run_cb(void *ctx, const struct db_run *r)
{
  struct find_run *f = ctx;
  if (!r->ended_at && r->args && strcmp(r->args, f->args) == 0)
    snprintf(f->uuid, sizeof f->uuid, "%s", r->uuid); /* the latest wins */
  else if (r->args && strcmp(r->args, f->args) == 0)
    snprintf(f->ended, sizeof f->ended, "%s", r->uuid);
  return 0;
}

static int known_add(struct tuner *tu, const char *key, const struct meas_result *m)
{
  /* two arrays of one capacity: it grows when both have */
  size_t ck = tu->capknown, cv = tu->capknown;
  int rc = os_grow(&tu->known_keys, &ck, tu->nknown + 1, sizeof *tu->known_keys, 64);
  if (rc != AT_OK || (rc = os_grow(&tu->known, &cv, tu->nknown + 1, sizeof *tu->known, 64)))
    return rc;
  tu->capknown = ck;
  if (!(tu->known_keys[tu->nknown] = strdup(key)))
    return at_error(AT_NOMEM, "out of memory");
  tu->known[tu->nknown++] = *m;
  return AT_OK;
}

void tune_known_key(char *out, size_t len, const char *kernel, const char *dims,
                      const char *config)
{
  snprintf(out, len, "%s|%s|%s", kernel, dims, config);
}

static int load_known_cb(void *ctx, const struct db_trial *t)
{
  struct tuner *tu = ctx;
  if (strcmp(t->run_uuid, tu->run_uuid) != 0)
    return 0;
  char *dims = db_problem_dims_text(&t->problem), key[2048];
  if (!dims)
    return at_error(AT_NOMEM, "out of memory");
  char pd[160];
  snprintf(pd, sizeof pd, "%s %s %s", t->problem.dtype, t->problem.layout, dims);
  free(dims);
  tune_known_key(key, sizeof key, t->kernel, pd, t->config);
  struct meas_result m = {.status = t->status, .median_us = t->time_median_us,
                               .min_us = t->time_min_us, .max_us = t->time_max_us,
                               .spread = t->time_spread, .reps = t->repetitions};
  snprintf(m.message, sizeof m.message, "%s", t->message ? t->message : "");
  return known_add(tu, key, &m);
}

const struct meas_result *tune_known_find(const struct tuner *tu, const char *key)
{
  for (size_t i = 0; i < tu->nknown; i++)
    if (strcmp(tu->known_keys[i], key) == 0)
      return &tu->known[i];
  return NULL;
}

int tune_open_run(struct tuner *tu)
{
  int rc;
  canonical(tu, tu->args, sizeof tu->args);
  if (tu->o->resume) {
    struct find_run f = {.args = tu->args};
    if (tu->db && (rc = db_each_run(tu->db, find_run_cb, &f)) != AT_OK)
      return rc;
    if (f.uuid[0]) {
      /* never a run that a live process still executes (docs/database.md) */
      if ((rc = tune_prov_claim(tu, f.uuid)) != AT_OK)
        return rc;
      snprintf(tu->run_uuid, sizeof tu->run_uuid, "%s", f.uuid);
      tu->resumed = tu->run_put = true;
      if ((rc = db_each_trial(tu->db, load_known_cb, tu)) != AT_OK)
        return rc;
    } else if (f.ended[0] && tu->o->resume_ended) {
      snprintf(tu->run_uuid, sizeof tu->run_uuid, "%s", f.ended);
      tu->ended_before = true;
      return AT_OK;
    } else if (!tu->o->resume_ended) { /* model: a problem not reached before is no news */
      tune_warn(tu, "nothing to resume: no unfinished run with these arguments in %s; starting "
           "a new run", tu->db_path);
    }
  }
  if (!tu->run_uuid[0])
    db_uuid(tu->run_uuid);
  return AT_OK;
}

/* Open (creating it if need be) the run's database once. */
int tune_open_db(struct tuner *tu)
{
  return tu->db ? AT_OK : db_open(tu->db_path, DB_CREATE, &tu->db);
}

/* Put the run record once, before its first trial. */
int tune_put_run(struct tuner *tu, const char *toolchain)
{
  if (tu->run_put)
    return AT_OK;
  int orc = tune_open_db(tu);
  if (orc != AT_OK)
    return orc;
  char host[256] = "", now[32];
  gethostname(host, sizeof host - 1);
  db_now(now);
  struct db_run r;
  db_run_init(&r);
  r.host = host, r.started_at = now, r.toolchain = toolchain;
  r.autotune_version = at_version();
  r.strategy = search_strategy_name(tu->o->strategy), r.args = tu->args;
  tune_prov_run(tu, &r);
  snprintf(r.uuid, sizeof r.uuid, "%s", tu->run_uuid);
  int rc = db_put_run(tu->db, &r, NULL);
  if (rc == AT_OK)
    tu->run_put = true;
  return rc;
}

/* ---- recording ---- */

/* sm_clock_mhz, throttled: tune_prov_after's, for a measurement; -1 for a verdict. w:
 * the worker that measured it; SIZE_MAX for a verdict. */
int tune_record(struct tuner *tu, const struct tpl *p, size_t bv,
                  const struct meas_result *m, int64_t sm_clock_mhz, int64_t throttled,
                  size_t w)
{
  const struct bld_variant *v = &p->br.variants[bv];
  struct db_trial t;
  db_trial_init(&t);
  db_uuid(t.uuid);
  snprintf(t.run_uuid, sizeof t.run_uuid, "%s", tu->run_uuid);
  t.device = tu->dev_name;
  t.arch = tu->arch;
  t.vendor = tu->o->emulate ? "host" : dev_vendor_name(tu->dev->vendor);
  t.kernel = p->t->kernel;
  t.kernel_hash = p->t->hash;
  t.problem = tu->prob.key;
  t.config = v->config_text;
  t.status = m->status;
  if (m->status == DB_TRIAL_OK) {
    t.time_median_us = m->median_us;
    t.time_min_us = m->min_us;
    t.time_max_us = m->max_us;
    t.time_spread = m->spread;
    t.repetitions = m->reps;
    if (tu->prob.flops > 0)
      t.tflops = tu->prob.flops / (m->median_us * 1e-6) / 1e12;
    if (tu->prob.bytes > 0)
      t.gbps = tu->prob.bytes / (m->median_us * 1e-6) / 1e9;
    t.sm_clock_mhz = sm_clock_mhz;
    t.throttled = throttled;
  }
  t.registers = v->res.registers;
  t.spills = v->res.spill_bytes >= 0 ? v->res.spill_bytes
             : v->res.vgpr_spills >= 0 ? (int64_t)v->res.vgpr_spills +
                                             (v->res.sgpr_spills > 0 ? v->res.sgpr_spills : 0)
                                       : -1;
  t.shared_bytes = v->res.shared_bytes >= 0 ? v->res.shared_bytes + v->launch.shared : -1;
  t.occupancy = v->verdict == BLD_COMPILE_ERROR || tu->dev->vendor == DEV_HOST
                    ? NAN : v->occ.occupancy;
  t.message = m->message[0] ? m->message : NULL;
  if (w != SIZE_MAX) {
    t.gpu_ordinal = tu->gpu_ord[w];
    t.gpu_uuid = tu->gpu_uuid[w][0] ? tu->gpu_uuid[w] : NULL;
  }
  int rc = db_put_trial(tu->db, &t, NULL);
  if (rc == AT_OK)
    tu->trials_recorded++;
  return rc == AT_OK ? tune_prov_heartbeat(tu) : rc;
}
