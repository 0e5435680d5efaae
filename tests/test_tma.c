/*
 * test_tma.c - templates/common/at_tma.h, Hopper's bulk tensor copies (TMA) and mbarriers:
 * the tensor map's checks (cuTensorMapEncodeTiled's documented requirements), the pure
 * emulated load and store against this file's own reading of the swizzle (a 16-byte
 * chunk c of 128-byte row r of the pattern lands at chunk c ^ (r % 8) for 128B) and of
 * out-of-bounds fill; then tests/data/pl/tma_kernels.cu on the host device (cc_host,
 * meas_host, the SIMT emulator), tensor maps passed as kind 'm': a box loaded at edges and
 * negative coordinates with and without swizzle, a box stored with its out-of-bounds part
 * left alone, a two-stage producer/consumer ring over several phases; and each planted
 * protocol bug (a missing expect_tx, a wrong parity, a missing fence.mbarrier_init, a wait
 * on the wrong barrier, writers that do not fence before a bulk store, a store never
 * waited for, a stored box written again before its wait, a ring consumer with the wrong
 * parity, a producer that skips the empty barrier) failing, as a failed launch or a wrong
 * result. Clusters (tma_cluster.cu,
 * launched in clusters of 2 and 4): the ids of 2x1, 1x2 and 2x2 clusters, distributed
 * shared memory through mapa, a two-CTA multicast ring and its seven planted faults
 * (docs/tma.md, the host emulation, point 6), each failing. Last, nvcc's sm_90a PTX of the
 * same kernels holds the instructions and NVRTC + ptxas accept them. None ran on a GPU.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT_EMU_ONLY 1
#include "templates/common/at_tma.h"

#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tuner/compile/compile.h"
#include "tuner/measure/meas.h"
#include "base/status.h"

#define PL AT_SOURCE_DIR "/tests/data/pl"
static const char *const include_dirs[] = {AT_SOURCE_DIR "/templates/common", NULL};

/* The global matrix every test reads: H rows of W 16-bit elements, LD apart. */
enum { W = 100, H = 40, LD = 104 };

static unsigned short g_val(int r, int c) { return (unsigned short)(r * 131 + c + 1); }

static void fill(unsigned short *g)
{
  for (int r = 0; r < H; r++)
    for (int c = 0; c < LD; c++)
      g[r * LD + c] = c < W ? g_val(r, c) : 0xdead;
}

static void encode(at_tensormap *map, const void *base, unsigned bw, unsigned bh,
                   unsigned swizzle)
{
  const unsigned long long dims[2] = {W, H};
  const unsigned box[2] = {bw, bh};
  const char *why = at_tmap_host_encode(map, base, 2, dims, LD * 2, box, swizzle, 0);
  cr_assert_null(why, "%s", why);
}

/* ---- the map and the pure copies ---------------------------------------------------- */

Test(tma, tensor_map_checks_follow_the_encode_rules)
{
  const unsigned long long dims[2] = {W, H};
  const unsigned box[2] = {64, 16};
  cr_assert_null(at_tmap_check(4096, 2, dims, 208, box, AT_TMA_SWIZZLE_128B));
  /* each requirement broken once */
  cr_assert_not_null(at_tmap_check(4104, 2, dims, 208, box, 128), "unaligned base");
  cr_assert_not_null(at_tmap_check(4096, 3, dims, 208, box, 128), "element size 3");
  cr_assert_not_null(at_tmap_check(4096, 2, dims, 200, box, 128), "stride % 16");
  cr_assert_not_null(at_tmap_check(4096, 2, dims, 192, box, 128), "stride < row");
  const unsigned wide[2] = {128, 16}, big[2] = {64, 257}, odd[2] = {4, 16};
  cr_assert_not_null(at_tmap_check(4096, 2, dims, 208, wide, 128), "box wider than swizzle");
  cr_assert_null(at_tmap_check(4096, 2, dims, 208, wide, 0), "no swizzle: 256 bytes fine");
  cr_assert_not_null(at_tmap_check(4096, 2, dims, 208, big, 0), "box > 256");
  cr_assert_not_null(at_tmap_check(4096, 2, dims, 208, odd, 0), "inner box 8 bytes");
  cr_assert_not_null(at_tmap_check(4096, 2, dims, 208, box, 96), "swizzle 96");
  const unsigned long long zero[2] = {0, H};
  cr_assert_not_null(at_tmap_check(4096, 2, zero, 208, box, 0), "dim 0");
  cr_assert_eq(at_tmap_swizzle_enum(0), 0);
  cr_assert_eq(at_tmap_swizzle_enum(32), 1);
  cr_assert_eq(at_tmap_swizzle_enum(64), 2);
  cr_assert_eq(at_tmap_swizzle_enum(128), 3);
  /* a map that failed its checks is zero, and a copy through it fails */
  at_tensormap map;
  const unsigned short *g = (const unsigned short *)(uintptr_t)4104;
  cr_assert_not_null(at_tmap_host_encode(&map, g, 2, dims, 208, box, 128, 0));
  static unsigned char smem[4096];
  struct at_tmap_host h;
  memcpy(&h, &map, sizeof h);
  cr_assert_not_null(at_emu_tma_load_2d(&h, smem, sizeof smem, 0, 0, 0));
}

/* Where byte `off` of a box lies in shared memory, by this file's reading of the
 * swizzle: 16-byte chunk c of 128-byte row r moves to c ^ (r % 8) (128B), the low two
 * bits of r for 64B and the low bit for 32B, in the pattern of 8 rows of its span. */
static unsigned long doc_swizzle(unsigned long off, unsigned swizzle)
{
  if (swizzle == 0)
    return off;
  unsigned long row = off / 128, chunk = off % 128 / 16;
  unsigned long mask = swizzle == 128 ? 7 : swizzle == 64 ? 3 : 1;
  return row * 128 + ((chunk ^ (row & mask)) * 16) + off % 16;
}

Test(tma, pure_load_places_the_box_and_fills_outside)
{
  static unsigned short g[H * LD];
  static unsigned char smem[8192];
  fill(g);
  const unsigned swz[] = {0, 32, 64, 128};
  const int coords[][2] = {{0, 0}, {40, 8}, {64, 30}, {-8, -3}, {96, 39}};
  for (size_t si = 0; si < 4; si++)
    for (size_t ci = 0; ci < sizeof coords / sizeof coords[0]; ci++) {
      unsigned bw = swz[si] ? swz[si] / 2 : 64, bh = 16;
      at_tensormap map;
      encode(&map, g, bw, bh, swz[si]);
      struct at_tmap_host h;
      memcpy(&h, &map, sizeof h);
      memset(smem, 0xee, sizeof smem);
      int c0 = coords[ci][0], c1 = coords[ci][1];
      cr_assert_null(at_emu_tma_load_2d(&h, smem, sizeof smem, 1024, c0, c1));
      for (unsigned j = 0; j < bh; j++)
        for (unsigned i = 0; i < bw; i++) {
          int x = c0 + (int)i, y = c1 + (int)j;
          unsigned short want = x >= 0 && x < W && y >= 0 && y < H ? g_val(y, x) : 0, got;
          memcpy(&got, smem + doc_swizzle(1024 + 2 * (j * bw + i), swz[si]), 2);
          cr_assert_eq(got, want, "swizzle %u at (%d,%d): element (%u,%u) is %u, want %u",
                       swz[si], c0, c1, i, j, got, want);
        }
    }
  /* a swizzled box off its pattern, and one past shared memory, are refused */
  at_tensormap map;
  encode(&map, g, 64, 16, 128);
  struct at_tmap_host h;
  memcpy(&h, &map, sizeof h);
  cr_assert_not_null(at_emu_tma_load_2d(&h, smem, sizeof smem, 512, 0, 0));
  cr_assert_not_null(at_emu_tma_load_2d(&h, smem, sizeof smem, 7168, 0, 0));
}

/* ---- kernels on the host device ----------------------------------------------------- */

struct tile_run {
  int c0, c1, bw, bh, swizzle, mode;
};

/* tma_tile; AT_OK or the launch's status, out filled */
static int run_tile(struct th_hostk *k, unsigned short *g, unsigned short *out,
                    const struct tile_run *r)
{
  at_tensormap map;
  encode(&map, g, (unsigned)r->bw, (unsigned)r->bh, (unsigned)r->swizzle);
  int c0 = r->c0, c1 = r->c1, bw = r->bw, bh = r->bh, sw = r->swizzle, mode = r->mode;
  void *args[] = {&map, &out, &c0, &c1, &bw, &bh, &sw, &mode};
  memset(out, 0, (size_t)(bw * bh) * 2);
  return th_hostk_launch(k, "tma_tile", 1, 128, 1024 + (unsigned)(bw * bh * 2), "mpiiiiii",
                         args);
}

/* the elements of out that differ from the box of g at (c0, c1) */
static int tile_wrong(const unsigned short *out, const struct tile_run *r)
{
  int bad = 0;
  for (int j = 0; j < r->bh; j++)
    for (int i = 0; i < r->bw; i++) {
      int x = r->c0 + i, y = r->c1 + j;
      unsigned short want = x >= 0 && x < W && y >= 0 && y < H ? g_val(y, x) : 0;
      bad += out[j * r->bw + i] != want;
    }
  return bad;
}

static unsigned short *kbuf(struct th_hostk *k, size_t bytes)
{
  return th_hostk_buf(k, bytes);
}

Test(tma, host_kernel_loads_boxes, .timeout = 300)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/tma_kernels.cu", "host", include_dirs);
  unsigned short *g = kbuf(&k, H * LD * 2), *out = kbuf(&k, 64 * 16 * 2);
  fill(g);
  const struct tile_run runs[] = {
      {0, 0, 64, 16, 128, 0},  {64, 32, 64, 16, 128, 0}, {-16, -4, 64, 16, 128, 0},
      {8, 3, 64, 16, 0, 0},    {40, 24, 32, 16, 64, 0},  {90, 36, 16, 8, 32, 0},
  };
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    cr_assert_eq(run_tile(&k, g, out, &runs[i]), AT_OK, "run %zu: %s", i, at_last_error());
    cr_assert_eq(tile_wrong(out, &runs[i]), 0, "run %zu: %d elements wrong", i,
                 tile_wrong(out, &runs[i]));
  }
  th_hostk_close(&k);
}

/* Each planted bug of tma_tile: a wrong box where the protocol lets the consumers read
 * early (1, 2), a failed launch naming the fault where it cannot go on (3, 4). */
Test(tma, host_planted_load_bugs_fail, .timeout = 300)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/tma_kernels.cu", "host", include_dirs);
  unsigned short *g = kbuf(&k, H * LD * 2), *out = kbuf(&k, 64 * 16 * 2);
  fill(g);
  struct tile_run r = {8, 4, 64, 16, 128, 1};
  cr_assert_eq(run_tile(&k, g, out, &r), AT_OK, "%s", at_last_error());
  cr_assert_gt(tile_wrong(out, &r), 0, "a missing expect_tx went unnoticed");
  r.mode = 2;
  cr_assert_eq(run_tile(&k, g, out, &r), AT_OK, "%s", at_last_error());
  cr_assert_gt(tile_wrong(out, &r), 0, "a wrong parity went unnoticed");
  r.mode = 3;
  cr_assert_neq(run_tile(&k, g, out, &r), AT_OK, "a missing fence.mbarrier_init launched");
  cr_assert_not_null(strstr(at_last_error(), "fence.mbarrier_init"), "%s", at_last_error());
  r.mode = 4;
  cr_assert_neq(run_tile(&k, g, out, &r), AT_OK, "a wait on the wrong barrier launched");
  cr_assert_not_null(strstr(at_last_error(), "can never complete"), "%s", at_last_error());
  cr_assert_not_null(strstr(at_last_error(), "mbarrier at shared offset 8"), "%s",
                     at_last_error());
  /* the device still works */
  r.mode = 0;
  cr_assert_eq(run_tile(&k, g, out, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(tile_wrong(out, &r), 0);
  th_hostk_close(&k);
}

/* tma_store of a bw x bh box at (c0, c1) into g (filled first); the elements of g
 * that differ from what the store should leave. */
static int run_store(struct th_hostk *k, unsigned short *g, int c0, int c1, int bw, int bh,
                     int sw, int mode, int *bad)
{
  fill(g);
  at_tensormap map;
  encode(&map, g, (unsigned)bw, (unsigned)bh, (unsigned)sw);
  void *args[] = {&map, &c0, &c1, &bw, &bh, &sw, &mode};
  int rc = th_hostk_launch(k, "tma_store", 1, 128, 1024 + (unsigned)(bw * bh * 2), "miiiiii",
                           args);
  *bad = 0;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < LD; x++) {
      int i = x - c0, j = y - c1;
      unsigned short want = x >= W ? 0xdead
                            : i >= 0 && i < bw && j >= 0 && j < bh
                                ? (unsigned short)(1000 + j * bw + i)
                                : g_val(y, x);
      *bad += g[y * LD + x] != want;
    }
  return rc;
}

Test(tma, host_kernel_stores_boxes_and_planted_bugs_fail, .timeout = 300)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/tma_kernels.cu", "host", include_dirs);
  unsigned short *g = kbuf(&k, H * LD * 2);
  int bad;
  const int cases[][5] = {{0, 0, 64, 16, 128}, {60, 30, 64, 16, 128}, {-8, -2, 32, 8, 0},
                          {72, 35, 32, 8, 64}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const int *c = cases[i];
    cr_assert_eq(run_store(&k, g, c[0], c[1], c[2], c[3], c[4], 0, &bad), AT_OK, "%s",
                 at_last_error());
    cr_assert_eq(bad, 0, "store %zu: %d elements wrong", i, bad);
  }
  /* 5: only thread 0 fences: the async proxy misses the others' writes */
  cr_assert_eq(run_store(&k, g, 8, 8, 64, 16, 128, 5, &bad), AT_OK, "%s", at_last_error());
  cr_assert_gt(bad, 0, "writers that did not fence went unnoticed");
  /* 6: no wait_group: the store never lands */
  cr_assert_eq(run_store(&k, g, 8, 8, 64, 16, 128, 6, &bad), AT_OK, "%s", at_last_error());
  cr_assert_gt(bad, 0, "a store never waited for went unnoticed");
  /* 9: the box written again before the store's wait: the store reads it at the wait */
  cr_assert_eq(run_store(&k, g, 8, 8, 64, 16, 128, 9, &bad), AT_OK, "%s", at_last_error());
  cr_assert_eq(bad, 64 * 16, "a box reused before its store's wait went unnoticed");
  th_hostk_close(&k);
}

/* tma_ring over `tiles` tiles of 64 x 8 at rows 8t; out[c] against the sums. */
static int run_ring(struct th_hostk *k, unsigned short *g, float *out, int tiles, int mode,
                    int *bad)
{
  at_tensormap map;
  int bw = 64, bh = 8;
  encode(&map, g, (unsigned)bw, (unsigned)bh, 0);
  void *args[] = {&map, &out, &bw, &bh, &tiles, &mode};
  memset(out, 0, 128 * sizeof *out);
  int rc = th_hostk_launch(k, "tma_ring", 1, 160, 1024 + 2 * (unsigned)(bw * bh * 2),
                           "mpiiii", args);
  *bad = 0;
  for (int c = 0; c < 128; c++) {
    double want = 0;
    for (int t = 0; t < tiles; t++)
      for (int e = c; e < bw * bh; e += 128) {
        int x = e % bw, y = t * bh + e / bw;
        want += y < H ? g_val(y, x) : 0;
      }
    *bad += out[c] != (float)want;
  }
  return rc;
}

Test(tma, host_ring_over_many_phases_and_planted_bugs_fail, .timeout = 300)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/tma_kernels.cu", "host", include_dirs);
  unsigned short *g = kbuf(&k, H * LD * 2);
  float *out = (float *)th_hostk_buf(&k, 128 * sizeof(float));
  fill(g);
  int bad;
  for (int tiles = 1; tiles <= 6; tiles++) { /* the last tile runs past H: zero fill */
    cr_assert_eq(run_ring(&k, g, out, tiles, 0, &bad), AT_OK, "%d tiles: %s", tiles,
                 at_last_error());
    cr_assert_eq(bad, 0, "%d tiles: %d sums wrong", tiles, bad);
  }
  /* the same grid launched again and again on the same worker: every block starts with
   * an empty mbarrier table (4 barriers a launch, AT_TMA_HOST_BARRIERS 64) */
  for (int again = 0; again < 20; again++) {
    cr_assert_eq(run_ring(&k, g, out, 2, 0, &bad), AT_OK, "launch %d: %s", again,
                 at_last_error());
    cr_assert_eq(bad, 0);
  }
  /* 7: consumers with the wrong parity read stages before they are filled */
  int rc = run_ring(&k, g, out, 5, 7, &bad);
  cr_assert(rc != AT_OK || bad > 0, "a ring consumer with the wrong parity went unnoticed");
  cr_log_info("ring mode 7: %s", rc != AT_OK ? at_last_error() : "wrong sums");
  /* 8: the producer refills stages it was not given back */
  rc = run_ring(&k, g, out, 5, 8, &bad);
  cr_assert_neq(rc, AT_OK, "a producer that skips the empty barrier launched");
  cr_assert_not_null(strstr(at_last_error(), "more arrivals"), "%s", at_last_error());
  th_hostk_close(&k);
}

/* The cluster instructions in a launch without clusters (a cluster of one CTA). */
Test(tma, host_cluster_of_one, .timeout = 300)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/tma_kernels.cu", "host", include_dirs);
  unsigned short *g = kbuf(&k, H * LD * 2), *out = kbuf(&k, 64 * 16 * 2);
  int *info = (int *)th_hostk_buf(&k, 2 * sizeof(int));
  fill(g);
  info[0] = info[1] = -1;
  at_tensormap map;
  encode(&map, g, 64, 16, 128);
  int bw = 64, bh = 16;
  void *args[] = {&map, &out, &info, &bw, &bh};
  cr_assert_eq(th_hostk_launch(&k, "tma_cluster", 1, 128, 1024 + 64 * 16 * 2, "mppii", args),
               AT_OK, "%s", at_last_error());
  struct tile_run r = {0, 0, 64, 16, 128, 0};
  cr_assert_eq(tile_wrong(out, &r), 0);
  cr_assert_eq(info[0], 0);
  cr_assert_eq(info[1], 1);
  th_hostk_close(&k);
}

/* ---- clusters (tests/data/pl/tma_cluster.cu) ----------------------------------------- */

/* The ids of every CTA of grids of clusters 2x1, 1x2 and 2x2. */
Test(tma, host_cluster_ids, .timeout = 300)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/tma_cluster.cu", "host", include_dirs);
  int *info = (int *)th_hostk_buf(&k, 16 * 10 * sizeof(int));
  const unsigned shapes[][4] = {{4, 2, 2, 1}, {2, 4, 1, 2}, {4, 4, 2, 2}};
  for (size_t i = 0; i < 3; i++) {
    const unsigned grid[3] = {shapes[i][0], shapes[i][1], 1};
    const unsigned cl[3] = {shapes[i][2], shapes[i][3], 1};
    memset(info, 0, 16 * 10 * sizeof(int));
    void *args[] = {&info};
    cr_assert_eq(th_hostk_launch_cluster(&k, "cl_ids", grid, cl, 64, 0, "p", args), AT_OK,
                 "shape %zu: %s", i, at_last_error());
    for (unsigned by = 0; by < grid[1]; by++)
      for (unsigned bx = 0; bx < grid[0]; bx++) {
        const int *o = info + 10 * (bx + grid[0] * by);
        unsigned cx = bx % cl[0], cy = by % cl[1];
        cr_assert_eq(o[0], (int)(cx + cl[0] * cy), "shape %zu block %u,%u: rank", i, bx, by);
        cr_assert_eq(o[1], (int)(cl[0] * cl[1]));
        cr_assert_eq(o[2], (int)cx);
        cr_assert_eq(o[3], (int)cy);
        cr_assert_eq(o[4], (int)cl[0]);
        cr_assert_eq(o[5], (int)cl[1]);
        cr_assert_eq(o[6], (int)bx);
        cr_assert_eq(o[7], (int)by, "shape %zu block %u,%u: blockIdx.y or the rank check",
                     i, bx, by);
        cr_assert_eq(o[8], (int)(bx / cl[0]), "clusterid.x");
        cr_assert_eq(o[9], (int)(by / cl[1]), "clusterid.y");
      }
  }
  /* a grid that is not a multiple of the cluster is refused */
  const unsigned grid[3] = {3, 1, 1}, cl[3] = {2, 1, 1};
  void *args[] = {&info};
  cr_assert_eq(th_hostk_launch_cluster(&k, "cl_ids", grid, cl, 64, 0, "p", args), AT_USAGE);
  cr_assert_not_null(strstr(at_last_error(), "multiple of the cluster"), "%s",
                     at_last_error());
  th_hostk_close(&k);
}

/* Distributed shared memory through mapa; a missing cluster barrier before the exit and a
 * double arrive fail. */
Test(tma, host_cluster_dsmem, .timeout = 300)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/tma_cluster.cu", "host", include_dirs);
  int *out = (int *)th_hostk_buf(&k, 8 * 256 * sizeof(int));
  for (unsigned n = 2; n <= 4; n += 2) {
    const unsigned grid[3] = {8, 1, 1}, cl[3] = {n, 1, 1};
    int mode = 0;
    void *args[] = {&out, &mode};
    cr_assert_eq(th_hostk_launch_cluster(&k, "cl_dsmem", grid, cl, 96, 1024, "pi", args),
                 AT_OK, "cluster %u: %s", n, at_last_error());
    for (unsigned b = 0; b < 8; b++)
      for (unsigned i = 0; i < 256; i++)
        cr_assert_eq(out[256 * b + i], (int)(1000 * ((b % n + 1) % n) + i),
                     "cluster %u, block %u, word %u", n, b, i);
  }
  const unsigned grid[3] = {4, 1, 1}, cl[3] = {2, 1, 1};
  int mode = 1;
  void *args[] = {&out, &mode};
  cr_assert_neq(th_hostk_launch_cluster(&k, "cl_dsmem", grid, cl, 96, 1024, "pi", args),
                AT_OK, "an exit without a cluster barrier went unnoticed");
  cr_log_info("dsmem mode 1: %s", at_last_error());
  cr_assert(strstr(at_last_error(), "no barrier.cluster before") != NULL, "%s",
            at_last_error());
  mode = 2;
  cr_assert_neq(th_hostk_launch_cluster(&k, "cl_dsmem", grid, cl, 96, 1024, "pi", args),
                AT_OK, "a double cluster arrive went unnoticed");
  cr_assert_not_null(strstr(at_last_error(), "arrive twice"), "%s", at_last_error());
  th_hostk_close(&k);
}

/* cl_mcast_ring on `clusters` clusters of 2 over `tiles` tiles of 64 x 8 (half boxes of
 * 64 x 4 multicast); out[128 r + c] of every CTA against the sums. */
static int run_mcast(struct th_hostk *k, unsigned short *g, float *out, int tiles, int mode,
                     int *bad)
{
  at_tensormap map;
  int bw = 64, bh = 8;
  encode(&map, g, (unsigned)bw, (unsigned)bh / 2, 0);
  void *args[] = {&map, &out, &bw, &bh, &tiles, &mode};
  memset(out, 0, 256 * sizeof *out);
  const unsigned grid[3] = {2, 1, 1}, cl[3] = {2, 1, 1};
  int rc = th_hostk_launch_cluster(k, "cl_mcast_ring", grid, cl, 160,
                                   1024 + 2 * (unsigned)(bw * bh * 2), "mpiiii", args);
  *bad = 0;
  for (int c = 0; c < 256; c++) {
    double want = 0;
    for (int t = 0; t < tiles; t++)
      for (int e = c % 128; e < bw * bh; e += 128) {
        int x = e % bw, y = t * bh + e / bw;
        want += y < H ? g_val(y, x) : 0;
      }
    *bad += out[c] != (float)want;
  }
  return rc;
}

Test(tma, host_multicast_ring_and_planted_bugs_fail, .timeout = 300)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/tma_cluster.cu", "host", include_dirs);
  unsigned short *g = kbuf(&k, H * LD * 2);
  float *out = (float *)th_hostk_buf(&k, 256 * sizeof(float));
  fill(g);
  int bad;
  for (int tiles = 1; tiles <= 6; tiles++) { /* the last tile runs past H: zero fill */
    cr_assert_eq(run_mcast(&k, g, out, tiles, 0, &bad), AT_OK, "%d tiles: %s", tiles,
                 at_last_error());
    cr_assert_eq(bad, 0, "%d tiles: %d sums wrong", tiles, bad);
  }
  /* each fault: a failed launch whose message contains `says`, or (NULL) wrong sums or a
   * failed launch */
  static const struct {
    int mode;
    const char *says;
  } faults[] = {
      {1, NULL},
      {2, NULL},
      {3, "can never complete"},
      {4, "no barrier.cluster completed since its mbarrier.init"},
      {5, "no barrier.cluster before the exit"},
      {6, "can never complete"},
      {7, "outside the cluster"},
  };
  for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
    int rc = run_mcast(&k, g, out, 5, faults[i].mode, &bad);
    cr_log_info("multicast ring mode %d: %s (%d sums wrong)", faults[i].mode,
                rc != AT_OK ? at_last_error() : "launched", bad);
    if (faults[i].says) {
      cr_assert_neq(rc, AT_OK, "mode %d launched", faults[i].mode);
      cr_assert_not_null(strstr(at_last_error(), faults[i].says), "mode %d: %s",
                         faults[i].mode, at_last_error());
    } else {
      cr_assert(rc != AT_OK || bad > 0, "mode %d went unnoticed", faults[i].mode);
    }
  }
  /* the device still works */
  cr_assert_eq(run_mcast(&k, g, out, 5, 0, &bad), AT_OK, "%s", at_last_error());
  cr_assert_eq(bad, 0);
  th_hostk_close(&k);
}

/* Named barriers (bar.sync / bar.arrive): one that fills completes; one whose arrivals
 * never come is a deadlock whose report describes the barrier as it stands. */
Test(tma, host_named_barrier_deadlock_is_described, .timeout = 120)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/tma_kernels.cu", "host", include_dirs);
  int *out = th_hostk_buf(&k, 256 * sizeof(int));
  int mode = 0;
  void *args[] = {&out, &mode};
  cr_assert_eq(th_hostk_launch(&k, "named_bars", 1, 256, 0, "pi", args), AT_OK, "%s",
               at_last_error());
  for (int t = 0; t < 256; t++)
    cr_assert_eq(out[t], t + 1, "thread %d", t);
  mode = 1;
  cr_assert_neq(th_hostk_launch(&k, "named_bars", 1, 256, 0, "pi", args), AT_OK,
                "a named barrier that never fills launched");
  cr_assert_not_null(strstr(at_last_error(), "can never complete"), "%s", at_last_error());
  cr_assert_not_null(strstr(at_last_error(), "bar.sync 1, 256: 128 of 256 threads arrived"),
                     "%s", at_last_error());
  th_hostk_close(&k);
}

/* ---- CUDA ----------------------------------------------------------------------------- */

Test(tma, sm90a_ptx_holds_the_instructions, .timeout = 300)
{
  static const char *const want[] = {
      "mbarrier.init.shared::cta.b64",
      "fence.mbarrier_init.release.cluster",
      "mbarrier.arrive.expect_tx.shared::cta.b64",
      "mbarrier.arrive.shared::cta.b64",
      "mbarrier.try_wait.parity.shared::cta.b64",
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes",
      "cp.async.bulk.tensor.2d.global.shared::cta.bulk_group",
      "cp.async.bulk.commit_group",
      "cp.async.bulk.wait_group.read 0",
      "fence.proxy.async.shared::cta",
      ".param .align 64 .b8 tma_tile_param_0[128]",
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
      ".multicast::cluster",
      "barrier.cluster.arrive.release.aligned",
      "barrier.cluster.wait.acquire.aligned",
      "mapa.shared::cluster.u32",
      "mbarrier.arrive.release.cluster.shared::cluster.b64",
      "%cluster_ctarank",
      "%cluster_nctarank",
      "prefetch.tensormap",
  };
  th_assert_ptx_has("tma_kernels.cu", "sm_90a", want, sizeof want / sizeof want[0]);
}

Test(tma, sm90a_ptx_holds_the_cluster_instructions, .timeout = 300)
{
  static const char *const want[] = {
      "mapa.u64",
      "mapa.shared::cluster.u32",
      "%cluster_ctaid.x",
      "%cluster_ctaid.y",
      "%cluster_nctaid.x",
      "%cluster_nctarank",
      "%clusterid.x",
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
      ".multicast::cluster",
      "mbarrier.arrive.release.cluster.shared::cluster.b64",
      "barrier.cluster.arrive.release.aligned",
  };
  th_assert_ptx_has("tma_cluster.cu", "sm_90a", want, sizeof want / sizeof want[0]);
}

/* NVRTC compiles for sm_90 (TMA needs no "a") and ptxas assembles it. */
Test(tma, nvrtc_sm90_assembles_the_kernels, .timeout = 300)
{
  th_need_cc(&cc_nvrtc);
  char *src = th_read_pl("tma_kernels.cu");
  struct cc_request req = {.source = src, .name = "tma_kernels.cu", .arch = "sm_90",
                           .include_dirs = include_dirs};
  struct cc_result r;
  cr_assert_eq(cc_nvrtc.compile(&req, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.status, CC_OK, "sm_90:\n%s", r.log);
  const char *names[] = {"tma_tile", "tma_store", "tma_ring", "tma_cluster"};
  for (size_t i = 0; i < 4; i++) {
    const struct cc_kernel_res *kr = cc_result_kernel(&r, names[i]);
    cr_assert_not_null(kr, "no %s", names[i]);
    cr_assert_eq(kr->spill_bytes, 0, "%s spills", names[i]);
  }
  cc_result_release(&r);
  free(src);
  src = th_read_pl("tma_cluster.cu");
  req.source = src, req.name = "tma_cluster.cu";
  cr_assert_eq(cc_nvrtc.compile(&req, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.status, CC_OK, "sm_90:\n%s", r.log);
  const char *cl_names[] = {"cl_ids", "cl_dsmem", "cl_mcast_ring"};
  for (size_t i = 0; i < 3; i++) {
    const struct cc_kernel_res *kr = cc_result_kernel(&r, cl_names[i]);
    cr_assert_not_null(kr, "no %s", cl_names[i]);
    cr_assert_eq(kr->spill_bytes, 0, "%s spills", cl_names[i]);
  }
  cc_result_release(&r);
  free(src);
}

/* ---- the CUDA driver's encode call, checked against cuda.h without a driver ---------- */

#ifdef AT_HAVE_CUDA
#include <cuda.h>

Test(tma, cuda_encode_arguments_follow_cuda_h)
{
  struct meas_tmap t = {.base = 0x7f0000001000ull, .elem_bytes = 2, .rows = 300, .cols = 200,
                        .ld = 264, .box = {64, 128}, .swizzle = 128};
  struct meas_cu_tmap_args a;
  cr_assert_eq(meas_cu_tmap_args(&t, &a), AT_OK, "%s", at_last_error());
  cr_assert_eq(a.dtype, CU_TENSOR_MAP_DATA_TYPE_UINT16);
  cr_assert_eq(a.rank, 2);
  cr_assert_eq(a.dims[0], 200, "globalDim[0] is the contiguous dimension");
  cr_assert_eq(a.dims[1], 300);
  cr_assert_eq(a.strides[0], 528, "globalStrides[0]: bytes between rows");
  cr_assert_eq(a.box[0], 64);
  cr_assert_eq(a.box[1], 128);
  cr_assert_eq(a.elem_strides[0], 1);
  cr_assert_eq(a.elem_strides[1], 1);
  cr_assert_eq(a.interleave, CU_TENSOR_MAP_INTERLEAVE_NONE);
  cr_assert_eq(a.swizzle, CU_TENSOR_MAP_SWIZZLE_128B);
  cr_assert_eq(a.l2_promotion, CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
  cr_assert_eq(a.oob_fill, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  t.swizzle = 64, t.box[0] = 32;
  cr_assert_eq(meas_cu_tmap_args(&t, &a), AT_OK);
  cr_assert_eq(a.swizzle, CU_TENSOR_MAP_SWIZZLE_64B);
  t.elem_bytes = 4, t.swizzle = 32, t.box[0] = 8;
  cr_assert_eq(meas_cu_tmap_args(&t, &a), AT_OK);
  cr_assert_eq(a.dtype, CU_TENSOR_MAP_DATA_TYPE_UINT32);
  cr_assert_eq(a.swizzle, CU_TENSOR_MAP_SWIZZLE_32B);
  /* what the driver would refuse is refused first, naming the rule */
  t.elem_bytes = 2, t.swizzle = 128, t.box[0] = 64, t.ld = 260;
  cr_assert_eq(meas_cu_tmap_args(&t, &a), AT_USAGE);
  cr_assert_not_null(strstr(at_last_error(), "multiple of 16"), "%s", at_last_error());
  t.ld = 264, t.base += 8;
  cr_assert_eq(meas_cu_tmap_args(&t, &a), AT_USAGE);
  cr_assert_not_null(strstr(at_last_error(), "16-byte aligned"), "%s", at_last_error());
  /* the map is CUtensorMap's size */
  cr_assert_eq(sizeof(CUtensorMap), MEAS_TMAP_BYTES);
  cr_assert_eq(sizeof(at_tensormap), MEAS_TMAP_BYTES);
}
#endif

/* Backends without tensor maps say so. */
Test(tma, hip_backend_has_no_tensor_maps)
{
  struct meas_tmap t = {.base = 4096, .elem_bytes = 2, .rows = 8, .cols = 64, .ld = 64,
                        .box = {64, 8}, .swizzle = 128};
  unsigned char map[MEAS_TMAP_BYTES];
  int rc = meas_tmap_encode(&meas_hip, (struct meas_ctx *)(void *)map, &t, map);
  cr_assert_eq(rc, AT_UNSUPPORTED);
  cr_assert_not_null(strstr(at_last_error(), "hip backend has no tensor maps"), "%s",
                     at_last_error());
}
