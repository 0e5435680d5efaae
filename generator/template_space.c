/*
 * template_space.c - what a loaded template (template.c) spans on one device: the device
 * constants its expressions see, the slot layout of its expressions, its space (params,
 * derived values, require constraints and the built-in device and type limits), and the
 * target a variant is compiled for. The declarations and the slot layout are in
 * template.h.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/device.h"
#include "base/os.h"
#include "base/status.h"
#include "generator/space.h"
#include "generator/template.h"

static const char *const device_names[TMPL_NDEVICE] = {
    "device.wave_size",    "device.max_threads",       "device.lds_bytes",
    "device.lds_per_cu",   "device.cus",               "device.regs_per_cu",
    "device.max_regs_per_thread", "device.max_blocks_per_cu", "device.max_warps_per_cu",
    "device.simds_per_cu", "device.is_amd",            "device.is_nvidia",
    "device.is_host",      "device.arch_major",        "device.arch_minor",
    "device.arch_step",
};

/* ---- device constants --------------------------------------------------------------- */

static int hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* major/minor/step from "sm_90", "sm_100a", "gfx942", "gfx90a", "gfx1100"; 0s otherwise. */
static void arch_numbers(const char *arch, int64_t v[3])
{
  v[0] = v[1] = v[2] = 0;
  if (!arch)
    return;
  if (strncmp(arch, "sm_", 3) == 0) {
    int64_t n = 0;
    for (const char *c = arch + 3; *c >= '0' && *c <= '9'; c++)
      n = n * 10 + (*c - '0');
    v[0] = n / 10;
    v[1] = n % 10;
  } else if (strncmp(arch, "gfx", 3) == 0) {
    size_t len = strlen(arch + 3);
    if (len < 3)
      return;
    const char *d = arch + 3;
    int64_t major = 0;
    for (size_t i = 0; i + 2 < len; i++) {
      if (d[i] < '0' || d[i] > '9')
        return;
      major = major * 10 + (d[i] - '0');
    }
    int minor = hexval(d[len - 2]), step = hexval(d[len - 1]);
    if (minor < 0 || step < 0)
      return;
    v[0] = major;
    v[1] = minor;
    v[2] = step;
  }
}

const char *tmpl_device_const_name(size_t i)
{
  return i < TMPL_NDEVICE ? device_names[i] : NULL;
}

int64_t tmpl_device_const(const struct dev_profile *dev, size_t i)
{
  int64_t arch[3];
  if (!dev)
    return 0;
  switch (i) {
  case 0: return dev->warp_size;
  case 1: return dev->max_threads_per_block;
  case 2: return dev->lds_per_block;
  case 3: return dev->lds_per_cu;
  case 4: return dev->compute_units;
  case 5: return dev->regs_per_cu;
  case 6: return dev->max_regs_per_thread;
  case 7: return dev->max_blocks_per_cu;
  case 8: return dev->max_warps_per_cu;
  case 9: return dev->simds_per_cu;
  case 10: return dev->vendor == DEV_AMD;
  case 11: return dev->vendor == DEV_NVIDIA;
  case 12: return dev->vendor == DEV_HOST;
  default: break;
  }
  if (i >= TMPL_NDEVICE)
    return 0;
  arch_numbers(dev->vendor == DEV_HOST ? NULL : dev->arch, arch);
  return arch[i - 13];
}

size_t tmpl_slot_count(const struct tmpl *t)
{
  return TMPL_NDEVICE + t->ndims + t->nparams;
}

void tmpl_slots(const struct tmpl *t, const struct dev_profile *dev, const int64_t *dims,
                const int64_t *config, int64_t *slots)
{
  for (size_t i = 0; i < TMPL_NDEVICE; i++)
    slots[i] = tmpl_device_const(dev, i);
  for (size_t i = 0; i < t->ndims; i++)
    slots[TMPL_NDEVICE + i] = dims ? dims[i] : TMPL_DEFAULT_DIM;
  for (size_t i = 0; i < t->nparams; i++)
    slots[TMPL_NDEVICE + t->ndims + i] = config ? config[i] : 0;
}

/* ---- the space ---------------------------------------------------------------------- */

static int space_require(struct gen_space *s, const char *name, char *expr)
{
  if (!expr)
    return at_error(AT_NOMEM, "out of memory");
  int rc = gen_space_add_require(s, name, expr);
  free(expr);
  return rc;
}

int tmpl_space(const struct tmpl *t, const struct dev_profile *dev, const int64_t *dims,
               struct gen_space **out)
{
  struct gen_space *s = NULL;
  char *threads = NULL;
  int rc;
  if (out)
    *out = NULL;
  if (!t || !dev || !out)
    return at_error(AT_USAGE, "tmpl_space: NULL argument");
  if ((rc = gen_space_new(&s)))
    return rc;
  for (size_t i = 0; i < TMPL_NDEVICE && !rc; i++)
    rc = gen_space_set_const(s, device_names[i], tmpl_device_const(dev, i));
  for (size_t i = 0; i < t->ndims && !rc; i++)
    rc = gen_space_set_const(s, t->dims[i], dims ? dims[i] : TMPL_DEFAULT_DIM);
  for (size_t i = 0; i < t->nparams && !rc; i++) {
    const struct tmpl_param *p = &t->params[i];
    rc = p->expr ? gen_space_add_derived(s, p->name, p->expr)
                 : gen_space_add_param(s, p->name, p->values, p->nvalues);
  }
  for (size_t i = 0; i < t->nreqs && !rc; i++)
    rc = gen_space_add_require(s, t->reqs[i].name, t->reqs[i].expr);
  if (rc)
    goto done;
  threads = os_strdupf("(%s) * (%s) * (%s)", t->threads_text[0], t->threads_text[1],
                   t->threads_text[2]);
  if (!threads) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto done;
  }
  if ((rc = space_require(s, "device: threads per block",
                          os_strdupf("%s >= 1 && %s <= device.max_threads", threads, threads))) ||
      (rc = space_require(s, "device: shared memory",
                          os_strdupf("(%s) >= 0 && (%s) <= device.lds_bytes", t->shared_text,
                                 t->shared_text))) ||
      (rc = space_require(s, "device: wave multiple",
                          os_strdupf("%s %% device.wave_size == 0", threads))))
    goto done;
  for (size_t i = 0; i < t->nparams && !rc; i++) {
    const struct tmpl_param *p = &t->params[i];
    if (!p->expr || p->tparam < 0)
      continue;
    const struct tmpl_tparam *tp = &t->tparams[p->tparam];
    if (tp->lo == INT64_MIN && tp->hi == INT64_MAX)
      continue;
    char name[160];
    snprintf(name, sizeof name, "type: %.64s fits %.64s", p->name, tp->type);
    rc = space_require(s, name,
                       os_strdupf("%s >= %" PRId64 " && %s <= %" PRId64, p->name, tp->lo, p->name,
                              tp->hi));
  }
done:
  free(threads);
  if (rc)
    gen_space_free(s);
  else
    *out = s;
  return rc;
}

const char *tmpl_compile_arch(const struct tmpl *t, const char *arch, char *buf, size_t cap)
{
  size_t n = strlen(arch);
  bool nvidia = strncmp(arch, "sm_", 3) == 0 && n > 3 && isdigit((unsigned char)arch[n - 1]);
  snprintf(buf, cap, "%s%s", arch, t && t->arch_specific && nvidia ? "a" : "");
  return buf;
}
