/*
 * occupancy.c - blocks per CU/SM for a kernel, from its resources and the device
 * profile.
 *
 * NVIDIA (cuda_occupancy.h, cudaOccMaxActiveBlocksPerMultiprocessor): warps per block =
 * ceil(threads / 32); registers are allocated per warp, roundup(regs x 32, 256), and a
 * sub-partition (a quarter SM) holds regs_per_sm / 4 of them, so warps by registers =
 * 4 x floor((regs_per_sm / 4) / regs_per_warp); shared memory per block = roundup(shared
 * + 1 KiB reserved, 128) against shared per SM; then max warps and max blocks per SM.
 *
 * CDNA (LLVM AMDGPUBaseInfo: getNumWavesPerEUWithNumVGPRs, getMaxWavesPerEU): a wave's
 * registers = align(align(VGPR, 4) + AGPR, 8) out of a 512-entry unified file per lane,
 * so waves per SIMD = min(8, floor(512 / that)); scalar registers: 800 per SIMD in
 * granules of 16 (gfx9); a workgroup's waves are spread over the CU's 4 SIMDs; LDS per
 * workgroup rounded to the allocation granularity against LDS per CU; at most 16
 * workgroups per CU when a workgroup has more than one wave (barrier resources), else 32.
 */
#include "tuner/device/occupancy.h"

#include <stdio.h>

static int64_t round_up(int64_t x, int64_t g)
{
  return g > 1 ? (x + g - 1) / g * g : x;
}

static int64_t min64(int64_t a, int64_t b)
{
  return a < b ? a : b;
}

const char *occ_limit_name(enum occ_limit l)
{
  static const char *const names[] = {"none",  "warps",  "blocks", "registers",
                                      "sgprs", "shared", "too big"};
  return (int)l >= 0 && l <= OCC_LIMIT_TOO_BIG ? names[l] : "?";
}

/* Take the smallest of the limits, remembering which one it was. */
static void limit_by(struct occ_result *out, int64_t blocks, enum occ_limit why)
{
  if (blocks < out->blocks_per_cu) {
    out->blocks_per_cu = (int)blocks;
    out->limit = why;
  }
}

static void nvidia(const struct dev_profile *d, const struct occ_input *in,
                   struct occ_result *out)
{
  int warps_per_block = (in->threads + d->warp_size - 1) / d->warp_size;
  if (in->registers > d->max_regs_per_thread) {
    snprintf(out->why, sizeof out->why, "%d registers per thread, above the %d allowed",
             in->registers, d->max_regs_per_thread);
    out->limit = OCC_LIMIT_REGISTERS;
    return;
  }
  int64_t shared = round_up(in->shared_bytes + d->lds_reserved_per_block,
                            d->lds_alloc_granularity);
  if (in->shared_bytes > d->lds_per_block) {
    snprintf(out->why, sizeof out->why, "%lld bytes of shared memory, above the %lld per block",
             (long long)in->shared_bytes, (long long)d->lds_per_block);
    out->limit = OCC_LIMIT_SHARED;
    return;
  }
  out->blocks_per_cu = d->max_blocks_per_cu;
  out->limit = OCC_LIMIT_BLOCKS;
  limit_by(out, d->max_warps_per_cu / warps_per_block, OCC_LIMIT_WARPS);
  if (in->registers > 0) {
    int64_t regs_per_warp = round_up((int64_t)in->registers * d->warp_size,
                                     d->reg_alloc_granularity);
    int64_t warps = d->simds_per_cu * ((d->regs_per_cu / d->simds_per_cu) / regs_per_warp);
    limit_by(out, warps / warps_per_block, OCC_LIMIT_REGISTERS);
  }
  limit_by(out, d->lds_per_cu / shared, OCC_LIMIT_SHARED);
  out->warps_per_cu = out->blocks_per_cu * warps_per_block;
}

static void cdna(const struct dev_profile *d, const struct occ_input *in,
                 struct occ_result *out)
{
  int waves_per_block = (in->threads + d->warp_size - 1) / d->warp_size;
  int64_t regs = round_up(round_up(in->registers > 0 ? in->registers : 1, 4) + in->agprs,
                          d->reg_alloc_granularity);
  if (in->registers > 256 || in->agprs > 256 || regs > d->vgprs_per_lane) {
    snprintf(out->why, sizeof out->why, "%d VGPRs + %d AGPRs do not fit the %d-entry file",
             in->registers, in->agprs, d->vgprs_per_lane);
    out->limit = OCC_LIMIT_REGISTERS;
    return;
  }
  if (in->shared_bytes > d->lds_per_block) {
    snprintf(out->why, sizeof out->why, "%lld bytes of LDS, above the %lld per workgroup",
             (long long)in->shared_bytes, (long long)d->lds_per_block);
    out->limit = OCC_LIMIT_SHARED;
    return;
  }
  /* Waves per SIMD by each register file, then workgroups whose waves fit on 4 SIMDs. */
  int64_t per_simd = min64(d->max_waves_per_simd, d->vgprs_per_lane / regs);
  enum occ_limit simd_limit = per_simd < d->max_waves_per_simd ? OCC_LIMIT_REGISTERS
                                                               : OCC_LIMIT_WARPS;
  if (in->sgprs > 0) {
    int64_t by_sgpr = 800 / round_up(in->sgprs, 16);
    if (by_sgpr < per_simd) {
      per_simd = by_sgpr;
      simd_limit = OCC_LIMIT_SGPRS;
    }
  }
  int64_t wave_slots = per_simd * d->simds_per_cu;
  out->blocks_per_cu = waves_per_block > 1 ? d->max_blocks_per_cu : d->max_warps_per_cu;
  out->limit = OCC_LIMIT_BLOCKS;
  limit_by(out, wave_slots / waves_per_block, simd_limit);
  if (in->shared_bytes > 0)
    limit_by(out, d->lds_per_cu / round_up(in->shared_bytes, d->lds_alloc_granularity),
             OCC_LIMIT_SHARED);
  out->warps_per_cu = out->blocks_per_cu * waves_per_block;
}

void occ_compute(const struct dev_profile *dev, const struct occ_input *in,
                 struct occ_result *out)
{
  *out = (struct occ_result){0};
  if (in->threads < 1 || in->threads > dev->max_threads_per_block) {
    snprintf(out->why, sizeof out->why, "%d threads per block, outside 1..%d", in->threads,
             dev->max_threads_per_block);
    out->limit = OCC_LIMIT_TOO_BIG;
    return;
  }
  switch (dev->vendor) {
  case DEV_NVIDIA:
    nvidia(dev, in, out);
    break;
  case DEV_AMD:
    cdna(dev, in, out);
    break;
  case DEV_HOST:
    if (in->shared_bytes > dev->lds_per_block) {
      snprintf(out->why, sizeof out->why, "%lld bytes of shared memory, above the %lld "
               "per block", (long long)in->shared_bytes, (long long)dev->lds_per_block);
      out->limit = OCC_LIMIT_SHARED;
      return;
    }
    out->blocks_per_cu = 1;
    out->warps_per_cu = (in->threads + dev->warp_size - 1) / dev->warp_size;
    out->occupancy = 1.0;
    out->limit = OCC_LIMIT_NONE;
    return;
  }
  if (out->blocks_per_cu <= 0) {
    out->blocks_per_cu = 0;
    out->warps_per_cu = 0;
    if (!out->why[0])
      snprintf(out->why, sizeof out->why, "not one block fits: limited by %s",
               occ_limit_name(out->limit));
    return;
  }
  out->occupancy = (double)out->warps_per_cu / dev->max_warps_per_cu;
}
