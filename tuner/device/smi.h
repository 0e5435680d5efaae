/*
 * smi.h - the GPUs' management libraries, NVML (libnvidia-ml.so.1) and ROCm SMI
 * (librocm_smi64.so), opened with dlopen through the vendor layer's opener (vendor.h)
 * when present and never linked: the driver's and the runtime's versions, a GPU's name
 * and unique id, its SM and memory clocks and its power limit, the provenance of a
 * device figure (docs/database.md). They make no GPU context, so the tuner's parent
 * process may call them (tuner/measure/worker.h, invariant 4). An absent library or an
 * unanswered query is "not known", never an error of the run.
 */
#ifndef AT_TUNER_DEVICE_SMI_H
#define AT_TUNER_DEVICE_SMI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/device.h"

struct smi_gpu; /* one GPU, found in its vendor's management library */

/* What does not change during a run; "" where not known. */
struct smi_info {
  char driver[64];   /* "580.95.05" (NVML), amdgpu's version (ROCm SMI) */
  char runtime[64];  /* "cuda 13.0": the driver's CUDA version; "rocm-smi 7.0.1" */
  char name[128];    /* "NVIDIA H100 80GB HBM3" */
  char uuid[96];     /* "GPU-5d7c...", ROCm SMI's unique id as "0x..." */
};

/* One sample; -1 / NAN where not known. */
struct smi_sample {
  int64_t sm_mhz, mem_mhz;  /* current SM (AMD: system) and memory clocks */
  double power_limit_w;     /* the enforced power limit */
  bool idle;                /* the library says the clocks are low because the GPU idles */
};

/* Find the GPU at PCI bus id `pci_bus_id` ("0000:c1:00.0", as the GPU runtime reports
 * it: the management libraries number GPUs their own way, so the id, not an ordinal,
 * pairs the two) in `vendor`'s library. OUT: *out, *info (cleared on entry). AT_OK;
 * AT_UNSUPPORTED with the reason in why[why_len] (no library, no such GPU, no id). */
int smi_open(enum dev_vendor vendor, const char *pci_bus_id, struct smi_gpu **out,
             struct smi_info *info, char *why, size_t why_len);

/* Sample the clocks and power limit now (a GPU of NULL: all not known). */
void smi_sample(struct smi_gpu *g, struct smi_sample *out);

/* Free; NULL is accepted. The library stays loaded for the process (vendor.h's rule). */
void smi_close(struct smi_gpu *g);

/* For tests: the current frequency (MHz) in the bytes of a ROCm SMI rsmi_frequencies_t,
 * of either layout (ROCm 6 put `bool has_deep_sleep` first); -1 when neither fits. */
int64_t smi_rsmi_current_mhz(const unsigned char *buf);

#endif
