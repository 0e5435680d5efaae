// attn_planted.h - an attention template with planted faults, for `autotune attention`'s
// tests, and the reference attn_gpu checks GPU runs against (bench/gpu/attn_emit.c): one
// thread per query row, the definition computed directly (a pass over the keys for the
// maximum, one for the weights and the output, HD values in registers). MODE 0 is right;
// 1 leaves out each row's last visible key; 2 forgets the scale (softmax of Q.K instead of
// Q.K / sqrt(D)); 3 writes through a null pointer.
#include "at_math.h"

#pragma autotune kernel attn_planted
#pragma autotune problem B, H, SQ, SK, D, CAUSAL
#pragma autotune dtype T
#pragma autotune param MODE = 0, 1, 2, 3
#pragma autotune derive HD = D
#pragma autotune derive IS_CAUSAL = CAUSAL != 0
#pragma autotune threads 32
#pragma autotune grid B * H * cdiv(SQ, 32)

template <typename T, int MODE, int HD, int IS_CAUSAL>
__device__ void attn_planted(const T *Q, const T *K, const T *V, T *O, int B, int H, int SQ,
                             int SK, float scale)
{
  (void)B;
  (void)H;
  const int nqt = (SQ + 31) / 32, bid = (int)at_block_idx_x();
  const int bh = bid / nqt, i = (bid % nqt) * 32 + (int)at_thread_idx_x();
  if (i >= SQ)
    return;
  if (MODE == 3 && i == 0) {
    volatile float *volatile nowhere = nullptr;
    *nowhere = 1.0f;
  }
  const T *q = Q + ((long long)bh * SQ + i) * HD;
  const T *k = K + (long long)bh * SK * HD, *v = V + (long long)bh * SK * HD;
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
      dot += at_to_float(q[c]) * at_to_float(k[(long long)j * HD + c]);
    m = at_fmaxf(m, dot * s);
  }
  for (int j = 0; j <= last; j++) {
    float dot = 0.0f;
    for (int c = 0; c < HD; c++)
      dot += at_to_float(q[c]) * at_to_float(k[(long long)j * HD + c]);
    const float p = at_exp2f((dot * s - m) * AT_LOG2E);
    l += p;
#pragma unroll
    for (int c = 0; c < HD; c++)
      o[c] += p * at_to_float(v[(long long)j * HD + c]);
  }
#pragma unroll
  for (int c = 0; c < HD; c++)
    O[((long long)bh * SQ + i) * HD + c] = at_from_float<T>(last >= 0 ? o[c] / l : 0.0f);
}
