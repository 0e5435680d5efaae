/*
 * vendor.c - loading the CUDA driver and the HIP runtime into their vnd_api tables
 * (vendor.h), once per process each, from one candidate list per vendor; the vendors'
 * error texts and the fault classes the worker reads.
 *
 * Invariants: a table is written only inside its pthread_once and read-only after;
 * rc == AT_OK implies every symbol named in its column is loaded and init(0) succeeded;
 * a handle, once opened, stays open for the process (unloading an initialised driver is
 * not worth the risk).
 */
#include "tuner/device/vendor.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/dl.h"
#include "base/status.h"

/* Newest first among the HIP sonames (hipGetDevicePropertiesR0600 needs ROCm 6), then
 * ROCm's default install when it is not on the loader's path, then the unversioned
 * development link and Debian's ROCm 5.2. */
static const char *const cuda_libs[] = {"libcuda.so.1", "libcuda.so", NULL};
static const char *const hip_libs[] = {"libamdhip64.so.7", "libamdhip64.so.6",
                                       "/opt/rocm/lib/libamdhip64.so", "libamdhip64.so",
                                       "libamdhip64.so.5", NULL};

/* ---- the two tables ---- */

static struct vnd_api cuda_api = {.name = "CUDA", .vendor = DEV_NVIDIA, .libs = cuda_libs};
static struct vnd_api hip_api = {.name = "HIP", .vendor = DEV_AMD, .libs = hip_libs};
static pthread_once_t cuda_once = PTHREAD_ONCE_INIT, hip_once = PTHREAD_ONCE_INIT;

/* Field name -> each vendor's symbol, for loading and for naming a failed call. */
static const struct {
  const char *field, *cuda, *hip;
} symbols[] = {
#define VND_ROW(field, cu, hip, params) {#field, cu, hip},
    VND_FUNCS(VND_ROW)
#undef VND_ROW
};

static void load(struct vnd_api *a)
{
  void *h = NULL;
  a->rc = AT_UNSUPPORTED;
  char why[sizeof a->why - 64];
  if (dl_open_first(a->libs, NULL, &h, &a->lib, why, sizeof why) != AT_OK) {
    snprintf(a->why, sizeof a->why, "no %s runtime here: %s", a->name, why);
    return;
  }
  bool cuda = a->vendor == DEV_NVIDIA;
#define VND_LOAD(field, cu, hip, params)                                                   \
  if ((cuda ? cu : hip) && !dl_sym(h, cuda ? cu : hip, &a->field, sizeof a->field)) {     \
    snprintf(a->why, sizeof a->why, "the %s runtime %s lacks %s (too old?)", a->name,      \
             a->lib, (const char *)(cuda ? cu : hip));                                     \
    return;                                                                                \
  }
  VND_FUNCS(VND_LOAD)
#undef VND_LOAD
  bool texts = cuda ? dl_sym(h, "cuGetErrorName", &a->cu_error_name, sizeof a->cu_error_name) &&
                          dl_sym(h, "cuGetErrorString", &a->cu_error_string,
                                  sizeof a->cu_error_string)
                    : dl_sym(h, "hipGetErrorName", &a->hip_error_name,
                              sizeof a->hip_error_name) &&
                          dl_sym(h, "hipGetErrorString", &a->hip_error_string,
                                  sizeof a->hip_error_string);
  if (!texts) {
    snprintf(a->why, sizeof a->why, "the %s runtime %s lacks its error texts (too old?)",
             a->name, a->lib);
    return;
  }
  if (!cuda)
    dl_sym(h, "hipGetDevicePropertiesR0600", &a->hip_props_r0600, sizeof a->hip_props_r0600);
  else /* optional: older drivers lack it, and only TMA templates need it */
    dl_sym(h, "cuTensorMapEncodeTiled", &a->cu_tmap_encode_tiled,
           sizeof a->cu_tmap_encode_tiled);
  vnd_status r = a->init(0);
  if (r != 0) {
    snprintf(a->why, sizeof a->why, "the %s runtime %s did not initialise: %s (%s)", a->name,
             a->lib, vnd_error_name(a, r), vnd_error_string(a, r));
    return;
  }
  a->rc = AT_OK;
}

static void load_cuda(void) { load(&cuda_api); }
static void load_hip(void) { load(&hip_api); }

const struct vnd_api *vnd_cuda(void)
{
  pthread_once(&cuda_once, load_cuda);
  return &cuda_api;
}

const struct vnd_api *vnd_hip(void)
{
  pthread_once(&hip_once, load_hip);
  return &hip_api;
}

/* ---- errors ---- */

const char *vnd_error_name(const struct vnd_api *api, vnd_status r)
{
  const char *s = NULL;
  if (api->cu_error_name)
    api->cu_error_name(r, &s);
  else if (api->hip_error_name)
    s = api->hip_error_name(r);
  return s ? s : "?";
}

const char *vnd_error_string(const struct vnd_api *api, vnd_status r)
{
  const char *s = NULL;
  if (api->cu_error_string)
    api->cu_error_string(r, &s);
  else if (api->hip_error_string)
    s = api->hip_error_string(r);
  return s ? s : "?";
}

const char *vnd_fault_class(vnd_status r)
{
  /* cuda.h's numbers; hip_runtime_api.h uses the same for the ones HIP has. */
  switch (r) {
  case 700: return "ILLEGAL_ADDRESS";
  case 710: return "ASSERT";
  case 714: return "HARDWARE_STACK";
  case 715: return "ILLEGAL_INSTRUCTION";
  case 716: return "MISALIGNED";
  case 719: return "LAUNCH_FAILED";
  default: return NULL;
  }
}

/* The vendor's symbol behind a statement "field(args...)", or NULL. */
static const char *symbol_of(const struct vnd_api *api, const char *stmt)
{
  size_t n = strcspn(stmt, "(");
  for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++)
    if (strlen(symbols[i].field) == n && strncmp(symbols[i].field, stmt, n) == 0)
      return api->vendor == DEV_NVIDIA ? symbols[i].cuda : symbols[i].hip;
  return NULL;
}

int vnd_fail(const struct vnd_api *api, vnd_status r, const char *stmt, const char *file,
             int line)
{
  const char *sym = symbol_of(api, stmt);
  const char *fault = vnd_fault_class(r);
  return at_error(AT_DEVICE, "%s%s%s failed: %s (%s)%s%s at %s:%d", sym ? sym : "",
                  sym ? ": " : "", stmt, vnd_error_name(api, r), vnd_error_string(api, r),
                  fault ? " fault " : "", fault ? fault : "", file, line);
}
