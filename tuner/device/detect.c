/*
 * detect.c - finding the GPUs present on this machine, through the vendor layer's tables
 * (vendor.h: the CUDA driver and the HIP runtime, the same libraries the measurement
 * backends use), and matching each to a profile. No CUDA or HIP header is needed: the one
 * structure read here is declared with its source. An absent runtime, a runtime that
 * fails to initialise and a machine without GPUs all mean "none found", never an error.
 * The result is computed once per process (runtime initialisation is slow) and copied
 * out on each call; AUTOTUNE_NO_DETECT=1 skips detection altogether.
 */
#include "tuner/device/detect.h"
#include "tuner/device/vendor.h"

#include "base/status.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FOUND 64

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


/* ---- matching ---- */

/* True when `hay` holds `needle` as a word, ignoring case: not inside a longer run of
 * letters and digits ("NVIDIA H200 NVL" names h200; "NVIDIA GH200 480GB", a Grace
 * Hopper, does not). */
static bool names_nocase(const char *hay, const char *needle)
{
  size_t n = strlen(needle);
  for (const char *h = hay; *h; h++) {
    size_t i = 0;
    while (i < n && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
      i++;
    if (i == n && (h == hay || !isalnum((unsigned char)h[-1])) &&
        !isalnum((unsigned char)h[n]))
      return true;
  }
  return false;
}

/* Whether profile p is of the arch arch[0..arch_len). */
static bool of_arch(const struct dev_profile *p, const char *arch, size_t arch_len)
{
  return strlen(p->arch) == arch_len && strncmp(p->arch, arch, arch_len) == 0;
}

bool dev_present_is(const struct dev_profile *p, const char *name, const char *arch,
                    const struct dev_profile **named)
{
  const size_t arch_len = strcspn(arch, ":");
  const struct dev_profile *all = dev_profiles(), *n = NULL;
  if (named)
    *named = NULL;
  if (p->vendor == DEV_HOST)
    return false;
  for (size_t i = 0; i < dev_profile_count() && !n; i++)
    if (all[i].vendor == p->vendor && of_arch(&all[i], arch, arch_len) &&
        names_nocase(name, all[i].name))
      n = &all[i];
  if (named)
    *named = n;
  return of_arch(p, arch, arch_len) && (!n || n == p);
}

const struct dev_profile *dev_present_for_arch(const struct dev_profile *p, const char *name,
                                               const char *arch)
{
  const struct dev_profile *named = NULL;
  if (dev_present_is(p, name, arch, &named) || !named || strcmp(named->arch, p->arch) != 0)
    return p;
  return named;
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
    if (names_nocase(d->name, p[i].name))
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

static int detect_cuda(const struct vnd_api *cu, struct dev_present *out, int cap)
{
  int n = 0, found = 0;
  if (cu->rc != AT_OK || cu->device_count(&n) != 0)
    n = 0;
  for (int i = 0; i < n && found < cap; i++) {
    int dev, major = 0, minor = 0, sms = 0, smem = 0, l2 = 0, khz = 0;
    if (cu->device_get(&dev, i) != 0)
      continue;
    struct dev_present *d = &out[found];
    memset(d, 0, sizeof *d);
    d->vendor = DEV_NVIDIA;
    if (cu->device_name(d->name, (int)sizeof d->name, dev) != 0)
      snprintf(d->name, sizeof d->name, "NVIDIA GPU %d", i);
    d->name[sizeof d->name - 1] = '\0';
    if (cu->device_attr(&major, VND_CU_ATTR_CC_MAJOR, dev) == 0 &&
        cu->device_attr(&minor, VND_CU_ATTR_CC_MINOR, dev) == 0)
      snprintf(d->arch, sizeof d->arch, "sm_%d%d", major, minor);
    if (cu->device_attr(&sms, VND_CU_ATTR_MULTIPROCESSOR_COUNT, dev) == 0)
      d->compute_units = sms;
    if (cu->device_attr(&smem, VND_CU_ATTR_SMEM_OPTIN, dev) == 0)
      d->lds_per_block = smem;
    if (cu->device_attr(&l2, VND_CU_ATTR_L2_CACHE_SIZE, dev) == 0)
      d->l2_bytes = l2;
    if (cu->device_attr(&khz, VND_CU_ATTR_CLOCK_RATE, dev) == 0)
      d->clock_mhz = khz / 1000.0;
    found++;
  }
  return found;
}

static int detect_hip(const struct vnd_api *hip, struct dev_present *out, int cap)
{
  int n = 0, found = 0;
  if (hip->rc != AT_OK || hip->device_count(&n) != 0)
    n = 0;
  union hip_props *pr = n > 0 ? calloc(1, sizeof *pr) : NULL;
  if (!pr)
    n = 0;
  for (int i = 0; i < n && found < cap; i++) {
    struct dev_present *d = &out[found];
    memset(d, 0, sizeof *d);
    d->vendor = DEV_AMD;
    memset(pr, 0, sizeof *pr);
    if (hip->hip_props_r0600 && hip->hip_props_r0600(pr, i) == 0) {
      copy_field(d->name, sizeof d->name, pr->p.name, sizeof pr->p.name);
      copy_field(d->arch, sizeof d->arch, pr->p.gcnArchName, sizeof pr->p.gcnArchName);
      d->arch[strcspn(d->arch, ":")] = '\0'; /* drop features: "gfx942:sramecc+:xnack-" */
      d->compute_units = pr->p.multiProcessorCount;
      d->lds_per_block = (int64_t)pr->p.sharedMemPerBlock;
      d->l2_bytes = pr->p.l2CacheSize;
      d->clock_mhz = pr->p.clockRate / 1000.0;
    } else if (hip->device_name(d->name, (int)sizeof d->name, i) != 0) {
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
  nfound = detect_cuda(vnd_cuda(), found_gpus, MAX_FOUND);
  nfound += detect_hip(vnd_hip(), found_gpus + nfound, MAX_FOUND - nfound);
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
