/*
 * meas_gpu.c - the GPU measurement backends, `cuda` and `hip`: one source over the vendor
 * layer's tables (tuner/device/vendor.h), two struct meas_backend that differ in their
 * table alone. Per open device: one stream and a pair of events; on CUDA the device's
 * primary context, made current before loading; on HIP the device set before loading.
 * Where the vendors differ, the code asks the table (a NULL entry point) or its vendor,
 * never a copy of a whole function:
 *  - CUDA needs an opt-in above 48 KiB of dynamic shared memory (cuFuncSetAttribute);
 *  - HIP's device name and gfx arch come from dev_detect (hipGetDevicePropertiesR0600).
 * Every call is checked in VND_CHECK: the statement, file, line and the vendor's own
 * error name, plus the fault class the worker looks for ("ILLEGAL_ADDRESS"), as an
 * AT_DEVICE status, never an abort.
 *
 * Status of `hip`: exercised here only up to "no AMD GPU on this machine" (Debian's ROCm
 * 5.2 runtime loads and does not initialise without a device); not yet run on an AMD GPU.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/device/detect.h"
#include "tuner/device/vendor.h"
#include "tuner/measure/meas.h"
#include "base/status.h"

/* CUDA's default limit of dynamic shared memory without the opt-in. */
#define CUDA_SHARED_WITHOUT_OPTIN (48 * 1024)

struct meas_ctx {
  const struct vnd_api *api;
  int index;            /* the ordinal among this vendor's devices */
  int dev;              /* the vendor's device handle */
  vnd_context ctx;      /* CUDA: the primary context; HIP: NULL */
  vnd_stream stream;
  vnd_event start, stop;
};

/* Make the device current for this thread: the module and memory calls act on it. */
static int make_current(struct meas_ctx *c)
{
  if (c->api->ctx_set_current)
    VND_CHECK(c->api, ctx_set_current(c->ctx));
  else
    VND_CHECK(c->api, set_device(c->index));
  return AT_OK;
}

static void gpu_close(struct meas_ctx *c)
{
  if (!c)
    return;
  const struct vnd_api *a = c->api;
  if (c->ctx)
    a->ctx_set_current(c->ctx);
  if (c->stop)
    a->event_destroy(c->stop);
  if (c->start)
    a->event_destroy(c->start);
  if (c->stream)
    a->stream_destroy(c->stream);
  if (c->ctx)
    a->primary_ctx_release(c->dev);
  free(c);
}

/* The device's context, stream and events. */
static int open_device(struct meas_ctx *c)
{
  const struct vnd_api *a = c->api;
  c->dev = c->index;
  if (a->device_get)
    VND_CHECK(a, device_get(&c->dev, c->index));
  if (a->primary_ctx_retain)
    VND_CHECK(a, primary_ctx_retain(&c->ctx, c->dev));
  int rc = make_current(c);
  if (rc != AT_OK)
    return rc;
  VND_CHECK(a, stream_create(&c->stream, VND_STREAM_NON_BLOCKING));
  VND_CHECK(a, event_create(&c->start, 0));
  VND_CHECK(a, event_create(&c->stop, 0));
  return AT_OK;
}

static int gpu_open(const struct vnd_api *a, int index, struct meas_ctx **out)
{
  *out = NULL;
  if (a->rc != AT_OK)
    return at_error(AT_UNSUPPORTED, "%s", a->why);
  int count = 0;
  vnd_status r = a->device_count(&count);
  if (r == 0 && count > 0 && (index < 0 || index >= count))
    return at_error(AT_USAGE, "no %s GPU %d: this machine has %d (--gpu 0 to %d)", a->name,
                    index, count, count - 1);
  if (r != 0 || index < 0 || index >= count)
    return at_error(AT_UNSUPPORTED, "no %s device %d (this machine has %d%s%s)", a->name,
                    index, r ? 0 : count, r ? ": " : "", r ? vnd_error_name(a, r) : "");
  struct meas_ctx *c = calloc(1, sizeof *c);
  if (!c)
    return at_error(AT_NOMEM, "out of memory");
  c->api = a;
  c->index = index;
  int rc = open_device(c);
  if (rc != AT_OK) {
    gpu_close(c);
    return rc;
  }
  *out = c;
  return AT_OK;
}

static int cuda_open(int index, struct meas_ctx **out) { return gpu_open(vnd_cuda(), index, out); }
static int hip_open(int index, struct meas_ctx **out) { return gpu_open(vnd_hip(), index, out); }

static int describe_detected(struct meas_ctx *c, char *name, size_t name_len, char *arch,
                             size_t arch_len)
{
  struct dev_present found[16];
  int n = dev_detect(found, 16), seen = 0;
  for (int i = 0; i < n; i++) {
    if (found[i].vendor != c->api->vendor)
      continue;
    if (seen++ == c->index) {
      snprintf(name, name_len, "%s", found[i].name);
      snprintf(arch, arch_len, "%s", found[i].arch[0] ? found[i].arch : "gfx?");
      return AT_OK;
    }
  }
  return at_error(AT_UNSUPPORTED, "%s device %d is not among the detected devices",
                  c->api->name, c->index);
}

static int gpu_describe(struct meas_ctx *c, char *name, size_t name_len, char *arch,
                        size_t arch_len)
{
  if (c->api->vendor != DEV_NVIDIA)
    return describe_detected(c, name, name_len, arch, arch_len);
  char buf[256];
  int major = 0, minor = 0;
  VND_CHECK(c->api, device_name(buf, (int)sizeof buf, c->dev));
  VND_CHECK(c->api, device_attr(&major, VND_CU_ATTR_CC_MAJOR, c->dev));
  VND_CHECK(c->api, device_attr(&minor, VND_CU_ATTR_CC_MINOR, c->dev));
  snprintf(name, name_len, "%s", buf);
  snprintf(arch, arch_len, "sm_%d%d", major, minor);
  return AT_OK;
}

static int gpu_load(struct meas_ctx *c, const void *code, size_t size, meas_module *out)
{
  (void)size;
  vnd_module m = NULL;
  int rc = make_current(c);
  if (rc != AT_OK)
    return rc;
  VND_CHECK(c->api, module_load(&m, code));
  *out = m;
  return AT_OK;
}

static int gpu_unload(struct meas_ctx *c, meas_module m)
{
  VND_CHECK(c->api, module_unload((vnd_module)m));
  return AT_OK;
}

static int gpu_kernel(struct meas_ctx *c, meas_module m, const char *name, meas_kernel *out)
{
  vnd_function f = NULL;
  VND_CHECK(c->api, module_function(&f, (vnd_module)m, name));
  *out = f;
  return AT_OK;
}

static int gpu_alloc(struct meas_ctx *c, size_t bytes, meas_ptr *out)
{
  vnd_dptr p = 0;
  VND_CHECK(c->api, mem_alloc(&p, bytes));
  *out = p;
  return AT_OK;
}

static int gpu_free(struct meas_ctx *c, meas_ptr p)
{
  VND_CHECK(c->api, mem_free(p));
  return AT_OK;
}

static int gpu_upload(struct meas_ctx *c, meas_ptr dst, const void *src, size_t bytes)
{
  VND_CHECK(c->api, memcpy_htod(dst, src, bytes));
  return AT_OK;
}

static int gpu_download(struct meas_ctx *c, void *dst, meas_ptr src, size_t bytes)
{
  VND_CHECK(c->api, stream_sync(c->stream));
  VND_CHECK(c->api, memcpy_dtoh(dst, src, bytes));
  return AT_OK;
}

static int gpu_fill(struct meas_ctx *c, meas_ptr dst, unsigned char byte, size_t bytes)
{
  VND_CHECK(c->api, memset_d8_async(dst, byte, bytes, c->stream));
  return AT_OK;
}

/* What a launch of l needs first: a cluster shape is refused where the runtime has none
 * (CUDA: the kernel carries it, __cluster_dims__); CUDA's opt-in above 48 KiB of dynamic
 * shared memory (a driver call: outside the timed region, see meas_time_events). */
static int gpu_prepare(struct meas_ctx *c, const struct meas_launch *l)
{
  if (l->cluster[0] * l->cluster[1] * l->cluster[2] > 1 && c->api->vendor != DEV_NVIDIA)
    return at_error(AT_UNSUPPORTED, "%s backend has no thread block clusters (cluster "
                    "%ux%ux%u)", "hip", l->cluster[0], l->cluster[1], l->cluster[2]);
  if (l->shared_bytes > CUDA_SHARED_WITHOUT_OPTIN && c->api->func_set_attr)
    VND_CHECK(c->api, func_set_attr((vnd_function)l->kernel,
                                    VND_CU_FUNC_ATTR_MAX_DYNAMIC_SHARED,
                                    (int)l->shared_bytes));
  return AT_OK;
}

/* The launch alone (prepared). */
static int gpu_launch_prepared(struct meas_ctx *c, const struct meas_launch *l)
{
  VND_CHECK(c->api, launch((vnd_function)l->kernel, l->grid[0], l->grid[1], l->grid[2],
                           l->block[0], l->block[1], l->block[2], l->shared_bytes,
                           c->stream, l->args, NULL));
  return AT_OK;
}

static int gpu_launch(struct meas_ctx *c, const struct meas_launch *l)
{
  int rc = gpu_prepare(c, l);
  return rc != AT_OK ? rc : gpu_launch_prepared(c, l);
}

static int gpu_sync(struct meas_ctx *c)
{
  VND_CHECK(c->api, stream_sync(c->stream));
  return AT_OK;
}

static int gpu_start(struct meas_ctx *c)
{
  VND_CHECK(c->api, event_record(c->start, c->stream));
  return AT_OK;
}

static int gpu_stop_and_wait(struct meas_ctx *c)
{
  VND_CHECK(c->api, event_record(c->stop, c->stream));
  VND_CHECK(c->api, event_sync(c->stop));
  return AT_OK;
}

static int gpu_elapsed_ms(struct meas_ctx *c, float *ms)
{
  VND_CHECK(c->api, event_elapsed(ms, c->start, c->stop));
  return AT_OK;
}

static int gpu_time(struct meas_ctx *c, const struct meas_launch *l, int reps,
                    int (*between)(struct meas_ctx *, void *), void *arg, double *us)
{
  static const struct meas_event_timer t = {gpu_prepare, gpu_start, gpu_launch_prepared,
                                            gpu_stop_and_wait, gpu_elapsed_ms};
  return meas_time_events(c, &t, l, reps, between, arg, us);
}

/* cuTensorMapEncodeTiled, loaded from the driver at run time (vendor.c), never linked. */
static int cuda_tmap_encode(struct meas_ctx *c, const struct meas_tmap *t, void *map)
{
  const struct vnd_api *a = c->api;
  if (!a->cu_tmap_encode_tiled)
    return at_error(AT_UNSUPPORTED, "the CUDA driver %s has no cuTensorMapEncodeTiled "
                    "(CUDA 12.0 or newer drivers have it)", a->lib ? a->lib : "");
  struct meas_cu_tmap_args g;
  int rc = meas_cu_tmap_args(t, &g);
  if (rc != AT_OK)
    return rc;
  VND_CHECK(a, cu_tmap_encode_tiled(map, g.dtype, g.rank, (void *)(uintptr_t)t->base, g.dims,
                                    g.strides, g.box, g.elem_strides, g.interleave, g.swizzle,
                                    g.l2_promotion, g.oob_fill));
  return AT_OK;
}

static int gpu_pci_bus_id(struct meas_ctx *c, char *out, size_t len)
{
  char buf[64] = "";
  VND_CHECK(c->api, device_pci_bus_id(buf, (int)sizeof buf, c->dev));
  snprintf(out, len, "%s", buf);
  return AT_OK;
}

const struct meas_backend meas_cuda = {
    /* .name = */ "cuda",
    /* .open = */ cuda_open,
    /* .close = */ gpu_close,
    /* .describe = */ gpu_describe,
    /* .load = */ gpu_load,
    /* .unload = */ gpu_unload,
    /* .kernel = */ gpu_kernel,
    /* .alloc = */ gpu_alloc,
    /* .free = */ gpu_free,
    /* .upload = */ gpu_upload,
    /* .download = */ gpu_download,
    /* .fill = */ gpu_fill,
    /* .launch = */ gpu_launch,
    /* .sync = */ gpu_sync,
    /* .time = */ gpu_time,
    /* .pci_bus_id = */ gpu_pci_bus_id,
    /* .tmap_encode = */ cuda_tmap_encode,
};

const struct meas_backend meas_hip = {
    /* .name = */ "hip",
    /* .open = */ hip_open,
    /* .close = */ gpu_close,
    /* .describe = */ gpu_describe,
    /* .load = */ gpu_load,
    /* .unload = */ gpu_unload,
    /* .kernel = */ gpu_kernel,
    /* .alloc = */ gpu_alloc,
    /* .free = */ gpu_free,
    /* .upload = */ gpu_upload,
    /* .download = */ gpu_download,
    /* .fill = */ gpu_fill,
    /* .launch = */ gpu_launch,
    /* .sync = */ gpu_sync,
    /* .time = */ gpu_time,
    /* .pci_bus_id = */ gpu_pci_bus_id,
    /* .tmap_encode = */ NULL,
};
