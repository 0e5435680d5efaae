// wgmma_kernels.cu - kernels written against templates/common only that exercise
// at_wgmma.h: tests/test_wgmma.c runs them on the host device (cc_host + meas_host + the
// SIMT emulator), compiles them with NVRTC for sm_90a (wgmma) and sm_90 (no wgmma: the
// kernels compile to empty bodies and wg_no_wgmma marks which path was taken), and runs
// the wgp_* probe on an H100.
//
// wg_<f16|bf16>_n<N>(a, b, out, early, layout, mode): each warpgroup w of the block
// computes out[w] (64 x N, row-major) = A_w (64 x 64, row-major in a) times B^T, B being
// N x 64 row-major in b (K-major), with 4 wgmma.mma_async of K = 16, after staging A_w
// and B in dynamic shared memory in the canonical K-major layout `layout`:
//   0 no swizzle, core matrices adjacent along K (LBO 128, SBO 8 * 128)
//   1 128-byte swizzle, 2 64-byte swizzle, 3 32-byte swizzle (SBO 8 rows of the pattern;
//     K beyond the pattern's row in further blocks of rows * pattern bytes)
//   4 no swizzle, core matrices adjacent along M/N (SBO 128, LBO rows * 16)
// The accumulators start at -1. mode 0: one group, wait_group 0. mode 1: before waiting,
// early = the accumulators, then every A tile is zeroed (a bug on purpose: on the host
// the product is computed at the wait, so out is 0). mode 2: k-steps 0-1 and 2-3 are two
// groups; early = the accumulators after wait_group 1 (the first group only), out after
// wait_group 0. On the host only (the PTX leaves modes 3 and 5 undefined, so they never
// reach a GPU compile): mode 4, A from registers (the RS form: each thread's mma.sync-
// layout fragments of its warp's 16 rows, read from a), B staged as above, one group;
// modes 3 and 5, bugs on purpose that the emulation must refuse at the wait: 3 writes an
// accumulator, 5 (as 4) one of A's registers, after the issue and before the wait_group.
// Modes 6 and 7 (host only, K-major layouts): A and B staged by cp.async, 16 bytes (8 k)
// a copy, then wait_all and the barrier, with (6) or without (7, the bug: the async proxy
// need not see the copies) fence.proxy.async between them; then as mode 0. Mode 8 (host
// only, the bug): staged by plain stores with no fence.proxy.async before the barrier.
// Dynamic shared memory: warpgroups * 8192 + N * 128 bytes.
//
// wgp_<f16|bf16>_n<N>(a, b, c, out, addr, layout_a, layout_b, ksteps, scale_d): the
// probe that tests/test_wgmma.c (wgmma/gpu_*) runs on an H100 and compares with the
// emulation. A and B as above, A_w staged in layout_a and B in layout_b, both from the
// first 1024-byte boundary of dynamic shared memory (swizzles follow absolute
// addresses); each warpgroup's accumulators start at C_w (64 x N, row-major in c), then
// ksteps (1..4) wgmma.mma_async over k = 0..16 ksteps - 1, the first with scale-d =
// scale_d and the rest 1, all in one group; wait_group 0; out_w = D. addr[0] = the
// shared-window address (mod 2^18) where dynamic shared memory starts (0 on the host).
// Dynamic shared memory: warpgroups * 8192 + N * 128 + 1024 bytes.
//
// wgpt_<f16|bf16>_n<N>(same arguments): the probe for the transposed forms; layout_a and
// layout_b may also be MN-major (imm-trans = 1, at_wgmma_mnmajor_offset), the operand
// staged from the same row-major a and b (an M-major A, an N-major B: what an NN GEMM
// has for B after a copy that keeps K x N rows):
//   5 no swizzle, core matrices adjacent along M/N (SBO 128, LBO rows * 16)
//   6 128-byte, 7 64-byte, 8 32-byte swizzle: atoms of 8 k-rows of the pattern's bytes
//     along M/N, the 8 k-rows of one atom after another along K (SBO 8 * pattern bytes),
//     the next atom along M/N after all 64 k (LBO 64 * pattern bytes)
//   9 no swizzle, core matrices adjacent along K (LBO 128, SBO 8 * 128)
// layouts 0-4 stay K-major, so one launch may mix the two. The wgmma's trans immediates
// are template parameters: the kernel picks one of four instantiations at run time.
#include "at_wgmma.h" // includes at_common.h
#include "at_copy.h"  // cp.async (modes 6 and 7, on the host)

#if AT_HAS_WGMMA
extern "C" __global__ void wg_has_wgmma(void) {}

// Layouts 5-9 are the MN-major twins of 0-4's swizzle modes (see above).
AT_DEV int wg_mn_major(int layout) { return layout >= 5; }
// Bytes of the pattern's row for a layout (0: no swizzle).
AT_DEV int wg_swizzle_bytes(int layout)
{
  int l = layout >= 5 ? layout - 5 : layout;
  return l == 1 ? 128 : l == 2 ? 64 : l == 3 ? 32 : 0;
}
AT_DEV int wg_swizzle_mode(int layout)
{
  int sb = wg_swizzle_bytes(layout);
  return sb == 128  ? AT_WGMMA_SWIZZLE_128B
         : sb == 64 ? AT_WGMMA_SWIZZLE_64B
         : sb == 32 ? AT_WGMMA_SWIZZLE_32B
                    : AT_WGMMA_SWIZZLE_NONE;
}
AT_DEV unsigned int wg_lbo(int layout, int rows)
{
  if (wg_mn_major(layout))
    return layout == 5   ? (unsigned int)rows * 16u
           : layout == 9 ? 128u
                         : 64u * (unsigned int)wg_swizzle_bytes(layout);
  return layout == 0 ? 128u : layout == 4 ? (unsigned int)rows * 16u : 16u;
}
AT_DEV unsigned int wg_sbo(int layout)
{
  if (wg_mn_major(layout))
    return layout == 5   ? 128u
           : layout == 9 ? 1024u
                         : 8u * (unsigned int)wg_swizzle_bytes(layout);
  return layout == 0   ? 1024u
         : layout == 4 ? 128u
                       : 8u * (unsigned int)wg_swizzle_bytes(layout);
}
// Offset of element (row, k), k < 64, of a tile of `rows` rows (row: M or N).
AT_DEV unsigned int wg_offset(int layout, int rows, int row, int k)
{
  int sb = wg_swizzle_bytes(layout);
  if (wg_mn_major(layout))
    return at_wgmma_mnmajor_offset(row, k, wg_swizzle_mode(layout), wg_lbo(layout, rows),
                                   wg_sbo(layout));
  if (sb == 0)
    return at_wgmma_kmajor_offset(row, k, AT_WGMMA_SWIZZLE_NONE, wg_lbo(layout, rows),
                                  wg_sbo(layout));
  int per_row = sb / 2, block = k / per_row;
  return (unsigned int)(block * rows * sb) + at_wgmma_kmajor_offset(row, k % per_row,
                                                                    wg_swizzle_mode(layout),
                                                                    16u, wg_sbo(layout));
}
// Start of k-step s (k = 16s..16s+15) of a tile: two groups of 8 k on, along K.
AT_DEV unsigned int wg_step(int layout, int rows, int s)
{
  int sb = wg_swizzle_bytes(layout);
  if (wg_mn_major(layout))
    return 2u * (unsigned int)s * (sb == 0 ? wg_lbo(layout, rows) : wg_sbo(layout));
  if (sb == 0)
    return 2u * (unsigned int)s * wg_lbo(layout, rows);
  int per_row = sb / 2, k0 = 16 * s;
  return (unsigned int)((k0 / per_row) * rows * sb + 2 * (k0 % per_row));
}

// Stage A (warpgroups x 64 x 64, row-major in a) at tiles + 8192 w in layout_a, and B
// (N x 64, row-major in b) after them in layout_b; make the stores visible to wgmma.
// Returns B's tile.
template <int N>
AT_DEV unsigned char *wg_stage(unsigned char *tiles, const unsigned short *a,
                               const unsigned short *b, int layout_a, int layout_b,
                               int fence = 1)
{
  int t = (int)at_thread_idx_x(), threads = (int)at_block_dim_x(), groups = threads / 128;
  unsigned char *b_tile = tiles + groups * 8192;
  for (int e = t; e < groups * 64 * 64; e += threads) {
    int g = e / 4096, row = e / 64 % 64, k = e % 64;
    at_st_shared_async((unsigned short *)(tiles + g * 8192 + wg_offset(layout_a, 64, row, k)),
                       a[e]);
  }
  for (int e = t; e < N * 64; e += threads)
    at_st_shared_async((unsigned short *)(b_tile + wg_offset(layout_b, N, e / 64, e % 64)),
                       b[e]);
  if (fence) // (mode 8 leaves it out: the bug the host must refuse)
    at_fence_proxy_async_shared();
  at_syncthreads();
  return b_tile;
}

template <int N, int BF16>
AT_DEV void wg_product(const unsigned short *a, const unsigned short *b, float *out,
                       float *early, int layout, int mode)
{
  AT_DYNAMIC_SHARED(unsigned char, smem);
  int t = (int)at_thread_idx_x(), threads = (int)at_block_dim_x();
  int groups = threads / 128, w = t / 128, wt = t % 128;
  unsigned char *b_tile = smem + groups * 8192;
#if defined(AT_HOST)
  if (mode == 6 || mode == 7) { // a row's 8 k of a K-major layout are one 16-byte chunk
    for (int e = t; e < groups * 64 * 8; e += threads) {
      int g = e / 512, row = e / 8 % 64, k = e % 8 * 8;
      at_cp_async_16(smem + g * 8192 + wg_offset(layout, 64, row, k), a + g * 4096 + row * 64 + k);
    }
    for (int e = t; e < N * 8; e += threads)
      at_cp_async_16(b_tile + wg_offset(layout, N, e / 8, e % 8 * 8), b + e / 8 * 64 + e % 8 * 8);
    at_cp_async_wait_all();
    if (mode == 6)
      at_fence_proxy_async_shared();
    at_syncthreads();
  } else
#endif
    b_tile = wg_stage<N>(smem, a, b, layout, layout, mode != 8);

  float d[N / 2];
  for (int i = 0; i < N / 2; i++)
    d[i] = -1.0f;
  int swizzle = wg_swizzle_mode(layout);
  float *mine = out + w * 64 * N, *mine_early = early + w * 64 * N;
#if defined(AT_HOST)
  if (mode >= 4 && mode <= 7) { // A from registers: rows g, g + 8 and k 2c, 2c + 8 (+1) of each k step
    const int lane = wt % 32, g = wt / 32 * 16 + lane / 4, c = lane % 4 * 2;
    const unsigned short *aw = a + w * 4096;
    unsigned int ra[4][4];
    for (int s = 0; s < 4; s++)
      for (int r = 0; r < 4; r++) {
        const int row = g + (r & 1) * 8, k = 16 * s + c + (r >> 1) * 8;
        ra[s][r] = aw[row * 64 + k] | (unsigned int)aw[row * 64 + k + 1] << 16;
      }
    at_wgmma_fence();
    for (int s = 0; s < 4; s++) {
      unsigned long long db = at_wgmma_desc(b_tile + wg_step(layout, N, s), wg_lbo(layout, N),
                                            wg_sbo(layout), swizzle);
      if (BF16)
        at_wgmma_m64nNk16_rs_f32_bf16<N, 0>(d, ra[s], db, s > 0);
      else
        at_wgmma_m64nNk16_rs_f32_f16<N, 0>(d, ra[s], db, s > 0);
    }
    at_wgmma_commit_group();
    if (mode == 5)
      ra[3][0] ^= 1u; // the bug: P written while the wgmma may still read it
    at_wgmma_wait_group<0>();
    for (int i = 0; i < N / 2; i++)
      mine[at_wgmma_d_row(wt, i) * N + at_wgmma_d_col(wt, i)] = d[i];
    return;
  }
#endif
  at_wgmma_fence();
  for (int s = 0; s < 4; s++) {
    unsigned long long da = at_wgmma_desc(smem + w * 8192 + wg_step(layout, 64, s),
                                          wg_lbo(layout, 64), wg_sbo(layout), swizzle);
    unsigned long long db = at_wgmma_desc(b_tile + wg_step(layout, N, s), wg_lbo(layout, N),
                                          wg_sbo(layout), swizzle);
    if (BF16)
      at_wgmma_m64nNk16_f32_bf16<N>(d, da, db, s > 0);
    else
      at_wgmma_m64nNk16_f32_f16<N>(d, da, db, s > 0);
    if (mode == 2 && s == 1)
      at_wgmma_commit_group();
  }
  at_wgmma_commit_group();
#if defined(AT_HOST)
  if (mode == 3)
    d[0] += 1.0f; // the bug: an accumulator written while the wgmma may still write it
#endif
  if (mode == 1) {
    for (int i = 0; i < N / 2; i++)
      mine_early[at_wgmma_d_row(wt, i) * N + at_wgmma_d_col(wt, i)] = d[i];
    at_syncthreads();
    for (int e = t; e < groups * 8192; e += threads)
      smem[e] = 0;
    at_fence_proxy_async_shared();
    at_syncthreads();
  }
  if (mode == 2) {
    at_wgmma_wait_group<1>();
    for (int i = 0; i < N / 2; i++)
      mine_early[at_wgmma_d_row(wt, i) * N + at_wgmma_d_col(wt, i)] = d[i];
  }
  at_wgmma_wait_group<0>();
  for (int i = 0; i < N / 2; i++)
    mine[at_wgmma_d_row(wt, i) * N + at_wgmma_d_col(wt, i)] = d[i];
}

// One wgmma with the trans immediates chosen at run time among the four instantiations.
template <int N, int BF16>
AT_DEV void wg_mma_t(float *d, unsigned long long da, unsigned long long db, int scale_d,
                     int trans_a, int trans_b)
{
  if (trans_a && trans_b) {
    if (BF16)
      at_wgmma_m64nNk16_f32_bf16<N, 1, 1>(d, da, db, scale_d);
    else
      at_wgmma_m64nNk16_f32_f16<N, 1, 1>(d, da, db, scale_d);
  } else if (trans_a) {
    if (BF16)
      at_wgmma_m64nNk16_f32_bf16<N, 1, 0>(d, da, db, scale_d);
    else
      at_wgmma_m64nNk16_f32_f16<N, 1, 0>(d, da, db, scale_d);
  } else if (trans_b) {
    if (BF16)
      at_wgmma_m64nNk16_f32_bf16<N, 0, 1>(d, da, db, scale_d);
    else
      at_wgmma_m64nNk16_f32_f16<N, 0, 1>(d, da, db, scale_d);
  } else {
    if (BF16)
      at_wgmma_m64nNk16_f32_bf16<N, 0, 0>(d, da, db, scale_d);
    else
      at_wgmma_m64nNk16_f32_f16<N, 0, 0>(d, da, db, scale_d);
  }
}

// The probe (wgp_* and wgpt_*): d = C_w; ksteps wgmmas in one group; wait_group 0;
// out_w = d. The trans immediates follow the layouts (0 for the K-major ones wgp_* gets;
// wgpt_* gets layouts 0-9). The accumulators are not touched between the first issue and
// the wait, so ptxas keeps the wgmmas asynchronous (it serializes wg_*, which read them
// early on purpose).
template <int N, int BF16>
AT_DEV void wg_probe(const unsigned short *a, const unsigned short *b, const float *c,
                       float *out, unsigned int *addr, int layout_a, int layout_b,
                       int ksteps, int scale_d)
{
  AT_DYNAMIC_SHARED(unsigned char, smem);
  int t = (int)at_thread_idx_x(), w = t / 128, wt = t % 128;
  // Swizzles follow absolute shared addresses: the tiles start at the first 1024-byte
  // boundary (the host's dynamic shared memory is at "address" 0).
  unsigned int base = (unsigned int)(at_wgmma_desc(smem, 0, 0, AT_WGMMA_SWIZZLE_NONE) &
                                     0x3FFFu)
                      << 4;
  unsigned char *tiles = smem + (1024u - base % 1024u) % 1024u;
  if (t == 0)
    addr[0] = base;
  unsigned char *b_tile = wg_stage<N>(tiles, a, b, layout_a, layout_b);
  const float *mine_c = c + w * 64 * N;
  float d[N / 2];
  for (int i = 0; i < N / 2; i++)
    d[i] = mine_c[at_wgmma_d_row(wt, i) * N + at_wgmma_d_col(wt, i)];
  int ta = wg_mn_major(layout_a), tb = wg_mn_major(layout_b);
  at_wgmma_fence();
  for (int s = 0; s < 4; s++)
    if (s < ksteps) {
      unsigned long long da =
          at_wgmma_desc(tiles + w * 8192 + wg_step(layout_a, 64, s), wg_lbo(layout_a, 64),
                        wg_sbo(layout_a), wg_swizzle_mode(layout_a));
      unsigned long long db =
          at_wgmma_desc(b_tile + wg_step(layout_b, N, s), wg_lbo(layout_b, N),
                        wg_sbo(layout_b), wg_swizzle_mode(layout_b));
      wg_mma_t<N, BF16>(d, da, db, s > 0 ? 1 : scale_d, ta, tb);
    }
  at_wgmma_commit_group();
  at_wgmma_wait_group<0>();
  float *mine = out + w * 64 * N;
  for (int i = 0; i < N / 2; i++)
    mine[at_wgmma_d_row(wt, i) * N + at_wgmma_d_col(wt, i)] = d[i];
}

// A matrix in static shared memory: the host emulation refuses its descriptor.
extern "C" __global__ void wg_static_smem(float *out)
{
  __shared__ __attribute__((aligned(1024))) unsigned short tile[64 * 64];
  float d[32];
  for (int i = 0; i < 32; i++)
    d[i] = 0;
  unsigned long long desc = at_wgmma_desc(tile, 128, 1024, AT_WGMMA_SWIZZLE_NONE);
  at_wgmma_fence();
  at_wgmma_m64nNk16_f32_f16<64>(d, desc, desc, 0);
  at_wgmma_commit_group();
  at_wgmma_wait_group<0>();
  out[at_thread_idx_x()] = d[0];
}
#define WG_BODY(n, bf) wg_product<n, bf>(a, b, out, early, layout, mode)
#define WGP_BODY(n, bf)                                                                    \
  wg_probe<n, bf>(a, b, c, out, addr, layout_a, layout_b, ksteps, scale_d)
#else
extern "C" __global__ void wg_no_wgmma(void) {}
#define WG_BODY(n, bf) ((void)a, (void)b, (void)out, (void)early, (void)layout, (void)mode)
#define WGP_BODY(n, bf)                                                                    \
  ((void)a, (void)b, (void)c, (void)out, (void)addr, (void)layout_a, (void)layout_b,       \
   (void)ksteps, (void)scale_d)
#endif

#define WG_KERNEL(name, n, bf)                                                             \
  extern "C" __global__ void __launch_bounds__(256)                                        \
      name(const unsigned short *a, const unsigned short *b, float *out, float *early,     \
           int layout, int mode)                                                           \
  {                                                                                        \
    WG_BODY(n, bf);                                                                        \
  }
WG_KERNEL(wg_f16_n64, 64, 0)
WG_KERNEL(wg_f16_n128, 128, 0)
WG_KERNEL(wg_f16_n256, 256, 0)
WG_KERNEL(wg_bf16_n64, 64, 1)
WG_KERNEL(wg_bf16_n128, 128, 1)
WG_KERNEL(wg_bf16_n256, 256, 1)

// wgp_* (K-major layouts) and wgpt_* (every layout): the same probe, two names.
#define WGP_KERNEL(name, n, bf)                                                      \
  extern "C" __global__ void __launch_bounds__(256)                                        \
      name(const unsigned short *a, const unsigned short *b, const float *c, float *out,   \
           unsigned int *addr, int layout_a, int layout_b, int ksteps, int scale_d)        \
  {                                                                                        \
    WGP_BODY(n, bf);                                                                       \
  }
WGP_KERNEL(wgp_f16_n64, 64, 0)
WGP_KERNEL(wgp_f16_n128, 128, 0)
WGP_KERNEL(wgp_f16_n256, 256, 0)
WGP_KERNEL(wgp_bf16_n64, 64, 1)
WGP_KERNEL(wgp_bf16_n128, 128, 1)
WGP_KERNEL(wgp_bf16_n256, 256, 1)

WGP_KERNEL(wgpt_f16_n64, 64, 0)
WGP_KERNEL(wgpt_f16_n128, 128, 0)
WGP_KERNEL(wgpt_f16_n256, 256, 0)
WGP_KERNEL(wgpt_bf16_n64, 64, 1)
WGP_KERNEL(wgpt_bf16_n128, 128, 1)
WGP_KERNEL(wgpt_bf16_n256, 256, 1)
