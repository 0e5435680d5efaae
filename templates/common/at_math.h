// at_math.h - the few float functions kernels need beyond arithmetic, one spelling for
// every target: at_exp2f (2^x), at_log2f, at_fmaxf, at_sqrtf, at_neg_inf (and the
// softmax's at_softmax_fold). CUDA has them built in
// (NVRTC and nvcc declare the math library's device functions; at_exp2f is the PTX
// instruction itself, below); HIP compiled with
// -nogpuinc has no math headers, so the clang builtins, which lower to the AMDGPU
// instructions (v_exp_f32 for exp2, with its denormal handling); the host uses the same
// builtins (libm). exp2 rather than exp: attention's softmax scales its logits by
// log2(e) once and then needs only 2^x, which is one instruction on both GPUs.
//
// Like at_wgmma.h, at_common.h does not include this file (a variant's name hashes every
// file its template includes): a template that needs it includes "at_math.h".
#ifndef AT_COMMON_H
#include "at_common.h"
#endif
#ifndef AT_MATH_H
#define AT_MATH_H

#if defined(AT_CUDA)
// ex2.approx.ftz.f32 (PTX ISA, "ex2"): MUFU.EX2 alone. exp2f is ex2.approx.f32 without
// .ftz, which ptxas wraps in a range test, a select and two multiplies to give subnormal
// results (2^x below 2^-126) their bits: five instructions for each of a softmax's
// exponentials (a third of attn_wgmma's loop at D 128, read with nvdisasm), for values no
// softmax tells from zero. -inf still gives 0, NaN stays NaN.
AT_DEV float at_exp2f(float x)
{
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
AT_DEV float at_log2f(float x) { return log2f(x); }
AT_DEV float at_fmaxf(float a, float b) { return fmaxf(a, b); }
AT_DEV float at_sqrtf(float x) { return sqrtf(x); }
#else
AT_DEV float at_exp2f(float x) { return __builtin_exp2f(x); }
AT_DEV float at_log2f(float x) { return __builtin_log2f(x); }
AT_DEV float at_fmaxf(float a, float b) { return __builtin_fmaxf(a, b); }
AT_DEV float at_sqrtf(float x) { return __builtin_sqrtf(x); }
#endif
// -infinity (the identity of max), from its bits: no INFINITY macro on every target.
AT_DEV float at_neg_inf(void) { return at_uint_as_float(0xff800000u); }
// The softmax's scale folded into exp2's argument (FlashAttention-3's way): a row's
// maximum is taken over its raw scores and scaled once, and each probability is
// exp2(x qa - m), one FFMA into MUFU.EX2 rather than a multiply and a subtraction.
// Rounding keeps the order of positive multiples (fl(qa max x) is max fl(qa x)), so the
// maximum is the scaled scores'. Where qs < 0 the templates flip the scores' signs
// (attn_mfma by negating Q in its registers; attn_mma and attn_wgmma in a uniform branch
// a tile: negating attn_mma's Q fragments made ptxas spill an sm_80 config at its
// 128-register target) and scale by qa, this: |qs|, at least the least normal float
// (-inf qa stays -inf, where a flushed tiny scale would make a masked key's 0 x -inf NaN).
AT_DEV float at_softmax_fold(float qs)
{
  const float a = qs < 0.0f ? -qs : qs;
  return a > 1.17549435e-38f ? a : 1.17549435e-38f;
}
// log2(e), to turn e^x into 2^(x log2 e).
#define AT_LOG2E 1.4426950408889634f
// ln(2), to turn a log2 back into a natural log (attention's LSE output).
#define AT_LN2 0.6931471805599453f

#endif
