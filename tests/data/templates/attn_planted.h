// attn_planted.h - an attention template with planted faults, for `autotune attention`'s
// tests, and the reference attn_gpu checks GPU runs against (bench/gpu/attn_emit.c): one
// thread per query row, the definition computed directly (a pass over the keys for the
// maximum, one for the weights and the output, HD values in registers), contract v2 (GQA,
// paged, LSE). MODE 0 is right; 1 leaves out each row's last visible key; 2 forgets the
// scale (softmax of Q.K instead of Q.K / sqrt(D)); 3 writes through a null pointer; 4 maps
// query head h to KV head h % HKV instead of h / (H / HKV) (right only for MHA); 5 writes
// LSE in log2 units instead of natural ones.
#include "at_math.h"

#pragma autotune kernel attn_planted
#pragma autotune problem B, H, HKV, SQ, SK, D, CAUSAL, PAGED
#pragma autotune dtype T
#pragma autotune param MODE = 0, 1, 2, 3, 4, 5
#pragma autotune derive HD = D
#pragma autotune derive IS_CAUSAL = CAUSAL != 0
#pragma autotune derive IS_PAGED = PAGED != 0
#pragma autotune threads 32
#pragma autotune grid B * H * cdiv(SQ, 32)

template <typename T, int MODE, int HD, int IS_CAUSAL, int IS_PAGED>
__device__ void attn_planted(const T *Q, const T *K, const T *V, T *O, float *LSE,
                             const int *BT, int B, int H, int HKV, int SQ, int SK, float scale)
{
  (void)B;
  const int nqt = (SQ + 31) / 32, bid = (int)at_block_idx_x();
  const int bh = bid / nqt, i = (bid % nqt) * 32 + (int)at_thread_idx_x();
  if (i >= SQ)
    return;
  if (MODE == 3 && i == 0) {
    volatile float *volatile nowhere = nullptr;
    *nowhere = 1.0f;
  }
  const int b = bh / H, h = bh % H, g = MODE == 4 ? h % HKV : h / (H / HKV);
  const T *q = Q + ((long long)bh * SQ + i) * HD;
  // key j's row: contiguous [B][HKV][SK][HD], or row j % 16 of page BT[b][j / 16] of the
  // pool [NPAGES][16][HKV][HD]
  const int *bt = IS_PAGED ? BT + (long long)b * ((SK + 15) / 16) : BT;
  const long long base = IS_PAGED ? (long long)g * HD : ((long long)b * HKV + g) * SK * HD;
  const T *k = K + base, *v = V + base;
#define AT_PLANTED_ROW(j) \
  (IS_PAGED ? ((long long)bt[(j) / 16] * 16 + (j) % 16) * HKV * HD : (long long)(j) * HD)
  const float s = MODE == 2 ? 1.0f : scale != 0.0f ? scale : 1.0f / at_sqrtf((float)HD);
  int last = IS_CAUSAL ? i + SK - SQ : SK - 1;
  last = last < SK - 1 ? last : SK - 1;
  if (MODE == 1)
    last--;
  float m = at_neg_inf(), l = 0.0f, o[HD];
#pragma unroll
  for (int c = 0; c < HD; c++)
    o[c] = 0.0f;
  for (int j = 0; j <= last; j++) {
    float dot = 0.0f;
    for (int c = 0; c < HD; c++)
      dot += at_to_float(q[c]) * at_to_float(k[AT_PLANTED_ROW(j) + c]);
    m = at_fmaxf(m, dot * s);
  }
  for (int j = 0; j <= last; j++) {
    float dot = 0.0f;
    for (int c = 0; c < HD; c++)
      dot += at_to_float(q[c]) * at_to_float(k[AT_PLANTED_ROW(j) + c]);
    const float p = at_exp2f((dot * s - m) * AT_LOG2E);
    l += p;
#pragma unroll
    for (int c = 0; c < HD; c++)
      o[c] += p * at_to_float(v[AT_PLANTED_ROW(j) + c]);
  }
#pragma unroll
  for (int c = 0; c < HD; c++)
    O[((long long)bh * SQ + i) * HD + c] = at_from_float<T>(last >= 0 ? o[c] / l : 0.0f);
  if (LSE) // m and the logits in natural units here
    LSE[(long long)bh * SQ + i] = last < 0 ? at_neg_inf()
                                  : MODE == 5 ? (m * AT_LOG2E + at_log2f(l))
                                              : m + at_log2f(l) * AT_LN2;
#undef AT_PLANTED_ROW
}
