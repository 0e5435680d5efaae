/*
 * smi.c - NVML and ROCm SMI through dlopen (smi.h): one small table of entry points per
 * library, loaded once per process, and the few queries the provenance needs.
 *
 * Invariants: a table is written only inside its pthread_once and read-only after; a
 * loaded table has every required symbol and its init succeeded; optional symbols
 * (NVML's clock-reason query, under either of its two names) may be NULL.
 */
#include "tuner/device/smi.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/dl.h"

/* ---- NVML ---- */

typedef struct nvml_device_st *nvml_device;

enum {
  NVML_CLOCK_SM = 1,
  NVML_CLOCK_MEM = 2,
  NVML_REASON_GPU_IDLE = 0x1 /* nvmlClocksEventReasonGpuIdle */
};

struct nvml_api {
  int rc;
  char why[300];
  int (*init)(void);
  int (*driver_version)(char *out, unsigned len);
  int (*cuda_version)(int *version);
  int (*by_pci)(const char *pci, nvml_device *d);
  int (*name)(nvml_device d, char *out, unsigned len);
  int (*uuid)(nvml_device d, char *out, unsigned len);
  int (*clock)(nvml_device d, int type, unsigned *mhz);
  int (*power_limit)(nvml_device d, unsigned *mw);
  int (*reasons)(nvml_device d, unsigned long long *mask); /* optional */
};

static struct nvml_api nvml;
static pthread_once_t nvml_once = PTHREAD_ONCE_INIT;

#define SYM(h, name, field) dl_sym(h, name, &(field), sizeof(field))

static void load_nvml(void)
{
  static const char *const libs[] = {"libnvidia-ml.so.1", "libnvidia-ml.so", NULL};
  void *h = NULL;
  const char *lib = NULL;
  nvml.rc = AT_UNSUPPORTED;
  if (dl_open_first(libs, NULL, &h, &lib, nvml.why, sizeof nvml.why) != AT_OK)
    return;
  bool ok = SYM(h, "nvmlInit_v2", nvml.init) &&
            SYM(h, "nvmlSystemGetDriverVersion", nvml.driver_version) &&
            SYM(h, "nvmlSystemGetCudaDriverVersion", nvml.cuda_version) &&
            SYM(h, "nvmlDeviceGetHandleByPciBusId_v2", nvml.by_pci) &&
            SYM(h, "nvmlDeviceGetName", nvml.name) && SYM(h, "nvmlDeviceGetUUID", nvml.uuid) &&
            SYM(h, "nvmlDeviceGetClockInfo", nvml.clock) &&
            SYM(h, "nvmlDeviceGetPowerManagementLimit", nvml.power_limit);
  if (!ok) {
    snprintf(nvml.why, sizeof nvml.why, "%s lacks an NVML entry point (too old?)", lib);
    return;
  }
  if (!SYM(h, "nvmlDeviceGetCurrentClocksEventReasons", nvml.reasons))
    SYM(h, "nvmlDeviceGetCurrentClocksThrottleReasons", nvml.reasons);
  int r = nvml.init();
  if (r != 0) {
    snprintf(nvml.why, sizeof nvml.why, "%s did not initialise (NVML error %d)", lib, r);
    return;
  }
  nvml.rc = AT_OK;
}

/* ---- ROCm SMI ---- */

enum { RSMI_CLK_SYS = 0, RSMI_CLK_MEM = 4, RSMI_SW_DRIVER = 0 };
/* Newer ROCm SMI puts a compute partition's id in bits 28..31 of a BDF id. */
#define RSMI_PARTITION_BITS 0xf0000000ull

struct rsmi_version {
  uint32_t major, minor, patch;
  const char *build;
};

struct rsmi_api {
  int rc;
  char why[300];
  int (*init)(uint64_t flags);
  int (*count)(uint32_t *n);
  int (*pci_id)(uint32_t dev, uint64_t *bdfid);
  int (*name)(uint32_t dev, char *out, size_t len);
  int (*unique_id)(uint32_t dev, uint64_t *id);
  int (*version)(struct rsmi_version *v);
  int (*version_str)(int component, char *out, uint32_t len);
  int (*power_cap)(uint32_t dev, uint32_t sensor, uint64_t *uw);
  int (*clk_freq)(uint32_t dev, int type, void *freqs);
};

static struct rsmi_api rsmi;
static pthread_once_t rsmi_once = PTHREAD_ONCE_INIT;

static void load_rsmi(void)
{
  static const char *const libs[] = {"librocm_smi64.so", "librocm_smi64.so.7",
                                     "librocm_smi64.so.6", "librocm_smi64.so.5",
                                     "/opt/rocm/lib/librocm_smi64.so", NULL};
  void *h = NULL;
  const char *lib = NULL;
  rsmi.rc = AT_UNSUPPORTED;
  if (dl_open_first(libs, NULL, &h, &lib, rsmi.why, sizeof rsmi.why) != AT_OK)
    return;
  bool ok = SYM(h, "rsmi_init", rsmi.init) && SYM(h, "rsmi_num_monitor_devices", rsmi.count) &&
            SYM(h, "rsmi_dev_pci_id_get", rsmi.pci_id) && SYM(h, "rsmi_dev_name_get", rsmi.name) &&
            SYM(h, "rsmi_dev_unique_id_get", rsmi.unique_id) &&
            SYM(h, "rsmi_version_get", rsmi.version) &&
            SYM(h, "rsmi_version_str_get", rsmi.version_str) &&
            SYM(h, "rsmi_dev_power_cap_get", rsmi.power_cap) &&
            SYM(h, "rsmi_dev_gpu_clk_freq_get", rsmi.clk_freq);
  if (!ok) {
    snprintf(rsmi.why, sizeof rsmi.why, "%s lacks a ROCm SMI entry point (too old?)", lib);
    return;
  }
  int r = rsmi.init(0);
  if (r != 0) {
    snprintf(rsmi.why, sizeof rsmi.why, "%s did not initialise (rsmi status %d)", lib, r);
    return;
  }
  rsmi.rc = AT_OK;
}

/*
 * The current frequency in an rsmi_frequencies_t, in MHz; -1 when not readable. ROCm 6
 * put a `bool has_deep_sleep` in front of {uint32 num_supported, current; uint64
 * frequency[]} (Hz), which moves every field: both layouts are tried, and only one can
 * hold a count of 1..64 with `current` below it and a plausible frequency there.
 */
int64_t smi_rsmi_current_mhz(const unsigned char *buf)
{
  static const size_t first[2] = {0, 4}, freqs[2] = {8, 16};
  for (int layout = 0; layout < 2; layout++) {
    uint32_t n, cur;
    uint64_t hz;
    memcpy(&n, buf + first[layout], sizeof n);
    memcpy(&cur, buf + first[layout] + 4, sizeof cur);
    if (n < 1 || n > 64 || cur >= n)
      continue;
    memcpy(&hz, buf + freqs[layout] + 8 * (size_t)cur, sizeof hz);
    if (hz >= 10000000ull && hz <= 100000000000ull)
      return (int64_t)(hz / 1000000ull);
  }
  return -1;
}

/* ---- one GPU ---- */

struct smi_gpu {
  enum dev_vendor vendor;
  nvml_device nv;
  uint32_t amd;
};

int smi_open(enum dev_vendor vendor, const char *pci_bus_id, struct smi_gpu **out,
             struct smi_info *info, char *why, size_t why_len)
{
  *out = NULL;
  memset(info, 0, sizeof *info);
  if (!pci_bus_id || !pci_bus_id[0]) {
    snprintf(why, why_len, "the GPU runtime gave no PCI bus id to find the GPU by");
    return AT_UNSUPPORTED;
  }
  struct smi_gpu g = {.vendor = vendor};
  if (vendor == DEV_NVIDIA) {
    pthread_once(&nvml_once, load_nvml);
    if (nvml.rc != AT_OK) {
      snprintf(why, why_len, "%s", nvml.why);
      return AT_UNSUPPORTED;
    }
    int r = nvml.by_pci(pci_bus_id, &g.nv);
    if (r != 0) {
      snprintf(why, why_len, "NVML has no GPU at %.40s (NVML error %d)", pci_bus_id, r);
      return AT_UNSUPPORTED;
    }
    int cuda = 0;
    if (nvml.driver_version(info->driver, sizeof info->driver) != 0)
      info->driver[0] = '\0';
    if (nvml.cuda_version(&cuda) == 0 && cuda > 0)
      snprintf(info->runtime, sizeof info->runtime, "cuda %d.%d", cuda / 1000,
               cuda % 1000 / 10);
    if (nvml.name(g.nv, info->name, sizeof info->name) != 0)
      info->name[0] = '\0';
    if (nvml.uuid(g.nv, info->uuid, sizeof info->uuid) != 0)
      info->uuid[0] = '\0';
  } else if (vendor == DEV_AMD) {
    pthread_once(&rsmi_once, load_rsmi);
    if (rsmi.rc != AT_OK) {
      snprintf(why, why_len, "%s", rsmi.why);
      return AT_UNSUPPORTED;
    }
    unsigned dom = 0, bus = 0, dev = 0, fn = 0;
    if (sscanf(pci_bus_id, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4) {
      snprintf(why, why_len, "cannot read PCI bus id '%.40s'", pci_bus_id);
      return AT_UNSUPPORTED;
    }
    uint64_t want = ((uint64_t)dom << 32) | ((bus & 0xffu) << 8) | ((dev & 0x1fu) << 3) |
                    (fn & 0x7u), got = 0;
    uint32_t n = 0;
    bool found = false;
    if (rsmi.count(&n) == 0)
      for (uint32_t i = 0; i < n && !found; i++)
        if (rsmi.pci_id(i, &got) == 0 && (got & ~RSMI_PARTITION_BITS) == want)
          g.amd = i, found = true;
    if (!found) {
      snprintf(why, why_len, "ROCm SMI has no GPU at %.40s", pci_bus_id);
      return AT_UNSUPPORTED;
    }
    struct rsmi_version v = {0, 0, 0, NULL};
    uint64_t id = 0;
    if (rsmi.version_str(RSMI_SW_DRIVER, info->driver, sizeof info->driver) != 0)
      info->driver[0] = '\0';
    if (rsmi.version(&v) == 0)
      snprintf(info->runtime, sizeof info->runtime, "rocm-smi %u.%u.%u", v.major, v.minor,
               v.patch);
    if (rsmi.name(g.amd, info->name, sizeof info->name) != 0)
      info->name[0] = '\0';
    if (rsmi.unique_id(g.amd, &id) == 0)
      snprintf(info->uuid, sizeof info->uuid, "0x%016llx", (unsigned long long)id);
  } else {
    snprintf(why, why_len, "the host has no management library");
    return AT_UNSUPPORTED;
  }
  struct smi_gpu *p = malloc(sizeof *p);
  if (!p) {
    snprintf(why, why_len, "out of memory");
    return AT_NOMEM;
  }
  *p = g;
  *out = p;
  return AT_OK;
}

void smi_sample(struct smi_gpu *g, struct smi_sample *s)
{
  *s = (struct smi_sample){-1, -1, NAN, false};
  if (!g)
    return;
  if (g->vendor == DEV_NVIDIA) {
    unsigned v = 0;
    unsigned long long reasons = 0;
    if (nvml.clock(g->nv, NVML_CLOCK_SM, &v) == 0)
      s->sm_mhz = v;
    if (nvml.clock(g->nv, NVML_CLOCK_MEM, &v) == 0)
      s->mem_mhz = v;
    if (nvml.power_limit(g->nv, &v) == 0)
      s->power_limit_w = v / 1000.0;
    if (nvml.reasons && nvml.reasons(g->nv, &reasons) == 0)
      s->idle = (reasons & NVML_REASON_GPU_IDLE) != 0;
    return;
  }
  /* rsmi_frequencies_t: at most 33 frequencies after 16 bytes, in either layout */
  _Alignas(8) unsigned char buf[16 + 8 * 64];
  uint64_t uw = 0;
  memset(buf, 0, sizeof buf);
  if (rsmi.clk_freq(g->amd, RSMI_CLK_SYS, buf) == 0)
    s->sm_mhz = smi_rsmi_current_mhz(buf);
  memset(buf, 0, sizeof buf);
  if (rsmi.clk_freq(g->amd, RSMI_CLK_MEM, buf) == 0)
    s->mem_mhz = smi_rsmi_current_mhz(buf);
  if (rsmi.power_cap(g->amd, 0, &uw) == 0 && uw > 0)
    s->power_limit_w = (double)uw / 1e6;
}

void smi_close(struct smi_gpu *g)
{
  free(g);
}
