/*
 * detect.h - the GPUs present on this machine, found through their runtimes (the vendor
 * layer, vendor.h); an absent runtime is normal, never an error.
 */
#ifndef AT_TUNER_DEVICE_DETECT_H
#define AT_TUNER_DEVICE_DETECT_H

#include "base/device.h"

/* A GPU found on this machine through its runtime. */
struct dev_present {
  enum dev_vendor vendor;
  char name[128];           /* the driver's name for it */
  char arch[32];            /* "sm_90", "gfx942" */
  int compute_units;
  int64_t lds_per_block;    /* opt-in maximum, bytes; 0 if unknown */
  int64_t l2_bytes;
  double clock_mhz;
  const struct dev_profile *profile; /* the matching profile, NULL if none matches */
};

/* Detect GPUs through the vendor layer's CUDA and HIP tables (vnd_cuda, vnd_hip). Fills at most `cap`
 * entries of `out`; returns how many were found (0 when no runtime is present). Never
 * fails: a runtime that cannot be loaded or initialised counts as absent. */
int dev_detect(struct dev_present *out, int cap);

/* Whether the GPU a runtime calls `name`, of `arch` (a feature suffix after ':' aside),
 * may be measured as profile p: the same vendor's arch, and no other profile of that arch
 * named in `name` as a word (as dev_detect matches a profile: an "NVIDIA H100 80GB HBM3"
 * is not measured as h200, nor an "NVIDIA H200" as h100; a name that names no profile,
 * such as "NVIDIA H800" or "NVIDIA GH200 480GB", goes by its arch). The host profile
 * takes no GPU. False with *named (may be NULL) the profile the name names, NULL if
 * none. */
bool dev_present_is(const struct dev_profile *p, const char *name, const char *arch,
                    const struct dev_profile **named);

/* The profile to measure the GPU a runtime calls `name`, of `arch`, as when --device named
 * p by its arch (sm_90, gfx942; dev_find gives the arch's first profile): the profile of
 * p's arch that `name` names ("NVIDIA H200" -> h200 for sm_90, "AMD Instinct MI325X" ->
 * mi325x for gfx942), else p (a name that names none, or a GPU of another arch: p, which
 * dev_present_is then refuses). */
const struct dev_profile *dev_present_for_arch(const struct dev_profile *p, const char *name,
                                               const char *arch);

#endif
