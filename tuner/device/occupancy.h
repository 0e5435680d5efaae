/*
 * occupancy.h - how many blocks of a compiled kernel fit on one CU/SM at once, from the
 * device profile and the kernel's resource usage, and which resource limits it. The
 * NVIDIA rules follow cuda_occupancy.h (cudaOccMaxActiveBlocksPerMultiprocessor); the
 * CDNA rules follow LLVM's AMDGPU occupancy computation (AMDGPUBaseInfo). The static
 * pruning of the tuner reads this: occupancy 0 means the variant cannot launch.
 */
#ifndef AT_TUNER_DEVICE_OCCUPANCY_H
#define AT_TUNER_DEVICE_OCCUPANCY_H

#include <stdint.h>

#include "base/device.h"

enum occ_limit {
  OCC_LIMIT_NONE = 0,   /* host: the emulator has no such limit */
  OCC_LIMIT_WARPS,      /* waves/warps per CU */
  OCC_LIMIT_BLOCKS,     /* blocks (workgroups) per CU */
  OCC_LIMIT_REGISTERS,  /* VGPRs/AGPRs or registers */
  OCC_LIMIT_SGPRS,      /* AMD scalar registers */
  OCC_LIMIT_SHARED,     /* shared memory / LDS */
  OCC_LIMIT_TOO_BIG     /* one block does not fit at all */
};

struct occ_input {
  int threads;          /* threads per block */
  int registers;        /* per thread (NVIDIA) / architectural VGPRs per lane (AMD) */
  int agprs;            /* AMD accumulation VGPRs, 0 if none */
  int sgprs;            /* AMD scalar registers per wave, 0 if unknown */
  int64_t shared_bytes; /* static + dynamic shared memory / LDS per block */
};

struct occ_result {
  int blocks_per_cu;    /* 0: cannot run on this device */
  int warps_per_cu;     /* active waves/warps */
  double occupancy;     /* warps_per_cu / device maximum, 0..1 */
  enum occ_limit limit; /* what bounds blocks_per_cu */
  char why[128];        /* a sentence when blocks_per_cu is 0 */
};

/* Compute; never fails (a kernel that cannot run gets blocks_per_cu 0 and a reason). */
void occ_compute(const struct dev_profile *dev, const struct occ_input *in,
                 struct occ_result *out);
const char *occ_limit_name(enum occ_limit l); /* "registers", "shared", ... */

#endif
