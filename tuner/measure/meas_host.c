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
 *
 * Red zones. A GPU faults on a stray write; the host's heap takes it silently (a variant
 * writing 3 elements past C came out `ok` and won). So every buffer host_alloc hands out
 * sits between two RED_ZONE-byte guards of a known pattern, and host_launch checks the
 * guards of every live buffer after each launch: a changed byte is AT_DEVICE (the trial's
 * status `fault`) naming the buffer (by the kernel argument that points at it, with its
 * name when the launch has arg_names) and the byte offsets written, and the guards are
 * restored so the next variant starts clean. Writes farther away than a guard still land
 * wherever they land (a SIGSEGV far away; --sanitize catches the rest).
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AT_EMU_ONLY 1
#include "templates/common/at_tma.h"

#include "tuner/compile/compile.h"
#include "tuner/emu/emu.h"
#include "tuner/measure/meas.h"
#include "base/status.h"

#define RED_ZONE 4096 /* bytes of guard on each side; a multiple of the 256 alignment */

struct host_buf {
  struct host_buf *next;
  unsigned char *base;         /* the allocation: guard, the buffer's bytes, guard */
  size_t bytes;
};

struct meas_ctx {
  int jobs;
  size_t stack_size;
  struct host_buf *bufs;       /* every live buffer, for the red-zone check */
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

bool meas_host_has_asan(void)
{
  void *self = dlopen(NULL, RTLD_LAZY); /* the program and what it loaded (LD_PRELOAD) */
  bool has = self && dlsym(self, "__asan_init") != NULL;
  if (self)
    dlclose(self);
  return has;
}

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
  while (c && c->bufs) { /* what was not freed goes with the context, as on a GPU */
    struct host_buf *b = c->bufs;
    c->bufs = b->next;
    free(b->base);
    free(b);
  }
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

/* Byte i of a guard: position-dependent, so a kernel storing a constant is seen. */
static unsigned char guard_byte(size_t i)
{
  return (unsigned char)(0xA5 ^ (i * 131 + (i >> 8)));
}

static void guard_fill(unsigned char *g)
{
  for (size_t i = 0; i < RED_ZONE; i++)
    g[i] = guard_byte(i);
}

/* The first and last changed bytes of guard g: false when none changed. */
static bool guard_changed(const unsigned char *g, size_t *first, size_t *last)
{
  bool any = false;
  for (size_t i = 0; i < RED_ZONE; i++)
    if (g[i] != guard_byte(i)) {
      if (!any)
        *first = i;
      *last = i;
      any = true;
    }
  return any;
}

static int host_alloc(struct meas_ctx *c, size_t bytes, meas_ptr *out)
{
  void *p = NULL;
  *out = 0;
  struct host_buf *b = malloc(sizeof *b);
  if (!b || bytes > SIZE_MAX - 2 * RED_ZONE ||
      posix_memalign(&p, 256, bytes + 2 * RED_ZONE) != 0) {
    free(b);
    return at_error(AT_NOMEM, "host: cannot allocate %zu bytes", bytes);
  }
  b->base = p;
  b->bytes = bytes;
  guard_fill(b->base);
  guard_fill(b->base + RED_ZONE + bytes);
  b->next = c->bufs;
  c->bufs = b;
  *out = (meas_ptr)(uintptr_t)(b->base + RED_ZONE);
  return AT_OK;
}

static int host_free(struct meas_ctx *c, meas_ptr p)
{
  for (struct host_buf **at = &c->bufs; *at; at = &(*at)->next)
    if ((meas_ptr)(uintptr_t)((*at)->base + RED_ZONE) == p) {
      struct host_buf *b = *at;
      *at = b->next;
      free(b->base);
      free(b);
      return AT_OK;
    }
  return at_error(AT_USAGE, "host: freeing 0x%llx, which host_alloc did not hand out",
                  (unsigned long long)p);
}

/* "C (argument 3)" for the buffer at p: its kernel argument in l, else its size. */
static void buffer_name(const struct meas_launch *l, meas_ptr p, size_t bytes, char *out,
                        size_t len)
{
  snprintf(out, len, "a buffer of %zu bytes no argument points at", bytes);
  for (size_t i = 0; l->arg_kinds[i]; i++) {
    meas_ptr v;
    if (l->arg_kinds[i] != 'p')
      continue;
    memcpy(&v, l->args[i], sizeof v);
    if (v != p)
      continue;
    const char *name = l->arg_names;
    for (size_t k = 0; name && k < i; k++) /* the i-th of the comma-separated names */
      name = (name = strchr(name, ',')) ? name + 1 : NULL;
    int n = name ? (int)strcspn(name, ",") : 0;
    if (n > 0)
      snprintf(out, len, "%.*s (argument %zu, %zu bytes)", n > 60 ? 60 : n, name, i + 1, bytes);
    else
      snprintf(out, len, "argument %zu (%zu bytes)", i + 1, bytes);
    return;
  }
}

/* After a launch: every live buffer's guards as host_alloc wrote them, else AT_DEVICE
 * naming the first buffer written outside (the guards then restored). */
static int check_red_zones(struct meas_ctx *c, const struct meas_launch *l,
                           const struct host_kernel *k)
{
  int rc = AT_OK;
  for (struct host_buf *b = c->bufs; b; b = b->next) {
    unsigned char *front = b->base, *back = b->base + RED_ZONE + b->bytes;
    size_t f0 = 0, f1 = 0, b0 = 0, b1 = 0;
    bool hit_front = guard_changed(front, &f0, &f1), hit_back = guard_changed(back, &b0, &b1);
    if (!hit_front && !hit_back)
      continue;
    if (rc == AT_OK) {
      char name[128];
      buffer_name(l, (meas_ptr)(uintptr_t)(b->base + RED_ZONE), b->bytes, name, sizeof name);
      if (hit_back)
        rc = at_error(AT_DEVICE, "out-of-bounds write: kernel '%s' wrote past the end of %s, "
                      "at byte offsets %zu..%zu (host red zone)", k->name, name, b->bytes + b0,
                      b->bytes + b1);
      else
        rc = at_error(AT_DEVICE, "out-of-bounds write: kernel '%s' wrote before the start of "
                      "%s, at byte offsets -%zu..-%zu (host red zone)", k->name, name,
                      (size_t)RED_ZONE - f0, (size_t)RED_ZONE - f1);
    }
    guard_fill(front);
    guard_fill(back);
  }
  return rc;
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
      .cluster = {l->cluster[0], l->cluster[1], l->cluster[2]},
      .dyn_shared = l->shared_bytes,
      .warp_size = k->module->warp_size,
      .workers = c->jobs,
      .stack_size = c->stack_size,
      .entry = emu_call_run,
      .ctx = &call,
  };
  rc = emu_launch(&el);
  int zones = check_red_zones(c, l, k); /* after a failed launch too: it may have strayed */
  return rc ? rc : zones;
}

/* The host device's tensor map (at_tma.h's encoding): a host buffer's address is its
 * meas_ptr. meas_tmap_encode checked the request. */
static int host_tmap_encode(struct meas_ctx *c, const struct meas_tmap *t, void *map)
{
  (void)c;
  const unsigned long long dims[2] = {(unsigned long long)t->cols,
                                      (unsigned long long)t->rows};
  const char *why = at_tmap_host_encode(map, (const void *)(uintptr_t)t->base, t->elem_bytes,
                                        dims, (unsigned long long)t->ld * t->elem_bytes,
                                        t->box, t->swizzle, 0);
  return why ? at_error(AT_USAGE, "%s", why) : AT_OK;
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
    /* .tmap_encode = */ host_tmap_encode,
};
