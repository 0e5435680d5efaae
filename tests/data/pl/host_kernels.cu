// host_kernels.cu - kernels written against templates/common only, that
// tests/test_portability.c runs on the host device (cc_host + meas_host + the SIMT
// emulator) and checks: a warp sum by xor and by down shuffles, ballot/any/all, a
// dynamic-shared-memory stage by cp.async with a barrier, split-K style atomics, one
// MFMA 32x32x8 f16 product on a wave of 64 and one ldmatrix + mma.sync m16n8k16 product
// on a warp of 32. The same source compiles for CUDA and HIP.
#include "at_common.h"

// out[w] = the sum of x over warp w, twice: by xor (every lane) and by down (lane 0).
extern "C" __global__ void pl_reduce(const float *x, float *out_xor, float *out_down)
{
  unsigned int g = at_block_idx_x() * at_block_dim_x() + at_thread_idx_x();
  float a = x[g], b = x[g];
  for (int m = AT_WAVE_SIZE / 2; m > 0; m /= 2) {
    a += at_shfl_xor(a, m);
    b += at_shfl_down(b, m);
  }
  out_xor[g] = a;
  if (at_lane_id() == 0)
    out_down[g / AT_WAVE_SIZE] = b;
}

// out[g] = ballot(lane % 3 == 0) low word, [n + g] high word, [2n + g] = any(lane == 5)
// + 2 * all(lane < wave) + 4 * all(lane != 7), [3n + g] = shfl_up(lane, 1, 8) and
// [4n + g] = shfl_idx(lane, 3, 16).
extern "C" __global__ void pl_vote(unsigned int *out, int n)
{
  unsigned int g = at_block_idx_x() * at_block_dim_x() + at_thread_idx_x();
  int lane = (int)at_lane_id();
  unsigned long long b = at_ballot(lane % 3 == 0);
  out[g] = (unsigned int)b;
  out[n + g] = (unsigned int)(b >> 32);
  out[2 * n + g] = (unsigned int)(at_any(lane == 5) + 2 * at_all(lane < AT_WAVE_SIZE) +
                                  4 * at_all(lane != 7));
  out[3 * n + g] = (unsigned int)at_shfl_up(lane, 1, 8);
  out[4 * n + g] = (unsigned int)at_shfl_idx(lane, 3, 16);
}

// out = reverse of in within each block of 64 threads, staged through dynamic shared
// memory by 16-byte async copies (threads 0..15 copy 4 floats each).
extern "C" __global__ void pl_stage(const float *in, float *out)
{
  AT_DYNAMIC_SHARED(float, s);
  unsigned int t = at_thread_idx_x(), base = at_block_idx_x() * 64;
  if (t < 16)
    at_cp_async_16(s + 4 * t, in + base + 4 * t);
  at_cp_async_commit();
  at_cp_async_wait_all();
  at_syncthreads();
  out[base + t] = s[63 - t] + (float)(at_dynamic_shared_bytes() == 256 ? 0 : 1000);
}

// cp.async's groups, one thread: out[0] = a word of group 0 read right after its copy is
// issued, out[1] and out[2] words of groups 0 and 1 after wait<1> with both committed,
// out[3] group 1's after wait<0>, out[4] a third copy's, never committed, after wait<0>,
// out[5] the same after wait_all. On the GPU the reads before a covering wait race with
// the copies; the host (at_host_copy.h) lands each copy at its wait, so they read 0 there
// when it emulates a GPU with cp.async, and the new values when the copy is synchronous.
extern "C" __global__ void pl_cp_async_groups(const unsigned int *src, unsigned int *out)
{
  AT_DYNAMIC_SHARED(unsigned int, s);
  if (at_thread_idx_x() != 0)
    return;
  for (int i = 0; i < 12; i++)
    s[i] = 0;
  at_cp_async_16(s, src);
  out[0] = s[1];
  at_cp_async_commit();
  at_cp_async_16(s + 4, src + 4);
  at_cp_async_commit();
  at_cp_async_wait<1>();
  out[1] = s[1], out[2] = s[5];
  at_cp_async_wait<0>();
  out[3] = s[5];
  at_cp_async_8(s + 8, src + 8);
  at_cp_async_wait<0>();
  out[4] = s[9];
  at_cp_async_wait_all();
  out[5] = s[9];
}

// sum[0] += every x (f32), count[0] += 1 per thread, isum[0] += thread index.
extern "C" __global__ void pl_atomic(const float *x, float *sum, unsigned int *count,
                                     int *isum)
{
  unsigned int g = at_block_idx_x() * at_block_dim_x() + at_thread_idx_x();
  at_atomic_add_f32(sum, x[g]);
  at_atomic_add_u32(count, 1u);
  at_atomic_add_i32(isum, (int)g);
}

#if AT_HAS_MFMA
// d (32x32, row-major) = a (32x8, row-major) * b (8x32, row-major); one wave.
extern "C" __global__ void pl_mfma_32x32x8(const at_half *a, const at_half *b, float *d)
{
  int lane = (int)at_lane_id(), i = lane % 32, k0 = 4 * (lane / 32);
  at_half fa[4], fb[4];
  for (int e = 0; e < 4; e++) {
    fa[e] = a[i * 8 + k0 + e];  // A[i][k]: lane i + 32 * (k / 4), element k % 4
    fb[e] = b[(k0 + e) * 32 + i]; // B[k][j]: lane j + 32 * (k / 4)
  }
  float acc[16];
  for (int r = 0; r < 16; r++)
    acc[r] = 0;
  at_mfma_f32_32x32x8f16(acc, fa, fb, acc);
  for (int r = 0; r < 16; r++)
    d[(8 * (r / 4) + 4 * (lane / 32) + r % 4) * 32 + i] = acc[r];
}
#endif

#if AT_HAS_MMA_SYNC && AT_HAS_LDMATRIX
// d (16x8, row-major) = a (16x16, row-major) * b (16x8, row-major); one warp. The
// operands go through shared memory and ldmatrix (x4 for A, x2.trans for B).
extern "C" __global__ void pl_mma_16x8x16(const at_half *a, const at_half *b, float *d)
{
  __shared__ __attribute__((aligned(16))) at_half sa[16 * 16];
  __shared__ __attribute__((aligned(16))) at_half sb[16 * 8];
  int lane = (int)at_lane_id();
  for (int e = 0; e < 8; e++) {
    sa[lane * 8 + e] = a[lane * 8 + e];
    if (lane < 16)
      sb[lane * 8 + e] = b[lane * 8 + e];
  }
  at_syncwarp();
  at_half fa[8], fb[4];
  at_ldmatrix_x4(fa, sa + (lane % 16) * 16 + 8 * (lane / 16));
  at_ldmatrix_x2_trans(fb, sb + (lane % 16) * 8);
  float acc[4] = {0, 0, 0, 0};
  at_mma_m16n8k16_f32_f16(acc, fa, fb, acc);
  for (int e = 0; e < 4; e++)
    d[(lane / 4 + 8 * (e / 2)) * 8 + 2 * (lane % 4) + e % 2] = acc[e];
}
#endif
