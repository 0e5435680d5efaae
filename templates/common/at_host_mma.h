// at_host_mma.h - mma.sync m16n8k16 and ldmatrix on the host device: the emulation of
// at_mma.h's instructions (at_mma.h's head comment has their layouts and sources).
// Included by at_mma.h on the host device (AT_HOST) only: no GPU compile sees it,
// so it is outside the templates' content hash (generator/template_kernel.c); the
// host compile backend's toolchain string carries a digest of the at_host_*.h files
// instead (tuner/compile/cc_host.c), so host objects and trials still key on it.
#if !defined(AT_HOST)
#error "at_host_mma.h is the host device's (AT_HOST): include at_mma.h"
#endif

// ---- emulation: the documented layouts ----
//
// mma.m16n8k16, per lane: groupID g = lane / 4, threadID_in_group t = lane % 4.
//   A (16x16, row):  a[i], i = 0..7, holds A[g + 8 * ((i / 2) % 2)][2 * t + i % 2 + 8 * (i / 4)]
//                    (a0,a1: row g; a2,a3: row g+8; a4..a7: the same rows, columns + 8)
//   B (16x8, col):   b[i], i = 0..3, holds B[2 * t + i % 2 + 8 * (i / 2)][g]
//   C, D (16x8 f32): c[i], i = 0..3, holds C[g + 8 * (i / 2)][2 * t + i % 2]
// Here what one lane needs of the warp's packed fragments (word i of a lane holds its
// elements 2i, low half, and 2i + 1, high half): its rows g and g + 8 of A and its columns
// 2t and 2t + 1 of B, over k = 0..15. Lane 4g + j holds A[g][2j, 2j + 1] in word 0,
// A[g + 8][2j, 2j + 1] in word 1 and the same 8 k further in words 2 and 3; lane 4n + j
// holds B[2j, 2j + 1][n] in word 0 and B[8 + 2j, 9 + 2j][n] in word 1. Lane L's words are
// a[L * stride + 0..3] (b[L * stride + 0..1]).
AT_DEV void at_emu_mma_a_rows(const unsigned int *a, int stride, int lane,
                              unsigned short rows[2][16])
{
  for (int j = 0; j < 4; j++)
    for (int w = 0; w < 4; w++) {
      const unsigned int v = a[(4 * (lane / 4) + j) * stride + w];
      const int k = 8 * (w / 2) + 2 * j;
      rows[w % 2][k] = (unsigned short)(v & 0xffffu);
      rows[w % 2][k + 1] = (unsigned short)(v >> 16);
    }
}
AT_DEV void at_emu_mma_b_cols(const unsigned int *b, int stride, int lane,
                              unsigned short cols[2][16])
{
  for (int n = 0; n < 2; n++)
    for (int j = 0; j < 4; j++)
      for (int w = 0; w < 2; w++) {
        const unsigned int v = b[(4 * (2 * (lane % 4) + n) + j) * stride + w];
        cols[n][8 * w + 2 * j] = (unsigned short)(v & 0xffffu);
        cols[n][8 * w + 2 * j + 1] = (unsigned short)(v >> 16);
      }
}

// One lane's D of mma.m16n8k16 (kind AT_EMU_F16 or AT_EMU_BF16) from the warp's packed
// fragments (strides as above): d[i] = C + the products over k = 0..15 in k order with
// fmaf, D[g + 8 (i / 2)][2t + i % 2]. d may be c.
AT_DEV void at_emu_mma_m16n8k16_words(int kind, const unsigned int *a, int a_stride,
                                      const unsigned int *b, int b_stride, const float c[4],
                                      int lane, float d[4])
{
  unsigned short ab[2][16], bb[2][16];
  at_emu_mma_a_rows(a, a_stride, lane, ab);
  at_emu_mma_b_cols(b, b_stride, lane, bb);
  float x[2][16], y[2][16], out[4];
  for (int r = 0; r < 2; r++)
    for (int k = 0; k < 16; k++) {
      x[r][k] = at_emu_b16(kind, ab[r][k]);
      y[r][k] = at_emu_b16(kind, bb[r][k]);
    }
  for (int i = 0; i < 4; i++) {
    float acc = c[i];
    for (int k = 0; k < 16; k++)
      acc = __builtin_fmaf(x[i / 2][k], y[i % 2][k], acc);
    out[i] = acc;
  }
  for (int i = 0; i < 4; i++)
    d[i] = out[i];
}

// The packed layout: element 2i is the low half of word i, element 2i+1 the high half.
AT_DEV unsigned int at_emu_pack_b16x2(unsigned short lo, unsigned short hi)
{
  return (unsigned int)lo | (unsigned int)hi << 16;
}

// The pure functions: every lane's fragments in, every lane's D out; packed (a[L][0..3],
// b[L][0..1] are lane L's registers) and element-wise.
AT_DEV void at_emu_mma_m16n8k16_packed(int kind, const unsigned int a[32][4],
                                       const unsigned int b[32][2], const float c[32][4],
                                       float d[32][4])
{
  for (int lane = 0; lane < 32; lane++)
    at_emu_mma_m16n8k16_words(kind, &a[0][0], 4, &b[0][0], 2, c[lane], lane, d[lane]);
}
AT_DEV void at_emu_mma_m16n8k16_elems(int kind, const unsigned short *a,
                                      const unsigned short *b, const float c[32][4],
                                      float d[32][4])
{
  unsigned int pa[32][4], pb[32][2];
  for (int lane = 0; lane < 32; lane++) {
    for (int w = 0; w < 4; w++)
      pa[lane][w] = at_emu_pack_b16x2(a[8 * lane + 2 * w], a[8 * lane + 2 * w + 1]);
    for (int w = 0; w < 2; w++)
      pb[lane][w] = at_emu_pack_b16x2(b[4 * lane + 2 * w], b[4 * lane + 2 * w + 1]);
  }
  at_emu_mma_m16n8k16_packed(kind, pa, pb, c, d);
}
AT_DEV void at_emu_mma_m16n8k16_f32_f16(const at_half a[32][8], const at_half b[32][4],
                                        const float c[32][4], float d[32][4])
{
  at_emu_mma_m16n8k16_elems(AT_EMU_F16, &a[0][0].bits, &b[0][0].bits, c, d);
}
AT_DEV void at_emu_mma_m16n8k16_f32_bf16(const at_bfloat16 a[32][8],
                                         const at_bfloat16 b[32][4], const float c[32][4],
                                         float d[32][4])
{
  at_emu_mma_m16n8k16_elems(AT_EMU_BF16, &a[0][0].bits, &b[0][0].bits, c, d);
}

// ldmatrix .m8n8 .xN .b16: lanes 8q..8q+7 give the addresses of rows 0..7 of matrix q
// (q < N); rows[t][0..7] are the 8 b16 elements at lane t's address. Each lane L gets,
// for each matrix q, one 32-bit register: d[L][2q] (low half) and d[L][2q+1] (high):
//   plain:  M_q[L / 4][2 * (L % 4) + h]           (row L/4, two adjacent columns)
//   .trans: M_q[2 * (L % 4) + h][L / 4]           (the same positions of M_q transposed)
// where M_q[r][c] = rows[8q + r][c], h = 0 low, 1 high. Entries d[L][2N..7] are left.
AT_DEV void at_emu_ldmatrix_lane(int num, int trans, const unsigned short *rows,
                                 int row_stride, int lane, unsigned short *d)
{
  for (int q = 0; q < num; q++)
    for (int h = 0; h < 2; h++) {
      int r = trans ? 2 * (lane % 4) + h : lane / 4;
      int c = trans ? lane / 4 : 2 * (lane % 4) + h;
      d[2 * q + h] = rows[(8 * q + r) * row_stride + c];
    }
}
AT_DEV void at_emu_ldmatrix(int num, int trans, const unsigned short rows[32][8],
                            unsigned short d[32][8])
{
  for (int lane = 0; lane < 32; lane++)
    at_emu_ldmatrix_lane(num, trans, &rows[0][0], 8, lane, d[lane]);
}
// Packed: d[L][0..N-1] are lane L's ldmatrix registers (d[L][N..3] are left).
AT_DEV void at_emu_ldmatrix_packed(int num, int trans, const unsigned short rows[32][8],
                                   unsigned int d[32][4])
{
  for (int lane = 0; lane < 32; lane++) {
    unsigned short e[8];
    at_emu_ldmatrix_lane(num, trans, &rows[0][0], 8, lane, e);
    for (int q = 0; q < num; q++)
      d[lane][q] = at_emu_pack_b16x2(e[2 * q], e[2 * q + 1]);
  }
}

#if !defined(AT_EMU_ONLY)
AT_DEV void at_host_mma_m16n8k16(int kind, float d[4], const unsigned int a[4],
                                 const unsigned int b[2], const float c[4])
{
  if (AT_WAVE_SIZE != 32) {
    at_host_fail("mma.sync m16n8k16 needs a warp of 32 lanes (AT_WAVE_SIZE=32)");
    return;
  }
  const struct at_host_thread *t = at_host_warp_self();
  const unsigned int mine[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
  const unsigned int *all = static_cast<const unsigned int *>(
      at_host_rt_get()->warp_share(mine, sizeof mine, 0)); // [lane][6], read in place
  at_emu_mma_m16n8k16_words(kind, all, 6, all + 4, 6, c, (int)t->lane, d);
}

AT_DEV void at_mma_m16n8k16_f32_f16_packed(float d[4], const unsigned int a[4],
                                           const unsigned int b[2], const float c[4])
{
  at_host_mma_m16n8k16(AT_EMU_F16, d, a, b, c);
}
AT_DEV void at_mma_m16n8k16_f32_bf16_packed(float d[4], const unsigned int a[4],
                                            const unsigned int b[2], const float c[4])
{
  at_host_mma_m16n8k16(AT_EMU_BF16, d, a, b, c);
}
template <typename T>
AT_DEV void at_host_mma_m16n8k16_elems(int kind, float d[4], const T a[8], const T b[4],
                                       const float c[4])
{
  unsigned int pa[4], pb[2];
  for (int i = 0; i < 4; i++)
    pa[i] = at_emu_pack_b16x2(a[2 * i].bits, a[2 * i + 1].bits);
  for (int i = 0; i < 2; i++)
    pb[i] = at_emu_pack_b16x2(b[2 * i].bits, b[2 * i + 1].bits);
  at_host_mma_m16n8k16(kind, d, pa, pb, c);
}
AT_DEV void at_mma_m16n8k16_f32_f16(float d[4], const at_half a[8], const at_half b[4],
                                    const float c[4])
{
  at_host_mma_m16n8k16_elems(AT_EMU_F16, d, a, b, c);
}
AT_DEV void at_mma_m16n8k16_f32_bf16(float d[4], const at_bfloat16 a[8],
                                     const at_bfloat16 b[4], const float c[4])
{
  at_host_mma_m16n8k16_elems(AT_EMU_BF16, d, a, b, c);
}

template <typename T>
AT_DEV void at_host_ldmatrix(int num, int trans, unsigned short out[8], const T *row)
{
  static_assert(sizeof(T) == 2, "ldmatrix moves 16-bit elements");
  if (AT_WAVE_SIZE != 32) {
    at_host_fail("ldmatrix needs a warp of 32 lanes (AT_WAVE_SIZE=32)");
    return;
  }
  const struct at_host_thread *t = at_host_warp_self();
  unsigned short mine[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if ((int)t->lane < 8 * num) {
    if ((unsigned long)row % 16 != 0)
      at_host_fail("ldmatrix: row address not aligned to 16 bytes");
    __builtin_memcpy(mine, row, sizeof mine);
  }
  const unsigned short *all = static_cast<const unsigned short *>(
      at_host_rt_get()->warp_share(mine, sizeof mine, 0)); // [lane][8], read in place
  at_emu_ldmatrix_lane(num, trans, all, 8, (int)t->lane, out);
}
#define AT_LDMATRIX(name, n, trans)                                                      \
  template <typename T> AT_DEV void name##_packed(unsigned int d[n], const T *row)       \
  {                                                                                      \
    unsigned short out[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                    \
    at_host_ldmatrix(n, trans, out, row);                                                \
    for (int q = 0; q < n; q++)                                                          \
      d[q] = at_emu_pack_b16x2(out[2 * q], out[2 * q + 1]);                              \
  }                                                                                      \
  template <typename T> AT_DEV void name(T d[2 * n], const T *row)                       \
  {                                                                                      \
    unsigned short out[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                    \
    at_host_ldmatrix(n, trans, out, row);                                                \
    __builtin_memcpy(d, out, 2 * (unsigned long)n * sizeof(T));                          \
  }
AT_LDMATRIX(at_ldmatrix_x1, 1, 0)
AT_LDMATRIX(at_ldmatrix_x2, 2, 0)
AT_LDMATRIX(at_ldmatrix_x4, 4, 0)
AT_LDMATRIX(at_ldmatrix_x1_trans, 1, 1)
AT_LDMATRIX(at_ldmatrix_x2_trans, 2, 1)
AT_LDMATRIX(at_ldmatrix_x4_trans, 4, 1)
#undef AT_LDMATRIX
#endif
