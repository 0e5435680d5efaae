/*
 * test_wgmma.c - templates/common/at_wgmma.h, Hopper's wgmma.mma_async m64nNk16 (f32
 * accumulation, f16/bf16, A and B in shared memory, each K-major or MN-major through
 * imm-trans-a/imm-trans-b): the descriptor's bit fields; the pure emulation
 * (at_emu_wgmma_*) against plain arithmetic for every thread's D fragment, with A and B
 * placed in a shared-memory image by this file's own reading of the PTX ISA's canonical
 * layouts (9.7.15.5.1.2.1.3, written in the document's CuTe form here, while the header
 * computes offsets directly) for no swizzle (core matrices adjacent along K and along M/N)
 * and the 128-, 64- and 32-byte swizzles, K slices of a 64-wide tile included, and a D
 * fragment map written from Figure 149 as a table per 8-column block; a wrong LBO, SBO or
 * swizzle mode must give a wrong D. The same for MN-major operands (A, B or both), placed
 * by the document's MN-major CuTe forms (doc_offset_mn), where a wrong LBO/SBO or trans
 * flag must give a wrong D too. tests/data/pl/wgmma_kernels.cu then runs on the host device
 * (cc_host, meas_host, the SIMT emulator) with one and two warpgroups: full 64xN products
 * for N = 64, 128, 256, the pending queue (nothing lands before wgmma.wait_group;
 * wait_group 1 leaves the newest group pending; shared memory overwritten before the wait
 * changes the result), and launches the emulation refuses. NVRTC compiles the same source
 * for sm_90a (wgmma used, no spills) and for sm_90 (no wgmma: the fallback), ptxas refuses
 * the instructions for sm_90, and nvcc's sm_90a PTX holds them (and the four settings of
 * the trans immediates). Last, the probe: the wgp_* and, for MN-major layouts, wgpt_*
 * kernels (C + A * B^T, one to four wgmmas in one group, A and B in any two layouts)
 * compared element by element with the integer product and with the emulation over an image
 * of the kernel's shared memory, on the host device and, in the wgmma/gpu_* tests, on an
 * H100 (they skip without a CUDA device or when it is not sm_90; see
 * tests/data/pl/README.md and bench/gpu/check.sh, step 5b).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT_EMU_ONLY 1
#include "templates/common/at_wgmma.h"

#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tuner/compile/compile.h"
#include "tuner/measure/meas.h"
#include "base/status.h"

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

/* Byte offset of element (mn, k) in an MN-major canonical layout of 16-bit elements
 * (T = 8), 9.7.15.5.1.2.1.3, in elements:
 *   no swizzle:    ((T,1,m),(8,k)) : ((1,T,SBO),(1T,LBO))
 *   32/64/128B:    ((T,s,m),(8,k)) : ((1,T,LBO),(sT,SBO)), s = 2, 4, 8, then Swizzle<b,4,3>
 * for M/N (T,s,m) and K (8,k), a coordinate split colexicographically over its mode's
 * shape, as CuTe does; LBO and SBO are bytes in the descriptor. */
static unsigned doc_offset_mn(int swizzle, int mn, int k, unsigned lbo, unsigned sbo)
{
  int s = swizzle == AT_WGMMA_SWIZZLE_128B  ? 8
          : swizzle == AT_WGMMA_SWIZZLE_64B ? 4
          : swizzle == AT_WGMMA_SWIZZLE_32B ? 2
                                            : 1;
  int b = s == 8 ? 3 : s == 4 ? 2 : s == 2 ? 1 : 0;
  int i0 = mn % 8, i1 = mn / 8 % s, i2 = mn / (8 * s), j0 = k % 8, j1 = k / 8;
  /* the element strides of the modes, LBO and SBO as bytes */
  unsigned o;
  if (swizzle == AT_WGMMA_SWIZZLE_NONE)
    o = (unsigned)(2 * (i0 * 1 + i1 * 8 + j0 * 8)) + (unsigned)i2 * sbo +
        (unsigned)j1 * lbo;
  else
    o = (unsigned)(2 * (i0 * 1 + i1 * 8 + j0 * s * 8)) + (unsigned)i2 * lbo +
        (unsigned)j1 * sbo;
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

/* A (arows x kdim) and B (brows x kdim, row r is column r of the product) from a_val and
 * b_val, row-major with K fastest. */
static void fill_ab(float *a, int arows, float *b, int brows, int kdim)
{
  for (int r = 0; r < arows; r++)
    for (int k = 0; k < kdim; k++)
      a[r * kdim + k] = a_val(r, k);
  for (int r = 0; r < brows; r++)
    for (int k = 0; k < kdim; k++)
      b[r * kdim + k] = b_val(r, k);
}

/* d (the emulation's D, every thread) against want (64 x n) + (scale_d ? c0 : 0): the
 * number of differing registers (the first few reported when `report`). */
static int check_d(int n, int scale_d, int report, const char *what)
{
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

/* The emulation's D with trans_a / trans_b, from c0, checked by check_d. */
static int compare_t(int kind, int n, int trans_a, int trans_b, unsigned long long da,
                     unsigned long long db, int scale_d, int report, const char *what)
{
  for (int i = 0; i < 128 * n / 2; i++)
    d[i] = c0[i];
  const char *why =
      at_emu_wgmma_m64nNk16_t(kind, n, trans_a, trans_b, image, IMAGE, da, db, scale_d, d);
  cr_assert_null(why, "%s: %s", what, why);
  return check_d(n, scale_d, report, what);
}

/* The same for K-major A and B, through the API without trans flags. */
static int compare(int kind, int n, unsigned long long da, unsigned long long db,
                   int scale_d, int report, const char *what)
{
  for (int i = 0; i < 128 * n / 2; i++)
    d[i] = c0[i];
  const char *why = at_emu_wgmma_m64nNk16(kind, n, image, IMAGE, da, db, scale_d, d);
  cr_assert_null(why, "%s: %s", what, why);
  return check_d(n, scale_d, report, what);
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
  fill_ab(a, 64, b, 256, 16);
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

/* The A operand from registers (RS): each thread's two rows of A (16w + g and + 8) given
 * as the function takes them, B from shared memory K-major and 128B-swizzled: the same D
 * as the reference, from 0 and from c0, for N = 64, 128 and 256. */
static void rs_every_n(int kind)
{
  static float a[64 * 16], b[256 * 16];
  fill_ab(a, 64, b, 256, 16);
  for (int i = 0; i < 128 * 128; i++)
    c0[i] = (float)(i % 1000 - 500);
  const struct layout *lay = &layouts[2]; /* 128B swizzle */
  for (int n = 64; n <= 256; n *= 2) {
    place(kind, lay, n, 16, a, b);
    reference(n, 16, 0, a, b);
    const unsigned long long db =
        at_wgmma_desc_encode(B_AT, lay->lbo_b, lay->sbo_b, lay->swizzle);
    for (int scale_d = 0; scale_d < 2; scale_d++) {
      for (int t = 0; t < 128; t++) {
        unsigned short rows[32];
        for (int r = 0; r < 2; r++)
          for (int k = 0; k < 16; k++)
            rows[r * 16 + k] = bits_of(kind, a[(16 * (t / 32) + t % 32 / 4 + 8 * r) * 16 + k]);
        for (int i = 0; i < n / 2; i++)
          d[t * (n / 2) + i] = c0[t * (n / 2) + i];
        const char *why = at_emu_wgmma_m64nNk16_rs_thread(kind, n, 0, rows, image, IMAGE, db,
                                                          scale_d, t, d + t * (n / 2));
        cr_assert_null(why, "%s", why);
      }
      char what[64];
      snprintf(what, sizeof what, "RS n%d scale-d %d", n, scale_d);
      cr_assert_eq(check_d(n, scale_d, 1, what), 0, "%s", what);
    }
  }
}

Test(wgmma, emulation_rs_f16_and_bf16) { rs_every_n(AT_EMU_F16), rs_every_n(AT_EMU_BF16); }

/* A 64-wide tile (128B: one 128-byte row per M/N row; none: 8 core matrices along K):
 * the k-th K=16 slice is the tile's descriptor moved by 32 bytes (swizzled) or two LBO
 * (none), as a GEMM steps through its K tile. */
Test(wgmma, emulation_k_slices_of_a_wide_tile)
{
  static float a[64 * 64], b[128 * 64];
  fill_ab(a, 64, b, 128, 64);
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

/* ---- MN-major operands (imm-trans-a / imm-trans-b = 1) ----------------------------- */

struct mn_layout {
  const char *name;
  int swizzle;
  unsigned lbo_a, sbo_a, lbo_b, sbo_b; /* for A (64 x 16) and B (up to 256 x 16) */
  int kpartner; /* layouts[] index of a K-major layout for the other operand */
};

static const struct mn_layout mn_layouts[] = {
    /* no swizzle: core matrices (8 k x 16 bytes) adjacent along M/N (SBO), or along K */
    {"MN none, MN-adjacent", AT_WGMMA_SWIZZLE_NONE, 64 * 16, 128, 256 * 16, 128, 0},
    {"MN none, K-adjacent", AT_WGMMA_SWIZZLE_NONE, 128, 256, 128, 256, 1},
    /* swizzled: atoms of 8 k-rows of the pattern's bytes; the two 8-k groups adjacent
     * (SBO one atom), the next atom along M/N after them (LBO two atoms) */
    {"MN 128B swizzle", AT_WGMMA_SWIZZLE_128B, 2048, 1024, 2048, 1024, 2},
    {"MN 64B swizzle", AT_WGMMA_SWIZZLE_64B, 1024, 512, 1024, 512, 3},
    {"MN 32B swizzle", AT_WGMMA_SWIZZLE_32B, 512, 256, 512, 256, 4},
    /* and the atoms adjacent along M/N (LBO one atom), the 8-k groups after all of them */
    {"MN 64B swizzle, atoms along M/N", AT_WGMMA_SWIZZLE_64B, 512, 1024, 512, 4096, 3},
};

/* One operand (rows x kw, row-major in v) at `at` of the image: MN-major in l when mn,
 * else K-major in k. */
static void place_operand(int kind, int rows, int kw, const float *v, unsigned at, int mn,
                          int swizzle_mn, unsigned lbo_mn, unsigned sbo_mn,
                          const struct layout *k, unsigned lbo_k, unsigned sbo_k)
{
  for (int r = 0; r < rows; r++)
    for (int kk = 0; kk < kw; kk++) {
      unsigned short bits = bits_of(kind, v[r * kw + kk]);
      unsigned off = mn ? doc_offset_mn(swizzle_mn, r, kk, lbo_mn, sbo_mn)
                        : doc_offset(k->swizzle, r, kk, lbo_k, sbo_k);
      memcpy(image + at + off, &bits, 2);
    }
}

/* A and/or B MN-major in every layout, for N = 64, 128, 256, scale-d 0 and 1. */
static void every_mn_layout(int kind)
{
  static float a[64 * 16], b[256 * 16];
  fill_ab(a, 64, b, 256, 16);
  for (int i = 0; i < 128 * 128; i++)
    c0[i] = (float)(i % 1000 - 500);
  const int ns[] = {64, 128, 256};
  const int trans[][2] = {{1, 1}, {1, 0}, {0, 1}};
  for (size_t l = 0; l < sizeof mn_layouts / sizeof mn_layouts[0]; l++)
    for (int ti = 0; ti < 3; ti++)
      for (int ni = 0; ni < 3; ni++) {
        const struct mn_layout *m = &mn_layouts[l];
        const struct layout *k = &layouts[m->kpartner];
        int n = ns[ni], ta = trans[ti][0], tb = trans[ti][1];
        memset(image, 0xee, sizeof image);
        place_operand(kind, 64, 16, a, A_AT, ta, m->swizzle, m->lbo_a, m->sbo_a, k,
                      k->lbo_a, k->sbo_a);
        place_operand(kind, n, 16, b, B_AT, tb, m->swizzle, m->lbo_b, m->sbo_b, k, k->lbo_b,
                      k->sbo_b);
        reference(n, 16, 0, a, b);
        unsigned long long da =
            ta ? at_wgmma_desc_encode(A_AT, m->lbo_a, m->sbo_a, m->swizzle)
               : at_wgmma_desc_encode(A_AT, k->lbo_a, k->sbo_a, k->swizzle);
        unsigned long long db =
            tb ? at_wgmma_desc_encode(B_AT, m->lbo_b, m->sbo_b, m->swizzle)
               : at_wgmma_desc_encode(B_AT, k->lbo_b, k->sbo_b, k->swizzle);
        for (int scale_d = 0; scale_d < 2; scale_d++) {
          char what[160];
          snprintf(what, sizeof what, "A %s, B %s, n%d, scale-d %d",
                   ta ? m->name : k->name, tb ? m->name : k->name, n, scale_d);
          cr_assert_eq(compare_t(kind, n, ta, tb, da, db, scale_d, 1, what), 0, "%s", what);
        }
      }
}

Test(wgmma, emulation_f16_mn_major_every_layout_every_n) { every_mn_layout(AT_EMU_F16); }
Test(wgmma, emulation_bf16_mn_major_every_layout_every_n) { every_mn_layout(AT_EMU_BF16); }

/* ---- random bits: the order of the sums and every class of value ---------------------
 * The integer-valued data above is summed exactly in any order; here A and B are random
 * 16-bit patterns (zeros of both signs, subnormals, normals, infinities, NaNs) and each
 * register must be the emulation's contract to the bit: one fmaf at a time in k order
 * from c0 (scale-d) or +0, on the operands converted exactly. */
static unsigned short rbits_a[64 * 16], rbits_b[256 * 16];

static unsigned long long rnd_state = 0x9e3779b97f4a7c15ull;
static unsigned rnd(void)
{
  rnd_state ^= rnd_state << 13, rnd_state ^= rnd_state >> 7, rnd_state ^= rnd_state << 17;
  return (unsigned)(rnd_state >> 11);
}

static float operand(int kind, unsigned short h)
{
  return kind == AT_EMU_F16 ? at_half_bits_to_float_sw(h) : at_bfloat16_bits_to_float_sw(h);
}

/* Registers that differ from the chain (NaN equals NaN). */
static int chain_mismatches(int kind, int n, int scale_d, const char *what)
{
  int bad = 0;
  for (int t = 0; t < 128; t++)
    for (int i = 0; i < n / 2; i++) {
      int r, c;
      doc_d(t, i, &r, &c);
      float acc = scale_d ? c0[t * (n / 2) + i] : 0.0f, got = d[t * (n / 2) + i];
      for (int k = 0; k < 16; k++)
        acc = fmaf(operand(kind, rbits_a[r * 16 + k]), operand(kind, rbits_b[c * 16 + k]), acc);
      if (memcmp(&acc, &got, sizeof acc) != 0 && !(acc != acc && got != got) && bad++ < 4)
        cr_log_info("%s: thread %d d%d = %a, want %a", what, t, i, (double)got, (double)acc);
    }
  return bad;
}

/* The random operands placed MN-major in m (trans) or K-major in k, their descriptors. */
static void place_random(int n, int ta, int tb, const struct mn_layout *m,
                         const struct layout *k, unsigned long long *da,
                         unsigned long long *db)
{
  memset(image, 0xee, sizeof image);
  for (int r = 0; r < 64; r++)
    for (int kk = 0; kk < 16; kk++)
      memcpy(image + A_AT +
                 (ta ? doc_offset_mn(m->swizzle, r, kk, m->lbo_a, m->sbo_a)
                     : doc_offset(k->swizzle, r, kk, k->lbo_a, k->sbo_a)),
             &rbits_a[r * 16 + kk], 2);
  for (int r = 0; r < n; r++)
    for (int kk = 0; kk < 16; kk++)
      memcpy(image + B_AT +
                 (tb ? doc_offset_mn(m->swizzle, r, kk, m->lbo_b, m->sbo_b)
                     : doc_offset(k->swizzle, r, kk, k->lbo_b, k->sbo_b)),
             &rbits_b[r * 16 + kk], 2);
  *da = ta ? at_wgmma_desc_encode(A_AT, m->lbo_a, m->sbo_a, m->swizzle)
           : at_wgmma_desc_encode(A_AT, k->lbo_a, k->sbo_a, k->swizzle);
  *db = tb ? at_wgmma_desc_encode(B_AT, m->lbo_b, m->sbo_b, m->swizzle)
           : at_wgmma_desc_encode(B_AT, k->lbo_b, k->sbo_b, k->swizzle);
}

static void random_chains(int kind)
{
  const int ns[] = {8, 72, 256};
  const int trans[][2] = {{0, 0}, {1, 1}, {1, 0}, {0, 1}};
  for (size_t l = 0; l < sizeof mn_layouts / sizeof mn_layouts[0]; l++)
    for (int ti = 0; ti < 4; ti++)
      for (int ni = 0; ni < 3; ni++)
        for (int scale_d = 0; scale_d < 2; scale_d++) {
          const struct mn_layout *m = &mn_layouts[l];
          const struct layout *k = &layouts[m->kpartner];
          const int n = ns[ni], ta = trans[ti][0], tb = trans[ti][1];
          for (int i = 0; i < 64 * 16; i++)
            rbits_a[i] = (unsigned short)rnd();
          for (int i = 0; i < 256 * 16; i++)
            rbits_b[i] = (unsigned short)rnd();
          for (int i = 0; i < 128 * 128; i++)
            c0[i] = ldexpf((float)((int)(rnd() % 2001) - 1000), (int)(rnd() % 40) - 20);
          unsigned long long da, db;
          place_random(n, ta, tb, m, k, &da, &db);
          char what[160];
          snprintf(what, sizeof what, "A %s, B %s, n%d, scale-d %d",
                   ta ? m->name : k->name, tb ? m->name : k->name, n, scale_d);
          memcpy(d, c0, sizeof d);
          const char *why = at_emu_wgmma_m64nNk16_t(kind, n, ta, tb, image, IMAGE, da, db,
                                                    scale_d, d);
          cr_assert_null(why, "%s: %s", what, why);
          cr_assert_eq(chain_mismatches(kind, n, scale_d, what), 0, "%s", what);
          /* RS: A's two rows a thread from "registers", B as placed */
          memcpy(d, c0, sizeof d);
          for (int t = 0; t < 128; t++) {
            unsigned short rows[32];
            const int row = 16 * (t / 32) + t % 32 / 4;
            memcpy(rows, &rbits_a[row * 16], 32);
            memcpy(rows + 16, &rbits_a[(row + 8) * 16], 32);
            why = at_emu_wgmma_m64nNk16_rs_thread(kind, n, tb, rows, image, IMAGE, db,
                                                  scale_d, t, d + t * (n / 2));
            cr_assert_null(why, "RS %s: %s", what, why);
          }
          cr_assert_eq(chain_mismatches(kind, n, scale_d, what), 0, "RS %s", what);
        }
}

Test(wgmma, emulation_random_bits_are_an_fma_chain_in_k_order)
{
  random_chains(AT_EMU_F16);
  random_chains(AT_EMU_BF16);
}

/* A 64-wide K tile, MN-major, 128B swizzle (as a TMA box of 64 M/N x 64 K writes it: the
 * k-th row of 128 bytes at 128 k) and no swizzle: the K=16 slice s is the tile's
 * descriptor moved by two SBO (swizzled) or two LBO (none). */
Test(wgmma, emulation_mn_major_k_slices_of_a_wide_tile)
{
  static float a[64 * 64], b[128 * 64];
  fill_ab(a, 64, b, 128, 64);
  memset(c0, 0, sizeof c0);
  /* 128B: LBO = the next 64 M/N after all 64 k (64 rows of 128 bytes); none: core
   * matrices adjacent along M/N (SBO 128), the next 8 k past all rows */
  const struct mn_layout wide[] = {
      {"MN 128B swizzle", AT_WGMMA_SWIZZLE_128B, 64 * 128, 1024, 64 * 128, 1024, 0},
      {"MN none", AT_WGMMA_SWIZZLE_NONE, 64 * 16, 128, 128 * 16, 128, 0}};
  for (int l = 0; l < 2; l++) {
    memset(image, 0xee, sizeof image);
    place_operand(AT_EMU_F16, 64, 64, a, A_AT, 1, wide[l].swizzle, wide[l].lbo_a,
                  wide[l].sbo_a, NULL, 0, 0);
    place_operand(AT_EMU_F16, 128, 64, b, B_AT, 1, wide[l].swizzle, wide[l].lbo_b,
                  wide[l].sbo_b, NULL, 0, 0);
    for (int s = 0; s < 4; s++) {
      unsigned step_a =
          2u * (unsigned)s * (wide[l].swizzle ? wide[l].sbo_a : wide[l].lbo_a);
      unsigned step_b =
          2u * (unsigned)s * (wide[l].swizzle ? wide[l].sbo_b : wide[l].lbo_b);
      reference(128, 64, 16 * s, a, b);
      unsigned long long da = at_wgmma_desc_encode(A_AT + step_a, wide[l].lbo_a,
                                                   wide[l].sbo_a, wide[l].swizzle);
      unsigned long long db = at_wgmma_desc_encode(B_AT + step_b, wide[l].lbo_b,
                                                   wide[l].sbo_b, wide[l].swizzle);
      char what[64];
      snprintf(what, sizeof what, "%s, k-slice %d", wide[l].name, s);
      cr_assert_eq(compare_t(AT_EMU_F16, 128, 1, 1, da, db, 0, 1, what), 0, "%s", what);
    }
  }
}

/* The MN-major check can fail too: a wrong LBO or SBO, LBO and SBO in each other's
 * place, or the trans flag that does not match the data, gives another D. */
Test(wgmma, emulation_mn_major_wrong_strides_give_a_wrong_product)
{
  static float a[64 * 16], b[64 * 16];
  fill_ab(a, 64, b, 64, 16);
  memset(c0, 0, sizeof c0);
  reference(64, 16, 0, a, b);
  /* none (MN-adjacent) and 32B (A spans four atoms along M: LBO is used) */
  const struct mn_layout *cases[] = {&mn_layouts[0], &mn_layouts[4], &mn_layouts[5]};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const struct mn_layout *m = cases[c];
    memset(image, 0xee, sizeof image);
    place_operand(AT_EMU_F16, 64, 16, a, A_AT, 1, m->swizzle, m->lbo_a, m->sbo_a, NULL, 0,
                  0);
    place_operand(AT_EMU_F16, 64, 16, b, B_AT, 1, m->swizzle, m->lbo_b, m->sbo_b, NULL, 0,
                  0);
    unsigned long long da = at_wgmma_desc_encode(A_AT, m->lbo_a, m->sbo_a, m->swizzle);
    unsigned long long db = at_wgmma_desc_encode(B_AT, m->lbo_b, m->sbo_b, m->swizzle);
    cr_assert_eq(compare_t(AT_EMU_F16, 64, 1, 1, da, db, 0, 1, m->name), 0, "%s", m->name);
    struct {
      const char *what;
      unsigned long long da;
      int trans_a;
    } wrong[] = {
        {"LBO and SBO swapped", at_wgmma_desc_encode(A_AT, m->sbo_a, m->lbo_a, m->swizzle),
         1},
        {"SBO doubled", at_wgmma_desc_encode(A_AT, m->lbo_a, 2 * m->sbo_a, m->swizzle), 1},
        {"LBO doubled", at_wgmma_desc_encode(A_AT, 2 * m->lbo_a, m->sbo_a, m->swizzle), 1},
        {"LBO + 16", at_wgmma_desc_encode(A_AT, m->lbo_a + 16, m->sbo_a, m->swizzle), 1},
        {"read as K-major (imm-trans-a 0)", da, 0},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
      char what[128];
      snprintf(what, sizeof what, "%s: %s", m->name, wrong[i].what);
      cr_assert_gt(
          compare_t(AT_EMU_F16, 64, wrong[i].trans_a, 1, wrong[i].da, db, 0, 0, what), 0,
          "%s: the product did not change", what);
    }
  }
  /* and K-major data read as MN-major */
  place(AT_EMU_F16, &layouts[0], 64, 16, a, b);
  unsigned long long ka = at_wgmma_desc_encode(A_AT, layouts[0].lbo_a, layouts[0].sbo_a, 0);
  unsigned long long kb = at_wgmma_desc_encode(B_AT, layouts[0].lbo_b, layouts[0].sbo_b, 0);
  cr_assert_eq(compare_t(AT_EMU_F16, 64, 0, 0, ka, kb, 0, 1, "K-major"), 0);
  cr_assert_gt(compare_t(AT_EMU_F16, 64, 0, 1, ka, kb, 0, 0, "B read as N-major"), 0);
  cr_assert_gt(compare_t(AT_EMU_F16, 64, 1, 0, ka, kb, 0, 0, "A read as M-major"), 0);
}

/* at_wgmma_mnmajor_offset (what kernels place tiles with) agrees with the document, over
 * whole tiles (M/N < 256, k < 64) and several LBO/SBO. */
Test(wgmma, mnmajor_offset_is_the_canonical_layout)
{
  const int swz[] = {AT_WGMMA_SWIZZLE_NONE, AT_WGMMA_SWIZZLE_128B, AT_WGMMA_SWIZZLE_64B,
                     AT_WGMMA_SWIZZLE_32B};
  const unsigned strides[][2] = {{128, 4096}, {4096, 128}, {8192, 1024}, {1024, 2048}};
  for (int s = 0; s < 4; s++)
    for (int st = 0; st < 4; st++)
      for (int mn = 0; mn < 256; mn++)
        for (int k = 0; k < 64; k++) {
          unsigned lbo = strides[st][0], sbo = strides[st][1];
          cr_assert_eq(at_wgmma_mnmajor_offset(mn, k, swz[s], lbo, sbo),
                       doc_offset_mn(swz[s], mn, k, lbo, sbo),
                       "swizzle %d LBO %u SBO %u mn %d k %d", swz[s], lbo, sbo, mn, k);
        }
  /* the document's worked examples (bf16, in elements): "MN-Major, no-swizzling":
   * ((8,1,2),(8,2)):((1,8,64),(8,128)), LBO 128, SBO 64; "MN-Major, 32B swizzling":
   * ((8,2,2),(8,2)):((1,8,128),(16,256)), LBO 128, SBO 256, before Swizzle<1,4,3>;
   * "MN-Major, 64B swizzling": ((8,4,2),(8,2)):((1,8,256),(32,512)), LBO 256, SBO 512 */
  for (int mn = 0; mn < 64; mn++)
    for (int k = 0; k < 16; k++) {
      unsigned none = (unsigned)(mn % 8 + 64 * (mn / 8) + 8 * (k % 8) + 128 * (k / 8));
      if (mn < 16)
        cr_assert_eq(at_wgmma_mnmajor_offset(mn, k, AT_WGMMA_SWIZZLE_NONE, 256, 128),
                     2u * none, "none mn %d k %d", mn, k);
      unsigned e32 = (unsigned)(mn % 8 + 8 * (mn / 8 % 2) + 128 * (mn / 16 % 2) +
                                16 * (k % 8) + 256 * (k / 8));
      if (mn < 32)
        cr_assert_eq(at_wgmma_mnmajor_offset(mn, k, AT_WGMMA_SWIZZLE_32B, 256, 512),
                     at_wgmma_swizzle_offset(2u * e32, AT_WGMMA_SWIZZLE_32B),
                     "32B mn %d k %d", mn, k);
      unsigned e64 = (unsigned)(mn % 8 + 8 * (mn / 8 % 4) + 256 * (mn / 32 % 2) +
                                32 * (k % 8) + 512 * (k / 8));
      cr_assert_eq(at_wgmma_mnmajor_offset(mn, k, AT_WGMMA_SWIZZLE_64B, 512, 1024),
                   at_wgmma_swizzle_offset(2u * e64, AT_WGMMA_SWIZZLE_64B),
                   "64B mn %d k %d", mn, k);
    }
}

/* The check can fail: a descriptor that disagrees with the data's layout gives another D.
 */
Test(wgmma, emulation_wrong_strides_give_a_wrong_product)
{
  static float a[64 * 16], b[64 * 16];
  fill_ab(a, 64, b, 64, 16);
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
  /* The answer is memoized per descriptor, image size and layout: asked again with a
   * smaller image, or as the other layout, it must not be the remembered one. */
  cr_assert_null(at_emu_wgmma_m64nNk16(AT_EMU_F16, 64, image, IMAGE, db, db, 0, d));
  cr_assert_not_null(at_emu_wgmma_m64nNk16(AT_EMU_F16, 64, image, 1024, db, db, 0, d));
  unsigned long long dt = 0;
  int in = 0; /* the layout dt fits as */
  for (unsigned start = 0; start < IMAGE && !dt; start += 16)
    for (int t = 0; t < 2 && !dt; t++) {
      unsigned long long x = at_wgmma_desc_encode(start, 16, 1024, AT_WGMMA_SWIZZLE_128B);
      if (at_emu_wgmma_inside(x, t, 0, 64, IMAGE) && !at_emu_wgmma_inside(x, !t, 0, 64, IMAGE))
        dt = x, in = t;
    }
  cr_assert_neq(dt, 0ull, "a descriptor inside as one layout and outside as the other");
  cr_assert_null(at_emu_wgmma_m64nNk16_t(AT_EMU_F16, 64, in, 0, image, IMAGE, dt, db, 0, d));
  cr_assert_not_null(at_emu_wgmma_m64nNk16_t(AT_EMU_F16, 64, !in, 0, image, IMAGE, dt, db, 0, d));
}

/* ---- the kernels on the host device ------------------------------------------------- */

static const char *const include_dirs[] = {COMMON, NULL};

struct run {
  int kind, n, layout, mode;
  unsigned threads;
  unsigned short *a, *b;
  float *out, *early;
};

/* Inputs for a run: A per warpgroup (64 x 64) and B (n x 64), small integers. */
static void run_inputs(struct th_hostk *k, struct run *r)
{
  int groups = (int)r->threads / 128;
  r->a = th_hostk_buf(k, (size_t)groups * 64 * 64 * 2);
  r->b = th_hostk_buf(k, (size_t)r->n * 64 * 2);
  r->out = th_hostk_buf(k, (size_t)groups * 64 * (size_t)r->n * 4);
  r->early = th_hostk_buf(k, (size_t)groups * 64 * (size_t)r->n * 4);
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

static void run_kernel(struct th_hostk *k, struct run *r)
{
  char name[32];
  snprintf(name, sizeof name, "wg_%s_n%d", r->kind == AT_EMU_F16 ? "f16" : "bf16", r->n);
  void *args[] = {&r->a, &r->b, &r->out, &r->early, &r->layout, &r->mode};
  unsigned shared = (r->threads / 128) * 8192 + (unsigned)r->n * 128;
  int rc = th_hostk_launch(k, name, 1, r->threads, shared, "ppppii", args);
  cr_assert_eq(rc, AT_OK, "%s layout %d mode %d, %u threads: %s", name, r->layout, r->mode,
               r->threads, at_last_error());
}

static void run_free(struct th_hostk *k, struct run *r)
{
  th_hostk_release(k, r->a), th_hostk_release(k, r->b);
  th_hostk_release(k, r->out), th_hostk_release(k, r->early);
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
  struct th_hostk k;
  th_hostk_load(&k, PL "/wgmma_kernels.cu", "host", include_dirs);
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
  th_hostk_close(&k);
}

Test(wgmma, host_kernel_f16_products, .timeout = 300) { host_products(AT_EMU_F16); }
Test(wgmma, host_kernel_bf16_products, .timeout = 300) { host_products(AT_EMU_BF16); }

/* mode 1: the accumulators are untouched until the wait, and shared memory overwritten
 * before it is what the product reads (A zeroed: D = 0). mode 2: wait_group 1 completes
 * the older group only (k < 32), wait_group 0 the rest. */
Test(wgmma, host_kernel_results_land_at_wait_group, .timeout = 300)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/wgmma_kernels.cu", "host", include_dirs);
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
  th_hostk_close(&k);
}

/* A from registers (mode 4: the RS form in a kernel, every K-major layout of B, one and
 * two warpgroups) gives the product; an accumulator (mode 3) or one of A's registers
 * (mode 5) written after the issue and before the wait_group that completes it fails the
 * launch, naming which (the PTX leaves it undefined: on a GPU it may or may not show).
 * Operands staged by cp.async (mode 6) give the product after a fence.proxy.async, and
 * fail the launch without one (mode 7); so do operands staged by plain stores (mode 8;
 * with the fence, mode 0 everywhere). */
Test(wgmma, host_kernel_operands_written_before_the_wait_fail, .timeout = 300)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/wgmma_kernels.cu", "host", include_dirs);
  for (int kind = AT_EMU_F16; kind <= AT_EMU_BF16; kind++)
    for (int layout = 0; layout < 5; layout++)
      for (unsigned threads = 128; threads <= 256; threads += 128) {
        struct run r = {.kind = kind, .n = 128, .layout = layout, .mode = 4,
                        .threads = threads};
        run_inputs(&k, &r);
        run_kernel(&k, &r);
        run_check(&r);
        run_free(&k, &r);
      }
  /* A and B staged by cp.async and fenced (mode 6): the product */
  for (int layout = 0; layout < 5; layout++) {
    struct run r = {.kind = AT_EMU_BF16, .n = 64, .layout = layout, .mode = 6,
                    .threads = 256};
    run_inputs(&k, &r);
    run_kernel(&k, &r);
    run_check(&r);
    run_free(&k, &r);
  }
  static const struct {
    int mode;
    const char *says;
  } bad[] = {{3, "accumulators of a wgmma.mma_async were written before"},
             {5, "A registers of a wgmma.mma_async (A from registers) were written before"},
             {7, "wrote (cp.async or st.shared), with no fence.proxy.async of that thread"},
             {8, "wrote (cp.async or st.shared), with no fence.proxy.async of that thread"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct run r = {.kind = AT_EMU_F16, .n = 64, .layout = 1, .mode = bad[i].mode,
                    .threads = 128};
    run_inputs(&k, &r);
    void *args[] = {&r.a, &r.b, &r.out, &r.early, &r.layout, &r.mode};
    int rc = th_hostk_launch(&k, "wg_f16_n64", 1, 128, 8192 + 64 * 128, "ppppii", args);
    cr_assert_neq(rc, AT_OK, "mode %d launched", bad[i].mode);
    cr_assert_not_null(strstr(at_last_error(), bad[i].says), "mode %d: %s", bad[i].mode,
                       at_last_error());
    run_free(&k, &r);
    /* the failed launch's pending work is not the next launch's (at_host_emu.h's tags) */
    for (int mode = 0; mode <= 4; mode += 4) {
      struct run g = {.kind = AT_EMU_F16, .n = 64, .layout = 1, .mode = mode, .threads = 128};
      run_inputs(&k, &g);
      run_kernel(&k, &g);
      run_check(&g);
      run_free(&k, &g);
    }
  }
  th_hostk_close(&k);
}

/* Blocks that are not whole warpgroups, and a matrix in static shared memory. */
Test(wgmma, host_launch_fails_without_whole_warpgroups, .timeout = 120)
{
  struct th_hostk k;
  th_hostk_load(&k, PL "/wgmma_kernels.cu", "host", include_dirs);
  struct run r = {.kind = AT_EMU_F16, .n = 64, .layout = 0, .mode = 0, .threads = 128};
  run_inputs(&k, &r);
  void *args[] = {&r.a, &r.b, &r.out, &r.early, &r.layout, &r.mode};
  const unsigned bad_sizes[] = {32, 96, 160, 224};
  for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
    int rc = th_hostk_launch(&k, "wg_f16_n64", 1, bad_sizes[i], 2 * 8192 + 64 * 128, "ppppii",
                             args);
    cr_assert_neq(rc, AT_OK, "%u threads launched", bad_sizes[i]);
    cr_assert_not_null(strstr(at_last_error(), "warpgroups"), "%u threads: %s",
                       bad_sizes[i], at_last_error());
  }
  void *sargs[] = {&r.out};
  int rc = th_hostk_launch(&k, "wg_static_smem", 1, 128, 0, "p", sargs);
  cr_assert_neq(rc, AT_OK);
  cr_assert_not_null(strstr(at_last_error(), "dynamic shared memory"), "%s",
                     at_last_error());
  /* and the device still works after the failures */
  run_kernel(&k, &r);
  run_check(&r);
  run_free(&k, &r);
  th_hostk_close(&k);
}

/* ---- CUDA: NVRTC and nvcc ------------------------------------------------------------ */

static const char *const kernels[] = {
    "wg_f16_n64",    "wg_f16_n128",    "wg_f16_n256",    "wg_bf16_n64",
    "wg_bf16_n128",  "wg_bf16_n256",   "wgp_f16_n64",    "wgp_f16_n128",
    "wgp_f16_n256",  "wgp_bf16_n64",   "wgp_bf16_n128",  "wgp_bf16_n256",
    "wgpt_f16_n64",  "wgpt_f16_n128",  "wgpt_f16_n256",  "wgpt_bf16_n64",
    "wgpt_bf16_n128", "wgpt_bf16_n256"};

static void nvrtc_compile(const char *arch, const char *const *flags, struct cc_result *r)
{
  char *src = th_read_pl("wgmma_kernels.cu");
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
  th_need_cc(&cc_nvrtc);
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
    cr_log_info("ptxas reports on the wgmma pipeline (expected for the wg_* kernels, which "
                "read accumulators early on purpose)");
  /* The probe must exercise asynchronous wgmma: ptxas serializes none of wgp_*. */
  for (const char *line = r.log; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
    cr_assert(
        !(strstr(buf, "serialized") && (strstr(buf, "'wgp_") || strstr(buf, "'wgpt_"))),
        "%s", buf);
    line = end ? end + 1 : NULL;
  }
  if (!strstr(r.log, "serialized"))
    cr_log_info("ptxas reported no serialized wgmma, not even for wg_*: the check above "
                "may not see ptxas's messages");
  cc_result_release(&r);
}

Test(wgmma, nvrtc_sm90_takes_the_fallback, .timeout = 300)
{
  th_need_cc(&cc_nvrtc);
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
  th_need_cc(&cc_nvrtc);
  const char *const force[] = {"-DAT_HAS_WGMMA=1", NULL};
  struct cc_result r;
  nvrtc_compile("sm_90", force, &r);
  cr_assert_eq(r.status, CC_COMPILE_ERROR, "wgmma compiled for sm_90");
  cr_assert_not_null(strstr(r.log, "wgmma"), "log: %s", r.log);
  cc_result_release(&r);
}

Test(wgmma, sm90a_ptx_holds_the_instructions, .timeout = 300)
{
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
      /* the trans immediates (imm-scale-a, imm-scale-b, imm-trans-a, imm-trans-b) */
      "p, 1, 1, 0, 0;",
      "p, 1, 1, 1, 0;",
      "p, 1, 1, 0, 1;",
      "p, 1, 1, 1, 1;",
  };
  th_assert_ptx_has("wgmma_kernels.cu", "sm_90a", want_ptx,
                    sizeof want_ptx / sizeof want_ptx[0]);
}

/* ---- the probe: wgp_* against the reference and the emulation, here and on an H100 --- */

/* A device to run wgmma_kernels.cu on: the host device (cc_host + meas_host) or the
 * first CUDA device (meas_cuda), through the same backend vtable, so the checks the
 * GPU tests make are themselves tested here, on the emulator. */
struct dev {
  const struct meas_backend *be;
  struct meas_ctx *ctx;
  meas_module mod;
  char name[128], arch[16];
  int runs; /* launches checked so far */
};

static void dev_host(struct dev *v)
{
  memset(v, 0, sizeof *v);
  struct th_hostk k;
  th_hostk_load(&k, PL "/wgmma_kernels.cu", "host", include_dirs);
  v->be = &meas_host, v->ctx = k.ctx, v->mod = k.mod;
  snprintf(v->name, sizeof v->name, "the host device");
  snprintf(v->arch, sizeof v->arch, "host");
}

/* Where tests/data/pl and templates/common are: $AT_PL_SOURCE_DIR (a checkout copied to
 * the GPU machine, as for test_matrix_core's probe) or this build's source folder. */
static const char *source_dir(void)
{
  const char *s = getenv("AT_PL_SOURCE_DIR");
  return s && *s ? s : AT_SOURCE_DIR;
}

/* Open the first CUDA device and load the kernels: the cubin named by
 * $AT_WGMMA_PROBE_CUBIN (bench/gpu/prepare.sh builds it with nvcc), else NVRTC for
 * sm_90a. Skips without a CUDA device or when it is not sm_90. */
static void dev_cuda(struct dev *v)
{
  memset(v, 0, sizeof *v);
  v->be = &meas_cuda;
  if (meas_cuda.open(0, &v->ctx) != AT_OK)
    cr_skip_test("no CUDA device here (%s); see tests/data/pl/README.md", at_last_error());
  cr_assert_eq(meas_cuda.describe(v->ctx, v->name, sizeof v->name, v->arch, sizeof v->arch),
               AT_OK, "%s", at_last_error());
  cr_log_info("gpu probe on %s (%s)", v->name, v->arch);
  if (strcmp(v->arch, "sm_90") != 0) {
    meas_cuda.close(v->ctx);
    cr_skip_test("%s is %s: wgmma needs sm_90 (the probe is compiled for sm_90a)", v->name,
                 v->arch);
  }
  struct cc_result res = {0};
  const char *cubin = getenv("AT_WGMMA_PROBE_CUBIN");
  unsigned char *code;
  size_t size;
  if (cubin && *cubin) {
    cr_assert_eq(os_read_file(cubin, &code, &size), AT_OK, "%s", at_last_error());
  } else {
    char path[4096], inc[4096], why[256] = "";
    snprintf(path, sizeof path, "%s/tests/data/pl/wgmma_kernels.cu", source_dir());
    snprintf(inc, sizeof inc, "%s/templates/common", source_dir());
    unsigned char *src;
    cr_assert_eq(os_read_file(path, &src, &size), AT_OK, "%s", at_last_error());
    cr_assert(cc_nvrtc.available(why, sizeof why),
              "NVRTC: %s (or set AT_WGMMA_PROBE_CUBIN)", why);
    const char *incs[] = {inc, NULL};
    struct cc_request req = {.source = (const char *)src,
                             .name = "wgmma_kernels.cu",
                             .arch = "sm_90a",
                             .include_dirs = incs};
    cr_assert_eq(cc_nvrtc.compile(&req, &res), AT_OK, "%s", at_last_error());
    cr_assert_eq(res.status, CC_OK, "%s", res.log);
    free(src);
    code = res.code, size = res.code_size;
  }
  cr_assert_eq(meas_cuda.load(v->ctx, code, size, &v->mod), AT_OK, "%s", at_last_error());
  if (code != res.code)
    free(code);
  cc_result_release(&res);
}

static void dev_close(struct dev *v)
{
  v->be->unload(v->ctx, v->mod);
  v->be->close(v->ctx);
}

static meas_ptr dev_put(struct dev *v, const void *data, size_t bytes)
{
  meas_ptr p;
  cr_assert_eq(v->be->alloc(v->ctx, bytes, &p), AT_OK, "%s", at_last_error());
  if (data)
    cr_assert_eq(v->be->upload(v->ctx, p, data, bytes), AT_OK, "%s", at_last_error());
  else /* NaN: an element the kernel never writes cannot match */
    cr_assert_eq(v->be->fill(v->ctx, p, 0xff, bytes), AT_OK, "%s", at_last_error());
  return p;
}

static void dev_get(struct dev *v, void *dst, meas_ptr src, size_t bytes)
{
  cr_assert_eq(v->be->download(v->ctx, dst, src, bytes), AT_OK, "%s", at_last_error());
  v->be->free(v->ctx, src);
}

/* The layouts of wgmma_kernels.cu (its header comment), re-derived from the document's
 * canonical forms (doc_offset) rather than the header's at_wgmma_kmajor_offset. */
static int probe_swizzle(int layout)
{
  static const int mode[] = {AT_WGMMA_SWIZZLE_NONE, AT_WGMMA_SWIZZLE_128B,
                             AT_WGMMA_SWIZZLE_64B, AT_WGMMA_SWIZZLE_32B,
                             AT_WGMMA_SWIZZLE_NONE};
  return mode[layout % 5];
}
static int probe_mn(int layout) { return layout >= 5; } /* 5-9: MN-major (imm-trans 1) */
static unsigned probe_row_bytes(int layout) /* the swizzle pattern's row; 0: none */
{
  static const unsigned bytes[] = {0, 128, 64, 32, 0};
  return bytes[layout % 5];
}
static unsigned probe_lbo(int layout, int rows)
{
  if (probe_mn(layout)) /* none M/N-adjacent, K-adjacent; swizzled: past all 64 k */
    return layout == 5   ? (unsigned)rows * 16u
           : layout == 9 ? 128u
                         : 64u * probe_row_bytes(layout);
  return layout == 0 ? 128u : layout == 4 ? (unsigned)rows * 16u : 16u;
}
static unsigned probe_sbo(int layout)
{
  if (probe_mn(layout)) /* none M/N-adjacent, K-adjacent; swizzled: one atom */
    return layout == 5 ? 128u : layout == 9 ? 1024u : 8u * probe_row_bytes(layout);
  return layout == 0 ? 1024u : layout == 4 ? 128u : 8u * probe_row_bytes(layout);
}
/* element (row, k < 64) of a tile of `rows` rows */
static unsigned probe_offset(int layout, int rows, int row, int k)
{
  unsigned sb = probe_row_bytes(layout), lbo = probe_lbo(layout, rows);
  if (probe_mn(layout))
    return doc_offset_mn(probe_swizzle(layout), row, k, lbo, probe_sbo(layout));
  if (sb == 0)
    return doc_offset(AT_WGMMA_SWIZZLE_NONE, row, k, lbo, probe_sbo(layout));
  int per_row = (int)sb / 2;
  return (unsigned)(k / per_row) * (unsigned)rows * sb +
         doc_offset(probe_swizzle(layout), row, k % per_row, lbo, probe_sbo(layout));
}
/* where K-slice s (k = 16s..16s+15) starts */
static unsigned probe_step(int layout, int rows, int s)
{
  unsigned sb = probe_row_bytes(layout);
  if (probe_mn(layout)) /* two groups of 8 k: LBO apart (none) or SBO apart (swizzled) */
    return 2u * (unsigned)s * (sb == 0 ? probe_lbo(layout, rows) : probe_sbo(layout));
  if (sb == 0)
    return 2u * (unsigned)s * probe_lbo(layout, rows);
  unsigned per_row = sb / 2, k0 = 16u * (unsigned)s;
  return k0 / per_row * (unsigned)rows * sb + 2u * (k0 % per_row);
}

static const char *const layout_names[] = {
    "no swizzle (K-adjacent)",    "128B swizzle",       "64B swizzle",
    "32B swizzle",                "no swizzle (MN-adjacent)",
    "MN-major, no swizzle (MN-adjacent)", "MN-major, 128B swizzle", "MN-major, 64B swizzle",
    "MN-major, 32B swizzle",      "MN-major, no swizzle (K-adjacent)"};

/* One launch of wgp_<kind>_n<n>: C + A * B^T over ksteps K-slices (the first with
 * scale-d = scale_d), A in layout_a, B in layout_b, threads / 128 warpgroups. */
struct probe {
  int kind, n, layout_a, layout_b, ksteps, scale_d;
  unsigned threads;
};

static unsigned lcg(unsigned *s)
{
  *s = *s * 1664525u + 1013904223u;
  return *s >> 16;
}

/* Run p on v and compare all of D, element by element, with (a) the integer product
 * and (b) at_emu_wgmma_m64nNk16 over an image of the kernel's shared memory; fails on
 * the first element that differs, naming its warpgroup, row, column, thread and register.
 * The inputs are small integers (|A|, |B| <= 4, |C| <= 8), rows and columns pseudo-random
 * (a misplaced row or k cannot hide behind a repeated one), so every partial sum is exact
 * and every correct result is the same bits everywhere. */
static void probe_run(struct dev *v, const struct probe *p)
{
  int groups = (int)p->threads / 128, n = p->n, half = n / 2;
  size_t na = (size_t)groups * 64 * 64, nb = (size_t)n * 64, nd = (size_t)groups * 64 * n;
  unsigned short *a = malloc(na * 2), *b = malloc(nb * 2);
  float *c = malloc(nd * 4), *out = malloc(nd * 4), *ref = malloc(nd * 4);
  float *emu = malloc((size_t)groups * 128 * (size_t)half * 4);
  unsigned tiles = (unsigned)groups * 8192u + (unsigned)n * 128u;
  unsigned char *img = malloc(tiles);
  cr_assert(a && b && c && out && ref && emu && img);
  unsigned seed = (unsigned)(p->kind * 7919 + n * 31 + p->layout_a * 5 + p->layout_b * 3 +
                             p->ksteps + p->scale_d * 17 + (int)p->threads);
  for (size_t i = 0; i < na; i++)
    a[i] = bits_of(p->kind, (float)((int)(lcg(&seed) % 9) - 4));
  for (size_t i = 0; i < nb; i++)
    b[i] = bits_of(p->kind, (float)((int)(lcg(&seed) % 9) - 4));
  for (size_t i = 0; i < nd; i++)
    c[i] = (float)((int)(lcg(&seed) % 17) - 8);

  char what[160];
  snprintf(what, sizeof what, "%s n%d, A %s, B %s, %d k-step%s, scale-d %d, %u threads",
           p->kind == AT_EMU_F16 ? "f16" : "bf16", n, layout_names[p->layout_a],
           layout_names[p->layout_b], p->ksteps, p->ksteps > 1 ? "s in one group" : "",
           p->scale_d, p->threads);

  /* the device */
  char kernel[32];
  int ta = probe_mn(p->layout_a), tb = probe_mn(p->layout_b);
  snprintf(kernel, sizeof kernel, "%s_%s_n%d", ta || tb ? "wgpt" : "wgp",
           p->kind == AT_EMU_F16 ? "f16" : "bf16", n);
  meas_ptr da = dev_put(v, a, na * 2), db = dev_put(v, b, nb * 2);
  meas_ptr dc = dev_put(v, c, nd * 4);
  meas_ptr dout = dev_put(v, NULL, nd * 4), daddr = dev_put(v, NULL, 4);
  int la = p->layout_a, lb = p->layout_b, ks = p->ksteps, sd = p->scale_d;
  void *args[] = {&da, &db, &dc, &dout, &daddr, &la, &lb, &ks, &sd};
  meas_kernel k;
  cr_assert_eq(v->be->kernel(v->ctx, v->mod, kernel, &k), AT_OK, "%s", at_last_error());
  struct meas_launch l = {.kernel = k,
                          .grid = {1, 1, 1},
                          .block = {p->threads, 1, 1},
                          .shared_bytes = tiles + 1024, /* room to align the tiles */
                          .args = args,
                          .arg_kinds = "pppppiiii"};
  int rc = v->be->launch(v->ctx, &l);
  if (rc == AT_OK)
    rc = v->be->sync(v->ctx);
  cr_assert_eq(rc, AT_OK, "%s on %s: %s: %s", kernel, v->name, what, at_last_error());
  unsigned addr = 0;
  dev_get(v, out, dout, nd * 4);
  dev_get(v, &addr, daddr, 4);
  v->be->free(v->ctx, da), v->be->free(v->ctx, db), v->be->free(v->ctx, dc);

  /* (a) the reference */
  for (int g = 0; g < groups; g++)
    for (int m = 0; m < 64; m++)
      for (int col = 0; col < n; col++) {
        size_t at = (size_t)((g * 64 + m) * n + col);
        long s = p->scale_d ? (long)c[at] : 0;
        for (int kk = 0; kk < 16 * p->ksteps; kk++)
          s += (long)in_value(p->kind, a[g * 4096 + m * 64 + kk]) *
               (long)in_value(p->kind, b[col * 64 + kk]);
        ref[at] = (float)s;
      }
  /* (b) the emulation, over the kernel's shared memory as the document lays it out */
  memset(img, 0xee, tiles);
  for (int g = 0; g < groups; g++)
    for (int m = 0; m < 64; m++)
      for (int kk = 0; kk < 64; kk++)
        memcpy(img + g * 8192 + probe_offset(p->layout_a, 64, m, kk),
               &a[g * 4096 + m * 64 + kk], 2);
  for (int col = 0; col < n; col++)
    for (int kk = 0; kk < 64; kk++)
      memcpy(img + groups * 8192 + probe_offset(p->layout_b, n, col, kk), &b[col * 64 + kk],
             2);
  for (int g = 0; g < groups; g++) {
    float *dg = emu + g * 128 * half;
    for (int t = 0; t < 128; t++)
      for (int i = 0; i < half; i++) {
        int r, col;
        doc_d(t, i, &r, &col);
        dg[t * half + i] = c[(g * 64 + r) * n + col];
      }
    for (int s = 0; s < p->ksteps; s++) {
      unsigned long long desc_a = at_wgmma_desc_encode(
          (unsigned)g * 8192u + probe_step(p->layout_a, 64, s), probe_lbo(p->layout_a, 64),
          probe_sbo(p->layout_a), probe_swizzle(p->layout_a));
      unsigned long long desc_b = at_wgmma_desc_encode(
          (unsigned)groups * 8192u + probe_step(p->layout_b, n, s),
          probe_lbo(p->layout_b, n), probe_sbo(p->layout_b), probe_swizzle(p->layout_b));
      const char *why = at_emu_wgmma_m64nNk16_t(p->kind, n, ta, tb, img, tiles, desc_a,
                                                desc_b, s > 0 ? 1 : p->scale_d, dg);
      cr_assert_null(why, "%s: emulation: %s", what, why);
    }
  }

  /* every element, by fragment: the figure's row and column of (thread, register) */
  int bad = 0;
  char first[384] = "";
  for (int g = 0; g < groups; g++)
    for (int t = 0; t < 128; t++)
      for (int i = 0; i < half; i++) {
        int r, col;
        doc_d(t, i, &r, &col);
        int at = (g * 64 + r) * n + col;
        float got = out[at], e = emu[(g * 128 + t) * half + i];
        cr_assert_eq(e, ref[at], "%s: the emulation itself is wrong at D[%d][%d]: %g, "
                                 "want %g",
                     what, r, col, (double)e, (double)ref[at]);
        unsigned got_bits;
        memcpy(&got_bits, &got, 4);
        if (memcmp(&got, &e, 4) != 0 && bad++ == 0)
          snprintf(first, sizeof first,
                   "warpgroup %d D[%d][%d] (thread %d, d%d): %s %.9g (bits %#x), reference "
                   "and emulation %.9g",
                   g, r, col, t, i, v->arch, (double)got, got_bits,
                   (double)e);
      }
  if (v->runs++ == 0)
    cr_log_info("%s: dynamic shared memory starts at shared address %#x (%s1024-byte "
                "aligned; the probe aligns its tiles itself)",
                v->name, addr, addr % 1024 ? "not " : "");
  cr_assert_eq(bad, 0, "%s on %s: %d of %zu elements differ from the reference and the "
                       "emulation; first: %s",
               what, v->name, bad, nd, first);
  free(a), free(b), free(c), free(out), free(ref), free(emu), free(img);
}

/* The cases for (kind, n) and the layouts of one swizzle mode: one and two warpgroups;
 * one wgmma with scale-d 0 and 1; four wgmmas over the K-slices of the 64-wide tiles in
 * one commit group, with scale-d 0 and 1; and A and B in different layouts (a k order
 * misread the same way in both operands would cancel out otherwise). */
static int probe_cases(struct dev *v, int kind, int n, const int *lays, int nlays)
{
  int cases = 0;
  for (int li = 0; li < nlays; li++) {
    /* the other operand: another K-major layout, or for an MN-major one the K-major
     * layout of the same swizzle (one operand transposed, the other not) */
    int lay = lays[li], other = lay >= 5 ? lay - 5 : lay == 0 ? 1 : 0;
    for (unsigned threads = 128; threads <= 256; threads += 128)
      for (int ksteps = 1; ksteps <= 4; ksteps += 3)
        for (int scale_d = 0; scale_d <= 1; scale_d++) {
          struct probe p = {kind, n, lay, lay, ksteps, scale_d, threads};
          probe_run(v, &p);
          cases++;
        }
    struct probe mixed_a = {kind, n, lay, other, 4, 1, 128};
    struct probe mixed_b = {kind, n, other, lay, 4, 1, 256};
    probe_run(v, &mixed_a);
    probe_run(v, &mixed_b);
    cases += 2;
  }
  return cases;
}

static const int no_swizzle[] = {0, 4}, swz128[] = {1}, swz64[] = {2}, swz32[] = {3};
static const int mn_no_swizzle[] = {5, 9}, mn_swz128[] = {6}, mn_swz64[] = {7},
                 mn_swz32[] = {8};

static void gpu_probe(int kind, int n, const int *lays, int nlays, const char *swz)
{
  struct dev v;
  dev_cuda(&v);
  int cases = probe_cases(&v, kind, n, lays, nlays);
  dev_close(&v);
  fprintf(stderr,
          "gpu probe: wgmma m64n%dk16 %s %s (%d launches: 1/2 warpgroups, scale-d 0/1, 1 "
          "and 4 k-steps in one group, A/B in mixed layouts): pass\n",
          n, kind == AT_EMU_F16 ? "f16" : "bf16", swz, cases);
}

#define GPU_PROBE(kind, kname, n, lays, sname, swz)                                        \
  Test(wgmma, gpu_##kname##_n##n##_##sname, .timeout = 300)                                \
  {                                                                                        \
    gpu_probe(kind, n, lays, (int)(sizeof lays / sizeof lays[0]), swz);                    \
  }
#define GPU_PROBE_N(kind, kname, lays, sname, swz)                                         \
  GPU_PROBE(kind, kname, 64, lays, sname, swz)                                             \
  GPU_PROBE(kind, kname, 128, lays, sname, swz)                                            \
  GPU_PROBE(kind, kname, 256, lays, sname, swz)
GPU_PROBE_N(AT_EMU_F16, f16, no_swizzle, noswizzle, "no swizzle")
GPU_PROBE_N(AT_EMU_F16, f16, swz32, 32b, "32B swizzle")
GPU_PROBE_N(AT_EMU_F16, f16, swz64, 64b, "64B swizzle")
GPU_PROBE_N(AT_EMU_F16, f16, swz128, 128b, "128B swizzle")
GPU_PROBE_N(AT_EMU_BF16, bf16, no_swizzle, noswizzle, "no swizzle")
GPU_PROBE_N(AT_EMU_BF16, bf16, swz32, 32b, "32B swizzle")
GPU_PROBE_N(AT_EMU_BF16, bf16, swz64, 64b, "64B swizzle")
GPU_PROBE_N(AT_EMU_BF16, bf16, swz128, 128b, "128B swizzle")
/* the transposed forms: A and B MN-major (imm-trans 1), and each alone */
GPU_PROBE_N(AT_EMU_F16, f16, mn_no_swizzle, mn_noswizzle, "MN-major no swizzle")
GPU_PROBE_N(AT_EMU_F16, f16, mn_swz32, mn_32b, "MN-major 32B swizzle")
GPU_PROBE_N(AT_EMU_F16, f16, mn_swz64, mn_64b, "MN-major 64B swizzle")
GPU_PROBE_N(AT_EMU_F16, f16, mn_swz128, mn_128b, "MN-major 128B swizzle")
GPU_PROBE_N(AT_EMU_BF16, bf16, mn_no_swizzle, mn_noswizzle, "MN-major no swizzle")
GPU_PROBE_N(AT_EMU_BF16, bf16, mn_swz32, mn_32b, "MN-major 32B swizzle")
GPU_PROBE_N(AT_EMU_BF16, bf16, mn_swz64, mn_64b, "MN-major 64B swizzle")
GPU_PROBE_N(AT_EMU_BF16, bf16, mn_swz128, mn_128b, "MN-major 128B swizzle")

/* The same cases on the host device: the probe kernels, the image the emulation reads
 * and the comparison agree here, so a gpu_* failure is about the hardware. */
Test(wgmma, host_probe_matches_reference_and_emulation, .timeout = 600)
{
  static const int all[] = {0, 1, 2, 3, 4};
  struct dev v;
  dev_host(&v);
  for (int kind = 0; kind < 2; kind++)
    probe_cases(&v, kind ? AT_EMU_BF16 : AT_EMU_F16, kind ? 128 : 64, all, 5);
  struct probe wide[] = {{AT_EMU_F16, 256, 1, 4, 4, 0, 256},
                         {AT_EMU_BF16, 256, 3, 2, 4, 1, 128}};
  for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
    probe_run(&v, &wide[i]);
  dev_close(&v);
}

/* The transposed forms on the host device, through the wgpt_* kernels: every MN-major
 * layout for A and B together and each alone, f16 and bf16, N = 64, 128, 256. */
static void host_mn_products(int kind)
{
  static const int mn[] = {5, 6, 7, 8, 9};
  const int ns[] = {64, 128, 256};
  struct dev v;
  dev_host(&v);
  for (int ni = 0; ni < 3; ni++)
    for (size_t l = 0; l < sizeof mn / sizeof mn[0]; l++) {
      struct probe both = {kind, ns[ni], mn[l], mn[l], 4, 1, ni == 1 ? 256u : 128u};
      struct probe only_a = {kind, ns[ni], mn[l], mn[l] - 5, 4, 0, 128};
      struct probe only_b = {kind, ns[ni], mn[l] - 5, mn[l], 1, 1, 128};
      probe_run(&v, &both);
      probe_run(&v, &only_a);
      probe_run(&v, &only_b);
    }
  dev_close(&v);
}

Test(wgmma, host_kernel_f16_mn_major_products, .timeout = 600)
{
  host_mn_products(AT_EMU_F16);
}
Test(wgmma, host_kernel_bf16_mn_major_products, .timeout = 600)
{
  host_mn_products(AT_EMU_BF16);
}

/* The MN-major probe cases (what wgmma/gpu_*_mn_* run) on the host device. */
Test(wgmma, host_probe_mn_major_matches_reference_and_emulation, .timeout = 600)
{
  static const int all[] = {5, 6, 7, 8, 9};
  struct dev v;
  dev_host(&v);
  probe_cases(&v, AT_EMU_F16, 128, all, 5);
  dev_close(&v);
}
