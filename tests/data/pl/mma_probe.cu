// mma_probe.cu - kernels that run the NVIDIA mappings of templates/common on a real GPU
// (sm_80+) and write every lane's result out, for tests/test_matrix_core.c
// (matrix_core/gpu_*) to compare with the host emulation bit for bit: mma.sync
// m16n8k16 with f16 and bf16 inputs on per-lane fragments given by the host, ldmatrix
// .x1/.x2/.x4 with and without .trans on 32 unique rows, the f16/bf16 conversions, and
// the layer's shuffles and ballot against CUDA's own intrinsics. One warp per launch
// (one block of 32 threads) unless noted. Includes nothing but at_common.h. The probes
// but the last build for the host device too (matrix_core/mma_random_*: the emulation's
// per-lane path against its pure function); probe_shuffle, against CUDA's intrinsics, is
// CUDA's alone.
#include "at_common.h"

// d[lane][0..3] = mma(a[lane][0..7], b[lane][0..3], c[lane][0..3])
extern "C" __global__ void probe_mma_f16(const at_half *a, const at_half *b, const float *c,
                                         float *d)
{
  unsigned int lane = at_lane_id();
  at_half fa[8], fb[4];
  float fc[4], fd[4];
  for (int i = 0; i < 8; i++)
    fa[i] = a[lane * 8 + i];
  for (int i = 0; i < 4; i++) {
    fb[i] = b[lane * 4 + i];
    fc[i] = c[lane * 4 + i];
  }
  at_mma_m16n8k16_f32_f16(fd, fa, fb, fc);
  for (int i = 0; i < 4; i++)
    d[lane * 4 + i] = fd[i];
}

extern "C" __global__ void probe_mma_bf16(const at_bfloat16 *a, const at_bfloat16 *b,
                                          const float *c, float *d)
{
  unsigned int lane = at_lane_id();
  at_bfloat16 fa[8], fb[4];
  float fc[4], fd[4];
  for (int i = 0; i < 8; i++)
    fa[i] = a[lane * 8 + i];
  for (int i = 0; i < 4; i++) {
    fb[i] = b[lane * 4 + i];
    fc[i] = c[lane * 4 + i];
  }
  at_mma_m16n8k16_f32_bf16(fd, fa, fb, fc);
  for (int i = 0; i < 4; i++)
    d[lane * 4 + i] = fd[i];
}

// rows: 32 rows of 8 b16 values; out[v][lane][0..7] for the variants v = x1, x2, x4,
// x1.trans, x2.trans, x4.trans (entries past 2N left 0).
extern "C" __global__ void probe_ldmatrix(const unsigned short *rows, unsigned short *out)
{
  __shared__ __attribute__((aligned(16))) unsigned short s[32 * 8];
  unsigned int lane = at_lane_id();
  for (int i = 0; i < 8; i++)
    s[lane * 8 + i] = rows[lane * 8 + i];
  at_syncwarp();
  unsigned short d[6][8];
  for (int v = 0; v < 6; v++)
    for (int i = 0; i < 8; i++)
      d[v][i] = 0;
  const unsigned short *row = s + lane * 8;
  at_ldmatrix_x1(d[0], row);
  at_ldmatrix_x2(d[1], row);
  at_ldmatrix_x4(d[2], row);
  at_ldmatrix_x1_trans(d[3], row);
  at_ldmatrix_x2_trans(d[4], row);
  at_ldmatrix_x4_trans(d[5], row);
  for (int v = 0; v < 6; v++)
    for (int i = 0; i < 8; i++)
      out[(v * 32 + lane) * 8 + i] = d[v][i];
}

// For n floats (given as bits): their f16 and bf16 bits; for all 65536 half and bf16
// patterns: their float bits. Any block shape.
extern "C" __global__ void probe_convert(const unsigned int *f, unsigned short *h,
                                         unsigned short *bf, int n, unsigned int *h2f,
                                         unsigned int *bf2f)
{
  int i = (int)(at_block_idx_x() * at_block_dim_x() + at_thread_idx_x());
  if (i < n) {
    h[i] = at_float_to_half(at_uint_as_float(f[i])).bits;
    bf[i] = at_float_to_bfloat16(at_uint_as_float(f[i])).bits;
  }
  if (i < 65536) {
    at_half x;
    at_bfloat16 y;
    x.bits = (unsigned short)i;
    y.bits = (unsigned short)i;
    h2f[i] = at_float_as_uint(at_half_to_float(x));
    bf2f[i] = at_float_as_uint(at_bfloat16_to_float(y));
  }
}

// Shuffles of the layer against CUDA's: for op (xor, up, down, idx), width w = 2..32
// and parameter p = 0..7, out[((op * 5 + log2(w) - 1) * 8 + p) * 32 + lane] holds the
// layer's result and native[...] CUDA's; both are the source lane's id * 3 + 1. Then
// ballot: out[4 * 5 * 8 * 32 + lane] = low and [.. + 32 + lane] = high word of
// at_ballot(lane % 3 == 0), native: __ballot_sync.
#if defined(AT_CUDA)
extern "C" __global__ void probe_shuffle(int *out, int *native)
{
  int lane = (int)at_lane_id(), v = lane * 3 + 1;
  for (int op = 0; op < 4; op++)
    for (int lw = 1; lw <= 5; lw++)
      for (int p = 0; p < 8; p++) {
        int w = 1 << lw, at = ((op * 5 + lw - 1) * 8 + p) * 32 + lane, x, y;
        if (op == 0) {
          x = at_shfl_xor(v, p, w);
          y = __shfl_xor_sync(0xffffffffu, v, p, w);
        } else if (op == 1) {
          x = at_shfl_up(v, p, w);
          y = __shfl_up_sync(0xffffffffu, v, (unsigned int)p, w);
        } else if (op == 2) {
          x = at_shfl_down(v, p, w);
          y = __shfl_down_sync(0xffffffffu, v, (unsigned int)p, w);
        } else {
          x = at_shfl_idx(v, p * 5, w);
          y = __shfl_sync(0xffffffffu, v, p * 5, w);
        }
        out[at] = x;
        native[at] = y;
      }
  unsigned long long b = at_ballot(lane % 3 == 0);
  out[4 * 5 * 8 * 32 + lane] = (int)(unsigned int)b;
  out[4 * 5 * 8 * 32 + 32 + lane] = (int)(unsigned int)(b >> 32);
  native[4 * 5 * 8 * 32 + lane] = (int)__ballot_sync(0xffffffffu, lane % 3 == 0);
  native[4 * 5 * 8 * 32 + 32 + lane] = 0;
}
#endif
