/*
 * shard.c - which part of a run's work a shard measures (--shard I/N, a Slurm array's
 * task; docs/cluster.md): a stable hash of (kernel, problem, config) mod N, the same in
 * every job, so that N jobs cover the work exactly once with no coordination.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/status.h"
#include "generator/space.h"
#include "tuner/engine/tune_internal.h"

/* Whether this shard owns (kernel, the current problem[, config]): a stable hash of
 * their texts, mod N. The same in every shard, so N shards own each exactly once. */
bool tune_owns(const struct tuner *tu, const char *kernel, const char *config)
{
  if (tu->o->nshards <= 1)
    return true;
  uint64_t h = hash_fnv1a64(HASH_FNV1A64_SEED, kernel, strlen(kernel) + 1);
  h = hash_fnv1a64(h, tu->prob.text, strlen(tu->prob.text) + 1);
  if (config)
    h = hash_fnv1a64(h, config, strlen(config));
  h ^= h >> 33; /* FNV's low bits are weak: mix them before the modulus */
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h % (uint64_t)tu->o->nshards == (uint64_t)tu->o->shard;
}

int tune_owns_config(const struct tuner *tu, const struct tpl *p, const int64_t *cfg,
                     bool *mine)
{
  char *text = NULL;
  int rc = gen_space_config_text(p->space, cfg, &text);
  if (rc == AT_OK)
    *mine = tune_owns(tu, p->t->kernel, text);
  free(text);
  return rc;
}

/*
 * Keep the configs of p this shard measures. A strategy whose picks are known before
 * measuring has already been narrowed to them (preselect), and measures all it is left
 * with: so each shard keeps the picks it owns, and the union over the shards is the
 * unsharded run's. The middle config stays whatever owns it (the default is found by
 * it), marked p->foreign when another shard's. A strategy that chooses as it measures
 * cannot be split within a template: there the shards own whole (template, problem)
 * pairs (span_tpl), and the baseline is split by config as here.
 */
int tune_shard_configs(const struct tuner *tu, struct tpl *p)
{
  size_t k = 0, mid = p->mid;
  p->foreign = SIZE_MAX;
  for (size_t i = 0; i < p->nconfigs; i++) {
    bool mine = false;
    int rc = tune_owns_config(tu, p, p->configs + i * p->np, &mine);
    if (rc != AT_OK)
      return rc;
    if (!mine && i != p->mid)
      continue;
    if (i == p->mid) {
      mid = k;
      if (!mine)
        p->foreign = k;
    }
    if (k != i)
      memmove(p->configs + k * p->np, p->configs + i * p->np, p->np * sizeof *p->configs);
    k++;
  }
  p->nconfigs = k;
  p->mid = mid;
  return AT_OK;
}
