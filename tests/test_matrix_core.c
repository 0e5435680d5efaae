/*
 * test_matrix_core.c - the host emulations of templates/common against plain
 * arithmetic: every matrix-core instruction (mma.sync m16n8k16 f16/bf16, ldmatrix x1/x2/x4
 * plain and .trans, MFMA 32x32x8f16, 16x16x16f16, the two bf16_1k forms, 32x32x2f32,
 * 16x16x4f32) for every input element position, with a one-hot A (or B) against unique
 * B (or A) and C, so that a single swapped lane or register changes D; and the f16/bf16
 * conversions: every one of the 65536 patterns of each, every rounding tie between two
 * neighbours (to even) and the values just either side of it, subnormals, overflow to
 * infinity, NaN. The fragment layouts here are written from the documents in the
 * direction they are stated (lane and register -> matrix element) while the headers
 * compute the inverse, so the two are independent. The matrix_core/gpu_* tests run
 * tests/data/pl/mma_probe.cu on an NVIDIA GPU (sm_80+) and compare every lane with the
 * emulation bit for bit; without a CUDA device they skip.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT_EMU_ONLY 1
#include "templates/common/at_mfma.h"
#include "templates/common/at_mma.h"

#include "tests/hostk.h"
#include "tuner/compile/compile.h"
#include "tuner/measure/meas.h"
#include "base/status.h"

/* ---- plain arithmetic and exact small values ---------------------------------------- */

/* value -> the input type's bits; the values used are small integers, exact in both */
static unsigned short bits_of(int kind, float v)
{
  return kind == AT_EMU_F16 ? at_float_to_half_bits_sw(v) : at_float_to_bfloat16_bits_sw(v);
}

/* A (m x k), B (k x n), C (m x n) as floats; expected D = A * B + C, exact when all
 * values are small integers. */
struct problem {
  int m, n, k;
  float a[32 * 16], b[16 * 32], c[32 * 32], d[32 * 32];
};

static void product(struct problem *p)
{
  for (int i = 0; i < p->m; i++)
    for (int j = 0; j < p->n; j++) {
      double s = p->c[i * p->n + j];
      for (int kk = 0; kk < p->k; kk++)
        s += (double)p->a[i * p->k + kk] * p->b[kk * p->n + j];
      p->d[i * p->n + j] = (float)s;
    }
}

/* Fill: unique small integers (A: 1 + i*K + k is at most 257 here: exact in f16 and
 * bf16 only up to 256, so A and B are kept to 1..(m*k) <= 256), C: unique too. */
static void unique_values(struct problem *p)
{
  for (int i = 0; i < p->m * p->k; i++)
    p->a[i] = (float)(1 + i % 256);
  for (int i = 0; i < p->k * p->n; i++)
    p->b[i] = (float)(1 + (i * 7) % 251);
  for (int i = 0; i < p->m * p->n; i++)
    p->c[i] = (float)(3 * i + 1);
}

/* ---- NVIDIA mma.m16n8k16: the PTX ISA's fragment tables, lane -> element ------------ */

static void mma_a_elem(int lane, int i, int *row, int *col)
{
  int group = lane >> 2, tig = lane % 4;
  *row = (i < 2 || (i >= 4 && i < 6)) ? group : group + 8;
  *col = i < 4 ? tig * 2 + (i & 1) : tig * 2 + (i & 1) + 8;
}
static void mma_b_elem(int lane, int i, int *row, int *col)
{
  int group = lane >> 2, tig = lane % 4;
  *row = i < 2 ? tig * 2 + (i & 1) : tig * 2 + (i & 1) + 8;
  *col = group;
}
static void mma_c_elem(int lane, int i, int *row, int *col)
{
  int group = lane >> 2, tig = lane % 4;
  *row = i < 2 ? group : group + 8;
  *col = tig * 2 + (i & 1);
}

/* Run the pure emulation on problem p (m16n8k16) and compare D exactly; the packed form
 * (word i = elements 2i low, 2i+1 high) must give the same D. */
static void check_mma(int kind, struct problem *p, const char *what)
{
  static at_half ah[32][8], bh[32][4];
  static at_bfloat16 ab[32][8], bb[32][4];
  static unsigned int pa[32][4], pb[32][2];
  static float c[32][4], d[32][4], dp[32][4];
  for (int lane = 0; lane < 32; lane++) {
    for (int i = 0; i < 8; i++) {
      int r, q;
      mma_a_elem(lane, i, &r, &q);
      ah[lane][i].bits = ab[lane][i].bits = bits_of(kind, p->a[r * 16 + q]);
    }
    for (int i = 0; i < 4; i++) {
      int r, q;
      mma_b_elem(lane, i, &r, &q);
      bh[lane][i].bits = bb[lane][i].bits = bits_of(kind, p->b[r * 8 + q]);
      mma_c_elem(lane, i, &r, &q);
      c[lane][i] = p->c[r * 8 + q];
    }
  }
  if (kind == AT_EMU_F16)
    at_emu_mma_m16n8k16_f32_f16(ah, bh, c, d);
  else
    at_emu_mma_m16n8k16_f32_bf16(ab, bb, c, d);
  for (int lane = 0; lane < 32; lane++) {
    for (int w = 0; w < 4; w++)
      pa[lane][w] = at_emu_pack_b16x2(ah[lane][2 * w].bits, ah[lane][2 * w + 1].bits);
    for (int w = 0; w < 2; w++)
      pb[lane][w] = at_emu_pack_b16x2(bh[lane][2 * w].bits, bh[lane][2 * w + 1].bits);
  }
  at_emu_mma_m16n8k16_packed(kind, pa, pb, c, dp);
  product(p);
  for (int lane = 0; lane < 32; lane++)
    for (int i = 0; i < 4; i++) {
      int r, q;
      mma_c_elem(lane, i, &r, &q);
      cr_assert_eq(d[lane][i], p->d[r * 8 + q], "%s: lane %d d%d (D[%d][%d]): %g, want %g",
                   what, lane, i, r, q, (double)d[lane][i], (double)p->d[r * 8 + q]);
      cr_assert_eq(dp[lane][i], d[lane][i], "%s (packed): lane %d d%d: %g, want %g", what,
                   lane, i, (double)dp[lane][i], (double)d[lane][i]);
    }
}

static void mma_every_position(int kind)
{
  static struct problem p;
  char what[96];
  p.m = 16, p.n = 8, p.k = 16;
  for (int pos = 0; pos < 16 * 16; pos++) { /* one-hot A */
    unique_values(&p);
    memset(p.a, 0, sizeof p.a);
    p.a[pos] = 1;
    snprintf(what, sizeof what, "one-hot A[%d][%d]", pos / 16, pos % 16);
    check_mma(kind, &p, what);
  }
  for (int pos = 0; pos < 16 * 8; pos++) { /* one-hot B */
    unique_values(&p);
    memset(p.b, 0, sizeof p.b);
    p.b[pos] = 1;
    snprintf(what, sizeof what, "one-hot B[%d][%d]", pos / 8, pos % 8);
    check_mma(kind, &p, what);
  }
  unique_values(&p);
  check_mma(kind, &p, "unique A, B, C");
}

Test(matrix_core, mma_m16n8k16_f16_every_position) { mma_every_position(AT_EMU_F16); }
Test(matrix_core, mma_m16n8k16_bf16_every_position) { mma_every_position(AT_EMU_BF16); }

/* ---- ldmatrix ---------------------------------------------------------------------- */

/* PTX ISA, ldmatrix: thread t of 8q..8q+7 gives row t-8q of matrix q; "each thread
 * receives 2 elements of a row" (row lane/4, columns 2*(lane%4) and +1); with .trans
 * the matrix is read column-major: the same register positions of the transpose. */
/* Random 16-bit patterns (subnormals, infinities and NaNs among them) and random C: every
 * D of the emulation is C plus the products in k order with fmaf, each operand converted
 * exactly (the contract at_host_mma.h states; the hardware's order is not specified). Then
 * the same fragments through a kernel on the host device (mma_probe.cu's probes, the
 * instruction's own per-lane path, at_host_mma_m16n8k16): bit for bit the pure function.
 * NaN equals NaN (a payload may differ between libm's fmaf and the FMA instruction). */
static unsigned long long mc_state = 0x9e3779b97f4a7c15ull;
static unsigned mc_rnd(void)
{
  mc_state ^= mc_state << 13, mc_state ^= mc_state >> 7, mc_state ^= mc_state << 17;
  return (unsigned)(mc_state >> 32);
}
static float operand(int kind, unsigned short h)
{
  return kind == AT_EMU_F16 ? at_half_bits_to_float_sw(h) : at_bfloat16_bits_to_float_sw(h);
}
static bool same_float(float x, float y) { return memcmp(&x, &y, 4) == 0 || (x != x && y != y); }

static void mma_random(int kind, struct th_hostk *k, unsigned short *ka, unsigned short *kb,
                       float *kc, float *kd)
{
  static unsigned short am[16][16], bm[16][8];
  static at_half ah[32][8], bh[32][4];
  static float c[32][4], d[32][4];
  int bad = 0;
  for (int round = 0; round < 24; round++) {
    for (int r = 0; r < 16; r++)
      for (int q = 0; q < 16; q++)
        am[r][q] = (unsigned short)mc_rnd();
    for (int r = 0; r < 16; r++)
      for (int q = 0; q < 8; q++)
        bm[r][q] = (unsigned short)mc_rnd();
    for (int lane = 0; lane < 32; lane++)
      for (int i = 0; i < 8; i++) {
        int r, q;
        mma_a_elem(lane, i, &r, &q);
        ah[lane][i].bits = am[r][q];
        if (i < 4) {
          mma_b_elem(lane, i, &r, &q);
          bh[lane][i].bits = bm[r][q];
          c[lane][i] = ldexpf((float)((int)(mc_rnd() % 2001) - 1000), (int)(mc_rnd() % 40) - 20);
        }
      }
    if (kind == AT_EMU_F16)
      at_emu_mma_m16n8k16_f32_f16(ah, bh, c, d);
    else
      at_emu_mma_m16n8k16_f32_bf16((const at_bfloat16(*)[8])ah, (const at_bfloat16(*)[4])bh, c,
                                   d);
    for (int lane = 0; lane < 32; lane++)
      for (int i = 0; i < 4; i++) {
        int r, q;
        mma_c_elem(lane, i, &r, &q);
        float acc = c[lane][i];
        for (int kk = 0; kk < 16; kk++)
          acc = fmaf(operand(kind, am[r][kk]), operand(kind, bm[kk][q]), acc);
        if (!same_float(acc, d[lane][i]) && bad++ < 4)
          cr_log_error("round %d lane %d d%d (D[%d][%d]): %a, want %a", round, lane, i, r, q,
                       (double)d[lane][i], (double)acc);
      }
    memcpy(ka, ah, sizeof ah), memcpy(kb, bh, sizeof bh), memcpy(kc, c, sizeof c);
    void *args[] = {&ka, &kb, &kc, &kd};
    cr_assert_eq(th_hostk_launch(k, kind == AT_EMU_F16 ? "probe_mma_f16" : "probe_mma_bf16",
                                 1, 32, 0, "pppp", args), AT_OK, "%s", at_last_error());
    for (int lane = 0; lane < 32; lane++)
      for (int i = 0; i < 4; i++)
        if (!same_float(kd[lane * 4 + i], d[lane][i]) && bad++ < 4)
          cr_log_error("round %d lane %d d%d on the host device: %a, the pure function %a",
                       round, lane, i, (double)kd[lane * 4 + i], (double)d[lane][i]);
  }
  cr_assert_eq(bad, 0, "%d of %d values differ", bad, 24 * 128 * 2);
}

Test(matrix_core, mma_random_bits_are_an_fma_chain_in_k_order, .timeout = 120)
{
  th_need_cc(&cc_host);
  struct th_hostk k;
  static const char *const incs[] = {AT_SOURCE_DIR "/templates/common", NULL};
  th_hostk_load(&k, AT_SOURCE_DIR "/tests/data/pl/mma_probe.cu", "host:sm_90", incs);
  unsigned short *a = th_hostk_buf(&k, 32 * 8 * 2), *b = th_hostk_buf(&k, 32 * 4 * 2);
  float *c = th_hostk_buf(&k, 32 * 4 * sizeof *c), *d = th_hostk_buf(&k, 32 * 4 * sizeof *d);
  mma_random(AT_EMU_F16, &k, a, b, c, d);
  mma_random(AT_EMU_BF16, &k, a, b, c, d);
  th_hostk_close(&k);
}

Test(matrix_core, ldmatrix_every_element_lands_in_its_register)
{
  static unsigned short rows[32][8], d[32][8];
  for (int t = 0; t < 32; t++)
    for (int c = 0; c < 8; c++)
      rows[t][c] = (unsigned short)(1000 + 8 * t + c);
  const int nums[] = {1, 2, 4};
  for (int n = 0; n < 3; n++)
    for (int trans = 0; trans < 2; trans++) {
      memset(d, 0xff, sizeof d);
      at_emu_ldmatrix(nums[n], trans, rows, d);
      int seen[32 * 8] = {0};
      for (int lane = 0; lane < 32; lane++)
        for (int reg = 0; reg < 4; reg++)
          for (int h = 0; h < 2; h++) {
            unsigned short got = d[lane][2 * reg + h];
            if (reg >= nums[n]) {
              cr_assert_eq(got, 0xffff, "x%d: lane %d wrote register %d", nums[n], lane, reg);
              continue;
            }
            int r = lane / 4, c = 2 * (lane % 4) + h; /* position in the fragment */
            int want = trans ? rows[8 * reg + c][r] : rows[8 * reg + r][c];
            cr_assert_eq(got, want, "x%d%s lane %d reg %d.%d: %u, want %d", nums[n],
                         trans ? ".trans" : "", lane, reg, h, got, want);
            seen[got - 1000]++;
          }
      /* every element of the N matrices arrives exactly once */
      for (int e = 0; e < 8 * 8 * nums[n]; e++)
        cr_assert_eq(seen[e], 1, "x%d trans %d: element %d seen %d times", nums[n], trans,
                     e, seen[e]);
    }
}

/* The packed form: register q of lane L is word d[L][q], its low half the element at
 * column (plain) or row (.trans) 2 * (L % 4), its high half the next one. */
Test(matrix_core, ldmatrix_packed_words)
{
  static unsigned short rows[32][8];
  static unsigned int d[32][4];
  for (int t = 0; t < 32; t++)
    for (int c = 0; c < 8; c++)
      rows[t][c] = (unsigned short)(1000 + 8 * t + c);
  const int nums[] = {1, 2, 4};
  for (int n = 0; n < 3; n++)
    for (int trans = 0; trans < 2; trans++) {
      memset(d, 0xff, sizeof d);
      at_emu_ldmatrix_packed(nums[n], trans, rows, d);
      for (int lane = 0; lane < 32; lane++)
        for (int reg = 0; reg < 4; reg++) {
          if (reg >= nums[n]) {
            cr_assert_eq(d[lane][reg], 0xffffffffu, "x%d: lane %d wrote register %d",
                         nums[n], lane, reg);
            continue;
          }
          int r = lane / 4, c = 2 * (lane % 4);
          unsigned int lo = trans ? rows[8 * reg + c][r] : rows[8 * reg + r][c];
          unsigned int hi = trans ? rows[8 * reg + c + 1][r] : rows[8 * reg + r][c + 1];
          cr_assert_eq(d[lane][reg], lo | hi << 16, "x%d%s lane %d reg %d: %#x, want %#x",
                       nums[n], trans ? ".trans" : "", lane, reg, d[lane][reg], lo | hi << 16);
        }
    }
}

/* ldmatrix.x4 of a row-major 16x16 A and ldmatrix.x2.trans of a row-major 16x8 B give
 * exactly the mma.m16n8k16 fragments: the usual way a GEMM feeds mma from shared
 * memory, here end to end through both emulations against a plain product. */
Test(matrix_core, ldmatrix_feeds_mma)
{
  static struct problem p;
  static unsigned short arows[32][8], brows[32][8], af[32][8], bf[32][8];
  static at_half a[32][8], b[32][4];
  static float c[32][4], d[32][4];
  p.m = 16, p.n = 8, p.k = 16;
  unique_values(&p);
  for (int t = 0; t < 32; t++) {
    /* lanes 0-15: rows 0-15, columns 0-7; lanes 16-31: the same rows, columns 8-15 */
    int row = t % 16, col0 = 8 * (t / 16);
    for (int c8 = 0; c8 < 8; c8++) {
      arows[t][c8] = at_float_to_half_bits_sw(p.a[row * 16 + col0 + c8]);
      brows[t][c8] = t < 16 ? at_float_to_half_bits_sw(p.b[t * 8 + c8]) : 0;
    }
  }
  at_emu_ldmatrix(4, 0, arows, af);
  at_emu_ldmatrix(2, 1, brows, bf);
  for (int lane = 0; lane < 32; lane++) {
    for (int i = 0; i < 8; i++)
      a[lane][i].bits = af[lane][i];
    for (int i = 0; i < 4; i++) {
      int r, q;
      b[lane][i].bits = bf[lane][i];
      mma_c_elem(lane, i, &r, &q);
      c[lane][i] = p.c[r * 8 + q];
    }
  }
  at_emu_mma_m16n8k16_f32_f16(a, b, c, d);
  product(&p);
  for (int lane = 0; lane < 32; lane++)
    for (int i = 0; i < 4; i++) {
      int r, q;
      mma_c_elem(lane, i, &r, &q);
      cr_assert_eq(d[lane][i], p.d[r * 8 + q], "lane %d d%d", lane, i);
    }
}

/* ---- CDNA MFMA: the AMD Matrix Instruction Calculator's gfx9 tables ------------------ */

/* Inputs: lane L, element e of an M x K block holds A[L % M][(L / M) * KL + e] (and B
 * transposed alike). Output, stated the calculator's way (element -> register, lane):
 * D[i][j] is in register (i / (4 * (64 / M))) * 4 + i % 4, lane ((i / 4) % (64 / M)) * M
 * + j. */
static void mfma_out_pos(int m, int i, int j, int *reg, int *lane)
{
  int multirows = 64 / m;
  *reg = (i / (4 * multirows)) * 4 + i % 4;
  *lane = ((i / 4) % multirows) * m + j;
}

static void check_mfma(int kind, int m, int k, struct problem *p, const char *what)
{
  static at_half ah[64][4], bh[64][4];
  static at_bfloat16 ab[64][4], bb[64][4];
  /* c and d: 64 lanes x nreg registers, nreg = 16 (32x32) or 4 (16x16) */
  static float af[64], bf[64], c[64 * 16], d[64 * 16];
  int kl = k * m / 64, nreg = m * m / 64;
  for (int lane = 0; lane < 64; lane++)
    for (int e = 0; e < kl; e++) {
      int row = lane % m, kk = (lane / m) * kl + e;
      float av = p->a[row * k + kk], bv = p->b[kk * m + row];
      if (kind == AT_EMU_F32) {
        af[lane] = av;
        bf[lane] = bv;
      } else {
        ah[lane][e].bits = ab[lane][e].bits = bits_of(kind, av);
        bh[lane][e].bits = bb[lane][e].bits = bits_of(kind, bv);
      }
    }
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) {
      int reg, lane;
      mfma_out_pos(m, i, j, &reg, &lane);
      c[lane * nreg + reg] = p->c[i * m + j];
    }
  memset(d, 0xff, sizeof d);
  float(*c16)[16] = (float(*)[16])c, (*d16)[16] = (float(*)[16])d;
  float(*c4)[4] = (float(*)[4])c, (*d4)[4] = (float(*)[4])d;
  if (m == 32 && kind == AT_EMU_F16)
    at_emu_mfma_f32_32x32x8f16(ah, bh, c16, d16);
  else if (m == 16 && kind == AT_EMU_F16)
    at_emu_mfma_f32_16x16x16f16(ah, bh, c4, d4);
  else if (m == 32 && kind == AT_EMU_BF16)
    at_emu_mfma_f32_32x32x8bf16_1k(ab, bb, c16, d16);
  else if (m == 16 && kind == AT_EMU_BF16)
    at_emu_mfma_f32_16x16x16bf16_1k(ab, bb, c4, d4);
  else if (m == 32)
    at_emu_mfma_f32_32x32x2f32(af, bf, c16, d16);
  else
    at_emu_mfma_f32_16x16x4f32(af, bf, c4, d4);
  product(p);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) {
      int reg, lane;
      mfma_out_pos(m, i, j, &reg, &lane);
      float got = d[lane * nreg + reg];
      cr_assert_eq(got, p->d[i * m + j], "%s: D[%d][%d] (lane %d reg %d): %g, want %g", what,
                   i, j, lane, reg, (double)got, (double)p->d[i * m + j]);
    }
}

static void mfma_every_position(int kind, int m, int k)
{
  static struct problem p;
  char what[96];
  p.m = m, p.n = m, p.k = k;
  for (int pos = 0; pos < m * k; pos++) {
    unique_values(&p);
    memset(p.a, 0, sizeof p.a);
    p.a[pos] = 1;
    snprintf(what, sizeof what, "%dx%dx%d one-hot A[%d][%d]", m, m, k, pos / k, pos % k);
    check_mfma(kind, m, k, &p, what);
  }
  for (int pos = 0; pos < k * m; pos++) {
    unique_values(&p);
    memset(p.b, 0, sizeof p.b);
    p.b[pos] = 1;
    snprintf(what, sizeof what, "%dx%dx%d one-hot B[%d][%d]", m, m, k, pos / m, pos % m);
    check_mfma(kind, m, k, &p, what);
  }
  unique_values(&p);
  check_mfma(kind, m, k, &p, "unique A, B, C");
}

Test(matrix_core, mfma_f32_32x32x8f16_every_position) { mfma_every_position(AT_EMU_F16, 32, 8); }
Test(matrix_core, mfma_f32_16x16x16f16_every_position)
{
  mfma_every_position(AT_EMU_F16, 16, 16);
}
Test(matrix_core, mfma_f32_32x32x8bf16_1k_every_position)
{
  mfma_every_position(AT_EMU_BF16, 32, 8);
}
Test(matrix_core, mfma_f32_16x16x16bf16_1k_every_position)
{
  mfma_every_position(AT_EMU_BF16, 16, 16);
}
Test(matrix_core, mfma_f32_32x32x2f32_every_position) { mfma_every_position(AT_EMU_F32, 32, 2); }
Test(matrix_core, mfma_f32_16x16x4f32_every_position) { mfma_every_position(AT_EMU_F32, 16, 4); }

/* Random bits (subnormals, infinities and NaNs among them) and random C for each MFMA:
 * every D of the pure function is C plus the products in k order with fmaf, each operand
 * converted exactly (the contract at_host_mfma.h states); then the same fragments through
 * a kernel on the host device emulating gfx942 (mfma_probe.cu: two waves, several
 * instructions in a row on new operands, the per-lane path at_host_mfma with its memo of
 * the wave's converted operands), bit for bit the pure function. NaN equals NaN. */
#define MR_ROUNDS 5
#define MR_THREADS 128
static float mr_in(int kind, const void *base, int idx)
{
  if (kind == AT_EMU_F32)
    return ((const float *)base)[idx];
  return operand(kind, ((const unsigned short *)base)[idx]);
}
static void mfma_random(struct th_hostk *hk, int kind, int m, int k, const char *probe)
{
  const int kl = k * m / 64, nreg = m * m / 64, esz = kind == AT_EMU_F32 ? 4 : 2;
  const size_t n = (size_t)MR_ROUNDS * MR_THREADS;
  /* 4 elements a thread in the buffers (f32 uses the first) */
  unsigned char *a = th_hostk_buf(hk, n * 4 * esz), *b = th_hostk_buf(hk, n * 4 * esz);
  float *c = th_hostk_buf(hk, n * nreg * 4), *d = th_hostk_buf(hk, n * nreg * 4);
  static float want[MR_ROUNDS * MR_THREADS * 16], pure[MR_ROUNDS * MR_THREADS * 16];
  for (size_t t = 0; t < n; t++) {
    for (int e = 0; e < 4; e++)
      if (esz == 2) {
        ((unsigned short *)a)[t * 4 + e] = (unsigned short)mc_rnd();
        ((unsigned short *)b)[t * 4 + e] = (unsigned short)mc_rnd();
      } else {
        unsigned x = mc_rnd(), y = mc_rnd();
        memcpy(&((float *)a)[t * 4 + e], &x, 4);
        memcpy(&((float *)b)[t * 4 + e], &y, 4);
      }
    for (int r = 0; r < nreg; r++)
      c[t * nreg + r] = ldexpf((float)((int)(mc_rnd() % 2001) - 1000), (int)(mc_rnd() % 40) - 20);
  }
  int bad = 0;
  for (size_t w = 0; w < n / 64; w++) { /* a wave of one round */
    const size_t l0 = w * 64;
    /* the stride between lanes is 4 elements; f32's one value a lane at element 0 */
    const int stride = 4;
    for (int i = 0; i < m; i++)
      for (int j = 0; j < m; j++) {
        int reg, lane;
        mfma_out_pos(m, i, j, &reg, &lane);
        float acc = c[(l0 + lane) * nreg + reg];
        for (int kk = 0; kk < k; kk++) {
          int la = (kk / kl) * m + i, lb = (kk / kl) * m + j;
          acc = fmaf(mr_in(kind, a + (l0 + la) * 4 * esz, kk % kl),
                     mr_in(kind, b + (l0 + lb) * 4 * esz, kk % kl), acc);
        }
        want[(l0 + lane) * nreg + reg] = acc;
      }
    /* the pure function on this wave's fragments (f32 as one value a lane) */
    static float fa32[64], fb32[64];
    static unsigned short a16[64][4], b16[64][4];
    for (int lane = 0; lane < 64; lane++)
      for (int e = 0; e < 4; e++)
        if (esz == 2) {
          a16[lane][e] = ((unsigned short *)a)[(l0 + lane) * 4 + e];
          b16[lane][e] = ((unsigned short *)b)[(l0 + lane) * 4 + e];
        } else if (e == 0) {
          fa32[lane] = ((float *)a)[(l0 + lane) * 4];
          fb32[lane] = ((float *)b)[(l0 + lane) * 4];
        }
    const float *cw = c + l0 * nreg;
    float *pw = pure + l0 * nreg;
    const void *pa = esz == 2 ? (const void *)a16 : (const void *)fa32;
    const void *pb = esz == 2 ? (const void *)b16 : (const void *)fb32;
    at_emu_mfma_wave(kind, m, k, pa, pb, esz == 2 ? stride : 1, cw, pw);
  }
  for (size_t x = 0; x < n * nreg; x++)
    if (!same_float(pure[x], want[x]) && bad++ < 4)
      cr_log_error("%s: thread %zu (round %zu) d%zu: %a, want %a", probe, (x / nreg) % MR_THREADS,
                   x / nreg / MR_THREADS, x % nreg, (double)pure[x], (double)want[x]);
  int rounds = MR_ROUNDS;
  void *args[] = {&a, &b, &c, &d, &rounds};
  cr_assert_eq(th_hostk_launch(hk, probe, 1, MR_THREADS, 0, "ppppi", args), AT_OK, "%s: %s",
               probe, at_last_error());
  for (size_t x = 0; x < n * nreg; x++)
    if (!same_float(d[x], pure[x]) && bad++ < 8)
      cr_log_error("%s on the host device: thread %zu (round %zu) d%zu: %a, the pure "
                   "function %a", probe, (x / nreg) % MR_THREADS, x / nreg / MR_THREADS,
                   x % nreg, (double)d[x], (double)pure[x]);
  cr_assert_eq(bad, 0, "%s: %d of %zu values differ", probe, bad, 2 * n * nreg);
  th_hostk_release(hk, a), th_hostk_release(hk, b);
  th_hostk_release(hk, c), th_hostk_release(hk, d);
}

Test(matrix_core, mfma_random_bits_are_an_fma_chain_in_k_order, .timeout = 120)
{
  th_need_cc(&cc_host);
  struct th_hostk hk;
  static const char *const incs[] = {AT_SOURCE_DIR "/templates/common", NULL};
  th_hostk_load(&hk, AT_SOURCE_DIR "/tests/data/pl/mfma_probe.cu", "host:gfx942", incs);
  mfma_random(&hk, AT_EMU_F16, 32, 8, "probe_mfma_32x32x8f16");
  mfma_random(&hk, AT_EMU_F16, 16, 16, "probe_mfma_16x16x16f16");
  mfma_random(&hk, AT_EMU_BF16, 32, 8, "probe_mfma_32x32x8bf16_1k");
  mfma_random(&hk, AT_EMU_BF16, 16, 16, "probe_mfma_16x16x16bf16_1k");
  mfma_random(&hk, AT_EMU_F32, 32, 2, "probe_mfma_32x32x2f32");
  mfma_random(&hk, AT_EMU_F32, 16, 4, "probe_mfma_16x16x4f32");
  th_hostk_close(&hk);
}

/* Fractional f32 inputs: the emulation sums in f32 with fmaf in k order, which for K = 2
 * is what a fused multiply-add chain gives; compare with a double product within the
 * documented tolerance K * 2^-24 * sum|a*b| (plus the product rounding). */
Test(matrix_core, mfma_f32_fractional_within_tolerance)
{
  static float a[64], b[64], c[64][16], d[64][16];
  for (int l = 0; l < 64; l++) {
    a[l] = 1.0f / (float)(l + 3);
    b[l] = (float)(l % 7) - 2.5f / (float)(l + 1);
    for (int r = 0; r < 16; r++)
      c[l][r] = 0.001f * (float)(l - r);
  }
  at_emu_mfma_f32_32x32x2f32(a, b, c, d);
  for (int l = 0; l < 64; l++)
    for (int r = 0; r < 16; r++) {
      int i = 8 * (r / 4) + 4 * (l / 32) + r % 4, j = l % 32;
      double s = c[l][r], mag = fabs(c[l][r]);
      for (int kk = 0; kk < 2; kk++) {
        double x = a[kk * 32 + i], y = b[kk * 32 + j];
        s += x * y;
        mag += fabs(x * y);
      }
      cr_assert(fabs(d[l][r] - s) <= 3 * ldexp(mag, -24), "lane %d reg %d: %.9g vs %.9g", l,
                r, (double)d[l][r], s);
    }
}

/* ---- f16 / bf16 conversions --------------------------------------------------------- */

/* The exact value of a half, by the IEEE 754 definition. */
static double half_value(unsigned h)
{
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
  return s ? -v : v;
}
static double bf16_value(unsigned b)
{
  int s = b >> 15, e = (b >> 7) & 255, m = b & 127;
  double v = e == 0 ? ldexp(m, -133) : e == 255 ? (m ? NAN : INFINITY) : ldexp(128 + m, e - 134);
  return s ? -v : v;
}

Test(matrix_core, half_to_float_exact_for_all_65536)
{
  for (unsigned h = 0; h < 65536; h++) {
    float f = at_half_bits_to_float_sw((unsigned short)h), g = at_emu_b16(AT_EMU_F16, (unsigned short)h);
    cr_assert_eq(memcmp(&f, &g, 4), 0, "%#x: the emulations' inline conversion differs", h);
    double want = half_value(h);
    if (isnan(want)) {
      cr_assert(isnan(f), "%#x", h);
      /* payload kept, made quiet on the way back */
      cr_assert_eq(at_float_to_half_bits_sw(f), h | 0x200, "%#x", h);
      continue;
    }
    cr_assert_eq((double)f, want, "%#x: %g, want %g", h, (double)f, want);
    cr_assert_eq(signbit(f) != 0, (h >> 15) != 0, "%#x sign", h);
    cr_assert_eq(at_float_to_half_bits_sw(f), h, "%#x does not round-trip", h);
  }
}

Test(matrix_core, bf16_to_float_exact_for_all_65536)
{
  for (unsigned b = 0; b < 65536; b++) {
    float f = at_bfloat16_bits_to_float_sw((unsigned short)b);
    double want = bf16_value(b);
    if (isnan(want)) {
      cr_assert(isnan(f), "%#x", b);
      cr_assert_eq(at_float_to_bfloat16_bits_sw(f), b | 0x40, "%#x", b);
      continue;
    }
    cr_assert_eq((double)f, want, "%#x", b);
    cr_assert_eq(at_float_to_bfloat16_bits_sw(f), b, "%#x does not round-trip", b);
  }
}

/* Between each pair of neighbours lo, lo+1 (positive and negative, subnormals
 * included; above the largest finite value, infinity stands at the next power of two):
 * the midpoint rounds to the even one, the floats just below and above it to lo and
 * lo+1. */
static void check_ties(unsigned short (*cvt)(float), double (*value)(unsigned), unsigned top,
                       double inf_at, const char *what)
{
  for (unsigned lo = 0; lo < top; lo++)
    for (int neg = 0; neg < 2; neg++) {
      unsigned hi = lo + 1, sign = neg ? 0x8000u : 0;
      double vlo = value(lo), vhi = hi == top ? inf_at : value(hi);
      float mid = (float)((vlo + vhi) / 2);
      cr_assert_eq((double)mid, (vlo + vhi) / 2, "%s: midpoint of %#x not exact", what, lo);
      if (neg)
        mid = -mid;
      float below = nextafterf(mid, 0.0f), above = nextafterf(mid, neg ? -INFINITY : INFINITY);
      unsigned even = (lo & 1) ? hi : lo;
      cr_assert_eq(cvt(mid), sign | even, "%s: tie %g -> %#x, want %#x", what, (double)mid,
                   cvt(mid), sign | even);
      cr_assert_eq(cvt(below), sign | lo, "%s: %a -> %#x, want %#x", what, (double)below,
                   cvt(below), sign | lo);
      cr_assert_eq(cvt(above), sign | hi, "%s: %a -> %#x, want %#x", what, (double)above,
                   cvt(above), sign | hi);
    }
}

Test(matrix_core, float_to_half_rounds_to_nearest_even)
{
  check_ties(at_float_to_half_bits_sw, half_value, 0x7c00, 65536.0, "f16");
  /* specials */
  cr_assert_eq(at_float_to_half_bits_sw(INFINITY), 0x7c00);
  cr_assert_eq(at_float_to_half_bits_sw(-INFINITY), 0xfc00);
  cr_assert_eq(at_float_to_half_bits_sw(1e10f), 0x7c00);
  cr_assert_eq(at_float_to_half_bits_sw(-3.4e38f), 0xfc00);
  cr_assert_eq(at_float_to_half_bits_sw(-0.0f), 0x8000);
  cr_assert_eq(at_float_to_half_bits_sw(1e-30f), 0);
  cr_assert_eq(at_float_to_half_bits_sw(-1e-30f), 0x8000);
  cr_assert_eq(at_float_to_half_bits_sw(ldexpf(1, -25)), 0, "2^-25 is a tie: to 0");
  cr_assert_eq(at_float_to_half_bits_sw(ldexpf(3, -26)), 1);
  cr_assert_eq(at_float_to_half_bits_sw(ldexpf(1, -24)), 1);
  cr_assert_eq(at_float_to_half_bits_sw(65504.0f), 0x7bff);
  cr_assert_eq(at_float_to_half_bits_sw(65519.996f), 0x7bff);
  cr_assert_eq(at_float_to_half_bits_sw(65520.0f), 0x7c00);
  cr_assert_eq(at_float_to_half_bits_sw(1.0f), 0x3c00);
  cr_assert_eq(at_float_to_half_bits_sw(NAN) & 0x7e00, 0x7e00);
  cr_assert_eq(at_float_to_half_bits_sw(-NAN) & 0xfe00, 0xfe00);
  /* a signalling-NaN float whose payload lives only in the low bits stays NaN */
  cr_assert_eq(at_float_to_half_bits_sw(at_uint_as_float(0x7f800001u)), 0x7e00);
}

Test(matrix_core, float_to_bfloat16_rounds_to_nearest_even)
{
  check_ties(at_float_to_bfloat16_bits_sw, bf16_value, 0x7f80, ldexp(1, 128), "bf16");
  cr_assert_eq(at_float_to_bfloat16_bits_sw(INFINITY), 0x7f80);
  cr_assert_eq(at_float_to_bfloat16_bits_sw(-INFINITY), 0xff80);
  cr_assert_eq(at_float_to_bfloat16_bits_sw(3.4e38f), 0x7f80);
  cr_assert_eq(at_float_to_bfloat16_bits_sw(-0.0f), 0x8000);
  cr_assert_eq(at_float_to_bfloat16_bits_sw(1.0f), 0x3f80);
  cr_assert_eq(at_float_to_bfloat16_bits_sw(at_uint_as_float(0x7f800001u)), 0x7fc0);
  cr_assert_eq(at_float_to_bfloat16_bits_sw(at_uint_as_float(0xffffffffu)), 0xffff);
  cr_assert_eq(at_float_to_bfloat16_bits_sw(at_uint_as_float(0x00008000u)), 0, "tie to 0");
  cr_assert_eq(at_float_to_bfloat16_bits_sw(at_uint_as_float(0x00018000u)), 2, "tie to 2");
}

/* ---- on an NVIDIA GPU: tests/data/pl/mma_probe.cu against the emulation -------------- */

struct gpu {
  struct meas_ctx *ctx;
  meas_module mod;
  char arch[16];
};

/* Where tests/data/pl and templates/common are: $AT_PL_SOURCE_DIR (a checkout copied to
 * the GPU machine) or this build's source folder. */
static const char *source_dir(void)
{
  const char *d = getenv("AT_PL_SOURCE_DIR");
  return d && *d ? d : AT_SOURCE_DIR;
}

/* Open the first CUDA device and load the probe (NVRTC for its arch, or the cubin named
 * by $AT_PL_PROBE_CUBIN); skip when there is no device. */
static void gpu_open(struct gpu *g)
{
  memset(g, 0, sizeof *g);
  if (meas_cuda.open(0, &g->ctx) != AT_OK)
    cr_skip_test("no CUDA device here (%s); see tests/data/pl/README.md", at_last_error());
  char name[128];
  cr_assert_eq(meas_cuda.describe(g->ctx, name, sizeof name, g->arch, sizeof g->arch), AT_OK);
  cr_log_info("gpu probe on %s (%s)", name, g->arch);
  if (atoi(g->arch + 3) < 80) {
    meas_cuda.close(g->ctx);
    cr_skip_test("%s is %s: mma.sync m16n8k16 needs sm_80+", name, g->arch);
  }
  struct cc_result res = {0};
  const char *cubin = getenv("AT_PL_PROBE_CUBIN");
  unsigned char *code;
  size_t size;
  if (cubin && *cubin) {
    cr_assert_eq(os_read_file(cubin, &code, &size), AT_OK, "%s", at_last_error());
  } else {
    char path[4096], inc[4096];
    snprintf(path, sizeof path, "%s/tests/data/pl/mma_probe.cu", source_dir());
    snprintf(inc, sizeof inc, "%s/templates/common", source_dir());
    unsigned char *src;
    cr_assert_eq(os_read_file(path, &src, &size), AT_OK, "%s", at_last_error());
    const struct cc_backend *cc = cc_find("nvrtc");
    char why[256];
    cr_assert(cc && cc->available(why, sizeof why), "NVRTC: %s (or set AT_PL_PROBE_CUBIN)",
              cc ? why : "not built");
    const char *incs[] = {inc, NULL};
    struct cc_request req = {.source = (const char *)src, .name = "mma_probe.cu",
                             .arch = g->arch, .include_dirs = incs};
    cr_assert_eq(cc->compile(&req, &res), AT_OK, "%s", at_last_error());
    cr_assert_eq(res.status, CC_OK, "%s", res.log);
    free(src);
    code = res.code;
    size = res.code_size;
  }
  cr_assert_eq(meas_cuda.load(g->ctx, code, size, &g->mod), AT_OK, "%s", at_last_error());
  if (code != res.code)
    free(code);
  cc_result_release(&res);
}

static meas_ptr gpu_put(struct gpu *g, const void *data, size_t bytes)
{
  meas_ptr p;
  cr_assert_eq(meas_cuda.alloc(g->ctx, bytes, &p), AT_OK, "%s", at_last_error());
  if (data)
    cr_assert_eq(meas_cuda.upload(g->ctx, p, data, bytes), AT_OK, "%s", at_last_error());
  else
    cr_assert_eq(meas_cuda.fill(g->ctx, p, 0, bytes), AT_OK, "%s", at_last_error());
  return p;
}

static void gpu_run(struct gpu *g, const char *kernel, unsigned blocks, unsigned threads,
                    void **args)
{
  meas_kernel k;
  cr_assert_eq(meas_cuda.kernel(g->ctx, g->mod, kernel, &k), AT_OK, "%s", at_last_error());
  struct meas_launch l = {.kernel = k, .grid = {blocks, 1, 1}, .block = {threads, 1, 1},
                          .args = args};
  cr_assert_eq(meas_cuda.launch(g->ctx, &l), AT_OK, "%s", at_last_error());
  cr_assert_eq(meas_cuda.sync(g->ctx), AT_OK, "%s: %s", kernel, at_last_error());
}

static void gpu_get(struct gpu *g, void *dst, meas_ptr src, size_t bytes)
{
  cr_assert_eq(meas_cuda.download(g->ctx, dst, src, bytes), AT_OK, "%s", at_last_error());
  meas_cuda.free(g->ctx, src);
}

static void gpu_mma(int kind)
{
  struct gpu g;
  gpu_open(&g);
  /* unique per-lane fragments: every value distinct, small integers, so every sum is
   * exact and the hardware must agree bit for bit */
  static unsigned short a[32][8], b[32][4];
  static float c[32][4], d[32][4], want[32][4];
  for (int l = 0; l < 32; l++) {
    for (int i = 0; i < 8; i++)
      a[l][i] = bits_of(kind, (float)(1 + (l * 8 + i) % 255) * ((l + i) % 3 == 0 ? -1 : 1));
    for (int i = 0; i < 4; i++) {
      b[l][i] = bits_of(kind, (float)(1 + (l * 4 + i) % 127));
      c[l][i] = (float)(l * 4 + i) - 50.0f;
    }
  }
  if (kind == AT_EMU_F16)
    at_emu_mma_m16n8k16_f32_f16((const at_half(*)[8])a, (const at_half(*)[4])b, c, want);
  else
    at_emu_mma_m16n8k16_f32_bf16((const at_bfloat16(*)[8])a, (const at_bfloat16(*)[4])b, c,
                                 want);
  meas_ptr da = gpu_put(&g, a, sizeof a), db = gpu_put(&g, b, sizeof b);
  meas_ptr dc = gpu_put(&g, c, sizeof c), dd = gpu_put(&g, NULL, sizeof d);
  void *args[] = {&da, &db, &dc, &dd};
  gpu_run(&g, kind == AT_EMU_F16 ? "probe_mma_f16" : "probe_mma_bf16", 1, 32, args);
  gpu_get(&g, d, dd, sizeof d);
  int bad = 0;
  for (int l = 0; l < 32; l++)
    for (int i = 0; i < 4; i++)
      if (memcmp(&d[l][i], &want[l][i], 4) != 0 && bad++ < 8)
        cr_log_error("lane %d d%d: gpu %.9g, emulation %.9g", l, i, (double)d[l][i],
                     (double)want[l][i]);
  meas_cuda.free(g.ctx, da), meas_cuda.free(g.ctx, db), meas_cuda.free(g.ctx, dc);
  meas_cuda.close(g.ctx);
  cr_assert_eq(bad, 0, "%d of 128 values differ", bad);
  fprintf(stderr, "gpu probe: mma.m16n8k16 %s: pass\n", kind == AT_EMU_F16 ? "f16" : "bf16");
}

Test(matrix_core, gpu_mma_f16_matches_emulation, .timeout = 120) { gpu_mma(AT_EMU_F16); }
Test(matrix_core, gpu_mma_bf16_matches_emulation, .timeout = 120) { gpu_mma(AT_EMU_BF16); }

Test(matrix_core, gpu_ldmatrix_matches_emulation, .timeout = 120)
{
  struct gpu g;
  gpu_open(&g);
  static unsigned short rows[32][8], out[6][32][8], want[32][8];
  for (int t = 0; t < 32; t++)
    for (int c = 0; c < 8; c++)
      rows[t][c] = (unsigned short)(0x100 + 8 * t + c);
  meas_ptr dr = gpu_put(&g, rows, sizeof rows), dout = gpu_put(&g, NULL, sizeof out);
  void *args[] = {&dr, &dout};
  gpu_run(&g, "probe_ldmatrix", 1, 32, args);
  gpu_get(&g, out, dout, sizeof out);
  meas_cuda.free(g.ctx, dr);
  meas_cuda.close(g.ctx);
  const int nums[] = {1, 2, 4, 1, 2, 4};
  for (int v = 0; v < 6; v++) {
    memset(want, 0, sizeof want);
    at_emu_ldmatrix(nums[v], v >= 3, rows, want);
    for (int l = 0; l < 32; l++)
      for (int i = 0; i < 8; i++)
        cr_assert_eq(out[v][l][i], want[l][i], "x%d%s lane %d element %d: gpu %#x, emu %#x",
                     nums[v], v >= 3 ? ".trans" : "", l, i, out[v][l][i], want[l][i]);
  }
  fprintf(stderr, "gpu probe: ldmatrix x1/x2/x4 (.trans): pass\n");
}

Test(matrix_core, gpu_conversions_match_emulation, .timeout = 120)
{
  struct gpu g;
  gpu_open(&g);
  /* every half and bf16 midpoint, the floats either side, and specials */
  int n = 0, cap = 6 * 65536 + 16;
  unsigned int *f = malloc(sizeof *f * (size_t)cap);
  for (unsigned lo = 0; lo < 0x7c00; lo++) {
    double v = (half_value(lo) + (lo + 1 == 0x7c00 ? 65536.0 : half_value(lo + 1))) / 2;
    float m = (float)v;
    f[n++] = at_float_as_uint(m), f[n++] = at_float_as_uint(nextafterf(m, 0));
    f[n++] = at_float_as_uint(nextafterf(m, INFINITY));
  }
  for (unsigned lo = 0; lo < 0x7f80; lo += 1) {
    double v = (bf16_value(lo) + (lo + 1 == 0x7f80 ? ldexp(1, 128) : bf16_value(lo + 1))) / 2;
    f[n++] = at_float_as_uint((float)v) | (lo & 1 ? 0x80000000u : 0);
  }
  const unsigned int specials[] = {0x7f800000u, 0xff800000u, 0x7fc00000u, 0x80000000u,
                                   0x00000001u, 0x33000000u, 0x477ff000u, 0x7f7fffffu};
  for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
    f[n++] = specials[i];
  unsigned short *h = malloc(2 * (size_t)n), *bf = malloc(2 * (size_t)n);
  unsigned int *h2f = malloc(4 * 65536), *bf2f = malloc(4 * 65536);
  meas_ptr df = gpu_put(&g, f, 4 * (size_t)n), dh = gpu_put(&g, NULL, 2 * (size_t)n);
  meas_ptr dbf = gpu_put(&g, NULL, 2 * (size_t)n), dh2f = gpu_put(&g, NULL, 4 * 65536);
  meas_ptr dbf2f = gpu_put(&g, NULL, 4 * 65536);
  void *args[] = {&df, &dh, &dbf, &n, &dh2f, &dbf2f};
  gpu_run(&g, "probe_convert", (unsigned)(n + 255) / 256, 256, args);
  gpu_get(&g, h, dh, 2 * (size_t)n);
  gpu_get(&g, bf, dbf, 2 * (size_t)n);
  gpu_get(&g, h2f, dh2f, 4 * 65536);
  gpu_get(&g, bf2f, dbf2f, 4 * 65536);
  meas_cuda.free(g.ctx, df);
  meas_cuda.close(g.ctx);
  int bad = 0;
  for (int i = 0; i < n; i++) {
    float x = at_uint_as_float(f[i]);
    unsigned short eh = at_float_to_half_bits_sw(x), eb = at_float_to_bfloat16_bits_sw(x);
    /* NaN: any NaN is right (the hardware may return its canonical NaN) */
    int hnan = (eh & 0x7c00) == 0x7c00 && (eh & 0x3ff);
    int bnan = (eb & 0x7f80) == 0x7f80 && (eb & 0x7f);
    int hok = hnan ? (h[i] & 0x7c00) == 0x7c00 && (h[i] & 0x3ff) : h[i] == eh;
    int bok = bnan ? (bf[i] & 0x7f80) == 0x7f80 && (bf[i] & 0x7f) : bf[i] == eb;
    if ((!hok || !bok) && bad++ < 8)
      cr_log_error("float %#x: gpu f16 %#x bf16 %#x, emulation %#x %#x", f[i], h[i], bf[i],
                   eh, eb);
  }
  for (unsigned i = 0; i < 65536; i++) {
    float eh = at_half_bits_to_float_sw((unsigned short)i);
    float eb = at_bfloat16_bits_to_float_sw((unsigned short)i);
    int hok = isnan(eh) ? isnan(at_uint_as_float(h2f[i])) : h2f[i] == at_float_as_uint(eh);
    int bok = isnan(eb) ? isnan(at_uint_as_float(bf2f[i])) : bf2f[i] == at_float_as_uint(eb);
    if ((!hok || !bok) && bad++ < 16)
      cr_log_error("pattern %#x: gpu f16->f32 %#x bf16->f32 %#x", i, h2f[i], bf2f[i]);
  }
  free(f), free(h), free(bf), free(h2f), free(bf2f);
  cr_assert_eq(bad, 0, "%d conversions differ", bad);
  fprintf(stderr, "gpu probe: f16/bf16 conversions (%d floats, 2 x 65536 patterns): pass\n",
          n);
}

Test(matrix_core, gpu_shuffles_match_cuda, .timeout = 120)
{
  struct gpu g;
  gpu_open(&g);
  enum { N = 4 * 5 * 8 * 32 + 64 };
  static int out[N], native[N];
  meas_ptr dout = gpu_put(&g, NULL, sizeof out), dnat = gpu_put(&g, NULL, sizeof native);
  void *args[] = {&dout, &dnat};
  gpu_run(&g, "probe_shuffle", 1, 32, args);
  gpu_get(&g, out, dout, sizeof out);
  gpu_get(&g, native, dnat, sizeof native);
  meas_cuda.close(g.ctx);
  const char *ops[] = {"xor", "up", "down", "idx"};
  for (int i = 0; i < 4 * 5 * 8 * 32; i++)
    cr_assert_eq(out[i], native[i], "shfl_%s width %d param %d lane %d: layer %d, cuda %d",
                 ops[i / (5 * 8 * 32)], 2 << (i / (8 * 32) % 5), i / 32 % 8, i % 32, out[i],
                 native[i]);
  for (int l = 0; l < 64; l++)
    cr_assert_eq(out[4 * 5 * 8 * 32 + l], native[4 * 5 * 8 * 32 + l], "ballot word %d", l);
  fprintf(stderr, "gpu probe: shuffles and ballot: pass\n");
}
