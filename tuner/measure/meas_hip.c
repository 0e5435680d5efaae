/*
 * meas_hip.c - the `hip` measurement backend: the HIP runtime through
 * dlopen("libamdhip64.so"), so there is no link-time dependency and a machine without
 * ROCm simply has no such device. The module API (hipModuleLoadData,
 * hipModuleGetFunction, hipModuleLaunchKernel) takes the code objects the clang-hip and
 * hipRTC compile backends produce; one stream and a pair of events per open device. The
 * device's name and gfx arch come from dev_detect (hipGetDevicePropertiesR0600).
 *
 * Status: compiled and exercised here only up to "no AMD GPU on this machine" (Debian's
 * ROCm 5.2 runtime loads; it finds no device). It has not run on an AMD GPU. The entry
 * points and their argument lists are HIP's documented C API (hip_runtime_api.h), all
 * stable since ROCm 5.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/device/detect.h"
#include "tuner/measure/meas.h"
#include "base/status.h"

typedef int hipError_t;
typedef struct ihipModule_t *hipModule_t;
typedef struct ihipModuleSymbol_t *hipFunction_t;
typedef struct ihipStream_t *hipStream_t;
typedef struct ihipEvent_t *hipEvent_t;

#define HIP_STREAM_NON_BLOCKING 1

#define HIP_FUNCS(X)                                                                      \
  X(hipInit, (unsigned))                                                                  \
  X(hipGetDeviceCount, (int *))                                                           \
  X(hipSetDevice, (int))                                                                  \
  X(hipStreamCreateWithFlags, (hipStream_t *, unsigned))                                  \
  X(hipStreamDestroy, (hipStream_t))                                                      \
  X(hipStreamSynchronize, (hipStream_t))                                                  \
  X(hipEventCreate, (hipEvent_t *))                                                       \
  X(hipEventDestroy, (hipEvent_t))                                                        \
  X(hipEventRecord, (hipEvent_t, hipStream_t))                                            \
  X(hipEventSynchronize, (hipEvent_t))                                                    \
  X(hipEventElapsedTime, (float *, hipEvent_t, hipEvent_t))                               \
  X(hipModuleLoadData, (hipModule_t *, const void *))                                     \
  X(hipModuleUnload, (hipModule_t))                                                       \
  X(hipModuleGetFunction, (hipFunction_t *, hipModule_t, const char *))                   \
  X(hipMalloc, (void **, size_t))                                                         \
  X(hipFree, (void *))                                                                    \
  X(hipMemcpyHtoD, (void *, const void *, size_t))                                        \
  X(hipMemcpyDtoH, (void *, void *, size_t))                                              \
  X(hipMemsetD8Async, (void *, unsigned char, size_t, hipStream_t))                       \
  X(hipModuleLaunchKernel,                                                                \
    (hipFunction_t, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, \
     hipStream_t, void **, void **))

static struct {
#define HIP_FIELD(name, params) hipError_t(*name) params;
  HIP_FUNCS(HIP_FIELD)
#undef HIP_FIELD
  const char *(*hipGetErrorName)(hipError_t);
  const char *(*hipGetErrorString)(hipError_t);
  void *lib;
  int init_rc;
  char why[256];
} hip;

static pthread_once_t hip_once = PTHREAD_ONCE_INIT;

static void hip_load(void)
{
  static const char *const libs[] = {"libamdhip64.so", "libamdhip64.so.7", "libamdhip64.so.6",
                                     "libamdhip64.so.5", "/opt/rocm/lib/libamdhip64.so", NULL};
  hip.init_rc = AT_UNSUPPORTED;
  for (size_t i = 0; libs[i] && !hip.lib; i++)
    hip.lib = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
  if (!hip.lib) {
    snprintf(hip.why, sizeof hip.why, "no HIP runtime here (libamdhip64.so not found)");
    return;
  }
#define HIP_SYM(name, params)                                                              \
  if (!(*(void **)&hip.name = dlsym(hip.lib, #name))) {                                    \
    snprintf(hip.why, sizeof hip.why, "the HIP runtime lacks %s (too old?)", #name);       \
    return;                                                                                \
  }
  HIP_FUNCS(HIP_SYM)
#undef HIP_SYM
  *(void **)&hip.hipGetErrorName = dlsym(hip.lib, "hipGetErrorName");
  *(void **)&hip.hipGetErrorString = dlsym(hip.lib, "hipGetErrorString");
  hipError_t r = hip.hipInit(0);
  int count = 0;
  if (r != 0 || hip.hipGetDeviceCount(&count) != 0 || count == 0) {
    snprintf(hip.why, sizeof hip.why, "the HIP runtime found no AMD GPU on this machine");
    return;
  }
  hip.init_rc = AT_OK;
}

static int hip_fail(hipError_t r, const char *stmt, const char *file, int line)
{
  const char *name = hip.hipGetErrorName ? hip.hipGetErrorName(r) : NULL;
  const char *msg = hip.hipGetErrorString ? hip.hipGetErrorString(r) : NULL;
  return at_error(AT_DEVICE, "%s failed: %s (%s) at %s:%d", stmt, name ? name : "?",
                  msg ? msg : "?", file, line);
}

#define HIP_CHECK(call)                                                                    \
  do {                                                                                     \
    hipError_t r_ = hip.call;                                                              \
    if (r_ != 0)                                                                           \
      return hip_fail(r_, #call, __FILE__, __LINE__);                                      \
  } while (0)

struct meas_ctx {
  int index;
  hipStream_t stream;
  hipEvent_t start, stop;
};

static int hip_open(int index, struct meas_ctx **out)
{
  *out = NULL;
  pthread_once(&hip_once, hip_load);
  if (hip.init_rc != AT_OK)
    return at_error(AT_UNSUPPORTED, "%s", hip.why);
  int count = 0;
  HIP_CHECK(hipGetDeviceCount(&count));
  if (index < 0 || index >= count)
    return at_error(AT_UNSUPPORTED, "no AMD GPU %d (this machine has %d)", index, count);
  struct meas_ctx *c = calloc(1, sizeof *c);
  if (!c)
    return at_error(AT_NOMEM, "out of memory");
  c->index = index;
  hipError_t r;
  int rc = AT_OK;
  if ((r = hip.hipSetDevice(index)) != 0 ||
      (r = hip.hipStreamCreateWithFlags(&c->stream, HIP_STREAM_NON_BLOCKING)) != 0 ||
      (r = hip.hipEventCreate(&c->start)) != 0 || (r = hip.hipEventCreate(&c->stop)) != 0) {
    rc = hip_fail(r, "opening the device", __FILE__, __LINE__);
    if (c->start)
      hip.hipEventDestroy(c->start);
    if (c->stream)
      hip.hipStreamDestroy(c->stream);
    free(c);
    return rc;
  }
  *out = c;
  return AT_OK;
}

static void hip_close(struct meas_ctx *c)
{
  if (!c)
    return;
  hip.hipEventDestroy(c->start);
  hip.hipEventDestroy(c->stop);
  hip.hipStreamDestroy(c->stream);
  free(c);
}

static int hip_describe(struct meas_ctx *c, char *name, size_t name_len, char *arch,
                        size_t arch_len)
{
  struct dev_present found[16];
  int n = dev_detect(found, 16), seen = 0;
  for (int i = 0; i < n; i++) {
    if (found[i].vendor != DEV_AMD)
      continue;
    if (seen++ == c->index) {
      snprintf(name, name_len, "%s", found[i].name);
      snprintf(arch, arch_len, "%s", found[i].arch[0] ? found[i].arch : "gfx?");
      return AT_OK;
    }
  }
  return at_error(AT_UNSUPPORTED, "AMD GPU %d is not among the detected devices", c->index);
}

static int hip_load_module(struct meas_ctx *c, const void *code, size_t size, meas_module *out)
{
  (void)size;
  hipModule_t m = NULL;
  HIP_CHECK(hipSetDevice(c->index));
  HIP_CHECK(hipModuleLoadData(&m, code));
  *out = m;
  return AT_OK;
}

static int hip_unload(struct meas_ctx *c, meas_module m)
{
  (void)c;
  HIP_CHECK(hipModuleUnload((hipModule_t)m));
  return AT_OK;
}

static int hip_kernel(struct meas_ctx *c, meas_module m, const char *name, meas_kernel *out)
{
  (void)c;
  hipFunction_t f = NULL;
  HIP_CHECK(hipModuleGetFunction(&f, (hipModule_t)m, name));
  *out = f;
  return AT_OK;
}

static int hip_alloc(struct meas_ctx *c, size_t bytes, meas_ptr *out)
{
  (void)c;
  void *p = NULL;
  HIP_CHECK(hipMalloc(&p, bytes));
  *out = (meas_ptr)(uintptr_t)p;
  return AT_OK;
}

static int hip_free(struct meas_ctx *c, meas_ptr p)
{
  (void)c;
  HIP_CHECK(hipFree((void *)(uintptr_t)p));
  return AT_OK;
}

static int hip_upload(struct meas_ctx *c, meas_ptr dst, const void *src, size_t bytes)
{
  (void)c;
  HIP_CHECK(hipMemcpyHtoD((void *)(uintptr_t)dst, src, bytes));
  return AT_OK;
}

static int hip_download(struct meas_ctx *c, void *dst, meas_ptr src, size_t bytes)
{
  HIP_CHECK(hipStreamSynchronize(c->stream));
  HIP_CHECK(hipMemcpyDtoH(dst, (void *)(uintptr_t)src, bytes));
  return AT_OK;
}

static int hip_fill(struct meas_ctx *c, meas_ptr dst, unsigned char byte, size_t bytes)
{
  HIP_CHECK(hipMemsetD8Async((void *)(uintptr_t)dst, byte, bytes, c->stream));
  return AT_OK;
}

static int hip_launch(struct meas_ctx *c, const struct meas_launch *l)
{
  HIP_CHECK(hipModuleLaunchKernel((hipFunction_t)l->kernel, l->grid[0], l->grid[1], l->grid[2],
                                  l->block[0], l->block[1], l->block[2], l->shared_bytes,
                                  c->stream, l->args, NULL));
  return AT_OK;
}

static int hip_sync(struct meas_ctx *c)
{
  HIP_CHECK(hipStreamSynchronize(c->stream));
  return AT_OK;
}

static int hip_start(struct meas_ctx *c)
{
  HIP_CHECK(hipEventRecord(c->start, c->stream));
  return AT_OK;
}

static int hip_stop_and_wait(struct meas_ctx *c)
{
  HIP_CHECK(hipEventRecord(c->stop, c->stream));
  HIP_CHECK(hipEventSynchronize(c->stop));
  return AT_OK;
}

static int hip_elapsed_ms(struct meas_ctx *c, float *ms)
{
  HIP_CHECK(hipEventElapsedTime(ms, c->start, c->stop));
  return AT_OK;
}

static int hip_time(struct meas_ctx *c, const struct meas_launch *l, int reps,
                    int (*between)(struct meas_ctx *, void *), void *arg, double *us)
{
  static const struct meas_event_timer t = {hip_start, hip_launch, hip_stop_and_wait,
                                            hip_elapsed_ms};
  return meas_time_events(c, &t, l, reps, between, arg, us);
}

const struct meas_backend meas_hip = {
    /* .name = */ "hip",
    /* .open = */ hip_open,
    /* .close = */ hip_close,
    /* .describe = */ hip_describe,
    /* .load = */ hip_load_module,
    /* .unload = */ hip_unload,
    /* .kernel = */ hip_kernel,
    /* .alloc = */ hip_alloc,
    /* .free = */ hip_free,
    /* .upload = */ hip_upload,
    /* .download = */ hip_download,
    /* .fill = */ hip_fill,
    /* .launch = */ hip_launch,
    /* .sync = */ hip_sync,
    /* .time = */ hip_time,
};
