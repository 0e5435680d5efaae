/*
 * test_wgmma.c - templates/common/at_wgmma.h, Hopper's wgmma.mma_async m64nNk16 (f32
 * accumulation, f16/bf16, A and B K-major in shared memory): the descriptor's bit
 * fields; the pure emulation (at_emu_wgmma_*) against plain arithmetic for every
 * thread's D fragment, with A and B placed in a shared-memory image by this file's own
 * reading of the PTX ISA's canonical layouts (9.7.15.5.1.2.1.3, written in the document's
 * CuTe form here, while the header computes offsets directly) for no swizzle (core
 * matrices adjacent along K and along M/N) and the 128-, 64- and 32-byte swizzles, K
 * slices of a 64-wide tile included, and a D fragment map written from Figure 149 as a
 * table per 8-column block; a wrong LBO, SBO or swizzle mode must give a wrong D.
 * tests/data/pl/wgmma_kernels.cu then runs on the host device (cc_host, meas_host, the
 * SIMT emulator) with one and two warpgroups: full 64xN products for N = 64, 128, 256,
 * the pending queue (nothing lands before wgmma.wait_group; wait_group 1 leaves the
 * newest group pending; shared memory overwritten before the wait changes the result),
 * and launches the emulation refuses. Last, NVRTC compiles the same source for sm_90a
 * (wgmma used, no spills) and for sm_90 (no wgmma: the fallback), ptxas refuses the
 * instructions for sm_90, and nvcc's sm_90a PTX holds them. Nothing here runs on a GPU.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT_EMU_ONLY 1
#include "templates/common/at_wgmma.h"

#include "tests/helpers.h"
#include "tuner/compile.h"
#include "tuner/meas.h"
#include "tuner/status.h"

#define COMMON AT_SOURCE_DIR "/templates/common"
#define PL AT_SOURCE_DIR "/tests/data/pl"

static unsigned short bits_of(int kind, float v)
{
  return kind == AT_EMU_F16 ? at_float_to_half_bits_sw(v) : at_float_to_bfloat16_bits_sw(v);
}

/* ---- the layouts as the document states them --------------------------------------- */

/* Byte offset of element (row, k) in a K-major canonical layout of 16-bit elements
 * (T = 8): 9.7.15.5.1.2.1.3 gives, in elements,
 *   no swizzle:    ((8,m),(T,2k)) : ((1T,SBO),(1,LBO))
 *   32/64/128B:    ((8,m),(T,2k)) : ((sT,SBO),(1,T)), s = 2, 4, 8, then Swizzle<b,4,3>
 * for rows (8,m) and columns (T,2k), with LBO and SBO given in bytes in the descriptor.
 * CuTe's Swizzle<B,M,S> maps an offset o to o ^ ((o & (2^B - 1) << (M + S)) >> S). */
static unsigned doc_offset(int swizzle, int row, int k, unsigned lbo, unsigned sbo)
{
  int r0 = row % 8, r1 = row / 8, k0 = k % 8, k1 = k / 8;
  if (swizzle == AT_WGMMA_SWIZZLE_NONE)
    return (unsigned)(2 * (r0 * 8 + k0)) + (unsigned)r1 * sbo + (unsigned)k1 * lbo;
  int s = swizzle == AT_WGMMA_SWIZZLE_128B ? 8 : swizzle == AT_WGMMA_SWIZZLE_64B ? 4 : 2;
  int b = swizzle == AT_WGMMA_SWIZZLE_128B ? 3 : swizzle == AT_WGMMA_SWIZZLE_64B ? 2 : 1;
  unsigned o = (unsigned)(2 * (r0 * s * 8 + k0 + k1 * 8)) + (unsigned)r1 * sbo;
  unsigned yyy = ((1u << b) - 1u) << (4 + 3);
  return o ^ ((o & yyy) >> 3);
}

/* Figure 149, read as a table: warp w of the warpgroup holds rows 16w..16w+15; within
 * each block of 8 columns (registers 4j..4j+3) a lane holds what it holds in the m16n8
 * accumulator of mma.sync: c0, c1 at row groupID, columns 2*tig and 2*tig+1; c2, c3 the
 * same columns at row groupID + 8. */
static void doc_d(int thread, int reg, int *row, int *col)
{
  int warp = thread / 32, lane = thread % 32, group = lane >> 2, tig = lane & 3;
  int block = reg / 4, c = reg % 4;
  *row = 16 * warp + (c < 2 ? group : group + 8);
  *col = 8 * block + tig * 2 + (c & 1);
}

/* ---- pure emulation ---------------------------------------------------------------- */

enum { IMAGE = 96 * 1024, A_AT = 0, B_AT = 32 * 1024 };
static unsigned char image[IMAGE];
static float want[64 * 256], d[128 * 128], c0[128 * 128];

struct layout {
  const char *name;
  int swizzle;
  unsigned lbo_a, sbo_a, lbo_b, sbo_b; /* as the descriptors say them */
};

/* A (64 x kw) and B (n x kw), K-major, into the image at A_AT and B_AT. */
static void place(int kind, const struct layout *l, int n, int kw, const float *a,
                  const float *b)
{
  memset(image, 0xee, sizeof image);
  for (int r = 0; r < 64; r++)
    for (int k = 0; k < kw; k++) {
      unsigned short v = bits_of(kind, a[r * kw + k]);
      memcpy(image + A_AT + doc_offset(l->swizzle, r, k, l->lbo_a, l->sbo_a), &v, 2);
    }
  for (int r = 0; r < n; r++)
    for (int k = 0; k < kw; k++) {
      unsigned short v = bits_of(kind, b[r * kw + k]);
      memcpy(image + B_AT + doc_offset(l->swizzle, r, k, l->lbo_b, l->sbo_b), &v, 2);
    }
}

static float a_val(int r, int k) { return (float)((r * 16 + k * 5) % 17 - 8); }
static float b_val(int r, int k) { return (float)((r * 3 + k * 7) % 13 - 6); }

/* D by the emulation for every thread against want (64 x n) + (scale_d ? c0 : 0);
 * returns the number of differing registers (reporting the first few when `report`). */
static int compare(int kind, int n, unsigned long long da, unsigned long long db,
                   int scale_d, int report, const char *what)
{
  for (int i = 0; i < 128 * n / 2; i++)
    d[i] = c0[i];
  const char *why = at_emu_wgmma_m64nNk16(kind, n, image, IMAGE, da, db, scale_d, d);
  cr_assert_null(why, "%s: %s", what, why);
  int bad = 0;
  for (int t = 0; t < 128; t++)
    for (int i = 0; i < n / 2; i++) {
      int r, c;
      doc_d(t, i, &r, &c);
      float w = want[r * n + c] + (scale_d ? c0[t * (n / 2) + i] : 0.0f);
      if (d[t * (n / 2) + i] != w && bad++ < 4 && report)
        cr_log_info("%s: thread %d d%d (D[%d][%d]) = %g, want %g", what, t, i, r, c,
                    (double)d[t * (n / 2) + i], (double)w);
    }
  return bad;
}

/* want = A[:, k0..k0+15] * B[:, k0..k0+15]^T for A 64 x kw, B n x kw. */
static void reference(int n, int kw, int k0, const float *a, const float *b)
{
  for (int r = 0; r < 64; r++)
    for (int c = 0; c < n; c++) {
      double s = 0;
      for (int k = k0; k < k0 + 16; k++)
        s += (double)a[r * kw + k] * b[c * kw + k];
      want[r * n + c] = (float)s;
    }
}

static const struct layout layouts[] = {
    /* core matrices adjacent along K: LBO one core matrix, SBO two (kw = 16) */
    {"none, K-adjacent", AT_WGMMA_SWIZZLE_NONE, 128, 256, 128, 256},
    /* adjacent along M/N: SBO one core matrix, LBO past all rows */
    {"none, MN-adjacent", AT_WGMMA_SWIZZLE_NONE, 64 * 16, 128, 256 * 16, 128},
    {"128B swizzle", AT_WGMMA_SWIZZLE_128B, 16, 1024, 16, 1024},
    {"64B swizzle", AT_WGMMA_SWIZZLE_64B, 16, 512, 16, 512},
    {"32B swizzle", AT_WGMMA_SWIZZLE_32B, 16, 256, 16, 256},
};

static void every_layout(int kind)
{
  static float a[64 * 16], b[256 * 16];
  for (int r = 0; r < 64; r++)
    for (int k = 0; k < 16; k++)
      a[r * 16 + k] = a_val(r, k);
  for (int r = 0; r < 256; r++)
    for (int k = 0; k < 16; k++)
      b[r * 16 + k] = b_val(r, k);
  for (int i = 0; i < 128 * 128; i++)
    c0[i] = (float)(i % 1000 - 500);
  const int ns[] = {64, 128, 256};
  for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++)
    for (int ni = 0; ni < 3; ni++) {
      int n = ns[ni];
      const struct layout *lay = &layouts[l];
      place(kind, lay, n, 16, a, b);
      reference(n, 16, 0, a, b);
      unsigned long long da =
          at_wgmma_desc_encode(A_AT, lay->lbo_a, lay->sbo_a, lay->swizzle);
      unsigned long long db =
          at_wgmma_desc_encode(B_AT, lay->lbo_b, lay->sbo_b, lay->swizzle);
      char what[96];
      for (int scale_d = 0; scale_d < 2; scale_d++) {
        snprintf(what, sizeof what, "%s, n%d, scale-d %d", lay->name, n, scale_d);
        cr_assert_eq(compare(kind, n, da, db, scale_d, 1, what), 0, "%s", what);
      }
    }
}

Test(wgmma, emulation_f16_every_layout_every_n) { every_layout(AT_EMU_F16); }
Test(wgmma, emulation_bf16_every_layout_every_n) { every_layout(AT_EMU_BF16); }

/* A 64-wide tile (128B: one 128-byte row per M/N row; none: 8 core matrices along K):
 * the k-th K=16 slice is the tile's descriptor moved by 32 bytes (swizzled) or two LBO
 * (none), as a GEMM steps through its K tile. */
Test(wgmma, emulation_k_slices_of_a_wide_tile)
{
  static float a[64 * 64], b[128 * 64];
  for (int r = 0; r < 64; r++)
    for (int k = 0; k < 64; k++)
      a[r * 64 + k] = a_val(r, k);
  for (int r = 0; r < 128; r++)
    for (int k = 0; k < 64; k++)
      b[r * 64 + k] = b_val(r, k);
  memset(c0, 0, sizeof c0);
  const struct layout wide[] = {{"128B swizzle", AT_WGMMA_SWIZZLE_128B, 16, 1024, 16, 1024},
                                {"none", AT_WGMMA_SWIZZLE_NONE, 128, 1024, 128, 1024}};
  for (int l = 0; l < 2; l++) {
    place(AT_EMU_F16, &wide[l], 128, 64, a, b);
    for (int s = 0; s < 4; s++) {
      unsigned step =
          wide[l].swizzle ? 32u * (unsigned)s : 2u * (unsigned)s * wide[l].lbo_a;
      reference(128, 64, 16 * s, a, b);
      unsigned long long da =
          at_wgmma_desc_encode(A_AT + step, wide[l].lbo_a, wide[l].sbo_a, wide[l].swizzle);
      unsigned long long db =
          at_wgmma_desc_encode(B_AT + step, wide[l].lbo_b, wide[l].sbo_b, wide[l].swizzle);
      char what[64];
      snprintf(what, sizeof what, "%s, k-slice %d", wide[l].name, s);
      cr_assert_eq(compare(AT_EMU_F16, 128, da, db, 0, 1, what), 0, "%s", what);
    }
  }
}

/* The check can fail: a descriptor that disagrees with the data's layout gives another D.
 */
Test(wgmma, emulation_wrong_strides_give_a_wrong_product)
{
  static float a[64 * 16], b[64 * 16];
  for (int r = 0; r < 64; r++)
    for (int k = 0; k < 16; k++)
      a[r * 16 + k] = a_val(r, k), b[r * 16 + k] = b_val(r, k);
  memset(c0, 0, sizeof c0);
  const struct layout *none = &layouts[0], *sw = &layouts[2];
  place(AT_EMU_F16, none, 64, 16, a, b);
  reference(64, 16, 0, a, b);
  unsigned long long right = at_wgmma_desc_encode(A_AT, none->lbo_a, none->sbo_a, 0);
  unsigned long long db = at_wgmma_desc_encode(B_AT, none->lbo_b, none->sbo_b, 0);
  cr_assert_eq(compare(AT_EMU_F16, 64, right, db, 0, 1, "right"), 0);
  struct {
    const char *what;
    unsigned long long da;
  } wrong[] = {
      {"LBO and SBO swapped", at_wgmma_desc_encode(A_AT, none->sbo_a, none->lbo_a, 0)},
      {"SBO doubled", at_wgmma_desc_encode(A_AT, none->lbo_a, 2 * none->sbo_a, 0)},
      {"LBO + 16", at_wgmma_desc_encode(A_AT, none->lbo_a + 16, none->sbo_a, 0)},
      {"start + 16", at_wgmma_desc_encode(A_AT + 16, none->lbo_a, none->sbo_a, 0)},
      {"128B swizzle", at_wgmma_desc_encode(A_AT, none->lbo_a, none->sbo_a, 1)},
  };
  for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
    cr_assert_gt(compare(AT_EMU_F16, 64, wrong[i].da, db, 0, 0, wrong[i].what), 0,
                 "%s: the product did not change", wrong[i].what);
  /* and swizzled data read as unswizzled */
  place(AT_EMU_F16, sw, 64, 16, a, b);
  unsigned long long sa = at_wgmma_desc_encode(A_AT, 16, sw->sbo_a, AT_WGMMA_SWIZZLE_128B);
  unsigned long long sb = at_wgmma_desc_encode(B_AT, 16, sw->sbo_b, AT_WGMMA_SWIZZLE_128B);
  cr_assert_eq(compare(AT_EMU_F16, 64, sa, sb, 0, 1, "128B"), 0);
  unsigned long long plain =
      at_wgmma_desc_encode(A_AT, 128, sw->sbo_a, AT_WGMMA_SWIZZLE_NONE);
  cr_assert_gt(compare(AT_EMU_F16, 64, plain, sb, 0, 0, "128B read unswizzled"), 0);
}

/* 9.7.15.5.1.2.2: encode(x) = (x & 0x3FFFF) >> 4 in bits 0-13, 16-29, 32-45; the
 * swizzle mode in 62-63; base offset 0. */
Test(wgmma, descriptor_bit_fields)
{
  unsigned long long want_d = 0x1234ull | 0x10ull << 16 | 0x40ull << 32 | 1ull << 62;
  cr_assert_eq(at_wgmma_desc_encode(0x12340, 0x100, 0x400, AT_WGMMA_SWIZZLE_128B), want_d);
  cr_assert_eq(at_wgmma_desc_encode(0x40010, 0, 0, AT_WGMMA_SWIZZLE_NONE), 1ull,
               "the address is taken modulo 2^18");
  cr_assert_eq(at_wgmma_desc_encode(0x3fff0, 0x3fff0, 0x3fff0, AT_WGMMA_SWIZZLE_32B),
               0x3fffull | 0x3fffull << 16 | 0x3fffull << 32 | 3ull << 62);
  cr_assert_eq(at_wgmma_desc_encode(0, 0, 0, AT_WGMMA_SWIZZLE_64B) >> 62, 2ull);
  unsigned long long x = at_wgmma_desc_encode(0x2a0, 0x30, 0x500, AT_WGMMA_SWIZZLE_64B);
  cr_assert_eq(at_emu_wgmma_desc_addr(x), 0x2a0u);
  cr_assert_eq(at_emu_wgmma_desc_lbo(x), 0x30u);
  cr_assert_eq(at_emu_wgmma_desc_sbo(x), 0x500u);
  cr_assert_eq(at_emu_wgmma_desc_swizzle(x), AT_WGMMA_SWIZZLE_64B);
  cr_assert_eq(at_emu_wgmma_desc_base_offset(x), 0);
  cr_assert_null(at_emu_wgmma_desc_problem(x));
  cr_assert_not_null(at_emu_wgmma_desc_problem(x | 1ull << 49), "a base offset is refused");
  cr_assert_not_null(at_emu_wgmma_desc_problem(x | 1ull << 14),
                     "reserved bits are refused");
}

/* The header's D map (used by kernels' epilogues) is Figure 149, and covers 64 x N once. */
Test(wgmma, d_fragment_map_is_the_figure)
{
  static int seen[64 * 256];
  for (int t = 0; t < 128; t++)
    for (int i = 0; i < 128; i++) {
      int r, c;
      doc_d(t, i, &r, &c);
      cr_assert_eq(at_wgmma_d_row(t, i), r, "thread %d d%d", t, i);
      cr_assert_eq(at_wgmma_d_col(t, i), c, "thread %d d%d", t, i);
      seen[r * 256 + c]++;
    }
  for (int e = 0; e < 64 * 256; e++)
    cr_assert_eq(seen[e], 1, "D[%d][%d] held %d times", e / 256, e % 256, seen[e]);
}

/* at_wgmma_kmajor_offset (what kernels place tiles with) agrees with the document. */
Test(wgmma, kmajor_offset_is_the_canonical_layout)
{
  const int swz[] = {AT_WGMMA_SWIZZLE_NONE, AT_WGMMA_SWIZZLE_128B, AT_WGMMA_SWIZZLE_64B,
                     AT_WGMMA_SWIZZLE_32B};
  const int width[] = {64, 64, 32, 16}; /* k extent: LBO steps, or the pattern's row */
  for (int s = 0; s < 4; s++)
    for (int row = 0; row < 128; row++)
      for (int k = 0; k < width[s]; k++) {
        unsigned sbo = s == 0 ? 1024 : 8u * 2u * (unsigned)width[s];
        cr_assert_eq(at_wgmma_kmajor_offset(row, k, swz[s], 128, sbo),
                     doc_offset(swz[s], row, k, 128, sbo), "swizzle %d row %d k %d", swz[s],
                     row, k);
      }
}

Test(wgmma, emulation_refuses_reads_outside_the_image)
{
  memset(d, 0, sizeof d);
  unsigned long long da = at_wgmma_desc_encode(IMAGE - 1024, 128, 256, 0);
  unsigned long long db = at_wgmma_desc_encode(0, 128, 256, 0);
  cr_assert_not_null(at_emu_wgmma_m64nNk16(AT_EMU_F16, 64, image, IMAGE, da, db, 0, d));
  cr_assert_not_null(at_emu_wgmma_m64nNk16(AT_EMU_F16, 64, image, IMAGE, db, da, 0, d));
}

/* ---- the kernels on the host device ------------------------------------------------- */

struct hk {
  struct meas_ctx *ctx;
  meas_module mod;
};

static void need(const struct cc_backend *b)
{
  char why[256] = "";
  if (!b->available(why, sizeof why))
    cr_skip_test("%s is not available here: %s", b->name, why);
}

static char *read_pl(const char *file)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", PL, file);
  char *s = th_read(path, NULL);
  cr_assert_not_null(s, "cannot read %s", path);
  return s;
}

static const char *const include_dirs[] = {COMMON, NULL};

static void hk_load(struct hk *k)
{
  need(&cc_host);
  char *src = read_pl("wgmma_kernels.cu");
  struct cc_request req = {.source = src,
                           .name = "wgmma_kernels.cpp",
                           .arch = "host",
                           .include_dirs = include_dirs};
  struct cc_result res;
  cr_assert_eq(cc_host.compile(&req, &res), AT_OK, "%s", at_last_error());
  cr_assert_eq(res.status, CC_OK, "%s", res.log ? res.log : "");
  meas_host_set_jobs(2);
  cr_assert_eq(meas_host.open(0, &k->ctx), AT_OK, "%s", at_last_error());
  cr_assert_eq(meas_host.load(k->ctx, res.code, res.code_size, &k->mod), AT_OK, "%s",
               at_last_error());
  cc_result_release(&res);
  free(src);
}

static void *hk_buf(struct hk *k, size_t bytes)
{
  meas_ptr p;
  cr_assert_eq(meas_host.alloc(k->ctx, bytes, &p), AT_OK);
  memset((void *)(uintptr_t)p, 0, bytes);
  return (void *)(uintptr_t)p;
}

static void hk_release(struct hk *k, void *p)
{
  meas_host.free(k->ctx, (meas_ptr)(uintptr_t)p);
}

/* Launch one block; AT_OK or the launch's status (at_last_error() says why). */
static int hk_launch(struct hk *k, const char *name, unsigned threads, unsigned shared,
                     const char *kinds, void **args)
{
  meas_kernel kern;
  cr_assert_eq(meas_host.kernel(k->ctx, k->mod, name, &kern), AT_OK, "%s", at_last_error());
  struct meas_launch l = {.kernel = kern,
                          .grid = {1, 1, 1},
                          .block = {threads, 1, 1},
                          .shared_bytes = shared,
                          .args = args,
                          .arg_kinds = kinds};
  int rc = meas_host.launch(k->ctx, &l);
  if (rc == AT_OK)
    rc = meas_host.sync(k->ctx);
  return rc;
}

static void hk_close(struct hk *k)
{
  meas_host.unload(k->ctx, k->mod);
  meas_host.close(k->ctx);
}

struct run {
  int kind, n, layout, mode;
  unsigned threads;
  unsigned short *a, *b;
  float *out, *early;
};

/* Inputs for a run: A per warpgroup (64 x 64) and B (n x 64), small integers. */
static void run_inputs(struct hk *k, struct run *r)
{
  int groups = (int)r->threads / 128;
  r->a = hk_buf(k, (size_t)groups * 64 * 64 * 2);
  r->b = hk_buf(k, (size_t)r->n * 64 * 2);
  r->out = hk_buf(k, (size_t)groups * 64 * (size_t)r->n * 4);
  r->early = hk_buf(k, (size_t)groups * 64 * (size_t)r->n * 4);
  for (int g = 0; g < groups; g++)
    for (int i = 0; i < 64 * 64; i++)
      r->a[g * 4096 + i] = bits_of(r->kind, (float)((i * 7 + g * 5) % 9 - 4));
  for (int i = 0; i < r->n * 64; i++)
    r->b[i] = bits_of(r->kind, (float)((i * 5) % 9 - 4));
}

static float in_value(int kind, unsigned short bits)
{
  return kind == AT_EMU_F16 ? at_half_bits_to_float_sw(bits)
                            : at_bfloat16_bits_to_float_sw(bits);
}

/* sum over k in [k0, k1) of A_g[m][k] * B[c][k] */
static float run_ref(const struct run *r, int g, int m, int c, int k0, int k1)
{
  double s = 0;
  for (int k = k0; k < k1; k++)
    s += (double)in_value(r->kind, r->a[g * 4096 + m * 64 + k]) *
         in_value(r->kind, r->b[c * 64 + k]);
  return (float)s;
}

static void run_kernel(struct hk *k, struct run *r)
{
  char name[32];
  snprintf(name, sizeof name, "wg_%s_n%d", r->kind == AT_EMU_F16 ? "f16" : "bf16", r->n);
  void *args[] = {&r->a, &r->b, &r->out, &r->early, &r->layout, &r->mode};
  unsigned shared = (r->threads / 128) * 8192 + (unsigned)r->n * 128;
  int rc = hk_launch(k, name, r->threads, shared, "ppppii", args);
  cr_assert_eq(rc, AT_OK, "%s layout %d mode %d, %u threads: %s", name, r->layout, r->mode,
               r->threads, at_last_error());
}

static void run_free(struct hk *k, struct run *r)
{
  hk_release(k, r->a), hk_release(k, r->b), hk_release(k, r->out), hk_release(k, r->early);
}

/* every element of out (and early) against the reference */
static void run_check(const struct run *r)
{
  int groups = (int)r->threads / 128, bad = 0;
  for (int g = 0; g < groups; g++)
    for (int m = 0; m < 64; m++)
      for (int c = 0; c < r->n; c++) {
        size_t at = ((size_t)g * 64 + (size_t)m) * (size_t)r->n + (size_t)c;
        float full = run_ref(r, g, m, c, 0, 64);
        float want_out = r->mode == 1 ? 0.0f : full;
        float want_early = r->mode == 1   ? -1.0f
                           : r->mode == 2 ? run_ref(r, g, m, c, 0, 32)
                                          : 0.0f;
        if ((r->out[at] != want_out || r->early[at] != want_early) && bad++ < 4)
          cr_log_info("n%d layout %d mode %d, %u threads: warpgroup %d D[%d][%d]: out %g "
                      "(want %g), early %g (want %g)",
                      r->n, r->layout, r->mode, r->threads, g, m, c, (double)r->out[at],
                      (double)want_out, (double)r->early[at], (double)want_early);
      }
  cr_assert_eq(bad, 0, "n%d layout %d mode %d, %u threads: %d elements differ", r->n,
               r->layout, r->mode, r->threads, bad);
}

static void host_products(int kind)
{
  struct hk k;
  hk_load(&k);
  const int ns[] = {64, 128, 256};
  for (int ni = 0; ni < 3; ni++)
    for (int layout = 0; layout < 5; layout++)
      for (unsigned threads = 128; threads <= 256; threads += 128) {
        struct run r = {
            .kind = kind, .n = ns[ni], .layout = layout, .mode = 0, .threads = threads};
        run_inputs(&k, &r);
        run_kernel(&k, &r);
        run_check(&r);
        run_free(&k, &r);
      }
  hk_close(&k);
}

Test(wgmma, host_kernel_f16_products, .timeout = 300) { host_products(AT_EMU_F16); }
Test(wgmma, host_kernel_bf16_products, .timeout = 300) { host_products(AT_EMU_BF16); }

/* mode 1: the accumulators are untouched until the wait, and shared memory overwritten
 * before it is what the product reads (A zeroed: D = 0). mode 2: wait_group 1 completes
 * the older group only (k < 32), wait_group 0 the rest. */
Test(wgmma, host_kernel_results_land_at_wait_group, .timeout = 300)
{
  struct hk k;
  hk_load(&k);
  for (int mode = 1; mode <= 2; mode++)
    for (int layout = 0; layout < 5; layout += 1)
      for (unsigned threads = 128; threads <= 256; threads += 128) {
        struct run r = {.kind = AT_EMU_F16,
                        .n = 128,
                        .layout = layout,
                        .mode = mode,
                        .threads = threads};
        run_inputs(&k, &r);
        run_kernel(&k, &r);
        run_check(&r);
        run_free(&k, &r);
      }
  hk_close(&k);
}

/* Blocks that are not whole warpgroups, and a matrix in static shared memory. */
Test(wgmma, host_launch_fails_without_whole_warpgroups, .timeout = 120)
{
  struct hk k;
  hk_load(&k);
  struct run r = {.kind = AT_EMU_F16, .n = 64, .layout = 0, .mode = 0, .threads = 128};
  run_inputs(&k, &r);
  void *args[] = {&r.a, &r.b, &r.out, &r.early, &r.layout, &r.mode};
  const unsigned bad_sizes[] = {32, 96, 160, 224};
  for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
    int rc = hk_launch(&k, "wg_f16_n64", bad_sizes[i], 2 * 8192 + 64 * 128, "ppppii", args);
    cr_assert_neq(rc, AT_OK, "%u threads launched", bad_sizes[i]);
    cr_assert_not_null(strstr(at_last_error(), "warpgroups"), "%u threads: %s",
                       bad_sizes[i], at_last_error());
  }
  void *sargs[] = {&r.out};
  int rc = hk_launch(&k, "wg_static_smem", 128, 0, "p", sargs);
  cr_assert_neq(rc, AT_OK);
  cr_assert_not_null(strstr(at_last_error(), "dynamic shared memory"), "%s",
                     at_last_error());
  /* and the device still works after the failures */
  run_kernel(&k, &r);
  run_check(&r);
  run_free(&k, &r);
  hk_close(&k);
}

/* ---- CUDA: NVRTC and nvcc ------------------------------------------------------------ */

static const char *const kernels[] = {"wg_f16_n64",  "wg_f16_n128",  "wg_f16_n256",
                                      "wg_bf16_n64", "wg_bf16_n128", "wg_bf16_n256"};

static void nvrtc_compile(const char *arch, const char *const *flags, struct cc_result *r)
{
  char *src = read_pl("wgmma_kernels.cu");
  struct cc_request req = {.source = src,
                           .name = "wgmma_kernels.cu",
                           .arch = arch,
                           .include_dirs = include_dirs,
                           .flags = flags};
  int rc = cc_nvrtc.compile(&req, r);
  cr_assert_eq(rc, AT_OK, "nvrtc for %s: %s: %s", arch, at_status_name(rc),
               at_last_error());
  free(src);
}

Test(wgmma, nvrtc_sm90a_uses_wgmma_without_spills, .timeout = 300)
{
  need(&cc_nvrtc);
  struct cc_result r;
  nvrtc_compile("sm_90a", NULL, &r);
  cr_assert_eq(r.status, CC_OK, "sm_90a:\n%s", r.log);
  cr_assert_not_null(cc_result_kernel(&r, "wg_has_wgmma"), "AT_HAS_WGMMA is 0 for sm_90a");
  cr_assert_null(cc_result_kernel(&r, "wg_no_wgmma"));
  for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
    const struct cc_kernel_res *kr = cc_result_kernel(&r, kernels[i]);
    cr_assert_not_null(kr, "no %s", kernels[i]);
    cr_assert_eq(kr->spill_bytes, 0, "%s spills %lld bytes", kernels[i],
                 (long long)kr->spill_bytes);
    cr_log_info("sm_90a %s: %d registers", kernels[i], kr->registers);
  }
  if (strstr(r.log, "GMMA") || strstr(r.log, "wgmma"))
    cr_log_info("ptxas reports on the wgmma pipeline (expected for the test kernels, which "
                "read accumulators early on purpose)");
  cc_result_release(&r);
}

Test(wgmma, nvrtc_sm90_takes_the_fallback, .timeout = 300)
{
  need(&cc_nvrtc);
  struct cc_result r;
  nvrtc_compile("sm_90", NULL, &r);
  cr_assert_eq(r.status, CC_OK, "sm_90:\n%s", r.log);
  cr_assert_not_null(cc_result_kernel(&r, "wg_no_wgmma"), "AT_HAS_WGMMA is 1 for sm_90");
  cr_assert_null(cc_result_kernel(&r, "wg_has_wgmma"));
  for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
    cr_assert_not_null(cc_result_kernel(&r, kernels[i]), "no %s", kernels[i]);
  cc_result_release(&r);
}

/* The asm is real wgmma: forced on for sm_90, ptxas refuses exactly those instructions. */
Test(wgmma, ptxas_refuses_the_instructions_for_sm90, .timeout = 300)
{
  need(&cc_nvrtc);
  const char *const force[] = {"-DAT_HAS_WGMMA=1", NULL};
  struct cc_result r;
  nvrtc_compile("sm_90", force, &r);
  cr_assert_eq(r.status, CC_COMPILE_ERROR, "wgmma compiled for sm_90");
  cr_assert_not_null(strstr(r.log, "wgmma"), "log: %s", r.log);
  cc_result_release(&r);
}

static bool find_nvcc(char *path, size_t len)
{
#ifdef AT_CUDA_ROOT
  if (cc_which(AT_CUDA_ROOT "/bin/nvcc", path, len))
    return true;
#endif
  return cc_which("nvcc", path, len);
}

Test(wgmma, sm90a_ptx_holds_the_instructions, .timeout = 300)
{
  char nvcc[4096];
  if (!find_nvcc(nvcc, sizeof nvcc))
    cr_skip_test("no nvcc to print the PTX");
  char *dir = th_tmpdir(), *ptx = th_path(dir, "wgmma.ptx");
  struct th_result out;
  th_sh(&out,
        "'%s' -arch=sm_90a -ptx -std=c++17 -I'%s' -x cu '%s/wgmma_kernels.cu' -o '%s' 2>&1",
        nvcc, COMMON, PL, ptx);
  cr_assert_eq(out.code, 0, "nvcc: %s", out.out);
  th_result_free(&out);
  char *text = th_read(ptx, NULL);
  cr_assert_not_null(text);
  static const char *const want_ptx[] = {
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16",
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16",
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16",
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16",
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16",
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16",
      "wgmma.fence.sync.aligned",
      "wgmma.commit_group.sync.aligned",
      "wgmma.wait_group.sync.aligned 0",
      "wgmma.wait_group.sync.aligned 1",
      "fence.proxy.async.shared::cta",
  };
  for (size_t i = 0; i < sizeof want_ptx / sizeof want_ptx[0]; i++)
    cr_assert_not_null(strstr(text, want_ptx[i]), "the sm_90a PTX has no %s", want_ptx[i]);
  free(text);
  free(ptx);
  th_rmtree(dir);
  free(dir);
}
