/*
 * device.h - device profiles: data, not code paths. Every layer reads them (the
 * generator prunes a space by a device's limits), so they live in base/; detecting the
 * GPUs present is the tuner's (tuner/device/detect.h).
 *
 * A profile holds what the generator and tuner need to know of a device: limits that
 * prune the space (threads, shared memory/LDS, registers), figures that compute
 * occupancy, and peaks that turn a time into a fraction of the roofline. The table lives
 * in device.c, each figure with its public source in a comment.
 */
#ifndef AT_BASE_DEVICE_H
#define AT_BASE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dev_vendor { DEV_HOST = 0, DEV_NVIDIA = 1, DEV_AMD = 2 };

struct dev_profile {
  const char *name;          /* "mi300x", "h100", "host" */
  enum dev_vendor vendor;
  const char *arch;          /* "gfx942", "sm_90", "host" */
  const char *description;   /* "AMD Instinct MI300X (OAM)" */
  int compute_units;         /* CUs (AMD) or SMs (NVIDIA); CPU cores for host (read at run time) */
  int warp_size;             /* 64 on CDNA, 32 on NVIDIA; the emulator's warp for host */
  int max_threads_per_block;
  int max_blocks_per_cu;
  int simds_per_cu;          /* AMD: 4; NVIDIA: 4 sub-partitions per SM */
  int max_waves_per_simd;    /* AMD: waves per SIMD; NVIDIA: max warps per SM / 4 */
  int max_warps_per_cu;      /* waves per CU / warps per SM */
  int64_t lds_per_block;     /* bytes of shared memory/LDS one block may use (opt-in max) */
  int64_t lds_per_cu;        /* bytes of shared memory/LDS per CU/SM */
  int64_t lds_reserved_per_block; /* NVIDIA: 1 KB the system reserves per block */
  int lds_alloc_granularity; /* bytes */
  /* Registers. NVIDIA: regs_per_cu 32-bit registers per SM, allocated per warp in units
   * of reg_alloc_granularity registers. AMD: vgprs_per_lane is the unified VGPR+AGPR file
   * per SIMD lane (512 on CDNA2/3), allocated in blocks of reg_alloc_granularity. */
  int regs_per_cu;
  int vgprs_per_lane;
  int max_regs_per_thread;   /* 255 (NVIDIA), 512 VGPR+AGPR (CDNA) */
  int reg_alloc_granularity;
  int sgprs_per_wave;        /* AMD: addressable SGPRs; 0 elsewhere */
  double clock_mhz;          /* peak engine / boost clock */
  double peak_tflops_f16;    /* dense matrix-core peak; 0 = no such unit */
  double peak_tflops_bf16;
  double peak_tflops_f32;    /* vector (non-matrix) f32 */
  double peak_tflops_f8;     /* dense; 0 where the device has no f8 */
  double mem_bandwidth_gbs;  /* GB/s (1e9 bytes/s) */
  int64_t l2_bytes;          /* L2 (per XCD on MI300-class, see llc_bytes) */
  int64_t llc_bytes;         /* last-level cache (Infinity Cache on MI300; = L2 elsewhere) */
};

/* The profile table, in listing order; dev_profile_count() entries. */
const struct dev_profile *dev_profiles(void);
size_t dev_profile_count(void);

/* Find a profile by name ("mi300x") or arch ("gfx942": the first profile of that arch),
 * case-insensitively. NULL and an at_error message naming the input if unknown. */
const struct dev_profile *dev_find(const char *name_or_arch);

const char *dev_vendor_name(enum dev_vendor v); /* "host", "nvidia", "amd" */

#endif
