/*
 * detect.c - finding the GPUs present on this machine, through the vendors' runtimes
 * opened with dlopen (libcuda.so.1, libamdhip64.so), and matching each to a profile. No
 * CUDA or HIP header is needed: the few entry points, attribute numbers and the one
 * structure used are declared here with their source. An absent runtime, a runtime that
 * fails to initialise and a machine without GPUs all mean "none found", never an error.
 * The result is computed once per process (runtime initialisation is slow) and copied
 * out on each call; AUTOTUNE_NO_DETECT=1 skips detection altogether.
 */
#include "tuner/device/detect.h"

#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FOUND 64

/* ---- CUDA driver API (cuda.h, CUDA 12: enum CUdevice_attribute) ---- */

typedef int (*cu_init_fn)(unsigned int flags);
typedef int (*cu_count_fn)(int *count);
typedef int (*cu_get_fn)(int *device, int ordinal);
typedef int (*cu_name_fn)(char *name, int len, int device);
typedef int (*cu_attr_fn)(int *value, int attrib, int device);

enum {
  CU_ATTR_CLOCK_RATE = 13,            /* CU_DEVICE_ATTRIBUTE_CLOCK_RATE, kHz */
  CU_ATTR_MULTIPROCESSOR_COUNT = 16,  /* CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT */
  CU_ATTR_L2_CACHE_SIZE = 38,         /* CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, bytes */
  CU_ATTR_CC_MAJOR = 75,              /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR */
  CU_ATTR_CC_MINOR = 76,              /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR */
  CU_ATTR_SMEM_OPTIN = 97,            /* CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
};

/* ---- HIP runtime API ----
 * hipDeviceProp_tR0600, the structure hipGetDevicePropertiesR0600 fills since ROCm 6.0
 * (include/hip/hip_runtime_api.h). The versioned symbol freezes its layout. Declared up
 * to gcnArchName, the last field read; the union's padding leaves room for the rest. */
struct hip_props_r0600 {
  char name[256];
  char uuid[16];
  char luid[8];
  unsigned int luidDeviceNodeMask;
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  size_t memPitch;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int clockRate; /* kHz */
  size_t totalConstMem;
  int major;
  int minor;
  size_t textureAlignment;
  size_t texturePitchAlignment;
  int deviceOverlap;
  int multiProcessorCount;
  int kernelExecTimeoutEnabled;
  int integrated;
  int canMapHostMemory;
  int computeMode;
  int maxTexture1D;
  int maxTexture1DMipmap;
  int maxTexture1DLinear;
  int maxTexture2D[2];
  int maxTexture2DMipmap[2];
  int maxTexture2DLinear[3];
  int maxTexture2DGather[2];
  int maxTexture3D[3];
  int maxTexture3DAlt[3];
  int maxTextureCubemap;
  int maxTexture1DLayered[2];
  int maxTexture2DLayered[3];
  int maxTextureCubemapLayered[2];
  int maxSurface1D;
  int maxSurface2D[2];
  int maxSurface3D[3];
  int maxSurface1DLayered[2];
  int maxSurface2DLayered[3];
  int maxSurfaceCubemap;
  int maxSurfaceCubemapLayered[2];
  size_t surfaceAlignment;
  int concurrentKernels;
  int ECCEnabled;
  int pciBusID;
  int pciDeviceID;
  int pciDomainID;
  int tccDriver;
  int asyncEngineCount;
  int unifiedAddressing;
  int memoryClockRate;
  int memoryBusWidth;
  int l2CacheSize;
  int persistingL2CacheMaxSize;
  int maxThreadsPerMultiProcessor;
  int streamPrioritiesSupported;
  int globalL1CacheSupported;
  int localL1CacheSupported;
  size_t sharedMemPerMultiprocessor;
  int regsPerMultiprocessor;
  int managedMemory;
  int isMultiGpuBoard;
  int multiGpuBoardGroupID;
  int hostNativeAtomicSupported;
  int singleToDoublePrecisionPerfRatio;
  int pageableMemoryAccess;
  int concurrentManagedAccess;
  int computePreemptionSupported;
  int canUseHostPointerForRegisteredMem;
  int cooperativeLaunch;
  int cooperativeMultiDeviceLaunch;
  size_t sharedMemPerBlockOptin;
  int pageableMemoryAccessUsesHostPageTables;
  int directManagedMemAccessFromHost;
  int maxBlocksPerMultiProcessor;
  int accessPolicyMaxWindowSize;
  size_t reservedSharedMemPerBlock;
  int hostRegisterSupported;
  int sparseHipArraySupported;
  int hostRegisterReadOnlySupported;
  int timelineSemaphoreInteropSupported;
  int memoryPoolsSupported;
  int gpuDirectRDMASupported;
  unsigned int gpuDirectRDMAFlushWritesOptions;
  int gpuDirectRDMAWritesOrdering;
  unsigned int memoryPoolSupportedHandleTypes;
  int deferredMappingHipArraySupported;
  int ipcEventSupported;
  int clusterLaunch;
  int unifiedFunctionPointers;
  int reserved[63];
  int hipReserved[32];
  char gcnArchName[256]; /* "gfx942:sramecc+:xnack-" */
};

union hip_props {
  struct hip_props_r0600 p;
  char room[8192]; /* the fields after gcnArchName, with a wide margin */
};

typedef int (*hip_count_fn)(int *count);
typedef int (*hip_props_fn)(union hip_props *props, int device);
typedef int (*hip_name_fn)(char *name, int len, int device);

/* ---- matching ---- */

/* True when `hay` contains `needle`, ignoring case. */
static bool contains_nocase(const char *hay, const char *needle)
{
  size_t n = strlen(needle);
  for (; *hay; hay++) {
    size_t i = 0;
    while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
      i++;
    if (i == n)
      return true;
  }
  return false;
}

/*
 * The profile a present GPU is: same vendor and arch, and the same compute-unit count
 * (a partitioned or cut-down part is not the profiled product). Among those, one whose
 * name appears in the driver's name wins ("NVIDIA H200" -> h200, though h100 has the
 * same SMs); else the first in table order (sm_90 with 132 SMs -> h100).
 */
static const struct dev_profile *match_profile(const struct dev_present *d)
{
  const struct dev_profile *p = dev_profiles();
  const struct dev_profile *first = NULL;
  for (size_t i = 0; i < dev_profile_count(); i++) {
    if (p[i].vendor != d->vendor || strcmp(p[i].arch, d->arch) != 0 ||
        p[i].compute_units != d->compute_units)
      continue;
    if (contains_nocase(d->name, p[i].name))
      return &p[i];
    if (!first)
      first = &p[i];
  }
  return first;
}

/* Copy a driver's fixed-size string field, which may lack its terminating NUL, truncating
 * to dst's size. */
static void copy_field(char *dst, size_t dstlen, const char *src, size_t srclen)
{
  const char *end = memchr(src, '\0', srclen);
  size_t n = end ? (size_t)(end - src) : srclen;
  if (n >= dstlen)
    n = dstlen - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static void *open_first(const char *const *names)
{
  for (; *names; names++) {
    void *h = dlopen(*names, RTLD_NOW | RTLD_LOCAL);
    if (h)
      return h;
  }
  return NULL;
}

/* Object pointer from dlsym as a function pointer: POSIX guarantees this works. */
#define LOAD(h, type, name) ((type)(uintptr_t)dlsym((h), (name)))

static int detect_cuda(struct dev_present *out, int cap)
{
  static const char *const libs[] = {"libcuda.so.1", "libcuda.so", NULL};
  void *h = open_first(libs);
  if (!h)
    return 0;
  cu_init_fn init = LOAD(h, cu_init_fn, "cuInit");
  cu_count_fn count = LOAD(h, cu_count_fn, "cuDeviceGetCount");
  cu_get_fn get = LOAD(h, cu_get_fn, "cuDeviceGet");
  cu_name_fn name = LOAD(h, cu_name_fn, "cuDeviceGetName");
  cu_attr_fn attr = LOAD(h, cu_attr_fn, "cuDeviceGetAttribute");
  int n = 0, found = 0;
  if (!init || !count || !get || !name || !attr || init(0) != 0 || count(&n) != 0)
    n = 0;
  for (int i = 0; i < n && found < cap; i++) {
    int dev, major = 0, minor = 0, sms = 0, smem = 0, l2 = 0, khz = 0;
    if (get(&dev, i) != 0)
      continue;
    struct dev_present *d = &out[found];
    memset(d, 0, sizeof *d);
    d->vendor = DEV_NVIDIA;
    if (name(d->name, (int)sizeof d->name, dev) != 0)
      snprintf(d->name, sizeof d->name, "NVIDIA GPU %d", i);
    d->name[sizeof d->name - 1] = '\0';
    if (attr(&major, CU_ATTR_CC_MAJOR, dev) == 0 && attr(&minor, CU_ATTR_CC_MINOR, dev) == 0)
      snprintf(d->arch, sizeof d->arch, "sm_%d%d", major, minor);
    if (attr(&sms, CU_ATTR_MULTIPROCESSOR_COUNT, dev) == 0)
      d->compute_units = sms;
    if (attr(&smem, CU_ATTR_SMEM_OPTIN, dev) == 0)
      d->lds_per_block = smem;
    if (attr(&l2, CU_ATTR_L2_CACHE_SIZE, dev) == 0)
      d->l2_bytes = l2;
    if (attr(&khz, CU_ATTR_CLOCK_RATE, dev) == 0)
      d->clock_mhz = khz / 1000.0;
    found++;
  }
  /* The handle stays open: the CUDA measurement backend opens the same library, and
   * unloading an initialised driver is not worth the risk. */
  return found;
}

static int detect_hip(struct dev_present *out, int cap)
{
  static const char *const libs[] = {"libamdhip64.so", "libamdhip64.so.7", "libamdhip64.so.6",
                                     "/opt/rocm/lib/libamdhip64.so", NULL};
  void *h = open_first(libs);
  if (!h)
    return 0;
  hip_count_fn count = LOAD(h, hip_count_fn, "hipGetDeviceCount");
  hip_props_fn props = LOAD(h, hip_props_fn, "hipGetDevicePropertiesR0600");
  hip_name_fn name = LOAD(h, hip_name_fn, "hipDeviceGetName");
  int n = 0, found = 0;
  if (!count || count(&n) != 0)
    n = 0;
  union hip_props *pr = calloc(1, sizeof *pr);
  if (!pr)
    n = 0;
  for (int i = 0; i < n && found < cap; i++) {
    struct dev_present *d = &out[found];
    memset(d, 0, sizeof *d);
    d->vendor = DEV_AMD;
    memset(pr, 0, sizeof *pr);
    if (props && props(pr, i) == 0) {
      copy_field(d->name, sizeof d->name, pr->p.name, sizeof pr->p.name);
      copy_field(d->arch, sizeof d->arch, pr->p.gcnArchName, sizeof pr->p.gcnArchName);
      d->arch[strcspn(d->arch, ":")] = '\0'; /* drop features: "gfx942:sramecc+:xnack-" */
      d->compute_units = pr->p.multiProcessorCount;
      d->lds_per_block = (int64_t)pr->p.sharedMemPerBlock;
      d->l2_bytes = pr->p.l2CacheSize;
      d->clock_mhz = pr->p.clockRate / 1000.0;
    } else if (!name || name(d->name, (int)sizeof d->name, i) != 0) {
      /* ROCm before 6.0 (no R0600 symbol): a name at best, no profile. */
      snprintf(d->name, sizeof d->name, "AMD GPU %d", i);
    }
    d->name[sizeof d->name - 1] = '\0';
    found++;
  }
  free(pr);
  return found;
}

static struct dev_present found_gpus[MAX_FOUND];
static int nfound;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

static void detect_all(void)
{
  nfound = detect_cuda(found_gpus, MAX_FOUND);
  nfound += detect_hip(found_gpus + nfound, MAX_FOUND - nfound);
  for (int i = 0; i < nfound; i++)
    found_gpus[i].profile = match_profile(&found_gpus[i]);
}

int dev_detect(struct dev_present *out, int cap)
{
  const char *skip = getenv("AUTOTUNE_NO_DETECT");
  if (!out || cap <= 0 || (skip && strcmp(skip, "1") == 0))
    return 0;
  pthread_once(&detect_once, detect_all);
  int n = nfound < cap ? nfound : cap;
  memcpy(out, found_gpus, (size_t)n * sizeof *out);
  return n;
}
