/*
 * meas_host.c - the `host` measurement backend: a variant's shared object (built by the
 * host compile backend, tuner/compile/cc_host.c) loaded with dlopen and run by the SIMT emulator
 * (tuner/emu/emu.c). "Device" memory is ordinary heap memory (a meas_ptr is its address), so
 * copies are memcpy. A launch runs to completion before it returns: its error, if any
 * (barrier divergence, a warp collective with missing lanes, the kernel's own fail()),
 * comes back from launch itself, and sync has nothing to wait for. Times are honest wall
 * clock (CLOCK_MONOTONIC) times of the emulation on this CPU, one per launch: they say
 * nothing about a GPU. Worker threads: meas_host_set_jobs, else the online CPUs; fiber
 * stack size: $AUTOTUNE_EMU_STACK_KB, else the emulator's default.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tuner/compile/compile.h"
#include "tuner/emu/emu.h"
#include "tuner/measure/meas.h"
#include "base/status.h"

struct meas_ctx {
  int jobs;
  size_t stack_size;
};

struct host_kernel {
  struct host_kernel *next;
  struct host_module *module;
  void *fn;
  char name[96];
};

struct host_module {
  void *dl;
  unsigned warp_size;          /* what the object was compiled for (at_host_warp_size) */
  struct host_kernel *kernels; /* looked up so far; freed with the module */
};

static atomic_int default_jobs;

void meas_host_set_jobs(int jobs)
{
  atomic_store(&default_jobs, jobs);
}

static int host_open(int index, struct meas_ctx **out)
{
  *out = NULL;
  if (index != 0)
    return at_error(AT_UNSUPPORTED, "host: there is one host device (index 0), not %d",
                    index);
  struct meas_ctx *c = calloc(1, sizeof *c);
  if (!c)
    return at_error(AT_NOMEM, "out of memory");
  c->jobs = atomic_load(&default_jobs);
  if (c->jobs <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->jobs = n > 0 ? (int)(n < EMU_MAX_WORKERS ? n : EMU_MAX_WORKERS) : 1;
  }
  const char *kb = getenv("AUTOTUNE_EMU_STACK_KB");
  long v = kb ? strtol(kb, NULL, 10) : 0;
  c->stack_size = v > 0 && v <= 65536 ? (size_t)v << 10 : 0;
  *out = c;
  return AT_OK;
}

static void host_close(struct meas_ctx *c)
{
  free(c);
}

static int host_describe(struct meas_ctx *c, char *name, size_t name_len, char *arch,
                         size_t arch_len)
{
  if (name && name_len)
    snprintf(name, name_len, "host CPU, SIMT emulator, %d worker%s", c->jobs,
             c->jobs == 1 ? "" : "s");
  if (arch && arch_len)
    snprintf(arch, arch_len, "host");
  return AT_OK;
}

static int host_load(struct meas_ctx *c, const void *code, size_t size, meas_module *out)
{
  int rc = AT_OK;
  char *dir = NULL, *path = NULL;
  struct host_module *m = NULL;
  (void)c;
  *out = NULL;
  if (!code || !size)
    return at_error(AT_USAGE, "host: empty code object");
  if (!(m = calloc(1, sizeof *m))) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  if ((rc = os_mkdtemp("host-load", &dir)))
    goto out;
  if (!(path = os_strdupf("%s/variant.so", dir))) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  if ((rc = os_write_file(path, code, size)))
    goto out;
  if (!(m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
    const char *e = dlerror();
    rc = at_error(AT_DEVICE, "host: cannot load the variant: %.300s", e ? e : "?");
    goto out;
  }
  void (*bind)(const struct at_host_rt *);
  void *sym = dlsym(m->dl, "at_host_bind");
  if (!sym) {
    rc = at_error(AT_DEVICE, "host: the variant has no at_host_bind (not built with the "
                  "host side of at_common.h?)");
    goto out;
  }
  memcpy(&bind, &sym, sizeof bind);
  bind(emu_runtime());
  const unsigned *ws = dlsym(m->dl, "at_host_warp_size");
  m->warp_size = ws ? *ws : 32;
  if (m->warp_size != 32 && m->warp_size != 64) {
    rc = at_error(AT_DEVICE, "host: the variant says warp size %u", m->warp_size);
    goto out;
  }
  *out = m;
  m = NULL;
out:
  if (m && m->dl)
    dlclose(m->dl);
  free(m);
  if (path)
    unlink(path); /* the mapping outlives the file */
  os_rmdir(dir);
  free(dir);
  free(path);
  return rc;
}

static int host_unload(struct meas_ctx *c, meas_module mod)
{
  struct host_module *m = mod;
  (void)c;
  if (!m)
    return AT_OK;
  while (m->kernels) {
    struct host_kernel *k = m->kernels;
    m->kernels = k->next;
    free(k);
  }
  dlclose(m->dl);
  free(m);
  return AT_OK;
}

static int host_kernel(struct meas_ctx *c, meas_module mod, const char *name,
                       meas_kernel *out)
{
  struct host_module *m = mod;
  (void)c;
  *out = NULL;
  if (!m || !name)
    return at_error(AT_USAGE, "host: no module or kernel name");
  for (struct host_kernel *k = m->kernels; k; k = k->next)
    if (strcmp(k->name, name) == 0) {
      *out = k;
      return AT_OK;
    }
  void *fn = dlsym(m->dl, name);
  if (!fn)
    return at_error(AT_NOT_FOUND, "host: no kernel '%.80s' in the variant", name);
  struct host_kernel *k = calloc(1, sizeof *k);
  if (!k)
    return at_error(AT_NOMEM, "out of memory");
  k->fn = fn;
  k->module = m;
  snprintf(k->name, sizeof k->name, "%s", name);
  k->next = m->kernels;
  m->kernels = k;
  *out = k;
  return AT_OK;
}

static int host_alloc(struct meas_ctx *c, size_t bytes, meas_ptr *out)
{
  void *p = NULL;
  (void)c;
  *out = 0;
  if (posix_memalign(&p, 256, bytes ? bytes : 1) != 0)
    return at_error(AT_NOMEM, "host: cannot allocate %zu bytes", bytes);
  *out = (meas_ptr)(uintptr_t)p;
  return AT_OK;
}

static int host_free(struct meas_ctx *c, meas_ptr p)
{
  (void)c;
  free((void *)(uintptr_t)p);
  return AT_OK;
}

static int host_upload(struct meas_ctx *c, meas_ptr dst, const void *src, size_t bytes)
{
  (void)c;
  if (bytes)
    memcpy((void *)(uintptr_t)dst, src, bytes);
  return AT_OK;
}

static int host_download(struct meas_ctx *c, void *dst, meas_ptr src, size_t bytes)
{
  (void)c;
  if (bytes)
    memcpy(dst, (const void *)(uintptr_t)src, bytes);
  return AT_OK;
}

static int host_fill(struct meas_ctx *c, meas_ptr dst, unsigned char byte, size_t bytes)
{
  (void)c;
  if (bytes)
    memset((void *)(uintptr_t)dst, byte, bytes);
  return AT_OK;
}

static int host_launch(struct meas_ctx *c, const struct meas_launch *l)
{
  const struct host_kernel *k = l ? l->kernel : NULL;
  struct emu_call call;
  if (!k)
    return at_error(AT_USAGE, "host: no kernel to launch");
  if (!l->arg_kinds)
    return at_error(AT_USAGE, "host: launching '%s' needs the argument kinds (arg_kinds)",
                    k->name);
  int rc = emu_call_pack(&call, k->fn, l->arg_kinds, l->args);
  if (rc)
    return rc;
  struct emu_launch el = {
      .grid = {l->grid[0], l->grid[1], l->grid[2]},
      .block = {l->block[0], l->block[1], l->block[2]},
      .dyn_shared = l->shared_bytes,
      .warp_size = k->module->warp_size,
      .workers = c->jobs,
      .stack_size = c->stack_size,
      .entry = emu_call_run,
      .ctx = &call,
  };
  return emu_launch(&el);
}

static int host_sync(struct meas_ctx *c)
{
  (void)c;
  return AT_OK;
}

static double now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int host_time(struct meas_ctx *c, const struct meas_launch *l, int reps,
                     int (*between)(struct meas_ctx *ctx, void *arg), void *arg, double *us)
{
  int rc = AT_OK;
  for (int i = 0; i < reps; i++) {
    if (between && (rc = between(c, arg)))
      return rc;
    double t0 = now_us();
    if ((rc = host_launch(c, l)))
      return rc;
    us[i] = now_us() - t0;
  }
  return AT_OK;
}

const struct meas_backend meas_host = {
    /* .name = */ "host",
    /* .open = */ host_open,
    /* .close = */ host_close,
    /* .describe = */ host_describe,
    /* .load = */ host_load,
    /* .unload = */ host_unload,
    /* .kernel = */ host_kernel,
    /* .alloc = */ host_alloc,
    /* .free = */ host_free,
    /* .upload = */ host_upload,
    /* .download = */ host_download,
    /* .fill = */ host_fill,
    /* .launch = */ host_launch,
    /* .sync = */ host_sync,
    /* .time = */ host_time,
    /* .pci_bus_id = */ NULL,
};
