/*
 * device.c - the device profile table: what the generator and tuner know of each GPU
 * (limits, occupancy figures, peaks), and the `host` device that runs the SIMT emulator.
 * Every figure names its public source; where a figure differs from
 * shared/design/devices.md, the comment says so and the vendor document wins. Peaks are
 * dense (no structured sparsity). Sizes are bytes; "KB"/"MB" in NVIDIA documents are
 * 1024-based here, as the driver reports them (e.g. 227 KB = 232448 B opt-in on sm_90).
 *
 * Sources, cited below by their tag:
 *   [ROCM-SPECS]  ROCm docs, "AMD GPU specifications" (reference/gpu-specs), Instinct table:
 *                 CUs, wavefront, LDS per CU, L2 and L3 (Infinity Cache), VGPR file.
 *   [LLVM]        LLVM "User Guide for AMDGPU Backend" (AMDGPUUsage) and AMDGPUBaseInfo:
 *                 1024 work-items per workgroup, 8 waves per SIMD on gfx90a/gfx942/gfx950,
 *                 512 unified VGPR+AGPR per lane allocated in blocks of 8, 102 addressable
 *                 SGPRs on GFX9, 16 barriers (multi-wave workgroups) per CU, and
 *                 COMPUTE_PGM_RSRC2.LDS_SIZE granularity: 128 dwords (512 B) on GFX7+,
 *                 320 dwords (1280 B) on GFX950.
 *   [MI300X-DS] [MI325X-DS] [MI250X-DS] [MI210-DS] [MI355X-DS]: AMD Instinct data sheets
 *                 (peak engine clock, dense matrix and vector peaks, HBM bandwidth).
 *   [CUDA-CC]     CUDA C++ Programming Guide, "Technical Specifications per Compute
 *                 Capability": shared memory per SM / per block, warps and blocks per SM,
 *                 64K registers per SM, 255 per thread.
 *   [CUDA-OCC]    CUDA cuda_occupancy.h: registers allocated per warp in units of 256,
 *                 shared memory in units of 128 B, 1 KB reserved per block on sm_80+.
 *   [H100-DS] [H200-DS] [A100-DS] [L40S-DS]: NVIDIA data sheets (SMs, peaks, bandwidth, L2).
 */
#include "base/device.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "base/status.h"

#define KiB ((int64_t)1024)
#define MiB (1024 * KiB)

/* Figures shared by every CDNA2/3/4 profile, all from [LLVM] unless noted. */
#define CDNA_COMMON                                                                        \
  .vendor = DEV_AMD, .warp_size = 64, .max_threads_per_block = 1024,                       \
  .max_blocks_per_cu = 16,      /* barrier limit for multi-wave workgroups */              \
  .simds_per_cu = 4, .max_waves_per_simd = 8, .max_warps_per_cu = 32,                      \
  .lds_reserved_per_block = 0,                                                             \
  .regs_per_cu = 131072,        /* [ROCM-SPECS] 512 KiB VGPR file per CU, 4-byte regs */   \
  .vgprs_per_lane = 512, .max_regs_per_thread = 512, .reg_alloc_granularity = 8,           \
  .sgprs_per_wave = 102

/* Figures shared by the NVIDIA profiles: [CUDA-CC] and [CUDA-OCC]. */
#define NV_COMMON                                                                          \
  .vendor = DEV_NVIDIA, .warp_size = 32, .max_threads_per_block = 1024,                    \
  .simds_per_cu = 4, .lds_reserved_per_block = 1 * KiB, .lds_alloc_granularity = 128,      \
  .regs_per_cu = 65536, .vgprs_per_lane = 0, .max_regs_per_thread = 255,                   \
  .reg_alloc_granularity = 256, .sgprs_per_wave = 0

static const struct dev_profile table[] = {
    {
        .name = "mi300x", .arch = "gfx942", .description = "AMD Instinct MI300X (OAM)",
        CDNA_COMMON,
        .compute_units = 304,            /* [ROCM-SPECS] 38 per XCD x 8 */
        .lds_per_block = 64 * KiB, .lds_per_cu = 64 * KiB, /* [ROCM-SPECS] */
        .lds_alloc_granularity = 512,    /* [LLVM] 128 dwords */
        .clock_mhz = 2100,               /* [MI300X-DS] peak engine clock */
        /* [MI300X-DS]: 2048 FLOP/clk/CU x 304 x 2.1 GHz */
        .peak_tflops_f16 = 1307.4, .peak_tflops_bf16 = 1307.4,
        .peak_tflops_f32 = 163.4,        /* [MI300X-DS] vector FP32 */
        .peak_tflops_f8 = 2614.9,        /* [MI300X-DS] dense FP8 */
        .mem_bandwidth_gbs = 5300,       /* [MI300X-DS] 5.3 TB/s HBM3 */
        .l2_bytes = 4 * MiB,             /* [ROCM-SPECS] 4 MiB per XCD (32 in all) */
        .llc_bytes = 256 * MiB,          /* [ROCM-SPECS] 256 MiB Infinity Cache */
    },
    {
        .name = "mi325x", .arch = "gfx942", .description = "AMD Instinct MI325X (OAM)",
        CDNA_COMMON,
        .compute_units = 304,            /* [ROCM-SPECS] 38 per XCD x 8 */
        .lds_per_block = 64 * KiB, .lds_per_cu = 64 * KiB, /* [ROCM-SPECS] */
        .lds_alloc_granularity = 512,    /* [LLVM] */
        .clock_mhz = 2100,               /* [MI325X-DS] */
        .peak_tflops_f16 = 1307.4, .peak_tflops_bf16 = 1307.4, /* [MI325X-DS] dense */
        .peak_tflops_f32 = 163.4,        /* [MI325X-DS] vector FP32 */
        .peak_tflops_f8 = 2614.9,        /* [MI325X-DS] dense FP8 */
        .mem_bandwidth_gbs = 6000,       /* [MI325X-DS] 6 TB/s HBM3E */
        .l2_bytes = 4 * MiB,             /* [ROCM-SPECS] per XCD */
        .llc_bytes = 256 * MiB,          /* [ROCM-SPECS] */
    },
    {
        /* The runtime sees each of the package's two GCDs as one GPU: the profile is one
         * GCD, so package-wide data-sheet figures are halved. */
        .name = "mi250x", .arch = "gfx90a",
        .description = "AMD Instinct MI250X, one GCD (of two per package)",
        CDNA_COMMON,
        .compute_units = 110,            /* [ROCM-SPECS] 220, 110 per GCD */
        .lds_per_block = 64 * KiB, .lds_per_cu = 64 * KiB, /* [ROCM-SPECS] */
        .lds_alloc_granularity = 512,    /* [LLVM] */
        .clock_mhz = 1700,               /* [MI250X-DS] peak engine clock */
        /* [MI250X-DS] 383.0 TFLOP/s per package / 2 (= 1024 FLOP/clk/CU x 110 x 1.7 GHz) */
        .peak_tflops_f16 = 191.5, .peak_tflops_bf16 = 191.5,
        .peak_tflops_f32 = 23.95,        /* [MI250X-DS] 47.9 vector FP32 / 2 */
        .peak_tflops_f8 = 0,             /* CDNA2 has no FP8 */
        .mem_bandwidth_gbs = 1638.4,     /* [MI250X-DS] 3.2768 TB/s per package / 2 */
        .l2_bytes = 8 * MiB,             /* [ROCM-SPECS] 8 MiB per GCD */
        .llc_bytes = 8 * MiB,            /* no Infinity Cache on CDNA2: L2 is last */
    },
    {
        .name = "mi210", .arch = "gfx90a", .description = "AMD Instinct MI210 (PCIe)",
        CDNA_COMMON,
        .compute_units = 104,            /* [ROCM-SPECS] */
        .lds_per_block = 64 * KiB, .lds_per_cu = 64 * KiB, /* [ROCM-SPECS] */
        .lds_alloc_granularity = 512,    /* [LLVM] */
        .clock_mhz = 1700,               /* [MI210-DS] */
        .peak_tflops_f16 = 181.0, .peak_tflops_bf16 = 181.0, /* [MI210-DS] */
        .peak_tflops_f32 = 22.6,         /* [MI210-DS] vector FP32 */
        .peak_tflops_f8 = 0,             /* CDNA2 has no FP8 */
        .mem_bandwidth_gbs = 1638.4,     /* [MI210-DS] 1.6 TB/s HBM2e */
        .l2_bytes = 8 * MiB,             /* [ROCM-SPECS] */
        .llc_bytes = 8 * MiB,
    },
    {
        .name = "mi355x", .arch = "gfx950", .description = "AMD Instinct MI355X (OAM)",
        CDNA_COMMON,
        .compute_units = 256,            /* [ROCM-SPECS] 32 per XCD x 8 */
        .lds_per_block = 160 * KiB, .lds_per_cu = 160 * KiB, /* [ROCM-SPECS] */
        .lds_alloc_granularity = 1280,   /* [LLVM] 320 dwords on GFX950 */
        .clock_mhz = 2400,               /* [MI355X-DS] peak engine clock */
        /* [MI355X-DS] "2.5 PF" dense: 4096 FLOP/clk/CU x 256 x 2.4 GHz (devices.md: ~2500) */
        .peak_tflops_f16 = 2516.6, .peak_tflops_bf16 = 2516.6,
        .peak_tflops_f32 = 157.3,        /* [MI355X-DS] vector FP32 */
        .peak_tflops_f8 = 5033.2,        /* [MI355X-DS] dense FP8, 8192 FLOP/clk/CU */
        .mem_bandwidth_gbs = 8000,       /* [MI355X-DS] 8 TB/s HBM3E */
        .l2_bytes = 4 * MiB,             /* [ROCM-SPECS] per XCD */
        .llc_bytes = 256 * MiB,          /* [ROCM-SPECS] */
    },
    {
        .name = "h100", .arch = "sm_90", .description = "NVIDIA H100 SXM5 80GB",
        NV_COMMON,
        .compute_units = 132,            /* [H100-DS] */
        .max_blocks_per_cu = 32, .max_waves_per_simd = 16, .max_warps_per_cu = 64, /* [CUDA-CC] */
        .lds_per_block = 227 * KiB, .lds_per_cu = 228 * KiB, /* [CUDA-CC] 9.0 */
        .clock_mhz = 1980,               /* [H100-DS] max boost; tensor peaks assume 1830 */
        .peak_tflops_f16 = 989.4, .peak_tflops_bf16 = 989.4, /* [H100-DS] 1979 sparse / 2 */
        .peak_tflops_f32 = 66.9,         /* [H100-DS] "67" */
        .peak_tflops_f8 = 1978.9,        /* [H100-DS] 3958 sparse / 2 */
        .mem_bandwidth_gbs = 3350,       /* [H100-DS] */
        .l2_bytes = 50 * MiB, .llc_bytes = 50 * MiB, /* [H100-DS] */
    },
    {
        .name = "h200", .arch = "sm_90", .description = "NVIDIA H200 SXM 141GB",
        NV_COMMON,
        .compute_units = 132,            /* [H200-DS] same GH100 configuration as H100 SXM */
        .max_blocks_per_cu = 32, .max_waves_per_simd = 16, .max_warps_per_cu = 64, /* [CUDA-CC] */
        .lds_per_block = 227 * KiB, .lds_per_cu = 228 * KiB, /* [CUDA-CC] 9.0 */
        .clock_mhz = 1980,               /* as H100 SXM */
        .peak_tflops_f16 = 989.4, .peak_tflops_bf16 = 989.4, /* [H200-DS] 1979 sparse / 2 */
        .peak_tflops_f32 = 66.9,         /* [H200-DS] "67" */
        .peak_tflops_f8 = 1978.9,        /* [H200-DS] 3958 sparse / 2 */
        .mem_bandwidth_gbs = 4800,       /* [H200-DS] 4.8 TB/s HBM3E */
        .l2_bytes = 50 * MiB, .llc_bytes = 50 * MiB,
    },
    {
        .name = "a100", .arch = "sm_80", .description = "NVIDIA A100 SXM4 80GB",
        NV_COMMON,
        .compute_units = 108,            /* [A100-DS] */
        .max_blocks_per_cu = 32, .max_waves_per_simd = 16, .max_warps_per_cu = 64, /* [CUDA-CC] */
        .lds_per_block = 163 * KiB, .lds_per_cu = 164 * KiB, /* [CUDA-CC] 8.0 */
        .clock_mhz = 1410,               /* [A100-DS] boost; 2048 FLOP/clk/SM x 108 = 312 */
        .peak_tflops_f16 = 312, .peak_tflops_bf16 = 312, /* [A100-DS] dense */
        .peak_tflops_f32 = 19.5,         /* [A100-DS] */
        .peak_tflops_f8 = 0,             /* Ampere has no FP8 */
        .mem_bandwidth_gbs = 2039,       /* [A100-DS] 80GB SXM */
        .l2_bytes = 40 * MiB, .llc_bytes = 40 * MiB, /* [A100-DS] */
    },
    {
        .name = "l40s", .arch = "sm_89", .description = "NVIDIA L40S (PCIe, GDDR6)",
        NV_COMMON,
        .compute_units = 142,            /* [L40S-DS] 142 RT cores, one per SM */
        .max_blocks_per_cu = 24, .max_waves_per_simd = 12, .max_warps_per_cu = 48, /* [CUDA-CC] */
        .lds_per_block = 99 * KiB, .lds_per_cu = 100 * KiB, /* [CUDA-CC] 8.9 */
        .clock_mhz = 2520,               /* [L40S-DS] boost */
        .peak_tflops_f16 = 362.05, .peak_tflops_bf16 = 362.05, /* [L40S-DS] 733 sparse */
        .peak_tflops_f32 = 91.6,         /* [L40S-DS] */
        .peak_tflops_f8 = 733,           /* [L40S-DS] 1466 sparse / 2 */
        .mem_bandwidth_gbs = 864,        /* [L40S-DS] */
        /* devices.md's 96 MB (the full AD102 L2); not in the data sheet and not verified:
         * some third-party listings say 48 MB. Check against cuDeviceGetAttribute(38). */
        .l2_bytes = 96 * MiB, .llc_bytes = 96 * MiB,
    },
    {
        /* This machine's CPU running the SIMT emulator. The limits are the emulator's
         * (a GPU-like block of up to 1024 threads in warps of 32, 64 KiB of shared memory);
         * compute_units is the number of online CPUs, filled in at run time. Registers
         * and occupancy do not apply (0), and no peak is known (0): host timings are CPU
         * timings of the emulation, not GPU figures. */
        .name = "host", .vendor = DEV_HOST, .arch = "host",
        .description = "this machine's CPU running the SIMT emulator (not a GPU)",
        .compute_units = 0, .warp_size = 32, .max_threads_per_block = 1024,
        .max_blocks_per_cu = 1,          /* one block per worker thread at a time */
        .simds_per_cu = 1, .max_waves_per_simd = 32, .max_warps_per_cu = 32,
        .lds_per_block = 64 * KiB, .lds_per_cu = 64 * KiB, .lds_reserved_per_block = 0,
        .lds_alloc_granularity = 1,
        .regs_per_cu = 0, .vgprs_per_lane = 0, .max_regs_per_thread = 0,
        .reg_alloc_granularity = 1, .sgprs_per_wave = 0,
        .clock_mhz = 0, .peak_tflops_f16 = 0, .peak_tflops_bf16 = 0, .peak_tflops_f32 = 0,
        .peak_tflops_f8 = 0, .mem_bandwidth_gbs = 0, .l2_bytes = 0, .llc_bytes = 0,
    },
};

#define NPROFILES (sizeof table / sizeof table[0])

static struct dev_profile profiles[NPROFILES];
static pthread_once_t profiles_once = PTHREAD_ONCE_INIT;

/* Copy the table once and fill in what only run time knows: the host's CPU count. */
static void profiles_init(void)
{
  memcpy(profiles, table, sizeof table);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  for (size_t i = 0; i < NPROFILES; i++)
    if (profiles[i].vendor == DEV_HOST)
      profiles[i].compute_units = n > 0 && n < 1 << 20 ? (int)n : 1;
}

const struct dev_profile *dev_profiles(void)
{
  pthread_once(&profiles_once, profiles_init);
  return profiles;
}

size_t dev_profile_count(void)
{
  return NPROFILES;
}

static bool same_nocase(const char *a, const char *b)
{
  for (; *a && *b; a++, b++)
    if (*a != *b && tolower((unsigned char)*a) != tolower((unsigned char)*b))
      return false;
  return *a == *b;
}

const struct dev_profile *dev_find(const char *name_or_arch)
{
  const char *key = name_or_arch ? name_or_arch : "";
  const struct dev_profile *p = dev_profiles();
  for (size_t i = 0; i < NPROFILES; i++)
    if (same_nocase(p[i].name, key))
      return &p[i];
  for (size_t i = 0; i < NPROFILES; i++)
    if (same_nocase(p[i].arch, key))
      return &p[i];
  at_error(AT_USAGE,
           "unknown device '%.60s' (expected a profile name such as mi300x or h100, or an "
           "arch such as gfx942 or sm_90; see 'autotune devices')",
           key);
  return NULL;
}

const char *dev_vendor_name(enum dev_vendor v)
{
  switch (v) {
  case DEV_HOST: return "host";
  case DEV_NVIDIA: return "nvidia";
  case DEV_AMD: return "amd";
  }
  return "unknown";
}
