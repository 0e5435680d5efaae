/*
 * vendor.h - the one host-side vendor layer. The CUDA driver and the HIP runtime are
 * opened with dlopen, each once per process, into one table of entry points with
 * vendor-neutral field names (ggml's vendors/hip.h idea at run time: one set of fields,
 * two columns of symbol names). Detection (detect.c) and the GPU measurement backend
 * (meas_gpu.c) read the same table, so they open the same library from one candidate
 * list and agree on why it is absent. They open their libraries with base/dl.h.
 *
 * No vendor header is needed: handle types are opaque here, and a device address is a
 * 64-bit integer (CUdeviceptr; HIP's void * device pointer, passed alike on the LP64
 * ABIs HIP supports).
 */
#ifndef AT_TUNER_DEVICE_VENDOR_H
#define AT_TUNER_DEVICE_VENDOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/device.h"

typedef int vnd_status;                         /* CUresult, hipError_t: 0 is success */
typedef uint64_t vnd_dptr;                      /* a device address */
typedef struct vnd_context_st *vnd_context;     /* CUcontext (CUDA only) */
typedef struct vnd_module_st *vnd_module;       /* CUmodule, hipModule_t */
typedef struct vnd_function_st *vnd_function;   /* CUfunction, hipFunction_t */
typedef struct vnd_stream_st *vnd_stream;       /* CUstream, hipStream_t */
typedef struct vnd_event_st *vnd_event;         /* CUevent, hipEvent_t */

/* CUDA device attributes (cuda.h, enum CUdevice_attribute). */
enum {
  VND_CU_ATTR_CLOCK_RATE = 13,            /* kHz */
  VND_CU_ATTR_MULTIPROCESSOR_COUNT = 16,
  VND_CU_ATTR_L2_CACHE_SIZE = 38,         /* bytes */
  VND_CU_ATTR_CC_MAJOR = 75,
  VND_CU_ATTR_CC_MINOR = 76,
  VND_CU_ATTR_SMEM_OPTIN = 97,            /* MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
  VND_CU_FUNC_ATTR_MAX_DYNAMIC_SHARED = 8 /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
};
#define VND_STREAM_NON_BLOCKING 1u /* CU_STREAM_NON_BLOCKING, hipStreamNonBlocking */

/*
 * The entry points: field, CUDA symbol, HIP symbol (NULL: that vendor has none, the field
 * stays NULL), parameters. Every named symbol is required: a library lacking one is
 * reported absent ("too old?"). Both vendors number their errors alike where it matters
 * (700 illegal address, 719 launch failure).
 */
#define VND_FUNCS(X)                                                                      \
  X(init, "cuInit", "hipInit", (unsigned flags))                                          \
  X(device_count, "cuDeviceGetCount", "hipGetDeviceCount", (int *count))                  \
  X(device_name, "cuDeviceGetName", "hipDeviceGetName", (char *name, int len, int dev))   \
  X(device_attr, "cuDeviceGetAttribute", "hipDeviceGetAttribute",                         \
    (int *value, int attr, int dev))                                                      \
  X(device_pci_bus_id, "cuDeviceGetPCIBusId", "hipDeviceGetPCIBusId",                     \
    (char *id, int len, int dev))                                                         \
  X(stream_create, "cuStreamCreate", "hipStreamCreateWithFlags",                          \
    (vnd_stream *s, unsigned flags))                                                      \
  X(stream_destroy, "cuStreamDestroy_v2", "hipStreamDestroy", (vnd_stream s))             \
  X(stream_sync, "cuStreamSynchronize", "hipStreamSynchronize", (vnd_stream s))           \
  X(event_create, "cuEventCreate", "hipEventCreateWithFlags", (vnd_event * e, unsigned f)) \
  X(event_destroy, "cuEventDestroy_v2", "hipEventDestroy", (vnd_event e))                 \
  X(event_record, "cuEventRecord", "hipEventRecord", (vnd_event e, vnd_stream s))         \
  X(event_sync, "cuEventSynchronize", "hipEventSynchronize", (vnd_event e))               \
  X(event_elapsed, "cuEventElapsedTime", "hipEventElapsedTime",                           \
    (float *ms, vnd_event start, vnd_event stop))                                         \
  X(module_load, "cuModuleLoadData", "hipModuleLoadData", (vnd_module * m, const void *)) \
  X(module_unload, "cuModuleUnload", "hipModuleUnload", (vnd_module m))                   \
  X(module_function, "cuModuleGetFunction", "hipModuleGetFunction",                       \
    (vnd_function * f, vnd_module m, const char *name))                                   \
  X(mem_alloc, "cuMemAlloc_v2", "hipMalloc", (vnd_dptr * p, size_t bytes))                \
  X(mem_free, "cuMemFree_v2", "hipFree", (vnd_dptr p))                                    \
  X(memcpy_htod, "cuMemcpyHtoD_v2", "hipMemcpyHtoD", (vnd_dptr, const void *, size_t))    \
  X(memcpy_dtoh, "cuMemcpyDtoH_v2", "hipMemcpyDtoH", (void *, vnd_dptr, size_t))          \
  X(memset_d8_async, "cuMemsetD8Async", "hipMemsetD8Async",                               \
    (vnd_dptr, unsigned char, size_t, vnd_stream))                                        \
  X(launch, "cuLaunchKernel", "hipModuleLaunchKernel",                                    \
    (vnd_function f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,     \
     unsigned bz, unsigned shared, vnd_stream s, void **args, void **extra))              \
  X(device_get, "cuDeviceGet", NULL, (int *dev, int ordinal))                             \
  X(primary_ctx_retain, "cuDevicePrimaryCtxRetain", NULL, (vnd_context * c, int dev))     \
  X(primary_ctx_release, "cuDevicePrimaryCtxRelease_v2", NULL, (int dev))                 \
  X(ctx_set_current, "cuCtxSetCurrent", NULL, (vnd_context c))                            \
  X(func_set_attr, "cuFuncSetAttribute", NULL, (vnd_function f, int attr, int value))     \
  X(set_device, NULL, "hipSetDevice", (int dev))

/* One vendor's runtime. Filled once (vnd_cuda, vnd_hip); read-only afterwards. */
struct vnd_api {
  const char *name;             /* "CUDA", "HIP" */
  enum dev_vendor vendor;       /* DEV_NVIDIA, DEV_AMD */
  const char *const *libs;      /* the candidates, NULL-terminated, in the order tried */
  const char *lib;              /* the candidate opened; NULL when none was */
  int rc;                       /* AT_OK: loaded and initialised; else AT_UNSUPPORTED */
  char why[512];                /* when rc != AT_OK: one line, naming the candidates */
#define VND_FIELD(field, cu, hip, params) vnd_status(*field) params;
  VND_FUNCS(VND_FIELD)
#undef VND_FIELD
  /* The error texts, whose shapes differ (CUDA: out-parameter; HIP: return value). */
  vnd_status (*cu_error_name)(vnd_status r, const char **s);
  vnd_status (*cu_error_string)(vnd_status r, const char **s);
  const char *(*hip_error_name)(vnd_status r);
  const char *(*hip_error_string)(vnd_status r);
  /* cuTensorMapEncodeTiled (CUDA 12.0+ drivers; NULL before, and on HIP): builds the TMA
   * tensor maps of at_tma.h (meas_cuda's tmap_encode). The enums are passed as int. */
  vnd_status (*cu_tmap_encode_tiled)(void *map, int dtype, unsigned rank, void *base,
                                     const unsigned long long *dims,
                                     const unsigned long long *strides,
                                     const unsigned *box, const unsigned *elem_strides,
                                     int interleave, int swizzle, int l2_promotion,
                                     int oob_fill);
  /* hipGetDevicePropertiesR0600 (ROCm 6.0+; NULL before): fills detect.c's structure. */
  vnd_status (*hip_props_r0600)(void *props, int dev);
};

/* The CUDA driver (libcuda.so.1, libcuda.so) and the HIP runtime (libamdhip64), loaded and
 * initialised on the first call in the process (thread-safe). Never NULL: check ->rc. */
const struct vnd_api *vnd_cuda(void);
const struct vnd_api *vnd_hip(void);

/* The vendor's own name and text for an error ("CUDA_ERROR_ILLEGAL_ADDRESS",
 * "hipErrorIllegalAddress"); "?" when the library gives none. Never NULL. */
const char *vnd_error_name(const struct vnd_api *api, vnd_status r);
const char *vnd_error_string(const struct vnd_api *api, vnd_status r);

/* The fault class of an error, the same words for both vendors ("ILLEGAL_ADDRESS",
 * "LAUNCH_FAILED", "ASSERT", "MISALIGNED", "ILLEGAL_INSTRUCTION", "HARDWARE_STACK"),
 * which the worker looks for in a message; NULL when `r` is not a kernel fault. */
const char *vnd_fault_class(vnd_status r);

/* Record a failed call: "<vendor symbol>: <statement> failed: <name> (<text>)[ fault
 * <class>] at <file>:<line>" via at_error, and return AT_DEVICE. */
int vnd_fail(const struct vnd_api *api, vnd_status r, const char *stmt, const char *file,
             int line);

/* Check one call through `api` (a struct vnd_api *): on failure return vnd_fail's status
 * from the enclosing function. Never aborts: a failed variant is data. */
#define VND_CHECK(api, call)                                                               \
  do {                                                                                     \
    vnd_status r_ = (api)->call;                                                           \
    if (r_ != 0)                                                                           \
      return vnd_fail((api), r_, #call, __FILE__, __LINE__);                               \
  } while (0)

#endif
