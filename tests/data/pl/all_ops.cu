// all_ops.cu - one kernel per area that calls every function of templates/common, for
// tests/test_portability.c to compile on every target: NVRTC (sm_80, sm_90), clang for
// HIP (gfx90a, gfx942) and g++ in host mode. The kernels compute nothing meaningful;
// each result is stored so that no call is optimised away.
#include "at_common.h"

extern "C" __global__ void __launch_bounds__(256) pl_ids(unsigned int *out)
{
  unsigned int v = at_thread_idx_x() + at_thread_idx_y() + at_thread_idx_z();
  v += at_block_idx_x() + at_block_idx_y() + at_block_idx_z();
  v += at_block_dim_x() + at_block_dim_y() + at_block_dim_z();
  v += at_grid_dim_x() + at_grid_dim_y() + at_grid_dim_z();
  v += at_lane_id() + AT_WAVE_SIZE + at_dynamic_shared_bytes();
  __shared__ unsigned int tile[256];
  AT_DYNAMIC_SHARED(float, dyn);
  AT_DYNAMIC_SHARED(at_half, dyn_h);
  tile[at_thread_idx_x()] = v;
  dyn[at_thread_idx_x()] = (float)v;
  at_syncthreads();
  dyn_h[0] = at_float_to_half(dyn[0]);
  out[at_thread_idx_x()] = tile[255 - at_thread_idx_x()] + dyn_h[1].bits;
}

extern "C" __global__ void pl_warp(float *out, const double *in)
{
  unsigned int lane = at_lane_id();
  float v = (float)lane;
  v += at_shfl_xor(v, 1) + at_shfl_xor(v, 2, 16);
  v += at_shfl_up(v, 1) + at_shfl_up(v, 3, 8);
  v += at_shfl_down(v, 1) + at_shfl_down(v, 2, 4);
  v += at_shfl_idx(v, 0) + at_shfl_idx(v, 5, 8);
  double w = at_shfl_xor(in[lane], 4);
  at_half h = at_shfl_idx(at_float_to_half(v), 3);
  int n = at_shfl_down((int)lane, 2);
  unsigned long long b = at_ballot(lane & 1);
  v += (float)w + at_half_to_float(h) + (float)n + (float)b;
  v += (float)at_any(lane == 3) + (float)at_all(lane < 64);
  at_syncwarp();
  out[lane] = v;
}

extern "C" __global__ void pl_memory(float *out, const float *in, unsigned int *u, int *s)
{
  unsigned int t = at_thread_idx_x();
  at_float4 f4 = at_load_f32x4(in + 4 * t);
  at_float2 f2 = at_load_f32x2(in + 2 * t);
  at_uint4 u4 = at_load_b128(u + 4 * t);
  at_uint2 u2 = at_load_b64(u + 2 * t);
  f4.x += f2.y + (float)u4.w + (float)u2.x;
  at_store_f32x4(out + 4 * t, f4);
  at_store_f32x2(out + 256 + 2 * t, f2);
  at_store_b128(u + 512 + 4 * t, u4);
  at_store_b64(u + 1024 + 2 * t, u2);
  at_atomic_add_f32(out + 2000, f4.x);
  at_atomic_add_u32(u + 2000, t);
  at_atomic_add_i32(s, (int)t);
  __shared__ __attribute__((aligned(16))) float stage[3][64 * 4];
  at_cp_async_4(&stage[0][t], in + t);
  at_cp_async_8(&stage[1][2 * t], in + 2 * t);
  at_cp_async_16(&stage[2][4 * t], in + 4 * t);
  at_cp_async_commit();
  at_cp_async_wait<1>();
  at_cp_async_wait<0>();
  at_cp_async_wait_all();
  at_syncthreads();
  out[3000 + t] = stage[0][63 - t] + stage[1][t] + stage[2][t] + (float)AT_HAS_CP_ASYNC;
}

extern "C" __global__ void pl_types(float *out, at_half *h, at_bfloat16 *b)
{
  unsigned int t = at_thread_idx_x();
  float f = at_half_to_float(h[t]) + at_bfloat16_to_float(b[t]);
  h[t] = at_float_to_half(f);
  b[t] = at_float_to_bfloat16(f);
  f += at_to_float(h[t]) + at_to_float(b[t]) + at_to_float(f);
  h[t + 64] = at_from_float<at_half>(f);
  b[t + 64] = at_from_float<at_bfloat16>(f);
  out[t] = at_from_float<float>(f) + at_uint_as_float(at_float_as_uint(f));
}

#if AT_HAS_MMA_SYNC && AT_HAS_LDMATRIX
extern "C" __global__ void pl_mma(float *out, const at_half *ah, const at_bfloat16 *ab)
{
  __shared__ __attribute__((aligned(16))) at_half sh[32 * 8];
  __shared__ __attribute__((aligned(16))) at_bfloat16 sb[32 * 8];
  unsigned int lane = at_lane_id();
  for (int i = 0; i < 8; i++) {
    sh[lane * 8 + i] = ah[lane * 8 + i];
    sb[lane * 8 + i] = ab[lane * 8 + i];
  }
  at_syncwarp();
  at_half a[8], b4[4];
  at_bfloat16 c[8], d4[4];
  at_ldmatrix_x4(a, sh + lane * 8);
  at_ldmatrix_x2_trans(b4, sh + (lane % 16) * 8);
  at_ldmatrix_x4_trans(c, sb + lane * 8);
  at_ldmatrix_x2(d4, sb + (lane % 16) * 8);
  at_half x1[2], x1t[2];
  at_ldmatrix_x1(x1, sh + (lane % 8) * 8);
  at_ldmatrix_x1_trans(x1t, sh + (lane % 8) * 8);
  float acc[4] = {0, 0, 0, 0};
  at_mma_m16n8k16_f32_f16(acc, a, b4, acc);
  at_mma_m16n8k16_f32_bf16(acc, c, d4, acc);
  for (int i = 0; i < 4; i++)
    out[lane * 4 + i] = acc[i] + at_half_to_float(x1[i % 2]) + at_half_to_float(x1t[i % 2]);
}
#endif

#if AT_HAS_MFMA
extern "C" __global__ void pl_mfma(float *out, const at_half *h, const at_bfloat16 *b,
                                   const float *f)
{
  unsigned int lane = at_lane_id();
  float d16[16], d4[4];
  for (int i = 0; i < 16; i++)
    d16[i] = 0;
  for (int i = 0; i < 4; i++)
    d4[i] = 0;
  at_mfma_f32_32x32x8f16(d16, h + 4 * lane, h + 256 + 4 * lane, d16);
  at_mfma_f32_16x16x16f16(d4, h + 4 * lane, h + 256 + 4 * lane, d4);
#if AT_HAS_MFMA_BF16_1K
  at_mfma_f32_32x32x8bf16_1k(d16, b + 4 * lane, b + 256 + 4 * lane, d16);
  at_mfma_f32_16x16x16bf16_1k(d4, b + 4 * lane, b + 256 + 4 * lane, d4);
#endif
  at_mfma_f32_32x32x2f32(d16, f[lane], f[64 + lane], d16);
  at_mfma_f32_16x16x4f32(d4, f[lane], f[64 + lane], d4);
  for (int i = 0; i < 16; i++)
    out[lane * 20 + i] = d16[i];
  for (int i = 0; i < 4; i++)
    out[lane * 20 + 16 + i] = d4[i];
}
#endif
