/*
 * test_occupancy.c - occupancy against independent references: NVIDIA's own calculator
 * (cuda_occupancy.h, built from tests/data/occ_reference.cpp at test time) over a grid
 * of block sizes, register counts and shared memory sizes on h100, a100 and l40s; and
 * CDNA cases worked by hand from LLVM's AMDGPU rules.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/helpers.h"
#include "base/device.h"
#include "tuner/device/occupancy.h"

static const char *cuda_include(void)
{
  static char path[512];
  const char *root = getenv("CUDA_PATH");
  snprintf(path, sizeof path, "%s/include", root && root[0] ? root : "/usr/local/cuda");
  char header[600];
  snprintf(header, sizeof header, "%s/cuda_occupancy.h", path);
  return access(header, R_OK) == 0 ? path : NULL;
}

Test(occupancy, nvidia_matches_cuda_occupancy_h, .timeout = 120)
{
  const char *inc = cuda_include();
  if (!inc)
    cr_skip_test("cuda_occupancy.h not found (no CUDA Toolkit): no independent reference");
  char *dir = th_tmpdir();
  struct th_result r;
  th_sh(&r, "g++ -std=c++17 -O1 -I'%s' '%s/tests/data/occ_reference.cpp' -o '%s/occref'",
        inc, AT_SOURCE_DIR, dir);
  cr_assert_eq(r.code, 0, "building the reference: %s", r.err);
  th_result_free(&r);

  static const char *const devices[] = {"h100", "a100", "l40s"};
  static const int threads[] = {32, 64, 96, 128, 160, 192, 256, 384, 512, 640, 768, 1024};
  static const int regs[] = {16, 24, 32, 40, 48, 64, 72, 80, 96, 128, 168, 200, 232, 255};
  static const int64_t smem[] = {0, 1000, 8192, 16384, 40000, 49152, 65536, 100000, 163840,
                                 232448};
  char *in_path = th_path(dir, "cases.txt");
  FILE *in = fopen(in_path, "w");
  cr_assert_not_null(in);
  int n = 0;
  for (size_t d = 0; d < 3; d++) {
    const struct dev_profile *p = dev_find(devices[d]);
    cr_assert_not_null(p);
    int major = p->arch[3] - '0', minor = p->arch[4] - '0';
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++)
      for (size_t g = 0; g < sizeof regs / sizeof *regs; g++)
        for (size_t s = 0; s < sizeof smem / sizeof *smem; s++, n++)
          fprintf(in, "%d %d %d %lld %lld %d %d %d %lld\n", major, minor, p->compute_units,
                  (long long)p->lds_per_cu, (long long)p->lds_per_block,
                  p->max_warps_per_cu * 32, threads[t], regs[g], (long long)smem[s]);
  }
  fclose(in);
  th_sh(&r, "'%s/occref' < '%s'", dir, in_path);
  cr_assert_eq(r.code, 0, "%s", r.err);
  char *line = r.out;
  int checked = 0, mismatches = 0;
  for (size_t d = 0; d < 3; d++) {
    const struct dev_profile *p = dev_find(devices[d]);
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++)
      for (size_t g = 0; g < sizeof regs / sizeof *regs; g++)
        for (size_t s = 0; s < sizeof smem / sizeof *smem; s++) {
          int want = (int)strtol(line, &line, 10);
          struct occ_input oi = {.threads = threads[t], .registers = regs[g],
                                 .shared_bytes = smem[s]};
          struct occ_result o;
          occ_compute(p, &oi, &o);
          int expect = want < 0 ? 0 : want;
          if (o.blocks_per_cu != expect && mismatches++ < 5)
            cr_log_error("%s threads %d regs %d smem %lld: ours %d, cuda_occupancy.h %d",
                         p->name, threads[t], regs[g], (long long)smem[s], o.blocks_per_cu,
                         want);
          checked++;
        }
  }
  cr_assert_eq(checked, n);
  cr_assert_eq(mismatches, 0, "%d of %d cases differ from cuda_occupancy.h", mismatches, n);
  th_result_free(&r);
  th_rmtree(dir);
  free(in_path);
  free(dir);
}

static struct occ_result cdna(const char *dev, int threads, int vgpr, int agpr, int sgpr,
                              int64_t lds)
{
  struct occ_input in = {.threads = threads, .registers = vgpr, .agprs = agpr,
                         .sgprs = sgpr, .shared_bytes = lds};
  struct occ_result o;
  occ_compute(dev_find(dev), &in, &o);
  return o;
}

Test(occupancy, cdna_rules_by_hand)
{
  /* 256 threads = 4 waves; 128 VGPRs -> 512/128 = 4 waves per SIMD -> 16 slots -> 4 WGs. */
  struct occ_result o = cdna("mi300x", 256, 128, 0, 32, 0);
  cr_assert_eq(o.blocks_per_cu, 4);
  cr_assert_eq(o.warps_per_cu, 16);
  cr_assert_float_eq(o.occupancy, 0.5, 1e-12);
  cr_assert_eq(o.limit, OCC_LIMIT_REGISTERS);
  /* VGPR 90 -> align4 92, + AGPR 64 = 156 -> align8 160 -> 512/160 = 3 per SIMD. */
  o = cdna("mi300x", 256, 90, 64, 32, 0);
  cr_assert_eq(o.blocks_per_cu, 3);
  /* Few registers: 8 waves per SIMD, 32 slots; 256-thread WGs: 8 by waves, LDS 32 KiB -> 2. */
  o = cdna("mi250x", 256, 32, 0, 32, 32768);
  cr_assert_eq(o.blocks_per_cu, 2);
  cr_assert_eq(o.limit, OCC_LIMIT_SHARED);
  /* LDS rounds up to 512-byte granules: 21000 -> 21504; 65536 / 21504 = 3. */
  o = cdna("mi300x", 64, 16, 0, 16, 21000);
  cr_assert_eq(o.blocks_per_cu, 3);
  /* One-wave workgroups are bounded by wave slots (32), not the 16-workgroup limit. */
  o = cdna("mi300x", 64, 16, 0, 16, 0);
  cr_assert_eq(o.blocks_per_cu, 32);
  o = cdna("mi300x", 128, 16, 0, 16, 0);
  cr_assert_eq(o.blocks_per_cu, 16);
  cr_assert_eq(o.limit, OCC_LIMIT_BLOCKS);
  /* 100 SGPRs -> 112 -> 800/112 = 7 per SIMD. */
  o = cdna("mi300x", 64, 16, 0, 100, 0);
  cr_assert_eq(o.blocks_per_cu, 28);
  cr_assert_eq(o.limit, OCC_LIMIT_SGPRS);
  /* 512 VGPRs per lane: 256 + 256 fits one wave per SIMD; 1024 threads = 16 waves: no. */
  o = cdna("mi300x", 256, 256, 256, 32, 0);
  cr_assert_eq(o.blocks_per_cu, 1);
  o = cdna("mi300x", 1024, 256, 256, 32, 0);
  cr_assert_eq(o.blocks_per_cu, 0);
  cr_assert(strstr(o.why, "registers"), "%s", o.why);
}

Test(occupancy, what_cannot_run_says_why)
{
  struct occ_result o = cdna("mi300x", 256, 32, 0, 32, 70000);
  cr_assert_eq(o.blocks_per_cu, 0);
  cr_assert(strstr(o.why, "70000 bytes of LDS"), "%s", o.why);
  struct occ_input in = {.threads = 2048, .registers = 32};
  occ_compute(dev_find("h100"), &in, &o);
  cr_assert_eq(o.blocks_per_cu, 0);
  cr_assert(strstr(o.why, "2048 threads"), "%s", o.why);
  in = (struct occ_input){.threads = 128, .registers = 300};
  occ_compute(dev_find("a100"), &in, &o);
  cr_assert_eq(o.blocks_per_cu, 0);
  in = (struct occ_input){.threads = 128, .registers = 32, .shared_bytes = 1 << 20};
  occ_compute(dev_find("host"), &in, &o);
  cr_assert_eq(o.blocks_per_cu, 0);
  in = (struct occ_input){.threads = 128, .registers = 32};
  occ_compute(dev_find("host"), &in, &o);
  cr_assert_eq(o.blocks_per_cu, 1);
  cr_assert_eq(o.limit, OCC_LIMIT_NONE);
}
