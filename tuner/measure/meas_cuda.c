/*
 * meas_cuda.c - the `cuda` measurement backend: the CUDA driver API through
 * dlopen("libcuda.so.1"), so there is no link-time dependency and a machine without
 * the driver simply has no such device. One context (the device's primary context),
 * one stream and a pair of events per open device.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/measure/meas.h"
#include "base/status.h"

typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef unsigned long long CUdeviceptr;

#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76
#define CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES 8
#define CU_STREAM_NON_BLOCKING 1

/* The driver entry points we use, with the versioned names the driver exports. */
#define CU_FUNCS(X)                                                                       \
  X(cuInit, "cuInit", (unsigned))                                                         \
  X(cuDeviceGetCount, "cuDeviceGetCount", (int *))                                        \
  X(cuDeviceGet, "cuDeviceGet", (CUdevice *, int))                                        \
  X(cuDeviceGetName, "cuDeviceGetName", (char *, int, CUdevice))                          \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute", (int *, int, CUdevice))                 \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", (CUcontext *, CUdevice))        \
  X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", (CUdevice))                \
  X(cuCtxSetCurrent, "cuCtxSetCurrent", (CUcontext))                                      \
  X(cuStreamCreate, "cuStreamCreate", (CUstream *, unsigned))                             \
  X(cuStreamDestroy, "cuStreamDestroy_v2", (CUstream))                                    \
  X(cuStreamSynchronize, "cuStreamSynchronize", (CUstream))                               \
  X(cuEventCreate, "cuEventCreate", (CUevent *, unsigned))                                \
  X(cuEventDestroy, "cuEventDestroy_v2", (CUevent))                                       \
  X(cuEventRecord, "cuEventRecord", (CUevent, CUstream))                                  \
  X(cuEventSynchronize, "cuEventSynchronize", (CUevent))                                  \
  X(cuEventElapsedTime, "cuEventElapsedTime", (float *, CUevent, CUevent))                \
  X(cuModuleLoadData, "cuModuleLoadData", (CUmodule *, const void *))                     \
  X(cuModuleUnload, "cuModuleUnload", (CUmodule))                                         \
  X(cuModuleGetFunction, "cuModuleGetFunction", (CUfunction *, CUmodule, const char *))   \
  X(cuFuncSetAttribute, "cuFuncSetAttribute", (CUfunction, int, int))                     \
  X(cuMemAlloc, "cuMemAlloc_v2", (CUdeviceptr *, size_t))                                 \
  X(cuMemFree, "cuMemFree_v2", (CUdeviceptr))                                             \
  X(cuMemcpyHtoD, "cuMemcpyHtoD_v2", (CUdeviceptr, const void *, size_t))                 \
  X(cuMemcpyDtoH, "cuMemcpyDtoH_v2", (void *, CUdeviceptr, size_t))                       \
  X(cuMemsetD8Async, "cuMemsetD8Async", (CUdeviceptr, unsigned char, size_t, CUstream))   \
  X(cuLaunchKernel, "cuLaunchKernel",                                                     \
    (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,    \
     CUstream, void **, void **))                                                         \
  X(cuGetErrorName, "cuGetErrorName", (CUresult, const char **))                          \
  X(cuGetErrorString, "cuGetErrorString", (CUresult, const char **))

static struct {
#define CU_FIELD(field, sym, params) CUresult(*field) params;
  CU_FUNCS(CU_FIELD)
#undef CU_FIELD
  void *lib;
  int init_rc;          /* AT_OK once the driver is loaded and initialised */
  char why[256];
} cu;

static pthread_once_t cu_once = PTHREAD_ONCE_INIT;

static void cu_load(void)
{
  cu.init_rc = AT_UNSUPPORTED;
  cu.lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!cu.lib) {
    snprintf(cu.why, sizeof cu.why, "no CUDA driver here (libcuda.so.1 not found)");
    return;
  }
#define CU_SYM(field, sym, params)                                                         \
  if (!(*(void **)&cu.field = dlsym(cu.lib, sym))) {                                       \
    snprintf(cu.why, sizeof cu.why, "the CUDA driver lacks %s (too old?)", sym);           \
    return;                                                                                \
  }
  CU_FUNCS(CU_SYM)
#undef CU_SYM
  CUresult r = cu.cuInit(0);
  if (r != 0) {
    const char *s = NULL;
    cu.cuGetErrorString(r, &s);
    snprintf(cu.why, sizeof cu.why, "the CUDA driver did not initialise: %s",
             s ? s : "unknown error");
    return;
  }
  cu.init_rc = AT_OK;
}

/* Check one driver call: on failure record the statement, where, and the driver's own
 * name and message for the error, and return AT_DEVICE (the caller maps it to a trial
 * status: launch_error, fault). */
static int cu_fail(CUresult r, const char *stmt, const char *file, int line)
{
  const char *name = NULL, *msg = NULL;
  cu.cuGetErrorName(r, &name);
  cu.cuGetErrorString(r, &msg);
  return at_error(AT_DEVICE, "%s failed: %s (%s) at %s:%d", stmt, name ? name : "?",
                  msg ? msg : "?", file, line);
}

#define CU_CHECK(call)                                                                     \
  do {                                                                                     \
    CUresult r_ = cu.call;                                                                 \
    if (r_ != 0)                                                                           \
      return cu_fail(r_, #call, __FILE__, __LINE__);                                       \
  } while (0)

struct meas_ctx {
  CUdevice dev;
  CUcontext ctx;
  CUstream stream;
  CUevent start, stop;
};

static int cuda_open(int index, struct meas_ctx **out)
{
  *out = NULL;
  pthread_once(&cu_once, cu_load);
  if (cu.init_rc != AT_OK)
    return at_error(AT_UNSUPPORTED, "%s", cu.why);
  int count = 0;
  CU_CHECK(cuDeviceGetCount(&count));
  if (index < 0 || index >= count)
    return at_error(AT_UNSUPPORTED, "no CUDA device %d (this machine has %d)", index, count);
  struct meas_ctx *c = calloc(1, sizeof *c);
  if (!c)
    return at_error(AT_NOMEM, "out of memory");
  int rc = AT_OK;
  CUresult r;
#define STEP(call)                                                                         \
  if ((r = cu.call) != 0) {                                                                \
    rc = cu_fail(r, #call, __FILE__, __LINE__);                                            \
    goto fail;                                                                             \
  }
  STEP(cuDeviceGet(&c->dev, index));
  STEP(cuDevicePrimaryCtxRetain(&c->ctx, c->dev));
  STEP(cuCtxSetCurrent(c->ctx));
  STEP(cuStreamCreate(&c->stream, CU_STREAM_NON_BLOCKING));
  STEP(cuEventCreate(&c->start, 0));
  STEP(cuEventCreate(&c->stop, 0));
#undef STEP
  *out = c;
  return AT_OK;
fail:
  if (c->stop)
    cu.cuEventDestroy(c->stop);
  if (c->start)
    cu.cuEventDestroy(c->start);
  if (c->stream)
    cu.cuStreamDestroy(c->stream);
  if (c->ctx)
    cu.cuDevicePrimaryCtxRelease(c->dev);
  free(c);
  return rc;
}

static void cuda_close(struct meas_ctx *c)
{
  if (!c)
    return;
  cu.cuCtxSetCurrent(c->ctx);
  cu.cuEventDestroy(c->start);
  cu.cuEventDestroy(c->stop);
  cu.cuStreamDestroy(c->stream);
  cu.cuDevicePrimaryCtxRelease(c->dev);
  free(c);
}

static int cuda_describe(struct meas_ctx *c, char *name, size_t name_len, char *arch,
                         size_t arch_len)
{
  char buf[256];
  int major = 0, minor = 0;
  CU_CHECK(cuDeviceGetName(buf, (int)sizeof buf, c->dev));
  CU_CHECK(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, c->dev));
  CU_CHECK(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, c->dev));
  snprintf(name, name_len, "%s", buf);
  snprintf(arch, arch_len, "sm_%d%d", major, minor);
  return AT_OK;
}

static int cuda_load(struct meas_ctx *c, const void *code, size_t size, meas_module *out)
{
  (void)size;
  CUmodule m = NULL;
  CU_CHECK(cuCtxSetCurrent(c->ctx));
  CU_CHECK(cuModuleLoadData(&m, code));
  *out = m;
  return AT_OK;
}

static int cuda_unload(struct meas_ctx *c, meas_module m)
{
  (void)c;
  CU_CHECK(cuModuleUnload((CUmodule)m));
  return AT_OK;
}

static int cuda_kernel(struct meas_ctx *c, meas_module m, const char *name, meas_kernel *out)
{
  (void)c;
  CUfunction f = NULL;
  CU_CHECK(cuModuleGetFunction(&f, (CUmodule)m, name));
  *out = f;
  return AT_OK;
}

static int cuda_alloc(struct meas_ctx *c, size_t bytes, meas_ptr *out)
{
  (void)c;
  CUdeviceptr p = 0;
  CU_CHECK(cuMemAlloc(&p, bytes));
  *out = p;
  return AT_OK;
}

static int cuda_free(struct meas_ctx *c, meas_ptr p)
{
  (void)c;
  CU_CHECK(cuMemFree(p));
  return AT_OK;
}

static int cuda_upload(struct meas_ctx *c, meas_ptr dst, const void *src, size_t bytes)
{
  (void)c;
  CU_CHECK(cuMemcpyHtoD(dst, src, bytes));
  return AT_OK;
}

static int cuda_download(struct meas_ctx *c, void *dst, meas_ptr src, size_t bytes)
{
  CU_CHECK(cuStreamSynchronize(c->stream));
  CU_CHECK(cuMemcpyDtoH(dst, src, bytes));
  return AT_OK;
}

static int cuda_fill(struct meas_ctx *c, meas_ptr dst, unsigned char byte, size_t bytes)
{
  CU_CHECK(cuMemsetD8Async(dst, byte, bytes, c->stream));
  return AT_OK;
}

static int cuda_launch(struct meas_ctx *c, const struct meas_launch *l)
{
  CUfunction f = (CUfunction)l->kernel;
  if (l->shared_bytes > 48 * 1024)
    CU_CHECK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                (int)l->shared_bytes));
  CU_CHECK(cuLaunchKernel(f, l->grid[0], l->grid[1], l->grid[2], l->block[0], l->block[1],
                          l->block[2], l->shared_bytes, c->stream, l->args, NULL));
  return AT_OK;
}

static int cuda_sync(struct meas_ctx *c)
{
  CU_CHECK(cuStreamSynchronize(c->stream));
  return AT_OK;
}

static int cuda_start(struct meas_ctx *c)
{
  CU_CHECK(cuEventRecord(c->start, c->stream));
  return AT_OK;
}

static int cuda_stop_and_wait(struct meas_ctx *c)
{
  CU_CHECK(cuEventRecord(c->stop, c->stream));
  CU_CHECK(cuEventSynchronize(c->stop));
  return AT_OK;
}

static int cuda_elapsed_ms(struct meas_ctx *c, float *ms)
{
  CU_CHECK(cuEventElapsedTime(ms, c->start, c->stop));
  return AT_OK;
}

static int cuda_time(struct meas_ctx *c, const struct meas_launch *l, int reps,
                     int (*between)(struct meas_ctx *, void *), void *arg, double *us)
{
  static const struct meas_event_timer t = {cuda_start, cuda_launch, cuda_stop_and_wait,
                                            cuda_elapsed_ms};
  return meas_time_events(c, &t, l, reps, between, arg, us);
}

const struct meas_backend meas_cuda = {
    /* .name = */ "cuda",
    /* .open = */ cuda_open,
    /* .close = */ cuda_close,
    /* .describe = */ cuda_describe,
    /* .load = */ cuda_load,
    /* .unload = */ cuda_unload,
    /* .kernel = */ cuda_kernel,
    /* .alloc = */ cuda_alloc,
    /* .free = */ cuda_free,
    /* .upload = */ cuda_upload,
    /* .download = */ cuda_download,
    /* .fill = */ cuda_fill,
    /* .launch = */ cuda_launch,
    /* .sync = */ cuda_sync,
    /* .time = */ cuda_time,
};
