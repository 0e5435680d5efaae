// at_host_mfma.h - CDNA MFMA on the host device: the emulation of at_mfma.h's
// instructions (at_mfma.h's head comment has their layouts and sources).
// Included by at_mfma.h on the host device (AT_HOST) only: no GPU compile sees it,
// so it is outside the templates' content hash (generator/template_kernel.c); the
// host compile backend's toolchain string carries a digest of the at_host_*.h files
// instead (tuner/compile/cc_host.c), so host objects and trials still key on it.
#if !defined(AT_HOST)
#error "at_host_mfma.h is the host device's (AT_HOST): include at_mfma.h"
#endif

// ---- emulation: the documented layouts ----
//
// One block of D (M x M, M = 32 or 16) += A (M x K) * B (K x M). Each lane holds
// KL = K * M / 64 consecutive k of one row of A and of one column of B (4 f16/bf16
// values in a 64-bit register pair, low half first; 1 f32 value):
//   A[i][k]: lane (k / KL) * M + i, element k % KL
//   B[k][j]: lane (k / KL) * M + j, element k % KL
// C and D: M * M / 64 registers per lane, in groups of 4 rows:
//   register r of lane L holds D[i][j], j = L % M,
//   i = 4 * ((r / 4) * (64 / M) + L / M) + r % 4
//   (32x32: i = 8 * (r / 4) + 4 * (L / 32) + r % 4; 16x16: i = 4 * (L / 16) + r).
// a and b: lane L's elements at a[L * stride + 0..KL-1] (kind AT_EMU_F16/BF16/F32).
//
// The wave's A and B are converted to floats once (at_emu_mfma_operands: fa[L * KL + e]
// is lane L's element e), and each lane's D computed from them (at_emu_mfma_lane_f).
// Each register is one chain of fmas in k order from c; a lane's chains advance side by
// side (k outer, registers inner), so they overlap instead of waiting on each other.
AT_DEV void at_emu_mfma_operands(int kind, int m, int k, const void *a, const void *b,
                                 int stride, float *fa, float *fb)
{
  const int kl = k * m / 64;
  for (int lane = 0; lane < 64; lane++)
    for (int e = 0; e < kl; e++) {
      fa[lane * kl + e] = at_emu_in(kind, a, lane * stride + e);
      fb[lane * kl + e] = at_emu_in(kind, b, lane * stride + e);
    }
}
// (Inlined with m and k constant, its loops unrolled whole: the accumulators stay in
// registers.) Element kk of A's row i is fa[((kk / KL) * m + i) * KL + kk % KL].
__attribute__((always_inline)) AT_DEV void at_emu_mfma_lane_f(int m, int k, const float *fa,
                                                             const float *fb, const float *c,
                                                             int lane, float *d)
{
  const int kl = k * m / 64, nreg = m * m / 64, j = lane % m;
  float acc[16] = {0};
#pragma GCC unroll 16
  for (int r = 0; r < nreg; r++)
    acc[r] = c[r];
#pragma GCC unroll 16
  for (int kk = 0; kk < k; kk++) {
    const int at = (kk / kl) * m * kl + kk % kl; // element kk of row (or column) 0
    const float y = fb[at + j * kl];
#pragma GCC unroll 16
    for (int r = 0; r < nreg; r++) // A's row i(r) at kk
      acc[r] = __builtin_fmaf(fa[at + (4 * ((r / 4) * (64 / m) + lane / m) + r % 4) * kl],
                              y, acc[r]);
  }
#pragma GCC unroll 16
  for (int r = 0; r < nreg; r++)
    d[r] = acc[r];
}

// The pure functions: every lane's A, B and C in, every lane's D out (d may be c).
AT_DEV void at_emu_mfma_wave(int kind, int m, int k, const void *a, const void *b,
                             int stride, const float *c, float *d)
{
  float fa[256], fb[256];
  const int nreg = m * m / 64;
  at_emu_mfma_operands(kind, m, k, a, b, stride, fa, fb);
  for (int lane = 0; lane < 64; lane++)
    at_emu_mfma_lane_f(m, k, fa, fb, c + lane * nreg, lane, d + lane * nreg);
}
AT_DEV void at_emu_mfma_f32_32x32x8f16(const at_half a[64][4], const at_half b[64][4],
                                       const float c[64][16], float d[64][16])
{
  at_emu_mfma_wave(AT_EMU_F16, 32, 8, &a[0][0].bits, &b[0][0].bits, 4, c[0], d[0]);
}
AT_DEV void at_emu_mfma_f32_16x16x16f16(const at_half a[64][4], const at_half b[64][4],
                                        const float c[64][4], float d[64][4])
{
  at_emu_mfma_wave(AT_EMU_F16, 16, 16, &a[0][0].bits, &b[0][0].bits, 4, c[0], d[0]);
}
AT_DEV void at_emu_mfma_f32_32x32x8bf16_1k(const at_bfloat16 a[64][4],
                                           const at_bfloat16 b[64][4],
                                           const float c[64][16], float d[64][16])
{
  at_emu_mfma_wave(AT_EMU_BF16, 32, 8, &a[0][0].bits, &b[0][0].bits, 4, c[0], d[0]);
}
AT_DEV void at_emu_mfma_f32_16x16x16bf16_1k(const at_bfloat16 a[64][4],
                                            const at_bfloat16 b[64][4],
                                            const float c[64][4], float d[64][4])
{
  at_emu_mfma_wave(AT_EMU_BF16, 16, 16, &a[0][0].bits, &b[0][0].bits, 4, c[0], d[0]);
}
AT_DEV void at_emu_mfma_f32_32x32x2f32(const float a[64], const float b[64],
                                       const float c[64][16], float d[64][16])
{
  at_emu_mfma_wave(AT_EMU_F32, 32, 2, a, b, 1, c[0], d[0]);
}
AT_DEV void at_emu_mfma_f32_16x16x4f32(const float a[64], const float b[64],
                                       const float c[64][4], float d[64][4])
{
  at_emu_mfma_wave(AT_EMU_F32, 16, 4, a, b, 1, c[0], d[0]);
}

#if !defined(AT_EMU_ONLY)
// Share the wave's A and B (one struct per lane, read in place), compute this lane's D.
// The lanes of a wave run one after another on the emulator's OS thread once their
// share is complete: the first converts the wave's operands and keeps them with the
// share's serial number (at_host_rt.h: no other completed gather has it); a lane that
// finds the same number reads the floats.
struct at_host_mfma_memo {
  unsigned long long serial; // 0: none (the emulator's numbers start at 1)
  float fa[256], fb[256];
};
// The OS thread's memo for one instruction shape and operand type, out of line: inline
// code in a loaded object reaches a thread_local through a call (__tls_get_addr), which
// the compiler may repeat in the lane's loops.
template <int KIND, int M, int K, typename F>
__attribute__((noinline)) struct at_host_mfma_memo *at_host_mfma_memo_get()
{
  static thread_local struct at_host_mfma_memo memo;
  return &memo;
}
template <int KIND, int M, int K, typename F>
AT_DEV void at_host_mfma(const F &mine, int stride, const float *c, float *d)
{
  if (AT_WAVE_SIZE != 64) {
    at_host_fail("MFMA needs a wave of 64 lanes (AT_WAVE_SIZE=64)");
    return;
  }
  const struct at_host_thread *t = at_host_warp_self();
  unsigned long long serial = 0;
  const F *all =
      static_cast<const F *>(at_host_rt_get()->warp_share(&mine, sizeof mine, &serial));
  struct at_host_mfma_memo *w = at_host_mfma_memo_get<KIND, M, K, F>();
  if (w->serial != serial) {
    at_emu_mfma_operands(KIND, M, K, &all[0].a, &all[0].b, stride, w->fa, w->fb);
    w->serial = serial;
  }
  at_emu_mfma_lane_f(M, K, w->fa, w->fb, c, (int)t->lane, d);
}
struct at_host_mfma16 {
  unsigned short a[4], b[4];
};
struct at_host_mfma32 {
  float a, b;
};
AT_DEV struct at_host_mfma16 at_host_mfma16_frag(const unsigned short *a,
                                                 const unsigned short *b)
{
  struct at_host_mfma16 f;
  for (int i = 0; i < 4; i++) {
    f.a[i] = a[i];
    f.b[i] = b[i];
  }
  return f;
}
AT_DEV void at_mfma_f32_32x32x8f16(float d[16], const at_half a[4], const at_half b[4],
                                   const float c[16])
{
  at_host_mfma<AT_EMU_F16, 32, 8>(at_host_mfma16_frag(&a[0].bits, &b[0].bits), 8, c, d);
}
AT_DEV void at_mfma_f32_16x16x16f16(float d[4], const at_half a[4], const at_half b[4],
                                    const float c[4])
{
  at_host_mfma<AT_EMU_F16, 16, 16>(at_host_mfma16_frag(&a[0].bits, &b[0].bits), 8, c, d);
}
AT_DEV void at_mfma_f32_32x32x8bf16_1k(float d[16], const at_bfloat16 a[4],
                                       const at_bfloat16 b[4], const float c[16])
{
  at_host_mfma<AT_EMU_BF16, 32, 8>(at_host_mfma16_frag(&a[0].bits, &b[0].bits), 8, c, d);
}
AT_DEV void at_mfma_f32_16x16x16bf16_1k(float d[4], const at_bfloat16 a[4],
                                        const at_bfloat16 b[4], const float c[4])
{
  at_host_mfma<AT_EMU_BF16, 16, 16>(at_host_mfma16_frag(&a[0].bits, &b[0].bits), 8, c, d);
}
AT_DEV void at_mfma_f32_32x32x2f32(float d[16], float a, float b, const float c[16])
{
  struct at_host_mfma32 f = {a, b};
  at_host_mfma<AT_EMU_F32, 32, 2>(f, 2, c, d);
}
AT_DEV void at_mfma_f32_16x16x4f32(float d[4], float a, float b, const float c[4])
{
  struct at_host_mfma32 f = {a, b};
  at_host_mfma<AT_EMU_F32, 16, 4>(f, 2, c, d);
}
#endif
